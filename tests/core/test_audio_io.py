"""Reading real sound files of every common encoding, refusing broken ones, resampling, writing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from studio.audio.io import (
    SAMPLE_RATE,
    Audio,
    AudioError,
    read_audio,
    read_frames,
    resample,
    wav_bytes,
    windows,
    write_wav,
)


def sine(freq: float, rate: int, seconds: float = 1.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


def amplitude(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))) * np.sqrt(2))


@pytest.mark.parametrize(
    ("subtype", "tolerance"),
    [
        ("PCM_U8", 0.02),
        ("PCM_16", 1e-3),
        ("PCM_24", 1e-3),
        ("PCM_32", 1e-3),
        ("FLOAT", 1e-3),
        ("DOUBLE", 1e-3),
    ],
)
def test_wav_encodings_read_as_the_same_sine(tmp_path: Path, subtype: str, tolerance: float) -> None:
    path = tmp_path / f"tone_{subtype}.wav"
    sf.write(path, sine(1000, 44100), 44100, subtype=subtype)
    audio = read_audio(path)
    assert audio.rate == SAMPLE_RATE and audio.source_rate == 44100 and audio.source_channels == 1
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert len(audio.samples) == SAMPLE_RATE
    assert audio.seconds == pytest.approx(1.0)
    middle = audio.samples[1000:-1000]
    assert peak_hz(middle, SAMPLE_RATE) == pytest.approx(1000, abs=2)
    assert amplitude(middle) == pytest.approx(0.5, abs=tolerance)
    assert audio.warnings == ()
    assert audio.rms_db == pytest.approx(20 * np.log10(0.5 / np.sqrt(2)), abs=0.2)
    assert not audio.is_silent


@pytest.mark.parametrize("fmt", ["FLAC", "OGG"])
def test_flac_and_ogg(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"tone.{fmt.lower()}"
    sf.write(path, sine(440, 22050), 22050, format=fmt)
    audio = read_audio(path)
    assert audio.source_rate == 22050
    assert peak_hz(audio.samples[1000:-1000], SAMPLE_RATE) == pytest.approx(440, abs=2)
    assert amplitude(audio.samples[1000:-1000]) == pytest.approx(0.5, abs=0.02)


def test_stereo_and_multichannel_are_mixed_to_mono(tmp_path: Path) -> None:
    left, right = sine(300, 16000), np.zeros(16000, np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 16000, subtype="FLOAT")
    audio = read_audio(path)
    assert audio.source_channels == 2
    np.testing.assert_allclose(audio.samples, left / 2, atol=1e-6)
    path6 = tmp_path / "six.wav"
    sf.write(path6, np.tile(left[:, None], (1, 6)), 16000, subtype="FLOAT")
    assert read_audio(path6).source_channels == 6
    np.testing.assert_allclose(read_audio(path6).samples, left, atol=1e-6)


def test_bytes_input_and_roundtrip_through_wav_bytes(tmp_path: Path) -> None:
    x = sine(500, 16000, 0.5)
    data = wav_bytes(x, 16000)
    assert data[:4] == b"RIFF" and sf.info(__import__("io").BytesIO(data)).subtype == "PCM_16"
    audio = read_audio(data)
    np.testing.assert_allclose(audio.samples, x, atol=1 / 32767)
    out = tmp_path / "sub" / "kept.wav"
    out.parent.mkdir()
    write_wav(out, x, 16000)
    assert [p.name for p in out.parent.iterdir()] == ["kept.wav"]  # no temp file left
    np.testing.assert_allclose(read_audio(out).samples, x, atol=1 / 32767)


def test_wav_bytes_clips_out_of_range_values() -> None:
    audio = read_audio(wav_bytes(np.array([2.0, -3.0, 0.25] * 100, np.float32), 16000))
    assert audio.samples.max() == pytest.approx(1.0, abs=1e-4) and audio.samples.min() >= -1.0


def test_resample_keeps_frequency_and_amplitude_and_removes_aliases() -> None:
    for source_rate, freq in [(44100, 1000.0), (48000, 3000.0), (8000, 440.0), (22050, 5000.0)]:
        y = resample(sine(freq, source_rate, 2.0), source_rate, SAMPLE_RATE)
        assert len(y) == 2 * SAMPLE_RATE
        middle = y[2000:-2000]
        assert peak_hz(middle, SAMPLE_RATE) == pytest.approx(freq, abs=1)
        assert amplitude(middle) == pytest.approx(0.5, rel=0.01)
    alias = resample(sine(10000, 44100, 1.0), 44100, SAMPLE_RATE)  # above the new Nyquist
    assert amplitude(alias[2000:-2000]) < 1e-3
    x = sine(100, SAMPLE_RATE)
    np.testing.assert_array_equal(resample(x, SAMPLE_RATE, SAMPLE_RATE), x)


def test_audio_is_immutable(tmp_path: Path) -> None:
    audio = read_audio(wav_bytes(sine(100, 16000), 16000))
    with pytest.raises(ValueError):
        audio.samples[0] = 1.0


def test_silence_is_a_warning_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "quiet.wav"
    sf.write(path, np.zeros(8000, np.float32), 16000)
    audio = read_audio(path)
    assert audio.is_silent and len(audio.samples) == 8000
    assert any("silent" in w for w in audio.warnings)
    faint = read_audio(wav_bytes(sine(200, 16000, amp=1e-4), 16000))
    assert faint.is_silent


def test_clipping_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    sf.write(path, np.clip(sine(200, 16000, amp=3.0), -1, 1), 16000)
    audio = read_audio(path)
    assert any("clipped" in w for w in audio.warnings)
    assert np.abs(audio.samples).max() <= 1.0


def test_cut_at_max_seconds(tmp_path: Path) -> None:
    path = tmp_path / "long.wav"
    sf.write(path, sine(200, 16000, 3.0), 16000)
    audio = read_audio(path, max_seconds=1.0)
    assert audio.seconds == pytest.approx(1.0)
    assert any("cut" in w and "1 s" in w for w in audio.warnings)
    assert read_audio(path, max_seconds=5.0).warnings == ()


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="'nope.wav' does not exist"):
        read_audio(tmp_path / "nope.wav")
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioError, match="'empty.wav' is empty"):
        read_audio(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="empty"):
        read_audio(b"")
    (tmp_path / "dir.wav").mkdir()
    with pytest.raises(AudioError, match="'dir.wav' is a folder"):
        read_audio(tmp_path / "dir.wav")


def test_corrupt_and_foreign_files(tmp_path: Path) -> None:
    good = wav_bytes(sine(200, 16000), 16000)
    cases = {
        "truncated.wav": good[:30],  # the header stops half way
        "random.wav": np.random.default_rng(0).bytes(5000),
        "notes.wav": b"these are my notes, not a sound\n" * 20,
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(AudioError, match=f"'{name}' is not a readable sound"):
            read_audio(tmp_path / name)
    with pytest.raises(AudioError, match="not a readable sound"):
        read_audio(b"\x00\x01garbage" * 50)


def test_header_only_wav_has_no_samples(tmp_path: Path) -> None:
    path = tmp_path / "hollow.wav"
    sf.write(path, np.zeros((0,), np.float32), 16000)
    with pytest.raises(AudioError, match="no audio samples"):
        read_audio(path)


def test_nan_and_inf_samples_are_refused(tmp_path: Path) -> None:
    for bad in (np.nan, np.inf):
        x = sine(200, 16000)
        x[100] = bad
        path = tmp_path / "bad.wav"
        sf.write(path, x, 16000, subtype="FLOAT")
        with pytest.raises(AudioError, match="NaN or infinity"):
            read_audio(path)


def test_read_frames_keeps_channels(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    sf.write(path, np.zeros((100, 2), np.float32) + 0.25, 8000, subtype="FLOAT")
    frames, rate, cut = read_frames(path)
    assert frames.shape == (100, 2) and rate == 8000 and not cut


def test_windows_cover_the_sound_and_pad_the_last() -> None:
    audio = Audio(np.arange(25, dtype=np.float32) / 100, 10, 10, 1)
    parts = windows(audio, seconds=1.0, hop=0.5)  # 10-sample windows every 5 samples
    assert [len(p) for p in parts] == [10] * 4
    np.testing.assert_array_equal(parts[1], audio.samples[5:15])
    np.testing.assert_array_equal(parts[-1], np.pad(audio.samples[15:25], (0, 0)))
    short = windows(audio, seconds=5.0, hop=1.0)
    assert len(short) == 1 and len(short[0]) == 50 and short[0][25:].sum() == 0
    with pytest.raises(ValueError):
        windows(audio, seconds=0.0, hop=1.0)
