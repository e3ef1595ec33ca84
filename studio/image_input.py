"""Images from outside the app (sketches, masks, base pictures) opened without trusting their headers.

A 420 KB PNG can claim 12000x12000 pixels: the size is read from the header and checked against
the machine's memory (studio.limits) before anything is decoded, and Pillow's decompression-bomb
refusal becomes a sentence instead of a traceback.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, UnidentifiedImageError

from studio.limits import MemoryLimitError, require

UNIDENTIFIED = "not a PNG, JPEG, GIF, WebP, BMP or TIFF file"  # Pillow's own message names a BytesIO
_ONE_BYTE_MODES = ("1", "L", "P")  # Pillow holds other modes in 2-4 bytes a pixel; 4 is the bound


class ImageInputError(ValueError):
    """An image file that cannot be used: unreadable, a decompression bomb, or too big for memory."""


def decoded_bytes(image: Image.Image) -> int:
    """Memory the decoded pixels take, plus one single-band working copy (a mask, an index map)."""
    width, height = image.size
    return width * height * ((1 if image.mode in _ONE_BYTE_MODES else 4) + 1)


def open_image(data: bytes, what: str) -> Image.Image:
    """Decode `data` once its header says it fits in memory; `what` names it in messages ("the sketch")."""
    try:
        with warnings.catch_warnings():  # the size is checked below, against this machine's memory
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            require(decoded_bytes(image), f"{what} ({width}x{height} px)", "use a smaller picture")
            image.load()
    except MemoryLimitError as exc:
        raise ImageInputError(str(exc)) from exc
    except Image.DecompressionBombError as exc:
        raise ImageInputError(f"{what} is refused as a possible decompression bomb: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageInputError(f"{what} is not a readable image: {UNIDENTIFIED}") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{what} is not a readable image: {exc}") from exc
    return image


def picture_rgb(data: bytes, what: str, purpose: str, min_side: int = 8) -> tuple[np.ndarray, list[str]]:
    """A picture file from anywhere as uint8 HxWx3 RGB, and notes on what was done to get it.

    Headers are checked against memory before decoding (`open_image`); CMYK, grey, palette and
    16-bit pictures are converted, transparency is laid over white, an animation gives its first
    frame. `purpose` ("describing", "translating") names the job in messages; a picture with a
    side under `min_side` holds nothing to read and is refused."""
    image = open_image(data, what)
    notes = []
    width, height = image.size
    if min(width, height) < min_side:
        raise ImageInputError(
            f"{what} is {width}x{height} px; {purpose} needs at least {min_side}x{min_side} px"
        )
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        notes.append(f"{what} is animated ({frames} frames): {purpose} its first frame")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit / float grey: scale to 8 bits
        grey = np.asarray(image, np.float64)
        top = float(grey.max()) if grey.size else 0.0
        scaled = grey / (65535.0 if top > 255 else 255.0 if top > 1.0 else 1.0) * 255.0
        image = Image.fromarray(np.clip(scaled + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    if image.mode == "CMYK":
        notes.append(f"{what} is CMYK: converted to RGB")
    return np.asarray(image.convert("RGB"), np.uint8), notes
