"""The procedural world: determinism, shapes, label/attribute consistency, captions."""

from __future__ import annotations

import re

import numpy as np
import pytest

from studio.world.captions import (
    EVAL_ONLY_PHRASES,
    FEATURES,
    SEASONS,
    TIMES,
    WEATHERS,
    CaptionError,
    attributes_from_text,
    make_caption,
)
from studio.world.classes import CLASS_INDEX, LABEL_CLASSES, NUM_CLASSES
from studio.world.scene import SceneError, render_scene, render_scenes, sample_attributes
from studio.world.sheet import contact_sheet, main

FEATURE_CLASSES = {
    "mountains": {"mountain"},
    "snowy peaks": {"snow"},
    "lake": {"water"},
    "sea": {"water"},
    "river": {"water"},
    "forest": {"tree"},
    "meadow": {"grass", "snow", "flower"},
    "rocks": {"rock"},
    "beach": {"sand"},
    "dunes": {"sand"},
    "flowers": {"flower"},
}


@pytest.fixture(scope="module")
def batch():
    return render_scenes(48, seed=7, size=64)


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(r"(?<![\w-])" + re.escape(phrase) + r"(?![\w-])", text) is not None


def test_classes_contract():
    names = [c.name for c in LABEL_CLASSES]
    assert names == [
        "unknown",
        "sky",
        "cloud",
        "mountain",
        "snow",
        "rock",
        "water",
        "sand",
        "grass",
        "tree",
        "flower",
    ]
    assert NUM_CLASSES == 11 and [c.index for c in LABEL_CLASSES] == list(range(11))
    assert len({c.color for c in LABEL_CLASSES}) == 11


def test_shapes_dtypes_and_ranges(batch):
    assert batch.images.shape == (48, 64, 64, 3) and batch.images.dtype == np.uint8
    assert batch.labels.shape == (48, 64, 64) and batch.labels.dtype == np.uint8
    assert batch.labels.min() >= 1 and batch.labels.max() < NUM_CLASSES
    assert len(batch.attributes) == len(batch.captions) == 48
    for attrs in batch.attributes:
        assert attrs["time"] in TIMES and attrs["weather"] in WEATHERS and attrs["season"] in SEASONS
        assert attrs["features"] == sorted(attrs["features"]) and set(attrs["features"]) <= set(FEATURES)


def test_deterministic_and_split_only_changes_captions():
    a = render_scenes(4, seed=3, size=48)
    b = render_scenes(4, seed=3, size=48)
    c = render_scenes(4, seed=3, size=48, split="eval")
    assert np.array_equal(a.images, b.images) and np.array_equal(a.labels, b.labels)
    assert a.captions == b.captions and a.attributes == b.attributes
    assert np.array_equal(a.images, c.images) and a.attributes == c.attributes and a.captions != c.captions
    assert not np.array_equal(a.images, render_scenes(4, seed=4, size=48).images)
    # scene i does not depend on n
    assert np.array_equal(render_scenes(2, seed=3, size=48).images, a.images[:2])


def test_same_scene_at_every_size():
    small, large = render_scenes(3, seed=11, size=32), render_scenes(3, seed=11, size=128)
    assert small.attributes == large.attributes
    down = large.labels[:, 2::4, 2::4]
    assert (down == small.labels).mean() > 0.85


def test_labels_match_attributes(batch):
    for labels, attrs in zip(batch.labels, batch.attributes, strict=True):
        present = {LABEL_CLASSES[i].name for i in np.unique(labels)}
        assert labels[0].mean() < CLASS_INDEX["mountain"] or "sky" in present  # sky or cloud on top row
        assert set(np.unique(labels[0])) <= {
            CLASS_INDEX["sky"],
            CLASS_INDEX["cloud"],
            CLASS_INDEX["mountain"],
        }
        for feature in attrs["features"]:
            assert FEATURE_CLASSES[feature] & present, (feature, attrs, present)
        if attrs["season"] == "winter" and "meadow" in attrs["features"]:
            assert "snow" in present
    assert np.mean([len(np.unique(lab)) >= 4 for lab in batch.labels]) > 0.8


def test_night_is_dark_and_noon_bright():
    rng = np.random.default_rng(0)
    base = {"weather": "clear", "season": "summer", "features": ["meadow"]}
    night, night_lab = render_scene({**base, "time": "night"}, rng, 64)
    noon, noon_lab = render_scene({**base, "time": "noon"}, np.random.default_rng(0), 64)
    night_sky = night[night_lab == CLASS_INDEX["sky"]].mean()
    noon_sky = noon[noon_lab == CLASS_INDEX["sky"]].mean()
    assert night_sky < 60 < noon_sky


def test_render_scene_follows_given_attributes():
    attrs = {"time": "sunset", "weather": "clear", "season": "summer", "features": ["lake", "mountains"]}
    image, labels = render_scene(attrs, np.random.default_rng(5), 96)
    assert image.shape == (96, 96, 3) and labels.shape == (96, 96)
    present = set(np.unique(labels))
    assert {CLASS_INDEX["water"], CLASS_INDEX["mountain"], CLASS_INDEX["sky"]} <= present
    winter = {"time": "noon", "weather": "snowy", "season": "winter", "features": ["meadow"]}
    _, labels = render_scene(winter, np.random.default_rng(5), 64)
    assert (labels == CLASS_INDEX["snow"]).mean() > 0.2


def test_bad_input_gives_clear_errors():
    rng = np.random.default_rng(0)
    good = {"time": "noon", "weather": "clear", "season": "summer", "features": ["lake"]}
    with pytest.raises(SceneError, match="time"):
        render_scene({**good, "time": "teatime"}, rng, 64)
    with pytest.raises(SceneError, match="features"):
        render_scene({**good, "features": ["volcano"]}, rng, 64)
    with pytest.raises(SceneError, match="dict"):
        render_scene("lake", rng, 64)
    with pytest.raises(SceneError, match="size"):
        render_scene(good, rng, 4)
    with pytest.raises(SceneError, match="split"):
        render_scenes(1, 0, 64, split="test")
    with pytest.raises(SceneError, match="n must"):
        render_scenes(-1, 0, 64)
    with pytest.raises(CaptionError, match="features"):
        make_caption({**good, "features": []}, rng)
    assert render_scenes(0, 0, 32).images.shape == (0, 32, 32, 3)


def test_captions_mention_and_round_trip_attributes():
    rng = np.random.default_rng(1)
    for split in ("train", "eval"):
        for _ in range(300):
            attrs = sample_attributes(rng)
            caption = make_caption(attrs, rng, split)
            parsed = attributes_from_text(caption)
            assert parsed["time"] == attrs["time"], caption
            assert parsed["weather"] == attrs["weather"], caption
            assert parsed["season"] == attrs["season"], caption
            assert parsed["features"] and set(parsed["features"]) <= set(attrs["features"]), (caption, attrs)


def test_eval_phrasings_are_held_out():
    rng = np.random.default_rng(2)
    train = {make_caption(sample_attributes(rng), rng, "train") for _ in range(1500)}
    evals = {make_caption(sample_attributes(rng), rng, "eval") for _ in range(300)}
    assert not train & evals
    for caption in train:
        assert not any(_has_phrase(caption, p) for p in EVAL_ONLY_PHRASES if p != ":"), caption
        assert ":" not in caption
    for caption in evals:
        assert any(_has_phrase(caption, p) for p in EVAL_ONLY_PHRASES if p != ":") or ":" in caption
    assert len(train) > 1000  # wording varies


def test_attributes_from_text_on_free_prompts():
    parsed = attributes_from_text("A misty lake under snowy mountains at dawn")
    assert parsed == {
        "time": "dawn",
        "weather": "foggy",
        "season": None,
        "features": ["lake", "mountains", "snowy peaks"],
    }
    assert attributes_from_text("a pine forest in winter at night")["features"] == ["forest"]
    assert attributes_from_text("") == {"time": None, "weather": None, "season": None, "features": None}


def test_contact_sheet_cli(tmp_path):
    sheet = contact_sheet(render_scenes(4, 0, 32), columns=2)
    assert sheet.size[0] == 2 * (32 + 8)
    out = tmp_path / "sheet.png"
    assert main([str(out), "--n", "3", "--size", "32"]) == 0
    assert out.stat().st_size > 0
    with pytest.raises(SystemExit):
        main([str(out), "--n", "0"])
