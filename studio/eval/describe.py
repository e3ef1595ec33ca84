"""`studio eval-describe`: how well do captions say what a picture shows?

On held-out renders (eval split: scenes no training bank holds, captions in held-out wording):
* BLEU-4 and CIDEr-D (`caption_metrics`) against two reference sets: the scene's own held-out-
  wording caption (1 reference; words a model taught on training wording cannot say cost here)
  and 5 fresh training-wording captions of the scene's true attributes (COCO's multi-reference
  setting: it scores content, not wording). The "oracle" row is one more training-wording caption
  of the truth against the same references: the best a describer can do with that wording (the
  captions name 1-3 of a scene's features at random, so even the truth does not match them all);
* attribute accuracy: time, weather and season read from the caption (the app's reader) against
  the render's true attributes, and how often the caption names each at all;
* feature precision: the share of features a caption names that the scene has.
Each for the captioner (greedy and beam) beside the retrieval baseline.

Then generated pictures: prompts in held-out wording are rendered with the shipped generator as
the app renders them (imagined layout included), each picture is described, and the match score
(`studio.describe.match`) says how often the caption names what the prompt asked for; the same
prompts' real renders give the ceiling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from studio.describe.match import match_score
from studio.eval.caption_metrics import bleu, cider_d
from studio.inference.attributes import GROUPS, attributes_for_prompt
from studio.world.captions import attributes_from_text, make_caption
from studio.world.scene import SceneBatch, render_scenes

log = logging.getLogger(__name__)
HELDOUT_SEED = 50_000  # far from the captioner's bank (1000+) and the other held-out seeds
GENERATED_SEED = 51_000
REFERENCES = 5
CaptionFn = Callable[[np.ndarray], list[str]]


def training_references(attributes: list[dict], k: int = REFERENCES, seed: int = 0) -> list[list[str]]:
    """k training-wording captions of each scene's true attributes."""
    out = []
    for i, attrs in enumerate(attributes):
        rng = np.random.default_rng([seed, i, 11])
        out.append([make_caption(attrs, rng, "train") for _ in range(k)])
    return out


def caption_scores(captions: list[str], scenes: SceneBatch, train_refs: list[list[str]]) -> dict:
    """The metrics of one describer's captions of `scenes` (see the module's docstring)."""
    read = [attributes_for_prompt(c) for c in captions]
    truth = scenes.attributes
    named = [set(attributes_from_text(c)["features"] or []) for c in captions]
    right = sum(len(f & set(a["features"])) for f, a in zip(named, truth, strict=True))
    said = sum(len(f) for f in named)
    return {
        "bleu4": {
            "heldout_wording": round(bleu(captions, [[c] for c in scenes.captions]), 4),
            "training_wording": round(bleu(captions, train_refs), 4),
        },
        "cider_d": {
            "heldout_wording": round(cider_d(captions, [[c] for c in scenes.captions]), 4),
            "training_wording": round(cider_d(captions, train_refs), 4),
        },
        "attributes": {
            g: round(float(np.mean([r[g] == a[g] for r, a in zip(read, truth, strict=True)])), 4)
            for g in GROUPS
        },
        "attributes_named": {g: round(float(np.mean([r[g] is not None for r in read])), 4) for g in GROUPS},
        "feature_precision": round(right / said, 4) if said else 0.0,
        "features_per_caption": round(said / len(captions), 3),
        "examples": [
            {"caption": c, "truth": t} for c, t in zip(captions[:4], scenes.captions[:4], strict=True)
        ],
    }


def heldout_scores(caption_fn: CaptionFn, n: int = 200, seed: int = HELDOUT_SEED, size: int = 64) -> dict:
    """caption_fn on n held-out renders: what a captioner's manifest records."""
    scenes = render_scenes(n, seed=seed, size=size, split="eval")
    refs = training_references(scenes.attributes, seed=seed)
    return {"n": n, "seed": seed, "split": "eval", **caption_scores(caption_fn(scenes.images), scenes, refs)}


def _oracle(scenes: SceneBatch, refs: list[list[str]], seed: int) -> dict:
    """One more training-wording caption of the truth, scored like a describer."""
    extra = training_references(scenes.attributes, k=REFERENCES + 1, seed=seed)
    return caption_scores([row[-1] for row in extra], scenes, refs)


def match_scores(prompts: list[str], captions: list[str]) -> dict:
    """Mean match score, and per group (prompts naming it) how often the caption shows the value."""
    matches = [match_score(p, c) for p, c in zip(prompts, captions, strict=True)]
    scored = [m.score for m in matches if m.score is not None]
    groups = {}
    for g in GROUPS:
        asked = [m.groups[g] for m in matches if g in m.groups]
        groups[g] = round(float(np.mean([a == s for a, s in asked])), 4) if asked else None
    features = [v for m in matches for v in m.features.values()]
    return {
        "match": round(float(np.mean(scored)), 4) if scored else None,
        "groups": groups,
        "features": round(float(np.mean(features)), 4) if features else None,
        "examples": [
            {"prompt": p, "caption": c, "match": m.summary()}
            for p, c, m in zip(prompts[:4], captions[:4], matches[:4], strict=True)
        ],
    }


def evaluate_describe(
    pipe,
    model: str | None = None,
    n: int = 200,
    beam: int = 3,
    generated: int = 32,
    generator: str | None = None,
    seed: int = HELDOUT_SEED,
    size: int = 64,
    bank_size: int | None = None,
) -> dict:
    """The numbers `studio eval-describe` prints (a captioner's rows only when one is installed)."""
    from studio.describe.describe import captioner_for, retrieval_for
    from studio.inference.pipeline import MemoryAssets

    describers: dict[str, tuple[CaptionFn, str]] = {}
    found = captioner_for(pipe.registry, pipe.engine, model)
    if found is not None:
        captioner, label = found
        describers["captioner_greedy"] = (lambda x: captioner.captions(x, 1), label)
        if beam > 1:
            describers[f"captioner_beam{beam}"] = (lambda x: captioner.captions(x, beam), label)
    retrieval, label = retrieval_for(pipe.registry, pipe.engine, *([bank_size] if bank_size else []))
    describers["retrieval"] = (retrieval.captions, label)

    scenes = render_scenes(n, seed=seed, size=size, split="eval")
    refs = training_references(scenes.attributes, seed=seed)
    result: dict = {
        "n": n,
        "seed": seed,
        "split": "eval",
        "size": size,
        "models": {k: v[1] for k, v in describers.items()},
        "renders": {k: caption_scores(fn(scenes.images), scenes, refs) for k, (fn, _) in describers.items()},
    }
    result["renders"]["oracle_training_caption"] = _oracle(scenes, refs, seed)
    if generated > 0:
        info = pipe.registry.get(generator) if generator else pipe.default_generator()
        prompts_from = render_scenes(generated, seed=GENERATED_SEED, size=size, split="eval")
        prompts = prompts_from.captions
        recipes = [
            pipe.recipes_for(p, seed=GENERATED_SEED + i, count=1, model=info.name, size=info.resolution)[0]
            for i, p in enumerate(prompts)
        ]
        assets = MemoryAssets()
        recipes = pipe.imagine_layouts(recipes, lambda png: assets.put(png, "png"))
        pictures = np.stack(pipe.render(recipes, assets))
        result["generated"] = {
            "generator": f"{info.name} {info.version}",
            "n": generated,
            "prompts": "held-out wording (eval split), rendered as the app renders them",
            **{k: match_scores(prompts, fn(pictures)) for k, (fn, _) in describers.items()},
        }
        result["generated_ceiling_real_renders"] = {
            k: match_scores(prompts, fn(prompts_from.images)) for k, (fn, _) in describers.items()
        }
    return result


def format_table(result: dict) -> str:
    """The result as the terminal shows it."""
    lines = [f"held-out renders: {result['n']} (eval split, seed {result['seed']}, {result['size']} px)"]
    header = (
        f"{'describer':<24} {'BLEU-4 ho':>9} {'BLEU-4 tr':>9} {'CIDEr ho':>8} {'CIDEr tr':>8} "
        f"{'time':>5} {'weather':>7} {'season':>6} {'feat.prec':>9}"
    )
    lines.append(header)
    for name, row in result["renders"].items():
        a = row["attributes"]
        lines.append(
            f"{name:<24} {row['bleu4']['heldout_wording']:>9.3f} {row['bleu4']['training_wording']:>9.3f} "
            f"{row['cider_d']['heldout_wording']:>8.3f} {row['cider_d']['training_wording']:>8.3f} "
            f"{a['time']:>5.2f} {a['weather']:>7.2f} {a['season']:>6.2f} {row['feature_precision']:>9.2f}"
        )
    lines.append(
        "(ho: against the held-out-wording caption, which shares almost no 4-gram with training wording "
        "even for the oracle; tr: against 5 training-wording captions of the truth)"
    )
    for key, title in (
        ("generated", "generated pictures"),
        ("generated_ceiling_real_renders", "the same prompts' real renders"),
    ):
        if key not in result:
            continue
        block = result[key]
        extra = f" ({block['generator']}, {block['n']} prompts)" if key == "generated" else ""
        lines.append(f"match score on {title}{extra}:")
        for name, row in block.items():
            if not isinstance(row, dict):
                continue
            groups = " ".join(f"{g} {v:.2f}" if v is not None else f"{g} -" for g, v in row["groups"].items())
            feats = f"{row['features']:.2f}" if row["features"] is not None else "-"
            match = f"{row['match']:.3f}" if row["match"] is not None else "-"
            lines.append(f"  {name:<22} match {match}  {groups}  features {feats}")
    for name, model in result["models"].items():
        lines.append(f"{name}: {model}")
    return "\n".join(lines)
