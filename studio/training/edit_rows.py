"""Edit rows: a generator fine-tune practises the edit a sound makes.

A sound edit re-renders a picture with the attributes it implies moved (rain → weather rainy, an
owl → night, a blizzard → snowy winter with snow on the ground) while its layout, caption and seed
stay. No training row was ever like that: a row's caption, layout and attributes always agree, so
a rainy attribute over a sunny scene's layout painted a half-rainy picture (`studio eval`: heavy
rain → rainy 0.50, blizzard → snowy 0.06). An edit row keeps the row's layout and plain caption
(its attribute words cut), moves the attributes a sound moves, and a frozen judge of renders
(`judge_weight`) asks for the moved time and weather to show; the anchor does not hold it to the
init's old picture.
"""

from __future__ import annotations

import torch

from studio.inference.sound_ground import COVERED, SNOW
from studio.training.data import ATTRIBUTE_GROUPS
from studio.world.classes import CLASS_INDEX
from studio.world.sounds import SOUND_KINDS

_NAMES = list(ATTRIBUTE_GROUPS)
_SEASON = _NAMES.index("season")
_WINTER = ATTRIBUTE_GROUPS["season"].index("winter")
# The distinct moves the sounds make to scene attributes (owl: time night; blizzard: snowy winter),
# as value indices per group, -1 where a move leaves the group alone. Rain and heavy rain make one.
SOUND_MOVES = torch.tensor(
    [
        [ATTRIBUTE_GROUPS[g].index(kind.attributes[g]) if g in kind.attributes else -1 for g in _NAMES]
        for kind in SOUND_KINDS
        if set(kind.attributes) & set(_NAMES)
    ]
).unique(dim=0)


def edited_attributes(truth: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """[N, groups] `truth` with one sound's moves applied per row (drawn at random among the
    distinct moves of SOUND_MOVES), as Apply does in the app."""
    moves = SOUND_MOVES[torch.randint(0, len(SOUND_MOVES), (len(truth),), generator=generator)]
    return torch.where(moves >= 0, moves, truth)


def snowed(labels: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """One-hot labels [N, C, H, W] with grass and flowers turned to snow on `rows`: the layout the
    app paints under an edit that brings winter (studio/inference/sound_ground.py)."""
    covered = [CLASS_INDEX[c] for c in COVERED]
    hit = rows[:, None, None].to(labels.dtype)
    out = labels.clone()
    out[:, CLASS_INDEX[SNOW]] += labels[:, covered].sum(1) * hit
    out[:, covered] = labels[:, covered] * (1 - hit[:, None])
    return out


def brings_winter(before: torch.Tensor, after: torch.Tensor) -> torch.Tensor:
    """Rows whose edit moved them into winter (their ground is to be snowed)."""
    return (after[:, _SEASON] == _WINTER) & (before[:, _SEASON] != _WINTER)
