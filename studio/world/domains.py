"""Picture domains for unpaired translation (day ↔ night, summer ↔ winter), drawn from the world.

A domain is a set of allowed values per scene attribute. Scenes of a domain are drawn by
rejection: the world's own attribute sampler (which keeps scenes coherent: no flowers in winter,
no snowy dunes) is asked until it gives a scene the domain allows, so a domain keeps the world's
variety of terrain and weather. Scene j of a domain depends only on (domain, seed, j, size), like
`render_scenes`; two domains drawn with their own seeds are unpaired.
"""

from __future__ import annotations

import numpy as np

from studio.world.captions import SEASONS, TIMES, WEATHERS
from studio.world.classes import CLASS_INDEX, NUM_CLASSES
from studio.world.scene import SceneBatch, SceneError, render_scene, sample_attributes

DAY_TIMES = ("morning", "noon", "afternoon")
DOMAINS: dict[str, dict[str, tuple[str, ...]]] = {
    "day": {"time": DAY_TIMES},
    "night": {"time": ("night",)},
    # seasons by daylight: a winter night and a summer night look nearly alike
    "summer": {"season": ("summer",), "time": DAY_TIMES},
    "winter": {"season": ("winter",), "time": DAY_TIMES},
}
# Classes a change of domain legitimately swaps, so "layout kept" reads them as one: the world's
# winter covers grass and flowers with snow (of the same scenes' pixels, grass → snow 0.82 and
# flower → snow 0.78 over 48 summer scenes moved to winter; docs/translate_summer_winter_v2.md).
LAYOUT_MERGES: dict[frozenset[str], tuple[tuple[str, ...], ...]] = {
    frozenset({"summer", "winter"}): (("grass", "flower", "snow"),),
}
_GROUP_VALUES = {"time": TIMES, "weather": WEATHERS, "season": SEASONS}
_MAX_TRIES = 10_000


def domain_names() -> tuple[str, ...]:
    return tuple(DOMAINS)


def allows(domain: str, attrs: dict) -> bool:
    """Whether a scene with these attributes belongs to the domain."""
    return all(attrs[group] in values for group, values in _spec(domain).items())


def _spec(domain: str) -> dict[str, tuple[str, ...]]:
    try:
        return DOMAINS[domain]
    except KeyError:
        raise SceneError(f"unknown domain {domain!r}; the world draws {', '.join(DOMAINS)}") from None


def deciding_group(domain_a: str, domain_b: str) -> str:
    """The attribute group that tells the two domains apart (time for day/night, season for summer/winter)."""
    a, b = _spec(domain_a), _spec(domain_b)
    for group in _GROUP_VALUES:
        if group in a and group in b and not set(a[group]) & set(b[group]):
            return group
        if (group in a) != (group in b):
            return group
    raise SceneError(f"domains {domain_a!r} and {domain_b!r} overlap; they cannot be told apart")


def layout_merges(domain_a: str, domain_b: str) -> tuple[tuple[str, ...], ...]:
    """The class groups a translation between the two domains may swap within (none for day/night)."""
    return LAYOUT_MERGES.get(frozenset({domain_a, domain_b}), ())


def merge_table(merges: tuple[tuple[str, ...], ...] | list) -> np.ndarray:
    """[NUM_CLASSES] class index → the index it is read as: each group's first class."""
    table = np.arange(NUM_CLASSES)
    for group in merges:
        unknown = [name for name in group if name not in CLASS_INDEX]
        if unknown or len(group) < 2:
            raise SceneError(f"a merge group needs two or more label classes, not {list(group)!r}")
        for name in group:
            table[CLASS_INDEX[name]] = CLASS_INDEX[group[0]]
    return table


def domain_attributes(domain: str, rng: np.random.Generator) -> dict:
    """A coherent random scene of the domain (rejection sampling of `sample_attributes`)."""
    _spec(domain)
    for _ in range(_MAX_TRIES):
        attrs = sample_attributes(rng)
        if allows(domain, attrs):
            return attrs
    raise SceneError(f"the world almost never draws a {domain} scene")  # pragma: no cover


def domain_scene(domain: str, seed: int, index: int, size: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scene `index` of a domain: (uint8 image [size,size,3], uint8 labels [size,size], attributes)."""
    attr_rng, render_rng = _scene_rngs(seed, index)
    attrs = domain_attributes(domain, attr_rng)
    image, labels = render_scene(attrs, render_rng, size)
    return image, labels, attrs


def moved_scene(
    source: str, target: str, seed: int, index: int, size: int
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Scene `index` of `source` as the world itself paints it in `target`: the same terrain and
    texture draws, each attribute the target does not allow moved to one it does (a day time keeps
    its slot among DAY_TIMES). What a perfect translation could show; the ceiling of "layout kept"."""
    attr_rng, render_rng = _scene_rngs(seed, index)
    attrs = dict(domain_attributes(source, attr_rng))
    for group, allowed in _spec(target).items():
        if attrs[group] not in allowed:
            attrs[group] = allowed[_GROUP_VALUES[group].index(attrs[group]) % len(allowed)]
    image, labels = render_scene(attrs, render_rng, size)
    return image, labels, attrs


def _scene_rngs(seed: int, index: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(attribute draws, render draws) of scene `index`: a pure function of (seed, index)."""
    attr_rng, render_rng = (
        np.random.default_rng(
            np.random.SeedSequence(int(seed) & 0xFFFFFFFFFFFFFFFF, spawn_key=(int(index), k, 0x646F6D))
        )
        for k in range(2)
    )
    return attr_rng, render_rng


def domain_scenes(domain: str, n: int, seed: int, size: int, start: int = 0) -> SceneBatch:
    """Scenes start … start+n-1 of a domain (captions are left empty: translation needs none)."""
    if not isinstance(n, int) or n < 0:
        raise SceneError(f"n must be a non-negative integer, got {n!r}")
    images = np.zeros((n, size, size, 3), np.uint8)
    labels = np.zeros((n, size, size), np.uint8)
    attributes = []
    for i in range(n):
        images[i], labels[i], attrs = domain_scene(domain, seed, start + i, size)
        attributes.append(attrs)
    return SceneBatch(images, labels, attributes, [""] * n)
