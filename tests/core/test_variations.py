"""Variations core: jitter, interpolation, breeding and discovered controls, on the tiny real models."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from studio.recipe import Recipe, latent_for_seed
from studio.variations import (
    Direction,
    VariationError,
    apply_directions,
    breed,
    directions_from_json,
    directions_to_json,
    interpolate,
    jitter,
    principal_directions,
    recipe_embedder,
)

Z = 8


def _recipe(seed: int, prompt: str = "a lake", **changes) -> Recipe:
    return Recipe(model="tiny-gen", model_version="1.0", seed=seed, prompt=prompt, size=32, **changes)


def _fake_embed(recipe: Recipe) -> np.ndarray:
    """A deterministic stand-in for the text encoder: a unit vector per prompt (or the explicit one)."""
    if "text_embedding" in recipe.extra:
        return np.asarray(recipe.extra["text_embedding"])
    vector = np.random.default_rng(zlib.crc32(recipe.prompt.encode())).standard_normal(16)
    return vector / np.linalg.norm(vector)


def test_jitter_strength_zero_keeps_the_latent() -> None:
    base = _recipe(5)
    children = jitter(base, Z, 0.0, 3, seed=1)
    assert len(children) == 3
    for child in children:
        np.testing.assert_allclose(child.latent_vector(Z), latent_for_seed(5, Z), atol=1e-6)
        assert (child.prompt, child.sketch, child.sound, child.seed) == (base.prompt, None, None, 5)


def test_jitter_strength_one_is_independent_of_the_parent() -> None:
    a = jitter(_recipe(5), 64, 1.0, 2, seed=7)
    b = jitter(_recipe(6), 64, 1.0, 2, seed=7)
    for x, y in zip(a, b, strict=True):  # the parent's latent plays no part any more
        np.testing.assert_allclose(x.latent_vector(64), y.latent_vector(64), atol=1e-6)
    correlation = np.corrcoef(a[0].latent_vector(64), latent_for_seed(5, 64))[0, 1]
    assert abs(correlation) < 0.5


def test_jitter_is_deterministic_and_stays_gaussian() -> None:
    assert jitter(_recipe(5), Z, 0.4, 4, seed=3) == jitter(_recipe(5), Z, 0.4, 4, seed=3)
    assert jitter(_recipe(5), Z, 0.4, 4, seed=3) != jitter(_recipe(5), Z, 0.4, 4, seed=4)
    many = np.stack([c.latent_vector(512) for c in jitter(_recipe(5), 512, 0.6, 16, seed=0)])
    assert 0.9 < many.std() < 1.1
    children = jitter(_recipe(5), Z, 0.3, 4, seed=0)
    assert len({c.latent for c in children}) == 4


@pytest.mark.parametrize(
    ("strength", "count"), [(-0.1, 2), (1.5, 2), (float("nan"), 2), (0.5, 0), (0.5, 1000)]
)
def test_jitter_refuses_bad_input(strength: float, count: int) -> None:
    with pytest.raises(VariationError):
        jitter(_recipe(1), Z, strength, count, seed=0)


def test_interpolation_ends_reproduce_both_nodes_and_moves_monotonically() -> None:
    a, b = _recipe(1, "a lake"), _recipe(2, "a desert at night", latent=tuple(float(i) for i in range(Z)))
    frames = interpolate(a, b, 9, _fake_embed, Z)
    assert len(frames) == 9
    np.testing.assert_array_equal(frames[0].latent_vector(Z), latent_for_seed(1, Z))
    np.testing.assert_array_equal(frames[-1].latent_vector(Z), b.latent_vector(Z))
    np.testing.assert_allclose(frames[0].extra["text_embedding"], _fake_embed(a), atol=1e-12)
    np.testing.assert_allclose(frames[-1].extra["text_embedding"], _fake_embed(b), atol=1e-12)
    za = latent_for_seed(1, Z)
    ea = _fake_embed(a)
    latent_steps = [np.linalg.norm(f.latent_vector(Z) - za) for f in frames]
    embed_steps = [np.linalg.norm(np.asarray(f.extra["text_embedding"]) - ea) for f in frames]
    assert all(x < y for x, y in zip(latent_steps, latent_steps[1:], strict=False))
    assert all(x < y for x, y in zip(embed_steps, embed_steps[1:], strict=False))
    # slerp keeps the latent on the shell: no washed-out midpoint
    norms = [np.linalg.norm(f.latent_vector(Z)) for f in frames]
    assert min(norms) >= min(norms[0], norms[-1]) - 1e-5


def test_interpolation_refuses_bad_input() -> None:
    with pytest.raises(VariationError, match="frames"):
        interpolate(_recipe(1), _recipe(2), 1, _fake_embed, Z)
    other = Recipe(model="other", model_version="1", seed=1)
    with pytest.raises(VariationError, match="models"):
        interpolate(_recipe(1), other, 4, _fake_embed, Z)
    with pytest.raises(VariationError, match="latent"):
        interpolate(_recipe(1, latent=(1.0, 2.0)), _recipe(2), 4, _fake_embed, Z)


def test_breed_of_identical_parents_is_that_parent() -> None:
    parent = _recipe(3, "snowy peaks", sketch="ab" * 32)
    child = breed([parent, parent, parent], [0.2, 0.5, 0.3], _fake_embed, Z)
    np.testing.assert_allclose(child.latent_vector(Z), parent.latent_vector(Z), atol=1e-5)
    np.testing.assert_allclose(child.extra["text_embedding"], _fake_embed(parent), atol=1e-6)
    assert child.sketch == parent.sketch and child.prompt == parent.prompt


def test_breed_mixes_by_weight_and_takes_the_first_sketch() -> None:
    a, b = _recipe(1, "a lake"), _recipe(2, "a forest", sketch="cd" * 32)
    towards_a = breed([a, b], [0.9, 0.1], _fake_embed, Z).latent_vector(Z)
    towards_b = breed([a, b], [0.1, 0.9], _fake_embed, Z).latent_vector(Z)
    za, zb = latent_for_seed(1, Z), latent_for_seed(2, Z)
    assert np.linalg.norm(towards_a - za) < np.linalg.norm(towards_a - zb)
    assert np.linalg.norm(towards_b - zb) < np.linalg.norm(towards_b - za)
    assert breed([a, b], None, _fake_embed, Z).sketch == b.sketch


@pytest.mark.parametrize(
    ("count", "weights", "match"),
    [
        (1, None, "2 to 4"),
        (5, None, "2 to 4"),
        (2, [1.0], "one weight"),
        (2, [-1.0, 2.0], "negative"),
        (2, [0, 0], "zero"),
    ],
)
def test_breed_refuses_bad_input(count: int, weights, match: str) -> None:
    with pytest.raises(VariationError, match=match):
        breed([_recipe(i) for i in range(count)], weights, _fake_embed, Z)


def test_breed_refuses_parents_of_different_models() -> None:
    with pytest.raises(VariationError, match="one model"):
        breed([_recipe(1), Recipe(model="other", model_version="1", seed=2)], None, _fake_embed, Z)


def test_recipe_embedder_uses_the_real_text_encoder(pipeline) -> None:
    embed = recipe_embedder(pipeline)
    info = pipeline.registry.get("tiny-gen")
    lake = embed(_recipe(1, "a lake"))
    np.testing.assert_allclose(lake, pipeline.encode_text(info, ["a lake"])[0], atol=1e-6)
    explicit = _recipe(1, extra={"text_embedding": [0.5] * len(lake)})
    np.testing.assert_allclose(embed(explicit), 0.5)


def test_interpolated_frames_render_with_the_real_pipeline(pipeline) -> None:
    a, b = _recipe(1, "a lake"), _recipe(2, "a desert")
    frames = interpolate(a, b, 4, recipe_embedder(pipeline), Z)
    images = pipeline.render(frames, preview=True)
    np.testing.assert_array_equal(images[0], pipeline.render([a], preview=True)[0])
    np.testing.assert_array_equal(images[-1], pipeline.render([b], preview=True)[0])


def test_principal_directions_are_named_unit_vectors_that_matter(pipeline) -> None:
    directions = principal_directions(pipeline, "tiny-gen", n_samples=128, k=4, seed=0)
    assert len(directions) == 4
    assert len({d.name for d in directions}) == 4 and all(d.name and d.changes for d in directions)
    for d in directions:
        assert len(d.vector) == Z
        assert np.linalg.norm(d.vector) == pytest.approx(1.0, abs=1e-5)
    variances = [d.variance for d in directions]
    assert variances == sorted(variances, reverse=True) and 0 < sum(variances) <= 1
    assert principal_directions(pipeline, "tiny-gen", n_samples=128, k=4, seed=0) is directions  # cached

    # a real measurement: moving along direction 0 changes the renders more than random directions do
    rng = np.random.default_rng(1)
    bases = [_recipe(int(s), "") for s in rng.integers(0, 10_000, 12)]
    step = {"amount": 2.0}

    def change(vector: np.ndarray) -> float:
        moved = [
            apply_directions(r, Z, {"d": step["amount"]}, [Direction("d", tuple(vector), 0, "")])
            for r in bases
        ]
        before = np.stack(pipeline.render(bases, preview=True)).astype(np.float64)
        after = np.stack(pipeline.render(moved, preview=True)).astype(np.float64)
        return float(np.abs(after - before).mean())

    principal = change(np.asarray(directions[0].vector))
    randoms = []
    for _ in range(8):
        v = rng.standard_normal(Z)
        randoms.append(change(v / np.linalg.norm(v)))
    assert principal > float(np.mean(randoms))


def test_apply_directions_moves_along_the_named_vector() -> None:
    d = Direction("brightness", tuple([1.0] + [0.0] * (Z - 1)), 0.3, "darker ↔ brighter")
    moved = apply_directions(_recipe(4), Z, {"brightness": 1.5}, [d])
    expected = latent_for_seed(4, Z).copy()
    expected[0] += 1.5
    np.testing.assert_allclose(moved.latent_vector(Z), expected, atol=1e-6)
    with pytest.raises(VariationError, match="no discovered control"):
        apply_directions(_recipe(4), Z, {"warmth": 1.0}, [d])
    with pytest.raises(VariationError, match="finite"):
        apply_directions(_recipe(4), Z, {"brightness": float("inf")}, [d])
    with pytest.raises(VariationError, match="latent has"):
        apply_directions(_recipe(4), 4, {"brightness": 1.0}, [d])


def test_directions_round_trip_through_json_and_refuse_garbage() -> None:
    d = Direction("warmth", (0.6, 0.8), 0.25, "cooler ↔ warmer colours")
    assert directions_from_json(directions_to_json([d])) == [d]
    with pytest.raises(VariationError):
        directions_from_json({"not": "a list"})
    with pytest.raises(VariationError, match="unreadable"):
        directions_from_json([{"name": "x"}])


def test_principal_directions_refuse_bad_sizes(pipeline) -> None:
    with pytest.raises(VariationError, match="samples"):
        principal_directions(pipeline, "tiny-gen", n_samples=2)
    with pytest.raises(VariationError, match="k must"):
        principal_directions(pipeline, "tiny-gen", k=99)
