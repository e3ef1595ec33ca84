"""Log-mel features in numpy: what the sound encoder sees at inference.

The definition is shared with the torch version used for training
(`studio.training.audio_features.log_mel_torch`), which imports these constants, the
filterbank and the padding indices, so both compute the same numbers:

- centre padding by N_FFT // 2 with reflection (numpy's 'reflect', valid for any length),
- frames every HOP samples: 1 + len // HOP frames,
- a periodic Hann window of WIN samples centred in N_FFT (as torch.stft pads it),
- power spectrum, HTK mel scale with unit-peak triangular filters from FMIN to FMAX,
- log(mel + 1e-6), computed in float64 and returned as float32: float32 FFT rounding
  alone moves quiet bands by ~1e-3 in log, more than the numpy/torch parity we promise.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from studio.audio.io import SAMPLE_RATE, resample

N_FFT = 512
WIN = 400
HOP = 160
N_MELS = 64
FMIN = 50.0
FMAX = 8000.0
LOG_EPS = 1e-6


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=1)
def mel_filterbank() -> np.ndarray:
    """[N_MELS, N_FFT // 2 + 1] float32: unit-peak triangles on the HTK mel scale (read-only).

    Unit peaks (no Slaney area normalisation) keep the narrow low filters from being boosted;
    the log makes the choice a constant offset per band anyway.
    """
    bins_hz = np.arange(N_FFT // 2 + 1) * SAMPLE_RATE / N_FFT
    edges = mel_to_hz(np.linspace(hz_to_mel(FMIN), hz_to_mel(FMAX), N_MELS + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins_hz[None, :] - lo) / (mid - lo)
    falling = (hi - bins_hz[None, :]) / (hi - mid)
    fb = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=1)
def stft_window() -> np.ndarray:
    """Periodic Hann of WIN samples, zero-padded to N_FFT with the window centred (float32)."""
    hann = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(WIN) / WIN)
    left = (N_FFT - WIN) // 2
    window = np.zeros(N_FFT, dtype=np.float32)
    window[left : left + WIN] = hann
    window.setflags(write=False)
    return window


def reflect_index(length: int, pad: int = N_FFT // 2) -> np.ndarray:
    """Indices into a signal of `length` samples that reflect-pad it by `pad` on each side.

    Matches np.pad(mode='reflect') even for signals shorter than `pad` (torch's reflect
    padding refuses those), so very short sounds still give 1 + len // HOP frames.
    """
    if length < 1:
        raise ValueError("a sound needs at least one sample for log-mel features")
    idx = np.arange(-pad, length + pad)
    if length == 1:
        return np.zeros_like(idx)
    period = 2 * (length - 1)
    idx = np.abs(idx) % period
    return np.where(idx >= length, period - idx, idx)


def log_mel_batch(batch: np.ndarray) -> np.ndarray:
    """[N, S] sounds at SAMPLE_RATE → float32 [N, N_MELS, 1 + S // HOP]."""
    batch = np.asarray(batch, dtype=np.float64)
    if batch.ndim != 2:
        raise ValueError(f"log_mel_batch expects [N, samples], got shape {batch.shape}")
    padded = batch[:, reflect_index(batch.shape[1])]
    frames = sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP]  # [N, F, N_FFT], no copy
    spectrum = np.fft.rfft(frames * stft_window().astype(np.float64), axis=-1)
    power = spectrum.real**2 + spectrum.imag**2  # [N, F, bins]
    mel = np.matmul(mel_filterbank(), power.transpose(0, 2, 1))  # [N, N_MELS, F]
    return np.log(mel + LOG_EPS).astype(np.float32)


def log_mel(samples: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mono sound → float32 [N_MELS, 1 + len // HOP] (resampled to SAMPLE_RATE first if needed)."""
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"log_mel expects mono samples [S], got shape {samples.shape}")
    if rate != SAMPLE_RATE:
        samples = resample(samples, rate, SAMPLE_RATE)
    return log_mel_batch(samples[None, :])[0]
