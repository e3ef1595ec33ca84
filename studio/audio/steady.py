"""Steady hiss: a sound whose long-term spectrum is flat and whose loudness never moves (white
noise, radio static, a fan close to the microphone). The sound encoder hears it as heavy rain with
a confident 0.83, above its listen floor, so `listen` refuses it on the signal itself.

Measured on the 143 real recordings of the real set (train and held-out, session 19): the flattest
long-term spectrum is 0.85 (leaves sliding), real rain 0.72–0.83; seeded white noise 0.995 with a
loudness variation of 0.03. Pink or brown noise is tilted (flatness well under 0.9) and may pass
as wind or rain, which is what it sounds like.
"""

from __future__ import annotations

import numpy as np

HISS_WORDS = "a steady hiss like static or a fan"  # what `listen` and the Sound panel call it
FRAME = 512
FLATNESS_MIN = 0.95  # long-term spectral flatness (geometric / arithmetic mean of power)
VARIATION_MAX = 0.15  # frame loudness std / mean


def is_steady_hiss(samples: np.ndarray) -> bool:
    """Whether mono samples are a steady, spectrally flat noise (see the module's note)."""
    x = np.asarray(samples, dtype=np.float64)
    if x.size < 4 * FRAME:
        return False
    frames = x[: x.size // FRAME * FRAME].reshape(-1, FRAME)
    rms = np.sqrt((frames**2).mean(axis=1))
    if rms.mean() <= 1e-6:  # silence has its own warning
        return False
    power = (np.abs(np.fft.rfft(frames * np.hanning(FRAME), axis=1)) ** 2)[:, 1:].mean(axis=0) + 1e-20
    flatness = float(np.exp(np.log(power).mean()) / power.mean())
    return flatness >= FLATNESS_MIN and float(rms.std() / rms.mean()) <= VARIATION_MAX
