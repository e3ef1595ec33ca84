"""Capture augmentation keeps clips usable (shape, finite, peak) and does what each step claims."""

from __future__ import annotations

import numpy as np
import pytest

from studio.training import audio_augment as aug
from studio.world.sounds import synth

RATE = 16000


def _clip(kind: str = "rain", seconds: float = 2.0, seed: int = 0) -> np.ndarray:
    return synth(kind, np.random.default_rng(seed), seconds=seconds)


def _band_energy(x: np.ndarray, lo: float, hi: float) -> float:
    power = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    return float(power[(freqs >= lo) & (freqs < hi)].sum() / power.sum())


OTHER = _clip("wind", 1.3, seed=9)
STEPS = {
    "gain": lambda x, rng: aug.gain(x, rng),
    "equalize": lambda x, rng: aug.equalize(x, rng),
    "room_reverb": lambda x, rng: aug.room_reverb(x, rng),
    "noise_bed": lambda x, rng: aug.noise_bed(x, rng),
    "background": lambda x, rng: aug.background(x, OTHER, rng),
    "two_sources": lambda x, rng: aug.two_sources(x, OTHER, rng),
    "clipping": lambda x, rng: aug.clipping(x, rng),
    "low_rate_mic": lambda x, rng: aug.low_rate_mic(x, rng),
    "augment": lambda x, rng: aug.augment(x, rng, other=OTHER, p=1.0),
}


@pytest.mark.parametrize("name", list(STEPS))
@pytest.mark.parametrize("length", [16000, 4001, 7])
def test_every_step_keeps_shape_finite_and_peak(name: str, length: int) -> None:
    x = _clip(seconds=1.0)[:length] if length <= 16000 else _clip()
    for seed in range(3):
        y = STEPS[name](x, np.random.default_rng(seed))
        assert y.shape == x.shape and y.dtype == np.float32
        assert np.all(np.isfinite(y)) and float(np.max(np.abs(y), initial=0.0)) <= aug.LIMIT


@pytest.mark.parametrize("name", list(STEPS))
def test_every_step_is_deterministic_per_seed(name: str) -> None:
    x = _clip()
    first = STEPS[name](x, np.random.default_rng(3))
    assert np.array_equal(first, STEPS[name](x, np.random.default_rng(3)))
    others = [STEPS[name](x, np.random.default_rng(s)) for s in (4, 5, 6)]
    assert any(not np.allclose(first, o) for o in others)


@pytest.mark.parametrize("name", list(STEPS))
def test_silence_and_loud_input_stay_finite(name: str) -> None:
    for x in (np.zeros(8000, np.float32), np.full(8000, 5.0, np.float32)):
        y = STEPS[name](x, np.random.default_rng(1))
        assert np.all(np.isfinite(y)) and float(np.max(np.abs(y))) <= aug.LIMIT


def test_low_rate_mic_removes_the_top_band() -> None:
    x = (aug.colored_noise(2 * RATE, np.random.default_rng(0), 0.0) * 0.2).astype(np.float32)
    for seed in range(4):  # 8 kHz or 11.025 kHz: nothing above 5.5 kHz survives either
        y = aug.low_rate_mic(x, np.random.default_rng(seed))
        assert _band_energy(x, 5600, 8000) > 0.25 and _band_energy(y, 5600, 8000) < 0.005


def test_room_reverb_fills_the_silence_after_a_click() -> None:
    x = np.zeros(RATE, np.float32)
    x[100] = 0.8
    y = aug.room_reverb(x, np.random.default_rng(2))
    assert float(np.sqrt(np.mean(y[2000:4000] ** 2))) > 1e-3  # 0.12-0.25 s later the room still rings


def test_noise_bed_and_clipping_change_the_clip_as_described() -> None:
    x = _clip("owl")
    noisy = aug.noise_bed(x, np.random.default_rng(0), 10.0, 10.0)
    residual = noisy / np.max(np.abs(noisy)) * np.max(np.abs(x)) - x
    assert 0.05 < np.sqrt(np.mean(residual**2)) / np.sqrt(np.mean(x**2)) < 1.0
    clipped = aug.clipping(x, np.random.default_rng(1))
    crest = lambda s: float(np.max(np.abs(s)) / np.sqrt(np.mean(s**2)))  # noqa: E731
    assert crest(clipped) < crest(x)


def test_colored_noise_slopes() -> None:
    rng = np.random.default_rng(0)
    white, brown = aug.colored_noise(RATE, rng, 0.0), aug.colored_noise(RATE, rng, 2.0)
    assert abs(np.sqrt(np.mean(white**2)) - 1.0) < 1e-6
    assert _band_energy(brown, 0, 200) > 0.8 > _band_energy(white, 0, 200)
