"""Masked regeneration: paste a new render into a base image through a feathered mask.

The new render keeps the base's latent and sketch, so the two images agree on layout, and a
soft mask edge hides the border: the feather is just wide enough that the blend's slope across
the border stays below the pictures' own mean gradient (`seamless_sigma`). The seam is measured,
not assumed: `seam_ratio` is the mean gradient on the mask border ÷ the mean gradient of the
whole image; a blend adds no edge of its own when the composite's ratio is no larger than the
two source images' ratios on the same border (a hard paste is 10–50× larger; see the tests).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from studio.image_input import ImageInputError, open_image

FEATHER_FRACTION = 0.03  # default Gaussian sigma as a fraction of the image side
MAX_FEATHER_FRACTION = 0.15


class MaskError(ValueError):
    """A mask PNG that cannot be used: the message says why."""


def read_mask(png: bytes, size: int) -> np.ndarray:
    """A mask PNG as float32 [size, size] in 0..1 (white = regenerate), resized smoothly."""
    try:
        image = open_image(png, "the mask")
    except ImageInputError as exc:
        raise MaskError(str(exc)) from exc
    if image.mode in ("RGBA", "LA"):
        image = image.getchannel("A") if _alpha_used(image) else image.convert("L")
    gray = image.convert("L")
    if gray.size != (size, size):
        gray = gray.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(gray, dtype=np.float32) / 255.0


def _alpha_used(image: Image.Image) -> bool:
    """A painted-over transparent PNG marks the mask in alpha; an opaque one in its grey values."""
    low, _high = image.getchannel("A").getextrema()
    return low < 255


def feather(mask: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Gaussian-blurred copy of a 0..1 mask so pasted pixels fade in (PIL's blur: fast at 1024 px)."""
    sigma = FEATHER_FRACTION * max(mask.shape) if sigma is None else sigma
    hard = np.uint8(np.rint(np.clip(mask, 0.0, 1.0) * 255))
    if sigma <= 0:
        return hard.astype(np.float32) / 255.0
    blurred = Image.fromarray(hard, mode="L").filter(ImageFilter.GaussianBlur(sigma))
    return np.asarray(blurred, dtype=np.float32) / 255.0


def composite(base: np.ndarray, new: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """base outside the mask, new inside, blended through the feathered mask (all HxW[x3] uint8)."""
    if base.shape != new.shape:
        base = np.asarray(Image.fromarray(base).resize(new.shape[1::-1], Image.Resampling.LANCZOS))
    if mask.shape != new.shape[:2]:
        mask = (
            np.asarray(
                Image.fromarray(np.uint8(np.clip(mask, 0, 1) * 255)).resize(
                    new.shape[1::-1], Image.Resampling.BILINEAR
                ),
                dtype=np.float32,
            )
            / 255.0
        )
    alpha = feather(mask, seamless_sigma(base, new, mask))[:, :, None]
    mixed = base.astype(np.float32) * (1.0 - alpha) + new.astype(np.float32) * alpha
    return np.rint(mixed).clip(0, 255).astype(np.uint8)


def seamless_sigma(base: np.ndarray, new: np.ndarray, mask: np.ndarray) -> float:
    """A feather wide enough that the blend's slope across the border stays below the picture's own.

    A step of height d blurred by a Gaussian of width σ rises at most d / (σ·√(2π)) per pixel;
    setting that to the mean gradient of the two images gives σ. Clamped to 3–15 % of the side.
    """
    side = max(mask.shape)
    hard = mask >= 0.5
    edge = np.zeros_like(hard)
    edge[:, 1:] |= hard[:, 1:] != hard[:, :-1]
    edge[1:, :] |= hard[1:, :] != hard[:-1, :]
    if not edge.any():
        return FEATHER_FRACTION * side
    gray_base, gray_new = (img.astype(np.float32).mean(axis=2) for img in (base, new))
    step = float(np.abs(gray_new - gray_base)[edge].mean())
    slope = max(0.5 * (float(_gradient(base).mean()) + float(_gradient(new).mean())), 0.5)
    sigma = step / (slope * np.sqrt(2 * np.pi))
    return float(np.clip(sigma, FEATHER_FRACTION * side, MAX_FEATHER_FRACTION * side))


def _gradient(image: np.ndarray) -> np.ndarray:
    gray = image.astype(np.float32).mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, 1:] = np.abs(np.diff(gray, axis=1))
    gy[1:, :] = np.abs(np.diff(gray, axis=0))
    return np.maximum(gx, gy)


def seam_ratio(image: np.ndarray, mask: np.ndarray) -> float:
    """Mean gradient on the hard mask border ÷ mean gradient over the whole image (≤ 1: no seam)."""
    hard = mask >= 0.5
    border = np.zeros_like(hard)
    border[:, 1:] |= hard[:, 1:] != hard[:, :-1]
    border[1:, :] |= hard[1:, :] != hard[:-1, :]
    if not border.any():
        return 0.0
    gradient = _gradient(image)
    overall = float(gradient.mean())
    return float(gradient[border].mean()) / max(overall, 1e-6)
