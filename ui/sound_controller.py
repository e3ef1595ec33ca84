"""Sound mode: binds the Sound panel to the selected node, the worker and the project.

A loaded or recorded sound is analysed in the worker ("sounds like rain 0.61"). Apply commits a
sound edit of the selected node (same latent, the conditioning moved toward the sound, the WAV
stored as an asset so the edit re-renders exactly); on a generator with scene attributes the
recipe also stores the changes left ticked in the panel (owl → night), and live frames leave the
unticked groups alone. Live renders a preview per sound frame (newest wins); Capture commits the
current frame with the two seconds of audio that made it.
Animate renders a GIF/MP4 following the sound, with progress and cancel.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject
from PySide6.QtWidgets import QFileDialog

from studio.audio.io import SAMPLE_RATE, wav_bytes, write_wav
from studio.inference.attributes import SOUND_KEY
from studio.inference.sound_ground import sound_changes
from studio.inference.sound_pin import SOUND_ENCODER_KEY
from studio.recipe import Recipe
from ui.canvas import SemanticCanvas
from ui.image_view import ImageView, to_qimage
from ui.prompt_panel import PromptPanel
from ui.session import JobHandle, Session
from ui.sound_panel import NOTHING_TICKED_TIP, SoundPanel
from ui.worker import Job, JobError, RenderRequest

log = logging.getLogger(__name__)
LIVE_WINDOW_S = 2.0
SOUND_NAME_KEY = "sound_name"  # recipe.extra: the file name the artist knows the sound by
RECORDING_NAME = "recording.wav"
CAPTURE_NAME = "live capture.wav"

NOTHING_CAPTURED = "Nothing captured: with every change unticked the sound leaves the picture as it is"


class SoundController(QObject):
    """Owns the Sound panel. Edits start from the session's selected node; the prompt panel's
    text goes with them, the canvas mask limits them, live frames show in the view."""

    def __init__(
        self,
        session: Session,
        prompt: PromptPanel,
        view: ImageView,
        canvas: SemanticCanvas,
        panel: SoundPanel | None = None,
    ) -> None:
        super().__init__(session)
        self.session, self.prompt = session, prompt
        self.view, self.canvas = view, canvas
        self.panel = panel or SoundPanel()
        self.last_listen: list[tuple[str, float]] = []
        self._shown_moves: tuple[Path, dict] | None = None  # the selected sound node's sound and its changes
        session.selection_changed.connect(self._selected)
        self.panel.sound_changed.connect(self.listen)
        self.panel.apply_requested.connect(self.apply)
        self.panel.live_frame_wanted.connect(self.live_frame)
        self.panel.capture_requested.connect(self.capture)
        self.panel.animate_requested.connect(self.choose_animation)
        self.panel.message.connect(session.notify)

    # --- helpers --------------------------------------------------------------------------------
    def base(self) -> Recipe | None:
        node_id = self.session.selected
        return self.session.project.node(node_id).recipe if node_id else None

    def _edited(
        self, recipe: Recipe, sound_sha: str, strength: float, name: str, moves: dict | None
    ) -> Recipe:
        """The recipe with the sound and its name (and the canvas mask when "only inside the mask" is
        on). `moves`: the attributes it moves, stored so the edit re-renders exactly what was ticked."""
        recipe = _plain(recipe).replace(
            prompt=self.prompt.text(), sound=sound_sha, strength=round(float(strength), 4)
        )
        extra = dict(recipe.extra)
        extra[SOUND_NAME_KEY] = name
        if moves is not None:
            extra[SOUND_KEY] = dict(moves)
        if self.panel.masked() and self.canvas.has_mask():
            mask = self.session.project.assets.put(self.canvas.mask_png(), "png")
            recipe = recipe.replace(mask=mask)
            extra["base_image"] = self.session.project.node(self.session.selected).image
        return recipe.replace(extra=extra)

    def _commit(
        self, samples: np.ndarray, strength: float, name: str, moves: dict | None
    ) -> JobHandle | None:
        base = self.base()
        if base is None:
            self.session.notify("Select an image first: a sound edit changes the selected picture.")
            return None
        sha = self.session.project.assets.put(wav_bytes(samples, SAMPLE_RATE), "wav")
        recipe = self._edited(base, sha, strength, name, moves)
        parent = self.session.selected
        request = RenderRequest(kind="sound", recipes=(recipe,), parents=(parent,), pin_sound=True)
        return self.session.commit(request)

    def _selected(self, node_id: str) -> None:
        if node_id:
            self.show_node(self.session.project.node(node_id).recipe)

    def show_node(self, recipe: Recipe) -> None:
        """Selecting a sound node puts its sound in the panel, so Play plays it back, with the
        changes it applied ticked and the ones it left alone unticked."""
        if recipe.sound is None:
            return
        # a folder per sound, the file under its own name: the panel shows "rain.wav", not a hash
        name = Path(str(recipe.extra.get(SOUND_NAME_KEY) or "")).name or "sound.wav"
        path = Path(tempfile.gettempdir()) / "synesthesia-sounds" / recipe.sound / name
        if not path.is_file():
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.session.project.assets.get(recipe.sound))
            except (KeyError, OSError) as exc:
                self.session.notify(f"The node's sound cannot be played: {exc}")
                return
        stored = recipe.extra.get(SOUND_KEY)
        self._shown_moves = (path, stored) if isinstance(stored, dict) else None
        if self.panel.current_path() != path:
            self.panel.load_file(path)  # ticked as stored once it is heard
        else:
            self._tick_stored()

    def _tick_stored(self) -> None:
        if self._shown_moves is not None and self._shown_moves[0] == self.panel.current_path():
            self.panel.changes.tick_only(self._shown_moves[1])

    # --- actions --------------------------------------------------------------------------------
    def listen(self, audio) -> JobHandle:
        """What the encoder hears, shown in the panel (in the worker: the encoder is a model)."""
        samples = np.asarray(audio.samples)
        return self.session.submit(
            Job(run=lambda pipe, _p, _g: _listen(pipe, samples), lane="listen", queued=False),
            on_done=self._heard,
            on_error=lambda _message: self.panel.set_listen_results([]),
        )

    def _heard(self, heard) -> None:
        ranked = heard.ranked
        self.last_listen = [(name, score) for name, score, _ in ranked]
        changes = self._changes(ranked[0][2] if ranked else {})
        self.panel.set_listen_results(self.last_listen, changes, None if heard.placed else heard.verdict())
        self._tick_stored()

    def apply(self) -> JobHandle | None:
        audio = self.panel.current_audio()
        if audio is None:
            return None
        if self.panel.changes.all_unticked():
            self.session.notify(NOTHING_TICKED_TIP)
            return None
        path = self.panel.current_path()
        name = path.name if path is not None else RECORDING_NAME
        moves = self.panel.sound_moves()
        return self._commit(np.asarray(audio.samples), self.panel.apply_strength(), name, moves)

    def live_frame(self) -> JobHandle | None:
        base = self.base()
        samples = self.panel.live_window(LIVE_WINDOW_S)
        if base is None or samples is None or len(samples) == 0:
            return None
        request = RenderRequest(
            recipes=(_plain(base).replace(prompt=self.prompt.text()),),
            commit=False,
            live_sound=np.array(samples, dtype=np.float32),
            strength=self.panel.live_strength(),
            sound_hold=self.panel.held_groups(),
            lane="sound",
        )
        return self.session.submit(
            request, on_done=lambda reply: self.view.set_image(to_qimage(np.asarray(reply[0])))
        )

    def capture(self) -> JobHandle | None:
        """Keep the live frame: the attributes its sound moves (unticked ones left alone) are worked
        out in the worker as for a live frame, then committed with the sound."""
        samples = self.panel.capture_window(LIVE_WINDOW_S)
        base = self.base()
        if samples is None or len(samples) == 0 or base is None:
            self.session.notify("Nothing to capture: select a picture and start Live with a sound first.")
            return None
        samples = np.array(samples, dtype=np.float32)
        strength, hold = self.panel.live_strength(), self.panel.held_groups()
        recipe = _plain(base).replace(prompt=self.prompt.text())

        def run(pipe, _project, _progress) -> dict | None:
            return pipe.live_sound(recipe, samples, strength, hold).extra.get(SOUND_KEY)

        def done(moves: dict | None) -> None:
            if moves == {}:  # every change unticked (none is ticked for a sound it cannot place)
                self.session.notify(NOTHING_CAPTURED)
                return
            self._commit(samples, strength, CAPTURE_NAME, moves)

        return self.session.submit(Job(run=run, lane="capture"), on_done=done)

    def choose_animation(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self.panel, "Animate with sound", "animation.mp4", "MP4 video (*.mp4);;GIF animation (*.gif)"
        )
        if path:
            self.animate(Path(path))

    def animate(self, path: Path, fps: float = 12.0) -> JobHandle | None:
        """Render the selected picture following the current sound over time, into `path`, with a
        progress dialog of its own (Cancel drops the work)."""
        audio, base = self.panel.current_audio(), self.base()
        if audio is None or base is None:
            self.session.notify("Select an image and load a sound to animate.")
            return None
        samples = np.asarray(audio.samples)
        recipe = _plain(base).replace(prompt=self.prompt.text())
        strength, follow = self.panel.strength(), self.panel.follow_loudness()

        def run(pipe, project, progress):
            return _animate(pipe, project, recipe, samples, path, fps, strength, follow, progress)

        return self.session.submit_with_dialog(
            Job(run=run, lane="animate"),
            self.panel,
            "Animate with sound",
            "Rendering the animation…",
            done=lambda written: f"Animation written: {written}",
            cancelled="Animation cancelled; nothing was written.",
        )

    def _changes(self, implied: dict[str, str]) -> dict[str, str]:
        """What an edit with the heard sound moves, for a generator with scene attributes (snow on
        the ground too when it brings winter or snowfall, as Pipeline.sound_moves)."""
        info = self.session.info.default if self.session.info else None
        return sound_changes(info, implied) if info is not None else {}


def _plain(recipe: Recipe) -> Recipe:
    """The recipe without a sound edit of its own, so a new sound starts from its picture's scene."""
    extra = {
        k: v for k, v in recipe.extra.items() if k not in ("text_embedding", SOUND_KEY, SOUND_ENCODER_KEY)
    }
    return recipe.replace(sound=None, strength=0.0, extra=extra)


def _listen(pipe, samples: np.ndarray):
    """Ranked sound labels and whether the encoder can place the sound; refused with a message
    when no sound encoder is installed."""
    from studio.inference.audio_encoder import listen
    from studio.inference.manifest import ModelError

    try:
        return listen(pipe, pipe.default_generator(), samples)
    except ModelError as exc:
        raise JobError(f"Sound cannot be analysed: {exc}") from exc


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
