"""First-run / empty-project panel: what the installed generator knows, as clickable chips."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLayout,
    QLayoutItem,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QStyle,
    QStyleOptionButton,
    QStylePainter,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible

from studio.inference.manifest import ModelInfo

MIN_CHIP = 80  # px: the narrowest a chip gets before its text is elided
QWIDGETSIZE_MAX = (1 << 24) - 1


class FlowLayout(QLayout):
    """Lays chips left to right and wraps, like words in a paragraph."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setSpacing(spacing)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 (Qt override)
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:  # noqa: N802
        return self.minimumSize()

    def minimumSize(self) -> QSize:  # noqa: N802
        """As narrow as one short chip: wider items are clipped to the width (chips elide their text),
        so a narrow panel never needs a horizontal scrollbar."""
        size = QSize()
        for item in self._items:
            size = size.expandedTo(item.minimumSize().boundedTo(QSize(MIN_CHIP, QWIDGETSIZE_MAX)))
        return size

    def _arrange(self, rect: QRect, move: bool) -> int:
        x, y, line = rect.x(), rect.y(), 0
        gap = self.spacing()
        for item in self._items:
            hint = item.sizeHint().boundedTo(QSize(max(rect.width(), MIN_CHIP), QWIDGETSIZE_MAX))
            if x + hint.width() > rect.right() and line > 0:
                x, y, line = rect.x(), y + line + gap, 0
            if move:
                item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + gap
            line = max(line, hint.height())
        return y + line - rect.y()


class _Chip(QPushButton):
    """A button that may be narrower than its text: it paints the text elided (text() stays whole)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.setMinimumWidth(MIN_CHIP)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt override)
        return QSize(MIN_CHIP, super().minimumSizeHint().height())

    def paintEvent(self, _event) -> None:  # noqa: N802
        option = QStyleOptionButton()
        self.initStyleOption(option)
        padding = self.sizeHint().width() - self.fontMetrics().horizontalAdvance(self.text())
        room = self.width() - padding
        option.text = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, room)
        QStylePainter(self).drawControl(QStyle.ControlElement.CE_PushButton, option)


def _chips(texts: list[str], on_click, tip: str) -> QWidget:
    box = QWidget()
    flow = FlowLayout(box)
    for text in texts:
        chip = _Chip(text)
        chip.setObjectName("chip")
        chip.setCursor(Qt.CursorShape.PointingHandCursor)
        chip.setToolTip(tip.format(text=text))
        chip.clicked.connect(lambda _=False, t=text: on_click(t))
        flow.addWidget(chip)
    return box


def _swatch(name: str, color: tuple[int, int, int]) -> QLabel:
    r, g, b = color
    fg = "#111" if (0.299 * r + 0.587 * g + 0.114 * b) > 140 else "#eee"
    label = QLabel(name)
    label.setStyleSheet(f"background: rgb({r},{g},{b}); color: {fg}; border-radius: 10px; padding: 2px 10px;")
    label.setToolTip(f"Paint class '{name}' (colour rgb {r}, {g}, {b})")
    return label


class WelcomePanel(QScrollArea):
    """Shown while the project is empty; rebuilt when the generator is known."""

    prompt_chosen = Signal(str)  # generate this prompt
    concept_chosen = Signal(str)  # add this word to the prompt

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # text wraps, chips elide
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setToolTip("")
        self.show_message("Loading models…")

    def show_message(self, text: str, heading: str = "Welcome to Synesthesia Studio") -> None:
        body, layout = self._page(heading)
        label = QLabel(text)
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(label)
        layout.addStretch(1)
        self.setWidget(body)

    def show_model(
        self, info: ModelInfo, sounds: list[tuple[str, str]] | None = None, layouts: bool = False
    ) -> None:
        """The generator's concepts, prompts and paint classes; `sounds` = (name, what it implies);
        `layouts`: text prompts start from an imagined layout (a layout prior is installed and on)."""
        body, layout = self._page("Welcome to Synesthesia Studio")
        intro = QLabel(
            f"Type what you want to see and press Enter. The generator <b>{info.name}</b> "
            f"(version {info.version}, {info.resolution or '?'} px) paints landscapes."
            + (
                " Each picture starts from a scene layout that fits your words (the Paint tab shows "
                "it: repaint it to move mountains, water or trees)."
                if layouts
                else ""
            )
            + (f"<br><span style='color:#9aa0a8'>{info.description}</span>" if info.description else "")
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        if info.example_prompts:
            layout.addWidget(_caption("Try one of these"))
            layout.addWidget(_chips(list(info.example_prompts), self.prompt_chosen.emit, "Generate '{text}'"))
        if info.concepts:
            layout.addWidget(_caption("Words it knows"))
            layout.addWidget(
                _chips(list(info.concepts), self.concept_chosen.emit, "Add '{text}' to the prompt")
            )
        classes = [c for c in info.label_classes if c.index != 0]
        if classes:
            fold = QCollapsible("Paint classes")
            fold.setToolTip("The semantic classes a sketch can use, with their brush colours")
            fold.findChild(QPushButton).setToolTip("Show or hide the classes")  # its fold button
            swatches = QWidget()
            flow = FlowLayout(swatches)
            for c in classes:
                flow.addWidget(_swatch(c.display, tuple(c.color)))
            fold.addWidget(swatches)
            fold.expand(animate=False)
            layout.addWidget(fold)
        if sounds:
            layout.addWidget(_caption("Sounds it understands (Sound panel)"))
            text = ", ".join(
                f"{name} <span style='color:#9aa0a8'>→ {implies}</span>" for name, implies in sounds
            )
            label = QLabel(text)
            label.setWordWrap(True)
            label.setToolTip("Open or record one of these in the Sound panel and press Apply sound")
            layout.addWidget(label)
        layout.addStretch(1)
        self.setWidget(body)

    def _page(self, heading: str) -> tuple[QWidget, QVBoxLayout]:
        body = QWidget()
        body.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(24, 20, 24, 20)
        layout.setSpacing(10)
        title = QLabel(heading)
        title.setObjectName("heading")
        title.setWordWrap(True)  # the large heading alone was wider than a narrow panel
        layout.addWidget(title)
        return body, layout


def _caption(text: str) -> QLabel:
    label = QLabel(text.upper())
    label.setObjectName("muted")
    return label
