"""What the sound and image encoders share: their conv step, alignment loss and training loop.

Both map an input (log-mel, picture) onto the MiniLM text space so it lands near its caption's
embedding. Captions of one kind of input are near-duplicates, so the InfoNCE treats every pair
that `same` marks as a positive instead of as a negative; a cosine pull to the own caption keeps
vectors close in absolute terms, which blending into a generator's conditioning needs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from studio.training.loop import checkpoint_path, load_checkpoint, save_checkpoint

Progress = Callable[[int, int, dict[str, float]], None]


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


def train_aligned(
    cfg,
    out_dir: Path,
    kind: str,
    make_net: Callable[[], nn.Module],
    make_bank: Callable[[], object],
    step_loss: Callable[[nn.Module, object], tuple[torch.Tensor, dict[str, float]]],
    resume: bool = False,
    progress: Progress | None = None,
) -> dict:
    """The loop both encoders train with: AdamW + one-cycle LR, snapshots every `snapshot_every`
    steps (state_dict + config, weights_only-loadable, tagged with `kind`), resume. The net is
    built after seeding and the data bank after restoring, so runs reproduce from their config."""
    torch.manual_seed(cfg.seed)
    torch.set_num_threads(cfg.threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    net = make_net()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    step, wall = 0, 0.0
    if resume and checkpoint_path(out_dir).exists():
        state = load_checkpoint(checkpoint_path(out_dir))
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step, wall = int(state["step"]), float(state["wall_time_s"])
    bank = make_bank()
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.lr, total_steps=cfg.steps, last_epoch=step - 1
    )
    metrics: dict[str, float] = {}
    started = time.perf_counter()
    net.train()
    while step < cfg.steps:
        loss, metrics = step_loss(net, bank)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        step += 1
        if progress is not None:
            progress(step, cfg.steps, metrics)
        if step % cfg.snapshot_every == 0 or step == cfg.steps:
            state = {
                "kind": kind,
                "config": json.dumps(cfg.to_dict()),
                "net": net.state_dict(),
                "opt": opt.state_dict(),
                "step": step,
                "wall_time_s": wall + time.perf_counter() - started,
                "metrics": dict(metrics),
            }
            save_checkpoint(out_dir, state)
    return {"steps": step, "metrics": metrics}
