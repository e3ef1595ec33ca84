"""DiffAugment (Zhao et al. 2020): the same differentiable augmentation on real and fake images.

Only translation and cutout: colour jitter would change time of day and weather, which the
text asks for, and flips would teach the discriminator nothing new (the world is symmetric).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def translate(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio × size, padding with zeros (one grid_sample, differentiable)."""
    n = x.shape[0]
    shift = (torch.rand(n, 2, device=x.device) * 2 - 1) * ratio * 2
    theta = torch.zeros(n, 2, 3, device=x.device)
    theta[:, 0, 0] = theta[:, 1, 1] = 1
    theta[:, :, 2] = shift
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="nearest", padding_mode="zeros", align_corners=False)


def cutout(x: torch.Tensor, ratio: float = 0.25) -> torch.Tensor:
    """Zero one random square of ratio × size per image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio), int(w * ratio)
    cy = torch.randint(0, h - ch + 1, (n, 1, 1), device=x.device)
    cx = torch.randint(0, w - cw + 1, (n, 1, 1), device=x.device)
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (ys >= cy) & (ys < cy + ch) & (xs >= cx) & (xs < cx + cw)
    return x * (~inside)[:, None].to(x.dtype)


def diff_augment(x: torch.Tensor) -> torch.Tensor:
    """Augment image and label channels concatenated, so a label map moves with its image."""
    return cutout(translate(x))
