"""PNG with embedded recipe: round trip, privacy, and every kind of bad file gives a RecipeError."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.pngmeta import KEYWORD, encode_png, read_pixels, read_recipe
from studio.recipe import Recipe, RecipeError

PIXELS = np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3)
RECIPE = Recipe(
    model="tiny-gen",
    model_version="1.0",
    seed=42,
    prompt="a misty lake 🌄 at dawn",
    size=64,
    sketch="ab" * 32,
    sound="cd" * 32,
    strength=0.5,
    extra={"text_embedding": [0.1, 0.2], "note": "kept"},
)


def test_round_trip_bytes_and_file(tmp_path: Path) -> None:
    data = encode_png(PIXELS, RECIPE)
    assert read_recipe(data) == RECIPE
    path = tmp_path / "image.png"
    path.write_bytes(data)
    assert read_recipe(path) == RECIPE
    assert read_recipe(str(path)) == RECIPE
    assert np.array_equal(read_pixels(path), PIXELS)


def test_encoding_is_deterministic() -> None:
    assert encode_png(PIXELS, RECIPE) == encode_png(PIXELS, RECIPE)


def test_private_strips_prompt_sound_and_embedding() -> None:
    recipe = read_recipe(encode_png(PIXELS, RECIPE, private=True))
    assert recipe.prompt == "" and recipe.sound is None
    assert recipe.extra == {"note": "kept", "private": True}
    assert (recipe.seed, recipe.sketch, recipe.model) == (42, RECIPE.sketch, "tiny-gen")
    assert b"misty" not in encode_png(PIXELS, RECIPE, private=True)


def test_no_recipe_chunk() -> None:
    with pytest.raises(RecipeError, match="has no Synesthesia recipe"):
        read_recipe(encode_png(PIXELS))


def test_bad_json_in_chunk() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEYWORD, "{broken")
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, format="PNG", pnginfo=info)
    with pytest.raises(RecipeError, match="damaged recipe"):
        read_recipe(buffer.getvalue())


def test_recipe_of_a_newer_version() -> None:
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEYWORD, '{"model": "m", "model_version": "1", "seed": 1, "version": 99}')
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, format="PNG", pnginfo=info)
    with pytest.raises(RecipeError, match="newer than this app"):
        read_recipe(buffer.getvalue())


def test_not_a_png(tmp_path: Path) -> None:
    jpeg = io.BytesIO()
    Image.fromarray(PIXELS).save(jpeg, format="JPEG")
    with pytest.raises(RecipeError, match="is a JPEG image, not a PNG"):
        read_recipe(jpeg.getvalue())
    with pytest.raises(RecipeError, match="not a readable image"):
        read_recipe(b"hello")
    with pytest.raises(RecipeError, match="does not exist"):
        read_recipe(tmp_path / "missing.png")
    (tmp_path / "text.png").write_text("not really")
    with pytest.raises(RecipeError, match="not a readable image"):
        read_recipe(tmp_path / "text.png")


def test_truncated_png() -> None:
    data = encode_png(PIXELS, RECIPE)
    with pytest.raises(RecipeError):
        read_pixels(data[: len(data) // 2])


def test_bad_pixels_are_refused() -> None:
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        encode_png(PIXELS.astype(np.float32), RECIPE)


def test_oversized_recipe_chunk_is_refused() -> None:
    """A decompression bomb in the text chunk must not exhaust memory."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEYWORD, " " * (8 << 20), zip=True)
    buffer = io.BytesIO()
    Image.fromarray(PIXELS).save(buffer, format="PNG", pnginfo=info)
    with pytest.raises(RecipeError):
        read_recipe(buffer.getvalue())
