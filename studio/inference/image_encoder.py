"""ImageEncoder: pictures → unit vectors in the text encoder's space (what an image *shows*).

The ONNX net takes [N, 3, R, R] in [-1, 1]; pictures of any size are area-resized to R first, as
in training (box filter, so a 256 px render and its 64 px version give nearly the same vector).
An encoder may also output `features` (its penultimate layer), which `studio eval` uses for
KID/FID.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from studio.inference.manifest import ModelError, ModelInfo

BATCH = 64  # bounded memory for long lists (eval embeds thousands of pictures)


def to_input(images: Sequence[np.ndarray] | np.ndarray, resolution: int) -> np.ndarray:
    """uint8 HxWx3 pictures of any size → float32 [N, 3, R, R] in [-1, 1]."""
    batch = []
    for i, image in enumerate(images):
        array = np.asarray(image)
        if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8 or min(array.shape[:2]) < 1:
            raise ValueError(f"image {i} must be uint8 HxWx3, not {array.dtype} {list(array.shape)}")
        if array.shape[:2] != (resolution, resolution):
            h, w = array.shape[:2]
            if h % resolution == 0 and w % resolution == 0:  # exact area mean, as torch's "area" mode
                blocks = array.reshape(resolution, h // resolution, resolution, w // resolution, 3)
                array = blocks.mean((1, 3))
            else:
                array = np.asarray(
                    Image.fromarray(array).resize((resolution, resolution), Image.Resampling.BOX), np.float32
                )
        batch.append(np.asarray(array, np.float32).transpose(2, 0, 1) / 127.5 - 1.0)
    if not batch:
        raise ValueError("no images to embed")
    return np.stack(batch).astype(np.float32)


class ImageEncoder:
    """Wraps an image-encoder session (or an Engine, which makes the session) with its resize."""

    def __init__(self, engine_or_session, info: ModelInfo) -> None:
        if info.kind != "image_encoder":
            raise ModelError(f"{info.name} is a {info.kind}, not an image encoder")
        make = getattr(engine_or_session, "session", None)
        self.session = make(info.path) if callable(make) else engine_or_session
        self.info = info
        self.resolution = int(info.resolution or 64)
        self._names = [o.name for o in self.session.get_outputs()]

    def _run(self, images: Sequence[np.ndarray] | np.ndarray, output: str) -> np.ndarray:
        if output not in self._names:
            raise ModelError(f"{self.info.name} has no '{output}' output (has {self._names})")
        name = self.info.inputs[0].name
        parts = []
        for start in range(0, len(images), BATCH):
            x = to_input(images[start : start + BATCH], self.resolution)
            parts.append(self.session.run([output], {name: x})[0])
        if not parts:
            raise ValueError("no images to embed")
        return np.concatenate(parts).astype(np.float32)

    def embed(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """[N, D] unit vectors, comparable by cosine with the text encoder's prompt embeddings."""
        out = self._run(images, "embedding")
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-8)

    def features(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """[N, F] penultimate-layer features (the KID/FID feature space)."""
        return self._run(images, "features")


def image_encoder_for(models: Sequence[ModelInfo], embedding_space: str | None) -> ModelInfo:
    """The newest installed image encoder of an embedding space (ModelError when there is none)."""
    found = [m for m in models if m.kind == "image_encoder" and m.embedding_space == embedding_space]
    if not found:
        raise ModelError(f"no image encoder of embedding space {embedding_space!r} is installed")
    return max(found, key=lambda m: m.version_key)
