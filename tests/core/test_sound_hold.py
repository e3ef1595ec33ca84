"""Unticked changes: a sound edit leaves the groups the artist held as the picture has them, live
and committed, and a recipe that stored the groups it moves re-renders exactly that."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")  # the tiny attribute generator is exported with torch

from studio.audio.io import wav_bytes  # noqa: E402
from studio.inference.attributes import SOUND_KEY  # noqa: E402
from studio.inference.pipeline import MemoryAssets, Pipeline  # noqa: E402
from studio.inference.registry import ModelRegistry  # noqa: E402
from studio.world.sounds import synth  # noqa: E402


@pytest.fixture(scope="module")
def pipe(attribute_models) -> Pipeline:
    if not (attribute_models / "sound_encoder.json").exists():
        pytest.skip("the shipped sound encoder is not exported")
    return Pipeline(ModelRegistry([attribute_models]), device="cpu")


def test_held_groups_stay_live_and_committed(pipe: Pipeline) -> None:
    crickets = synth("crickets", np.random.default_rng(3), seconds=3.0)  # → night, summer
    (recipe,) = pipe.recipes_for("a lake at noon in winter", count=1, model="tiny-attr", size=16)
    assert pipe.live_sound(recipe, crickets, 0.8).extra[SOUND_KEY] == {"time": "night", "season": "summer"}
    live = pipe.live_sound(recipe, crickets, 0.8, hold={"time"})
    assert live.extra[SOUND_KEY] == {"season": "summer"}
    assets = MemoryAssets()
    sound = assets.put(wav_bytes(crickets, 16000))
    committed = recipe.replace(
        sound=sound, strength=0.8, extra={**recipe.extra, SOUND_KEY: {"season": "summer"}}
    )
    assert np.array_equal(pipe.render([committed], assets)[0], pipe.render([live])[0])
    assert not np.array_equal(pipe.render([live])[0], pipe.render([recipe])[0])


def test_holding_every_group_moves_nothing_and_blends_no_text(pipe: Pipeline) -> None:
    owl = synth("owl", np.random.default_rng(3), seconds=3.0)  # → night only
    (recipe,) = pipe.recipes_for("a lake at noon", count=1, model="tiny-attr", size=16)
    live = pipe.live_sound(recipe, owl, 0.8, hold=("time",))
    assert live.extra[SOUND_KEY] == {} and "text_embedding" not in live.extra
    assets = MemoryAssets()
    held = recipe.replace(
        sound=assets.put(wav_bytes(owl, 16000)), strength=0.8, extra={**recipe.extra, SOUND_KEY: {}}
    )
    plain = pipe.render([recipe])[0]
    assert np.array_equal(pipe.render([live])[0], plain)
    assert np.array_equal(pipe.render([held], assets)[0], plain)  # stored: nothing moves, no text blend
    assert np.array_equal(pipe.recipe_conditioning(held, assets), pipe.recipe_conditioning(recipe))


def test_a_sound_edit_says_its_move_in_words_too(pipe: Pipeline) -> None:
    """The text moves toward the prompt rewritten to the ticked attributes (not toward the sound,
    and not for the held groups): the generator follows its training wording best."""
    from studio.inference.audio_encoder import blend_toward
    from studio.inference.sound_words import prompt_moved

    crickets = synth("crickets", np.random.default_rng(3), seconds=3.0)  # → night, summer
    (recipe,) = pipe.recipes_for("a lake at noon in winter", count=1, model="tiny-attr", size=16)
    live = pipe.live_sound(recipe, crickets, 0.6, hold={"season"})
    assert live.extra[SOUND_KEY] == {"time": "night"}
    assert prompt_moved(recipe.prompt, live.extra[SOUND_KEY]) == "a lake in winter at night"
    words, moved = pipe.encode_text(
        pipe.registry.get("tiny-attr"), [recipe.prompt, "a lake in winter at night"]
    )
    assert np.allclose(pipe.recipe_conditioning(live), blend_toward(words, moved, 0.6), atol=1e-6)


@pytest.mark.parametrize(
    ("prompt", "moves", "expected"),
    [
        ("desert dunes at noon", {"time": "night"}, "desert dunes at night"),
        ("a misty lake at dawn", {"weather": "stormy"}, "a lake at dawn during a storm"),
        ("a lake at night", {"time": "night"}, "a lake at night"),  # already says it
        ("", {"time": "dawn"}, "at dawn"),
        ("a foggy forest, at midday", {"season": "winter"}, "a foggy forest, at midday in winter"),
    ],
)
def test_prompt_moved_cuts_the_old_phrase_and_adds_the_new(prompt, moves, expected) -> None:
    from studio.inference.sound_words import prompt_moved

    assert prompt_moved(prompt, moves) == expected


def test_without_attributes_keeps_what_a_caption_shows_and_drops_when_and_weather() -> None:
    """The text the generator's training gives beside every attribute (config text_drop)."""
    from studio.inference.attributes import read_attributes
    from studio.inference.sound_words import without_attributes
    from studio.world.scene import render_scenes

    assert without_attributes("a misty lake at night in winter") == "a lake"
    assert without_attributes(
        "a stream with a forest near the grassland under a grey sky at noon, in summer"
    ) == ("a stream with a forest near the grassland")
    for caption in render_scenes(40, seed=3, size=16).captions:
        plain = without_attributes(caption)
        assert all(hit is None for hit in read_attributes(plain).values()), (caption, plain)
