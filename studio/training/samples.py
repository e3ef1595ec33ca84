"""Sample grids written during training, so a run can be judged by eye as it goes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[-1, 1] NCHW tensor → uint8 NHWC array."""
    return ((images.detach().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()


def save_sample_grid(fake: torch.Tensor, real: torch.Tensor, path: Path) -> None:
    """Top row generated, bottom row the matching real renders."""
    top, bottom = to_uint8(fake), to_uint8(real)
    if bottom.shape[1:] != top.shape[1:]:
        size = top.shape[1]
        bottom = np.stack([np.asarray(Image.fromarray(im).resize((size, size))) for im in bottom])
    grid = np.concatenate([np.concatenate(list(top), 1), np.concatenate(list(bottom), 1)], 0)
    Image.fromarray(grid).save(path)
