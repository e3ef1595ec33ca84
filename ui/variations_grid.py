"""The grid of variations from one generation: click selects, double-click opens it large; each
tile carries its match score (what the picture shows against its prompt) in a corner."""

from __future__ import annotations

import math
from collections.abc import Callable

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

from studio.describe.node_match import NodeMatch
from ui.match_badge import paint_badge, with_match

NODE_ROLE = Qt.ItemDataRole.UserRole
FRAME = 3  # selection frame width in pixels


class _FramedTileDelegate(QStyledItemDelegate):
    """Draws each picture exactly as it is; selection is a frame around it, never a tint, because a
    tinted tile misleads the artist's colour judgement."""

    def __init__(self, grid: VariationsGrid) -> None:
        super().__init__(grid)
        self._grid = grid

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
        found = self._grid.match(index.data(NODE_ROLE))
        if found is not None:
            paint_badge(painter, target, found, Qt.Corner.BottomRightCorner)


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
        self._tips: dict[str, str] = {}
        self._match_for: Callable[[str], NodeMatch | None] | None = None
        self.itemClicked.connect(lambda item: self.selected.emit(item.data(NODE_ROLE)))
        self.itemDoubleClicked.connect(lambda item: self.opened.emit(item.data(NODE_ROLE)))
        self.currentItemChanged.connect(self._on_current)

    def set_variations(self, entries: list[tuple[str, QImage, str]]) -> None:
        """entries: (node id, image, tooltip)."""
        self.blockSignals(True)
        self.clear()
        self._images = [image for _, image, _ in entries]
        self._tips = {node_id: tip for node_id, _image, tip in entries}
        for node_id, _image, _tip in entries:
            item = QListWidgetItem()
            item.setData(NODE_ROLE, node_id)
            self.addItem(item)
            self._set_tip(item)
        self.blockSignals(False)
        self._relayout()

    def set_match_source(self, match_for: Callable[[str], NodeMatch | None] | None) -> None:
        """Where tiles get their match score by node id (None: no scores shown)."""
        self._match_for = match_for
        self.refresh_matches(self.node_ids())

    def match(self, node_id: str | None) -> NodeMatch | None:
        return self._match_for(node_id) if node_id and self._match_for is not None else None

    def refresh_matches(self, node_ids: list[str]) -> None:
        """Scores arrived for these nodes: their tooltips say what the pictures show, tiles repaint."""
        wanted = set(node_ids)
        for i in range(self.count()):
            if self.item(i).data(NODE_ROLE) in wanted:
                self._set_tip(self.item(i))
        self.viewport().update()

    def _set_tip(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        item.setToolTip(with_match(self._tips.get(node_id, ""), self.match(node_id)))

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
