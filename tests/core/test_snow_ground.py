"""Snow on the ground: a sound that brings winter or snowfall also turns the layout's grass and
flowers to snow (the world never shows grass under falling snow), stored with the recipe's other
changes, untickable, and absent from older recipes, which render as they did."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")  # the tiny attribute generator is exported with torch

from tiny_models import GEN_RES  # noqa: E402

from studio.audio.io import SAMPLE_RATE, wav_bytes, write_wav  # noqa: E402
from studio.inference.attributes import SOUND_KEY  # noqa: E402
from studio.inference.layout import index_png  # noqa: E402
from studio.inference.pipeline import MemoryAssets, Pipeline  # noqa: E402
from studio.inference.registry import ModelRegistry  # noqa: E402
from studio.inference.sound_ground import snow_ground  # noqa: E402
from studio.world.classes import LABEL_CLASSES  # noqa: E402
from studio.world.sounds import synth  # noqa: E402

NAMES = [c.name for c in LABEL_CLASSES]
WINTER = {"weather": "snowy", "season": "winter"}


def _index(name: str) -> int:
    return NAMES.index(name)


@pytest.fixture(scope="module")
def models(attribute_models) -> Path:
    if not (attribute_models / "sound_encoder.json").exists():
        pytest.skip("the shipped sound encoder is not exported")
    return attribute_models


@pytest.fixture(scope="module")
def pipe(models: Path) -> Pipeline:
    return Pipeline(ModelRegistry([models]), device="cpu")


def _meadow() -> np.ndarray:
    """Sky on top, sand on the left, grass with a flower patch on the right."""
    labels = np.full((GEN_RES, GEN_RES), _index("sky"), np.uint8)
    labels[8:, :6] = _index("sand")
    labels[8:, 6:] = _index("grass")
    labels[12:, 10:] = _index("flower")
    return labels


def _sketched(pipe: Pipeline, assets: MemoryAssets, labels: np.ndarray):
    (recipe,) = pipe.recipes_for("a meadow at noon in summer", count=1, model="tiny-attr", size=GEN_RES)
    return recipe.replace(sketch=assets.put(index_png(labels)))


def test_a_blizzard_lays_snow_on_grass_and_flowers_as_a_relabelled_sketch_would(pipe: Pipeline) -> None:
    blizzard = synth("blizzard", np.random.default_rng(4), seconds=3.0)
    assets = MemoryAssets()
    recipe = _sketched(pipe, assets, _meadow())
    live = pipe.live_sound(recipe, blizzard, 1.0)
    assert live.extra[SOUND_KEY] == {**WINTER, "ground": "snow"}
    held = pipe.live_sound(recipe, blizzard, 1.0, hold={"ground"})
    assert held.extra[SOUND_KEY] == WINTER

    winter = _meadow()
    winter[np.isin(winter, (_index("grass"), _index("flower")))] = _index("snow")  # sand and sky stay
    drawn = held.replace(sketch=assets.put(index_png(winter)))
    snowed = pipe.render([live], assets)[0]
    assert np.array_equal(snowed, pipe.render([drawn], assets)[0])
    assert not np.array_equal(snowed, pipe.render([held], assets)[0])

    older = recipe.replace(  # stored before ground was a change: renders as it did
        sound=assets.put(wav_bytes(blizzard, SAMPLE_RATE)),
        strength=1.0,
        extra={**recipe.extra, SOUND_KEY: WINTER},
    )
    assert np.array_equal(pipe.render([older], assets)[0], pipe.render([held], assets)[0])


def test_only_wintry_changes_bring_snow_and_the_strength_scales_it(pipe: Pipeline) -> None:
    info = pipe.registry.get("tiny-attr")
    owl = synth("owl", np.random.default_rng(3), seconds=3.0)
    steps = synth("snow_crunch", np.random.default_rng(3), seconds=3.0)
    vectors = [pipe.encode_sound(info, s) for s in (owl, steps)]
    assert pipe.sound_moves(info, vectors[0]) == {"time": "night"}
    assert pipe.sound_moves(info, vectors[1]) == {"season": "winter", "ground": "snow"}

    onehot = np.eye(len(NAMES), dtype=np.float32)[_meadow()].transpose(2, 0, 1)
    half = snow_ground(onehot, NAMES, 0.5)
    grass = _meadow() == _index("grass")
    assert np.allclose(half[_index("snow")][grass], 0.5) and np.allclose(half[_index("grass")][grass], 0.5)
    assert np.array_equal(half[_index("sand")], onehot[_index("sand")])
    assert np.allclose(half.sum(0), 1.0)
    assert snow_ground(onehot, NAMES, 0.0) is onehot


def test_the_cli_stores_what_a_sound_changes_and_keep_leaves_a_part_alone(
    models: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    from studio.cli import main
    from studio.pngmeta import read_recipe

    monkeypatch.setenv("SYNESTHESIA_MODELS", str(models))
    wav = tmp_path / "blizzard.wav"
    write_wav(wav, synth("blizzard", np.random.default_rng(4), seconds=3.0), SAMPLE_RATE)
    sketch = tmp_path / "meadow.png"
    sketch.write_bytes(index_png(_meadow()))
    base = [
        "generate",
        "a meadow",
        "--model",
        "tiny-attr",
        "--sketch",
        str(sketch),
        "--sound",
        str(wav),
        "--closest",
    ]
    out = tmp_path / "out.png"
    assert main([*base, "--strength", "1", "-o", str(out), "--device", "cpu"]) == 0
    assert read_recipe(out).extra[SOUND_KEY] == {**WINTER, "ground": "snow"}
    kept = tmp_path / "kept.png"
    assert main([*base, "--strength", "1", "--keep", "ground", "-o", str(kept), "--device", "cpu"]) == 0
    assert read_recipe(kept).extra[SOUND_KEY] == WINTER
    capsys.readouterr()
    every = ["--keep", "weather", "--keep", "season", "--keep", "ground"]
    assert main([*base, *every, "-o", str(tmp_path / "none.png"), "--device", "cpu"]) == 2
    assert "--keep leaves nothing" in capsys.readouterr().err
    assert main(["generate", "a meadow", "--keep", "time", "-o", str(kept), "--device", "cpu"]) == 2
    assert "--keep needs --sound" in capsys.readouterr().err
