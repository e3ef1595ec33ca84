"""The retrieval baseline: a picture's caption is the nearest of a bank of training-wording captions.

Nearest by cosine between the image encoder's embedding of the picture and the text encoder's
embedding of each caption (they share the MiniLM space). The bank comes from the world's caption
generator with its *training* wording only (never the held-out phrasings `studio eval-describe`
scores against), over scenes drawn as the renderer draws them. Its embeddings are cached under
the user data folder, keyed by the text encoder's hash, so only the first use pays for them.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from studio.describe.captioner import Caption
from studio.world.captions import make_caption
from studio.world.scene import sample_attributes

log = logging.getLogger(__name__)
BANK_SEED = 60_000  # far from every training stream and held-out seed
BANK_SIZE = 600
Embed = Callable[[list[str]], np.ndarray]


def bank_captions(n: int = BANK_SIZE, seed: int = BANK_SEED) -> list[str]:
    """n distinct training-wording captions of scenes drawn like the renderer's."""
    rng = np.random.default_rng([seed, 3])
    out: dict[str, None] = {}
    for _ in range(50 * n):
        if len(out) >= n:
            break
        out.setdefault(make_caption(sample_attributes(rng), rng, "train"), None)
    return list(out)


def bank_vectors(captions: list[str], embed: Embed, key: str, cache_dir: Path | None = None) -> np.ndarray:
    """Unit embeddings [M, D] of the captions; cached in cache_dir by (text encoder key, captions)."""
    digest = hashlib.sha256("\n".join(captions).encode()).hexdigest()[:16]
    path = cache_dir / f"describe-bank-{key[:16]}-{digest}.npy" if cache_dir is not None else None
    if path is not None and path.is_file():
        try:
            vectors = np.load(path, allow_pickle=False)
            if vectors.ndim == 2 and len(vectors) == len(captions) and np.isfinite(vectors).all():
                return vectors.astype(np.float32)
        except (OSError, ValueError):
            pass
        log.info("caption bank cache %s is unusable; rebuilding it", path)
    vectors = np.concatenate(
        [np.asarray(embed(captions[i : i + 128]), np.float32) for i in range(0, len(captions), 128)]
    )
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-8)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npy")
            np.save(tmp, vectors)
            os.replace(tmp, path)
        except OSError as exc:  # a read-only home still describes, only slower next time
            log.info("cannot cache the caption bank in %s: %s", path, exc)
    return vectors


class RetrievalCaptioner:
    """`describe(images)` like a Captioner's: the nearest bank caption; its score is the cosine."""

    def __init__(
        self,
        embed_images: Callable[[Sequence[np.ndarray]], np.ndarray],
        captions: list[str],
        vectors: np.ndarray,
    ):
        if len(captions) != len(vectors) or not captions:
            raise ValueError("the caption bank needs one vector per caption")
        self.embed_images = embed_images
        self.bank = list(captions)
        self.vectors = np.asarray(vectors, np.float32)

    def describe(self, images: Sequence[np.ndarray] | np.ndarray, beam: int = 1) -> list[Caption]:
        """`beam` is accepted for a Captioner's signature; retrieval has nothing to search."""
        sims = np.asarray(self.embed_images(images), np.float32) @ self.vectors.T
        best = sims.argmax(1)
        return [Caption(self.bank[j], float(sims[i, j]), True) for i, j in enumerate(best)]

    def captions(self, images: Sequence[np.ndarray] | np.ndarray, beam: int = 1) -> list[str]:
        return [c.text for c in self.describe(images)]
