"""An attribute judge: a small CNN trained on renderer images the generator never saw.

It classifies time of day and weather, so `studio eval` can ask "did the generated picture
show what the held-out prompt asked for?" and compare with the judge's accuracy on real
renderer images (its ceiling).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.world.captions import TIMES, WEATHERS
from studio.world.scene import render_scenes

GROUPS = {"time": TIMES, "weather": WEATHERS}
JUDGE_SIZE = 32


def _targets(attributes: list[dict]) -> dict[str, torch.Tensor]:
    return {g: torch.tensor([names.index(a[g]) for a in attributes]) for g, names in GROUPS.items()}


def to_input(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC at any size → the judge's [-1, 1] NCHW at JUDGE_SIZE."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(127.5).sub(1)
    return F.interpolate(x, size=(JUDGE_SIZE, JUDGE_SIZE), mode="area")


class Judge(nn.Module):
    def __init__(self, width: int = 32):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, width * 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width * 2, width * 2, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )  # fmt: skip
        self.heads = nn.ModuleDict({g: nn.Linear(width * 2, len(n)) for g, n in GROUPS.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        return {g: head(h) for g, head in self.heads.items()}

    def accuracy(self, images: np.ndarray, attributes: list[dict]) -> dict[str, float]:
        with torch.no_grad():
            logits = self(to_input(images))
        targets = _targets(attributes)
        return {g: float((logits[g].argmax(1) == targets[g]).float().mean()) for g in GROUPS}


def train_judge(n_images: int = 4000, steps: int = 600, seed: int = 10_000) -> Judge:
    """Fit on fresh renderer images (a seed range the generator's stream does not use)."""
    torch.manual_seed(seed)
    scenes = render_scenes(n_images, seed=seed, size=JUDGE_SIZE * 2)
    x, targets = to_input(scenes.images), _targets(scenes.attributes)
    judge = Judge()
    opt = torch.optim.Adam(judge.parameters(), 2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, n_images, (64,), generator=gen)
        logits = judge(x[idx])
        loss = sum(F.cross_entropy(logits[g], targets[g][idx]) for g in GROUPS)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return judge.eval()
