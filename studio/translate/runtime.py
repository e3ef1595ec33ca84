"""Translate any picture with an installed translator (numpy + PIL + onnxruntime, no torch).

A picture is read without trusting its header (`open_image`: bombs and pictures too large for
memory are refused in words), converted to RGB (CMYK, grey, 16-bit, palette; transparency laid
over white; an animation gives its first frame, with a note), **centre-cropped** to a square and
resized to the model's resolution. The result is square; pictures shown larger than the model's
resolution go through the upscaler its manifest names (as generated pictures do), else LANCZOS.

A translation is a recipe like any other: `model`/`model_version`, `seed` (the style vector,
`style_for_seed`, when the model has a style input) and `extra["translate"]` = {"source": sha256
of the source file's bytes, "from", "to", "output", "crop"}. `Pipeline.render` re-renders it from
the source asset (`render_translations`), so history nodes and exported PNGs restore exactly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from studio.hashing import sha256_bytes
from studio.image_input import ImageInputError, picture_rgb
from studio.inference.manifest import ModelError, ModelInfo
from studio.recipe import Recipe

log = logging.getLogger(__name__)
RECIPE_KEY = "translate"
MIN_SIDE = 16  # a smaller picture holds nothing to translate
MAX_BATCH = 16


@dataclass(frozen=True)
class Direction:
    source: str
    target: str
    output: str


def directions(info: ModelInfo) -> list[Direction]:
    """The translator's directions, as its manifest (checked by the registry) lists them."""
    return [Direction(d["from"], d["to"], d["output"]) for d in info.manifest.get("directions", [])]


def style_dim(info: ModelInfo) -> int:
    return int(info.manifest.get("style_dim") or 0)


def translators(registry) -> list[ModelInfo]:
    return [m for m in registry.models() if m.kind == "translator"]


def targets(registry) -> list[str]:
    """Every domain an installed translator can translate to."""
    return sorted({d.target for info in translators(registry) for d in directions(info)})


def translator_for(registry, target: str, model: str | None = None) -> tuple[ModelInfo, Direction]:
    """The translator (the one named, else the largest then newest) that goes to `target`."""
    if model is not None:
        info = registry.get(model)
        if info.kind != "translator":
            raise ModelError(f"{info.name} is a {info.kind}, not a translator")
        found = [d for d in directions(info) if d.target == target]
        if not found:
            goes = ", ".join(d.target for d in directions(info))
            raise ModelError(f"{info.name} translates to {goes}, not to {target!r}")
        return info, found[0]
    fits = [(info, d) for info in translators(registry) for d in directions(info) if d.target == target]
    if fits:
        return max(fits, key=lambda f: (f[0].resolution or 0, f[0].version_key, f[0].name))
    have = targets(registry)
    if have:
        raise ModelError(
            f"no installed translator goes to {target!r}; the installed ones go to {', '.join(have)}"
        )
    where = ", ".join(str(f) for f in registry.folders)
    raise ModelError(
        f"no translator is installed (looked in {where}); train and export one, e.g. "
        "`studio train --config configs/translate_day_night.json` then "
        "`studio export runs/day_night/checkpoint.pt -o exported_models/day_night`"
    )


def read_picture(data: bytes, what: str = "the picture") -> tuple[np.ndarray, list[str]]:
    """A picture file's pixels as uint8 HxWx3 RGB, and notes on what was done to get them."""
    pixels, notes = picture_rgb(data, what, "translating", MIN_SIDE)
    height, width = pixels.shape[:2]
    if width != height:
        notes.append(f"{what} is {width}x{height} px: its centre square is translated")
    return pixels, notes


def model_input(pixels: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 HxWx3 → float32 [3,R,R] in [-1, 1]: the centre square, resized (LANCZOS)."""
    h, w = pixels.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = Image.fromarray(np.ascontiguousarray(pixels[top : top + side, left : left + side]))
    if side != resolution:
        square = square.resize((resolution, resolution), Image.Resampling.LANCZOS)
    x = np.asarray(square, np.float32).transpose(2, 0, 1) / 127.5 - 1.0
    return np.ascontiguousarray(x)


def style_for_seed(seed: int, dim: int) -> np.ndarray:
    """The style vector a seed stands for: portable (PCG64), its own stream (not the seed's latent)."""
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, 0x7374796C65])  # "style"
    return rng.standard_normal(dim).astype(np.float32)


def translation_recipe(info: ModelInfo, direction: Direction, source: bytes, seed: int, size: int) -> Recipe:
    return Recipe(
        model=info.name,
        model_version=info.version,
        seed=seed,
        size=size,
        extra={
            RECIPE_KEY: {
                "source": sha256_bytes(source),
                "from": direction.source,
                "to": direction.target,
                "output": direction.output,
                "crop": info.manifest.get("crop", "center"),
            }
        },
    )


def is_translation(recipe: Recipe) -> bool:
    return isinstance(recipe.extra.get(RECIPE_KEY), dict)


def translate_arrays(
    engine, info: ModelInfo, direction: Direction, x: np.ndarray, seeds: Sequence[int]
) -> np.ndarray:
    """[N,3,R,R] model inputs → [N,3,R,R] translations in [-1, 1] (one run per MAX_BATCH)."""
    dim, out = style_dim(info), []
    for start in range(0, len(x), MAX_BATCH):
        feeds = {"image": np.ascontiguousarray(x[start : start + MAX_BATCH], np.float32)}
        if dim:
            feeds["style"] = np.stack([style_for_seed(s, dim) for s in seeds[start : start + MAX_BATCH]])
        out.append(engine.run(info.path, feeds)[direction.output])
    return np.concatenate(out) if out else np.zeros((0, 3, info.resolution, info.resolution), np.float32)


def render_translations(
    engine,
    registry,
    info: ModelInfo,
    recipes: Sequence[Recipe],
    assets,
    preview: bool = False,
    notice: Callable[[str], None] = log.info,
) -> list[np.ndarray]:
    """Re-render translation recipes from their source assets: HxWx3 uint8 at each recipe's size."""
    from studio.inference.pipeline import PipelineError, _asset, _to_uint8

    assert info.resolution is not None  # guaranteed by the manifest schema
    res = info.resolution
    if any(r.model_version != info.version for r in recipes):
        notice(
            f"recipe made with {info.name} {recipes[0].model_version}; rendering with {info.version}, "
            "so the image may differ"
        )
    rows, ways = [], []
    for recipe in recipes:
        spec = recipe.extra.get(RECIPE_KEY)
        if not isinstance(spec, dict) or not isinstance(spec.get("source"), str):
            raise PipelineError(f"{info.name} is a translator, but the recipe names no source picture")
        way = next(
            (d for d in directions(info) if (d.source, d.target) == (spec.get("from"), spec.get("to"))), None
        )
        if way is None:
            raise PipelineError(f"{info.name} does not translate {spec.get('from')!r} → {spec.get('to')!r}")
        try:
            pixels, _ = read_picture(_asset(assets, spec["source"], "source picture"), "the source picture")
        except ImageInputError as exc:
            raise PipelineError(f"the translation cannot be rendered: {exc}") from exc
        rows.append(model_input(pixels, res))
        ways.append(way)
    images: list[np.ndarray | None] = [None] * len(recipes)
    for way in dict.fromkeys(ways):
        idx = [i for i, w in enumerate(ways) if w == way]
        out = translate_arrays(
            engine, info, way, np.stack([rows[i] for i in idx]), [recipes[i].seed for i in idx]
        )
        for i, image in zip(idx, out, strict=True):
            images[i] = image
    upscaler = None if preview else registry.upscaler_for(info)
    bigger = [i for i, r in enumerate(recipes) if r.size > res]
    if upscaler is not None and bigger:
        up = engine.run(upscaler.path, {"image": np.ascontiguousarray(np.stack([images[i] for i in bigger]))})
        for i, image in zip(bigger, up[upscaler.image_output], strict=True):
            images[i] = image
    return [_to_uint8(image, r.size) for image, r in zip(images, recipes, strict=True)]
