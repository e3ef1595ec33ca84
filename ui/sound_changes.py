"""What a sound edit will change, one tickable line per scene attribute ("time → night ← Owl 0.86").

A generator with scene attributes moves the groups the heard sound implies; the artist may want
the owl's mood without its night, so each change can be unticked before applying. Unticked groups
stay as the picture has them, live and in the stored recipe.
"""

from __future__ import annotations

from collections.abc import Collection

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QGroupBox, QVBoxLayout, QWidget


class SoundChanges(QGroupBox):
    """The changes of the sound last heard, all ticked at first; hidden when it changes nothing."""

    toggled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Will change (by the strength)", parent)
        self.setToolTip("What applying the sound changes in the picture; untick what it must leave alone")
        self.setAccessibleName("Will change")
        self._layout = QVBoxLayout(self)
        self.checks: dict[str, tuple[str, QCheckBox]] = {}  # group → (value, its box)
        self.hide()

    def set_changes(
        self, changes: dict[str, str], heard: str = "", score: float = 0.0, ticked: bool = True
    ) -> None:
        """One box per group → value, with the sound that implies it and its score; unticked when
        the encoder could not place the sound (the artist may still choose a change)."""
        for _value, box in self.checks.values():
            self._layout.removeWidget(box)
            box.deleteLater()
        self.checks = {}
        for group, value in changes.items():
            box = QCheckBox(f"{group} → {value} ← {heard} {score:.2f}")
            box.setChecked(ticked)
            box.setToolTip(f"Untick to keep the picture's {group} as it is when the sound is applied")
            box.setAccessibleName(f"Change {group} to {value}")
            box.toggled.connect(self.toggled)
            self._layout.addWidget(box)
            self.checks[group] = (value, box)
        self.setVisible(bool(self.checks))

    def moves(self) -> dict[str, str] | None:
        """The ticked changes (group → value); None when nothing was heard to change."""
        if not self.checks:
            return None
        return {group: value for group, (value, box) in self.checks.items() if box.isChecked()}

    def held(self) -> tuple[str, ...]:
        """The unticked groups: a live sound leaves them alone too."""
        return tuple(group for group, (_value, box) in self.checks.items() if not box.isChecked())

    def tick_only(self, groups: Collection[str]) -> None:
        """Tick the changes of these groups, untick the others (a sound node shows what it applied)."""
        for group, (_value, box) in self.checks.items():
            box.setChecked(group in groups)

    def all_unticked(self) -> bool:
        return bool(self.checks) and not self.moves()
