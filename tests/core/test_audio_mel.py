"""Log-mel features: shapes, where energy lands, and numpy/torch parity (training = inference)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.audio.io import SAMPLE_RATE, resample
from studio.audio.mel import (
    FMAX,
    FMIN,
    HOP,
    N_FFT,
    N_MELS,
    hz_to_mel,
    log_mel,
    log_mel_batch,
    mel_filterbank,
    mel_to_hz,
    reflect_index,
)
from studio.training.audio_features import log_mel_torch

RNG = np.random.default_rng(7)
T = np.arange(2 * SAMPLE_RATE) / SAMPLE_RATE


def real_sounds() -> dict[str, np.ndarray]:
    chirp = 0.8 * np.sin(2 * np.pi * (60 * T + 1900 * T**2))  # 60 Hz → 7.6 kHz in 2 s
    return {
        "noise": 0.3 * RNG.standard_normal(len(T)),
        "quiet_noise": 1e-4 * RNG.standard_normal(len(T)),
        "sine_440": 0.5 * np.sin(2 * np.pi * 440 * T),
        "sine_full_scale": 0.99 * np.sin(2 * np.pi * 3000 * T),
        "chirp": chirp,
        "silence": np.zeros(len(T)),
        "burst": np.where(T < 0.3, 0.5 * RNG.standard_normal(len(T)), 0.0),
    }


def test_filterbank_shape_and_coverage() -> None:
    fb = mel_filterbank()
    assert fb.shape == (N_MELS, N_FFT // 2 + 1) and fb.dtype == np.float32
    assert (fb.max(axis=1) > 0.4).all()  # no empty band, even the narrow low ones
    assert fb.max() <= 1.0 and fb.min() >= 0.0
    centres = np.argmax(fb, axis=1)
    assert (np.diff(centres) >= 0).all()
    bins_hz = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    assert fb[:, bins_hz < FMIN - 40].sum() == 0
    assert mel_to_hz(hz_to_mel(1234.5)) == pytest.approx(1234.5)
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.5)  # HTK: 1 kHz ≈ 1000 mel
    assert FMAX == SAMPLE_RATE / 2


@pytest.mark.parametrize("length", [1, 2, 100, 159, 160, 256, 257, 1000, SAMPLE_RATE + 7])
def test_frame_count(length: int) -> None:
    x = RNG.standard_normal(length).astype(np.float32)
    features = log_mel(x)
    assert features.shape == (N_MELS, 1 + length // HOP) and features.dtype == np.float32
    assert np.isfinite(features).all()
    assert log_mel_torch(torch.from_numpy(x)[None]).shape == (1, N_MELS, 1 + length // HOP)


def test_reflect_index_matches_numpy_pad() -> None:
    for n in (1, 2, 5, 300, 1000):
        x = RNG.standard_normal(n)
        np.testing.assert_array_equal(x[reflect_index(n)], np.pad(x, N_FFT // 2, mode="reflect"))
    with pytest.raises(ValueError, match="at least one sample"):
        reflect_index(0)


def test_a_sine_lights_the_band_that_contains_it() -> None:
    fb = mel_filterbank()
    bins_hz = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    for freq in (200.0, 1000.0, 5000.0):
        features = log_mel((0.5 * np.sin(2 * np.pi * freq * T)).astype(np.float32))
        band = int(np.argmax(features[:, 10:-10].mean(axis=1)))
        covering = np.flatnonzero(fb[:, np.argmin(np.abs(bins_hz - freq))])  # the bands over that bin
        assert band in covering
    silence = log_mel(np.zeros(SAMPLE_RATE, np.float32))
    np.testing.assert_allclose(silence, np.log(1e-6), rtol=1e-6)


def test_louder_is_larger_by_the_gain() -> None:
    x = (0.1 * RNG.standard_normal(SAMPLE_RATE)).astype(np.float32)
    diff = log_mel(4 * x) - log_mel(x)
    assert np.median(diff) == pytest.approx(np.log(16.0), abs=0.01)  # power scales by gain²


def test_batch_equals_single_and_other_rates_are_resampled() -> None:
    sounds = np.stack(list(real_sounds().values())).astype(np.float32)
    batch = log_mel_batch(sounds)
    for i, x in enumerate(sounds):
        np.testing.assert_allclose(batch[i], log_mel(x), atol=1e-5)
    x44 = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(44100) / 44100)).astype(np.float32)
    np.testing.assert_allclose(log_mel(x44, rate=44100), log_mel(resample(x44, 44100, SAMPLE_RATE)))


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match=r"\[N, samples\]"):
        log_mel_batch(np.zeros(100, np.float32))
    with pytest.raises(ValueError, match=r"\[N, samples\]"):
        log_mel_torch(torch.zeros(100))


def test_torch_features_match_numpy_on_real_sounds() -> None:
    torch.set_num_threads(1)
    sounds = real_sounds()
    batch = np.stack(list(sounds.values())).astype(np.float32)
    expected = log_mel_batch(batch)
    got = log_mel_torch(torch.from_numpy(batch))
    assert got.dtype == torch.float32 and got.shape == expected.shape
    for i, name in enumerate(sounds):
        diff = float(np.abs(got[i].numpy() - expected[i]).max())
        assert diff < 1e-3, f"{name}: max |torch - numpy| = {diff}"
