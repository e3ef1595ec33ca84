"""PNG files that carry their recipe, so a dropped or shared image can be restored and re-rendered.

The recipe is JSON in an iTXt chunk (UTF-8, so any prompt survives). Encoding is deterministic:
the same pixels and recipe always give the same bytes (no timestamps), which keeps assets
content-addressed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin, UnidentifiedImageError

from studio.image_input import UNIDENTIFIED
from studio.recipe import Recipe, RecipeError

KEYWORD = "synesthesia-recipe"
PRIVATE_DROPPED_EXTRA = ("text_embedding",)  # an embedding of the prompt would leak it


def private_recipe(recipe: Recipe) -> Recipe:
    """The recipe without what identifies its author's intent: prompt, sound and prompt embedding."""
    extra = {k: v for k, v in recipe.extra.items() if k not in PRIVATE_DROPPED_EXTRA}
    return recipe.replace(prompt="", sound=None, extra={**extra, "private": True})


def encode_png(image: np.ndarray, recipe: Recipe | None = None, private: bool = False) -> bytes:
    """HxWx3 (or HxW / HxWx4) uint8 pixels → PNG bytes, with the recipe embedded unless None."""
    pixels = np.asarray(image)
    if (
        pixels.dtype != np.uint8
        or pixels.ndim not in (2, 3)
        or (pixels.ndim == 3 and pixels.shape[2] not in (3, 4))
    ):
        raise ValueError(f"encode_png wants HxWx3 uint8 pixels, got {pixels.dtype} {pixels.shape}")
    info = PngImagePlugin.PngInfo()
    if recipe is not None:
        if private:
            recipe = private_recipe(recipe)
        info.add_itxt(KEYWORD, recipe.to_json(), zip=True)
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def _open(source: Path | str | bytes) -> tuple[Image.Image, str]:
    name = "the image" if isinstance(source, bytes | bytearray) else str(source)
    try:
        image = Image.open(io.BytesIO(source) if isinstance(source, bytes | bytearray) else Path(source))
    except FileNotFoundError as exc:
        raise RecipeError(f"{name} does not exist") from exc
    except UnidentifiedImageError as exc:
        raise RecipeError(f"{name} is not a readable image: {UNIDENTIFIED}") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # SyntaxError: broken chunks
        raise RecipeError(f"{name} is not a readable image: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise RecipeError(f"{name} claims to be too large to open safely: {exc}") from exc
    if image.format != "PNG":
        raise RecipeError(
            f"{name} is a {image.format or 'unknown'} image, not a PNG; only PNGs carry recipes"
        )
    return image, name


def read_recipe(source: Path | str | bytes) -> Recipe:
    """The recipe embedded by encode_png; RecipeError says why when there is none."""
    image, name = _open(source)
    try:  # info holds chunks before the pixels (where encode_png writes); text decodes all of them
        text = image.info.get(KEYWORD) or image.text.get(KEYWORD)  # type: ignore[attr-defined]
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged chunks
        raise RecipeError(f"{name} is a damaged PNG: {exc}") from exc
    if text is None:
        raise RecipeError(f"{name} has no Synesthesia recipe (not made by the studio, or saved without it)")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise RecipeError(f"{name} has a damaged recipe (not valid JSON): {exc}") from exc
    return Recipe.from_dict(data)


def carried_prompt(data: bytes) -> str:
    """The prompt of the recipe a studio PNG carries ("" for any other picture: there is none to match)."""
    try:
        return read_recipe(data).prompt
    except RecipeError:
        return ""


def read_pixels(source: Path | str | bytes) -> np.ndarray:
    """HxWx3 uint8 pixels of a PNG (to compare a re-render with a stored image)."""
    image, name = _open(source)
    try:
        return np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as exc:
        raise RecipeError(f"{name} is a damaged PNG: {exc}") from exc
