"""Sharpness statistics of picture sets: how crisp an upscaler's or a generator's output is
next to the renderer's own pictures (1 = as crisp). Plain numpy, so export and eval share them."""

from __future__ import annotations

import numpy as np


def image_scores(images: np.ndarray, targets: np.ndarray, scale: int) -> dict:
    """Mean PSNR (dB, uint8; meaningful only for paired sets) and two sharpness ratios to the
    targets (1 = as crisp): mean gradient magnitude, and the energy above the Nyquist frequency of
    a picture `scale` times smaller (the detail an upscaler must invent)."""
    mse = ((images.astype(np.float64) - targets) ** 2).mean(axis=(1, 2, 3))
    psnr = float(np.mean(10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))))
    return {
        "psnr_db": round(psnr, 3),
        "gradient_ratio": round(_gradient(images) / _gradient(targets), 4),
        "high_freq_ratio": round(_high_freq(images, scale) / _high_freq(targets, scale), 4),
    }


def _gray(images: np.ndarray) -> np.ndarray:
    return images.astype(np.float64).mean(axis=3)


def _gradient(images: np.ndarray) -> float:
    gray = _gray(images)
    gy, gx = np.diff(gray, axis=1)[:, :, :-1], np.diff(gray, axis=2)[:, :-1]
    return float(np.hypot(gx, gy).mean())


def octave_ratios(images: np.ndarray, targets: np.ndarray, octaves: int = 3) -> dict[str, float]:
    """Energy per octave of spatial frequency over the targets', finest last (1 = as much): says
    which scale a set lacks. At 256 px the finest octave (1/4–1/2 cycles/px) is what only a ×2
    upscaler of a 128 px picture can add; the next is the 128 px picture's own finest."""
    mine, theirs = _power(images), _power(targets)
    ratios = {}
    for k in range(octaves, 0, -1):
        low, high = 0.5 / 2**k, 0.5 / 2 ** (k - 1)
        band = (mine[1] > low) & (mine[1] <= high)
        ratio = mine[0][:, band].mean() / theirs[0][:, band].mean()
        ratios[f"1/{2**k * 2}-1/{2**k}"] = round(float(ratio), 4)
    return ratios


def _power(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Power spectra of the grey pictures (mean removed) and each bin's radial frequency."""
    gray = _gray(images)
    power = np.abs(np.fft.rfft2(gray - gray.mean(axis=(1, 2), keepdims=True))) ** 2
    fy = np.fft.fftfreq(gray.shape[1])[:, None]
    fx = np.fft.rfftfreq(gray.shape[2])[None, :]
    return power, np.hypot(fy, fx)


def _high_freq(images: np.ndarray, scale: int) -> float:
    power, freq = _power(images)
    return float(power[:, freq > 0.5 / scale].mean())
