"""The training loop: one readable function per model kind (after stylegan3's training_loop).

Runs unchanged on one process or under `torchrun` (DistributedDataParallel, gloo on CPU,
NCCL on GPUs). Snapshots hold only tensors and plain values and load with weights_only=True.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

from studio.training.config import TrainConfig
from studio.training.data import ATTRIBUTE_GROUPS, FolderData, WorldStream
from studio.training.diffaugment import diff_augment
from studio.training.nets import (
    Discriminator,
    Generator,
    PatchDiscriminator,
    PosteriorEncoder,
    TrainingGenerator,
    Upscaler,
    attribute_loss,
)
from studio.training.samples import save_sample_grid
from studio.training.segmenter import SegmenterNet, class_weights, colorize, gaussian_blur, segmenter_step
from studio.world.classes import NUM_CLASSES
from studio.world.scene import render_scenes

log = logging.getLogger(__name__)
Progress = Callable[[int, int, dict[str, float]], None]


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_distributed() -> Dist:
    """torchrun sets WORLD_SIZE; a plain run is a world of one."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(device=torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    dist.init_process_group(backend)
    rank = dist.get_rank()
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if backend == "nccl" else "cpu")
    return Dist(rank=rank, world=world, device=device)


def wrap(module: torch.nn.Module, env: Dist) -> torch.nn.Module:
    if env.world == 1:
        return module
    return DDP(module, broadcast_buffers=False, find_unused_parameters=True)


def make_data(cfg: TrainConfig, embed, env: Dist):
    size = cfg.resolution * (cfg.scale if cfg.kind == "upscaler" else 1)
    if cfg.data:
        return FolderData(Path(cfg.data), size, embed).start()
    plain = cfg.text_drop > 0 or cfg.edit_rate > 0  # captions without their attribute words too
    stream = WorldStream(size, seed=cfg.seed * 1000 + env.rank, capacity=cfg.ring_capacity, plain=plain)
    return stream.start()


def checkpoint_path(out_dir: Path) -> Path:
    return out_dir / "checkpoint.pt"


def save_checkpoint(out_dir: Path, state: dict) -> None:
    """Atomic: a killed run keeps its previous snapshot."""
    tmp = out_dir / "checkpoint.pt.tmp"
    torch.save(state, tmp)
    os.replace(tmp, checkpoint_path(out_dir))


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def _restore(out_dir: Path, parts: dict, optional: tuple[str, ...] = ()) -> tuple[int, int, float]:
    """Load every module/optimizer state of the run folder's snapshot; (step, seen, wall) to go on from.

    Parts named in `optional` may be missing (an L1-only upscaler snapshot has no discriminator):
    they start fresh."""
    ckpt = checkpoint_path(out_dir)
    if not ckpt.exists():
        return 0, 0, 0.0
    state = load_checkpoint(ckpt)
    for key, part in parts.items():
        if key not in state and key in optional:
            log.info("snapshot has no %s: it starts fresh", key)
            continue
        part.load_state_dict(state[key])
    log.info("resumed %s at step %d", ckpt, state["step"])
    return state["step"], state["seen"], state["wall_s"]


def _snapshot(
    out_dir: Path, cfg: TrainConfig, step: int, seen: int, wall: float, parts: dict, metrics
) -> None:
    state = {key: part.state_dict() for key, part in parts.items()}
    save_checkpoint(
        out_dir,
        {"config": cfg.to_dict(), "step": step, "seen": seen, "wall_s": wall, "metrics": metrics, **state},
    )


def train(
    cfg: TrainConfig,
    out_dir: Path,
    embed,
    resume: bool = False,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> dict:
    """Train the model the config names; returns the last metrics. Resumes from out_dir."""
    torch.set_num_threads(cfg.threads)
    env = init_distributed()
    out_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed + env.rank)
    runners = {
        "generator": _generator_run,
        "upscaler": _upscaler_run,
        "segmenter": _segmenter_run,
        "captioner": _captioner_run,
    }
    if cfg.kind not in runners:
        raise ValueError(f"config kind must be one of {', '.join(runners)}, not {cfg.kind!r}")
    runner = runners[cfg.kind]
    if cfg.kind == "generator" and cfg.disc == "oasis":
        from studio.training.oasis_run import oasis_generator_run

        runner = oasis_generator_run
    elif cfg.kind == "generator" and (cfg.disc != "global" or cfg.attributes or cfg.noise):
        raise ValueError("disc must be 'global' or 'oasis'; attributes and noise need disc 'oasis'")
    try:
        return runner(cfg, out_dir, embed, resume, env, progress or _log_progress, should_stop)
    finally:
        if env.world > 1:
            dist.destroy_process_group()


def _captioner_run(cfg, out_dir, embed, resume, env, progress, should_stop) -> dict:
    from studio.training.captioner import captioner_run  # picture → caption (studio describe)

    return captioner_run(cfg, out_dir, embed, resume, env, progress, should_stop)


def _log_progress(step: int, total: int, metrics: dict[str, float]) -> None:
    log.info("step %d/%d %s", step, total, " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))


def unknown_labels(device) -> torch.Tensor:
    """[1, C, 1, 1] one-hot of class 0: the label map of a text-only row, broadcast over pixels."""
    return F.one_hot(torch.zeros(1, dtype=torch.long), NUM_CLASSES).float()[:, :, None, None].to(device)


def step_batch(data, cfg: TrainConfig, env: Dist, step: int) -> dict[str, torch.Tensor]:
    """The batch of `step` on this rank: seeded by (seed, rank, step), so a resumed run sees the same."""
    rng = np.random.default_rng([cfg.seed, env.rank, step])
    return {k: v.to(env.device) for k, v in data.sample(cfg.batch, rng).items()}


def generator_step(
    opt_g, loss_g: torch.Tensor, opt_d, G_ema: torch.nn.Module, G: torch.nn.Module, beta: float
) -> None:
    """Apply G's loss, drop the gradient its backward left in D, and move the EMA copy."""
    opt_g.zero_grad(set_to_none=True)
    loss_g.backward()
    opt_g.step()
    opt_d.zero_grad(set_to_none=True)
    _ema_update(G_ema, G, beta)


def _ema_update(ema: torch.nn.Module, live: torch.nn.Module, beta: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), live.parameters(), strict=True):
            e.lerp_(p, 1 - beta)


def starts_from_init(cfg: TrainConfig, out_dir: Path, resume: bool) -> bool:
    """Whether a run takes its config's `init` weights: only a fresh one, never one resuming its
    own checkpoint."""
    return bool(cfg.init) and not (resume and checkpoint_path(out_dir).exists())


def _onnx_weights(path: Path) -> dict:
    """An exported model's ONNX initializers: they carry the state_dict names unchanged, so a
    fine-tune needs no torch checkpoint of it."""
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def load_onnx_generator(G: Generator, path: Path) -> None:
    """Start from a shipped (or any exported) generator; parts that start as no-ops may be new."""
    weights = _onnx_weights(path)
    state = G.state_dict()
    fresh = sorted(k for k in state if k not in weights)  # only parts that start as no-ops may be new
    wrong = sorted(k for k in state if k in weights and weights[k].shape != tuple(state[k].shape))
    wrong += [k for k in fresh if not (k.startswith(("refine.", "attr_proj.")) or k.endswith("noise_scale"))]
    if wrong:
        raise ValueError(
            f"{path} does not fit this config's generator (z_dim/ngf/trunk): {', '.join(wrong[:3])}"
        )
    G.load_state_dict({k: torch.from_numpy(weights[k].copy()) if k in weights else state[k] for k in state})
    if fresh:
        log.info("%d tensors start fresh (grown from %s): %s", len(fresh), path, ", ".join(fresh[:4]))
    log.info("generator initialised from %s", path)


def load_onnx_upscaler(U: Upscaler, path: Path) -> None:
    """Start an upscaler from an exported one (same scale); its critic starts fresh."""
    weights = _onnx_weights(path)
    state = U.state_dict()
    wrong = sorted(k for k in state if k not in weights or weights[k].shape != tuple(state[k].shape))
    if wrong:
        raise ValueError(f"{path} does not fit this config's upscaler (scale): {', '.join(wrong[:3])}")
    U.load_state_dict({k: torch.from_numpy(weights[k].copy()) for k in state})
    log.info("upscaler initialised from %s", path)


def load_onnx_refinement(G: Generator, path: Path) -> None:
    """Take the refinement levels (refine.*) of another exported generator: a new trunk trained
    at its own resolution is grown with the shipped 128 px model's second stage."""
    weights = _onnx_weights(path)
    state = G.state_dict()
    taken = {
        k: torch.from_numpy(weights[k].copy()) for k in state if k.startswith("refine.") and k in weights
    }
    wrong = sorted(k for k, v in taken.items() if tuple(v.shape) != tuple(state[k].shape))
    if not taken or wrong:
        raise ValueError(f"{path} has no refinement levels that fit this generator {wrong[:3]}")
    G.load_state_dict({**state, **taken})
    log.info("%d refinement tensors from %s", len(taken), path)


def _generator_run(cfg, out_dir, embed, resume, env, progress, should_stop) -> dict:
    G = Generator(cfg.z_dim, cfg.ngf, resolution=cfg.resolution, trunk=cfg.trunk).to(env.device)
    E = PosteriorEncoder(cfg.z_dim).to(env.device)
    groups = tuple(len(v) for v in ATTRIBUTE_GROUPS.values()) if cfg.attr_weight > 0 else ()
    D = Discriminator(cfg.ndf, resolution=cfg.resolution, attribute_classes=groups).to(env.device)
    if starts_from_init(cfg, out_dir, resume):
        load_onnx_generator(G, Path(cfg.init))
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    trained = [*G.parameters(), *E.parameters()]
    if cfg.freeze_trunk:  # the init's trunk keeps its weights; no gradient flows into it
        if not G.refine or cfg.encode_fraction > 0:
            raise ValueError("freeze_trunk needs a trunk below resolution and encode_fraction 0")
        G.requires_grad_(False)
        E.requires_grad_(False)
        trained = list(G.refine.parameters())
        G.refine.requires_grad_(True)
    opt_g = torch.optim.Adam(trained, cfg.lr_g, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.0, 0.9))
    parts = {"G": G, "E": E, "D": D, "G_ema": G_ema, "opt_g": opt_g, "opt_d": opt_d}
    start, seen, wall = _restore(out_dir, parts) if resume else (0, 0, 0.0)
    with_attrs = bool(groups)
    train_g, train_d = wrap(TrainingGenerator(G, E), env), wrap(D, env)
    data = make_data(cfg, embed, env)
    fixed = _fixed_samples(cfg, embed, env.device)
    unknown = unknown_labels(env.device)
    metrics: dict[str, float] = {}
    t0 = time.time()
    try:
        done = start  # what the return reports if a stop comes first
        for step in range(start, cfg.steps):
            if should_stop():
                break
            b = step_batch(data, cfg, env, step)
            x, labels, text, attrs = b["image"], b["labels"], b["text"], b["attrs"]
            n = x.shape[0]
            drop = torch.rand(n, device=env.device) < cfg.label_drop
            labels_in = torch.where(drop[:, None, None, None], unknown.expand_as(labels), labels)
            encode = torch.rand(n, device=env.device) < cfg.encode_fraction

            # Discriminator: real vs fake, and real with a mismatched caption (DF-GAN MA loss).
            with torch.no_grad():
                fake = G(torch.randn(n, cfg.z_dim, device=env.device), text, labels_in)
            real_in = diff_augment(torch.cat([x, labels_in], 1))
            fake_in = diff_augment(torch.cat([fake, labels_in], 1))
            magp = step % cfg.magp_every == 0
            if magp:
                real_in.requires_grad_(True)
                text = text.clone().requires_grad_(True)
            scores = train_d(torch.cat([real_in, fake_in]), torch.cat([text, text]), text.roll(1, 0).detach())
            if with_attrs:  # the attribute head learns from real pictures only (fakes would teach it errors)
                scores, logits = scores
                attr_d = attribute_loss(tuple(g[:n] for g in logits), attrs)
            d_real, d_fake, d_mis = scores[:n], scores[n : 2 * n], scores[2 * n :]
            loss_d = (
                F.relu(1 - d_real).mean() + 0.5 * F.relu(1 + d_fake).mean() + 0.5 * F.relu(1 + d_mis).mean()
            )
            if with_attrs:
                loss_d = loss_d + cfg.attr_weight * attr_d
            if magp:
                grads = torch.autograd.grad(d_real.sum(), [real_in, text], create_graph=True)
                norm = torch.cat([g.flatten(1) for g in grads], 1).norm(dim=1)
                loss_d = loss_d + cfg.magp_weight * cfg.magp_every * (norm**6).mean()
                text = text.detach()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # Generator: fool D, reconstruct paired rows, keep the posterior near the prior.
            eps = torch.randn(n, cfg.z_dim, device=env.device)
            if cfg.freeze_trunk:  # stage II: every row is a pair (the real picture, downscaled → itself)
                low = F.avg_pool2d(x, cfg.resolution // cfg.trunk)
                fake, kl, lifted = train_g(
                    eps, text, labels_in, x, labels, encode, low + 0.02 * torch.randn_like(low)
                )
                rec = _l1_sobel(lifted, x)
            else:
                fake, kl = train_g(eps, text, labels_in, x, labels, encode)
                paired = (encode | ~drop).float()
                rec = ((fake - x).abs().mean(dim=(1, 2, 3)) * paired).sum() / paired.sum().clamp(min=1)
            judged = train_d(diff_augment(torch.cat([fake, labels_in], 1)), text)
            if with_attrs:
                judged, logits = judged
            adv = -judged.mean()
            loss_g = adv + cfg.rec_weight * rec + cfg.kl_weight * kl
            if with_attrs:  # show what the caption names, in the eyes of D's attribute head
                attr_g = attribute_loss(logits, attrs)
                loss_g = loss_g + cfg.attr_weight * attr_g
            generator_step(opt_g, loss_g, opt_d, G_ema, G, cfg.ema_beta)

            seen += n * env.world
            metrics = {"loss_d": loss_d.item(), "adv": adv.item(), "rec": rec.item(), "kl": kl.item()}
            if with_attrs:
                metrics |= {"attr_d": attr_d.item(), "attr_g": attr_g.item()}
            done = step + 1
            if env.main and (done % cfg.snapshot_every == 0 or done == cfg.steps):
                _snapshot(out_dir, cfg, done, seen, wall + time.time() - t0, parts, metrics)
            if env.main and done % cfg.sample_every == 0:
                with torch.no_grad():
                    grid = G_ema(fixed["z"], fixed["text"], fixed["labels"])
                save_sample_grid(grid, fixed["real"], out_dir / f"samples-{done:06d}.png")
            if env.main:
                progress(
                    done, cfg.steps, {**metrics, "img_per_s": (seen - 0) / max(1e-6, wall + time.time() - t0)}
                )
    finally:
        data.stop()
    return {"step": done, "seen": seen, **metrics}


def _fixed_samples(cfg: TrainConfig, embed, device) -> dict[str, torch.Tensor]:
    """A fixed panel (eval captions, half with sketches) to watch training converge."""
    from studio.training.data import attribute_targets, scene_attribute_indices, to_batch

    scenes = render_scenes(8, seed=12345, size=cfg.resolution, split="eval")
    batch = to_batch(
        scenes.images,
        scenes.labels,
        embed(scenes.captions),
        attribute_targets(scenes.captions),
        scene_attribute_indices(scenes.attributes),
    )
    labels = batch["labels"].clone()
    labels[4:] = 0
    labels[4:, 0] = 1
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(8, cfg.z_dim, generator=gen)
    return {
        "z": z.to(device),
        "text": batch["text"].to(device),
        "labels": labels.to(device),
        "real": batch["image"],
        "truth": batch["truth"].to(device),
    }


def _sobel(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor([[1.0, 0, -1], [2, 0, -2], [1, 0, -1]], device=x.device)
    kernel = torch.stack([k, k.t()])[:, None].repeat(3, 1, 1, 1)
    return F.conv2d(x, kernel, padding=1, groups=3)


def _l1_sobel(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The upscalers' reconstruction loss (also a refinement stage's): L1 on pixels and on edges."""
    return (out - target).abs().mean() + 0.5 * (_sobel(out) - _sobel(target)).abs().mean()


def _upscaler_run(cfg, out_dir, embed, resume, env, progress, should_stop) -> dict:
    """L1 + Sobel reconstruction; with `adv_weight`, plus an SRGAN hinge term from a PatchGAN
    critic from step `adv_start` on. Reconstruction dominates, the critic only sharpens texture."""
    if cfg.adv_weight < 0 or cfg.adv_start < 0:
        raise ValueError(f"adv_weight and adv_start must be >= 0, not {cfg.adv_weight} and {cfg.adv_start}")
    U = Upscaler(cfg.scale).to(env.device)
    if starts_from_init(cfg, out_dir, resume):
        load_onnx_upscaler(U, Path(cfg.init))
    U_ema = copy.deepcopy(U).eval().requires_grad_(False)
    opt = torch.optim.Adam(U.parameters(), cfg.lr_g)
    parts: dict = {"U": U, "U_ema": U_ema, "opt": opt}
    adversarial = cfg.adv_weight > 0
    if adversarial:
        D = PatchDiscriminator(cfg.ndf).to(env.device)
        opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.5, 0.999))
        parts |= {"D": D, "opt_d": opt_d}
        train_d = wrap(D, env)
    start, seen, wall = _restore(out_dir, parts, optional=("D", "opt_d")) if resume else (0, 0, 0.0)
    train_u = wrap(U, env)
    data = make_data(cfg, embed, env)
    metrics: dict[str, float] = {}
    t0 = time.time()
    try:
        done = start  # what the return reports if a stop comes first
        for step in range(start, cfg.steps):
            if should_stop():
                break
            rng = np.random.default_rng([cfg.seed, env.rank, step])
            hi = data.sample(cfg.batch, rng)["image"].to(env.device)
            lo = F.avg_pool2d(hi, cfg.scale)
            if cfg.input_blur > 0:  # generator outputs are softer than downscaled renders: learn to sharpen
                sigma = torch.from_numpy(rng.uniform(0, cfg.input_blur, hi.shape[0]).astype(np.float32))
                lo = gaussian_blur(lo, sigma.to(env.device))
            lo = lo + cfg.input_noise * torch.randn_like(lo)  # denoise inputs: also wipes their grain
            out = train_u(lo)
            rec = _l1_sobel(out, hi)
            metrics = {"l1": rec.item()}
            loss = rec
            if adversarial and step >= cfg.adv_start:
                scores = train_d(torch.cat([hi, out.detach()]))
                d_real, d_fake = scores.chunk(2)
                loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
                adv = -train_d(out).mean()
                loss = rec + cfg.adv_weight * adv
                metrics |= {"loss_d": loss_d.item(), "adv": adv.item()}
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if adversarial:
                opt_d.zero_grad(set_to_none=True)  # U's backward also reached D
            _ema_update(U_ema, U, cfg.ema_beta)
            seen += hi.shape[0] * env.world
            done = step + 1
            if env.main and (done % cfg.snapshot_every == 0 or done == cfg.steps):
                _snapshot(out_dir, cfg, done, seen, wall + time.time() - t0, parts, metrics)
            if env.main and done % cfg.sample_every == 0:
                with torch.no_grad():
                    save_sample_grid(U_ema(lo[:4]), hi[:4], out_dir / f"samples-{done:06d}.png")
            if env.main:
                progress(done, cfg.steps, metrics)
    finally:
        data.stop()
    return {"step": done, "seen": seen, **metrics}


def _segmenter_run(cfg, out_dir, embed, resume, env, progress, should_stop) -> dict:
    S = SegmenterNet.from_config(cfg).to(env.device)
    opt = torch.optim.Adam(S.parameters(), cfg.lr_g)
    parts = {"S": S, "opt": opt}
    start, seen, wall = _restore(out_dir, parts) if resume else (0, 0, 0.0)
    train_s = wrap(S, env)
    weights = class_weights(render_scenes(256, seed=cfg.seed, size=cfg.resolution).labels).to(env.device)
    data = make_data(cfg, embed, env)
    metrics: dict[str, float] = {}
    t0 = time.time()
    try:
        done = start  # what the return reports if a stop comes first
        for step in range(start, cfg.steps):
            if should_stop():
                break
            rng = np.random.default_rng([cfg.seed, env.rank, step])
            b = data.sample(cfg.batch, rng)
            x, labels = b["image"].to(env.device), b["labels"].argmax(1).to(env.device)
            gen = torch.Generator().manual_seed(int(rng.integers(2**62)))
            for group in opt.param_groups:  # anneal over the last 30% of the run
                group["lr"] = cfg.lr_g * min(1.0, max(0.05, (cfg.steps - step) / (0.3 * cfg.steps)))
            metrics = segmenter_step(train_s, opt, x, labels, gen, weights)
            seen += x.shape[0] * env.world
            done = step + 1
            if env.main and (done % cfg.snapshot_every == 0 or done == cfg.steps):
                _snapshot(out_dir, cfg, done, seen, wall + time.time() - t0, parts, metrics)
            if env.main and done % cfg.sample_every == 0:
                S.eval()
                with torch.no_grad():
                    predicted = S(x[:8]).argmax(1)
                S.train()
                save_sample_grid(
                    colorize(predicted), colorize(labels[:8]), out_dir / f"samples-{done:06d}.png"
                )
            if env.main:
                progress(done, cfg.steps, metrics)
    finally:
        data.stop()
    return {"step": done, "seen": seen, **metrics}
