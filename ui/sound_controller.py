"""Sound mode: binds the Sound panel to the selected node, the worker and the project.

A loaded or recorded sound is analysed in the worker ("sounds like rain 0.61"). Apply commits a
sound edit of the selected node (same latent, the conditioning moved toward the sound, the WAV
stored as an asset so the edit re-renders exactly). Live renders a preview per sound frame
(newest wins); Capture commits the current frame with the two seconds of audio that made it.
Animate renders a GIF/MP4 following the sound, with progress and cancel.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QFileDialog, QProgressDialog

from studio.audio.io import SAMPLE_RATE, wav_bytes, write_wav
from studio.inference.attributes import within
from studio.recipe import Recipe
from ui.image_view import to_qimage
from ui.sound_panel import SoundPanel
from ui.worker import Job, RenderRequest

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)
LIVE_WINDOW_S = 2.0
SOUND_NAME_KEY = "sound_name"  # recipe.extra: the file name the artist knows the sound by
RECORDING_NAME = "recording.wav"
CAPTURE_NAME = "live capture.wav"


class SoundController(QObject):
    """Owns the Sound panel; the main window gives it the selected node through `base()`."""

    def __init__(self, window: MainWindow, panel: SoundPanel | None = None) -> None:
        super().__init__(window)
        self.window = window
        self.panel = panel or SoundPanel()
        self._listen_stamp = 0
        self._live_stamp = 0
        self._animate_stamp = 0
        self._progress: QProgressDialog | None = None
        self.last_listen: list[tuple[str, float]] = []
        self.panel.sound_changed.connect(self.listen)
        self.panel.apply_requested.connect(self.apply)
        self.panel.live_frame_wanted.connect(self.live_frame)
        self.panel.capture_requested.connect(self.capture)
        self.panel.animate_requested.connect(self.choose_animation)
        self.panel.message.connect(window.notify)
        window.worker.preview.connect(self._on_preview)
        window.worker.job_done.connect(self._on_job_done)
        window.worker.job_progress.connect(self._on_progress)
        window.worker.cancelled.connect(self._on_cancelled)
        window.worker.failed.connect(self._on_failed)

    # --- helpers --------------------------------------------------------------------------------
    def base(self) -> Recipe | None:
        node_id = self.window.history.current()
        return self.window.project.node(node_id).recipe if node_id else None

    def _edited(self, recipe: Recipe, sound_sha: str, strength: float, name: str) -> Recipe:
        """The recipe with the sound and its name (and the canvas mask when "only inside the mask" is on)."""
        recipe = recipe.replace(
            prompt=self.window.prompt_panel.text(), sound=sound_sha, strength=round(float(strength), 4)
        )
        extra = {k: v for k, v in recipe.extra.items() if k != "text_embedding"}
        extra[SOUND_NAME_KEY] = name
        canvas = self.window.paint.canvas
        if self.panel.masked() and canvas.has_mask():
            node_id = self.window.history.current()
            mask = self.window.project.assets.put(canvas.mask_png(), "png")
            recipe = recipe.replace(mask=mask)
            extra["base_image"] = self.window.project.node(node_id).image
        return recipe.replace(extra=extra)

    def _commit(self, samples: np.ndarray, strength: float, name: str) -> int:
        base = self.base()
        if base is None:
            self.window.notify("Select an image first: a sound edit changes the selected picture.")
            return 0
        sha = self.window.project.assets.put(wav_bytes(samples, SAMPLE_RATE), "wav")
        recipe = self._edited(base, sha, strength, name)
        parent = self.window.history.current()
        return self.window.submit_commit(RenderRequest(kind="sound", recipes=(recipe,), parents=(parent,)))

    def show_node(self, recipe: Recipe) -> None:
        """Selecting a sound node puts its sound in the panel, so Play plays it back."""
        if recipe.sound is None:
            return
        # a folder per sound, the file under its own name: the panel shows "rain.wav", not a hash
        name = Path(str(recipe.extra.get(SOUND_NAME_KEY) or "")).name or "sound.wav"
        path = Path(tempfile.gettempdir()) / "synesthesia-sounds" / recipe.sound / name
        if not path.is_file():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.window.project.assets.get(recipe.sound))
            except (KeyError, OSError) as exc:
                self.window.notify(f"The node's sound cannot be played: {exc}")
                return
        current = self.panel.current_path()
        if current is None or current != path:
            self.panel.load_file(path)

    # --- actions --------------------------------------------------------------------------------
    def listen(self, audio) -> int:
        """What the encoder hears, shown in the panel (in the worker: the encoder is a model)."""
        samples = np.asarray(audio.samples)
        self._listen_stamp = self.window.worker.submit(
            Job(run=lambda pipe, _p, _g: _listen(pipe, samples), lane="listen", queued=False)
        )
        return self._listen_stamp

    def apply(self) -> int:
        audio = self.panel.current_audio()
        if audio is None:
            return 0
        path = self.panel.current_path()
        name = path.name if path is not None else RECORDING_NAME
        return self._commit(np.asarray(audio.samples), self.panel.apply_strength(), name)

    def live_frame(self) -> int:
        base = self.base()
        samples = self.panel.live_window(LIVE_WINDOW_S)
        if base is None or samples is None or len(samples) == 0:
            return 0
        recipe = base.replace(prompt=self.window.prompt_panel.text(), sound=None, strength=0.0)
        self._live_stamp = self.window.worker.submit(
            RenderRequest(
                recipes=(recipe,),
                commit=False,
                live_sound=np.array(samples, dtype=np.float32),
                strength=self.panel.live_strength(),
                lane="sound",
            )
        )
        return self._live_stamp

    def capture(self) -> int:
        samples = self.panel.capture_window(LIVE_WINDOW_S)
        if samples is None or len(samples) == 0:
            self.window.notify("Nothing to capture: start Live with a sound or the microphone first.")
            return 0
        return self._commit(np.array(samples, dtype=np.float32), self.panel.live_strength(), CAPTURE_NAME)

    def choose_animation(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Animate with sound", "animation.mp4", "MP4 video (*.mp4);;GIF animation (*.gif)"
        )
        if path:
            self.animate(Path(path))

    def animate(self, path: Path, fps: float = 12.0) -> int:
        """Render the selected picture following the current sound over time, into `path`."""
        audio, base = self.panel.current_audio(), self.base()
        if audio is None or base is None:
            self.window.notify("Select an image and load a sound to animate.")
            return 0
        samples = np.asarray(audio.samples)
        recipe = base.replace(prompt=self.window.prompt_panel.text(), sound=None, strength=0.0)
        strength, follow = self.panel.strength(), self.panel.follow_loudness()

        def run(pipe, project, progress):
            return _animate(pipe, project, recipe, samples, path, fps, strength, follow, progress)

        self._animate_stamp = self.window.worker.submit(Job(run=run, lane="animate"))
        self._progress = QProgressDialog("Rendering the animation…", "Cancel", 0, 100, self.window)
        self._progress.setWindowTitle("Animate with sound")
        self._progress.setWindowModality(Qt.WindowModality.NonModal)
        self._progress.canceled.connect(self.window.worker.cancel)
        self._progress.show()
        return self._animate_stamp

    # --- worker results -------------------------------------------------------------------------
    def _on_preview(self, stamp: int, image, _recipe) -> None:
        if stamp == self._live_stamp:
            self.window.view.set_image(to_qimage(np.asarray(image)))

    def _on_job_done(self, stamp: int, result) -> None:
        if stamp == self._listen_stamp:
            if isinstance(result, str):
                self.panel.set_listen_results([])
                self.window.notify(result)
                return
            self.last_listen = [(name, score) for name, score, _ in result]
            self.panel.set_listen_results(self.last_listen, self._changes(result[0][2] if result else {}))
        elif stamp == self._animate_stamp:
            self._close_progress()
            self.window.notify(f"Animation written: {result}")

    def _changes(self, implied: dict[str, str]) -> dict[str, str]:
        """What an edit with the heard sound moves, for a generator with scene attributes."""
        info = self.window.info.default if self.window.info else None
        return within(info.attribute_groups, implied) if info is not None else {}

    def _on_progress(self, stamp: int, done: int, total: int) -> None:
        if stamp == self._animate_stamp and self._progress is not None:
            self._progress.setMaximum(max(1, total))
            self._progress.setValue(done)

    def _on_cancelled(self, stamp: int) -> None:
        if stamp == self._animate_stamp:
            self._close_progress()
            self.window.notify("Animation cancelled; nothing was written.")

    def _on_failed(self, stamp: int, _message: str) -> None:
        if stamp == self._animate_stamp:
            self._close_progress()

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None


def _listen(pipe, samples: np.ndarray):
    """Ranked sound labels, or a message when no sound encoder is installed."""
    from studio.inference.audio_encoder import rank_labels
    from studio.inference.manifest import ModelError

    try:
        return rank_labels(pipe, pipe.default_generator(), samples)
    except ModelError as exc:
        return f"Sound cannot be analysed: {exc}"


def _animate(pipe, project, recipe, samples, path: Path, fps, strength, follow, progress) -> str:
    """Frames in the worker, then the file (GIF, or MP4 with the sound muxed in)."""
    from studio.inference.animation import render_animation, write_animation

    frames = render_animation(
        pipe,
        recipe,
        samples,
        fps=fps,
        strength=strength,
        follow_loudness=follow,
        assets=project.assets if project is not None else None,
        progress=progress,
    )
    if not progress(len(frames), len(frames)):  # cancelled: write nothing rather than a cut file
        return ""
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "sound.wav"
        write_wav(wav, samples, SAMPLE_RATE)
        write_animation(frames, path, fps, wav)
    return str(path)
