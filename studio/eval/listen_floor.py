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
    real_hiss: np.ndarray | None = None,
    out_hiss: np.ndarray | None = None,
) -> dict:
    """The floor and its rates from top-1 cosines of held-out real clips (and whether each was
    right), out-of-world clips (and their kinds) and held-out synthesised clips. Clips flagged as
    steady hiss (`studio.audio.steady`) are refused whatever they score, as `listen` refuses them.
    Empty when no real clip was placed correctly: there is nothing to keep."""
    real, out, synthetic = (np.asarray(x, dtype=np.float64) for x in (real, out, synthetic))
    real_hits, synthetic_hits = np.asarray(real_hits, bool), np.asarray(synthetic_hits, bool)
    if not real_hits.any() or out.size == 0:
        return {}
    real_hiss = np.zeros(real.shape, bool) if real_hiss is None else np.asarray(real_hiss, bool)
    out_hiss = np.zeros(out.shape, bool) if out_hiss is None else np.asarray(out_hiss, bool)
    candidates = np.unique(np.round(np.concatenate([real, out]), 4))
    kept_and_refused = [
        ((real >= f) & ~real_hiss)[real_hits].mean() + ((out < f) | out_hiss).mean() for f in candidates
    ]
    floor = float(candidates[int(np.argmax(kept_and_refused))])
    placed = (real >= floor) & ~real_hiss
    refused = (out < floor) | out_hiss
    kinds = np.asarray(out_kinds)
    return {
        "value": floor,
        "score": SCORE,
        "real_heldout_correct_kept": _share(placed[real_hits]),
        "real_heldout_placed": _share(placed),
        "real_heldout_right_when_placed": _share(real_hits[placed]) if placed.any() else None,
        "out_of_world_refused": _share(refused),
        "out_of_world_refused_by_kind": {str(k): _share(refused[kinds == k]) for k in dict.fromkeys(kinds)},
        "synthetic_heldout_correct_kept": _share(synthetic[synthetic_hits] >= floor)
        if synthetic_hits.any()
        else None,
        "real_heldout_clips": int(real.size),
        "out_of_world_clips": int(out.size),
    }


def _share(flags: np.ndarray) -> float:
    return round(float(np.mean(flags)), 3)
