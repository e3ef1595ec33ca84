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

UPSCALERS = {  # generator: its upscaler
    "landscape64": "landscape_sr",
    "landscape128": "landscape_sr128",
    "landscape128_v4": "landscape_sr128",
    "landscape128_v5": "landscape_sr128",
    "landscape128_v5c": "landscape_sr128",
    "landscape128_v5t": "landscape_sr128",
    "landscape128_v5u": "landscape_sr128_v2",
    "landscape128_v5v": "landscape_sr128_v2",
    "landscape128_v5x": "landscape_sr128_v2",
    "landscape128_v5y": "landscape_sr128_v2",
    "landscape128_v5z": "landscape_sr128_v2",
}
SHIPPED = [g for g in UPSCALERS if (shipped_models_dir() / f"{g}.onnx").exists()]
pytestmark = pytest.mark.skipif(not SHIPPED, reason="no shipped generator is exported")


@pytest.fixture(scope="module")
def pipe() -> Pipeline:
    return Pipeline(ModelRegistry([shipped_models_dir()]), device="cpu")


@pytest.fixture(params=SHIPPED)
def generator(request) -> str:
    return request.param


def render(pipe: Pipeline, model: str, prompt: str, seeds=range(8), size: int = 64, assets=None, sketch=None):
    recipes = pipe.recipes_for(prompt, seed=seeds[0], count=len(seeds), model=model, size=size)
    images = pipe.render([r.replace(sketch=sketch) for r in recipes], assets=assets)
    return np.stack(images).astype(np.float32)


def test_registry_accepts_every_shipped_model():
    registry = ModelRegistry([shipped_models_dir()])
    assert not registry.problems, registry.problems
    names = {m.name: m for m in registry.models()}
    assert {"text_minilm", *SHIPPED, *(UPSCALERS[g] for g in SHIPPED)} <= set(names)
    for info in names.values():
        assert info.sha256 == sha256_file(info.path)
        assert info.manifest["training"] and info.manifest["license"]
    for name in SHIPPED:
        gen = names[name]
        assert gen.example_prompts and gen.concepts and len(gen.label_classes) == 11
        assert registry.upscaler_for(gen).name == UPSCALERS[name]
        assert registry.layout_prior_for(gen).name == "layout_prior64"  # 64 px maps also serve 128 px
    sharpest = max(SHIPPED, key=lambda g: (names[g].resolution, names[g].version_key))  # then newest
    assert Pipeline(registry, device="cpu").default_generator().name == sharpest


def test_render_is_deterministic_and_upscaled(pipe, generator):
    prompt = "a misty lake under snowy mountains at dawn"
    recipe = pipe.recipes_for(prompt, seed=3, count=1, model=generator, size=256)[0]
    first, second = pipe.render([recipe])[0], pipe.render([recipe])[0]
    assert first.shape == (256, 256, 3) and first.dtype == np.uint8
    assert np.array_equal(first, second)
    assert pipe.provider == "CPUExecutionProvider"


def test_seeds_give_varied_images(pipe, generator):
    images = render(pipe, generator, "a lake in the mountains in the afternoon")
    spread = np.std(images, axis=0).mean()  # per-pixel spread across seeds
    assert spread > 8, f"seeds barely change the picture (mean per-pixel std {spread:.1f})"


def test_prompt_sets_time_of_day(pipe, generator):
    night = render(pipe, generator, "a lake under the mountains at night with stars").mean()
    noon = render(pipe, generator, "a lake under the mountains at noon on a clear sunny day").mean()
    assert noon > night + 25, f"noon {noon:.0f} vs night {night:.0f}"


def test_a_wording_generator_follows_wording_it_never_learned(pipe) -> None:
    """landscape128_v5 reads "under the moon" as night in its own words (attribute wording): its
    night and noon pictures lie 130 grey levels apart where v4's lay 44 apart."""
    if "landscape128_v5" not in SHIPPED:
        pytest.skip("landscape128_v5 is not shipped")
    night = render(pipe, "landscape128_v5", "a creek next to a pasture under the moon").mean()
    noon = render(pipe, "landscape128_v5", "a creek next to a pasture under the high sun").mean()
    assert noon > night + 90, f"noon {noon:.0f} vs night {night:.0f}"


def test_prompt_sets_season(pipe, generator):
    winter = render(pipe, generator, "a snowy winter meadow during a snowfall")
    summer = render(pipe, generator, "a green summer meadow with flowers")
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


def test_sketch_controls_layout(pipe, generator):
    assets = MemoryAssets()
    water = assets.put(sketch_png([("sky", 24), ("water", 40)]))
    grass = assets.put(sketch_png([("sky", 24), ("grass", 40)]))
    prompt = "a landscape at noon"
    wet = render(pipe, generator, prompt, assets=assets, sketch=water)[:, 32:]
    green = render(pipe, generator, prompt, assets=assets, sketch=grass)[:, 32:]
    blue_minus_green = lambda im: (im[..., 2] - im[..., 1]).mean()  # noqa: E731
    assert blue_minus_green(wet) > blue_minus_green(green) + 10
    sky_then_ground = render(pipe, generator, prompt, assets=assets, sketch=grass)
    assert sky_then_ground[:, :16].mean() > sky_then_ground[:, 48:].mean()  # bright sky above darker grass


@pytest.mark.skipif(
    not {"landscape128_v5c", "landscape128_v5t"} <= set(SHIPPED), reason="v5c and v5t are not both shipped"
)
def test_v5t_is_v5c_fed_twice_the_latent(pipe: Pipeline) -> None:
    """landscape128_v5t ships v5c's weights at latent temperature 2: its picture of a seed is v5c's
    picture of twice that seed's latent, and its seeds differ more than v5c's."""
    warm = pipe.recipes_for(
        "a lake under mountains at dusk", seed=4, count=4, model="landscape128_v5t", size=128
    )
    z_dim = pipe.registry.get("landscape128_v5t").z_dim
    assert pipe.registry.get("landscape128_v5t").latent_temperature == 2.0
    twice = [
        r.replace(model="landscape128_v5c", latent=tuple((2 * r.latent_vector(z_dim)).tolist())) for r in warm
    ]
    plain = [r.replace(model="landscape128_v5c") for r in warm]
    pictures = [np.stack(pipe.render(group)).astype(np.float32) for group in (warm, twice, plain)]
    assert np.array_equal(pictures[0], pictures[1])
    assert pictures[0].std(0).mean() > pictures[2].std(0).mean()  # seeds spread further


@pytest.mark.skipif(
    not {"landscape128_v5t", "landscape128_v5u"} <= set(SHIPPED), reason="v5t and v5u are not both shipped"
)
def test_v5u_is_v5t_without_its_frame_and_sharper_at_256_px(pipe: Pipeline) -> None:
    """landscape128_v5u ships v5t's weights with edge_fill 6 and the sharper upscaler: at 128 px its
    interior is v5t's picture and its border the interior's mirror (v5t's frame of lines gone); at
    256 px it has more edge contrast than v5t through the old upscaler."""
    assert pipe.registry.get("landscape128_v5u").edge_fill == 6
    recipes = pipe.recipes_for("a stormy sea at dusk", seed=2, count=4, model="landscape128_v5t", size=128)
    old = np.stack(pipe.render(recipes)).astype(np.float32)
    new = np.stack(pipe.render([r.replace(model="landscape128_v5u") for r in recipes])).astype(np.float32)
    assert np.array_equal(old[:, 6:-6, 6:-6], new[:, 6:-6, 6:-6])
    assert np.array_equal(new[:, :, 5], new[:, :, 7]) and np.array_equal(new[:, 0], new[:, 12])
    edge = [np.abs(np.diff(x, axis=2))[:, :, :6].mean() for x in (old, new)]
    assert edge[1] < edge[0]  # the frame's lines were the strongest edges along the border

    def grad(images: list[np.ndarray]) -> float:
        gray = np.stack(images).astype(np.float32).mean(-1)[:, 16:-16, 16:-16]
        return float(np.abs(np.diff(gray, axis=1)).mean() + np.abs(np.diff(gray, axis=2)).mean())

    big = [r.replace(size=256) for r in recipes]
    assert grad(pipe.render([r.replace(model="landscape128_v5u") for r in big])) > grad(pipe.render(big))


@pytest.mark.skipif(
    not {"landscape128_v5u", "landscape128_v5v"} <= set(SHIPPED), reason="v5u and v5v are not both shipped"
)
def test_v5v_is_v5u_reflect_padded_with_no_frame_to_hide(pipe: Pipeline, tmp_path) -> None:
    """landscape128_v5v ships v5u's weights (the same initializers) with reflect padding from 64 px
    up and no edge fill: its border columns are no busier than its interior, as in the world's
    renders, where v5u's raw picture (before its edge fill) has a frame of lines."""
    import json
    import shutil

    import onnx
    from onnx import numpy_helper

    def weights(name: str) -> dict[str, np.ndarray]:
        graph = onnx.load(str(shipped_models_dir() / f"{name}.onnx")).graph
        return {t.name: numpy_helper.to_array(t) for t in graph.initializer if np.prod(t.dims) > 64}

    old, new = weights("landscape128_v5u"), weights("landscape128_v5v")
    assert old.keys() == new.keys() and all(np.array_equal(old[k], new[k]) for k in old)
    info = pipe.registry.get("landscape128_v5v")
    assert info.edge_fill == 0 and info.manifest["training"]["config"]["pad_mode"] == "reflect"
    shutil.copy(shipped_models_dir() / "landscape128_v5u.onnx", tmp_path / "v5u_raw.onnx")
    manifest = json.loads((shipped_models_dir() / "landscape128_v5u.json").read_text())
    manifest = {k: v for k, v in manifest.items() if k != "fp16"}  # the picture before its fill
    (tmp_path / "v5u_raw.json").write_text(json.dumps({**manifest, "name": "v5u_raw", "edge_fill": 0}))
    both = Pipeline(ModelRegistry([tmp_path, shipped_models_dir()]), device="cpu")
    recipes = both.recipes_for(
        "a calm lake under clouds in the morning", seed=3, count=6, model=info.name, size=128
    )
    pictures = [
        np.stack(both.render([r.replace(model=m) for r in recipes])).astype(np.float32)
        for m in ("v5u_raw", "landscape128_v5v")
    ]

    def border_over_interior(x: np.ndarray) -> float:
        columns = np.abs(np.diff(x, axis=2)).mean(axis=(0, 1, 3))
        return float(np.r_[columns[:3], columns[-3:]].mean() / np.median(columns))

    framed, clean = (border_over_interior(x) for x in pictures)
    assert framed > 1.5 and clean < 1.2  # the world's renders: about 0.95
