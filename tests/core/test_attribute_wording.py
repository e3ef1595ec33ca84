"""Attribute wording: a generator whose manifest asks for it (`attribute_wording`, landscape128_v5
on) reads its prompt with every given attribute said in its training wording, so held-out wording
("under the moon") and pinned attributes reach it as words it learned; other generators read the
prompt as typed, so their recipes render as before."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

pytest.importorskip("torch")  # the tiny attribute generator is exported with torch


from studio.inference.attributes import RECIPE_KEY  # noqa: E402
from studio.inference.pipeline import Pipeline  # noqa: E402
from studio.inference.registry import ModelRegistry  # noqa: E402
from studio.inference.sound_words import prompt_worded  # noqa: E402


@pytest.fixture(scope="module")
def pipe(attribute_models) -> Pipeline:
    models = attribute_models
    shutil.copy(models / "tiny-attr.onnx", models / "tiny-worded.onnx")
    manifest = json.loads((models / "tiny-attr.json").read_text())
    manifest.update(name="tiny-worded", attribute_wording=True)
    (models / "tiny-worded.json").write_text(json.dumps(manifest))
    return Pipeline(ModelRegistry([models]), device="cpu")


@pytest.mark.parametrize(
    ("prompt", "attributes", "expected"),
    [
        ("a creek under the moon", {"time": "night"}, "a creek at night"),
        ("a misty lake at dawn", {"time": "dawn", "weather": "foggy"}, "a lake at dawn in thick fog"),
        ("a lake", {"time": None, "season": "winter"}, "a lake in winter"),
        ("dunes at noon", {}, "dunes at noon"),
        # a word only the reader's families name stays: stored recipes keep the wording they rendered
        ("a thundery lake", {"weather": "stormy"}, "a thundery lake during a storm"),
    ],
)
def test_prompt_worded_says_each_given_attribute_in_training_words(prompt, attributes, expected) -> None:
    assert prompt_worded(prompt, attributes) == expected


def test_a_worded_generator_reads_its_attributes_in_training_words(pipe: Pipeline) -> None:
    prompt = "a creek next to a pasture under the moon"
    (worded,) = pipe.recipes_for(prompt, count=1, model="tiny-worded", size=16)
    (plain,) = pipe.recipes_for(prompt, count=1, model="tiny-attr", size=16)
    assert worded.extra[RECIPE_KEY]["time"] == "night"  # the reader found it in held-out wording
    info = pipe.registry.get("tiny-worded")
    said = prompt_worded(prompt, {"time": "night"})
    assert said == "a creek next to a pasture at night"
    assert np.allclose(pipe.recipe_conditioning(worded), pipe.encode_text(info, [said])[0], atol=1e-6)
    # a generator without the flag reads the prompt as typed: old recipes render as they did
    assert np.allclose(pipe.recipe_conditioning(plain), pipe.encode_text(info, [prompt])[0], atol=1e-6)
    # an attribute pinned over the prompt is said too, and re-renders the same
    pinned = worded.replace(
        extra={**worded.extra, RECIPE_KEY: {"time": "dawn", "weather": None, "season": None}}
    )
    assert np.allclose(
        pipe.recipe_conditioning(pinned),
        pipe.encode_text(info, ["a creek next to a pasture at dawn"])[0],
        atol=1e-6,
    )
    assert np.array_equal(pipe.render([pinned])[0], pipe.render([pinned])[0])
    assert not np.array_equal(pipe.render([pinned])[0], pipe.render([worded])[0])
