"""Snow on the ground: the one change a sound edit makes to the layout.

The world lays snow wherever winter or snowfall comes: a snowy meadow's ground is labelled snow,
not grass. So no generator ever saw grass under falling snow, and a blizzard applied to a meadow
kept its green grass however snowy the weather (`studio eval`: blizzard → snowy 0.00). A sound edit
that brings winter or snowfall therefore also offers `ground → snow`: grass and flowers in the
layout turn to snow by the edit's strength, and every region keeps its shape. It is stored with the
recipe's other sound changes, so older recipes render as they did and the artist can untick it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studio.inference.attributes import within
from studio.inference.manifest import ModelInfo

GROUND = "ground"  # the change's name beside the attribute groups (time, weather, season)
SNOW = "snow"
COVERED = ("grass", "flower")  # what snow covers in the world; sand, rock, water and trees stay


def with_ground(moves: dict[str, str], classes: Sequence[str]) -> dict[str, str]:
    """A sound's attribute changes, plus ground → snow where they bring winter or snowfall and the
    generator paints snow and something it covers."""
    wintry = moves.get("season") == "winter" or moves.get("weather") == "snowy"
    if wintry and SNOW in classes and any(c in classes for c in COVERED):
        return {**moves, GROUND: SNOW}
    return dict(moves)


def sound_changes(info: ModelInfo, implied: dict[str, str]) -> dict[str, str]:
    """What an edit with a sound that implies these attributes changes in a generator's pictures:
    the ones its attribute groups have, and snow on the ground where they bring it. One place, so
    the Sound panel lists exactly what Pipeline.sound_moves applies and stores."""
    return with_ground(within(info.attribute_groups, implied), [c.name for c in info.label_classes])


def snow_ground(labels: np.ndarray, classes: Sequence[str], amount: float) -> np.ndarray:
    """One-hot labels [C, H, W] with grass and flowers moved to snow by `amount` (0..1): at 1 the
    ground is labelled as the world labels a winter scene's."""
    amount = float(np.clip(amount, 0.0, 1.0))
    if SNOW not in classes or amount == 0.0:
        return labels
    out = labels.copy()
    snow = list(classes).index(SNOW)
    for name in COVERED:
        if name in classes:
            i = list(classes).index(name)
            out[snow] += amount * out[i]
            out[i] *= 1.0 - amount
    return out
