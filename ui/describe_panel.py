"""The Describe panel: what a picture shows, in words, and whether that is what its prompt asked for.

The panel only holds widgets and says what the artist asked for (signals); DescribeController does
the work in the worker. It shows where the caption came from (a captioner, or the retrieval
baseline when none is installed) and every note the core gave, so a guess never reads as a fact.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.describe.describe import Description
from studio.describe.match import Match
from ui.scroll import scroll_body

DESCRIBE_SHORTCUT = "Ctrl+Shift+D"
IDLE_TEXT = f"Select a picture and press Describe ({DESCRIBE_SHORTCUT}), or describe a picture file."
METHODS = {"captioner": "captioner", "retrieval": "retrieval baseline (nearest training caption)"}


def _label(name: str, tip: str) -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setAccessibleName(name)
    label.setToolTip(tip)
    return label


def _button(text: str, tip: str, name: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setAccessibleName(name)
    return button


def _set_style(label: QLabel, name: str) -> None:
    """Switch a label between the theme's muted and warning looks."""
    label.setObjectName(name)
    label.style().unpolish(label)
    label.style().polish(label)


class DescribePanel(QWidget):
    describe_requested = Signal()  # the selected picture
    file_requested = Signal()  # a picture file, chosen by the controller's dialog
    use_requested = Signal()  # the caption into the prompt

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Describe")
        self.describe_button = _button(
            "Describe",
            f"Say in words what the selected picture shows ({DESCRIBE_SHORTCUT})",
            "Describe selected",
        )
        self.file_button = _button(
            "Describe a file…",
            "Say in words what a picture file shows (PNG, JPEG, WebP, …)",
            "Describe a file",
        )
        self.use_button = _button(
            "Use as prompt",
            "Put the caption into the prompt line (Ctrl+Z in the prompt takes it back)",
            "Use caption as prompt",
        )
        self.use_button.setEnabled(False)
        self.describe_button.clicked.connect(self.describe_requested)
        self.file_button.clicked.connect(self.file_requested)
        self.use_button.clicked.connect(self.use_requested)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # no steps to count: it moves while the worker reads the picture
        self.busy.setTextVisible(False)
        self.busy.setMaximumHeight(6)
        self.busy.setAccessibleName("Describing")
        self.busy.hide()
        self.status = _label("Describe status", "What the panel is doing, or why it could not describe")
        self.caption = _label("Caption", "What the picture shows, in words")
        self.caption.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.scene = _label("Scene", "The time, weather and season the caption names (? = it names none)")
        self.features = _label("Features", "Lake, forest, snowy peaks, … the caption names")
        self.classes = _label("Classes", "How much of the picture each class covers, by the segmenter")
        self.match = _label(
            "Prompt match",
            "Does the caption name what the picture's prompt asked for? ✗ marks what the picture missed",
        )
        self.source = _label("Made by", "Which model wrote the caption, and how")
        self.notes = _label(
            "Notes", "What the describer had to do or assume; read before trusting the caption"
        )
        _set_style(self.notes, "muted")
        self._results = (
            self.caption,
            self.scene,
            self.features,
            self.classes,
            self.match,
            self.source,
            self.notes,
        )
        self._build()
        self.show_idle(IDLE_TEXT)

    def _build(self) -> None:
        buttons = QHBoxLayout()
        buttons.addWidget(self.describe_button)
        buttons.addWidget(self.file_button)
        buttons.addStretch(1)
        form = QFormLayout()
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        for title, label in (
            ("Scene", self.scene),
            ("Features", self.features),
            ("Classes", self.classes),
            ("Prompt", self.match),
            ("Made by", self.source),
            ("Notes", self.notes),
        ):
            form.addRow(title, label)
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.addLayout(buttons)
        layout.addWidget(self.busy)
        layout.addWidget(self.status)
        layout.addWidget(self.caption)
        layout.addLayout(form)
        layout.addWidget(self.use_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(1)
        scroll_body(self, inner)

    # --- states ---------------------------------------------------------------------------------
    def _clear(self) -> None:
        for label in self._results:
            label.clear()
        self.use_button.setEnabled(False)

    def show_idle(self, text: str) -> None:
        self.busy.hide()
        self.status.setText(text)
        _set_style(self.status, "muted")

    def show_busy(self, text: str) -> None:
        self._clear()
        self.busy.show()
        self.status.setText(text)
        _set_style(self.status, "muted")

    def show_error(self, text: str) -> None:
        self._clear()
        self.busy.hide()
        self.status.setText(text)
        _set_style(self.status, "warning")

    def show_description(self, what: str, description: Description, prompt: str, match: Match | None) -> None:
        """A finished description of `what`, matched against `prompt` (None: there was none)."""
        d = description
        self.busy.hide()
        self.status.setText(f"What {what} shows:")
        _set_style(self.status, "muted")
        self.caption.setText(d.caption)
        self.scene.setText(d.scene_line())
        self.features.setText(", ".join(d.features) or "none named")
        self.classes.setText(" · ".join(f"{n} {s:.0%}" for n, s in d.classes) or "no segmenter installed")
        if match is None:
            self.match.setText("no prompt to compare with")
        else:
            self.match.setText(f"“{prompt}”: {match.summary()}")
        how = f"cosine {d.score:.3f}" if d.method == "retrieval" else f"log-probability {d.score:.2f}"
        self.source.setText(f"{METHODS.get(d.method, d.method)}: {d.model} ({how})")
        self.notes.setText("\n".join(d.notes) or "none")
        self.use_button.setEnabled(bool(d.caption))
