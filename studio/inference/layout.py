"""Choosing an imagined layout for a text-only prompt (see studio/export/layout_prior.py).

The candidates are the bank scenes whose captions are within `margin` cosine of the best match
(at most `max_candidates`); the recipe's seed picks one, so seeds give different layouts that all
fit the prompt, and the same seed always gives the same one. An empty prompt picks among all.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from studio.recipe import Recipe

LAYOUT_SALT = 0x1A70  # keeps the layout choice independent of the seed's latent
LAYOUT_KEY = "layout"  # recipe.extra: "NAME VERSION #INDEX" of the imagined layout in `sketch`


def is_imagined(recipe: Recipe) -> bool:
    """The recipe's sketch is a layout the prior imagined for it (not one the artist painted)."""
    return LAYOUT_KEY in recipe.extra


def forget_layout(recipe: Recipe, sketch: str | None = None) -> Recipe:
    """The recipe with another sketch (None: imagine again), no longer marked as imagined."""
    extra = {k: v for k, v in recipe.extra.items() if k != LAYOUT_KEY}
    return recipe.replace(sketch=sketch, extra=extra)


def index_png(indices: np.ndarray) -> bytes:
    """A class-index map as a mode "L" PNG (what recipes store and the pipeline reads)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(indices, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def pick_layouts(
    scores: np.ndarray, seeds: list[int], empty: list[bool], margin: float, max_candidates: int
) -> list[int]:
    """One bank index per row of `scores` [B, M]."""
    picks = []
    for row, seed, anything in zip(scores, seeds, empty, strict=True):
        rng = np.random.default_rng([int(seed) & 0xFFFFFFFFFFFFFFFF, LAYOUT_SALT])
        if anything:
            picks.append(int(rng.integers(len(row))))
            continue
        order = np.argsort(-row, kind="stable")[:max_candidates]
        close = order[row[order] >= row[order[0]] - margin]
        picks.append(int(close[rng.integers(len(close))]))
    return picks
