"""A contact sheet for judging translators by eye (`studio translate-sheet`): held-out renders of
each domain down the side, then pictures from outside the world; for each translator, its
translation to the other domain across (seed 1, a second seed beside it when it has a style code).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studio.image_input import picture_rgb
from studio.inference.manifest import ModelError
from studio.translate.runtime import directions, model_input, style_dim, translate_arrays
from studio.world.domains import domain_scenes

SHEET_SEED = 90_000  # apart from training banks, eval-translate (50,000) and the sample panel
CELL, LABEL_H = 160, 14


def translator_sheet(
    pipe, models: Sequence[str], pictures: Sequence[Path] = (), per_domain: int = 4
) -> bytes:
    """JPEG bytes. Every model must translate between the same two domains; outside pictures go
    from the first domain to the second."""
    infos = [pipe.registry.get(name) for name in models]
    pairs = {tuple(info.manifest.get("domains", ())) for info in infos}
    if any(info.kind != "translator" for info in infos) or len(pairs) != 1:
        raise ModelError("a translator sheet compares translators between the same two domains")
    a, b = next(iter(pairs))
    res = int(infos[0].resolution or 128)
    rows = [(im, b) for im in domain_scenes(a, per_domain, SHEET_SEED, res).images]
    rows += [(im, a) for im in domain_scenes(b, per_domain, SHEET_SEED + 1, res).images]
    rows += [(picture_rgb(Path(p).read_bytes(), Path(p).name, "translating")[0], b) for p in pictures]
    columns = [("source", None, None)]
    for info in infos:
        seeds = (1, 2) if style_dim(info) else (1,)
        columns += [(f"{info.name} {info.version} seed {s}", info, s) for s in seeds]
    sheet = Image.new("RGB", (len(columns) * CELL, LABEL_H + len(rows) * CELL), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for j, (title, _, _) in enumerate(columns):
        draw.text((j * CELL + 3, 1), title[:26], fill=(230, 230, 230))
    for i, (pixels, target) in enumerate(rows):
        top = LABEL_H + i * CELL
        sheet.paste(_cell(model_input(pixels, res)), (0, top))
        for j, (_, info, seed) in enumerate(columns[1:], start=1):
            way = next(w for w in directions(info) if w.target == target)
            x = model_input(pixels, int(info.resolution))[None]
            sheet.paste(_cell(translate_arrays(pipe.engine, info, way, x, [seed])[0]), (j * CELL, top))
        draw.text((3, top + 2), f"to {target}", fill=(255, 255, 0))
    buffer = io.BytesIO()
    sheet.save(buffer, format="JPEG", quality=88)
    return buffer.getvalue()


def _cell(chw: np.ndarray) -> Image.Image:
    pixels = np.clip(np.rint((chw.transpose(1, 2, 0) + 1) * 127.5), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels).resize((CELL, CELL), Image.Resampling.BICUBIC)
