"""Log-mel features in torch for training the sound encoder.

Computes exactly `studio.audio.mel.log_mel_batch` (same constants, filterbank, window and
reflect padding, imported from there), so an encoder trained on these features sees the same
numbers from the numpy code at inference.
"""

from __future__ import annotations

import torch

from studio.audio.mel import HOP, LOG_EPS, N_FFT, mel_filterbank, reflect_index, stft_window


def log_mel_torch(wave: torch.Tensor) -> torch.Tensor:
    """[N, S] float sounds at SAMPLE_RATE → [N, N_MELS, 1 + S // HOP] float32 on wave's device."""
    if wave.dim() != 2:
        raise ValueError(f"log_mel_torch expects [N, samples], got shape {tuple(wave.shape)}")
    wave = wave.double()  # float32 FFT rounding would move quiet bands by ~1e-3 (see mel.py)
    index = torch.from_numpy(reflect_index(wave.shape[1])).to(wave.device)
    padded = wave.index_select(1, index)  # reflect padding that also works for short sounds
    spectrum = torch.stft(
        padded,
        n_fft=N_FFT,
        hop_length=HOP,
        win_length=N_FFT,
        window=torch.from_numpy(stft_window().astype("float64")).to(wave.device),
        center=False,
        return_complex=True,
    )  # [N, bins, F]
    power = spectrum.real.square() + spectrum.imag.square()
    fb = torch.from_numpy(mel_filterbank().astype("float64")).to(wave.device)
    return torch.log(torch.matmul(fb, power) + LOG_EPS).float()
