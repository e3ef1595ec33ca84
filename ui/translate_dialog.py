"""Translate…: which domain to take the picture to (only what an installed translator offers) and
the style seed (other seeds, other nights)."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.prompt_panel import SEED_MAX


class TranslateDialog(QDialog):
    def __init__(self, targets: list[str], what: str, seed: int = 1, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Translate")
        intro = QLabel(f"Turn {what} into another time or season. The picture's centre square is used.")
        intro.setWordWrap(True)
        self.target = QComboBox()
        self.target.addItems(targets)
        self.target.setAccessibleName("Translate to")
        self.target.setToolTip("What to make of the picture: the installed translators go to these")
        self.seed = QSpinBox()
        self.seed.setRange(0, SEED_MAX)
        self.seed.setValue(seed)
        self.seed.setAccessibleName("Style seed")
        self.seed.setToolTip("Style seed: the same seed gives the same result, other seeds other nights")
        form = QFormLayout()
        form.addRow("To", self.target)
        form.addRow("Seed", self.seed)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Translate")
        ok.setToolTip("Translate the picture; the result becomes a new node in the history")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip("Close without translating")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def choice(self) -> tuple[str, int]:
        return self.target.currentText(), self.seed.value()
