"""History tree: every committed node with its thumbnail, nested under its parent; star and note."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from studio.project.store import Node

NODE_ROLE = Qt.ItemDataRole.UserRole
THUMB = 48


def node_title(node: Node) -> str:
    """Two lines: the prompt (shortened) and what tells siblings apart."""
    prompt = node.recipe.prompt or "(anything)"
    prompt = prompt if len(prompt) <= 48 else prompt[:47] + "…"
    star = "★ " if node.starred else ""
    kind = "" if node.kind == "generate" else f" · {node.kind}"
    note = f" · {node.note}" if node.note else ""
    return f"{star}{prompt}\nseed {node.recipe.seed}{kind}{note}"


class HistoryPanel(QWidget):
    """Tree of nodes by first parent, plus an inspector row for the selected node."""

    node_selected = Signal(str)
    star_toggled = Signal(str, bool)
    note_edited = Signal(str, str)
    delete_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: dict[str, QTreeWidgetItem] = {}
        self._nodes: dict[str, Node] = {}
        self._current = ""
        title = QLabel("History")
        title.setObjectName("heading")
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        self.tree.setToolTip(
            "Every result is a node under the one it was made from. Click a node to restore its prompt "
            "and seed; generating then makes a branch from it."
        )
        self.tree.currentItemChanged.connect(self._on_current)
        self.star = QToolButton()
        self.star.setText("☆")
        self.star.setCheckable(True)
        self.star.setToolTip("Star the selected node (Ctrl+Z undoes)")
        self.star.clicked.connect(lambda on: self._current and self.star_toggled.emit(self._current, on))
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note for the selected node…")
        self.note.setToolTip("A note kept with the selected node; press Enter to save it")
        self.note.editingFinished.connect(self._on_note)
        self.delete = QToolButton()
        self.delete.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TrashIcon))
        self.delete.setToolTip(
            "Move the selected node and its descendants to the trash (Delete; Ctrl+Z undoes)"
        )
        self.delete.clicked.connect(lambda: self._current and self.delete_requested.emit(self._current))
        self.info = QElidingLabel("")
        self.info.setObjectName("muted")
        self.info.setToolTip("Recipe of the selected node")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.star)
        row.addWidget(self.note, 1)
        row.addWidget(self.delete)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.info)
        layout.addLayout(row)
        self._enable_inspector(None)

    def set_nodes(self, nodes: Iterable[Node], icon_for: Callable[[Node], QIcon]) -> None:
        """Rebuild from the project's live nodes (created order, so parents come first)."""
        self.tree.blockSignals(True)
        self.tree.clear()
        self._items.clear()
        self._nodes.clear()
        for node in nodes:
            self._insert(node, icon_for(node))
        self.tree.expandAll()
        self.tree.blockSignals(False)
        self.select(self._current if self._current in self._items else "")

    def add_nodes(self, nodes: Iterable[Node], icon_for: Callable[[Node], QIcon]) -> None:
        for node in nodes:
            item = self._insert(node, icon_for(node))
            if item.parent() is not None:
                item.parent().setExpanded(True)

    def update_node(self, node: Node) -> None:
        item = self._items.get(node.id)
        if item is None:
            return
        self._nodes[node.id] = node
        self._decorate(item, node)
        if node.id == self._current:
            self._enable_inspector(node)

    def node_ids(self) -> list[str]:
        return list(self._items)

    def item(self, node_id: str) -> QTreeWidgetItem | None:
        return self._items.get(node_id)

    def current(self) -> str:
        return self._current

    def select(self, node_id: str) -> None:
        item = self._items.get(node_id)
        self.tree.blockSignals(True)
        self.tree.setCurrentItem(item)
        if item is None:
            self.tree.clearSelection()
        self.tree.blockSignals(False)
        self._current = node_id if item is not None else ""
        self._enable_inspector(self._nodes.get(self._current))
        if item is not None:
            self.tree.scrollToItem(item)

    def _insert(self, node: Node, icon: QIcon) -> QTreeWidgetItem:
        parent = next((self._items[p] for p in node.parents if p in self._items), None)
        item = QTreeWidgetItem()
        item.setData(0, NODE_ROLE, node.id)
        item.setIcon(0, icon)
        self._nodes[node.id] = node
        self._decorate(item, node)
        if parent is None:
            self.tree.addTopLevelItem(item)
        else:
            parent.addChild(item)
        self._items[node.id] = item
        return item

    def _decorate(self, item: QTreeWidgetItem, node: Node) -> None:
        item.setText(0, node_title(node))
        tip = f"{node.kind} · {node.recipe.model} {node.recipe.model_version} · {node.recipe.size}px"
        item.setToolTip(
            0,
            f"{node.recipe.prompt or '(anything)'}\nseed {node.recipe.seed}\n{tip}"
            + (f"\nnote: {node.note}" if node.note else ""),
        )

    def _on_current(self, item: QTreeWidgetItem | None, _prev: QTreeWidgetItem | None) -> None:
        node_id = item.data(0, NODE_ROLE) if item is not None else ""
        self._current = node_id
        self._enable_inspector(self._nodes.get(node_id))
        if node_id:
            self.node_selected.emit(node_id)

    def _on_note(self) -> None:
        node = self._nodes.get(self._current)
        if node is not None and self.note.text() != node.note:
            self.note_edited.emit(node.id, self.note.text())

    def _enable_inspector(self, node: Node | None) -> None:
        for w in (self.star, self.note, self.delete):
            w.setEnabled(node is not None)
        self.star.setChecked(bool(node and node.starred))
        self.star.setText("★" if node and node.starred else "☆")
        self.note.blockSignals(True)
        self.note.setText(node.note if node else "")
        self.note.blockSignals(False)
        if node is None:
            self.info.setText("")
        else:
            r = node.recipe
            self.info.setText(f"{node.kind} · seed {r.seed} · {r.model} {r.model_version} · {r.size}px")
