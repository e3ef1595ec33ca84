"""A small U-Net that turns an image back into its label map, and the step that trains it.

It serves two ends: the app derives a paintable sketch from any picture, and `studio eval`
measures sketch fidelity (does the generated image still segment into the painted sketch?).
Generator outputs are blurrier and noisier than renders, so training sees renders degraded the
same way (colour jitter, noise, blur, down-and-up scaling) beside clean ones.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.training.config import TrainConfig
from studio.world.classes import NUM_CLASSES, palette


def _conv_block(cin: int, cout: int) -> nn.Sequential:
    """Two 3×3 conv + BatchNorm + ReLU: BatchNorm folds into the convs in the ONNX graph."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class SegmenterNet(nn.Module):
    """image [N,3,R,R] in [-1, 1] → class logits [N,C,R,R]; R must be divisible by 2**(levels-1)."""

    def __init__(self, width: int = 16, num_classes: int = NUM_CLASSES, levels: int = 3):
        super().__init__()
        chans = [width * 2**i for i in range(levels)]
        self.down = nn.ModuleList(
            _conv_block(cin, cout) for cin, cout in zip([3, *chans[:-1]], chans, strict=True)
        )
        self.up = nn.ModuleList(nn.ConvTranspose2d(c * 2, c, 2, stride=2) for c in chans[:-1])
        self.merge = nn.ModuleList(_conv_block(c * 2, c) for c in chans[:-1])
        self.head = nn.Conv2d(chans[0], num_classes, 1)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> SegmenterNet:
        """The net a run's TrainConfig describes: training, export and bench build it the same way."""
        return cls(cfg.ngf, levels=cfg.seg_levels)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        skips = []
        x = image
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for up, merge in zip(reversed(self.up), reversed(self.merge), strict=True):
            x = merge(torch.cat([up(x), skips.pop()], dim=1))
        return self.head(x)


def gaussian_blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-row Gaussian blur (5×5, separable); sigma 0 leaves a row unchanged."""
    offsets = torch.arange(-2, 3, dtype=x.dtype, device=x.device)
    weights = torch.exp(-(offsets[None] ** 2) / (2 * sigma[:, None].clamp(min=1e-3) ** 2))
    weights = weights / weights.sum(1, keepdim=True)  # [N, 5]
    n, c, h, w = x.shape
    rows = x.reshape(1, n * c, h, w)
    kernel = weights.repeat_interleave(c, 0)
    rows = F.conv2d(F.pad(rows, (2, 2, 0, 0), mode="replicate"), kernel[:, None, None, :], groups=n * c)
    rows = F.conv2d(F.pad(rows, (0, 0, 2, 2), mode="replicate"), kernel[:, None, :, None], groups=n * c)
    return rows.reshape(n, c, h, w)


def degrade(
    images: torch.Tensor, labels: torch.Tensor, gen: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Light augmentation on [-1, 1] images and index labels: about a third of the rows stay clean."""
    n, device = images.shape[0], images.device

    def rand(*shape: int) -> torch.Tensor:
        return torch.rand(*shape, generator=gen).to(device)

    flip = rand(n) < 0.5
    images = torch.where(flip[:, None, None, None], images.flip(3), images)
    labels = torch.where(flip[:, None, None], labels.flip(2), labels)
    active = (rand(n) < 0.67).float()[:, None, None, None]
    x = (images + 1) / 2
    gain = 1 + 0.25 * (rand(n, 3, 1, 1) * 2 - 1)  # per-channel colour cast
    brightness = 0.2 * (rand(n, 1, 1, 1) * 2 - 1)
    contrast = 1 + 0.3 * (rand(n, 1, 1, 1) * 2 - 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    grey = x.mean(dim=1, keepdim=True)
    saturation = 1 + 0.4 * (rand(n, 1, 1, 1) * 2 - 1)
    y = grey + (x - grey) * saturation
    y = (y - mean) * contrast + mean + brightness
    y = y * gain
    blurred = gaussian_blur(y, rand(n) * 1.5 * (rand(n) < 0.5).float())
    size = images.shape[-1]
    small = F.interpolate(blurred, scale_factor=0.5, mode="area")
    resized = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False)
    y = torch.where((rand(n) < 0.3)[:, None, None, None], resized, blurred)
    y = y + torch.randn(y.shape, generator=gen).to(device) * 0.04 * rand(n, 1, 1, 1)
    y = y.clamp(0, 1) * 2 - 1
    return active * y + (1 - active) * images, labels


def class_weights(labels: np.ndarray, num_classes: int = NUM_CLASSES, power: float = 0.5) -> torch.Tensor:
    """Cross-entropy weights ∝ frequency^-power, mean 1 over pixels: rare classes (rock, flower)
    count for mIoU as much as sky does, without giving up pixel accuracy."""
    freq = np.bincount(labels.ravel(), minlength=num_classes).astype(np.float64) / labels.size
    weights = np.where(freq > 0, np.maximum(freq, 1e-4) ** -power, 1.0)
    weights /= (freq * weights).sum()
    return torch.tensor(weights, dtype=torch.float32)


def segmenter_step(
    net: nn.Module,
    opt: torch.optim.Optimizer,
    images: torch.Tensor,
    labels: torch.Tensor,
    gen: torch.Generator,
    weights: torch.Tensor | None = None,
) -> dict[str, float]:
    """One weighted cross-entropy step on an augmented batch; returns loss and the batch's pixel accuracy."""
    x, y = degrade(images, labels, gen)
    logits = net(x)
    loss = F.cross_entropy(logits, y, weight=weights)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    accuracy = (logits.detach().argmax(1) == y).float().mean()
    return {"ce": loss.item(), "pixel_acc": accuracy.item()}


def colorize(indices: torch.Tensor) -> torch.Tensor:
    """Index maps [N,R,R] → palette images [N,3,R,R] in [-1, 1], for sample grids."""
    colors = torch.tensor(palette(), dtype=torch.float32, device=indices.device) / 127.5 - 1
    return colors[indices.long()].permute(0, 3, 1, 2)
