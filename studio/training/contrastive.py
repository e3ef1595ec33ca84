"""What the sound and image encoders share: their conv step and their alignment loss.

Both map an input (log-mel, picture) onto the MiniLM text space so it lands near its caption's
embedding. Captions of one kind of input are near-duplicates, so the InfoNCE treats every pair
that `same` marks as a positive instead of as a negative; a cosine pull to the own caption keeps
vectors close in absolute terms, which blending into a generator's conditioning needs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def conv_block(cin: int, cout: int) -> nn.Sequential:
    """conv 3×3 → BN → ReLU → 2×2 max-pool."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


def contrastive_loss(
    inputs: torch.Tensor, text: torch.Tensor, same: torch.Tensor, temperature: float
) -> tuple[torch.Tensor, dict[str, float]]:
    """Multi-positive symmetric InfoNCE + cosine pull; `same[i, j]` = 1 where row j is a match of row i."""
    same = same.float()
    logits = inputs @ text.t() / temperature
    targets = same / same.sum(dim=1, keepdim=True)
    nce = -(targets * F.log_softmax(logits, dim=1)).sum(1).mean()
    nce_t = -(targets * F.log_softmax(logits.t(), dim=1)).sum(1).mean()
    pull = (1.0 - (inputs * text).sum(1)).mean()
    loss = 0.5 * (nce + nce_t) + pull
    hit = same[torch.arange(len(same)), logits.argmax(dim=1)].mean()
    return loss, {"loss": loss.item(), "pull": pull.item(), "top1": hit.item()}
