"""The grid of variations from one generation: click selects, double-click opens it large."""

from __future__ import annotations

import math

from PySide6.QtCore import QModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QListWidgetItem,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

NODE_ROLE = Qt.ItemDataRole.UserRole
FRAME = 3  # selection frame width in pixels


class _FramedTileDelegate(QStyledItemDelegate):
    """Draws each picture exactly as it is; selection is a frame around it, never a tint, because a
    tinted tile misleads the artist's colour judgement."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        icon = index.data(Qt.ItemDataRole.DecorationRole)
        if not isinstance(icon, QIcon):
            return
        pixmap = icon.pixmap(option.decorationSize)
        size = pixmap.deviceIndependentSize().toSize()
        target = QRect(option.rect.topLeft(), size)
        target.moveCenter(option.rect.center())
        painter.drawPixmap(target, pixmap)
        if option.state & QStyle.StateFlag.State_Selected:
            painter.save()
            pen = QPen(option.palette.color(QPalette.ColorRole.Highlight), FRAME)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            half = FRAME // 2 + 1
            painter.drawRect(target.adjusted(-half, -half, half - 1, half - 1))
            painter.restore()


class VariationsGrid(QListWidget):
    """Thumbnails sized to fill the widget in a near-square grid."""

    selected = Signal(str)  # node id
    opened = Signal(str)  # node id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setSpacing(6)
        self.setUniformItemSizes(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setToolTip("Variations of the last generation. Click to select, double-click to open large.")
        self.setAccessibleName("Results grid")
        self.setItemDelegate(_FramedTileDelegate(self))
        self._images: list[QImage] = []
        self.itemClicked.connect(lambda item: self.selected.emit(item.data(NODE_ROLE)))
        self.itemDoubleClicked.connect(lambda item: self.opened.emit(item.data(NODE_ROLE)))
        self.currentItemChanged.connect(self._on_current)

    def set_variations(self, entries: list[tuple[str, QImage, str]]) -> None:
        """entries: (node id, image, tooltip)."""
        self.blockSignals(True)
        self.clear()
        self._images = [image for _, image, _ in entries]
        for node_id, _image, tip in entries:
            item = QListWidgetItem()
            item.setData(NODE_ROLE, node_id)
            item.setToolTip(tip)
            self.addItem(item)
        self.blockSignals(False)
        self._relayout()

    def node_ids(self) -> list[str]:
        return [self.item(i).data(NODE_ROLE) for i in range(self.count())]

    def select_node(self, node_id: str) -> None:
        for i in range(self.count()):
            if self.item(i).data(NODE_ROLE) == node_id:
                self.blockSignals(True)
                self.setCurrentRow(i)
                self.blockSignals(False)
                return
        self.clearSelection()

    def _on_current(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None and self.hasFocus():  # keyboard navigation selects too
            self.selected.emit(item.data(NODE_ROLE))

    def _relayout(self) -> None:
        n = self.count()
        if not n:
            return
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        pad = 2 * self.spacing() + 8
        side = max(
            48,
            min((self.viewport().width() - pad) // cols, (self.viewport().height() - pad) // rows)
            - 2 * self.spacing(),
        )
        self.setIconSize(QSize(side, side))
        self.setGridSize(QSize(side + 2 * self.spacing(), side + 2 * self.spacing()))
        for i, image in enumerate(self._images):
            pix = QPixmap.fromImage(image).scaled(
                side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            self.item(i).setIcon(QIcon(pix))

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._relayout()
