"""The Sound panel on real WAV files and a WAV-backed stand-in for the microphone, offscreen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from studio.audio.io import SAMPLE_RATE, write_wav
from studio.audio.recorder import InputDevice, WavSource
from studio.inference.audio_encoder import Heard
from studio.inference.audio_encoder import loudness_strength as loudness
from ui import sound_panel
from ui.sound_panel import NO_MICROPHONE_TEXT, SoundPanel, peaks

WAIT_MS = 20_000


def tone(seconds: float, amplitude: float = 0.5, rate: int = SAMPLE_RATE, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "rain.wav"
    write_wav(path, tone(2.0), SAMPLE_RATE)
    return path


@pytest.fixture
def long_wav(tmp_path: Path) -> Path:
    """A stereo 44.1 kHz file, so recording also exercises mono mixing and resampling."""
    path = tmp_path / "mic.wav"
    mono = tone(4.0, 0.4, rate=44100)
    sf.write(path, np.stack([mono, mono], axis=1), 44100)
    return path


def make_panel(qtbot, **kwargs) -> SoundPanel:
    panel = SoundPanel(devices=kwargs.pop("devices", []), **kwargs)
    qtbot.addWidget(panel)
    panel.show()
    return panel


@pytest.fixture
def panel(qtbot) -> Iterator[SoundPanel]:
    p = make_panel(qtbot)
    yield p
    p.stop_all()


def test_load_good_wav(qtbot, panel: SoundPanel, wav: Path) -> None:
    assert not panel.apply_button.isEnabled()
    with qtbot.waitSignal(panel.sound_changed, timeout=WAIT_MS) as blocker:
        assert panel.load_file(wav)
    audio = blocker.args[0]
    assert audio is panel.current_audio()
    assert audio.rate == SAMPLE_RATE and abs(audio.seconds - 2.0) < 0.01
    assert panel.current_path() == wav
    assert "rain.wav" in panel.info.text() and "0:02.0" in panel.info.text()
    assert "dBFS" in panel.info.text()
    assert panel.apply_button.isEnabled() and panel.animate_button.isEnabled()
    assert panel.waveform.peak_count() > 100
    assert panel.message_label.isHidden()
    with qtbot.waitSignal(panel.apply_requested, timeout=WAIT_MS):
        qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(panel.animate_requested, timeout=WAIT_MS):
        qtbot.mouseClick(panel.animate_button, Qt.MouseButton.LeftButton)
    panel.grab()  # paints the waveform


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8)), "not a readable sound"),
        (b"RIFF\x24\x10\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00", "not a readable sound"),
    ],
    ids=["zero-length", "random-bytes", "broken-header"],
)
def test_bad_file_keeps_previous_sound(
    qtbot, panel: SoundPanel, wav: Path, tmp_path: Path, content: bytes, expected: str
) -> None:
    panel.load_file(wav)
    previous = panel.current_audio()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS) as blocker:
        assert not panel.load_file(bad)
    assert "bad.wav" in blocker.args[0] and expected in blocker.args[0]
    assert panel.message_label.text() == blocker.args[0] and panel.message_label.isVisible()
    assert panel.current_audio() is previous and panel.current_path() == wav
    assert panel.apply_button.isEnabled()


def test_missing_file_and_directory(panel: SoundPanel, tmp_path: Path) -> None:
    assert not panel.load_file(tmp_path / "nowhere.wav")
    assert "does not exist" in panel.message_label.text()
    assert not panel.load_file(tmp_path)
    assert panel.current_audio() is None and not panel.apply_button.isEnabled()


def test_silent_wav_warns(qtbot, panel: SoundPanel, tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    write_wav(path, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS):
        assert panel.load_file(path)
    assert "silent" in panel.message_label.text()
    assert panel.current_audio() is not None and panel.current_audio().is_silent


def test_no_microphone(panel: SoundPanel) -> None:
    combo = panel.device_combo
    assert combo.currentText() == NO_MICROPHONE_TEXT and not combo.isEnabled()
    assert "Open sound" in combo.toolTip()
    assert not panel.record_button.isEnabled()


def test_devices_listed_and_index_passed_to_factory(qtbot, long_wav: Path) -> None:
    asked: list[int | None] = []

    def factory(index: int | None) -> WavSource:
        asked.append(index)
        return WavSource(long_wav, realtime=False)

    mics = [InputDevice(3, "USB mic", 1, 48000.0), InputDevice(7, "Headset", 2, 44100.0)]
    panel = make_panel(qtbot, source_factory=factory, devices=mics)
    assert panel.device_combo.isEnabled() and panel.device_combo.count() == 3
    panel.device_combo.setCurrentIndex(panel.device_combo.findText("Headset"))
    assert panel.start_recording()
    panel.stop_all()
    assert asked == [7]


def test_record_from_wav_source(qtbot, long_wav: Path) -> None:
    panel = make_panel(qtbot, source_factory=lambda index: WavSource(long_wav, realtime=True))
    meter = panel.level_meter
    assert panel.record_button.isEnabled() and meter.value() == meter.minimum()
    assert panel.record_button.shortcut() == QKeySequence("Ctrl+R")
    qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    assert panel.is_recording() and panel.record_button.text() == "Stop"
    assert not panel.device_combo.isEnabled()
    qtbot.waitUntil(lambda: panel.recording_seconds() > 0.3, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: meter.value() > meter.minimum(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.elapsed_label.text() != "0:00 / 0:30", timeout=WAIT_MS)
    assert panel.elapsed_label.text().endswith("/ 0:30")
    with qtbot.waitSignal(panel.sound_changed, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    audio = blocker.args[0]
    assert audio is panel.current_audio() and panel.current_path() is None
    assert audio.rate == SAMPLE_RATE and audio.seconds > 0.3 and not audio.is_silent
    assert "Recording" in panel.info.text() and panel.apply_button.isEnabled()
    assert not panel.is_recording() and panel.record_button.text() == "Record"
    assert meter.value() == meter.minimum()
    panel.stop_all()


def test_device_vanishing_keeps_partial_recording(qtbot, long_wav: Path) -> None:
    panel = make_panel(
        qtbot, source_factory=lambda index: WavSource(long_wav, realtime=True, fail_after_seconds=0.5)
    )
    with qtbot.waitSignal(panel.sound_changed, timeout=WAIT_MS) as blocker:
        assert panel.start_recording()
    audio = blocker.args[0]
    assert abs(audio.seconds - 0.5) < 0.05
    assert "disconnected" in panel.message_label.text() and "kept" in panel.message_label.text()
    assert not panel.is_recording() and panel.record_button.text() == "Record"
    panel.stop_all()


def test_recording_stops_at_cap(qtbot, long_wav: Path) -> None:
    panel = make_panel(
        qtbot, source_factory=lambda index: WavSource(long_wav, realtime=False), max_seconds=1.0
    )
    assert panel.elapsed_label.text() == "0:00 / 0:01"
    with qtbot.waitSignal(panel.sound_changed, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(panel.record_button, Qt.MouseButton.LeftButton)
    assert abs(blocker.args[0].seconds - 1.0) < 0.01
    assert "limit" in panel.message_label.text()
    assert not panel.is_recording()
    panel.stop_all()


def test_recording_that_cannot_start_says_why(qtbot, tmp_path: Path) -> None:
    panel = make_panel(qtbot, source_factory=lambda index: WavSource(tmp_path / "gone.wav"))
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS):
        assert not panel.start_recording()
    assert "does not exist" in panel.message_label.text()
    assert not panel.is_recording() and panel.record_button.text() == "Record"


def test_live_file_emits_frames_and_windows(qtbot, panel: SoundPanel, wav: Path) -> None:
    assert not panel.live_button.isEnabled()  # nothing to play yet
    panel.load_file(wav)
    assert panel.live_button.shortcut() == QKeySequence("Ctrl+L")
    assert not panel.capture_button.isEnabled()
    with qtbot.waitSignal(panel.live_toggled, timeout=WAIT_MS) as toggled:
        qtbot.mouseClick(panel.live_button, Qt.MouseButton.LeftButton)
    assert toggled.args == [True] and panel.is_live()
    with qtbot.waitSignal(panel.live_frame_wanted, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(
        lambda: (w := panel.live_window(2.0)) is not None and len(w) == 2 * SAMPLE_RATE, timeout=WAIT_MS
    )
    window = panel.live_window(seconds=2.0)
    assert window.dtype == np.float32 and window.ndim == 1
    assert 0.0 < panel.live_strength() <= panel.strength()
    assert panel.capture_button.isEnabled()
    assert panel.capture_button.shortcut() == QKeySequence("Ctrl+K")
    with qtbot.waitSignal(panel.capture_requested, timeout=WAIT_MS):
        qtbot.mouseClick(panel.capture_button, Qt.MouseButton.LeftButton)
    captured = panel.capture_window(2.0)
    assert captured is not None and len(captured) == 2 * SAMPLE_RATE
    with qtbot.waitSignal(panel.live_toggled, timeout=WAIT_MS) as toggled:
        qtbot.mouseClick(panel.live_button, Qt.MouseButton.LeftButton)
    assert toggled.args == [False] and panel.live_window() is None


def test_live_follows_recording_then_plays_it(qtbot, long_wav: Path) -> None:
    panel = make_panel(qtbot, source_factory=lambda index: WavSource(long_wav, realtime=True))
    panel.start_recording()
    panel.live_button.setChecked(True)
    with qtbot.waitSignal(panel.live_frame_wanted, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: panel.live_window(0.2) is not None, timeout=WAIT_MS)
    panel.stop_recording()
    assert panel.current_path() is None and panel.is_live()
    with qtbot.waitSignal(panel.live_frame_wanted, timeout=WAIT_MS):
        pass  # the recording now plays live in a loop
    qtbot.waitUntil(lambda: panel.live_window(0.2) is not None, timeout=WAIT_MS)
    panel.stop_all()
    assert not panel.is_live() and panel.live_window() is None


def test_long_live_playback_renews_its_segment(qtbot, panel: SoundPanel, wav: Path, monkeypatch) -> None:
    """A live file's Recorder is replaced after LIVE_SEGMENT_SECONDS so memory stays bounded."""
    monkeypatch.setattr(sound_panel, "LIVE_SEGMENT_SECONDS", 0.5)
    panel.load_file(wav)
    panel.live_button.setChecked(True)
    first = panel._player
    qtbot.waitUntil(lambda: panel._player is not first and panel._player is not None, timeout=WAIT_MS)
    with qtbot.waitSignal(panel.live_frame_wanted, timeout=WAIT_MS):
        pass
    assert panel.is_live() and panel.live_window(0.1) is not None


def test_failed_recording_keeps_live_file_playing(
    qtbot, panel: SoundPanel, wav: Path, tmp_path: Path
) -> None:
    broken = make_panel(qtbot, source_factory=lambda index: WavSource(tmp_path / "gone.wav"))
    broken.load_file(wav)
    broken.live_button.setChecked(True)
    assert not broken.start_recording()
    with qtbot.waitSignal(broken.live_frame_wanted, timeout=WAIT_MS):
        pass
    broken.stop_all()


def test_follow_loudness(qtbot, panel: SoundPanel) -> None:
    quiet, loud = tone(1.0, 0.01), tone(1.0, 0.5)
    assert loudness(quiet) < 0.3 < 0.9 < loudness(loud)
    assert loudness(np.zeros(0, np.float32)) == 0.0 and loudness(np.zeros(100, np.float32)) == 0.0
    panel.strength_slider.setValue(0.8)
    assert panel.effective_strength(quiet) == pytest.approx(0.8) == panel.effective_strength(loud)
    panel.follow_check.setChecked(True)
    assert panel.follow_loudness()
    assert panel.effective_strength(quiet) < 0.25 < 0.7 < panel.effective_strength(loud) <= 0.8


def test_defaults_and_listen_results(panel: SoundPanel) -> None:
    assert panel.strength() == pytest.approx(0.6)
    assert panel.strength_slider.toolTip() == "How far the sound moves the picture"
    assert not panel.follow_loudness() and not panel.masked() and not panel.is_live()
    panel.mask_check.setChecked(True)
    assert panel.masked()
    panel.set_listen_results([("wind", 0.2), ("rain on a roof", 0.81), ("thunder", 0.5), ("birds", 0.1)])
    text = panel.listen_label.text()
    assert "rain on a roof  0.81" in text and "thunder" in text and "wind" in text and "birds" not in text
    assert text.index("rain") < text.index("thunder") < text.index("wind")
    panel.set_listen_results([])
    assert panel.listen_label.text() == "Sounds like: —"
    ranked = [("Rain", 0.31, {}), ("Wind", 0.2, {})]
    heard = Heard(ranked, "sound 1.0", floor=0.5)  # under the encoder's floor: its verdict, not a guess
    panel.set_listen_results([("Wind", 0.2), ("Rain", 0.31)], {"weather": "rainy"}, heard.verdict())
    assert panel.listen_label.text() == "Can't place this sound (closest: Rain 0.31)"
    assert list(panel.changes.checks) == ["weather"] and panel.changes.moves() == {}


def test_play_without_output_device_says_so(qtbot, panel: SoundPanel, wav: Path) -> None:
    try:
        import sounddevice as sd

        has_output = bool(sd.query_devices(kind="output"))
    except Exception:
        has_output = False
    if has_output:
        pytest.skip("this machine has a sound output device")
    panel.load_file(wav)
    with qtbot.waitSignal(panel.message, timeout=WAIT_MS) as blocker:
        qtbot.mouseClick(panel.play_button, Qt.MouseButton.LeftButton)
    assert "output" in blocker.args[0]
    assert panel.play_button.text() == "Play"


def test_every_control_is_described(panel: SoundPanel) -> None:
    from PySide6.QtWidgets import QWidget

    widgets = [w for w in vars(panel).values() if isinstance(w, QWidget)]
    assert len(widgets) >= 18
    for widget in widgets:
        assert widget.toolTip(), widget
        assert widget.accessibleName(), widget


def test_peaks_downsample() -> None:
    samples = np.concatenate([np.full(1000, 0.5), np.full(1000, -0.25)]).astype(np.float32)
    env = peaks(samples, 4)
    assert env.shape == (4, 2)
    assert env[0].tolist() == [0.5, 0.5] and env[-1].tolist() == [-0.25, -0.25]
    assert peaks(np.zeros(3, np.float32), 10).shape == (3, 2)
    assert peaks(np.zeros(0, np.float32)).shape == (0, 2)
