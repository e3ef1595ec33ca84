"""Unpaired picture translation (kind "translator"): CycleGAN with a style code, on a CPU budget.

Two generators (A→B, B→A), two PatchGAN critics (least-squares GAN), cycle reconstruction, an
optional identity term, and a style vector per translated picture (`translator_nets`) with a
capped diversity term (DSGAN-style: two styles of one picture should differ, up to `div_cap` mean
absolute pixel difference), so one day picture gives several nights. The cycle's return trip
uses the all-zeros style: G_BA(G_AB(a, s), 0) ≈ a for every style s.

One step (batch n from each domain):
    critics:    D_B(b) → 1, D_B(G_AB(a, s)) → 0, and the same for D_A
    generators: D_B(G_AB(a, s)) → 1 and D_A(G_BA(b, s')) → 1
                + cyc · (|G_BA(G_AB(a, s), 0) − a| + |G_AB(G_BA(b, s'), 0) − b|)
                + idt · cyc · (|G_AB(b, 0) − b| + |G_BA(a, 0) − a|)          (when idt > 0)
                − div · min(mean |G_AB(a, s₁) − G_AB(a, s₂)|, cap) (and B→A; first `div_rows` rows)
                + seg · (CE(S(G_AB(a, s)), argmax S(a)) + CE(S(G_BA(b, s')), argmax S(b)))
                                                                         (when seg > 0)

S is a frozen shipped segmenter (`seg_model`, `layout_term`): the translation must keep what it
reads in the source, so a beach stays a beach at night. `seg_merge` names classes the change may
swap (winter covers grass and flowers with snow), read as one.

Learning rates hold for the first half and fall linearly to zero over the second (CycleGAN); the
exported generators are exponential moving averages. Batches, styles and augmentations are seeded
by (seed, step), and snapshots hold every state, so a resumed run goes on exactly.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from studio.training.config import JsonConfig
from studio.training.diffaugment import diff_augment
from studio.training.layout_term import frozen_segmenter, layout_loss, read
from studio.training.loop import checkpoint_path, load_checkpoint, save_checkpoint
from studio.training.samples import save_sample_grid
from studio.training.translator_data import FolderDomain, WorldDomain
from studio.training.translator_nets import PatchCritic, TranslatorGenerator
from studio.world.domains import DOMAINS, domain_scenes, merge_table
from studio.world.scene import SceneError

log = logging.getLogger(__name__)
Progress = Callable[[int, int, dict[str, float]], None]
KIND = "translator"
_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
SAMPLE_SEED = 77_000  # the fixed sample panel: scenes no training bank uses


@dataclass
class TranslateConfig(JsonConfig):
    """One JSON file describes a run (`studio train --config configs/translate_day_night.json`)."""

    name: str = "day_night"
    kind: str = KIND
    domain_a: str = "day"
    domain_b: str = "night"
    data_a: str | None = None  # a folder of pictures for domain A; None renders the world's domain
    data_b: str | None = None
    resolution: int = 128
    ngf: int = 16
    blocks: int = 4
    ndf: int = 32
    critic_layers: int = 3
    style_dim: int = 8  # 0: no style input (plain CycleGAN)
    batch: int = 4
    steps: int = 1800
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    decay_start: float = 0.5  # share of the run after which the learning rates fall linearly to 0
    cyc_weight: float = 10.0
    idt_weight: float = 0.0  # × cyc_weight; CycleGAN uses 0.5 for colour-preserving tasks
    div_weight: float = 1.0
    div_cap: float = 0.1
    div_rows: int = 2
    seg_weight: float = 0.0  # layout kept: cross-entropy of S(translated) against S(source)'s classes
    seg_model: str = "segmenter64"  # the installed segmenter S (its .onnx, loaded frozen into torch)
    seg_merge: list = dataclasses.field(default_factory=list)  # class groups read as one (grass ≡ snow)
    diffaug: bool = False  # DiffAugment on the critics' inputs (small folders)
    ema_beta: float = 0.995
    bank: int = 1000  # world renders per domain
    min_pictures: int = 8  # a folder needs at least this many usable pictures
    upscaler: str | None = "landscape_sr128"  # the upscaler the manifest names (same input size)
    seed: int = 0
    threads: int = 2
    snapshot_every: int = 200
    sample_every: int = 200

    def check(self) -> None:
        for key in ("domain_a", "domain_b"):
            value = getattr(self, key)
            if not isinstance(value, str) or not _DOMAIN_RE.match(value):
                raise ValueError(f"{key} must be a short lowercase name such as 'night', not {value!r}")
        if self.domain_a == self.domain_b:
            raise ValueError(f"domain_a and domain_b are both {self.domain_a!r}")
        for key, folder in (("domain_a", self.data_a), ("domain_b", self.data_b)):
            if folder is None and getattr(self, key) not in DOMAINS:
                raise ValueError(
                    f"{key} {getattr(self, key)!r} is not a world domain ({', '.join(DOMAINS)}); "
                    f"give its pictures with --data-{key[-1]}"
                )
        if self.resolution % 4 or self.resolution < 16:
            raise ValueError(f"resolution must be a multiple of 4 from 16 up, not {self.resolution}")
        for key in ("ngf", "blocks", "ndf", "batch", "steps", "critic_layers"):
            if not isinstance(getattr(self, key), int) or getattr(self, key) < 1:
                raise ValueError(f"{key} must be a positive integer, not {getattr(self, key)!r}")
        if self.style_dim < 0 or not 0 <= self.div_rows <= self.batch:
            raise ValueError("style_dim must be >= 0 and div_rows from 0 to batch")
        if min(self.cyc_weight, self.idt_weight, self.div_weight, self.div_cap, self.seg_weight) < 0:
            raise ValueError("loss weights must be >= 0")
        try:
            merge_table(self.seg_merge)
        except (SceneError, TypeError) as exc:
            raise ValueError(f"seg_merge: {exc}") from None


def _domain_data(cfg: TranslateConfig, side: str, out_dir: Path):
    domain, folder = (cfg.domain_a, cfg.data_a) if side == "a" else (cfg.domain_b, cfg.data_b)
    if folder is not None:
        return FolderDomain(Path(folder), cfg.resolution, cfg.min_pictures, f"--data-{side}")
    seed = cfg.seed * 1000 + (1 if side == "a" else 2)  # independent scenes: the domains are unpaired
    return WorldDomain(domain, cfg.resolution, cfg.bank, seed, cache_dir=out_dir)


def _fixed_panel(cfg: TranslateConfig, data_a, data_b) -> tuple[torch.Tensor, torch.Tensor]:
    """Four pictures of each domain to watch training on: held-out renders, or a folder's first ones."""

    def panel(domain: str, data) -> torch.Tensor:
        if isinstance(data, FolderDomain):
            return data.sample(4, np.random.default_rng(SAMPLE_SEED))
        images = domain_scenes(domain, 4, SAMPLE_SEED, cfg.resolution).images
        return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1)

    return panel(cfg.domain_a, data_a), panel(cfg.domain_b, data_b)


def _lsgan(scores: torch.Tensor, target: float) -> torch.Tensor:
    return ((scores - target) ** 2).mean()


def _ema(ema: torch.nn.Module, live: torch.nn.Module, beta: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), live.parameters(), strict=True):
            e.lerp_(p, 1 - beta)
        for e, b in zip(ema.buffers(), live.buffers(), strict=True):
            e.copy_(b)


def _style(n: int, dim: int, gen: torch.Generator) -> torch.Tensor | None:
    return torch.randn(n, dim, generator=gen) if dim else None


def _zeros(n: int, dim: int) -> torch.Tensor | None:
    return torch.zeros(n, dim) if dim else None


def _diversity(G: TranslatorGenerator, x: torch.Tensor, fake: torch.Tensor, cfg, gen) -> torch.Tensor:
    """Mean |Δpixel| between the first rows' translations under their style and a second one, capped."""
    k = cfg.div_rows
    other = G(x[:k], _style(k, cfg.style_dim, gen))
    return (fake[:k] - other).abs().mean().clamp(max=cfg.div_cap)


def _layout_reader(cfg: TranslateConfig) -> torch.nn.Module | None:
    """The frozen segmenter of the layout term (`layout_term`), or None when the term is off."""
    return frozen_segmenter(cfg.seg_model, cfg.seg_merge) if cfg.seg_weight > 0 else None


def _layout_loss(S: torch.nn.Module, source: torch.Tensor, translated: torch.Tensor) -> torch.Tensor:
    """S on the translation against S's classes of the source: snow where the summer picture had
    grass costs nothing when seg_merge groups them."""
    with torch.no_grad():
        target = read(S, source).argmax(1)
    return layout_loss(S, translated, target)


def build_generators(cfg: TranslateConfig) -> tuple[TranslatorGenerator, TranslatorGenerator]:
    return (
        TranslatorGenerator(cfg.ngf, cfg.blocks, cfg.style_dim),
        TranslatorGenerator(cfg.ngf, cfg.blocks, cfg.style_dim),
    )


def train_translator(
    cfg: TranslateConfig,
    out_dir: Path,
    resume: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict:
    """Train (or resume) a translator; keeps `checkpoint.pt` (weights_only-loadable) and sample grids."""
    cfg.check()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    G_ab, G_ba = build_generators(cfg)
    D_a, D_b = PatchCritic(cfg.ndf, cfg.critic_layers), PatchCritic(cfg.ndf, cfg.critic_layers)
    E_ab, E_ba = (copy.deepcopy(g).eval().requires_grad_(False) for g in (G_ab, G_ba))
    opt_g = torch.optim.Adam([*G_ab.parameters(), *G_ba.parameters()], cfg.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam([*D_a.parameters(), *D_b.parameters()], cfg.lr_d, betas=(0.5, 0.999))
    parts = {"G_ab": G_ab, "G_ba": G_ba, "D_a": D_a, "D_b": D_b, "G_ab_ema": E_ab, "G_ba_ema": E_ba}
    parts |= {"opt_g": opt_g, "opt_d": opt_d}
    start, seen, wall = 0, 0, 0.0
    if resume and checkpoint_path(out_dir).exists():
        state = load_checkpoint(checkpoint_path(out_dir))
        if state.get("kind") != KIND:
            raise ValueError(f"{checkpoint_path(out_dir)} is not a translator's snapshot; use another --out")
        for key, part in parts.items():
            part.load_state_dict(state[key])
        start, seen, wall = state["step"], state["seen"], state["wall_s"]
        log.info("resumed %s at step %d", checkpoint_path(out_dir), start)
    data_a, data_b = _domain_data(cfg, "a", out_dir), _domain_data(cfg, "b", out_dir)
    panel_a, panel_b = _fixed_panel(cfg, data_a, data_b)
    S = _layout_reader(cfg)
    panel_style = _style(4, cfg.style_dim, torch.Generator().manual_seed(SAMPLE_SEED))
    report = progress or _log_progress
    metrics: dict[str, float] = {}
    t0, seen0, done = time.time(), seen, start
    for step in range(start, cfg.steps):
        if should_stop():
            break
        frac = max(0.0, (step - cfg.decay_start * cfg.steps) / max(1.0, (1 - cfg.decay_start) * cfg.steps))
        for opt, lr in ((opt_g, cfg.lr_g), (opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr * (1 - frac)
        x_a = data_a.sample(cfg.batch, np.random.default_rng([cfg.seed, step, 1]))
        x_b = data_b.sample(cfg.batch, np.random.default_rng([cfg.seed, step, 2]))
        gen = torch.Generator().manual_seed(int(np.random.default_rng([cfg.seed, step, 3]).integers(2**62)))
        n = cfg.batch
        metrics = _step(cfg, (G_ab, G_ba, D_a, D_b, S), opt_g, opt_d, x_a, x_b, gen, n)
        beta = min(cfg.ema_beta, (1 + step) / (10 + step))
        _ema(E_ab, G_ab, beta)
        _ema(E_ba, G_ba, beta)
        seen += 2 * n
        done = step + 1
        elapsed = wall + time.time() - t0
        if done % cfg.snapshot_every == 0 or done == cfg.steps:
            _snapshot(out_dir, cfg, done, seen, elapsed, parts, metrics)
        if done % cfg.sample_every == 0 or done == cfg.steps:
            with torch.no_grad():
                fake = torch.cat([E_ab(panel_a, panel_style), E_ba(panel_b, panel_style)])
            save_sample_grid(fake, torch.cat([panel_a, panel_b]), out_dir / f"samples-{done:06d}.png")
        report(done, cfg.steps, {**metrics, "img_per_s": (seen - seen0) / max(1e-6, time.time() - t0)})
    return {"step": done, "seen": seen, **metrics}


def _step(cfg, nets, opt_g, opt_d, x_a, x_b, gen, n) -> dict[str, float]:
    G_ab, G_ba, D_a, D_b, S = nets
    aug = diff_augment if cfg.diffaug else (lambda t: t)
    s_ab, s_ba = _style(n, cfg.style_dim, gen), _style(n, cfg.style_dim, gen)
    zero = _zeros(n, cfg.style_dim)

    # Generators: fool the critics, come back by the other generator, differ by style.
    fake_b, fake_a = G_ab(x_a, s_ab), G_ba(x_b, s_ba)
    adv = _lsgan(D_b(aug(fake_b)), 1.0) + _lsgan(D_a(aug(fake_a)), 1.0)
    cyc = (G_ba(fake_b, zero) - x_a).abs().mean() + (G_ab(fake_a, zero) - x_b).abs().mean()
    loss_g = adv + cfg.cyc_weight * cyc
    out = {"adv": adv.item(), "cyc": cyc.item()}
    if cfg.idt_weight > 0:
        idt = (G_ab(x_b, zero) - x_b).abs().mean() + (G_ba(x_a, zero) - x_a).abs().mean()
        loss_g = loss_g + cfg.idt_weight * cfg.cyc_weight * idt
        out["idt"] = idt.item()
    if cfg.style_dim and cfg.div_weight > 0 and cfg.div_rows > 0:
        div = 0.5 * (_diversity(G_ab, x_a, fake_b, cfg, gen) + _diversity(G_ba, x_b, fake_a, cfg, gen))
        loss_g = loss_g - cfg.div_weight * div
        out["div"] = div.item()
    if S is not None:
        seg = _layout_loss(S, x_a, fake_b) + _layout_loss(S, x_b, fake_a)
        loss_g = loss_g + cfg.seg_weight * seg
        out["seg"] = seg.item()
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()

    # Critics: real → 1, translated → 0 (least squares).
    fake_a, fake_b = fake_a.detach(), fake_b.detach()
    loss_d = 0.5 * (
        _lsgan(D_a(aug(x_a)), 1.0)
        + _lsgan(D_a(aug(fake_a)), 0.0)
        + _lsgan(D_b(aug(x_b)), 1.0)
        + _lsgan(D_b(aug(fake_b)), 0.0)
    )
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return {"loss_d": loss_d.item(), **out}


def _snapshot(
    out_dir: Path, cfg: TranslateConfig, step: int, seen: int, wall: float, parts: dict, metrics
) -> None:
    state = {key: part.state_dict() for key, part in parts.items()}
    save_checkpoint(
        out_dir,
        {
            "kind": KIND,
            "config": cfg.to_dict(),
            "step": step,
            "seen": seen,
            "wall_s": wall,
            "metrics": dict(metrics),
            **state,
        },
    )


def _log_progress(step: int, total: int, metrics: dict[str, float]) -> None:
    log.info("step %d/%d %s", step, total, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))


def load_config(path: Path, data_a: Path | None = None, data_b: Path | None = None) -> TranslateConfig:
    import json

    cfg = TranslateConfig.from_dict(json.loads(Path(path).read_text()))
    if data_a is not None:
        cfg.data_a = str(data_a)
    if data_b is not None:
        cfg.data_b = str(data_b)
    cfg.check()
    return cfg
