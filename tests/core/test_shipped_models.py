"""The shipped models through the real onnxruntime path: valid, deterministic, varied, and
following the prompt and the sketch (judged on simple image statistics that cannot be faked)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from studio.hashing import sha256_file
from studio.inference.pipeline import MemoryAssets, Pipeline
from studio.inference.registry import ModelRegistry
from studio.paths import shipped_models_dir
from studio.world.classes import CLASS_INDEX

GENERATOR = "landscape64"
pytestmark = pytest.mark.skipif(
    not (shipped_models_dir() / f"{GENERATOR}.onnx").exists(), reason="the shipped generator is not exported"
)


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline(ModelRegistry([shipped_models_dir()]), device="cpu")


def render(pipe: Pipeline, prompt: str, seeds=range(8), size: int = 64, assets=None, sketch=None):
    recipes = [
        r.replace(sketch=sketch) for r in pipe.recipes_for(prompt, seed=seeds[0], count=len(seeds), size=size)
    ]
    return np.stack(pipe.render(recipes, assets=assets)).astype(np.float32)


def test_registry_accepts_every_shipped_model():
    registry = ModelRegistry([shipped_models_dir()])
    assert not registry.problems, registry.problems
    names = {m.name: m for m in registry.models()}
    assert {"text_minilm", GENERATOR, "landscape_sr"} <= set(names)
    for info in names.values():
        assert info.sha256 == sha256_file(info.path)
        assert info.manifest["training"] and info.manifest["license"]
    gen = names[GENERATOR]
    assert gen.example_prompts and gen.concepts and len(gen.label_classes) == 11
    assert registry.upscaler_for(gen).name == "landscape_sr"


def test_render_is_deterministic_and_upscaled(pipe):
    recipe = pipe.recipes_for("a misty lake under snowy mountains at dawn", seed=3, count=1, size=256)[0]
    first, second = pipe.render([recipe])[0], pipe.render([recipe])[0]
    assert first.shape == (256, 256, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert pipe.provider == "CPUExecutionProvider"


def test_seeds_give_varied_images(pipe):
    images = render(pipe, "a lake in the mountains in the afternoon")
    spread = np.std(images, axis=0).mean()  # per-pixel spread across seeds
    assert spread > 8, f"seeds barely change the picture (mean per-pixel std {spread:.1f})"


def test_prompt_sets_time_of_day(pipe):
    night = render(pipe, "a lake under the mountains at night with stars").mean()
    noon = render(pipe, "a lake under the mountains at noon on a clear sunny day").mean()
    assert noon > night + 25, f"noon {noon:.0f} vs night {night:.0f}"


def test_prompt_sets_season(pipe):
    winter = render(pipe, "a snowy winter meadow during a snowfall")
    summer = render(pipe, "a green summer meadow with flowers")
    greenness = lambda im: (im[..., 1] - (im[..., 0] + im[..., 2]) / 2).mean()  # noqa: E731
    assert greenness(summer) > greenness(winter) + 5


def sketch_png(rows: list[tuple[str, int]]) -> bytes:
    """A class-index label map: bands of classes from top to bottom (row counts out of 64)."""
    labels, top = np.zeros((64, 64), np.uint8), 0
    for name, height in rows:
        labels[top : top + height] = CLASS_INDEX[name]
        top += height
    buf = io.BytesIO()
    Image.fromarray(labels, "L").save(buf, format="PNG")
    return buf.getvalue()


def test_sketch_controls_layout(pipe):
    assets = MemoryAssets()
    water = assets.put(sketch_png([("sky", 24), ("water", 40)]))
    grass = assets.put(sketch_png([("sky", 24), ("grass", 40)]))
    prompt = "a landscape at noon"
    wet = render(pipe, prompt, assets=assets, sketch=water)[:, 32:]
    green = render(pipe, prompt, assets=assets, sketch=grass)[:, 32:]
    blue_minus_green = lambda im: (im[..., 2] - im[..., 1]).mean()  # noqa: E731
    assert blue_minus_green(wet) > blue_minus_green(green) + 10
    sky_then_ground = render(pipe, prompt, assets=assets, sketch=grass)
    assert sky_then_ground[:, :16].mean() > sky_then_ground[:, 48:].mean()  # bright sky above darker grass
