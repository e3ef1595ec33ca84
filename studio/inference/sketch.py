"""Sketch and mask files from outside the app (CLI, imports): checked and normalised with a warning.

Inside the app the canvas writes class-index PNGs, which need no checks. A file from elsewhere
may be the wrong size or use colours that are not in the model's palette: it is resized with
nearest-neighbour (class boundaries stay crisp) and each off-palette colour is mapped to the
nearest class colour, and the user is told how much was mapped.
"""

from __future__ import annotations

import numpy as np

from studio.inference.layout import index_png
from studio.inference.manifest import ModelInfo
from studio.inference.pipeline import read_sketch

__all__ = ["index_png", "mask_warnings", "normalise_sketch"]

OFF_PALETTE_TOLERANCE = 12  # per-channel difference still counted as "the palette colour" (JPEG noise)


def normalise_sketch(data: bytes, info: ModelInfo) -> tuple[bytes, list[str]]:
    """Any sketch image → (class-index PNG at the model's resolution, warnings for the user)."""
    sketch = read_sketch(data, info, drawing=True)
    warnings: list[str] = []
    res = info.resolution or 0
    if sketch.size != (res, res):
        warnings.append(
            f"the sketch is {sketch.size[0]}x{sketch.size[1]} px; resized to {res}x{res} (nearest class)"
        )
    off = 0.0 if sketch.off_palette is None else float((sketch.off_palette > OFF_PALETTE_TOLERANCE).mean())
    if off > 0:
        warnings.append(
            f"{off:.1%} of the sketch uses colours outside {info.name}'s palette; "
            "they were mapped to the nearest class"
        )
    return index_png(sketch.indices), warnings


def mask_warnings(mask: np.ndarray) -> list[str]:
    """Empty and full masks are legal but rarely meant: say what will happen."""
    coverage = float(np.clip(mask, 0, 1).mean()) if mask.size else 0.0
    if coverage == 0.0:
        return ["the mask is empty: nothing is regenerated, the result equals the base image"]
    if coverage >= 0.999:
        return ["the mask covers the whole image: everything is regenerated"]
    return []
