"""Cheap smooth noise from upsampled random grids.

Grids are upsampled by separable smoothstep interpolation, so a field costs a few
elementwise passes over the image. The random draws depend only on the cell counts, not
on the output size, so a scene keeps its layout when rendered at another resolution.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np


@lru_cache(maxsize=512)
def _lerp_index(n: int, cells: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of `n` pixel centres: the grid cell to its left and the smoothstep weight."""
    pos = (np.arange(n) + 0.5) / n * (cells - 1)
    i0 = np.clip(np.floor(pos).astype(np.int64), 0, cells - 2)
    t = (pos - i0).astype(np.float32)
    t = t * t * (3.0 - 2.0 * t)
    i0.setflags(write=False)
    t.setflags(write=False)
    return i0, t


def grid_noise(rng: np.random.Generator, rows: int, cols: int, cy: int, cx: int) -> np.ndarray:
    """One octave of value noise in [-1, 1], shape (rows, cols), cy x cx random cells.

    Gathers and lerps instead of matrix products: the cost is O(rows * cols) whatever the
    cell count, and it never touches BLAS threads (which fight the trainer for cores).
    """
    g = rng.uniform(-1.0, 1.0, (cy, cx)).astype(np.float32)
    ir, tr = _lerp_index(rows, cy)
    a = g[ir]
    r = a + (g[ir + 1] - a) * tr[:, None]
    ic, tc = _lerp_index(cols, cx)
    a = r[:, ic]
    return a + (r[:, ic + 1] - a) * tc[None, :]


def fbm(
    rng: np.random.Generator, rows: int, cols: int, cy: int = 3, cx: int = 3, octaves: int = 4
) -> np.ndarray:
    """Fractal noise with about zero mean and unit spread (normalised by its theoretical std)."""
    out = np.zeros((rows, cols), np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        out += amp * grid_noise(rng, rows, cols, cy, cx)
        total += amp * amp
        amp *= 0.5
        cy, cx = cy * 2, cx * 2
    return out / np.float32(0.45 * np.sqrt(total))


def fbm1d(
    rng: np.random.Generator, n: int, cells: int = 3, octaves: int = 4, gain: float = 0.5
) -> np.ndarray:
    """1-D fractal noise in about [-1, 1] for ridge lines, shores and tree rows."""
    out = np.zeros(n, np.float32)
    amp, total = 1.0, 0.0
    for _ in range(octaves):
        g = rng.uniform(-1.0, 1.0, cells).astype(np.float32)
        i0, t = _lerp_index(n, cells)
        out += amp * (g[i0] + (g[i0 + 1] - g[i0]) * t)
        total += amp
        amp *= gain
        cells *= 2
    return out / np.float32(total)
