"""A contact sheet for judging generators by eye: prompts down, for each model a few seeds across
(as the app shows them, layout imagined), then the world's own render of a similar scene."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw

from studio.inference.pipeline import MemoryAssets, Pipeline
from studio.world.captions import attributes_from_text
from studio.world.scene import render_scene, sample_attributes

SHEET_PROMPTS = (
    "a misty lake under snowy mountains at dawn",
    "a green forest with a river at noon",
    "a stormy sea",
    "desert dunes at sunset",
    "a snowy valley at night",
    "a summer meadow with flowers on a clear afternoon",
    "rain over rocky hills in autumn",
    "a calm lake under clouds in the morning",
)
LABEL_H = 14


def world_render(prompt: str, seed: int, size: int) -> np.ndarray:
    """The renderer's picture of a scene with the attributes the prompt names (others random)."""
    rng = np.random.default_rng(seed)
    attrs = sample_attributes(rng)
    named = attributes_from_text(prompt)
    attrs.update({k: v for k, v in named.items() if v is not None and k != "features"})
    if named.get("features"):
        attrs["features"] = named["features"]
    image, _ = render_scene(attrs, np.random.default_rng(seed + 1), size)
    return image


def model_sheet(
    pipe: Pipeline,
    models: list[str],
    prompts: tuple[str, ...] = SHEET_PROMPTS,
    seeds: tuple[int, ...] = (1, 2, 3),
    size: int = 256,
    cell: int = 160,
) -> bytes:
    """PNG bytes: one row per prompt; per model `seeds` cells, then the world's render."""
    columns = len(models) * len(seeds) + 1
    sheet = Image.new("RGB", (columns * cell, len(prompts) * (cell + LABEL_H) + LABEL_H), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for m, model in enumerate(models):
        info = pipe.registry.get(model)
        draw.text((m * len(seeds) * cell + 4, 1), f"{info.name} {info.version}", fill=(230, 230, 230))
    draw.text(((columns - 1) * cell + 4, 1), "world render", fill=(230, 230, 230))
    for row, prompt in enumerate(prompts):
        y = LABEL_H + row * (cell + LABEL_H)
        draw.text((4, y + 1), prompt, fill=(200, 200, 200))
        cells: list[np.ndarray] = []
        for model in models:
            recipes = [pipe.recipes_for(prompt, seed=s, count=1, model=model, size=size)[0] for s in seeds]
            layouts = MemoryAssets()
            cells += pipe.render(pipe.imagine_layouts(recipes, layouts.put), layouts)
        cells.append(world_render(prompt, 1000 + row, size))
        for col, image in enumerate(cells):
            tile = Image.fromarray(image).resize((cell, cell), Image.Resampling.LANCZOS)
            sheet.paste(tile, (col * cell, y + LABEL_H))
    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    return buf.getvalue()
