"""Segmenter runtime: any picture → a label map the artist can paint on, and the scores to judge one.

The app derives a sketch from a generated result or an imported PNG/JPEG; `studio eval` measures
sketch fidelity as the mIoU between a painted label map and the segmentation of what the
generator made from it. numpy + PIL + onnxruntime only, so the app can use it without torch.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import onnxruntime as ort
from PIL import Image

from studio.inference.engine import Engine
from studio.inference.manifest import ModelInfo

MIN_SIDE = 8  # below this an image holds no layout worth segmenting
MAX_BATCH = 64


class SegmenterError(ValueError):
    """An image cannot be segmented (wrong type, dtype or shape); the message says which and why."""


def _as_rgb(index: int, image: object) -> np.ndarray:
    """HxWx3 uint8; grayscale (HxW, HxWx1) is expanded and RGBA drops its alpha."""
    if not isinstance(image, np.ndarray):
        raise SegmenterError(f"image {index} is a {type(image).__name__}, not a numpy array")
    if image.dtype != np.uint8:
        raise SegmenterError(
            f"image {index} has dtype {image.dtype}; segment() takes uint8 pixels 0-255 "
            "(for floats in [0, 1] pass (image * 255).round().astype(np.uint8))"
        )
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise SegmenterError(
            f"image {index} has shape {image.shape}; expected HxW (gray), HxWx3 (RGB) or HxWx4 (RGBA)"
        )
    if min(image.shape[:2]) < MIN_SIDE:
        raise SegmenterError(
            f"image {index} is {image.shape[1]}x{image.shape[0]} px; at least {MIN_SIDE}x{MIN_SIDE} is needed"
        )
    if image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    return image[:, :, :3]


def to_input(images: Sequence[np.ndarray], resolution: int) -> np.ndarray:
    """uint8 images of any size → float32 [N,3,R,R] in [-1, 1] (whole image resized, not cropped)."""
    rows = []
    for i, image in enumerate(images):
        rgb = _as_rgb(i, image)
        if rgb.shape[:2] != (resolution, resolution):
            resized = Image.fromarray(np.ascontiguousarray(rgb)).resize(
                (resolution, resolution), Image.Resampling.LANCZOS
            )
            rgb = np.asarray(resized)
        rows.append(rgb)
    batch = np.stack(rows).astype(np.float32).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(batch / 127.5 - 1.0)


class Segmenter:
    """Runs a `segmenter` model on an Engine (the app's provider choice) or a plain session (tests)."""

    def __init__(self, runner: Engine | ort.InferenceSession, info: ModelInfo) -> None:
        if info.kind != "segmenter":
            raise SegmenterError(f"{info.name} is a {info.kind}, not a segmenter")
        assert info.resolution is not None  # guaranteed by the manifest schema
        self.runner, self.info, self.resolution = runner, info, info.resolution

    def logits(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """float32 [N,C,R,R] class scores."""
        x = to_input(images, self.resolution)
        out = []
        for start in range(0, len(x), MAX_BATCH):
            feeds = {"image": x[start : start + MAX_BATCH]}
            if isinstance(self.runner, Engine):
                out.append(self.runner.run(self.info.path, feeds)[self.info.image_output])
            else:
                out.append(self.runner.run([self.info.image_output], feeds)[0])
        return np.concatenate(out)

    def segment(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One uint8 [R,R] class-index map per image, at the model's resolution."""
        if isinstance(images, np.ndarray) and images.ndim == 4:
            images = list(images)
        if not isinstance(images, Sequence) or isinstance(images, str | bytes):
            raise SegmenterError(f"segment() takes a list of images, not a {type(images).__name__}")
        if len(images) == 0:
            return []
        return list(self.logits(images).argmax(1).astype(np.uint8))


def class_map_to_png(indices: np.ndarray) -> bytes:
    """A class-index map as a mode "L" PNG: the sketch format the pipeline reads."""
    if not isinstance(indices, np.ndarray) or indices.ndim != 2:
        raise SegmenterError("a class map must be a 2-D numpy array of class indices")
    if not np.issubdtype(indices.dtype, np.integer):
        raise SegmenterError(f"a class map must hold integer class indices, not {indices.dtype}")
    if indices.size and (indices.min() < 0 or indices.max() > 255):
        raise SegmenterError(f"class indices must be 0-255, got {int(indices.min())}..{int(indices.max())}")
    buf = io.BytesIO()
    Image.fromarray(indices.astype(np.uint8), "L").save(buf, format="PNG")
    return buf.getvalue()


def confusion(predicted: np.ndarray, target: np.ndarray, num_classes: int) -> np.ndarray:
    """[C, C] pixel counts, rows = target class, columns = predicted class."""
    if predicted.shape != target.shape:
        raise SegmenterError(f"prediction {predicted.shape} and target {target.shape} differ in shape")
    flat = target.astype(np.int64).ravel() * num_classes + predicted.astype(np.int64).ravel()
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def scores(matrix: np.ndarray, names: Sequence[str]) -> dict:
    """Pixel accuracy, mIoU and per-class IoU; classes absent from both target and prediction are
    left out (an IoU of 0/0 says nothing)."""
    tp = np.diag(matrix).astype(np.float64)
    union = matrix.sum(0) + matrix.sum(1) - tp
    per_class = {name: round(float(tp[i] / union[i]), 4) for i, name in enumerate(names) if union[i] > 0}
    total = matrix.sum()
    return {
        "pixel_accuracy": round(float(tp.sum() / total), 4) if total else 0.0,
        "miou": round(float(np.mean(list(per_class.values()))), 4) if per_class else 0.0,
        "per_class_iou": per_class,
    }
