"""Recording through real WAV-backed sources (there is no microphone here), meters, limits, failures."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio.io import SAMPLE_RATE, Audio, AudioError, read_audio
from studio.audio.recorder import (
    NO_MICROPHONE,
    InputDevice,
    Recorder,
    RecorderError,
    SoundDeviceSource,
    WavSource,
    list_input_devices,
)

WAIT = 30.0  # generous safety net for a loaded machine; never a timing assertion


def write(path: Path, samples: np.ndarray, rate: int, subtype: str = "FLOAT") -> Path:
    sf.write(path, samples, rate, subtype=subtype)
    return path


def tone(rate: int, seconds: float, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def record_all(source: WavSource, **kwargs: float) -> tuple[Recorder, Audio]:
    recorder = Recorder(source, **kwargs)
    recorder.start()
    assert source.wait(WAIT)
    return recorder, recorder.stop()


def test_list_input_devices_does_not_crash() -> None:
    devices = list_input_devices()
    assert isinstance(devices, list)
    assert all(isinstance(d, InputDevice) and d.channels > 0 for d in devices)


def test_microphone_source_gives_a_clear_error_without_a_microphone() -> None:
    if list_input_devices():
        pytest.skip("this machine has a microphone")
    with pytest.raises(RecorderError) as info:
        Recorder(SoundDeviceSource()).start()
    assert str(info.value) == NO_MICROPHONE or "PortAudio" in str(info.value)


def test_without_portaudio_the_recorder_still_works_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """`import sounddevice` raises when libportaudio is missing; simulate that import failing."""
    monkeypatch.setitem(sys.modules, "sounddevice", None)
    assert list_input_devices() == []
    with pytest.raises(RecorderError, match="PortAudio could not be loaded.*Import a sound file"):
        SoundDeviceSource().start(lambda chunk: None, lambda message: None)


def test_recording_a_file_gives_the_same_sound_as_reading_it(tmp_path: Path) -> None:
    path = write(tmp_path / "stereo44.wav", np.stack([tone(44100, 1.0), tone(44100, 1.0)], 1), 44100)
    source = WavSource(path, realtime=False)
    assert (source.rate, source.channels) == (44100, 2)
    recorder, audio = record_all(source)
    expected = read_audio(path)
    assert audio.rate == SAMPLE_RATE and audio.source_rate == 44100 and audio.source_channels == 2
    np.testing.assert_allclose(audio.samples, expected.samples, atol=1e-6)
    assert recorder.elapsed == pytest.approx(1.0)
    assert recorder.level_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.3)
    assert recorder.peak_db == pytest.approx(20 * np.log10(0.5), abs=0.3)
    assert audio.warnings == () and not recorder.is_recording


def test_realtime_playback_and_listeners(tmp_path: Path) -> None:
    path = write(tmp_path / "short.wav", tone(16000, 0.3), 16000)
    source = WavSource(path, chunk_seconds=0.05, realtime=True)
    recorder = Recorder(source)
    seen: list[np.ndarray] = []
    recorder.add_listener(seen.append)
    recorder.add_listener(lambda chunk: 1 / 0)  # a broken listener must not stop the recording
    recorder.start()
    assert recorder.is_recording
    assert source.wait(WAIT)
    audio = recorder.stop()
    assert sum(len(c) for c in seen) == 4800 and all(c.ndim == 1 for c in seen)
    np.testing.assert_allclose(np.concatenate(seen), tone(16000, 0.3), atol=1e-7)
    assert audio.seconds == pytest.approx(0.3)


def test_recording_stops_itself_at_the_limit(tmp_path: Path) -> None:
    path = write(tmp_path / "loop.wav", tone(8000, 0.5), 8000)
    source = WavSource(path, realtime=False, loop=True)  # endless without the limit
    recorder = Recorder(source, max_seconds=1.2)
    recorder.start()
    assert source.wait(WAIT)  # the recorder released the source by itself
    assert not recorder.is_recording
    audio = recorder.stop()
    assert audio.seconds == pytest.approx(1.2)
    assert any("1.2 s limit" in w for w in audio.warnings)


def test_device_vanishing_keeps_what_was_recorded(tmp_path: Path) -> None:
    path = write(tmp_path / "long.wav", tone(16000, 2.0), 16000)
    source = WavSource(path, realtime=False, fail_after_seconds=0.75)
    recorder, audio = record_all(source)
    assert audio.seconds == pytest.approx(0.75)
    assert any("input device stopped" in w and "first 0.8 s" in w for w in audio.warnings)
    np.testing.assert_allclose(audio.samples[:4000], tone(16000, 0.25), atol=1e-6)


def test_silent_recording_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "silence.wav", np.zeros(16000, np.float32), 16000, "PCM_16")
    recorder, audio = record_all(WavSource(path, realtime=False))
    assert audio.is_silent and any("recording is silent" in w for w in audio.warnings)
    assert recorder.level_db <= -100


def test_recent_returns_the_latest_seconds_at_the_model_rate(tmp_path: Path) -> None:
    ramp = np.linspace(-0.5, 0.5, 32000, dtype=np.float32)
    path = write(tmp_path / "ramp.wav", ramp, 32000)
    recorder = Recorder(WavSource(path, realtime=False))
    assert len(recorder.recent(1.0)) == 0
    recorder.start()
    assert recorder.source.wait(WAIT)
    last = recorder.recent(0.25)
    assert len(last) == 4000
    assert last[2000] == pytest.approx(ramp[-4000], abs=1e-3)  # the middle of the last quarter second
    assert len(recorder.recent(5.0)) == 16000  # everything, when less was recorded
    recorder.stop()


def test_misuse_gives_clear_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "a.wav", tone(16000, 0.2), 16000)
    recorder = Recorder(WavSource(path, realtime=False))
    with pytest.raises(RecorderError, match="start a recording first"):
        recorder.stop()
    recorder.start()
    with pytest.raises(RecorderError, match="Already recording"):
        recorder.start()
    assert recorder.source.wait(WAIT)
    first = recorder.stop()
    again = recorder.stop()  # stopping twice is harmless and loses nothing
    np.testing.assert_array_equal(first.samples, again.samples)
    recorder.start()  # a second take on the same recorder
    assert recorder.source.wait(WAIT)
    assert recorder.stop().seconds == pytest.approx(0.2)


def test_a_source_that_sends_nothing(tmp_path: Path) -> None:
    path = write(tmp_path / "b.wav", tone(16000, 0.2), 16000)
    recorder = Recorder(WavSource(path, realtime=False, fail_after_seconds=0.0))
    recorder.start()
    assert recorder.source.wait(WAIT)
    with pytest.raises(RecorderError, match="Nothing was recorded"):
        recorder.stop()


def test_wav_source_refuses_broken_files(tmp_path: Path) -> None:
    (tmp_path / "junk.wav").write_bytes(np.random.default_rng(1).bytes(3000))
    with pytest.raises(AudioError, match="'junk.wav' is not a readable sound"):
        WavSource(tmp_path / "junk.wav")


def test_concurrent_sources_and_readers_are_safe(tmp_path: Path) -> None:
    """Meters and recent() read from another thread while the source thread writes."""
    path = write(tmp_path / "noise.wav", 0.2 * np.random.default_rng(2).standard_normal(48000), 48000)
    source = WavSource(path, chunk_seconds=0.01, realtime=False, loop=True)
    recorder = Recorder(source, max_seconds=3.0)
    stop = threading.Event()
    errors: list[BaseException] = []

    def read() -> None:
        try:
            while not stop.is_set():
                recorder.recent(0.5)
                _ = recorder.level_db, recorder.peak_db, recorder.elapsed
        except BaseException as exc:  # reported through the assertion below
            errors.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    recorder.start()
    assert source.wait(WAIT)
    stop.set()
    reader.join()
    assert errors == []
    assert recorder.stop().seconds == pytest.approx(3.0)
