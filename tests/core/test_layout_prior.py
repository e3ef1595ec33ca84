"""The layout prior: built from the procedural world, hash-checked like every model, and used to
give text-only prompts a layout that fits their words, chosen by the seed, re-rendering exactly."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio import cli
from studio.export.layout_prior import LayoutConfig
from studio.inference.layout import pick_layouts
from studio.inference.manifest import ModelError
from studio.inference.pipeline import MemoryAssets, Pipeline, PipelineError
from studio.inference.registry import ModelRegistry, load_model
from studio.inference.sketch import index_png
from studio.world.classes import CLASS_INDEX

SHIPPED = Path(__file__).resolve().parents[2] / "exported_models"


@pytest.fixture(scope="module")
def shipped() -> Pipeline:
    if not (SHIPPED / "layout_prior64.onnx").is_file():
        pytest.skip("the shipped layout prior is not exported")
    return Pipeline(ModelRegistry([SHIPPED]), device="cpu")


def _layouts(pipe: Pipeline, prompt: str, seeds: range) -> tuple[list, MemoryAssets]:
    assets = MemoryAssets()
    recipes = pipe.imagine_layouts(
        pipe.recipes_for(prompt, seed=seeds.start, count=len(seeds), size=64), assets.put
    )
    return recipes, assets


def _classes(recipe, assets: MemoryAssets) -> set[int]:
    return set(np.unique(np.asarray(Image.open(io.BytesIO(assets.get(recipe.sketch))))).tolist())


def test_the_prompt_decides_what_the_layout_holds(shipped: Pipeline) -> None:
    snowy, snowy_assets = _layouts(shipped, "snowy mountain peaks above a calm lake", range(1, 7))
    dunes, dunes_assets = _layouts(shipped, "sand dunes in a hot desert", range(1, 7))
    with_snow = sum(CLASS_INDEX["snow"] in _classes(r, snowy_assets) for r in snowy)
    with_water = sum(CLASS_INDEX["water"] in _classes(r, snowy_assets) for r in snowy)
    with_sand = sum(CLASS_INDEX["sand"] in _classes(r, dunes_assets) for r in dunes)
    assert with_snow >= 5 and with_water >= 5 and with_sand == 6
    assert all(CLASS_INDEX["snow"] not in _classes(r, dunes_assets) for r in dunes)
    assert len({r.sketch for r in snowy}) >= 3  # seeds pick different layouts that all fit


def test_same_seed_same_layout_and_others_left_alone(shipped: Pipeline) -> None:
    first, _ = _layouts(shipped, "a forest at dusk", range(5, 6))
    again, _ = _layouts(shipped, "a forest at dusk", range(5, 6))
    assert first[0].sketch == again[0].sketch and first[0].extra["layout"] == again[0].extra["layout"]
    anything, _ = _layouts(shipped, "", range(1, 4))
    assert all(r.sketch is not None for r in anything)
    painted = shipped.recipes_for("a lake", count=1, size=64)[0].replace(sketch="a" * 64)
    edited = painted.replace(sketch=None, extra={"text_embedding": [0.0] * 384})
    assert shipped.imagine_layouts([painted, edited], MemoryAssets().put) == [painted, edited]


def test_an_imagined_layout_re_renders_without_its_asset(shipped: Pipeline) -> None:
    """A PNG made by `studio generate` without a project carries only the layout's number."""
    recipes, assets = _layouts(shipped, "a river through a green valley", range(3, 4))
    with_asset = shipped.render(recipes, assets)[0]
    without = shipped.render(recipes, MemoryAssets())[0]
    assert np.array_equal(with_asset, without)
    unknown = recipes[0].replace(extra={"layout": "layout_prior64 0.0.1 #3"})
    with pytest.raises(PipelineError, match="sketch asset"):
        shipped.render([unknown], MemoryAssets())


def test_pick_stays_within_the_margin() -> None:
    scores = np.array([[0.9, 0.85, 0.5, 0.84, 0.1]], np.float32)
    picks = {pick_layouts(scores, [seed], [False], 0.08, 24)[0] for seed in range(40)}
    assert picks == {0, 1, 3}
    assert {pick_layouts(scores, [s], [False], 0.08, 2)[0] for s in range(40)} == {0, 1}
    assert len({pick_layouts(scores, [s], [True], 0.08, 24)[0] for s in range(60)}) == 5


def test_build_from_the_cli_and_refuse_bad_manifests(
    tmp_path: Path, models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`studio train` builds a prior for the tiny generator; the registry checks it like any model."""
    folder = tmp_path / "models"
    shutil.copytree(models_dir, folder, symlinks=True)
    config = tmp_path / "tiny.json"
    config.write_text(
        json.dumps(
            {
                "kind": "layout_prior",
                "name": "tiny-layout",
                "generator": "tiny-gen",
                "scenes": 12,
                "captions_per_scene": 2,
                "eval_queries": 8,
            }
        )
    )
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(folder))
    assert cli.main(["train", "--config", str(config), "--out", str(folder)]) == 0
    info = load_model(folder / "tiny-layout.json")
    assert info.kind == "layout_prior" and info.resolution == 16 and info.dim == 384
    manifest = json.loads((folder / "tiny-layout.json").read_text())
    assert manifest["training"]["config"]["scenes"] == 12
    assert 0 <= manifest["metrics"]["heldout_feature_jaccard_top1"] <= 1
    registry = ModelRegistry([folder])
    assert registry.layout_prior_for(registry.get("tiny-gen")).name == "tiny-layout"
    pipe = Pipeline(registry, device="cpu")
    assets = MemoryAssets()
    recipes = pipe.imagine_layouts(pipe.recipes_for("a lake", count=2, size=16), assets.put)
    assert len(pipe.render(recipes, assets)) == 2
    manifest["pick"]["margin"] = 2
    (folder / "tiny-layout.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match="pick.margin"):
        load_model(folder / "tiny-layout.json")


def test_config_mistakes_are_named() -> None:
    with pytest.raises(ValueError, match="unknown"):
        LayoutConfig.from_dict({"kind": "layout_prior", "scens": 10})
    with pytest.raises(ValueError, match="scenes"):
        LayoutConfig.from_dict({"kind": "layout_prior", "scenes": 2})
    assert index_png(np.zeros((4, 4), np.uint8))[:4] == b"\x89PNG"
