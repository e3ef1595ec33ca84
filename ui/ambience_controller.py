"""Hear the picture: the selected picture's ambience (`studio.ambience`) played as a loop, or saved.

The scene is read in the worker (the encoders and the segmenter are models), then one period is
played over and over from PortAudio's own thread: a period's end runs into its start, so the loop
has no seam. It plays until Stop or until another picture is selected. Export writes the file
`studio sonify` writes for the picture (same seed), with progress and cancel.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QPushButton,
    QWidget,
)

from studio.ambience import (
    FORMATS,
    MAX_FILE_SECONDS,
    MAX_LOOP_SECONDS,
    RATE,
    Ambience,
    AmbienceError,
    picture_ambience,
    render_loop,
    write_ambience,
)
from studio.project.store import Node
from ui.file_names import export_name
from ui.session import JobHandle, Session
from ui.worker import Job, JobError

log = logging.getLogger(__name__)

PLAY_SHORTCUT = "Ctrl+Shift+H"  # Hear
EXPORT_SHORTCUT = "Ctrl+Shift+E"
DEFAULT_SECONDS = 30
SOUND_FILTERS = "FLAC sound (*.flac);;WAV sound (*.wav)"
PLAY_TIP = f"Hear the picture: its ambience as a seamless loop ({PLAY_SHORTCUT}); press again to stop"


class PlaybackError(Exception):
    """The loop cannot be played (no PortAudio, no output device); the message says so."""


class LoopPlayer:
    """One period played over and over on the default output, filled on PortAudio's thread."""

    def __init__(self, loop: np.ndarray, rate: int) -> None:
        try:
            import sounddevice as sd
        except (OSError, ImportError) as exc:
            raise PlaybackError(
                f"Sound output is unavailable (PortAudio could not be loaded: {exc})."
            ) from exc
        self.loop = np.ascontiguousarray(loop, dtype=np.float32)
        self._at = 0
        try:
            self._stream = sd.OutputStream(samplerate=rate, channels=1, dtype="float32", callback=self._fill)
            self._stream.start()
        except Exception as exc:  # sd.PortAudioError, ValueError: no or broken output device
            raise PlaybackError(
                f"Cannot play the picture's sound: no working sound output device ({exc})."
            ) from exc

    def _fill(self, out: np.ndarray, frames: int, _time, _status) -> None:
        out[:, 0] = self.loop[(self._at + np.arange(frames)) % len(self.loop)]
        self._at = (self._at + frames) % len(self.loop)

    def stop(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as exc:  # the output device may be gone already
            log.warning("stopping the picture's sound failed: %s", exc)


class AmbienceBar(QWidget):
    """Play/Stop and Export sound… beside the large view."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip(PLAY_TIP)
        self.play_button.setAccessibleName("Hear the picture")
        self.export_button = QPushButton("Export sound…")
        self.export_button.setToolTip(
            f"Save the picture's ambience as a WAV or FLAC file that loops seamlessly ({EXPORT_SHORTCUT})"
        )
        self.export_button.setAccessibleName("Export the picture's sound")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.addWidget(self.play_button)
        layout.addWidget(self.export_button)

    def show_playing(self, playing: bool) -> None:
        self.play_button.setChecked(playing)
        self.play_button.setText("Stop" if playing else "Play")


class AmbienceController(QObject):
    """Owns the bar; plays and exports the ambience of the session's selected node."""

    def __init__(self, session: Session, bar: AmbienceBar | None = None) -> None:
        super().__init__(session)
        self.session = session
        session.selection_changed.connect(self._selected)
        self.bar = bar or AmbienceBar()
        self.bar.play_button.clicked.connect(self.toggle)
        self.bar.export_button.clicked.connect(self.choose_export)
        self.ambience: Ambience | None = None  # what plays now
        self.player: LoopPlayer | None = None
        self._wanted = ""  # the node whose loop is being prepared or played

    # --- playing --------------------------------------------------------------------------------
    def toggle(self) -> None:
        if self._wanted:
            self.stop()
        else:
            self.play()

    def play(self) -> JobHandle | None:
        """Read the selected picture's scene in the worker, then loop its ambience."""
        self.stop()
        node_id = self.session.selected
        if not node_id:
            self.session.notify("Select a picture to hear it.")
            return None
        node = self.session.project.node(node_id)
        self._wanted = node_id
        self.bar.show_playing(True)
        self.session.status("Listening to the picture…", 8000)

        def run(pipe, project, _progress) -> tuple[Ambience, np.ndarray]:
            ambience = _ambience(pipe, project, node)
            return ambience, render_loop(ambience, MAX_LOOP_SECONDS)

        return self.session.submit(
            Job(run=run, lane="ambience", queued=False),
            on_done=lambda result: self._start(node_id, *result),
            on_error=lambda _message: self._ended(node_id),
            on_cancelled=lambda: self._ended(node_id),
        )

    def _start(self, node_id: str, ambience: Ambience, loop: np.ndarray) -> None:
        if node_id != self._wanted:  # stopped, or another picture selected, while it was read
            return
        try:
            self.player = LoopPlayer(loop, RATE)
        except PlaybackError as exc:
            self._ended(node_id)
            self.session.notify(str(exc))
            return
        self.ambience = ambience
        self.session.notify(f"Playing: {ambience.describe()}")

    def _ended(self, node_id: str) -> None:
        if node_id == self._wanted:
            self.stop()

    def stop(self) -> None:
        self._wanted = ""
        player, self.player, self.ambience = self.player, None, None
        if player is not None:
            player.stop()
        self.bar.show_playing(False)

    def _selected(self, node_id: str) -> None:
        """Another picture selected: its sound is not this one."""
        if self._wanted and node_id != self._wanted:
            self.stop()

    # --- export ---------------------------------------------------------------------------------
    def choose_export(self) -> None:
        node_id = self.session.selected
        if not node_id:
            self.session.notify("Select a picture to export its sound.")
            return
        suggested = export_name(self.session.project.node(node_id), ".flac")
        name, chosen = QFileDialog.getSaveFileName(self.bar, "Export sound", suggested, SOUND_FILTERS)
        if not name:
            return
        seconds, ok = QInputDialog.getInt(
            self.bar,
            "Export sound",
            "Length in seconds (the file loops seamlessly):",
            DEFAULT_SECONDS,
            1,
            int(MAX_FILE_SECONDS),
        )
        if ok:
            self.export(node_id, _with_suffix(Path(name), chosen), seconds)

    def export(self, node_id: str, path: Path, seconds: float) -> JobHandle:
        """Write `seconds` of the node's ambience to `path` (.wav or .flac) in the worker, with a
        progress dialog of its own (Cancel drops the work and leaves no file)."""
        node = self.session.project.node(node_id)

        def run(pipe, project, progress) -> str:
            ambience = _ambience(pipe, project, node)
            try:
                if not write_ambience(path, ambience, seconds, progress=progress):
                    return ""
            except AmbienceError as exc:
                raise JobError(f"The sound cannot be exported: {exc}") from exc
            except OSError as exc:
                raise JobError(f"Could not write {path}: {exc.strerror or exc}") from exc
            return f"Sound exported: {path} ({seconds:g} s: {ambience.describe()})"

        return self.session.submit_with_dialog(
            Job(run=run, lane="export"),
            self.bar,
            "Export sound",
            "Writing the picture's sound…",
            done=lambda text: text,
            cancelled="Sound export cancelled; nothing was written.",
        )


def _ambience(pipe, project, node: Node) -> Ambience:
    """The ambience of a node's picture, read with its recipe (in the worker)."""
    with Image.open(io.BytesIO(project.assets.get(node.image))) as image:
        pixels = np.asarray(image.convert("RGB"))
    return picture_ambience(pipe, pixels, node.recipe)[0]


def _with_suffix(path: Path, chosen_filter: str) -> Path:
    """The typed name, with the chosen filter's ending when it has none the writer knows."""
    if path.suffix.lower() in FORMATS:
        return path
    return path.with_name(path.name + (".wav" if "wav" in chosen_filter.lower() else ".flac"))
