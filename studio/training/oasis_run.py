"""The generator's training task with the OASIS segmentation discriminator (config `disc: oasis`).

Each step: D learns to label real pixels by class and generated pixels as fake, to score the
caption match and to classify real pictures' attributes; G learns to make its pixels read as the
painted class (any real class where no sketch was given), to match its caption and to show the
attributes it was given or its caption names. No pixel loss against the renderer: a one-of-many
target averages into blur and banding (DESIGN §5). Noise and attributes are G inputs (nets.py).

A fine-tune may train no D (`oasis_weight` 0): G then learns from a frozen shipped segmenter that
must read the painted sketch (`layout_weight`, studio/training/layout_term.py) and an L1 to its
frozen init's picture of the same inputs (`anchor_weight`) — one target per input, not the many
pictures a sketch allows, so no blur (docs/generator_v5x.md).
"""

from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from studio.eval.judge import JUDGE_SIZE, Judge, train_judge
from studio.training.data import ATTRIBUTE_GROUPS
from studio.training.edit_rows import brings_winter, edited_attributes, snowed
from studio.training.layout_term import at_reader_size, frozen_segmenter, layout_loss, read
from studio.training.loop import (
    _fixed_samples,
    _restore,
    _snapshot,
    checkpoint_path,
    generator_step,
    load_onnx_generator,
    load_onnx_refinement,
    make_data,
    starts_from_init,
    step_batch,
    unknown_labels,
    wrap,
)
from studio.training.nets import Generator, attribute_loss
from studio.training.oasis import (
    SegDiscriminator,
    attribute_vector,
    class_balance,
    diversity_loss,
    lowfreq_loss,
    mismatched_attributes,
    seg_fake_loss,
    seg_generator_loss,
    seg_real_loss,
    trunk_loss,
)
from studio.training.samples import save_sample_grid
from studio.world.classes import NUM_CLASSES

GROUPS = tuple(len(v) for v in ATTRIBUTE_GROUPS.values())


def build_generator(cfg) -> Generator:
    """The generator a config describes (also what export rebuilds from a checkpoint)."""
    return Generator(
        cfg.z_dim,
        cfg.ngf,
        NUM_CLASSES,
        cfg.resolution,
        cfg.trunk,
        attr_dim=sum(GROUPS) if cfg.attributes else 0,
        noise=cfg.noise,
        upsample=cfg.upsample,
        consistent=cfg.consistent_refine,
        prior_floor=cfg.prior_floor,
        pad_mode=cfg.pad_mode,
        pad_from=cfg.pad_from,
    )


def oasis_generator_run(cfg, out_dir, embed, resume, env, progress, should_stop) -> dict:
    G = build_generator(cfg).to(env.device)
    if cfg.anchor_weight > 0 and not cfg.init:
        raise ValueError("anchor_weight keeps G near its init: give the config an init")
    if cfg.edit_rate > 0 and not (cfg.attributes and cfg.judge_weight > 0 and cfg.oasis_weight == 0):
        # D would judge an edit row's picture against the scene's own caption, classes and attributes
        raise ValueError("edit_rate needs a D-free fine-tune (oasis_weight 0), attributes and judge_weight")
    groups = GROUPS if cfg.attr_weight > 0 else ()
    attr_dim = sum(GROUPS) if cfg.attributes else 0
    D = SegDiscriminator(cfg.ndf, NUM_CLASSES, cfg.resolution, groups, attr_dim).to(env.device)
    fresh = starts_from_init(cfg, out_dir, resume)
    init = _init_generator(cfg, env) if fresh or cfg.anchor_weight > 0 else None  # the ONNX read once
    if fresh:
        G.load_state_dict(init.state_dict())
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    teacher = init if cfg.anchor_weight > 0 else None
    S = frozen_segmenter(cfg.layout_model) if cfg.layout_weight > 0 else None
    trained = _param_groups(G, cfg)
    if cfg.freeze_trunk:  # stage II: the trunk keeps its weights, only the refinement levels learn
        if not G.refine:
            raise ValueError("freeze_trunk needs a trunk below resolution")
        G.requires_grad_(False)
        G.refine.requires_grad_(True)
        trained = [{"params": list(G.refine.parameters())}]
    opt_g = torch.optim.Adam(trained, cfg.lr_g, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), cfg.lr_d, betas=(0.0, 0.999))
    parts = {"G": G, "D": D, "G_ema": G_ema, "opt_g": opt_g, "opt_d": opt_d}
    start, seen, wall = _restore(out_dir, parts) if resume else (0, 0, 0.0)
    train_g, train_d = wrap(G, env), wrap(D, env)
    data = make_data(cfg, embed, env)
    fixed = _fixed_samples(cfg, embed, env.device)
    res = cfg.resolution
    unknown = unknown_labels(env.device)
    judge = _frozen_judge(cfg, out_dir, env) if cfg.judge_weight > 0 else None
    metrics: dict[str, float] = {}
    t0 = time.time()
    try:
        done = start  # what the return reports if a stop comes first
        for step in range(start, cfg.steps):
            if should_stop():
                break
            b = step_batch(data, cfg, env, step)
            x, labels, text = b["image"], b["labels"], b["text"]
            n, classes = x.shape[0], labels.argmax(1)
            drop = torch.rand(n, device=env.device) < cfg.label_drop
            labels_in = torch.where(drop[:, None, None, None], unknown.expand_as(labels), labels)
            keep = torch.rand(n, len(GROUPS), device=env.device) >= cfg.attr_drop
            given = attribute_vector(b["truth"], keep, GROUPS) if cfg.attributes else None
            shown = torch.rand(n, len(GROUPS), device=env.device) >= cfg.attr_drop  # what D is told of reals
            # G answers for the attributes it was given and those its caption names.
            wanted = (
                torch.where(keep & (b["truth"] >= 0), b["truth"], b["attrs"])
                if cfg.attributes
                else b["attrs"]
            )
            noise = torch.randn(n, 1, res, res, device=env.device) if cfg.noise else None
            z = torch.randn(n, cfg.z_dim, device=env.device)
            weights = class_balance(classes)

            # Some rows that are given every attribute see their caption without its attribute words:
            # G must then take time, weather and season from the attribute input (as it must for
            # wording it never learned), while D still judges the pairing with the full caption.
            plain = (torch.rand(n, device=env.device) < cfg.text_drop) & keep.all(1)
            text_g = torch.where(plain[:, None], b["plain"], text)
            edit = torch.rand(n, device=env.device) < cfg.edit_rate  # rows that practise a sound's edit
            if edit.any():
                moved = edited_attributes(b["truth"].cpu()).to(env.device)
                moved = torch.where(edit[:, None], moved, b["truth"])
                labels = snowed(labels, edit & brings_winter(b["truth"], moved))
                labels_in = torch.where(drop[:, None, None, None], unknown.expand_as(labels), labels)
                keep = keep | edit[:, None]
                given = attribute_vector(moved, keep, GROUPS)
                wanted = torch.where(edit[:, None], moved, wanted)
                text_g = torch.where(edit[:, None], b["plain"], text_g)
            metrics = {}
            if cfg.oasis_weight > 0:
                with torch.no_grad():
                    fake = G(z, text_g, labels_in, given, noise)
                metrics = _d_step(cfg, train_d, opt_d, b, x, fake, classes, weights, given, shown, groups)
            if step < cfg.d_warmup:  # a fresh D must first learn what the classes look like
                seen += n * env.world
                done = step + 1  # warmup steps count and are kept: a run stopped here resumes here
                if env.main and (done % cfg.snapshot_every == 0 or done == cfg.steps):
                    _snapshot(out_dir, cfg, done, seen, wall + time.time() - t0, parts, metrics)
                if env.main:
                    progress(done, cfg.steps, metrics)
                continue
            if cfg.trunk_weight > 0:
                fake, trunk = train_g(z, text_g, labels_in, given, noise, with_trunk=True)
            else:
                fake = train_g(z, text_g, labels_in, given, noise)
            loss_g = fake.new_zeros(())
            if cfg.oasis_weight > 0:
                logits, scores, attr_logits = train_d(fake, _cond(text, given))
                seg_g = seg_generator_loss(logits, classes, weights, ~drop)
                d_terms = seg_g - cfg.global_weight * scores.mean()
                metrics |= {"seg_g": seg_g.item(), "adv": -scores.mean().item()}
                if groups:
                    attr_g = attribute_loss(attr_logits, wanted)
                    d_terms = d_terms + cfg.attr_weight * attr_g
                    metrics["attr_g"] = attr_g.item()
                loss_g = loss_g + cfg.oasis_weight * d_terms
            if S is not None:  # the painted classes as a frozen segmenter reads them (layout_term)
                target = at_reader_size(S, labels)
                asked = class_balance(target) * (~drop)[:, None, None]
                if cfg.layout_readable:  # rain or night the world paints may hide a class from S too
                    with torch.no_grad():
                        asked = asked * (read(S, x).argmax(1) == at_reader_size(S, b["labels"]))
                lay = layout_loss(S, fake, target, asked)
                loss_g = loss_g + cfg.layout_weight * lay
                metrics["layout"] = lay.item()
            if teacher is not None:
                with torch.no_grad():
                    kept = teacher(z, text_g, labels_in, given, noise)
                rows = (~edit).float()  # an edit row is meant to differ from the init's picture
                anchor = ((fake - kept).abs().mean((1, 2, 3)) * rows).sum() / rows.sum().clamp(min=1)
                loss_g = loss_g + cfg.anchor_weight * anchor
                metrics["anchor"] = anchor.item()
            if judge is not None:  # time and weather as a classifier of real renders reads them
                judged = judge(F.interpolate(fake, size=(JUDGE_SIZE, JUDGE_SIZE), mode="area"))
                judge_g = attribute_loss((judged["time"], judged["weather"]), wanted[:, :2])
                loss_g = loss_g + cfg.judge_weight * judge_g
            if cfg.lowfreq_weight > 0:
                fixed_rows = ~drop & (keep.all(1) if cfg.attributes else torch.ones_like(drop))
                low = lowfreq_loss(fake, x, fixed_rows)
                loss_g = loss_g + cfg.lowfreq_weight * low
            if cfg.trunk_weight > 0:
                held = trunk_loss(fake, trunk.detach())
                loss_g = loss_g + cfg.trunk_weight * held
            if cfg.diversity_weight > 0:  # a second seed for a quarter of the rows
                k = max(1, n // 4)
                second = train_g(
                    torch.randn_like(z[:k]),
                    text_g[:k],
                    labels_in[:k],
                    None if given is None else given[:k],
                    None if noise is None else torch.randn_like(noise[:k]),
                )
                div = diversity_loss(fake[:k], second, cfg.diversity_cap)
                loss_g = loss_g + cfg.diversity_weight * div
            generator_step(opt_g, loss_g, opt_d, G_ema, G, cfg.ema_beta)

            seen += n * env.world
            if judge is not None:
                metrics["judge_g"] = judge_g.item()
            if cfg.lowfreq_weight > 0:
                metrics["low"] = low.item()
            if cfg.trunk_weight > 0:
                metrics["trunk"] = held.item()
            if cfg.diversity_weight > 0:
                metrics["div"] = -div.item()
            done = step + 1
            if env.main and (done % cfg.snapshot_every == 0 or done == cfg.steps):
                _snapshot(out_dir, cfg, done, seen, wall + time.time() - t0, parts, metrics)
            if env.main and done % cfg.sample_every == 0:
                with torch.no_grad():
                    grid = G_ema(fixed["z"], fixed["text"], fixed["labels"], *_fixed_extras(cfg, fixed))
                save_sample_grid(grid, fixed["real"], out_dir / f"samples-{done:06d}.png")
            if env.main:
                progress(done, cfg.steps, {**metrics, "img_per_s": seen / max(1e-6, wall + time.time() - t0)})
    finally:
        data.stop()
    if env.main and not checkpoint_path(out_dir).exists():  # steps 0: a grown model, exported as is
        _snapshot(out_dir, cfg, start, seen, wall, parts, metrics)
    return {"step": done, "seen": seen, **metrics}


def _init_generator(cfg, env) -> Generator:
    """The config's init weights (and init_refine's refinement levels), frozen: where a fresh run
    starts, and what the anchor keeps a run near however often it resumes."""
    G = build_generator(cfg)
    load_onnx_generator(G, Path(cfg.init))
    if cfg.init_refine:
        load_onnx_refinement(G, Path(cfg.init_refine))
    return G.to(env.device).eval().requires_grad_(False)


def _d_step(cfg, train_d, opt_d, b, x, fake, classes, weights, given, shown, groups) -> dict[str, float]:
    """D learns to label real pixels by class and generated ones as fake, to score the caption (and
    attribute) match, and to classify real pictures' attributes. Returns its losses."""
    n, text = x.shape[0], b["text"]
    real_cond = _cond(text, attribute_vector(b["truth"], shown, GROUPS) if cfg.attributes else None)
    wrong = [_cond(text.roll(1, 0), real_cond[:, text.shape[1] :] if cfg.attributes else None)]
    if cfg.attributes:  # the right caption with wrong attributes is a fake pairing too
        lie = mismatched_attributes(b["truth"], GROUPS).to(x.device)
        wrong.append(_cond(text, attribute_vector(lie, torch.ones_like(shown), GROUPS)))
    logits, scores, attr_logits = train_d(
        torch.cat([x, fake]), torch.cat([real_cond, _cond(text, given)]), tuple(wrong)
    )
    d_real, d_fake, d_mis = scores[:n], scores[n : 2 * n], scores[2 * n :]
    seg_d = seg_real_loss(logits[:n], classes, weights) + seg_fake_loss(logits[n:])
    hinge = F.relu(1 - d_real).mean() + 0.5 * F.relu(1 + d_fake).mean() + 0.5 * F.relu(1 + d_mis).mean()
    loss_d = seg_d + cfg.global_weight * hinge
    out = {"seg_d": seg_d.item()}
    if groups:  # the attribute head learns from real pictures only, with their true attributes
        attr_d = attribute_loss(tuple(g[:n] for g in attr_logits), b["truth"])
        loss_d = loss_d + cfg.attr_weight * attr_d
        out["attr_d"] = attr_d.item()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return {"loss_d": loss_d.item(), **out}


def _frozen_judge(cfg, out_dir: Path, env):
    """A time/weather classifier of fresh renders, never updated while G learns from it.

    D's own attribute head is satisfied by cues only it reads (attr_g 0.04 while studio eval's
    judge saw the given time in 0.43 of v4's pictures); a classifier that learned from renders alone
    asks for the look itself. Its renders' seed is not the eval judge's, so eval still judges with
    a classifier G never saw. It is trained once per run folder (seeded) and kept there as weights,
    so a resume does not spend minutes training it again."""
    path = out_dir / f"judge-{cfg.judge_seed}.pt"
    judge = Judge()
    if path.is_file():
        judge.load_state_dict(torch.load(path, weights_only=True, map_location="cpu"))
    else:
        judge = train_judge(seed=cfg.judge_seed)
        if env.main:
            torch.save(judge.state_dict(), path)
    return judge.eval().to(env.device).requires_grad_(False)


def _cond(text: torch.Tensor, attributes: torch.Tensor | None) -> torch.Tensor:
    """What D's projection head reads: the caption embedding, then the attributes (if any)."""
    return text if attributes is None else torch.cat([text, attributes], dim=1)


def _param_groups(G, cfg) -> list[dict]:
    """Parts that start at zero in a fine-tune (attribute input, noise scales) learn `fresh_lr_mult`
    times faster: at the trunk's rate they would still be near zero after a CPU session."""
    fresh = [
        p for name, p in G.named_parameters() if name.startswith("attr_proj.") or name.endswith("noise_scale")
    ]
    ids = {id(p) for p in fresh}
    rest = [p for p in G.parameters() if id(p) not in ids]
    return [{"params": rest}] + ([{"params": fresh, "lr": cfg.lr_g * cfg.fresh_lr_mult}] if fresh else [])


def _fixed_extras(cfg, fixed: dict) -> tuple:
    """The sample panel's attribute input (all its true attributes) and a fixed noise map."""
    n = len(fixed["z"])
    given = attribute_vector(fixed["truth"], torch.ones_like(fixed["truth"], dtype=torch.bool), GROUPS)
    noise = torch.randn(n, 1, cfg.resolution, cfg.resolution, generator=torch.Generator().manual_seed(1))
    return (given if cfg.attributes else None, noise.to(fixed["z"].device) if cfg.noise else None)
