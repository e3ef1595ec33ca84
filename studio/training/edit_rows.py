"""Edit rows: a generator fine-tune practises the edit a sound makes.

A sound edit re-renders a picture with one attribute moved (rain → weather rainy, an owl → night,
a blizzard → snowy winter with snow on the ground) while its layout, caption and seed stay. No
training row was ever like that: a row's caption, layout and attributes always agree, so a rainy
attribute over a sunny scene's layout painted a half-rainy picture (`studio eval`: heavy rain →
rainy 0.50, blizzard → snowy 0.06). An edit row keeps the row's layout and plain caption (its
attribute words cut), moves time or weather, and a frozen judge of renders (`judge_weight`) asks
for the moved attribute to show; the anchor does not hold it to the init's old picture.
"""

from __future__ import annotations

import torch

from studio.inference.sound_ground import COVERED, SNOW
from studio.training.data import ATTRIBUTE_GROUPS
from studio.world.classes import CLASS_INDEX

EDITED = ("time", "weather")  # what the sounds move and the judge sees
_NAMES = list(ATTRIBUTE_GROUPS)
_WEATHER, _SEASON = _NAMES.index("weather"), _NAMES.index("season")
_SNOWY = ATTRIBUTE_GROUPS["weather"].index("snowy")
_WINTER = ATTRIBUTE_GROUPS["season"].index("winter")


def edited_attributes(truth: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """[N, groups] `truth` with time or weather (one per row, at random) moved to another value.
    Snowy weather also brings winter, as in the world and in a blizzard's edit."""
    out = truth.clone()
    n = len(truth)
    which = torch.randint(0, len(EDITED), (n,), generator=generator)
    for k, name in enumerate(EDITED):
        g, size = _NAMES.index(name), len(ATTRIBUTE_GROUPS[name])
        moved = (truth[:, g].clamp(min=0) + torch.randint(1, size, (n,), generator=generator)) % size
        out[:, g] = torch.where(which == k, moved, truth[:, g])
    out[:, _SEASON] = torch.where(out[:, _WEATHER] == _SNOWY, _WINTER, out[:, _SEASON])
    return out


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
