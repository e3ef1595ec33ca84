"""Masked regeneration and sketch files: real renders on the tiny generator, real PNG files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.inference.compose import composite, feather, read_mask, seam_ratio
from studio.inference.pipeline import MemoryAssets, Pipeline, PipelineError, sketch_indices
from studio.inference.sketch import index_png, mask_warnings, normalise_sketch
from studio.world.classes import LABEL_CLASSES
from studio.world.scene import render_scenes


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _half_mask(size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    mask[:, size * 15 // 32 :] = 255  # off the tiny model's 8-px block grid
    return mask


def test_feather_is_soft_and_keeps_the_far_side_exact() -> None:
    mask = np.zeros((128, 128), np.float32)
    mask[:, 64:] = 1
    soft = feather(mask)
    assert soft[:, :40].max() == 0.0 and soft[:, 90:].min() == 1.0
    row = soft[64, 50:80]
    assert np.all(np.diff(row) >= 0) and 0.2 < row[14] < 0.8


def test_masked_edit_changes_only_inside_and_leaves_no_seam(pipeline: Pipeline) -> None:
    """Day → night inside the right half of a real render: outside stays bit-exact, and the
    blend adds no edge of its own: the gradient on the mask border is no larger than the two
    pictures have there anyway (a hard paste is many times sharper)."""
    assets = MemoryAssets()
    scene = render_scenes(1, seed=3, size=16)
    sketch = assets.put(index_png(scene.labels[0]), "png")
    base_recipe = pipeline.recipes_for("a lake under mountains at noon", seed=7, count=1, size=128)[0]
    base_recipe = base_recipe.replace(sketch=sketch)
    base = pipeline.render([base_recipe], assets)[0]
    mask_png = _png(_half_mask(128))
    edit = base_recipe.replace(
        prompt="a lake under mountains at night",
        mask=assets.put(mask_png, "png"),
        extra={"base_image": assets.put(_png(base), "png")},
    )
    unmasked, edited = pipeline.render([edit.replace(mask=None, extra={}), edit], assets)
    assert np.array_equal(edited[:, :30], base[:, :30])
    assert np.abs(edited[:, 110:].astype(int) - unmasked[:, 110:].astype(int)).max() <= 1
    mask = read_mask(mask_png, 128)
    hard = np.where(mask[:, :, None] > 0.5, unmasked, base)
    own = max(seam_ratio(base, mask), seam_ratio(unmasked, mask))
    assert seam_ratio(edited, mask) <= own * 1.1
    assert seam_ratio(hard, mask) > seam_ratio(edited, mask)


def test_masked_recipe_without_its_base_is_refused(pipeline: Pipeline) -> None:
    assets = MemoryAssets()
    recipe = pipeline.recipes_for("a lake", count=1, size=32)[0]
    recipe = recipe.replace(mask=assets.put(_png(_half_mask(32)), "png"))
    with pytest.raises(PipelineError, match="base_image"):
        pipeline.render([recipe], assets)
    broken = recipe.replace(extra={"base_image": assets.put(b"not a png", "png")})
    with pytest.raises(PipelineError, match="masked edit"):
        pipeline.render([broken], assets)


def test_empty_and_full_masks_are_explained() -> None:
    assert "empty" in mask_warnings(np.zeros((8, 8)))[0]
    assert "whole image" in mask_warnings(np.ones((8, 8)))[0]
    assert mask_warnings(_half_mask(8) / 255.0) == []
    base, new = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 200, np.uint8)
    assert np.array_equal(composite(base, new, np.zeros((8, 8))), base)
    assert np.array_equal(composite(base, new, np.ones((8, 8))), new)


def test_mask_from_alpha_channel_and_any_size() -> None:
    rgba = np.zeros((50, 50, 4), np.uint8)
    rgba[:, 25:, 3] = 255
    mask = read_mask(_png(rgba), 100)
    assert mask.shape == (100, 100) and mask[:, :40].max() == 0 and mask[:, 60:].min() == 1
    with pytest.raises(ValueError, match="not a readable image"):
        read_mask(b"junk", 16)


def test_sketch_off_palette_and_wrong_size_are_mapped_with_warnings(pipeline: Pipeline) -> None:
    info = pipeline.default_generator()
    colours = np.array([c.color for c in LABEL_CLASSES], np.uint8)
    index = np.zeros((40, 40), np.uint8)
    index[:20], index[20:] = 1, 6  # sky over water
    rgb = colours[index].copy()
    rgb[:4, :4] = (140, 190, 235)  # near sky, not exactly it
    rgb[30:, 30:] = (255, 0, 0)  # far from every class: nearest wins
    png, warnings = normalise_sketch(_png(rgb), info)
    assert any("resized" in w for w in warnings) and any("palette" in w for w in warnings)
    mapped = sketch_indices(png, info)
    assert mapped.shape == (info.resolution, info.resolution)
    assert mapped[0, 0] == 1 and mapped[-1, 0] == 6
    clean, clean_warnings = normalise_sketch(index_png(np.full((16, 16), 8, np.uint8)), info)
    assert clean_warnings == [] and (sketch_indices(clean, info) == 8).all()
    with pytest.raises(PipelineError, match="not a readable image"):
        normalise_sketch(b"nope", info)


def test_cli_generate_with_sketch_mask_and_base(
    models_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from studio.cli import main
    from studio.pngmeta import read_recipe

    monkeypatch.setenv("SYNESTHESIA_MODELS", str(models_dir))
    colours = np.array([c.color for c in LABEL_CLASSES], np.uint8)
    index = np.full((64, 64), 1, np.uint8)
    index[32:] = 8
    Image.fromarray(colours[index]).save(tmp_path / "sketch.png")
    assert (
        main(
            [
                "generate",
                "meadow",
                "--sketch",
                str(tmp_path / "sketch.png"),
                "-o",
                str(tmp_path / "a.png"),
                "--size",
                "64",
                "--device",
                "cpu",
            ]
        )
        == 0
    )
    assert read_recipe(tmp_path / "a.png").sketch is not None
    Image.fromarray(_half_mask(64)).save(tmp_path / "mask.png")
    args = [
        "generate",
        "meadow at night",
        "--sketch",
        str(tmp_path / "sketch.png"),
        "--mask",
        str(tmp_path / "mask.png"),
        "--base",
        str(tmp_path / "a.png"),
        "-o",
        str(tmp_path / "b.png"),
        "--size",
        "64",
        "--device",
        "cpu",
        "--project",
        str(tmp_path / "proj"),
    ]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "resized" in out.err
    a, b = (np.asarray(Image.open(tmp_path / n).convert("RGB")) for n in ("a.png", "b.png"))
    assert np.array_equal(a[:, :20], b[:, :20])
    assert main(["generate", "x", "--mask", str(tmp_path / "mask.png"), "--device", "cpu"]) == 2
    assert "--mask and --base go together" in capsys.readouterr().err
