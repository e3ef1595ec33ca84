"""The Sound panel: import, record or play a sound live, and ask the app to move the picture with it.

The panel owns the audio side only (files, microphone, live playback, meters); the app reads the
sound and the settings through the getters and renders when the panel asks (`apply_requested`,
`live_frame_wanted`, `capture_requested`). Audio arrives on the sources' own threads inside a
`Recorder`; the panel only polls it from a QTimer, so the UI never waits for sound hardware.
"""

from __future__ import annotations

import logging
import tempfile
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

import numpy as np
from PySide6.QtCore import QLineF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel, QLabeledDoubleSlider

from studio.audio.io import Audio, AudioError, read_audio, write_wav
from studio.audio.recorder import (
    AudioSource,
    InputDevice,
    Recorder,
    RecorderError,
    SoundDeviceSource,
    WavSource,
    list_input_devices,
)
from studio.inference.audio_encoder import loudness_strength
from ui.sound_changes import SoundChanges
from ui.theme import ACCENT, BASE, MUTED, set_tooltip_deep

log = logging.getLogger(__name__)

SourceFactory = Callable[[int | None], AudioSource]

MAX_FILE_SECONDS = 600.0  # longer files are cut (with a warning): a sound edit needs seconds, not hours
RECORD_SECONDS = 30.0
LIVE_SEGMENT_SECONDS = 120.0  # a live file's Recorder is renewed after this much audio to bound memory
POLL_MS = 50  # meters and live frames: ~20 per second
WAVE_EVERY = 4  # refresh the live waveform every 4th poll (~5 per second)
WAVE_SECONDS = 2.0
TAIL_CHUNKS = 400  # raw chunks kept for the live waveform (peaks need no resampling, unlike recent())
DEFAULT_STRENGTH = 0.6
LOUDNESS_SECONDS = 0.5  # live loudness follows the last half second, so the picture reacts quickly
METER_FLOOR_DB = -60
PEAK_BUCKETS = 512
NO_MICROPHONE_TEXT = "No microphone found"
DEVICE_CHARS = 12  # the microphone list is this many characters wide; longer names are elided
APPLY_TIP = "Change the picture with the current sound"
CANT_PLACE_TIP = (
    "The sound encoder can't place this sound, so no change is ticked: tick one to apply what the "
    "closest sound would change, or try a clearer recording"
)
NOTHING_TICKED_TIP = (
    "Tick at least one change under “Will change”: with every change unticked the sound would leave "
    "the picture as it is"
)
SOUND_FILTERS = "Sounds (*.wav *.flac *.ogg);;WAV (*.wav);;FLAC (*.flac);;OGG (*.ogg);;All files (*)"


def peaks(samples: np.ndarray, buckets: int = PEAK_BUCKETS) -> np.ndarray:
    """[n, 2] (min, max) per bucket: a long sound paints as fast as a short one."""
    samples = np.asarray(samples, dtype=np.float32)
    n = min(buckets, len(samples))
    if n == 0:
        return np.zeros((0, 2), np.float32)
    starts = np.linspace(0, len(samples), n + 1).astype(np.int64)[:-1]  # strictly increasing: n <= len
    return np.stack([np.minimum.reduceat(samples, starts), np.maximum.reduceat(samples, starts)], axis=1)


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 60}:{whole % 60:02d}"


def duration_text(seconds: float) -> str:
    return f"{int(seconds) // 60}:{seconds % 60:04.1f}"


class Waveform(QWidget):
    """A sound's min/max envelope painted with QPainter from precomputed peaks."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._peaks = np.zeros((0, 2), np.float32)
        self.setMinimumHeight(48)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Waveform of the current sound (the latest seconds while recording or live)")
        self.setAccessibleName("Waveform")

    def sizeHint(self) -> QSize:
        return QSize(240, 48)

    def set_samples(self, samples: np.ndarray | None) -> None:
        self._peaks = peaks(samples) if samples is not None else np.zeros((0, 2), np.float32)
        self.update()

    def peak_count(self) -> int:
        return len(self._peaks)

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(BASE))
        w, h = self.width(), self.height()
        if not len(self._peaks) or w <= 0:
            p.setPen(QColor(MUTED))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "no sound")
            p.end()
            return
        mid = h / 2.0
        cols = np.minimum((np.arange(w) * len(self._peaks)) // w, len(self._peaks) - 1)
        lo, hi = self._peaks[cols, 0], self._peaks[cols, 1]
        p.setPen(QPen(QColor(ACCENT), 1))
        p.drawLines(
            [
                QLineF(x + 0.5, mid - float(top) * mid, x + 0.5, mid - float(bottom) * mid + 1.0)
                for x, (bottom, top) in enumerate(zip(lo, hi, strict=True))
            ]
        )
        p.end()


class SoundPanel(QWidget):
    """Current sound (file or recording), microphone recording, live playback and sound-edit settings."""

    sound_changed = Signal(object)  # the new Audio
    apply_requested = Signal()
    animate_requested = Signal()
    live_toggled = Signal(bool)
    live_frame_wanted = Signal()
    capture_requested = Signal()
    message = Signal(str)

    def __init__(
        self,
        source_factory: SourceFactory | None = None,
        max_seconds: float = RECORD_SECONDS,
        devices: Sequence[InputDevice] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setAccessibleName("Sound panel")
        self._custom_source = source_factory is not None
        self._source_factory: SourceFactory = source_factory or (lambda index: SoundDeviceSource(index))
        self._max_seconds = max_seconds
        self._audio: Audio | None = None
        self._path: Path | None = None
        self._recorder: Recorder | None = None  # the microphone recording in progress
        self._player: Recorder | None = None  # the current sound playing live (looped)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None  # a recording saved for live playback
        self._live_path: Path | None = None
        self._sd: ModuleType | None = None  # sounddevice, once playback was tried successfully
        self._ticks = 0
        self._tail: deque[np.ndarray] = deque(maxlen=TAIL_CHUNKS)  # filled on the audio thread
        self._last_dir = Path.home()
        self._mic_found = False
        self._placed = True  # the encoder placed the sound heard last (False: no change is ticked)
        self._build()
        self._poll = QTimer(self, interval=POLL_MS, timeout=self._tick)
        self._play_timer = QTimer(self, singleShot=True, timeout=lambda: self.play_button.setText("Play"))
        self.refresh_devices(devices)

    # --- construction -------------------------------------------------------------------------
    def _button(
        self, text: str, tip: str, slot: Callable[[], None] | None = None, shortcut: str = ""
    ) -> QPushButton:
        button = QPushButton(text)
        button.setAccessibleName(text.rstrip("…"))
        if shortcut:
            button.setShortcut(QKeySequence(shortcut))
            tip = f"{tip} ({shortcut})"
        button.setToolTip(tip)
        if slot is not None:
            button.clicked.connect(slot)
        return button

    def _build(self) -> None:
        self.open_button = self._button(
            "Open sound…", "Import a sound file (WAV, FLAC or OGG) to guide the picture", self.choose_file
        )
        self.play_button = self._button(
            "Play", "Listen to the current sound (press again to stop)", self.play
        )
        self.info = QElidingLabel("No sound yet: open a file or record one")
        self.info.setObjectName("muted")
        self.info.setToolTip("The current sound: name, duration and loudness (RMS dBFS)")
        self.info.setAccessibleName("Current sound")
        self.waveform = Waveform()

        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Microphone")
        self.device_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # a long device name must not widen the dock past the window's edge: the combo elides it
        self.device_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.device_combo.setMinimumContentsLength(DEVICE_CHARS)
        self.refresh_button = QToolButton()
        self.refresh_button.setText("⟳")
        self.refresh_button.setToolTip("Look for microphones again (after plugging one in)")
        self.refresh_button.setAccessibleName("Refresh microphones")
        self.refresh_button.clicked.connect(lambda: self.refresh_devices())
        self.record_button = self._button(
            "Record", "Record from the microphone; press again to stop", self.toggle_record, "Ctrl+R"
        )
        self.record_button.setCheckable(True)
        self.record_button.setObjectName("record")
        self.elapsed_label = QLabel(self._elapsed_text(0.0))
        self.elapsed_label.setObjectName("muted")
        self.elapsed_label.setToolTip(f"Recorded time / the {self._max_seconds:g} s limit")
        self.elapsed_label.setAccessibleName("Recording time")
        self.level_meter = QProgressBar()
        self.level_meter.setRange(METER_FLOOR_DB, 0)
        self.level_meter.setValue(METER_FLOOR_DB)
        self.level_meter.setFormat("%v dBFS")
        self.level_meter.setMaximumHeight(14)
        self.level_meter.setToolTip("Input level (RMS dBFS) while recording or playing live; 0 is full scale")
        self.level_meter.setAccessibleName("Sound level")
        self.level_meter.setStyleSheet(
            f"QProgressBar {{ border: 1px solid #3a3d42; border-radius: 3px; background: {BASE};"
            " text-align: center; font-size: 8pt; }"
            f"QProgressBar::chunk {{ background: {ACCENT}; border-radius: 2px; }}"
        )

        self.live_button = self._button(
            "Live",
            "Move the picture with the sound as it plays: the microphone while recording, "
            "otherwise the current sound in a loop",
            shortcut="Ctrl+L",
        )
        self.live_button.setCheckable(True)
        self.live_button.toggled.connect(self._live_changed)
        self.capture_button = self._button(
            "Capture", "Keep the current live picture in the history", self.capture_requested.emit, "Ctrl+K"
        )

        self.strength_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(0.0, 1.0)
        self.strength_slider.setDecimals(2)
        self.strength_slider.setValue(DEFAULT_STRENGTH)
        set_tooltip_deep(self.strength_slider, "How far the sound moves the picture")
        self.strength_slider.setAccessibleName("Sound strength")
        self.follow_check = QCheckBox("Follow loudness")
        self.follow_check.setToolTip("Scale the strength by the sound's loudness: louder = stronger")
        self.follow_check.setAccessibleName("Follow loudness")
        self.mask_check = QCheckBox("Only inside the mask")
        self.mask_check.setToolTip("Change only the area painted with the mask brush")
        self.mask_check.setAccessibleName("Only inside the mask")

        self.apply_button = self._button("Apply sound", APPLY_TIP, self._apply)
        self.apply_button.setObjectName("primary")
        self.animate_button = self._button(
            "Animate…", "Make an animation of the picture following the sound over time", self._animate
        )
        self.listen_label = QLabel()
        self.listen_label.setWordWrap(True)
        self.listen_label.setToolTip("What the sound encoder hears in the current sound, best matches first")
        self.listen_label.setAccessibleName("Sounds like")
        self.changes = SoundChanges()
        self.changes.toggled.connect(self._update_enabled)
        self.set_listen_results([])
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setObjectName("warning")
        self.message_label.setToolTip("Problems with the sound, the microphone or playback")
        self.message_label.setAccessibleName("Sound messages")
        self.message_label.hide()

        file_row = QHBoxLayout()
        file_row.addWidget(self.open_button)
        file_row.addWidget(self.play_button)
        device_row = QHBoxLayout()
        device_row.addWidget(self.device_combo, 1)
        device_row.addWidget(self.refresh_button)
        record_row = QHBoxLayout()
        record_row.addWidget(self.record_button)
        record_row.addWidget(self.elapsed_label)
        record_row.addWidget(self.level_meter, 1)
        live_row = QHBoxLayout()
        live_row.addWidget(self.live_button)
        live_row.addWidget(self.capture_button)
        live_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Strength", self.strength_slider)
        actions = QGridLayout()
        actions.addWidget(self.apply_button, 0, 0)
        actions.addWidget(self.animate_button, 0, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(file_row)
        layout.addWidget(self.info)
        layout.addWidget(self.waveform)
        layout.addLayout(device_row)
        layout.addLayout(record_row)
        layout.addLayout(live_row)
        layout.addLayout(form)
        layout.addWidget(self.follow_check)
        layout.addWidget(self.mask_check)
        layout.addLayout(actions)
        layout.addWidget(self.listen_label)
        layout.addWidget(self.changes)
        layout.addWidget(self.message_label)
        layout.addStretch(1)
        # the theme's flat buttons hide the checked state: Live on and recording must be obvious
        self.setStyleSheet(
            f"QPushButton:checked {{ background: #2d4a75; border-color: {ACCENT}; }}"
            "QPushButton#record:checked { background: #8a2f2f; border-color: #e06060; }"
        )

    # --- public API ---------------------------------------------------------------------------
    def current_audio(self) -> Audio | None:
        return self._audio

    def current_path(self) -> Path | None:
        """The file of the current sound (None for a recording)."""
        return self._path

    def strength(self) -> float:
        return float(self.strength_slider.value())

    def follow_loudness(self) -> bool:
        return self.follow_check.isChecked()

    def masked(self) -> bool:
        return self.mask_check.isChecked()

    def is_live(self) -> bool:
        return self.live_button.isChecked()

    def is_recording(self) -> bool:
        return self._recorder is not None and self._recorder.is_recording

    def recording_seconds(self) -> float:
        """Seconds of audio in the recording in progress (0 when not recording)."""
        return self._recorder.elapsed if self._recorder is not None else 0.0

    def effective_strength(self, samples: np.ndarray) -> float:
        """The slider's strength, times the loudness of `samples` when "Follow loudness" is on."""
        return self.strength() * loudness_strength(samples) if self.follow_loudness() else self.strength()

    def apply_strength(self) -> float:
        """Strength for "Apply sound" on the whole current sound (0 without one)."""
        return self.effective_strength(self._audio.samples) if self._audio is not None else 0.0

    def live_window(self, seconds: float = 2.0) -> np.ndarray | None:
        """The latest `seconds` of live sound, mono float32 at 16 kHz (shorter at first); None when idle."""
        recorder = self._live_recorder()
        if recorder is None:
            return None
        window = recorder.recent(seconds)
        return window if len(window) else None

    def capture_window(self, seconds: float = 2.0) -> np.ndarray | None:
        """The live sound at the moment of a capture (same as `live_window`, kept for the recipe)."""
        return self.live_window(seconds)

    def live_strength(self) -> float:
        """Strength for the current live frame: loudness of the last half second when following it."""
        window = self.live_window(LOUDNESS_SECONDS)
        return self.effective_strength(window if window is not None else np.zeros(0, np.float32))

    def set_listen_results(
        self,
        results: list[tuple[str, float]],
        changes: dict[str, str] | None = None,
        unplaced: str | None = None,
    ) -> None:
        """Show what the sound resembles: (caption, score) pairs, best first; the top 3 are shown.
        `unplaced`: the encoder's verdict when it cannot place the sound (its best score is under
        the encoder's listen floor, or the sound is a steady hiss), shown instead of a guess.
        `changes`: the scene attributes an edit with it will move, each a ticked box the artist may
        untick ("time → night ← Owl 0.86")."""
        top = sorted(results, key=lambda r: r[1], reverse=True)[:3]
        lines = [f"{name}  {score:.2f}" for name, score in top]
        placed = not (top and unplaced)
        if placed:
            self.listen_label.setText("Sounds like: " + (" · ".join(lines) if lines else "—"))
        else:
            self.listen_label.setText(unplaced[:1].upper() + unplaced[1:])
        self._placed = placed
        self.changes.set_changes(changes if changes and top else {}, *(top[0] if top else ()), ticked=placed)
        self._update_enabled()

    def sound_moves(self) -> dict[str, str] | None:
        """The ticked changes an Apply stores in its recipe; None when none were heard."""
        return self.changes.moves()

    def held_groups(self) -> tuple[str, ...]:
        """The unticked changes' groups: live frames leave them alone too."""
        return self.changes.held()

    def refresh_devices(self, devices: Sequence[InputDevice] | None = None) -> None:
        """List the microphones again (`devices` None asks PortAudio)."""
        found = list(list_input_devices() if devices is None else devices)
        self.device_combo.clear()
        if found:
            self.device_combo.addItem("Default microphone", None)
            for device in found:
                self.device_combo.addItem(device.name, device.index)
            self.device_combo.setToolTip("Which microphone to record from")
        else:
            self.device_combo.addItem(NO_MICROPHONE_TEXT, None)
            self.device_combo.setToolTip(
                "No microphone was found. Connect one and press ⟳, or use “Open sound…” to import a "
                "WAV, FLAC or OGG file instead."
            )
        self._mic_found = bool(found)
        self._update_enabled()

    def load_file(self, path: Path) -> bool:
        """Make a sound file the current sound; on failure say why and keep the previous one."""
        path = Path(path)
        try:
            audio = read_audio(path, max_seconds=MAX_FILE_SECONDS)
        except AudioError as exc:
            self._say(str(exc))
            return False
        except OSError as exc:
            self._say(f"The sound file '{path.name}' cannot be read ({exc.strerror or exc}).")
            return False
        self._last_dir = path.parent
        self._set_sound(audio, path)
        return True

    def choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Open sound", str(self._last_dir), SOUND_FILTERS)
        if name:
            self.load_file(Path(name))

    def toggle_record(self) -> None:
        if self._recorder is not None:
            self.stop_recording()
        else:
            self.start_recording()

    def start_recording(self) -> bool:
        """Start recording from the selected microphone; False (and a message) when it cannot."""
        if self._recorder is not None:
            return True
        self._stop_player()
        try:
            recorder = Recorder(
                self._source_factory(self.device_combo.currentData()), max_seconds=self._max_seconds
            )
            self._tail.clear()
            recorder.add_listener(self._tail.append)
            recorder.start()
        except (RecorderError, AudioError) as exc:
            self._record_failed(str(exc))
            return False
        except Exception as exc:  # PortAudio and driver errors must not take the studio down
            log.exception("recording failed to start")
            self._record_failed(f"Recording could not start: {exc}")
            return False
        self._recorder = recorder
        self._clear_message()
        self.record_button.setText("Stop")
        self.record_button.setChecked(True)
        self.elapsed_label.setText(self._elapsed_text(0.0))
        self._update_enabled()
        self._poll.start()
        return True

    def stop_recording(self) -> Audio | None:
        """End the recording and make it the current sound (with any warning about how it ended)."""
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return None
        try:
            audio = recorder.stop()
        except RecorderError as exc:
            self._say(str(exc))
            audio = None
        if audio is not None:
            self._set_sound(audio, None)  # also plays the recording live when Live is on
        elif self.is_live():
            self._start_player()
        self._after_record_end()
        return audio

    def play(self) -> None:
        """Play the current sound on the default output without blocking; press again to stop."""
        if self.play_button.text() == "Stop":
            self._stop_playback()
            return
        if self._audio is None:
            return
        try:
            import sounddevice as sd
        except (OSError, ImportError) as exc:
            self._say(f"Sound output is unavailable (PortAudio could not be loaded: {exc}).")
            return
        try:
            sd.play(self._audio.samples, self._audio.rate)
        except Exception as exc:  # sd.PortAudioError, ValueError: no or broken output device
            self._say(f"Cannot play the sound: no working sound output device ({exc}).")
            return
        self._sd = sd
        self.play_button.setText("Stop")
        self._play_timer.start(int(self._audio.seconds * 1000) + 200)

    def stop_all(self) -> None:
        """Stop recording (keeping it), live playback and playback; call before closing."""
        self.live_button.setChecked(False)
        self.stop_recording()
        self._stop_player()
        self._stop_playback()
        self._poll.stop()

    # --- sound state ----------------------------------------------------------------------------
    def _set_sound(self, audio: Audio, path: Path | None) -> None:
        self._audio, self._path, self._live_path = audio, path, path
        name = path.name if path is not None else "Recording"
        self.info.setText(f"{name} · {duration_text(audio.seconds)} · {audio.rms_db:.0f} dBFS")
        self.info.setToolTip(
            f"{path if path is not None else 'Recorded from the microphone'}\n"
            f"{audio.seconds:.2f} s, {audio.source_rate} Hz, {audio.source_channels} channel(s), "
            f"level {audio.rms_db:.1f} dBFS, peak {audio.peak_db:.1f} dBFS"
        )
        self.waveform.set_samples(audio.samples)
        self.set_listen_results([])
        if audio.warnings:
            self._say(" ".join(audio.warnings))
        else:
            self._clear_message()
        self._update_enabled()
        self.sound_changed.emit(audio)
        if self.is_live() and self._recorder is None:
            self._start_player()

    def _playable_path(self) -> Path | None:
        """The current sound as a file (a recording is saved to a temporary WAV once)."""
        if self._live_path is None and self._audio is not None:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="synesthesia-sound-")
            self._live_path = Path(self._tmp.name) / "recording.wav"  # WavSource reads it whole at once
            write_wav(self._live_path, self._audio.samples, self._audio.rate)
        return self._live_path

    # --- live ---------------------------------------------------------------------------------
    def _live_recorder(self) -> Recorder | None:
        if not self.is_live():
            return None
        return self._recorder if self._recorder is not None else self._player

    def _live_changed(self, on: bool) -> None:
        if on and self._recorder is None:
            self._start_player()
        elif not on:
            self._stop_player()
        self._update_enabled()
        self.live_toggled.emit(on)

    def _start_player(self) -> None:
        self._stop_player()
        try:
            path = self._playable_path()
            if path is None:
                return
            player = Recorder(WavSource(path, realtime=True, loop=True), max_seconds=LIVE_SEGMENT_SECONDS)
            self._tail.clear()
            player.add_listener(self._tail.append)
            player.start()
        except (AudioError, RecorderError, OSError) as exc:
            self._say(f"The sound cannot be played live: {exc}")
            self.live_button.setChecked(False)
            return
        self._player = player
        self._poll.start()

    def _stop_player(self) -> None:
        """Stop the looping source directly: the played-back audio is not needed as a recording."""
        player, self._player = self._player, None
        if player is not None:
            player.source.stop()
            self._reset_meter()

    def _tick(self) -> None:
        """Poll meters, notice recordings that ended on their own, and ask for live frames."""
        self._ticks += 1
        if self._recorder is not None:
            self.elapsed_label.setText(self._elapsed_text(self._recorder.elapsed))
            if not self._recorder.is_recording:  # the limit was reached or the device went away
                self.stop_recording()
        if self._player is not None and not self._player.is_recording:
            self._start_player()  # renew a long live segment (the old one released its source)
        active = self._recorder or self._player
        if active is None:
            self._poll.stop()
            self._reset_meter()
            return
        self.level_meter.setValue(int(max(METER_FLOOR_DB, min(0.0, active.level_db))))
        if self._ticks % WAVE_EVERY == 0 and self._tail:
            tail = np.concatenate(list(self._tail))
            self.waveform.set_samples(tail[-int(WAVE_SECONDS * active.source.rate) :])
        if self._live_recorder() is not None and active.elapsed > 0:
            self.live_frame_wanted.emit()

    # --- helpers --------------------------------------------------------------------------------
    def _record_failed(self, text: str) -> None:
        self._say(text)
        self._after_record_end()
        if self.is_live():
            self._start_player()  # the microphone did not take over: keep the sound playing live

    def _after_record_end(self) -> None:
        self.record_button.setText("Record")
        self.record_button.setChecked(False)
        self._reset_meter()
        if self._audio is not None and self._player is None:
            self.waveform.set_samples(self._audio.samples)
        self._update_enabled()

    def _reset_meter(self) -> None:
        self.level_meter.setValue(METER_FLOOR_DB)

    def _stop_playback(self) -> None:
        self._play_timer.stop()
        self.play_button.setText("Play")
        if self._sd is not None:
            try:
                self._sd.stop()
            except Exception as exc:  # the output device may be gone already
                log.warning("stopping playback failed: %s", exc)

    def _apply(self) -> None:
        if self._audio is not None:
            self.apply_requested.emit()

    def _animate(self) -> None:
        if self._audio is not None:
            self.animate_requested.emit()

    def _elapsed_text(self, seconds: float) -> str:
        return f"{clock(seconds)} / {clock(self._max_seconds)}"

    def _update_enabled(self) -> None:
        has_sound = self._audio is not None
        recording = self._recorder is not None
        self.play_button.setEnabled(has_sound)
        nothing_ticked = self.changes.all_unticked()
        self.apply_button.setEnabled(has_sound and not nothing_ticked)
        self.apply_button.setToolTip(
            APPLY_TIP if not nothing_ticked else NOTHING_TICKED_TIP if self._placed else CANT_PLACE_TIP
        )
        self.animate_button.setEnabled(has_sound)
        # a custom source (a test's WAV, an app's stream) records without a microphone
        self.record_button.setEnabled(recording or self._mic_found or self._custom_source)
        self.device_combo.setEnabled(self._mic_found and not recording)
        self.refresh_button.setEnabled(not recording)
        self.live_button.setEnabled(self.is_live() or has_sound or recording)
        self.capture_button.setEnabled(self.is_live())

    def _say(self, text: str) -> None:
        log.info("sound panel: %s", text)
        self.message_label.setText(text)
        self.message_label.show()
        self.message.emit(text)

    def _clear_message(self) -> None:
        self.message_label.clear()
        self.message_label.hide()
