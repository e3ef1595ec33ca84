"""Calibrate a sound encoder's listen floor: below it, `studio listen` and the Sound panel say they
cannot place a sound instead of naming the closest label.

The confidence is the top-1 cosine to a listen label (the number the app shows). The floor is the
one that keeps the most correct placements of held-out real recordings while refusing the most
out-of-world sounds (studio.eval.out_of_world): the largest kept + refused (Youden's J), the lowest
such floor on ties. Every encoder carries its own (manifest `listen_floor`), with these rates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SCORE = "top-1 cosine to a listen label's prompt centre"


def calibrate_floor(
    real: np.ndarray,
    real_hits: np.ndarray,
    out: np.ndarray,
    out_kinds: Sequence[str],
    synthetic: np.ndarray,
    synthetic_hits: np.ndarray,
) -> dict:
    """The floor and its rates from top-1 cosines of held-out real clips (and whether each was
    right), out-of-world clips (and their kinds) and held-out synthesised clips. Empty when no
    real clip was placed correctly: there is nothing to keep."""
    real, out, synthetic = (np.asarray(x, dtype=np.float64) for x in (real, out, synthetic))
    real_hits, synthetic_hits = np.asarray(real_hits, bool), np.asarray(synthetic_hits, bool)
    if not real_hits.any() or out.size == 0:
        return {}
    candidates = np.unique(np.round(np.concatenate([real, out]), 4))
    kept_and_refused = [(real[real_hits] >= f).mean() + (out < f).mean() for f in candidates]
    floor = float(candidates[int(np.argmax(kept_and_refused))])
    placed = real >= floor
    kinds = np.asarray(out_kinds)
    return {
        "value": floor,
        "score": SCORE,
        "real_heldout_correct_kept": _share(placed[real_hits]),
        "real_heldout_placed": _share(placed),
        "real_heldout_right_when_placed": _share(real_hits[placed]) if placed.any() else None,
        "out_of_world_refused": _share(out < floor),
        "out_of_world_refused_by_kind": {
            str(k): _share(out[kinds == k] < floor) for k in dict.fromkeys(kinds)
        },
        "synthetic_heldout_correct_kept": _share(synthetic[synthetic_hits] >= floor)
        if synthetic_hits.any()
        else None,
        "real_heldout_clips": int(real.size),
        "out_of_world_clips": int(out.size),
    }


def _share(flags: np.ndarray) -> float:
    return round(float(np.mean(flags)), 3)
