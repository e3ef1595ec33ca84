"""Contact sheet of world scenes (image, label map, caption) for eyeballing the data.

python -m studio.world.sheet out.png --n 36 --size 128 [--seed 0] [--split train]
"""

from __future__ import annotations

import argparse
import logging
import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.world.classes import palette
from studio.world.scene import SceneBatch, SceneError, render_scenes

log = logging.getLogger(__name__)


def colorize(labels: np.ndarray) -> np.ndarray:
    """Label map -> RGB using the paint palette."""
    return np.asarray(palette(), np.uint8)[labels]


def contact_sheet(batch: SceneBatch, columns: int = 6) -> Image.Image:
    """Tiles of image over label map over wrapped caption, `columns` scenes per row."""
    n, size = batch.images.shape[0], batch.images.shape[1]
    if n == 0:
        raise SceneError("a contact sheet needs at least one scene")
    columns = max(1, min(columns, n))
    rows = (n + columns - 1) // columns
    font = ImageFont.load_default()
    chars = max(12, size // 6)
    text_h = 12 * 4
    tile_w, tile_h = size + 8, 2 * size + text_h + 12
    sheet = Image.new("RGB", (columns * tile_w, rows * tile_h), (250, 250, 247))
    draw = ImageDraw.Draw(sheet)
    for i in range(n):
        x, y = (i % columns) * tile_w + 4, (i // columns) * tile_h + 4
        sheet.paste(Image.fromarray(batch.images[i]), (x, y))
        sheet.paste(Image.fromarray(colorize(batch.labels[i])), (x, y + size + 2))
        lines = textwrap.wrap(batch.captions[i], chars)[:4]
        draw.multiline_text((x, y + 2 * size + 6), "\n".join(lines), fill=(30, 30, 30), font=font, spacing=1)
    return sheet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write a contact sheet of procedural world scenes.")
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=36)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train", choices=("train", "eval"))
    parser.add_argument("--columns", type=int, default=6)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be at least 1")
    try:
        batch = render_scenes(args.n, args.seed, args.size, args.split)
    except SceneError as exc:
        parser.error(str(exc))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(batch, args.columns).save(args.out, optimize=True)
    print(f"wrote {args.out} ({args.n} scenes at {args.size} px)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
