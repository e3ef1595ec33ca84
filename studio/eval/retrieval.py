"""Image-encoder metrics: R-precision (does a picture match its prompt?) and KID/FID (does it look real?).

* R-precision (Xu et al. 2018, AttnGAN): for each image, its true caption is ranked by cosine among
  itself and k-1 random mismatched captions; the score is the top-1 rate (chance 1/k).
* KID (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial kernel
  k(x, y) = (x·y / d + 1)³, averaged over random subsets; unbiased, so a set against a sample of
  its own distribution scores ≈ 0 even for small n. FID (Heusel et al. 2017) on the same features.

The feature network is our image encoder's penultimate layer (pooled conv features), not
Inception: no ImageNet weights can be had offline, and an encoder trained on the renderer world
knows exactly the things that make a landscape here look right (sky colour by time, weather,
terrain). The unit embedding would be a poorer choice: it is trained to forget everything a caption
does not name, so two sets with different textures but the same content would look identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from studio.world.captions import TIME_PP, TIMES, WEATHER_ADJ, WEATHERS, make_caption
from studio.world.scene import render_scenes, sample_attributes

Embed = Callable[[list[str]], np.ndarray]
EmbedImages = Callable[[np.ndarray], np.ndarray]
HELDOUT_SEED = 40_000  # far from the encoder's bank (seed 0) and the generators' streams


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def r_precision(
    image_embeddings: np.ndarray,
    true_caption_embeddings: np.ndarray,
    pool_embeddings: np.ndarray,
    k: int = 100,
    seed: int = 0,
) -> float:
    """Top-1 rate of the true caption among itself and k-1 random mismatched pool captions.

    Pool captions whose embedding equals the true one (the same sentence) are never drawn as
    mismatches; a tie with a mismatch counts as a miss.
    """
    images, truths, pool = _unit(image_embeddings), _unit(true_caption_embeddings), _unit(pool_embeddings)
    if images.ndim != 2 or images.shape != truths.shape:
        raise ValueError(f"images {images.shape} and true captions {truths.shape} must both be [N, D]")
    if pool.ndim != 2 or pool.shape[1] != images.shape[1]:
        raise ValueError(f"pool must be [M, {images.shape[1]}], not {list(pool.shape)}")
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be an integer of at least 2, not {k!r}")
    rng = np.random.default_rng(seed)
    hits = []
    for image, truth in zip(images, truths, strict=True):
        mismatched = np.flatnonzero(pool @ truth < 1 - 1e-6)
        if mismatched.size < k - 1:
            raise ValueError(f"the pool has {mismatched.size} mismatched captions; R-precision needs {k - 1}")
        others = pool[rng.choice(mismatched, size=k - 1, replace=False)]
        hits.append(float(image @ truth) > float((others @ image).max()))
    if not hits:
        raise ValueError("no images to score")
    return float(np.mean(hits))


def _polynomial_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a @ b.T / a.shape[1] + 1.0) ** 3


def kid(
    features_a: np.ndarray,
    features_b: np.ndarray,
    subsets: int = 50,
    subset_size: int = 100,
    seed: int = 0,
) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial-kernel MMD² over random subsets of both sets."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise ValueError(f"feature sets must be [N, F] with one F, not {list(a.shape)} and {list(b.shape)}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("KID needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = _polynomial_kernel(x, x), _polynomial_kernel(y, y), _polynomial_kernel(x, y)
        off = m * (m - 1)
        values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the two sets (numpy only: tr√(ΣaΣb) by eigenvalues)."""
    a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"feature sets must be [N>=2, F] with one F, not {list(a.shape)}, {list(b.shape)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    values, vectors = np.linalg.eigh(cov_a)
    root_a = (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = float(np.sqrt(np.clip(cross, 0, None)).sum())
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)
    return max(value, 0.0)


def attribute_prompts() -> dict[str, dict[str, str]]:
    """One plain prompt per time of day and per weather, for zero-shot attribute reading."""
    return {
        "time": {t: f"a landscape {TIME_PP[t][0][0]}" for t in TIMES},
        "weather": {w: f"a {WEATHER_ADJ[w][0][0]} landscape" for w in WEATHERS},
    }


def zero_shot_accuracy(
    image_embeddings: np.ndarray, attributes: Sequence[dict], embed_text: Embed
) -> dict[str, float]:
    """Share of images whose nearest attribute prompt names their true time / weather."""
    images = _unit(image_embeddings)
    result = {}
    for group, prompts in attribute_prompts().items():
        names = list(prompts)
        centres = _unit(embed_text([prompts[n] for n in names]))
        best = (images @ centres.T).argmax(axis=1)
        result[group] = float(np.mean([names[b] == a[group] for b, a in zip(best, attributes, strict=True)]))
    return result


def caption_pool(n: int, seed: int = HELDOUT_SEED + 1) -> list[str]:
    """Eval-split captions of random scenes: the mismatched captions R-precision draws from."""
    rng = np.random.default_rng(seed)
    return [make_caption(sample_attributes(rng), rng, "eval") for _ in range(n)]


def generation_metrics(
    encoder,
    embed_text: Embed,
    real: np.ndarray,
    captions: Sequence[str],
    generated: dict[str, np.ndarray],
    reference: np.ndarray,
) -> dict:
    """R-precision of real renders (the ceiling) and of each generated set, KID/FID of each set
    against the real renders, and the real-vs-fresh-real KID/FID (the floor a perfect model reaches).

    `encoder` has `embed(images)` and `features(images)` (studio.inference.image_encoder.ImageEncoder).
    """
    truths = embed_text(list(captions))
    pool = embed_text(caption_pool(max(len(captions), 200)))
    k = min(100, len(pool) - 1)
    real_features = encoder.features(real)
    sets = {"real_renders": real, **generated}
    result: dict = {
        "r_precision_k": k,
        "r_precision_chance": round(1 / k, 4),
        "kid_fid_features": "penultimate",
    }
    result["r_precision"] = {
        name: r_precision(encoder.embed(images), truths, pool, k=k) for name, images in sets.items()
    }
    comparisons = {"real_vs_fresh_real": reference, **generated}
    subset = min(100, len(real))
    result["kid"], result["fid"] = {}, {}
    for name, images in comparisons.items():
        features = encoder.features(images)
        mean, std = kid(features, real_features, subset_size=subset)
        result["kid"][name] = {"mean": round(mean, 5), "std": round(std, 5)}
        result["fid"][name] = round(fid(features, real_features), 3)
    return result


def encoder_metrics(embed_images: EmbedImages, embed_text: Embed, n: int = 300, size: int = 64) -> dict:
    """Held-out renders (eval-split captions, paraphrases never trained on): R-precision and zero-shot."""
    scenes = render_scenes(n, seed=HELDOUT_SEED, size=size, split="eval")
    pool = caption_pool(n)
    images = embed_images(scenes.images)
    truths = embed_text(scenes.captions)
    return {
        "heldout_renders": n,
        "r_precision_top1_of_100": r_precision(images, truths, embed_text(pool)),
        "r_precision_chance": 0.01,
        "zero_shot_accuracy": zero_shot_accuracy(images, scenes.attributes, embed_text),
        "zero_shot_chance": {"time": round(1 / len(TIMES), 3), "weather": round(1 / len(WEATHERS), 3)},
    }
