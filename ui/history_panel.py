"""History tree: every committed node nested under its parent, labelled by what it changed.

Built for large projects (10,000+ nodes): rows are light QTreeWidgetItems added in bulk that
work out their labels only when painted, there are no per-row widgets, and thumbnails are
fetched by the delegate only for rows being painted.
A filter bar (text, #tags, starred, kind, model) hides rows but keeps the ancestors of matches
visible, greyed, so the result is still a tree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QModelIndex, QObject, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QKeyEvent, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel

from studio.bulk import gc_paused
from studio.describe.node_match import NodeMatch
from studio.project.store import Node
from studio.project.tags import TagError, parse_tags
from ui.line_edit_undo import PassUndoWhenClean
from ui.match_badge import badge_width, paint_badge, with_match
from ui.row_labels import node_title

NODE_ROLE = Qt.ItemDataRole.UserRole
CONTEXT_ROLE = Qt.ItemDataRole.UserRole + 1  # True: shown only as an ancestor of a match (greyed)
THUMB = 48
KINDS = ("generate", "paint", "masked", "sound", "import", "translate")
ALL = ""  # combo data for "no kind / model filter"

IconFor = Callable[[Node], QIcon]
MatchFor = Callable[[Node], NodeMatch | None]


def node_tooltip(node: Node, tags: list[str]) -> str:
    r = node.recipe
    lines = [
        r.prompt or "(anything)",
        f"seed {r.seed}",
        f"{node.kind} · {r.model} {r.model_version} · {r.size}px",
    ]
    if node.note:
        lines.append(f"note: {node.note}")
    if tags:
        lines.append("tags: " + " ".join(f"#{t}" for t in tags))
    return "\n".join(lines)


@dataclass(frozen=True)
class HistoryFilter:
    """What the filter bar asks for; an empty filter shows everything."""

    text: str = ""  # words starting with '#' match tags (by prefix), the rest prompt or note
    starred_only: bool = False
    kind: str = ALL
    model: str = ALL

    @property
    def active(self) -> bool:
        return bool(self.text.strip() or self.starred_only or self.kind or self.model)


class _LazyIconDelegate(QStyledItemDelegate):
    """Asks the panel for a row's thumbnail and match score when the row is painted, so hidden rows
    cost nothing; the score is a pill at the row's right end, the label elided before it."""

    def __init__(self, panel: HistoryPanel) -> None:
        super().__init__(panel.tree)
        self._panel = panel

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        found = self._panel.match(index.data(NODE_ROLE))
        if found is None:
            super().paint(painter, option, index)
            return
        row = QStyleOptionViewItem(option)
        self.initStyleOption(row, index)
        style = row.widget.style() if row.widget is not None else self._panel.style()
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, row, painter, row.widget)
        label = QStyleOptionViewItem(option)
        label.rect = option.rect.adjusted(0, 0, -badge_width(option.fontMetrics, found) - 6, 0)
        super().paint(painter, label, index)
        paint_badge(painter, option.rect, found, Qt.Corner.TopRightCorner)

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:  # noqa: N802
        super().initStyleOption(option, index)
        icon = self._panel.icon(index.data(NODE_ROLE))
        if icon is not None:
            option.icon = icon
            option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
            option.decorationSize = self._panel.tree.iconSize()
        if index.data(CONTEXT_ROLE):
            grey = option.palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)
            option.palette.setColor(QPalette.ColorRole.Text, grey)
            option.palette.setColor(QPalette.ColorRole.HighlightedText, grey)


class _NodeItem(QTreeWidgetItem):
    """A row whose label, tooltip and greying are computed when Qt asks (only for painted rows).

    Working out what a child changed costs a recipe diff; at 10,000 nodes doing that up front
    was half of the time to open a project.
    """

    def __init__(self, panel: HistoryPanel, node_id: str) -> None:
        super().__init__()
        self._panel = panel
        self.node_id = node_id

    def data(self, column: int, role: int) -> object:
        if role == Qt.ItemDataRole.DisplayRole:
            return self._panel.title(self.node_id)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._panel.tooltip(self.node_id)
        if role == NODE_ROLE:
            return self.node_id
        if role == CONTEXT_ROLE:
            return self.node_id in self._panel._context
        return super().data(column, role)


class HistoryPanel(QWidget):
    """Tree of nodes by first parent, a filter bar, and an inspector row for the selected node.

    Signals carry node ids; the window turns star/note/tags/delete into undoable commands and
    calls back `update_node` / `set_tags` (the panel never writes to the project itself).
    """

    node_selected = Signal(str)
    star_toggled = Signal(str, bool)
    note_edited = Signal(str, str)
    tags_edited = Signal(str, list)  # node id, normalised tags (list[str])
    delete_requested = Signal(str)
    open_requested = Signal(str)  # Enter or double-click: show the node large

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: dict[str, _NodeItem] = {}
        self._titles: dict[str, str] = {}  # labels made so far (rows that were painted)
        self._nodes: dict[str, Node] = {}
        self._tree_parent: dict[str, str] = {}  # node id -> the parent it is nested under
        self._haystack: dict[str, str] = {}  # lower-case prompt + note, for the text search
        self._tags: dict[str, list[str]] = {}
        self._icons: dict[str, QIcon] = {}
        self._icon_for: IconFor | None = None
        self._match_for: MatchFor | None = None
        self._hidden: set[str] = set()
        self._context: set[str] = set()  # shown only because a descendant matches
        self._current = ""
        title = QLabel("History")
        title.setObjectName("heading")
        self._build_filter_bar()
        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setIconSize(QSize(THUMB, THUMB))
        self.tree.setIndentation(14)
        self.tree.setUniformRowHeights(True)
        self.tree.setItemDelegate(_LazyIconDelegate(self))
        self.tree.setAccessibleName("History tree")
        self.tree.setToolTip(
            "Every result is a node under the one it was made from, labelled by what it changed. "
            "Arrows move and fold, Enter opens, Space stars, Delete moves to the trash."
        )
        self.tree.currentItemChanged.connect(self._on_current)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._emit_open(item))
        self.tree.installEventFilter(self)
        self._build_inspector()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addLayout(self._filter_row)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.info)
        layout.addLayout(self._inspector_row)
        layout.addWidget(self.tags)
        self._enable_inspector(None)

    # --- construction -------------------------------------------------------------------------
    def _build_filter_bar(self) -> None:
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts and notes, #tag…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search history")
        self.search.setToolTip(
            "Shows nodes whose prompt or note contains the text (any case); words starting with # "
            "match tags. Parents of matches stay visible, greyed."
        )
        self.search.textChanged.connect(self.apply_filter)
        self.starred_only = QToolButton()
        self.starred_only.setText("★")
        self.starred_only.setCheckable(True)
        self.starred_only.setAccessibleName("Starred only")
        self.starred_only.setToolTip("Show only starred nodes (and the nodes they grew from)")
        self.starred_only.toggled.connect(self.apply_filter)
        self.kind = QComboBox()
        self.kind.setAccessibleName("Kind filter")
        self.kind.setToolTip("Show only nodes made this way")
        self.kind.addItem("all kinds", ALL)
        for kind in KINDS:
            self.kind.addItem(kind, kind)
        self.kind.currentIndexChanged.connect(self.apply_filter)
        self.model = QComboBox()
        self.model.setAccessibleName("Model filter")
        self.model.setToolTip("Show only nodes made with this model")
        self.model.addItem("all models", ALL)
        self.model.currentIndexChanged.connect(self.apply_filter)
        self.expand = QToolButton()
        self.expand.setText("⊞")
        self.expand.setAccessibleName("Expand all")
        self.expand.setToolTip("Expand every branch")
        self.expand.clicked.connect(self.expand_all)
        self.collapse = QToolButton()
        self.collapse.setText("⊟")
        self.collapse.setAccessibleName("Collapse all")
        self.collapse.setToolTip("Collapse every branch")
        self.collapse.clicked.connect(self.collapse_all)
        # the search box has a row of its own: beside the filters it shrank to "S…" in a narrow panel
        filters = QHBoxLayout()
        filters.setContentsMargins(0, 0, 0, 0)
        for widget in (self.starred_only, self.kind, self.model):
            filters.addWidget(widget)
        filters.addStretch(1)
        filters.addWidget(self.expand)
        filters.addWidget(self.collapse)
        row = QVBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.search)
        row.addLayout(filters)
        self._filter_row = row

    def _build_inspector(self) -> None:
        self.star = QToolButton()
        self.star.setText("☆")
        self.star.setCheckable(True)
        self.star.setAccessibleName("Star")
        self.star.setToolTip("Star the selected node (Ctrl+D or Space; Ctrl+Z undoes)")
        self.star.clicked.connect(lambda on: self._current and self.star_toggled.emit(self._current, on))
        self.note = QLineEdit()
        self.note.setPlaceholderText("Note for the selected node…")
        self.note.setAccessibleName("Note")
        self.note.setToolTip("A note kept with the selected node; press Enter to save it")
        self.note.editingFinished.connect(self._on_note)
        self.delete = QToolButton()
        self.delete.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_TrashIcon))
        self.delete.setAccessibleName("Move to trash")
        self.delete.setToolTip(
            "Move the selected node and its descendants to the trash (Delete; Ctrl+Z undoes)"
        )
        self.delete.clicked.connect(lambda: self._current and self.delete_requested.emit(self._current))
        self.tags = QLineEdit()
        self.tags.setPlaceholderText("Tags, e.g. rain dawn keeper…")
        self.tags.setAccessibleName("Tags")
        self.tags.setToolTip(
            "Tags of the selected node, separated by spaces or commas; press Enter to save. "
            "Search them with #tag."
        )
        self.tags.editingFinished.connect(self._on_tags)
        self._pass_undo = PassUndoWhenClean(self)
        for field in (self.note, self.tags):
            field.installEventFilter(self._pass_undo)
        self.info = QElidingLabel("")
        self.info.setObjectName("muted")
        self.info.setToolTip("Recipe of the selected node")
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.star)
        row.addWidget(self.note, 1)
        row.addWidget(self.delete)
        self._inspector_row = row

    # --- filling ------------------------------------------------------------------------------
    def set_nodes(self, nodes: Iterable[Node], icon_for: IconFor) -> None:
        """Rebuild from the project's live nodes (created order, so parents come first).

        Rows are made first and attached in bulk; `icon_for` is called later, per painted row.
        """
        self._icon_for = icon_for
        self.tree.blockSignals(True)
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        for store in (self._items, self._nodes, self._tree_parent, self._haystack, self._icons, self._titles):
            store.clear()
        self._hidden.clear()
        self._context.clear()
        roots: list[QTreeWidgetItem] = []
        children: dict[str, list[QTreeWidgetItem]] = {}
        with gc_paused():
            for node in nodes:
                item, parent_id = self._make_item(node)
                if parent_id is None:
                    roots.append(item)
                else:
                    children.setdefault(parent_id, []).append(item)
        for parent_id, kids in children.items():
            self._items[parent_id].addChildren(kids)
        self.tree.addTopLevelItems(roots)
        self.tree.expandAll()
        self._refresh_models()
        self.apply_filter()
        self.tree.setUpdatesEnabled(True)
        self.tree.blockSignals(False)
        self.select(self._current if self._current in self._items else "")

    def add_nodes(self, nodes: Iterable[Node], icon_for: IconFor) -> None:
        self._icon_for = icon_for
        for node in nodes:
            item, parent_id = self._make_item(node)
            if parent_id is None:
                self.tree.addTopLevelItem(item)
            else:
                parent = self._items[parent_id]
                parent.addChild(item)
                parent.setExpanded(True)
        self._refresh_models()
        self.apply_filter()

    def update_node(self, node: Node) -> None:
        item = self._items.get(node.id)
        if item is None:
            return
        self._nodes[node.id] = node
        self._haystack[node.id] = _haystack(node)
        self._titles.pop(node.id, None)  # star and note are in the label; children show recipes only
        item.emitDataChanged()
        if node.id == self._current:
            self._enable_inspector(node)
        if self.current_filter().active:
            self.apply_filter()

    def set_tags_map(self, tags: dict[str, list[str]]) -> None:
        """All tags by node id (from studio.project.tags.load_tags), kept across rebuilds."""
        self._tags = {node_id: list(values) for node_id, values in tags.items()}
        self.tree.viewport().update()
        self._enable_inspector(self._nodes.get(self._current))
        self.apply_filter()

    def set_tags(self, node_id: str, tags: list[str]) -> None:
        """Show a node's tags after they changed (TagCommand calls this on redo and undo)."""
        if tags:
            self._tags[node_id] = list(tags)
        else:
            self._tags.pop(node_id, None)
        node = self._nodes.get(node_id)
        self.tree.viewport().update()
        if node_id == self._current:
            self._enable_inspector(node)
        if "#" in self.search.text():
            self.apply_filter()

    # --- reading ------------------------------------------------------------------------------
    def node_ids(self) -> list[str]:
        return list(self._items)

    def item(self, node_id: str) -> QTreeWidgetItem | None:
        return self._items.get(node_id)

    def current(self) -> str:
        return self._current

    def tags_of(self, node_id: str) -> list[str]:
        return list(self._tags.get(node_id, []))

    def title(self, node_id: str) -> str:
        """A row's label, made the first time the row is shown (see `_NodeItem`)."""
        text = self._titles.get(node_id)
        if text is None:
            node = self._nodes[node_id]
            parent_id = self._tree_parent.get(node_id)
            text = self._titles[node_id] = node_title(node, self._nodes.get(parent_id) if parent_id else None)
        return text

    def tooltip(self, node_id: str) -> str:
        base = node_tooltip(self._nodes[node_id], self._tags.get(node_id, []))
        return with_match(base, self.match(node_id))

    def set_match_source(self, match_for: MatchFor | None) -> None:
        """Where rows get their match score (None: no scores shown); asked only for painted rows."""
        self._match_for = match_for
        self.tree.viewport().update()

    def match(self, node_id: str | None) -> NodeMatch | None:
        node = self._nodes.get(node_id or "")
        return self._match_for(node) if node is not None and self._match_for is not None else None

    def refresh_matches(self, _node_ids: list[str]) -> None:
        """Scores arrived: repaint (rows ask again as they are painted)."""
        self.tree.viewport().update()

    def titles_made(self) -> int:
        """How many row labels were worked out so far (shows that they are lazy)."""
        return len(self._titles)

    def icon(self, node_id: str | None) -> QIcon | None:
        """The thumbnail of a node, made on first use (the delegate asks only for painted rows)."""
        icon = self._icons.get(node_id or "")
        if icon is None and self._icon_for is not None and node_id in self._nodes:
            icon = self._icons[node_id] = self._icon_for(self._nodes[node_id])
        return icon

    def refresh_icons(self, node_ids: list[str]) -> None:
        """Ask again for these nodes' icons (a thumbnail finished loading) and repaint."""
        for node_id in node_ids:
            self._icons.pop(node_id, None)
        self.tree.viewport().update()

    def icons_made(self) -> int:
        """How many thumbnails were asked for so far (shows that they are lazy)."""
        return len(self._icons)

    def filter_state(self, node_id: str) -> str:
        """ "match", "context" (shown greyed as an ancestor of a match) or "hidden"."""
        if node_id in self._hidden:
            return "hidden"
        return "context" if node_id in self._context else "match"

    def visible_ids(self) -> list[str]:
        return [i for i in self._items if i not in self._hidden]

    # --- selection ----------------------------------------------------------------------------
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

    def expand_all(self) -> None:
        self.tree.expandAll()

    def collapse_all(self) -> None:
        self.tree.collapseAll()

    # --- filtering ----------------------------------------------------------------------------
    def current_filter(self) -> HistoryFilter:
        return HistoryFilter(
            self.search.text(),
            self.starred_only.isChecked(),
            self.kind.currentData() or ALL,
            self.model.currentData() or ALL,
        )

    def apply_filter(self) -> None:
        """Hide the rows that do not match; keep the ancestors of matches, greyed."""
        wanted = self.current_filter()
        if wanted.active:
            matches = {node_id for node_id in self._items if self._matches(node_id, wanted)}
            shown = set(matches)
            for node_id in matches:
                parent = self._tree_parent.get(node_id)
                while parent is not None and parent not in shown:
                    shown.add(parent)
                    parent = self._tree_parent.get(parent)
            hidden = self._items.keys() - shown
            context = shown - matches
        else:
            hidden, context = set(), set()
        for node_id in hidden ^ self._hidden:
            self._items[node_id].setHidden(node_id in hidden)
        changed = bool(context ^ self._context)
        self._hidden, self._context = hidden, context
        if changed:
            self.tree.viewport().update()

    def _matches(self, node_id: str, wanted: HistoryFilter) -> bool:
        node = self._nodes[node_id]
        if wanted.starred_only and not node.starred:
            return False
        if wanted.kind and node.kind != wanted.kind:
            return False
        if wanted.model and node.recipe.model != wanted.model:
            return False
        words = wanted.text.lower().split()
        tags = [w[1:] for w in words if w.startswith("#") and len(w) > 1]
        text = " ".join(w for w in words if not w.startswith("#"))
        if text and text not in self._haystack[node_id]:
            return False
        own = self._tags.get(node_id, ())
        return all(any(t.startswith(tag) for t in own) for tag in tags)

    def _refresh_models(self) -> None:
        """Offer the models present (and any kind beyond the usual ones), keeping the choice."""
        for combo, values in (
            (self.model, {n.recipe.model for n in self._nodes.values()}),
            (self.kind, {n.kind for n in self._nodes.values()} - set(KINDS)),
        ):
            known = {combo.itemData(i) for i in range(combo.count())}
            missing = sorted(values - known)
            if missing:
                combo.blockSignals(True)
                for value in missing:
                    combo.addItem(value, value)
                combo.blockSignals(False)

    # --- rows ---------------------------------------------------------------------------------
    def _make_item(self, node: Node) -> tuple[_NodeItem, str | None]:
        parent_id = next((p for p in node.parents if p in self._items), None)
        item = _NodeItem(self, node.id)
        self._nodes[node.id] = node
        self._haystack[node.id] = _haystack(node)
        if parent_id is not None:
            self._tree_parent[node.id] = parent_id
        self._items[node.id] = item
        return item, parent_id

    # --- events -------------------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt override)
        """Tree keys: Enter opens, Space stars, Delete trashes (arrows stay the tree's own).

        The window's Delete action, where there is one, takes the key first, so it never fires twice.
        """
        if watched is self.tree and isinstance(event, QKeyEvent) and self._current:
            key = event.key() if event.type() == QEvent.Type.KeyPress else None
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.open_requested.emit(self._current)
                return True
            if key == Qt.Key.Key_Space:
                self.star_toggled.emit(self._current, not self._nodes[self._current].starred)
                return True
            if key == Qt.Key.Key_Delete:
                self.delete_requested.emit(self._current)
                return True
        return super().eventFilter(watched, event)

    def _emit_open(self, item: QTreeWidgetItem) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id:
            self.open_requested.emit(node_id)

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

    def _on_tags(self) -> None:
        node = self._nodes.get(self._current)
        if node is None:
            return
        try:
            tags = parse_tags(self.tags.text())
        except TagError as exc:
            self.info.setText(f"Tags not saved: {exc}")
            return
        if tags != self._tags.get(node.id, []):
            self.tags_edited.emit(node.id, tags)

    def _enable_inspector(self, node: Node | None) -> None:
        for w in (self.star, self.note, self.delete, self.tags):
            w.setEnabled(node is not None)
        self.star.setChecked(bool(node and node.starred))
        self.star.setText("★" if node and node.starred else "☆")
        for edit, text in (
            (self.note, node.note if node else ""),
            (self.tags, " ".join(self._tags.get(node.id, [])) if node else ""),
        ):
            edit.blockSignals(True)
            edit.setText(text)
            edit.blockSignals(False)
        if node is None:
            self.info.setText("")
        else:
            r = node.recipe
            self.info.setText(f"{node.kind} · seed {r.seed} · {r.model} {r.model_version} · {r.size}px")


def _haystack(node: Node) -> str:
    return f"{node.recipe.prompt}\n{node.note}".lower()
