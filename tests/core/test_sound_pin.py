"""Recipes pin the sound encoder that heard their sound: installing a newer encoder must not change
how an old sound edit re-renders. Real shipped encoders, a real recording, real onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from studio.audio.io import SAMPLE_RATE
from studio.inference.manifest import ModelError
from studio.inference.pipeline import MemoryAssets, Pipeline
from studio.inference.registry import ModelRegistry
from studio.inference.sound_pin import LEGACY_ENCODER, SOUND_ENCODER_KEY
from studio.recipe import Recipe
from studio.recipe_diff import change_label, diff_recipes

RAIN = Path(__file__).resolve().parents[1] / "data" / "sounds" / "rain__pouring_on_cement.wav"
NEWER = "sound_encoder_real"


@pytest.fixture(scope="module")
def both(models_dir: Path) -> Pipeline:
    """The test models with the original and the newer sound encoder installed."""
    for name in (LEGACY_ENCODER, NEWER):
        if not (models_dir / f"{name}.json").exists():
            pytest.skip(f"the shipped {name} is not exported")
    return Pipeline(ModelRegistry([models_dir]), device="cpu")


def _without(models_dir: Path, folder: Path, name: str) -> Pipeline:
    """The same models less one (links to the same files): an install before or without it."""
    folder.mkdir()
    for path in models_dir.iterdir():
        if path.stem != name:
            (folder / path.name).symlink_to(path.resolve())
    return Pipeline(ModelRegistry([folder]), device="cpu")


def _rain_edit(pipe: Pipeline, assets: MemoryAssets) -> Recipe:
    base = pipe.recipes_for("a meadow at noon", seed=5, count=1, size=16)[0]
    return base.replace(sound=assets.put(RAIN.read_bytes(), "wav"), strength=0.8)


def test_old_recipe_rerenders_with_the_original_encoder_after_a_newer_is_installed(
    both: Pipeline, models_dir: Path, tmp_path: Path
) -> None:
    before = _without(models_dir, tmp_path / "before", NEWER)  # the install the node was made in
    assets = MemoryAssets()
    old = _rain_edit(before, assets)
    assert SOUND_ENCODER_KEY not in old.extra  # as every sound node made before the pin
    made = before.render([old], assets)[0]
    assert np.array_equal(both.render([old], assets)[0], made)
    assert both.audio_encoder_for(both.registry.get(old.model), old).name == LEGACY_ENCODER
    heard_by_newer = both.pin_sound_encoder(old)
    assert not np.array_equal(both.render([heard_by_newer], assets)[0], made)  # the pin matters


def test_new_sound_recipes_carry_the_newest_encoder(both: Pipeline, tmp_path: Path, monkeypatch) -> None:
    from studio.cli import main
    from studio.pngmeta import read_recipe

    newest = both.registry.get(NEWER)
    pin = f"{newest.name} {newest.version}"
    assets = MemoryAssets()
    edit = both.pin_sound_encoder(_rain_edit(both, assets))
    assert edit.extra[SOUND_ENCODER_KEY] == pin
    assert both.audio_encoder_for(both.registry.get(edit.model), edit) == newest
    assert np.array_equal(both.render([edit], assets)[0], both.render([edit], assets)[0])
    live = both.live_sound(edit.replace(sound=None, strength=0.0), np.zeros(SAMPLE_RATE, np.float32), 0.5)
    assert live.extra[SOUND_ENCODER_KEY] == pin
    assert change_label(diff_recipes(edit.replace(sound=None, strength=0.0), edit)) == "sound 0.8"

    monkeypatch.setenv("SYNESTHESIA_MODELS", str(both.registry.folders[0]))
    out = tmp_path / "rain.png"
    assert main(["generate", "a meadow", "--sound", str(RAIN), "--size", "16", "-o", str(out)]) == 0
    assert read_recipe(out).extra[SOUND_ENCODER_KEY] == pin


def test_a_pin_to_an_encoder_that_is_not_installed_is_a_clear_error(both: Pipeline) -> None:
    assets = MemoryAssets()
    edit = _rain_edit(both, assets)
    gone = edit.replace(extra={**edit.extra, SOUND_ENCODER_KEY: "sound_encoder_xl 3.0.900"})
    with pytest.raises(ModelError, match="sound_encoder_xl 3.0.900, which is not installed"):
        both.render([gone], assets)
    with pytest.raises(ModelError, match="NAME VERSION"):
        both.render([edit.replace(extra={**edit.extra, SOUND_ENCODER_KEY: "sound_encoder_real"})], assets)
    other_version = edit.replace(extra={**edit.extra, SOUND_ENCODER_KEY: f"{NEWER} 0.9"})
    both.drain_notices()
    assert np.array_equal(
        both.render([other_version], assets)[0], both.render([both.pin_sound_encoder(edit)], assets)[0]
    )
    assert any("0.9" in n and "may differ" in n for n in both.drain_notices())


def test_unpinned_recipe_without_the_original_installed_is_heard_by_the_newest_with_a_notice(
    both: Pipeline, models_dir: Path, tmp_path: Path
) -> None:
    after = _without(models_dir, tmp_path / "after", LEGACY_ENCODER)
    assets = MemoryAssets()
    old = _rain_edit(after, assets)
    assert np.array_equal(
        after.render([old], assets)[0], both.render([both.pin_sound_encoder(old)], assets)[0]
    )
    assert any(LEGACY_ENCODER in n and "may differ" in n for n in after.drain_notices())
