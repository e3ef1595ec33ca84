"""The layout term: a frozen shipped segmenter S reads a picture, and what it reads must be the
classes asked for (a translator: the source's own; a generator: the painted sketch's).

S is the installed segmenter's .onnx rebuilt in torch (`studio.bench.compute.load_torch_module`),
never updated. Train with a segmenter other than the one the eval measures with (segmenter64 here,
segmenter128 in `studio eval` and `studio eval-translate` at 128 px), so a model cannot simply
learn one net's blind spots. Classes of a merge group are read as one (their probabilities summed):
winter may cover grass with snow.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from studio.world.domains import merge_table


def frozen_segmenter(name: str, merges=()) -> torch.nn.Module:
    """The installed segmenter `name` in torch, frozen; it carries `resolution` and `groups`, the
    [classes, merged classes] one-hot of `merges`."""
    from studio.bench.compute import load_torch_module
    from studio.inference.registry import ModelRegistry

    info = ModelRegistry().get(name)
    if info.kind != "segmenter":
        raise ValueError(f"{name!r} is a {info.kind}, not a segmenter")
    size = int(info.resolution)
    net = load_torch_module(info.path, {"image": np.zeros((1, 3, size, size), np.float32)})
    net.resolution = size
    _, group = np.unique(merge_table(merges), return_inverse=True)
    net.groups = F.one_hot(torch.from_numpy(group), int(group.max()) + 1).float()
    return net.eval().requires_grad_(False)


def read(S: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """S's merged class probabilities of pictures in −1..1, read at S's size."""
    size = S.resolution
    logits = S(x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="area"))
    return F.conv2d(logits.softmax(1), S.groups.t()[:, :, None, None])  # sums each group's classes


def at_reader_size(S: torch.nn.Module, labels: torch.Tensor) -> torch.Tensor:
    """One-hot label maps [N, C, H, W] → the class S should read at each of its pixels (merged)."""
    size = S.resolution
    pooled = labels if labels.shape[-1] == size else F.interpolate(labels, size=(size, size), mode="area")
    return F.conv2d(pooled, S.groups.t()[:, :, None, None]).argmax(1)


def layout_loss(
    S: torch.nn.Module, picture: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy of S's reading of `picture` against `target` classes at S's size, per pixel
    weighted by `weights` when given."""
    nll = F.nll_loss(read(S, picture).clamp_min(1e-8).log(), target, reduction="none")
    return nll.mean() if weights is None else (nll * weights).mean()
