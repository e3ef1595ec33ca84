"""What the generator will be told about time, weather and season — read from the prompt as the
artist types, each one pinnable ("Auto" follows the words)."""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QWidget

from studio.inference.attributes import GROUPS, RECIPE_KEY, attributes_for_prompt, read_attributes
from studio.recipe import Recipe

AUTO = "auto"


class AttributesBar(QWidget):
    """One combo per group: "Auto (night ← moonlit)" first, then the values to pin."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combos: dict[str, QComboBox] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Scene:")
        title.setObjectName("muted")
        title.setToolTip(
            "What the generator is told about time of day, weather and season. Auto reads it from "
            "your prompt; pick a value to pin it whatever the words say."
        )
        layout.addWidget(title)
        for group, values in GROUPS.items():
            combo = QComboBox()
            combo.setAccessibleName(f"Scene {group}")
            combo.setToolTip(f"{group.capitalize()}: Auto follows the prompt; a value pins it")
            combo.addItem("", AUTO)
            for value in values:
                combo.addItem(value, value)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
            self.combos[group] = combo
            layout.addWidget(combo)
        layout.addStretch(1)
        self.set_prompt("")

    def set_prompt(self, prompt: str) -> None:
        """Relabel the Auto entries with what the reader finds in `prompt`."""
        for group, hit in read_attributes(prompt).items():
            label = f"{group}: auto ({hit[0]} ← {hit[1]})" if hit else f"{group}: auto (?)"
            self.combos[group].setItemText(0, label)

    def pinned(self) -> tuple[tuple[str, str], ...]:
        """The groups the artist pinned, as a RenderRequest carries them."""
        return tuple(
            (group, combo.currentData())
            for group, combo in self.combos.items()
            if combo.currentData() != AUTO
        )

    def show_recipe(self, recipe: Recipe) -> None:
        """Restore a node's choices: a stored value the prompt does not say was pinned."""
        stored = recipe.extra.get(RECIPE_KEY) or {}
        read = attributes_for_prompt(recipe.prompt)
        for group, combo in self.combos.items():
            value = stored.get(group) if isinstance(stored, dict) else None
            index = combo.findData(value) if value is not None and value != read.get(group) else 0
            combo.setCurrentIndex(max(0, index))
        self.set_prompt(recipe.prompt)

    def set_available(self, available: bool) -> None:
        """Only generators with an attribute input listen; others show the bar disabled."""
        self.setEnabled(available)
        self.setToolTip("" if available else "The selected generator has no scene-attribute input")
