"""Draw packaging/icon.png (256 px) with Pillow from the same shapes as icon.svg.

Desktop menus want a PNG; drawing it here keeps the two in step without an SVG renderer.
Run: .venv/bin/python packaging/make_icon.py
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

SIZE, SCALE = 256, 4  # drawn 4x larger, then downscaled: smooth edges
N = SIZE * SCALE
SKY = [(0.0, "#27325f"), (0.6, "#c8627a"), (1.0, "#f4b26b")]
LAKE = [(0.0, "#3f6f9c"), (1.0, "#1c3353")]
WAVE = [(34, 204), (58, 204), (74, 180), (92, 228), (110, 170), (128, 236)]
WAVE += [(146, 184), (162, 218), (178, 196), (194, 204), (222, 204)]
MOUNTAINS = [(8, 168), (72, 84), (118, 140), (150, 104), (248, 168)]
SNOW_CAPS = [
    [(58, 102), (72, 84), (86, 102), (78, 98), (72, 104), (66, 98)],
    [(140, 116), (150, 104), (160, 116), (154, 113), (150, 118), (146, 113)],
]


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


def gradient(stops: list[tuple[float, str]], t: float) -> tuple[int, int, int]:
    for (t0, c0), (t1, c1) in zip(stops, stops[1:], strict=False):
        if t <= t1:
            f = (t - t0) / (t1 - t0)
            mixed = (round(a + (b - a) * f) for a, b in zip(rgb(c0), rgb(c1), strict=True))
            return tuple(mixed)  # type: ignore[return-value]
    return rgb(stops[-1][1])


def scaled(points: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(x * SCALE, y * SCALE) for x, y in points]


def draw() -> Image.Image:
    art = Image.new("RGBA", (N, N))
    d = ImageDraw.Draw(art)
    for y in range(N):
        v = y / SCALE
        colour = gradient(SKY, (v - 8) / 160) if v < 168 else gradient(LAKE, (v - 168) / 80)
        d.line([(0, y), (N, y)], fill=colour)
    d.ellipse(scaled([(140, 82), (200, 142)]), fill=rgb("#ffe6a3"))  # the sun
    d.polygon(scaled(MOUNTAINS), fill=rgb("#3a3f63"))
    for cap in SNOW_CAPS:
        d.polygon(scaled(cap), fill=rgb("#eef1f8"))

    tile = Image.new("L", (N, N), 0)
    ImageDraw.Draw(tile).rounded_rectangle(scaled([(8, 8), (248, 248)]), radius=48 * SCALE, fill=255)
    icon = Image.new("RGBA", (N, N), (0, 0, 0, 0))
    icon.paste(art, (0, 0), tile)

    pen = ImageDraw.Draw(icon)  # the sound wave across the lake, with round ends
    pen.line(scaled(WAVE), fill="white", width=10 * SCALE, joint="curve")
    r = 5 * SCALE
    for x, y in scaled([WAVE[0], WAVE[-1]]):
        pen.ellipse([(x - r, y - r), (x + r, y + r)], fill="white")
    return icon.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


if __name__ == "__main__":
    draw().save(Path(__file__).with_name("icon.png"), optimize=True)
