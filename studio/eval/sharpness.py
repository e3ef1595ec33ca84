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


def _high_freq(images: np.ndarray, scale: int) -> float:
    gray = _gray(images)
    power = np.abs(np.fft.rfft2(gray - gray.mean(axis=(1, 2), keepdims=True))) ** 2
    fy = np.fft.fftfreq(gray.shape[1])[:, None]
    fx = np.fft.rfftfreq(gray.shape[2])[None, :]
    return float(power[:, np.hypot(fy, fx) > 0.5 / scale].mean())
