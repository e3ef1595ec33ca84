"""Variations around history nodes: jitter, interpolation, breeding, and discovered latent controls.

Every result is a plain Recipe with an explicit latent (and, where conditioning is mixed, an explicit
`extra["text_embedding"]`), so a variation re-renders bit-exactly like any other node. Embeddings
come through a callable `embed(recipe) -> vector` so the maths here stays testable without models.

The discovered controls follow GANSpace (Härkönen et al. 2020): PCA of what the generator makes,
mapped back to latent directions, each named by the image statistic it moves most.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from studio.recipe import Recipe

log = logging.getLogger(__name__)

Embed = Callable[[Recipe], np.ndarray]
MAX_PARENTS = 4
MAX_FRAMES = 64
MAX_COUNT = 64
NEUTRAL_PROMPT = ""  # text-only conditioning with no words: the model's own average look
STAT_SIZE = 64  # renders are compared at this size, whatever the generator's resolution
NAMING_LATENTS = 8
NAMING_STEP = 2.0
NAME_YIELD = 0.6
RENDER_CHUNK = 16  # measured on CPU: batches of 16 render ~30% faster per image than batches of 64


class VariationError(ValueError):
    """A variation cannot be made (bad strength, parents of different models…): the message says why."""


# --- vector helpers ---------------------------------------------------------------------------------
def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation of directions with linearly interpolated length.

    Linear mixing of two Gaussian latents shrinks their norm mid-way (washed-out images); slerp keeps
    the path on the shell where the generator was trained.
    """
    if t <= 0.0:
        return a.copy()
    if t >= 1.0:
        return b.copy()
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0.0 or nb == 0.0:
        return (1.0 - t) * a + t * b
    ua, ub = a / na, b / nb
    omega = float(np.arccos(np.clip(np.dot(ua, ub), -1.0, 1.0)))
    if omega < 1e-6:
        direction = ua
    else:
        direction = (np.sin((1.0 - t) * omega) * ua + np.sin(t * omega) * ub) / np.sin(omega)
        direction = direction / max(float(np.linalg.norm(direction)), 1e-12)
    return direction * ((1.0 - t) * na + t * nb)


def _normalised_mix(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean, rescaled to the weighted mean length of the inputs (a mean of random vectors is
    shorter than any of them, which a generator renders as a bland average)."""
    mix = (weights[:, None] * vectors).sum(axis=0)
    length = float((weights * np.linalg.norm(vectors, axis=1)).sum())
    norm = float(np.linalg.norm(mix))
    if norm < 1e-12:
        raise VariationError("the parents cancel each other out; change the weights")
    return mix * (length / norm)


def _check_weights(weights: Sequence[float] | None, count: int) -> np.ndarray:
    if weights is None:
        return np.full(count, 1.0 / count)
    values = np.asarray([float(w) for w in weights], dtype=np.float64)
    if values.shape != (count,):
        raise VariationError(f"breeding needs one weight per parent ({count}), got {len(values)}")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise VariationError("breeding weights must be finite, not negative, and not all zero")
    return values / values.sum()


def _with_embedding(recipe: Recipe, vector: np.ndarray) -> Recipe:
    """The recipe conditioned on an explicit vector: the sound it had is already inside the vector."""
    extra = {**recipe.extra, "text_embedding": [float(v) for v in vector]}
    return recipe.replace(extra=extra, sound=None, strength=0.0)


def _latent(recipe: Recipe, z_dim: int) -> np.ndarray:
    if not isinstance(z_dim, int) or z_dim < 1:
        raise VariationError(f"z_dim must be a positive integer, not {z_dim!r}")
    try:
        return recipe.latent_vector(z_dim).astype(np.float64)
    except ValueError as exc:
        raise VariationError(str(exc)) from exc


# --- jitter, interpolation, breeding ----------------------------------------------------------------
def jitter(recipe: Recipe, z_dim: int, strength: float, count: int, seed: int) -> list[Recipe]:
    """`count` children whose latents are `sqrt(1-s²)·z + s·ε`: the mix of two independent N(0,1)
    vectors with squared weights summing to one is N(0,1) again, so children stay in distribution."""
    if not isinstance(strength, int | float) or not 0.0 <= float(strength) <= 1.0:
        raise VariationError(f"variation strength must be between 0 and 1, not {strength!r}")
    if not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise VariationError(f"count must be an integer from 1 to {MAX_COUNT}, not {count!r}")
    z = _latent(recipe, z_dim)
    s = float(strength)
    rng = np.random.default_rng(int(seed) & 0xFFFFFFFFFFFFFFFF)
    children = []
    for _ in range(count):
        noise = rng.standard_normal(z_dim)
        latent = np.sqrt(1.0 - s * s) * z + s * noise
        children.append(recipe.replace(latent=tuple(latent.astype(np.float32).tolist())))
    return children


def interpolate(a: Recipe, b: Recipe, steps: int, embed: Embed, z_dim: int) -> list[Recipe]:
    """`steps` frames from a to b (both included): slerped latents and slerped conditioning vectors.

    Sketch, mask and size come from the nearer end, so the first frame re-renders a and the last b.
    """
    if a.model != b.model:
        raise VariationError(f"cannot interpolate between models {a.model} and {b.model}")
    if not isinstance(steps, int) or not 2 <= steps <= MAX_FRAMES:
        raise VariationError(f"an interpolation needs 2 to {MAX_FRAMES} frames, not {steps!r}")
    za, zb = _latent(a, z_dim), _latent(b, z_dim)
    ea, eb = _embedding(embed, a), _embedding(embed, b)
    if ea.shape != eb.shape:
        raise VariationError("the two nodes' conditioning vectors have different sizes")
    frames = []
    for i in range(steps):
        t = i / (steps - 1)
        end = a if t < 0.5 else b
        latent = _slerp(za, zb, t).astype(np.float32)
        frame = _with_embedding(end.replace(latent=tuple(latent.tolist())), _slerp(ea, eb, t))
        frames.append(frame)
    return frames


def breed(parents: Sequence[Recipe], weights: Sequence[float] | None, embed: Embed, z_dim: int) -> Recipe:
    """One child of 2–4 parents: normalised weighted mixes of their latents and conditioning vectors.

    Prompt and size come from the first parent, the sketch from the first parent that has one; a
    mask belongs to one parent's picture, so the child has none.
    """
    parents = list(parents)
    if not 2 <= len(parents) <= MAX_PARENTS:
        raise VariationError(f"breeding mixes 2 to {MAX_PARENTS} parents, not {len(parents)}")
    models = {p.model for p in parents}
    if len(models) > 1:
        raise VariationError(f"all parents must come from one model, not {', '.join(sorted(models))}")
    w = _check_weights(weights, len(parents))
    latent = _normalised_mix(np.stack([_latent(p, z_dim) for p in parents]), w)
    embeddings = [_embedding(embed, p) for p in parents]
    if len({e.shape for e in embeddings}) > 1:
        raise VariationError("the parents' conditioning vectors have different sizes")
    vector = _normalised_mix(np.stack(embeddings), w)
    sketch = next((p.sketch for p in parents if p.sketch is not None), None)
    first = parents[0]
    extra = {k: v for k, v in first.extra.items() if k != "base_image"}
    child = first.replace(
        latent=tuple(latent.astype(np.float32).tolist()), sketch=sketch, mask=None, extra=extra
    )
    return _with_embedding(child, vector)


def _embedding(embed: Embed, recipe: Recipe) -> np.ndarray:
    vector = np.asarray(embed(recipe), dtype=np.float64).reshape(-1)
    if vector.size == 0 or not np.all(np.isfinite(vector)):
        raise VariationError("a conditioning vector is empty or not finite")
    return vector


def recipe_embedder(pipe: Any, assets: Any = None) -> Embed:
    """The conditioning vector a recipe really renders with (explicit, prompt, or prompt + sound)."""

    return lambda recipe: pipe.recipe_conditioning(recipe, assets)


# --- discovered controls ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Direction:
    """A unit latent direction; + moves the image toward more of `name` (described by `changes`)."""

    name: str
    vector: tuple[float, ...]
    variance: float  # share of the image variance its principal component explains
    changes: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vector": list(self.vector),
            "variance": self.variance,
            "changes": self.changes,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Direction:
        try:
            vector = tuple(float(v) for v in data["vector"])
            return cls(str(data["name"]), vector, float(data["variance"]), str(data["changes"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise VariationError(f"a stored direction is unreadable: {exc}") from exc


def _stats(images: np.ndarray) -> dict[str, np.ndarray]:
    """Simple per-image statistics a person can name; images [N, H, W, 3] floats in 0..1."""
    r, g, b = images[..., 0], images[..., 1], images[..., 2]
    luma = 0.299 * r + 0.587 * g + 0.114 * b
    rows = luma.mean(axis=2)  # [N, H]
    height = rows.shape[1]
    # sky height: where the brightest-above/darker-below split of the rows falls (fraction from bottom)
    cumulative = np.cumsum(rows, axis=1)
    total = cumulative[:, -1:]
    split = np.arange(1, height)
    above = cumulative[:, :-1] / split
    below = (total - cumulative[:, :-1]) / (height - split)
    sky = 1.0 - (np.argmax(above - below, axis=1) + 1) / height
    saturation = images.max(axis=-1) - images.min(axis=-1)
    return {
        "brightness": luma.mean(axis=(1, 2)),
        "contrast": luma.std(axis=(1, 2)),
        "warmth": (r - b).mean(axis=(1, 2)),
        "greenery": (g - (r + b) / 2).mean(axis=(1, 2)),
        "saturation": saturation.mean(axis=(1, 2)),
        "sky height": sky.astype(np.float64),
    }


_DESCRIPTIONS = {
    "brightness": "darker ↔ brighter",
    "contrast": "flatter ↔ more contrast",
    "warmth": "cooler ↔ warmer colours",
    "greenery": "less ↔ more green",
    "saturation": "greyer ↔ more colourful",
    "sky height": "lower ↔ higher sky",
}

_CACHE: dict[tuple[str, str, int, int, int], list[Direction]] = {}


def _render_small(pipe: Any, recipes: list[Recipe]) -> np.ndarray:
    """Renders as [N, S, S, 3] floats in 0..1 at STAT_SIZE (or the generator's size when smaller)."""
    images = [
        image
        for i in range(0, len(recipes), RENDER_CHUNK)
        for image in pipe.render(recipes[i : i + RENDER_CHUNK], preview=True)
    ]
    size = min(STAT_SIZE, recipes[0].size)
    out = []
    for image in images:
        if image.shape[0] != size:
            image = np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
        out.append(image.astype(np.float32) / 255.0)
    return np.stack(out)


def principal_directions(
    pipe: Any, model: str | None = None, n_samples: int = 256, k: int = 6, seed: int = 0
) -> list[Direction]:
    """GANSpace-style controls of a generator, computed once per model version and cached in memory.

    Sample latents, render them with a neutral prompt, take the principal components of the images,
    regress each component's scores onto the latents (least squares) for a latent direction, and name
    it by the image statistic that moving along it changes most (oriented so + means more of it).
    """
    info = pipe.registry.get(model) if model else pipe.default_generator()
    if info.kind != "generator" or not info.z_dim or not info.resolution:
        raise VariationError(f"{info.name} is not a generator with a latent input")
    z_dim, res = int(info.z_dim), int(info.resolution)
    if not isinstance(n_samples, int) or n_samples < 8:
        raise VariationError(f"principal directions need at least 8 samples, not {n_samples!r}")
    if not isinstance(k, int) or not 1 <= k <= min(z_dim, n_samples - 1):
        raise VariationError(f"k must be from 1 to {min(z_dim, n_samples - 1)}, not {k!r}")
    key = (info.name, info.version, n_samples, k, seed)
    if key in _CACHE:
        return _CACHE[key]
    rng = np.random.default_rng(seed)
    latents = rng.standard_normal((n_samples, z_dim)).astype(np.float32)
    base = Recipe(model=info.name, model_version=info.version, seed=0, prompt=NEUTRAL_PROMPT, size=res)
    recipes = [base.replace(latent=tuple(z.tolist())) for z in latents]
    images = _render_small(pipe, recipes)
    flat = images.reshape(n_samples, -1).astype(np.float64)
    flat -= flat.mean(axis=0)
    # PCA through the small n×n Gram matrix: the same scores as an SVD of the n×pixels matrix, ~40× faster
    eigenvalues, eigenvectors = np.linalg.eigh(flat @ flat.T)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues = np.clip(eigenvalues[order], 0.0, None)
    scores = eigenvectors[:, order[:k]] * np.sqrt(eigenvalues[:k])
    variance = eigenvalues / max(float(eigenvalues.sum()), 1e-12)
    z = latents.astype(np.float64)
    z -= z.mean(axis=0)
    coef, *_ = np.linalg.lstsq(z, scores, rcond=None)  # [z_dim, k]
    spread = {name: float(v.std()) + 1e-6 for name, v in _stats(images).items()}
    directions: list[Direction] = []
    used: dict[str, int] = {}
    probe = latents[:NAMING_LATENTS]
    for j in range(k):
        vector = coef[:, j] / max(float(np.linalg.norm(coef[:, j])), 1e-12)
        change = _changes(pipe, base, probe, vector, spread)
        name = _pick_name(change, used)
        used[name] = used.get(name, 0) + 1
        label = name if used[name] == 1 else f"{name} {used[name]}"
        vector = vector * (1.0 if change[name] >= 0 else -1.0)  # + means more of what it is named for
        directions.append(
            Direction(
                label, tuple(vector.astype(np.float32).tolist()), float(variance[j]), _DESCRIPTIONS[name]
            )
        )
    log.info("principal directions of %s %s: %s", info.name, info.version, [d.name for d in directions])
    _CACHE[key] = directions
    return directions


def _changes(
    pipe: Any, base: Recipe, probe: np.ndarray, vector: np.ndarray, spread: dict[str, float]
) -> dict[str, float]:
    """How much each statistic changes from −step to +step along `vector`, in units of its spread
    over the samples (so brightness and sky height are comparable)."""
    minus = [
        base.replace(latent=tuple((z - NAMING_STEP * vector).astype(np.float32).tolist())) for z in probe
    ]
    plus = [base.replace(latent=tuple((z + NAMING_STEP * vector).astype(np.float32).tolist())) for z in probe]
    stats = _stats(_render_small(pipe, minus + plus))
    n = len(probe)
    return {name: float((v[n:] - v[:n]).mean()) / spread[name] for name, v in stats.items()}


def _pick_name(change: dict[str, float], used: dict[str, int]) -> str:
    """The statistic that changes most; a name already taken yields to an unused one that changes at
    least NAME_YIELD as much, so six sliders are not all called "brightness"."""
    ranked = sorted(change, key=lambda name: abs(change[name]), reverse=True)
    best = ranked[0]
    if best in used:
        fresh = next((name for name in ranked if name not in used), None)
        if fresh is not None and abs(change[fresh]) >= NAME_YIELD * abs(change[best]):
            return fresh
    return best


def apply_directions(
    recipe: Recipe, z_dim: int, amounts: dict[str, float], directions: Sequence[Direction]
) -> Recipe:
    """The recipe moved `amount` units along each named direction (a unit is one latent std)."""
    by_name = {d.name: d for d in directions}
    z = _latent(recipe, z_dim)
    for name, amount in amounts.items():
        if name not in by_name:
            raise VariationError(f"no discovered control is called {name!r}")
        if not isinstance(amount, int | float) or not np.isfinite(amount):
            raise VariationError(f"the amount for {name!r} must be a finite number")
        vector = np.asarray(by_name[name].vector, dtype=np.float64)
        if vector.shape != (z_dim,):
            raise VariationError(f"control {name!r} has {vector.size} values, the model's latent has {z_dim}")
        z = z + float(amount) * vector
    return recipe.replace(latent=tuple(z.astype(np.float32).tolist()))


def directions_to_json(directions: Sequence[Direction]) -> list[dict[str, Any]]:
    """For project meta, so a reopened project has its controls without recomputing."""
    return [d.to_dict() for d in directions]


def directions_from_json(data: Any) -> list[Direction]:
    if not isinstance(data, list):
        raise VariationError("stored directions must be a list")
    return [Direction.from_dict(d) for d in data]
