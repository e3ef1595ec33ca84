"""Unpaired training pictures for the translator: a domain of the procedural world, or a folder.

Both hand out batches of [-1, 1] NCHW tensors at the training resolution, drawn by a numpy
Generator the loop seeds with (seed, step, domain), so a resumed run sees the same batches.
Every picture is augmented the same way: a random square crop of 80-100 % of its short side,
resized to the resolution, and a random horizontal flip.

* `WorldDomain` renders `count` scenes of a domain once (`studio.world.domains`: day, night,
  summer, winter) and keeps them in memory; the bank is cached in the run folder, so a resumed
  run does not render again. About a thousand pictures a domain, as CycleGAN's photo sets.
* `FolderDomain` streams a folder of the user's own pictures from disk: files are listed (and
  their headers checked) once, decoded when drawn, shrunk to a little over the resolution and
  kept in a bounded cache. Unreadable or tiny files are skipped with a warning; a folder with too
  few usable pictures is refused in words.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from studio.world.domains import domain_scenes

log = logging.getLogger(__name__)
PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
MIN_SIDE = 16  # smaller pictures hold nothing to learn from
CROP_MIN = 0.8  # a crop keeps at least this share of the short side
FOLDER_OVERSIZE = 1.25  # folder pictures are kept with their short side this much over the resolution


class TranslateDataError(ValueError):
    """Training pictures cannot be used (a missing folder, too few usable pictures); says which."""


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    x = torch.from_numpy(np.ascontiguousarray(np.stack(images))).permute(0, 3, 1, 2)
    return x.float().div(127.5).sub(1)


def random_crop(image: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A random square crop of 80-100 % of the short side, resized to size × size, maybe flipped."""
    h, w = image.shape[:2]
    short = min(h, w)
    side = int(round(short * rng.uniform(CROP_MIN, 1.0)))
    top, left = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = image[top : top + side, left : left + side]
    if side != size:
        crop = np.asarray(
            Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
        )
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return crop


class WorldDomain:
    """`count` renders of a world domain, cached as `bank-DOMAIN-….npy` in `cache_dir`."""

    def __init__(self, domain: str, size: int, count: int, seed: int, cache_dir: Path | None = None) -> None:
        self.domain, self.size = domain, size
        self.images = self._load_or_render(domain, size, count, seed, cache_dir)

    @staticmethod
    def _load_or_render(domain: str, size: int, count: int, seed: int, cache_dir: Path | None) -> np.ndarray:
        key = {"domain": domain, "size": size, "count": count, "seed": seed, "renderer": 1}
        cache = cache_dir / f"bank-{domain}.npy" if cache_dir is not None else None
        if cache is not None and cache.is_file() and cache.with_suffix(".json").is_file():
            try:
                if json.loads(cache.with_suffix(".json").read_text()) == key:
                    images = np.load(cache, allow_pickle=False)
                    if images.shape == (count, size, size, 3) and images.dtype == np.uint8:
                        log.info("%s: %d renders from %s", domain, count, cache)
                        return images
            except (OSError, ValueError) as exc:
                log.warning("ignoring the damaged render cache %s (%s)", cache, exc)
        start, images = time.perf_counter(), np.zeros((count, size, size, 3), np.uint8)
        chunk = 50
        for i in range(0, count, chunk):
            n = min(chunk, count - i)
            images[i : i + n] = domain_scenes(domain, n, seed, size, start=i).images
            log.info("%s: rendered %d/%d (%.0f s)", domain, i + n, count, time.perf_counter() - start)
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(cache.name + ".tmp")
            with open(tmp, "wb") as f:
                np.save(f, images, allow_pickle=False)
            os.replace(tmp, cache)
            cache.with_suffix(".json").write_text(json.dumps(key) + "\n")
        return images

    def __len__(self) -> int:
        return len(self.images)

    def sample(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        picks = rng.integers(0, len(self.images), batch)
        return to_tensor([random_crop(self.images[i], self.size, rng) for i in picks])


def list_pictures(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and p.suffix.lower() in PICTURE_SUFFIXES)


def _header_problem(path: Path) -> str | None:
    """Why a file cannot be a training picture, from its header alone (None: it looks usable)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        return f"not a readable picture ({exc})"
    if min(width, height) < MIN_SIDE:
        return f"{width}x{height} px is too small (at least {MIN_SIDE}x{MIN_SIDE})"
    return None


def load_picture(path: Path, short_side: int) -> np.ndarray:
    """RGB uint8 with its short side shrunk to `short_side` (never enlarged): headers are checked
    against memory first (`open_image`), transparency is laid over white, animations give frame 0."""
    from studio.image_input import open_image

    image = open_image(path.read_bytes(), f"the picture {path}")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    image = image.convert("RGB")
    scale = short_side / min(image.size)
    if scale < 1:
        image = image.resize(
            (max(short_side, round(image.width * scale)), max(short_side, round(image.height * scale))),
            Image.Resampling.LANCZOS,
        )
    return np.asarray(image, np.uint8)


class FolderDomain:
    """A folder of the user's pictures, streamed from disk (decoded when first drawn, then cached)."""

    def __init__(
        self, folder: Path, size: int, min_pictures: int, what: str, cache_items: int = 1024
    ) -> None:
        folder = Path(folder)
        if not folder.is_dir():
            raise TranslateDataError(f"{what} {folder} is not a folder")
        self.size, self.what, self.folder, self.min_pictures = size, what, folder, min_pictures
        self.short_side = int(np.ceil(size * FOLDER_OVERSIZE))
        self.cache_items = cache_items
        self._cache: dict[Path, np.ndarray] = {}
        self.skipped: list[str] = []
        self.paths = []
        for path in list_pictures(folder):
            problem = _header_problem(path)
            if problem is None:
                self.paths.append(path)
            else:
                self._skip(path, problem)
        self._check_count()
        log.info("%s: %d pictures in %s", what, len(self.paths), folder)

    def _skip(self, path: Path, problem: str) -> None:
        log.warning("%s: skipping %s: %s", self.what, path, problem)
        self.skipped.append(f"{path.name}: {problem}")

    def _check_count(self) -> None:
        if len(self.paths) >= self.min_pictures:
            return
        why = f" ({len(self.skipped)} skipped: {'; '.join(self.skipped[:3])})" if self.skipped else ""
        suffixes = ", ".join(sorted(PICTURE_SUFFIXES))
        raise TranslateDataError(
            f"{self.what} {self.folder} has {len(self.paths)} usable pictures{why}; training a translator "
            f"needs at least {self.min_pictures} ({suffixes}, at least {MIN_SIDE}x{MIN_SIDE} px)"
        )

    def __len__(self) -> int:
        return len(self.paths)

    def _picture(self, path: Path) -> np.ndarray:
        image = self._cache.get(path)
        if image is None:
            image = load_picture(path, self.short_side)
            if len(self._cache) < self.cache_items:
                self._cache[path] = image
        return image

    def sample(self, batch: int, rng: np.random.Generator) -> torch.Tensor:
        from studio.image_input import ImageInputError
        from studio.limits import MemoryLimitError

        rows = []
        while len(rows) < batch:
            path = self.paths[int(rng.integers(0, len(self.paths)))]
            try:
                image = self._picture(path)
            except (ImageInputError, MemoryLimitError, OSError, ValueError) as exc:
                self.paths.remove(path)  # the header looked fine but the pixels do not decode
                self._skip(path, str(exc))
                self._check_count()
                continue
            rows.append(random_crop(image, self.size, rng))
        return to_tensor(rows)
