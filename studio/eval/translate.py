"""Judge a translator on held-out world renders (`studio eval-translate MODEL`).

For each direction (day → night, night → day, …), `n` held-out renders of the source domain are
translated through onnxruntime (at the model's resolution, no upscaler) and scored:

* reached: the share the attribute judge (`studio.eval.judge`, trained on renders) reads as the
  target domain (time of day for day/night; a season judge of the same build for summer/winter).
  Beside it the judge on real target renders (its ceiling) and on the untranslated sources (the
  floor). Target ≥ 0.8.
* layout kept: the world segmenter's label maps of translated vs source pictures (mIoU); also the
  translated picture against the source's true label map, with the segmenter on the source itself
  as that number's ceiling. Target ≥ 0.7 (translated vs source). Beside it the world's own
  render of each source scene in the target domain (`domains.moved_scene`) vs the source: what a
  perfect translation would score, since the world itself repaints part of a scene at night or
  under snow, and the segmenter reads night renders less well. Between domains whose change swaps
  classes (winter covers grass and flowers with snow: `domains.layout_merges`) the same numbers are
  also given with those classes read as one, and the target reads that.
* KID/FID of translated pictures vs real renders of the target domain (other scenes), in the
  image encoder's feature space (`studio.eval.retrieval`); beside it the untranslated sources vs
  the same renders (where the model started) and fresh target renders vs them (the floor).
* style spread (models with a style code): mean |Δpixel| between two seeds of one picture.
"""

from __future__ import annotations

import logging

import numpy as np

from studio.inference.manifest import ModelError, ModelInfo
from studio.translate.runtime import directions, model_input, style_dim, translate_arrays
from studio.world.classes import LABEL_CLASSES, NUM_CLASSES
from studio.world.domains import (
    DOMAINS,
    deciding_group,
    domain_scenes,
    layout_merges,
    merge_table,
    moved_scene,
)

log = logging.getLogger(__name__)
HELDOUT_SEED = 50_000  # far from the translator banks (seed·1000 + 1/2), the sample panel and the judges
REACHED_TARGET = 0.8
LAYOUT_TARGET = 0.7


def train_group_judge(group: str, n_images: int, steps: int, seed: int = 10_000):
    """The attribute judge for `group`: the shipped eval judge for time; for another group (season)
    the same network with that group's head, trained the same way on fresh renders."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    from studio.eval.judge import Judge, to_input, train_judge
    from studio.world.captions import SEASONS, TIMES, WEATHERS
    from studio.world.scene import render_scenes

    values = {"time": TIMES, "weather": WEATHERS, "season": SEASONS}[group]
    if group in ("time", "weather"):
        return train_judge(n_images=n_images, steps=steps, seed=seed), values
    torch.manual_seed(seed)
    scenes = render_scenes(n_images, seed=seed, size=64)
    x = to_input(scenes.images)
    target = torch.tensor([values.index(a[group]) for a in scenes.attributes])
    judge = Judge()
    judge.heads = nn.ModuleDict({group: nn.Linear(judge.heads["time"].in_features, len(values))})
    opt = torch.optim.Adam(judge.parameters(), 2e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, n_images, (64,), generator=gen)
        loss = F.cross_entropy(judge(x[idx])[group], target[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return judge.eval(), values


def _judged_rate(judge, group: str, values, images: np.ndarray, allowed) -> float:
    import torch

    from studio.eval.judge import to_input

    with torch.no_grad():
        predicted = judge(to_input(images))[group].argmax(1).numpy()
    return round(float(np.mean([values[i] in allowed for i in predicted])), 4)


def _newest(models: list[ModelInfo]) -> ModelInfo | None:
    return max(models, key=lambda m: (m.version_key, m.name)) if models else None


def _miou(predicted: np.ndarray, target: np.ndarray, table=None) -> float:
    """mIoU of label maps against `target`; `table` (merge_table) reads each merged class as its
    group's first."""
    from studio.inference.segmenter import confusion, scores

    if table is not None:
        predicted, target = table[predicted], table[target]
    return scores(confusion(predicted, target, NUM_CLASSES), [c.name for c in LABEL_CLASSES])["miou"]


def _to_uint8(batch: np.ndarray) -> np.ndarray:
    return np.clip(np.rint((batch.transpose(0, 2, 3, 1) + 1) * 127.5), 0, 255).astype(np.uint8)


def evaluate_translator(
    pipe,
    model: str,
    n: int = 64,
    seed: int = HELDOUT_SEED,
    judge_images: int = 2000,
    judge_steps: int = 400,
) -> dict:
    """The numbers above for every direction of `model`, plus pass/fail against the targets."""
    from studio.eval.fidelity import _segment_at
    from studio.eval.retrieval import fid, kid
    from studio.inference.image_encoder import ImageEncoder
    from studio.inference.segmenter import Segmenter

    info = pipe.registry.get(model)
    if info.kind != "translator":
        raise ModelError(f"{info.name} is a {info.kind}, not a translator")
    a, b = info.manifest["domains"]
    unknown = [d for d in (a, b) if d not in DOMAINS]
    if unknown:
        raise ModelError(
            f"{info.name} translates {a} ↔ {b}; held-out renders exist only for {', '.join(DOMAINS)}"
        )
    if n < 2:
        raise ValueError("evaluating a translator needs at least 2 renders per direction")
    res = int(info.resolution or 128)
    group = deciding_group(a, b)
    merges = layout_merges(a, b)
    judge, values = train_group_judge(group, judge_images, judge_steps)
    # at the translator's resolution: a 64 px segmenter loses thin things in a 128 px picture
    seg_info = pipe.registry.segmenter_speaking([c.name for c in LABEL_CLASSES], res)
    segmenter = Segmenter(pipe.engine, seg_info) if seg_info is not None else None
    enc_info = _newest([m for m in pipe.registry.models() if m.kind == "image_encoder"])
    encoder = ImageEncoder(pipe.engine, enc_info) if enc_info is not None else None
    result: dict = {
        "model": info.name,
        "version": info.version,
        "n": n,
        "seed": seed,
        "resolution": res,
        "judge": {"group": group, "images": judge_images, "steps": judge_steps},
        "segmenter": f"{seg_info.name} {seg_info.version}" if seg_info else None,
        "image_encoder": f"{enc_info.name} {enc_info.version}" if enc_info else None,
        "targets": {"reached": REACHED_TARGET, "layout_miou": LAYOUT_TARGET},
        "directions": {},
    }
    for k, way in enumerate(directions(info)):
        base = seed + 10 * k
        source = domain_scenes(way.source, n, base, res)
        target = domain_scenes(way.target, n, base + 1, res)
        x = np.stack([model_input(im, res) for im in source.images])
        out = _to_uint8(translate_arrays(pipe.engine, info, way, x, list(range(n))))
        allowed = DOMAINS[way.target][group]
        row: dict = {
            "reached": {
                "translated": _judged_rate(judge, group, values, out, allowed),
                "real_target_renders": _judged_rate(judge, group, values, target.images, allowed),
                "untranslated_sources": _judged_rate(judge, group, values, source.images, allowed),
            }
        }
        if segmenter is not None:  # each picture set read once, at the label maps' size
            read = {
                key: _segment_at(segmenter, images, res)
                for key, images in (
                    ("source", source.images),
                    ("out", out),
                    ("target", target.images),
                    ("moved", [moved_scene(way.source, way.target, base, i, res)[0] for i in range(n)]),
                )
            }
            row["layout_miou"] = {
                "translated_vs_source": _miou(read["out"], read["source"]),
                "translated_vs_true_labels": _miou(read["out"], source.labels),
                "source_vs_true_labels": _miou(read["source"], source.labels),
                "real_target_vs_true_labels": _miou(read["target"], target.labels),
                "world_same_layout_vs_source": _miou(read["moved"], read["source"]),
            }
            if merges:  # the classes the change of domain swaps, read as one; the target reads this
                table = merge_table(merges)
                row["layout_miou"]["merged"] = {
                    "classes": [list(group) for group in merges],
                    "translated_vs_source": _miou(read["out"], read["source"], table),
                    "world_same_layout_vs_source": _miou(read["moved"], read["source"], table),
                }
        if encoder is not None:
            real = encoder.features(target.images)
            fresh = domain_scenes(way.target, n, base + 2, res).images
            subset = min(100, n)
            row["kid"], row["fid"] = {}, {}
            for name, images in (
                ("translated", out),
                ("untranslated_sources", source.images),
                ("fresh_real", fresh),
            ):
                features = encoder.features(images)
                mean, std = kid(features, real, subset_size=subset)
                row["kid"][name] = {"mean": round(mean, 5), "std": round(std, 5)}
                row["fid"][name] = round(fid(features, real), 3)
        if style_dim(info):
            other = _to_uint8(translate_arrays(pipe.engine, info, way, x, [s + 1_000_003 for s in range(n)]))
            row["style_spread"] = round(float(np.abs(out.astype(np.int16) - other).mean() / 255), 4)
        row["pass"] = {
            "reached": row["reached"]["translated"] >= REACHED_TARGET,
            **({"layout": _layout_kept(row["layout_miou"]) >= LAYOUT_TARGET} if "layout_miou" in row else {}),
        }
        result["directions"][f"{way.source}->{way.target}"] = row
        log.info("%s → %s: %s", way.source, way.target, row["reached"])
    return result


def _layout_kept(layout: dict) -> float:
    """The layout number the target reads: with the domain's swapped classes merged where it has any."""
    return layout.get("merged", layout)["translated_vs_source"]


def format_table(result: dict) -> str:
    lines = [
        f"{result['model']} {result['version']}: {result['n']} held-out renders per direction at "
        f"{result['resolution']} px (judge: {result['judge']['group']}; segmenter: {result['segmenter']}; "
        f"features: {result['image_encoder']})"
    ]
    for name, row in result["directions"].items():
        reached = row["reached"]
        lines.append(
            f"{name:>16}  reached {reached['translated']:.2f} (real {reached['real_target_renders']:.2f}, "
            f"untranslated {reached['untranslated_sources']:.2f}; target ≥ {REACHED_TARGET})"
        )
        if "layout_miou" in row:
            lay = row["layout_miou"]
            lines.append(
                f"{'':>16}  layout mIoU vs source {lay['translated_vs_source']:.2f} "
                f"(target ≥ {LAYOUT_TARGET}{_ceiling(lay)}); "
                f"vs true labels {lay['translated_vs_true_labels']:.2f} (source itself "
                f"{lay['source_vs_true_labels']:.2f})"
            )
            if "merged" in lay:
                merged = lay["merged"]
                lines.append(
                    f"{'':>16}  with {' ≡ '.join(merged['classes'][0])}"
                    f"{' (and more)' if len(merged['classes']) > 1 else ''} read as one: "
                    f"{merged['translated_vs_source']:.2f} (target ≥ {LAYOUT_TARGET}{_ceiling(merged)})"
                )
        if "kid" in row:
            kid_, fid_ = row["kid"], row["fid"]
            lines.append(
                f"{'':>16}  KID {kid_['translated']['mean']:.4f} "
                f"(untranslated {kid_['untranslated_sources']['mean']:.4f}, "
                f"real {kid_['fresh_real']['mean']:.4f}); FID {fid_['translated']:.1f} "
                f"(untranslated {fid_['untranslated_sources']:.1f}, real {fid_['fresh_real']:.1f})"
            )
        if "style_spread" in row:
            lines.append(f"{'':>16}  style spread (two seeds) {row['style_spread']:.3f}")
    return "\n".join(lines)


def _ceiling(layout: dict) -> str:
    """ "; the world's own render of the scene there 0.57" where the result has it (older manifests
    do not)."""
    world = layout.get("world_same_layout_vs_source")
    return "" if world is None else f"; the world's own render of the scene there {world:.2f}"
