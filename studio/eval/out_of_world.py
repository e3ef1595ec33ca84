"""Sounds no listen label describes, made here: the negatives a listen floor is calibrated on.

Each is clearly not a landscape sound (a test tone, white noise, silence, a click train, a
speech-like formant buzz), in a few seeded variants of pitch, level and rate, so a floor that
refuses them is not tuned to one exact signal.
"""

from __future__ import annotations

import numpy as np

from studio.audio.io import SAMPLE_RATE

KINDS = ("sine", "white_noise", "silence", "click_train", "formant_buzz")
# (first, second) formants of a few vowels, Hz: what makes a buzz sound like speech
VOWELS = ((730, 1090), (270, 2290), (300, 870), (530, 1840), (640, 1190))


def out_of_world(kind: str, rng: np.random.Generator, seconds: float = 4.0) -> np.ndarray:
    """One mono float32 clip at SAMPLE_RATE of an out-of-world `kind` (see KINDS)."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    level = 10 ** (rng.uniform(-30, -10) / 20)  # RMS from -30 to -10 dBFS
    if kind == "sine":
        wave = np.sin(2 * np.pi * rng.uniform(110, 3000) * t)
    elif kind == "white_noise":
        wave = rng.standard_normal(n)
    elif kind == "silence":
        return np.zeros(n, np.float32)
    elif kind == "click_train":
        wave = np.zeros(n)
        wave[:: int(SAMPLE_RATE / rng.uniform(2, 20))] = 1.0
    elif kind == "formant_buzz":
        wave = _formant_buzz(rng, t)
    else:
        raise ValueError(f"unknown out-of-world sound {kind!r}; known: {', '.join(KINDS)}")
    rms = float(np.sqrt(np.mean(wave**2))) or 1.0
    return (wave * level / rms).astype(np.float32)


def _formant_buzz(rng: np.random.Generator, t: np.ndarray) -> np.ndarray:
    """A gliding glottal pulse train through two formant resonators, a new vowel every 0.2 s."""
    pitch = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t))
    phase = np.cumsum(pitch) / SAMPLE_RATE
    pulses = (np.diff(np.floor(phase), prepend=0.0) > 0).astype(np.float64)
    spectrum = np.fft.rfft(pulses)
    freqs = np.fft.rfftfreq(len(t), 1 / SAMPLE_RATE)
    syllable = int(0.2 * SAMPLE_RATE)
    out = np.zeros_like(t)
    for start in range(0, len(t), syllable):
        f1, f2 = VOWELS[int(rng.integers(len(VOWELS)))]
        shape = sum(1 / (1 + ((freqs - f) / 80.0) ** 2) for f in (f1, f2))
        voiced = np.fft.irfft(spectrum * shape, n=len(t))
        out[start : start + syllable] = voiced[start : start + syllable]
    return out


def out_of_world_clips(per_kind: int = 8, seed: int = 7) -> list[tuple[str, np.ndarray]]:
    """(kind, clip) for `per_kind` seeded variants of every kind."""
    rng = np.random.default_rng(seed)
    return [(kind, out_of_world(kind, rng)) for kind in KINDS for _ in range(per_kind)]
