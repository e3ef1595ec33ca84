"""Images from outside the app (sketches, masks, base pictures) opened without trusting their headers.

A 420 KB PNG can claim 12000x12000 pixels: the size is read from the header and checked against
the machine's memory (studio.limits) before anything is decoded, and Pillow's decompression-bomb
refusal becomes a sentence instead of a traceback.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from studio.limits import MemoryLimitError, require

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
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise ImageInputError(f"{what} is not a readable image: {exc}") from exc
    return image
