"""The image encoder: a small CNN trained so a picture lands near its caption's text embedding.

It gives the app a way to read what an image *shows* in the shared MiniLM space: `studio eval`
uses it for R-precision (does the picture match its prompt better than 99 other prompts?) and
KID/FID (its penultimate features stand in for Inception, which cannot be had offline), and
search ranks history nodes by their pixels. Same recipe as the sound encoder: multi-positive
symmetric InfoNCE (scenes with identical attributes are positives, not negatives) plus a cosine
pull to the image's own caption.

Training images come from the procedural world (train split). Rendering a scene costs ~15 ms and
embedding a caption ~50 ms on one busy core, so a bank of scenes with `captions_per_scene` captions
each is prepared once and every batch is re-augmented (shift, flip, blur, noise, light colour
jitter) so the encoder also reads soft GAN outputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.training.config import JsonConfig
from studio.training.contrastive import Progress, contrastive_loss, conv_block, train_aligned
from studio.world.captions import make_caption
from studio.world.scene import render_scenes

log = logging.getLogger(__name__)


@dataclass
class ImageConfig(JsonConfig):
    """One JSON file describes a run (`studio train --config configs/image_encoder.json`)."""

    name: str = "image_encoder"
    kind: str = "image_encoder"
    resolution: int = 64
    width: int = 32
    dim: int = 384
    bank_size: int = 2400
    captions_per_scene: int = 1
    batch: int = 64
    steps: int = 1400
    lr: float = 2e-3
    temperature: float = 0.07
    seed: int = 0
    threads: int = 1
    snapshot_every: int = 100


def picture_features(width: int) -> nn.Sequential:
    """Picture R → 4·width maps at R/16: a strided 4×4 stem keeps 64 px detail (stars, rain)
    cheaply. The captioner reads pictures through the same layers (same state_dict keys)."""
    return nn.Sequential(
        nn.Conv2d(3, width, 4, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        conv_block(width, 2 * width),
        conv_block(2 * width, 4 * width),
    )


class ImageEncoder(nn.Module):
    """image [N, 3, R, R] in [-1, 1] → (unit embedding [N, dim], pooled features [N, 8·width]).

    The pooled features (mean and max of the last conv map) are the penultimate layer: they keep
    the image statistics a caption does not name, which is what a KID/FID feature space needs.
    """

    def __init__(self, width: int = 32, dim: int = 384) -> None:
        super().__init__()
        self.features = picture_features(width)
        self.head = nn.Sequential(nn.Linear(8 * width, 512), nn.ReLU(inplace=True), nn.Linear(512, dim))

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(image)
        pooled = torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1)
        return F.normalize(self.head(pooled), dim=1), pooled


def to_input(images: np.ndarray, resolution: int) -> torch.Tensor:
    """uint8 NHWC at any size → [-1, 1] NCHW at `resolution` (area resize, like the runtime)."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="area")
    return x


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Shift/flip, then blur, downsample-upsample, noise and a light colour jitter, per image."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    pad = max(1, h // 16)
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    dy, dx = torch.randint(0, 2 * pad + 1, (2,), generator=gen).tolist()
    x = padded[:, :, dy : dy + h, dx : dx + w]
    soft = torch.rand(n, generator=gen) < 0.4
    if soft.any():
        sigma = 0.5 + 1.0 * float(torch.rand(1, generator=gen))
        radius = torch.arange(-2, 3, dtype=torch.float32)
        k1 = torch.exp(-(radius**2) / (2 * sigma**2))
        k1 = k1 / k1.sum()
        kernel = (k1[:, None] * k1[None, :]).expand(3, 1, 5, 5)
        blurred = F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), kernel, groups=3)
        x = torch.where(soft[:, None, None, None], blurred, x)
    coarse = torch.rand(n, generator=gen) < 0.2
    if coarse.any():
        small = F.interpolate(x, scale_factor=0.5, mode="area")
        x = torch.where(coarse[:, None, None, None], F.interpolate(small, size=(h, w), mode="bilinear"), x)
    gain = 1 + 0.16 * (torch.rand(n, 1, 1, 1, generator=gen) - 0.5)
    shift = 0.12 * (torch.rand(n, 3, 1, 1, generator=gen) - 0.5)
    x = (x + 1) * gain - 1 + shift
    noise = 0.06 * torch.rand(n, 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)
    return (x + noise).clamp(-1, 1)


class SceneBank:
    """Renderer scenes held in memory with several captions each; caption embeddings are cached."""

    def __init__(self, cfg: ImageConfig, embed: Callable[[list[str]], np.ndarray]) -> None:
        self.cfg = cfg
        self.rng = np.random.default_rng(cfg.seed)
        self.gen = torch.Generator().manual_seed(cfg.seed)
        start = time.perf_counter()
        scenes = render_scenes(cfg.bank_size, seed=cfg.seed, size=cfg.resolution, split="train")
        self.images = to_input(scenes.images, cfg.resolution)
        keys = [_attribute_key(a) for a in scenes.attributes]
        self.key_ids = np.unique(keys, return_inverse=True)[1]
        captions = [
            [scenes.captions[i]]
            + [make_caption(a, self.rng, "train") for _ in range(cfg.captions_per_scene - 1)]
            for i, a in enumerate(scenes.attributes)
        ]
        unique = sorted({c for row in captions for c in row})
        vectors = np.concatenate([embed(unique[i : i + 256]) for i in range(0, len(unique), 256)])
        lookup = dict(zip(unique, vectors.astype(np.float32), strict=True))
        self.text = torch.from_numpy(np.stack([np.stack([lookup[c] for c in row]) for row in captions]))
        log.info(
            "bank: %d scenes, %d distinct captions in %.0f s",
            cfg.bank_size,
            len(unique),
            time.perf_counter() - start,
        )

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        picks = torch.from_numpy(self.rng.integers(0, len(self.images), size=self.cfg.batch))
        which = torch.from_numpy(self.rng.integers(0, self.cfg.captions_per_scene, size=self.cfg.batch))
        images = augment(self.images[picks], self.gen)
        return images, self.text[picks, which], torch.from_numpy(self.key_ids[picks.numpy()])


def _attribute_key(attrs: dict) -> str:
    return f"{attrs['time']}|{attrs['weather']}|{attrs['season']}|{','.join(sorted(attrs['features']))}"


def train_image_encoder(
    cfg: ImageConfig,
    out_dir: Path,
    embed: Callable[[list[str]], np.ndarray],
    resume: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Train (or resume) and keep `checkpoint.pt` (state_dict + config, weights_only-loadable)."""

    def step_loss(net: nn.Module, bank: SceneBank) -> tuple[torch.Tensor, dict[str, float]]:
        images, text, keys = bank.batch()
        return contrastive_loss(net(images)[0], text, keys[:, None] == keys[None, :], cfg.temperature)

    return train_aligned(
        cfg,
        out_dir,
        "image_encoder",
        lambda: ImageEncoder(cfg.width, cfg.dim),
        lambda: SceneBank(cfg, embed),
        step_loss,
        resume,
        progress,
    )
