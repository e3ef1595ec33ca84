"""Input gains a generator's manifest may set: `attribute_gain` feeds the given attributes times that
gain (guidance: weak values such as morning show more often), `latent_temperature` feeds z times
that temperature (seeds and sliders reach further); generators without them render as before, and a
manifest with a value outside 1..4 is refused with a clear message."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")  # the tiny attribute generator is exported with torch

from tiny_models import model_variant  # noqa: E402

from studio.inference.attributes import RECIPE_KEY  # noqa: E402
from studio.inference.manifest import ModelError, parse_manifest  # noqa: E402
from studio.inference.pipeline import Pipeline  # noqa: E402
from studio.inference.registry import ModelRegistry  # noqa: E402


@pytest.fixture(scope="module")
def models(attribute_models):
    folder = attribute_models
    model_variant(folder, "tiny-attr", "tiny-gain", attribute_gain=2.5)
    model_variant(folder, "tiny-attr", "tiny-warm", latent_temperature=2.0)
    return folder


def test_a_gained_generator_is_fed_its_attributes_times_the_gain(models) -> None:
    pipe = Pipeline(ModelRegistry([models]), device="cpu")
    assert pipe.registry.get("tiny-gain").attribute_gain == 2.5
    assert pipe.registry.get("tiny-attr").attribute_gain == 1.0
    night = {"time": "night", "weather": None, "season": None}
    (plain,) = pipe.recipes_for("a lake", count=1, model="tiny-attr", size=16)
    plain = plain.replace(extra={**plain.extra, RECIPE_KEY: night})
    gained = plain.replace(model="tiny-gain")
    rows = [pipe._attribute_row(pipe.registry.get(r.model), r, None) for r in (plain, gained)]
    assert rows[0].max() == 1.0 and np.allclose(rows[1], 2.5 * rows[0])
    pictures = [pipe.render([r])[0] for r in (plain, gained, gained)]
    assert not np.array_equal(pictures[0], pictures[1]) and np.array_equal(pictures[1], pictures[2])


def test_a_warmed_generator_renders_the_recipe_latent_times_its_temperature(models) -> None:
    pipe = Pipeline(ModelRegistry([models]), device="cpu")
    assert pipe.registry.get("tiny-warm").latent_temperature == 2.0
    assert pipe.registry.get("tiny-attr").latent_temperature == 1.0
    (warm,) = pipe.recipes_for("a lake", seed=3, count=1, model="tiny-warm", size=16)
    z = warm.latent_vector(pipe.registry.get("tiny-warm").z_dim)
    doubled = warm.replace(model="tiny-attr", latent=tuple((2 * z).tolist()))
    pictures = pipe.render([warm, doubled, warm.replace(model="tiny-attr")])
    assert np.array_equal(pictures[0], pictures[1])  # z × 2 inside is the same picture as 2z outside
    assert not np.array_equal(pictures[0], pictures[2])


@pytest.mark.parametrize("key", ["attribute_gain", "latent_temperature"])
@pytest.mark.parametrize("bad", [0.5, 5, "strong", float("nan"), True])
def test_a_gain_outside_one_to_four_is_refused(models, key, bad) -> None:
    path = models / "tiny-gain.json"
    data = json.loads(path.read_text())
    with pytest.raises(ModelError, match=key):
        parse_manifest(path, {**data, key: bad})
