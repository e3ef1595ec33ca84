"""The semantic label classes shared by the renderer, the generators and the paint palette.

Indices are part of the model contract (one-hot channel order), so never reorder them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LabelClass:
    """One paintable class: its channel index, id name, UI name and palette colour."""

    index: int
    name: str
    display: str
    color: tuple[int, int, int]


LABEL_CLASSES: tuple[LabelClass, ...] = (
    LabelClass(0, "unknown", "Unknown", (0, 0, 0)),
    LabelClass(1, "sky", "Sky", (135, 196, 240)),
    LabelClass(2, "cloud", "Cloud", (222, 226, 232)),
    LabelClass(3, "mountain", "Mountain", (128, 112, 100)),
    LabelClass(4, "snow", "Snow", (255, 255, 255)),
    LabelClass(5, "rock", "Rock", (78, 78, 84)),
    LabelClass(6, "water", "Water", (32, 72, 170)),
    LabelClass(7, "sand", "Sand", (226, 204, 150)),
    LabelClass(8, "grass", "Grass", (110, 190, 70)),
    LabelClass(9, "tree", "Tree", (24, 92, 44)),
    LabelClass(10, "flower", "Flower", (232, 70, 180)),
)
NUM_CLASSES = len(LABEL_CLASSES)
CLASS_INDEX: dict[str, int] = {c.name: c.index for c in LABEL_CLASSES}


def palette() -> list[tuple[int, int, int]]:
    """Colours by index, for turning a label map into a picture."""
    return [c.color for c in LABEL_CLASSES]


def class_entries() -> list[dict]:
    """The classes as manifests list them (`label_classes`: index, name, display name, colour)."""
    return [
        {"index": c.index, "name": c.name, "display": c.display, "color": list(c.color)}
        for c in LABEL_CLASSES
    ]
