"""How much of a held-out phrasing's meaning survives the text encoder: a linear probe.

The generator sees a prompt only as its text embedding. If a logistic regression fit on the
embeddings of *training* captions cannot tell the time of day of a held-out phrasing ("under the
moon", "golden hour"), no generator conditioned on those embeddings can either: the probe's
held-out accuracy is the ceiling for the generator's text-only attribute accuracy, and the gap
between the probe's training and held-out accuracy is the text encoder's share of the miss.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from studio.eval.judge import GROUPS
from studio.world.captions import make_caption
from studio.world.scene import sample_attributes

Embed = Callable[[list[str]], np.ndarray]


def _with_bias(x: torch.Tensor) -> torch.Tensor:
    return torch.cat([x, torch.ones(len(x), 1)], dim=1)


def _fit(x: torch.Tensor, y: torch.Tensor, classes: int, steps: int = 400) -> torch.Tensor:
    """Multinomial logistic regression with a little L2 (weights [D+1, classes])."""
    x1 = _with_bias(x)
    w = torch.zeros(x1.shape[1], classes, requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-2)
    for _ in range(steps):
        loss = F.cross_entropy(x1 @ w, y) + 1e-4 * (w[:-1] ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach()


def _accuracy(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    return round(float(((_with_bias(x) @ w).argmax(1) == y).float().mean()), 3)


def text_probe(
    embed: Embed,
    heldout_captions: list[str],
    heldout_attributes: list[dict],
    n_train: int = 1000,
    seed: int = 0,
) -> dict:
    """{"train": {group: acc}, "heldout": {group: acc}} for probes fit on n_train fresh training
    captions (the training split's wording) and scored on the held-out captions."""
    rng = np.random.default_rng([seed, 7])
    train_attrs = [sample_attributes(rng) for _ in range(n_train)]
    train_captions = [make_caption(a, rng, "train") for a in train_attrs]
    x_train = torch.from_numpy(np.asarray(embed(train_captions), np.float32))
    x_held = torch.from_numpy(np.asarray(embed(heldout_captions), np.float32))
    out: dict[str, dict[str, float]] = {"train": {}, "heldout": {}}
    torch.manual_seed(seed)
    for group, names in GROUPS.items():
        y_train = torch.tensor([names.index(a[group]) for a in train_attrs])
        y_held = torch.tensor([names.index(a[group]) for a in heldout_attributes])
        w = _fit(x_train, y_train, len(names))
        out["train"][group] = _accuracy(w, x_train, y_train)
        out["heldout"][group] = _accuracy(w, x_held, y_held)
    return out
