"""A/B compare of two history nodes: a split view with a draggable divider, side by side, and a
table of what differs between their recipes."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QImage,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QShortcut,
)
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.recipe import Recipe
from studio.recipe_diff import diff_recipes, format_value
from ui.accessibility import KEYBOARD

KEY_STEP = 0.05  # divider move per arrow key (Shift: a fifth of it)


class SplitView(QWidget):
    """Both images fitted into the same rectangle; left of the divider shows A, right shows B.

    Fitting both into one rectangle keeps them aligned even when their sizes differ.
    """

    divider_moved = Signal(float)
    mode_changed = Signal(bool)  # True: side by side

    def __init__(self, left: QImage, right: QImage, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._left, self._right = left, right
        self._divider = 0.5
        self._side_by_side = False
        self.setMinimumSize(240, 160)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.SplitHCursor)
        self.setAccessibleName("Compare view")
        self.setToolTip(
            "Drag (or press Left/Right) to move the divider: A is left of it, B right. "
            "Tab switches to side by side."
        )

    def divider(self) -> float:
        """Where the divider is, from 0 (all B) to 1 (all A)."""
        return self._divider

    def set_divider(self, fraction: float) -> None:
        fraction = min(1.0, max(0.0, float(fraction)))
        if fraction != self._divider:
            self._divider = fraction
            self.update()
            self.divider_moved.emit(fraction)

    def side_by_side(self) -> bool:
        return self._side_by_side

    def set_side_by_side(self, on: bool) -> None:
        if on != self._side_by_side:
            self._side_by_side = on
            self.setCursor(Qt.CursorShape.ArrowCursor if on else Qt.CursorShape.SplitHCursor)
            self.update()
            self.mode_changed.emit(on)

    def image_rect(self) -> QRectF:
        """Where the images are drawn in split mode (A's aspect ratio, centred)."""
        return _fit(self._left, QRectF(self.rect()))

    def divider_x(self) -> float:
        rect = self.image_rect()
        return rect.left() + self._divider * rect.width()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 (Qt override)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.fillRect(self.rect(), self.palette().window())
        if self._side_by_side:
            half = self.width() / 2
            painter.drawImage(_fit(self._left, QRectF(0, 0, half - 2, self.height())), self._left)
            painter.drawImage(_fit(self._right, QRectF(half + 2, 0, half - 2, self.height())), self._right)
            return
        rect = self.image_rect()
        x = self.divider_x()
        painter.save()
        painter.setClipRect(QRectF(rect.left(), rect.top(), x - rect.left(), rect.height()))
        painter.drawImage(rect, self._left)
        painter.setClipRect(QRectF(x, rect.top(), rect.right() - x, rect.height()))
        painter.drawImage(rect, self._right)
        painter.restore()
        painter.setPen(QPen(QColor(255, 255, 255, 220), 2))
        painter.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        painter.drawText(rect.adjusted(6, 4, -6, -4), Qt.AlignmentFlag.AlignLeft, "A")
        painter.drawText(rect.adjusted(6, 4, -6, -4), Qt.AlignmentFlag.AlignRight, "B")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.button() == Qt.MouseButton.LeftButton and not self._side_by_side:
            self._drag_to(event.position().x())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        if event.buttons() & Qt.MouseButton.LeftButton and not self._side_by_side:
            self._drag_to(event.position().x())

    def _drag_to(self, x: float) -> None:
        rect = self.image_rect()
        if rect.width() > 0:
            self.set_divider((x - rect.left()) / rect.width())

    def event(self, event: QEvent) -> bool:
        """Tab toggles the mode here instead of moving the focus (the dialog has one focus stop)."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
                self.set_side_by_side(not self._side_by_side)
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 (Qt override)
        step = KEY_STEP / 5 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else KEY_STEP
        if event.key() == Qt.Key.Key_Left:
            self.set_divider(self._divider - step)
        elif event.key() == Qt.Key.Key_Right:
            self.set_divider(self._divider + step)
        else:
            super().keyPressEvent(event)


class CompareDialog(QDialog):
    """A/B compare of two images and their recipes. Esc closes."""

    def __init__(
        self,
        left: QImage,
        right: QImage,
        left_recipe: Recipe,
        right_recipe: Recipe,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare A / B")
        self.setAccessibleName("Compare two history nodes")
        self.view = SplitView(left, right)
        self.mode = QPushButton("Side by side")
        self.mode.setCheckable(True)
        self.mode.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab belongs to the view
        self.mode.setProperty(KEYBOARD, "Tab")
        self.mode.setAccessibleName("Side by side")
        self.mode.setToolTip("Show A and B next to each other instead of split (Tab)")
        self.mode.toggled.connect(self.view.set_side_by_side)
        self.view.mode_changed.connect(self._sync_mode)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Field", "A", "B"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.table.setProperty(KEYBOARD, "Alt+D")
        QShortcut(QKeySequence("Alt+D"), self, self.table.setFocus)
        self.table.setAccessibleName("Recipe differences")
        self.table.setToolTip("What differs between the two recipes (Alt+D to read them with the keyboard)")
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        self._fill_table(left_recipe, right_recipe)
        close = QPushButton("Close")
        close.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        close.setProperty(KEYBOARD, "Esc")
        close.setToolTip("Close the comparison (Esc)")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("←/→ move the divider · Tab switches mode · Esc closes"))
        buttons.addStretch(1)
        buttons.addWidget(self.mode)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 3)
        layout.addLayout(buttons)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.resize(820, 680)
        self.view.setFocus()

    def _fill_table(self, left: Recipe, right: Recipe) -> None:
        changes = diff_recipes(left, right)
        self.table.setRowCount(len(changes))
        for row, change in enumerate(changes):
            for col, text in enumerate(
                (change.field, format_value(change.before), format_value(change.after))
            ):
                cell = QTableWidgetItem(text)
                cell.setToolTip(change.summary)
                self.table.setItem(row, col, cell)
        self.summary.setText(
            "The recipes are the same." if not changes else " · ".join(c.summary for c in changes)
        )

    def _sync_mode(self, on: bool) -> None:
        self.mode.blockSignals(True)
        self.mode.setChecked(on)
        self.mode.blockSignals(False)


def _fit(image: QImage, bounds: QRectF) -> QRectF:
    """The largest rectangle with the image's aspect ratio, centred in `bounds`."""
    if image.isNull() or image.width() == 0 or bounds.width() <= 0 or bounds.height() <= 0:
        return QRectF(bounds)
    scale = min(bounds.width() / image.width(), bounds.height() / image.height())
    w, h = image.width() * scale, image.height() * scale
    return QRectF(bounds.center().x() - w / 2, bounds.center().y() - h / 2, w, h)
