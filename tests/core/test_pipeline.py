"""Pipeline on the tiny models through real onnxruntime: batching, determinism, sketches, prompts."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tiny_models import build_generator

from studio.inference.pipeline import MemoryAssets, Pipeline, PipelineError
from studio.inference.registry import ModelError, ModelRegistry, UnknownModelError
from studio.recipe import MAX_PROMPT_CHARS, Recipe, latent_for_seed


def sketch_png(index: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(index.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_recipes_for_makes_consecutive_seeds(pipeline: Pipeline) -> None:
    recipes = pipeline.recipes_for("a misty lake", seed=7, count=3, size=32)
    assert [r.seed for r in recipes] == [7, 8, 9]
    assert {(r.model, r.model_version, r.size, r.prompt) for r in recipes} == {
        ("tiny-gen", "1.0", 32, "a misty lake")
    }
    assert pipeline.default_generator().name == "tiny-gen"
    with pytest.raises(PipelineError, match="count"):
        pipeline.recipes_for("x", count=0)
    with pytest.raises(UnknownModelError, match="'nope'"):
        pipeline.recipes_for("x", model="nope")
    with pytest.raises(PipelineError, match="not a generator"):
        pipeline.recipes_for("x", model="tiny-up")


def test_default_generator_is_the_newest_then_first_by_name(tmp_path: Path, models_dir: Path) -> None:
    """The default never depends on disk order: highest resolution, newest version, then name."""
    folder = tmp_path / "models"
    shutil.copytree(models_dir, folder, symlinks=True)
    build_generator(folder, name="a-gen")
    assert Pipeline(ModelRegistry([folder]), device="cpu").default_generator().name == "a-gen"
    build_generator(folder, name="z-gen", version="1.1")
    assert Pipeline(ModelRegistry([folder]), device="cpu").default_generator().name == "z-gen"


def test_batched_render_shapes_and_variety(pipeline: Pipeline) -> None:
    recipes = pipeline.recipes_for("a misty lake under snowy mountains", seed=1, count=4, size=64)
    images = pipeline.render(recipes)
    assert len(images) == 4
    assert all(img.shape == (64, 64, 3) and img.dtype == np.uint8 for img in images)
    assert not np.array_equal(images[0], images[1])  # different seeds, different images
    assert pipeline.last_ms_per_image > 0
    assert pipeline.provider == "CPUExecutionProvider"


def test_sizes_up_down_and_native(pipeline: Pipeline) -> None:
    base = Recipe(model="tiny-gen", model_version="1.0", seed=3, prompt="sunset", size=16)
    sizes = [16, 24, 32, 100]
    images = pipeline.render([base.replace(size=s) for s in sizes])
    assert [img.shape[:2] for img in images] == [(s, s) for s in sizes]


def test_batch_matches_single_renders_bit_exactly(pipeline: Pipeline) -> None:
    recipes = pipeline.recipes_for("a storm over the sea", seed=40, count=3, size=32)
    batch = pipeline.render(recipes)
    for recipe, image in zip(recipes, batch, strict=True):
        assert np.array_equal(pipeline.render([recipe])[0], image)


def test_deterministic_across_fresh_pipelines(models_dir: Path) -> None:
    recipes = [
        Recipe(model="tiny-gen", model_version="1.0", seed=s, prompt="green hills", size=48) for s in (1, 2)
    ]
    first = Pipeline(ModelRegistry([models_dir]), device="cpu").render(recipes)
    again = Pipeline(ModelRegistry([models_dir]), device="cpu").render(recipes)
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)


def test_latent_comes_from_seed_or_recipe(pipeline: Pipeline) -> None:
    by_seed = Recipe(model="tiny-gen", model_version="1.0", seed=5, prompt="lake")
    explicit = by_seed.replace(seed=999, latent=tuple(latent_for_seed(5, 8).tolist()))
    a, b = pipeline.render([by_seed, explicit])
    assert np.array_equal(a, b)
    with pytest.raises(PipelineError, match="latent has 3 values, model wants 8"):
        pipeline.render([by_seed.replace(latent=(1.0, 2.0, 3.0))])


def test_prompt_changes_image(pipeline: Pipeline) -> None:
    base = Recipe(model="tiny-gen", model_version="1.0", seed=5, prompt="a snowy mountain at night")
    a, b = pipeline.render([base, base.replace(prompt="a sandy beach at noon")])
    assert not np.array_equal(a, b)


def test_explicit_text_embedding_is_used(pipeline: Pipeline) -> None:
    base = Recipe(model="tiny-gen", model_version="1.0", seed=5, prompt="a calm lake")
    vector = pipeline.encode_text(pipeline.default_generator(), ["a calm lake"])[0]
    same = base.replace(prompt="", extra={"text_embedding": vector.tolist()})
    a, b = pipeline.render([base, same])
    assert np.array_equal(a, b)
    for bad, message in (
        ([1.0, 2.0], "has 2 values"),
        (["x"] * 384, "list of numbers"),
        ("abc", "non-empty list"),
    ):
        with pytest.raises(PipelineError, match=message):
            pipeline.render([base.replace(extra={"text_embedding": bad})])


def test_sketch_asset_changes_the_output(pipeline: Pipeline) -> None:
    assets = MemoryAssets()
    index = np.zeros((16, 16), np.uint8)
    index[:8] = 1  # sky on top
    index[8:] = 6  # water below
    sketch = assets.put(sketch_png(index))
    big = assets.put(sketch_png(np.kron(index, np.ones((4, 4), np.uint8))))  # 64 px: nearest-resized to 16
    base = Recipe(model="tiny-gen", model_version="1.0", seed=11, prompt="lake")
    plain, sketched, resized = pipeline.render(
        [base, base.replace(sketch=sketch), base.replace(sketch=big)], assets=assets
    )
    assert not np.array_equal(plain, sketched)
    assert np.array_equal(sketched, resized)


def test_colour_sketch_maps_to_classes(pipeline: Pipeline) -> None:
    info = pipeline.default_generator()
    colours = np.zeros((16, 16, 3), np.uint8)
    colours[:] = info.label_classes[6].color
    buffer = io.BytesIO()
    Image.fromarray(colours).save(buffer, format="PNG")
    assets = MemoryAssets()
    rgb, index = assets.put(buffer.getvalue()), assets.put(sketch_png(np.full((16, 16), 6)))
    base = Recipe(model="tiny-gen", model_version="1.0", seed=1)
    a, b = pipeline.render([base.replace(sketch=rgb), base.replace(sketch=index)], assets=assets)
    assert np.array_equal(a, b)


def test_sketch_errors_name_the_asset(pipeline: Pipeline) -> None:
    base = Recipe(model="tiny-gen", model_version="1.0", seed=1, sketch="ab" * 32)
    with pytest.raises(PipelineError, match="sketch asset abababababab is missing"):
        pipeline.render([base], assets=MemoryAssets())
    with pytest.raises(PipelineError, match="no project assets were given"):
        pipeline.render([base])
    assets = MemoryAssets()
    junk, too_high = assets.put(b"not a png"), assets.put(sketch_png(np.full((16, 16), 42)))
    with pytest.raises(PipelineError, match="not a readable image"):
        pipeline.render([base.replace(sketch=junk)], assets=assets)
    with pytest.raises(PipelineError, match="class index 42, but tiny-gen knows 11 classes"):
        pipeline.render([base.replace(sketch=too_high)], assets=assets)


def test_unknown_model_and_wrong_kind(pipeline: Pipeline) -> None:
    with pytest.raises(UnknownModelError, match="no model named 'gone'.*tiny-gen"):
        pipeline.render([Recipe(model="gone", model_version="1", seed=1)])
    with pytest.raises(PipelineError, match="not a generator"):
        pipeline.render([Recipe(model="tiny-up", model_version="1.0", seed=1)])


def test_version_mismatch_renders_with_a_notice(pipeline: Pipeline) -> None:
    pipeline.drain_notices()
    pipeline.render([Recipe(model="tiny-gen", model_version="0.9", seed=1)])
    assert any("made with tiny-gen 0.9" in n for n in pipeline.drain_notices())


@pytest.mark.parametrize(
    "prompt",
    ["", "x" * 10_000, "lake 🌄🏔️ at dawn", "tab\tnew\nline\x00\x07 bell\u202e", "   "],
    ids=["empty", "10k", "emoji", "control", "spaces"],
)
def test_odd_prompts_render(pipeline: Pipeline, prompt: str) -> None:
    recipe = pipeline.recipes_for(prompt, seed=2, count=1, size=16)[0]
    assert len(recipe.prompt) <= MAX_PROMPT_CHARS
    assert all(ch.isprintable() for ch in recipe.prompt)
    (image,) = pipeline.render([recipe])
    assert image.shape == (16, 16, 3)


def test_empty_render_and_mixed_models(pipeline: Pipeline) -> None:
    assert pipeline.render([]) == []
    with pytest.raises(PipelineError, match="Recipe objects"):
        pipeline.render(["not a recipe"])  # type: ignore[list-item]


def test_warm_up_creates_the_sessions(models_dir: Path) -> None:
    pipe = Pipeline(ModelRegistry([models_dir]), device="cpu")
    pipe.warm_up()
    for name in ("tiny-gen", "tiny-up"):
        assert pipe.provider in pipe.engine.session(models_dir / f"{name}.onnx").get_providers()
    with pytest.raises(UnknownModelError):
        pipe.warm_up("nope")


def test_no_generator_is_a_clear_error(tmp_path: Path) -> None:
    pipe = Pipeline(ModelRegistry([tmp_path]), device="cpu")
    with pytest.raises(ModelError, match="no usable generator is installed"):
        pipe.recipes_for("lake")


def test_project_assets_feed_the_sketch(pipeline: Pipeline, project) -> None:  # noqa: ANN001 - fixture
    index = np.full((16, 16), 8, np.uint8)
    sha = project.assets.put(sketch_png(index), "png")
    base = Recipe(model="tiny-gen", model_version="1.0", seed=4)
    plain, sketched = pipeline.render([base, base.replace(sketch=sha)], assets=project.assets)
    assert not np.array_equal(plain, sketched)
