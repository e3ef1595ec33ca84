"""Prompt line, recent prompts, seed with a dice button and the Generate button."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCompleter,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.recipe import MAX_PROMPT_CHARS
from ui.attributes_bar import AttributesBar

SEED_MAX = 2**31 - 1
LONG_PROMPT = 400  # the text encoder reads ~128 tokens; past this the tail is likely ignored


class PromptPanel(QWidget):
    generate_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.prompt = QLineEdit()
        self.prompt.setPlaceholderText("Describe a landscape… (empty = anything)")
        self.prompt.setToolTip(
            "What to paint, in your own words. Enter or Ctrl+Enter generates; "
            "an empty prompt means 'anything'."
        )
        self.prompt.setClearButtonEnabled(True)
        self.prompt.setAccessibleName("Prompt")
        self.prompt.returnPressed.connect(self.generate_requested)
        QShortcut(QKeySequence("Ctrl+Return"), self.prompt, self.generate_requested.emit)
        QShortcut(QKeySequence("Ctrl+Enter"), self.prompt, self.generate_requested.emit)
        self._completer = QCompleter([], self)
        self._completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.prompt.setCompleter(self._completer)
        self.recent = QToolButton()
        self.recent.setText("Recent")
        self.recent.setToolTip("Recent prompts")
        self.recent.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.recent.setMenu(QMenu(self.recent))
        self.counter = QLabel()
        self.counter.setObjectName("muted")
        self.counter.setToolTip(
            f"Prompt length. The text encoder reads about 128 words; prompts over {MAX_PROMPT_CHARS} "
            "characters are cut."
        )
        self.prompt.textChanged.connect(self._update_counter)
        self.attributes = AttributesBar()
        self.prompt.textChanged.connect(self.attributes.set_prompt)
        self.seed = QSpinBox()
        self.seed.setRange(0, SEED_MAX)
        self.seed.setValue(1)
        self.seed.setPrefix("seed ")
        self.seed.setToolTip("Seed of the first variation; the others use the following seeds")
        self.seed.setMinimumWidth(130)
        self.seed.setAccessibleName("Seed")
        self.dice = QToolButton()
        self.dice.setText("⚄")
        self.dice.setStyleSheet("font-size: 18px; padding: 0 4px;")
        self.dice.setToolTip("Pick a random seed")
        self.dice.clicked.connect(self.roll)
        self.generate = QPushButton("Generate")
        self.generate.setObjectName("primary")
        self.generate.setToolTip("Render the variations (Enter)")
        self.generate.clicked.connect(self.generate_requested)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.prompt, 1)
        row.addWidget(self.recent)
        row.addWidget(self.seed)
        row.addWidget(self.dice)
        row.addWidget(self.generate)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(row)
        below = QHBoxLayout()
        below.setContentsMargins(0, 0, 0, 0)
        below.addWidget(self.counter)
        below.addSpacing(16)
        below.addWidget(self.attributes, 1)
        layout.addLayout(below)
        self._update_counter()

    def text(self) -> str:
        return self.prompt.text()

    def seed_value(self) -> int:
        return self.seed.value()

    def set_recipe(self, prompt: str, seed: int) -> None:
        self.prompt.setText(prompt)
        self.seed.setValue(max(0, min(SEED_MAX, seed)))

    def roll(self) -> None:
        self.seed.setValue(random.randint(0, SEED_MAX))

    def set_recent(self, prompts: list[str]) -> None:
        self._completer.model().setStringList(prompts)  # QCompleter([]) builds a QStringListModel
        menu = self.recent.menu()
        menu.clear()
        for text in prompts:
            label = text if len(text) <= 70 else text[:67] + "…"
            menu.addAction(label, lambda t=text: self.prompt.setText(t))
        if not prompts:
            menu.addAction("No recent prompts").setEnabled(False)

    def _update_counter(self) -> None:
        n = len(self.prompt.text())
        if n > MAX_PROMPT_CHARS:
            text, warn = f"{n} characters: will be cut to {MAX_PROMPT_CHARS}", True
        elif n > LONG_PROMPT:
            text, warn = f"{n} characters: only about the first 128 words are read", True
        else:
            text, warn = f"{n} characters" if n else "empty prompt: anything goes", False
        self.counter.setText(text)
        self.counter.setObjectName("warning" if warn else "muted")
        self.counter.style().unpolish(self.counter)
        self.counter.style().polish(self.counter)
