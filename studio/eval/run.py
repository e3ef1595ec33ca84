"""`studio eval MODEL`: does the shipped generator show what held-out prompts ask for?

Attribute accuracy is judged by `Judge` on 64 px renders from the eval-split captions (phrasings
never used in training), text-only, text-only with an imagined layout (when a layout prior is
installed) and with the scene's label map, next to the judge's accuracy on the real renderer
images (its ceiling). Two rows separate the generator's share of a miss from the text encoder's:
text-only renders of fresh *training-wording* captions (does it follow the phrasings it learned?)
and a linear probe on the caption embeddings (`studio.eval.phrasing`: what the held-out wording
still says after the text encoder, the ceiling for any generator reading those embeddings).
Diversity is the mean per-pixel spread across seeds.
Sketch fidelity (with an installed segmenter) is the mIoU between each held-out label map and the
segmentation of the image generated from it, next to the segmenter's mIoU on the real renders.
With an installed image encoder: R-precision (true prompt vs 99 mismatched ones, beside the real
renders' ceiling) and KID/FID against the real renders on the encoder's penultimate features
(`studio.eval.retrieval`, which says why these features and not Inception's).
"""

from __future__ import annotations

import logging

import numpy as np

from studio.eval.fidelity import sketch_fidelity
from studio.eval.judge import train_judge
from studio.eval.phrasing import text_probe
from studio.eval.sharpness import image_scores, octave_ratios
from studio.inference.attributes import GROUPS, attributes_for_prompt
from studio.inference.attributes import RECIPE_KEY as ATTRIBUTES_KEY
from studio.inference.layout import index_png
from studio.inference.pipeline import MemoryAssets, Pipeline
from studio.world.scene import render_scenes

log = logging.getLogger(__name__)


def evaluate(
    pipe: Pipeline,
    model: str,
    n: int = 128,
    seed: int = 20_000,
    judge_steps: int = 600,
    judge_images: int = 4000,
    probe_captions: int = 1000,
) -> dict:
    judge = train_judge(judge_images, judge_steps)
    info = pipe.registry.get(model)
    size = info.resolution
    scenes = render_scenes(n, seed=seed, size=size, split="eval")
    recipes = prompted(pipe, scenes.captions, seed, model, size)
    text_only = np.stack(pipe.render(recipes))
    sketches = MemoryAssets()
    keys = [sketches.put(index_png(labels)) for labels in scenes.labels]
    with_sketch = np.stack(
        pipe.render([r.replace(sketch=k) for r, k in zip(recipes, keys, strict=True)], sketches)
    )
    generated = {"text_only": text_only, "text_and_sketch": with_sketch}
    trained = render_scenes(n, seed=seed + 2, size=size, split="train")
    trained_wording = np.stack(pipe.render(prompted(pipe, trained.captions, seed, model, size)))
    layouts = MemoryAssets()
    imagined = pipe.imagine_layouts(recipes, layouts.put)
    if any(r.sketch is not None for r in imagined):  # a layout prior is installed
        generated["text_with_imagined_layout"] = np.stack(pipe.render(imagined, layouts))
    prompts = scenes.captions[:8]
    spread = [
        np.stack(pipe.render(pipe.recipes_for(p, seed=1, count=4, model=model, size=size))).std(0).mean()
        for p in prompts
    ]
    if info.attribute_groups:  # the scene's own attributes pinned: does the sketch still let them show?
        given = [
            r.replace(sketch=k, extra={**r.extra, ATTRIBUTES_KEY: {g: a[g] for g in GROUPS}})
            for r, k, a in zip(recipes, keys, scenes.attributes, strict=True)
        ]
        generated["text_sketch_and_attributes"] = np.stack(pipe.render(given, sketches))
    with_layout = [r.replace(sketch=k) for r, k in zip(recipes[:8], keys[:8], strict=True)]
    sketch_spread = [
        np.stack(pipe.render([r.replace(seed=r.seed + j) for j in range(4)], sketches)).std(0).mean()
        for r in with_layout
    ]
    result = {
        "model": model,
        "n_prompts": n,
        "judge_on_real_renders": judge.accuracy(scenes.images, scenes.attributes),
        "text_only": judge.accuracy(text_only, scenes.attributes),
        "text_and_sketch": judge.accuracy(with_sketch, scenes.attributes),
        "text_only_training_wording": judge.accuracy(trained_wording, trained.attributes),
        "text_probe": text_probe(
            lambda texts: pipe.encode_text(info, texts), scenes.captions, scenes.attributes
        ),
        "attribute_reader": reader_accuracy(scenes.captions, scenes.attributes),
        "diversity_pixel_std": round(float(np.mean(spread)) / 255, 4),
        "diversity_with_sketch_pixel_std": round(float(np.mean(sketch_spread)) / 255, 4),
        "controls": control_strength(pipe, model, size),
        "sketch_fidelity": sketch_fidelity(pipe, info, scenes.labels, with_sketch, scenes.images),
        "chance": {"time": 1 / 7, "weather": 1 / 7},
    }
    if "text_sketch_and_attributes" in generated:
        result["text_sketch_and_attributes"] = judge.accuracy(
            generated.pop("text_sketch_and_attributes"), scenes.attributes
        )
    if "text_with_imagined_layout" in generated:
        result["text_with_imagined_layout"] = judge.accuracy(
            generated["text_with_imagined_layout"], scenes.attributes
        )
    result["detail_as_shown"] = _detail(pipe, recipes, keys, sketches, seed)
    result.update(_sound(pipe, info, judge, max(4, n // 8)))
    retrieval = _retrieval(pipe, info, scenes, generated, seed)
    if retrieval:
        result["image_encoder"] = retrieval
    return result


def prompted(pipe: Pipeline, captions: list[str], seed: int, model: str, size: int) -> list:
    """One recipe per caption, made as the app makes them (so the attributes are read from it)."""
    return [
        pipe.recipes_for(c, seed=seed + i, count=1, model=model, size=size)[0] for i, c in enumerate(captions)
    ]


def reader_accuracy(captions: list[str], attributes: list[dict]) -> dict:
    """How often the prompt reader (studio.inference.attributes) names each scene's true time and
    weather from held-out wording; a miss is mostly "unknown", which leaves it to the text."""
    read = [attributes_for_prompt(c) for c in captions]
    return {
        g: round(float(np.mean([r[g] == a[g] for r, a in zip(read, attributes, strict=True)])), 3)
        for g in ("time", "weather")
    }


def control_strength(pipe: Pipeline, model: str, size: int, amount: float = 3.0, n: int = 8) -> dict:
    """The discovered controls' effect: mean absolute pixel change (0..1) between −amount and
    +amount σ along each direction, over n latents. Below ~0.08 a slider is hard to see."""
    from studio.variations import apply_directions, principal_directions

    info = pipe.registry.get(model)
    directions = principal_directions(pipe, model)
    base = pipe.recipes_for("a lake under mountains", seed=0, count=n, model=model, size=size)
    change = {}
    for d in directions:
        ends = [
            np.stack(
                pipe.render([apply_directions(r, info.z_dim, {d.name: s * amount}, directions) for r in base])
            )
            for s in (-1, 1)
        ]
        change[d.name] = round(float(np.abs(ends[1].astype(np.float32) - ends[0]).mean()) / 255, 4)
    return {"amount_sigma": amount, "mean_abs_change": change, "min": min(change.values(), default=0.0)}


def _detail(pipe: Pipeline, recipes, keys: list[str], sketches: MemoryAssets, seed: int) -> dict:
    """Crispness as the app shows a picture (256 px, through the generator's own upscaler) next to
    the renderer's 256 px pictures of the same held-out scenes, text + sketch. Every other metric
    looks at 64 px, where a 128 px generator's extra detail does not exist. A 16 px border is cut
    from both sets: a generator's frame of padding lines is not detail (it added 0.12 to the
    gradient ratio of landscape128_v5t)."""
    size, m = 256, 16
    shown = np.stack(
        pipe.render([r.replace(sketch=k, size=size) for r, k in zip(recipes, keys, strict=True)], sketches)
    )
    real = render_scenes(len(recipes), seed=seed, size=size, split="eval").images
    shown, real = shown[:, m:-m, m:-m], real[:, m:-m, m:-m]
    scores = image_scores(shown, real, scale=4)  # energy beyond what a 64 px picture can hold
    return {
        "size": size,
        "border_cut_px": m,
        **{k: scores[k] for k in ("gradient_ratio", "high_freq_ratio")},
        "octaves": octave_ratios(shown, real),
    }


def _retrieval(pipe: Pipeline, info, scenes, generated: dict[str, np.ndarray], seed: int) -> dict:
    """R-precision and KID/FID, when an image encoder of the generator's space is installed."""
    from studio.eval.retrieval import generation_metrics
    from studio.inference.image_encoder import ImageEncoder, image_encoder_for
    from studio.inference.manifest import ModelError

    try:
        encoder_info = image_encoder_for(pipe.registry.models(), info.embedding_space)
    except ModelError:
        return {}
    reference = render_scenes(len(scenes.images), seed=seed + 1, size=scenes.images.shape[1], split="eval")
    metrics = generation_metrics(
        ImageEncoder(pipe.engine, encoder_info),
        lambda texts: pipe.encode_text(info, texts),
        scenes.images,
        scenes.captions,
        generated,
        reference.images,
    )
    return {"model": encoder_info.name, **metrics}


def _sound(pipe: Pipeline, info, judge, n: int) -> dict:
    """Sound-edit success and zero-shot listening, when a sound encoder is installed."""
    from studio.eval.sound import sound_edit_metrics, sound_metrics
    from studio.inference.manifest import ModelError

    try:
        pipe.audio_encoder_for(info)
    except ModelError:
        return {}
    return {
        "sound_edit": sound_edit_metrics(pipe, info.name, judge, n=n),
        "listen": sound_metrics(
            lambda samples: pipe.encode_sound(info, samples), lambda texts: pipe.encode_text(info, texts)
        ),
        "sonify": _sonify(pipe, info, n),
    }


def _sonify(pipe: Pipeline, info, n: int) -> dict | None:
    """The hear-the-picture round trip; None without an image encoder to read pictures with."""
    from studio.eval.sonify import sonify_round_trip
    from studio.inference.manifest import ModelError

    try:
        return sonify_round_trip(pipe, info, n=max(60, n))
    except ModelError:
        return None


def format_table(result: dict) -> str:
    rows = [("", "time", "weather")]
    keys = (
        "judge_on_real_renders",
        "text_only",
        "text_with_imagined_layout",
        "text_and_sketch",
        "text_sketch_and_attributes",
        "attribute_reader",
        "chance",
        "text_only_training_wording",
    )
    for key in (k for k in keys if k in result):
        rows.append(_pair(key, result[key]))
    if "text_probe" in result:
        rows.append(_pair("embedding probe (train)", result["text_probe"]["train"]))
        rows.append(_pair("embedding probe (held-out)", result["text_probe"]["heldout"]))
    lines = [f"{a:<27}{b:>8}{c:>10}" for a, b, c in rows]
    lines.append(f"diversity (pixel std across seeds, 0–1): {result['diversity_pixel_std']}")
    if "diversity_with_sketch_pixel_std" in result:
        lines.append(f"diversity with the sketch fixed: {result['diversity_with_sketch_pixel_std']}")
    controls = result.get("controls")
    if controls:
        changes = ", ".join(f"{k} {v:.3f}" for k, v in controls["mean_abs_change"].items())
        lines.append(f"discovered controls (mean |Δpixel| at ±{controls['amount_sigma']:g}σ): {changes}")
    detail = result.get("detail_as_shown")
    if detail:
        lines.append(
            f"detail as shown ({detail['size']} px, text + sketch, 1 = as crisp as the renderer): "
            f"gradient {detail['gradient_ratio']:.2f}, energy beyond 64 px {detail['high_freq_ratio']:.2f}"
        )
        if "octaves" in detail:
            bands = ", ".join(f"{k} {v:.2f}" for k, v in detail["octaves"].items())
            lines.append(f"  energy per octave (cycles/px, 1 = as much as the renderer): {bands}")
    fidelity = result.get("sketch_fidelity")
    if fidelity is None:
        lines.append("sketch fidelity: no segmenter installed for this generator's label classes")
    else:
        lines.append(
            f"sketch fidelity ({fidelity['segmenter']}): mIoU {fidelity['generated']['miou']:.2f} "
            f"(pixel acc {fidelity['generated']['pixel_accuracy']:.2f}); "
            f"ceiling on real renders mIoU {fidelity['real_renders']['miou']:.2f} "
            f"(pixel acc {fidelity['real_renders']['pixel_accuracy']:.2f})"
        )
    edit = result.get("sound_edit")
    if edit:
        lines.append(
            f"sound edits (strength {edit['strength']}): judge sees the sound's attribute "
            f"{edit['mean']['before']:.2f} before → {edit['mean']['after']:.2f} after"
            + (f", layout kept {edit['mean']['layout_kept']:.2f}" if "layout_kept" in edit["mean"] else "")
        )
        for kind, row in edit["per_sound"].items():
            ceiling = f"   (real renders {row['real_renders']:.2f})" if "real_renders" in row else ""
            moved = f"{row['before']:.2f} → {row['after']:.2f}"
            lines.append(f"  {kind:<16}{row['attribute']:<18}{moved}{ceiling}")
    listen = result.get("listen")
    if listen:
        real = listen.get("listen_top1_real_recordings")
        lines.append(
            f"listen (zero-shot top-1): held-out synthesised {listen['listen_top1_synthetic_heldout']:.2f}"
            + (
                f", real recordings {real:.2f} ({listen['real_recordings']} files)"
                if real is not None
                else ""
            )
            + f", chance {listen['listen_chance']:.2f}"
        )
        if "listen_top1_real_heldout" in listen:
            lines.append(
                f"listen on held-out real packages ({listen['real_heldout_clips']} clips, "
                f"{listen['real_heldout_kinds']} kinds): top-1 {listen['listen_top1_real_heldout']:.2f}, "
                f"balanced over kinds {listen['listen_top1_real_heldout_balanced']:.2f}"
            )
            by_kind = listen.get("real_heldout_by_kind")
            if by_kind:  # results written before it was measured have none
                lines.append("  " + ", ".join(f"{kind} {right}" for kind, right in by_kind.items()))
        floor = listen.get("listen_floor")
        if floor:
            lines.append(
                f"listen floor {floor['value']:.2f} (top-1 cosine): keeps "
                f"{floor['real_heldout_correct_kept']:.2f} of right real placements, refuses "
                f"{floor['out_of_world_refused']:.2f} of out-of-world sounds"
            )
    if result.get("sonify"):
        from studio.eval.sonify import format_sonify

        lines.append(format_sonify(result["sonify"]))
    lines.extend(_retrieval_lines(result.get("image_encoder")))
    return "\n".join(lines)


def _pair(name: str, accuracy: dict) -> tuple[str, str, str]:
    return name, f"{accuracy['time']:.2f}", f"{accuracy['weather']:.2f}"


def _retrieval_lines(metrics: dict | None) -> list[str]:
    if not metrics:
        return ["R-precision / KID: no image encoder installed for this generator's embedding space"]
    rp = metrics["r_precision"]
    lines = [
        f"R-precision top-1 of {metrics['r_precision_k']} ({metrics['model']}, chance "
        f"{metrics['r_precision_chance']:.2f}): real renders {rp['real_renders']:.2f} (ceiling), "
        + ", ".join(f"{name} {value:.2f}" for name, value in rp.items() if name != "real_renders")
    ]
    lines.append(
        f"KID ×1000 / FID vs real renders ({metrics['kid_fid_features']} features of {metrics['model']}):"
    )
    for name, row in metrics["kid"].items():
        lines.append(
            f"  {name:<27}KID {row['mean']:7.3f} ± {row['std']:.3f}   FID {metrics['fid'][name]:.2f}"
        )
    return lines
