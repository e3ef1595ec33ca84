"""History browser on a real project: change labels, filters, tags with undo, keys, A/B compare, 10k nodes."""

from __future__ import annotations

import io
import random
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QIcon, QImage, QPixmap, QUndoStack

from studio.project.store import Node, NodeNotFoundError, Project
from studio.project.tags import TAGS_META_KEY, TagError, load_tags, set_tags
from studio.recipe import Recipe
from ui.compare import CompareDialog
from ui.history_panel import HistoryPanel
from ui.image_view import to_qimage
from ui.tag_command import TagCommand
from ui.worker import png_bytes


def picture(value: int) -> bytes:
    image = np.zeros((16, 16, 3), np.uint8)
    image[..., 0] = value
    image[8:, :, 2] = 255 - value
    return png_bytes(image)


def wav_bytes() -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, np.sin(np.linspace(0, 400, 16000)).astype(np.float32) * 0.3, 16000, format="WAV")
    return buf.getvalue()


class Tree:
    """A small real project: a root, and children that each change one thing."""

    def __init__(self, project: Project) -> None:
        self.project = project
        root_recipe = Recipe("gen-a", "1", seed=3, prompt="A misty lake")
        add = project.add_node
        self.root = add("generate", root_recipe, picture(10))
        self.seed = add("generate", root_recipe.replace(seed=7), picture(20), self.root.id)
        self.prompt = add("generate", root_recipe.replace(prompt="a stormy sea"), picture(30), self.root.id)
        sketch = project.assets.put(picture(1), "png")
        self.paint = add("paint", root_recipe.replace(sketch=sketch), picture(40), self.root.id)
        sound = project.assets.put(wav_bytes(), "wav")
        self.sound = add(
            "sound", self.paint.recipe.replace(sound=sound, strength=0.6), picture(50), self.paint.id
        )
        mask = project.assets.put(picture(255), "png")
        self.masked = add(
            "masked",
            root_recipe.replace(mask=mask, extra={"base_image": self.root.image}),
            picture(60),
            self.root.id,
        )
        self.other = add("import", Recipe("gen-b", "2", seed=1, prompt="dunes"), picture(70))
        project.set_note(self.seed.id, "Keeper for the poster")
        self.seed = project.node(self.seed.id)
        project.set_starred(self.sound.id, True)
        self.sound = project.node(self.sound.id)


@pytest.fixture
def tree(project: Project) -> Tree:
    return Tree(project)


@pytest.fixture
def panel(qtbot, tree: Tree) -> Iterator[HistoryPanel]:
    icons: list[str] = []

    def icon_for(node: Node) -> QIcon:
        icons.append(node.id)
        return QIcon(QPixmap.fromImage(QImage.fromData(tree.project.assets.get(node.image))))

    widget = HistoryPanel()
    qtbot.addWidget(widget)
    widget.resize(360, 700)
    widget.set_nodes(tree.project.nodes(), icon_for)
    widget.show()
    qtbot.waitExposed(widget)
    yield widget


def first_line(panel: HistoryPanel, node_id: str) -> str:
    return panel.item(node_id).text(0).split("\n")[0]


def test_children_are_labelled_by_what_changed(panel: HistoryPanel, tree: Tree) -> None:
    assert first_line(panel, tree.root.id) == "A misty lake"
    assert first_line(panel, tree.seed.id) == "seed 3 → 7"
    assert first_line(panel, tree.prompt.id) == "new prompt"  # the second line shows it
    assert first_line(panel, tree.paint.id) == "sketch"
    assert first_line(panel, tree.sound.id) == "★ sound 0.6"  # relative to the painted parent
    assert first_line(panel, tree.masked.id) == "regenerated in mask"
    assert panel.item(tree.sound.id).parent() is panel.item(tree.paint.id)
    assert "Keeper for the poster" in panel.item(tree.seed.id).text(0)
    assert panel.icons_made() <= len(panel.node_ids())  # made by painting, not by building


def test_collapse_and_expand_all(qtbot, panel: HistoryPanel, tree: Tree) -> None:
    qtbot.mouseClick(panel.collapse, Qt.MouseButton.LeftButton)
    assert not panel.item(tree.root.id).isExpanded()
    qtbot.mouseClick(panel.expand, Qt.MouseButton.LeftButton)
    assert panel.item(tree.root.id).isExpanded() and panel.item(tree.paint.id).isExpanded()


def test_text_search_keeps_ancestors_greyed(qtbot, panel: HistoryPanel, tree: Tree) -> None:
    qtbot.keyClicks(panel.search, "STORMY")  # live and case-insensitive
    assert panel.visible_ids() == [tree.root.id, tree.prompt.id]
    assert panel.filter_state(tree.prompt.id) == "match"
    assert panel.filter_state(tree.root.id) == "context"
    assert panel.item(tree.seed.id).isHidden()
    panel.search.setText("poster")  # notes are searched too
    assert panel.visible_ids() == [tree.root.id, tree.seed.id]
    panel.search.clear()
    assert panel.visible_ids() == panel.node_ids()
    assert all(panel.filter_state(i) == "match" for i in panel.node_ids())


def test_starred_kind_and_model_filters(qtbot, panel: HistoryPanel, tree: Tree) -> None:
    qtbot.mouseClick(panel.starred_only, Qt.MouseButton.LeftButton)
    assert panel.visible_ids() == [tree.root.id, tree.paint.id, tree.sound.id]
    assert [panel.filter_state(i) for i in panel.visible_ids()] == ["context", "context", "match"]
    qtbot.mouseClick(panel.starred_only, Qt.MouseButton.LeftButton)
    panel.kind.setCurrentIndex(panel.kind.findData("masked"))
    assert panel.visible_ids() == [tree.root.id, tree.masked.id]
    panel.kind.setCurrentIndex(panel.kind.findData("import"))
    assert panel.visible_ids() == [tree.other.id]
    panel.kind.setCurrentIndex(0)
    assert [panel.model.itemData(i) for i in range(panel.model.count())] == ["", "gen-a", "gen-b"]
    panel.model.setCurrentIndex(panel.model.findData("gen-b"))
    assert panel.visible_ids() == [tree.other.id]
    panel.model.setCurrentIndex(panel.model.findData("gen-a"))
    panel.kind.setCurrentIndex(panel.kind.findData("paint"))
    assert panel.visible_ids() == [tree.root.id, tree.paint.id]


def test_filter_survives_rebuild_and_star_updates(panel: HistoryPanel, tree: Tree) -> None:
    panel.starred_only.setChecked(True)
    panel.update_node(tree.project.set_starred(tree.other.id, True))
    assert tree.other.id in panel.visible_ids()
    panel.set_nodes(tree.project.nodes(), lambda n: QIcon())
    assert set(panel.visible_ids()) == {tree.root.id, tree.paint.id, tree.sound.id, tree.other.id}


def test_tags_round_trip_with_undo_and_reopen(qtbot, panel: HistoryPanel, tree: Tree, tmp_path: Path) -> None:
    project = tree.project
    stack = QUndoStack()
    panel.tags_edited.connect(
        lambda node_id, tags: stack.push(TagCommand(project, node_id, tags, panel.set_tags))
    )
    panel.select(tree.seed.id)
    panel.tags.setText("Rain, #dawn  rain")
    with qtbot.waitSignal(panel.tags_edited) as blocker:
        qtbot.keyClick(panel.tags, Qt.Key.Key_Return)
    assert blocker.args == [tree.seed.id, ["rain", "dawn"]]
    assert load_tags(project) == {tree.seed.id: ["rain", "dawn"]}
    assert "tags: #rain #dawn" in panel.item(tree.seed.id).toolTip(0)
    panel.search.setText("#ra")
    assert panel.visible_ids() == [tree.root.id, tree.seed.id]
    panel.search.setText("#dawn lake")  # tags and text together
    assert panel.visible_ids() == [tree.root.id, tree.seed.id]
    stack.undo()
    assert load_tags(project) == {}
    assert panel.visible_ids() == []
    assert panel.tags.text() == ""
    stack.redo()
    assert panel.tags_of(tree.seed.id) == ["rain", "dawn"]
    path = project.path
    project.close()
    with Project.open(path) as reopened:
        assert load_tags(reopened) == {tree.seed.id: ["rain", "dawn"]}


def test_bad_tags_are_refused_clearly(qtbot, panel: HistoryPanel, tree: Tree) -> None:
    panel.select(tree.root.id)
    with qtbot.assertNotEmitted(panel.tags_edited):
        panel.tags.setText("x" * 41)
        qtbot.keyClick(panel.tags, Qt.Key.Key_Return)
    assert "Tags not saved" in panel.info.text() and "longer than 40" in panel.info.text()
    project = tree.project
    with pytest.raises(TagError, match="list of words"):
        set_tags(project, tree.root.id, "rain")  # type: ignore[arg-type]
    with pytest.raises(TagError, match="without spaces"):
        set_tags(project, tree.root.id, ["two words"])
    with pytest.raises(TagError, match="empty"):
        TagCommand(project, tree.root.id, ["#"], panel.set_tags)
    with pytest.raises(NodeNotFoundError):
        set_tags(project, "nope", ["rain"])
    assert load_tags(project) == {}
    project.meta_set(TAGS_META_KEY, {tree.root.id: "not a list", tree.seed.id: ["ok"]})
    assert load_tags(project) == {tree.seed.id: ["ok"]}  # damage skips one entry, keeps the rest


def test_keyboard_navigation(qtbot, panel: HistoryPanel, tree: Tree) -> None:
    panel.tree.setFocus()
    panel.select(tree.root.id)
    with qtbot.waitSignal(panel.node_selected) as blocker:
        qtbot.keyClick(panel.tree, Qt.Key.Key_Down)
    assert blocker.args == [tree.seed.id]
    panel.select(tree.paint.id)
    qtbot.keyClick(panel.tree, Qt.Key.Key_Left)
    assert not panel.item(tree.paint.id).isExpanded()
    qtbot.keyClick(panel.tree, Qt.Key.Key_Right)
    assert panel.item(tree.paint.id).isExpanded()
    with qtbot.waitSignal(panel.open_requested) as blocker:
        qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
    assert blocker.args == [tree.paint.id]
    with qtbot.waitSignal(panel.star_toggled) as blocker:
        qtbot.keyClick(panel.tree, Qt.Key.Key_Space)
    assert blocker.args == [tree.paint.id, True]
    with qtbot.waitSignal(panel.delete_requested) as blocker:
        qtbot.keyClick(panel.tree, Qt.Key.Key_Delete)
    assert blocker.args == [tree.paint.id]
    with qtbot.waitSignal(panel.open_requested) as blocker:
        rect = panel.tree.visualItemRect(panel.item(tree.seed.id))
        qtbot.mouseClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(panel.tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert blocker.args == [tree.seed.id]


def test_compare_dialog_divider_mode_and_table(qtbot, tree: Tree) -> None:
    left = to_qimage(np.full((64, 64, 3), 30, np.uint8))
    right = to_qimage(np.full((32, 32, 3), 220, np.uint8))  # another size: drawn into the same rect
    dialog = CompareDialog(left, right, tree.root.recipe, tree.sound.recipe)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    view = dialog.view
    assert view.divider() == 0.5
    rect = view.image_rect()
    y = int(rect.center().y())
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(int(view.divider_x()), y))
    qtbot.mouseMove(view, QPoint(int(rect.left() + rect.width() * 0.25), y))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(int(rect.left() + rect.width() * 0.25), y))
    assert view.divider() == pytest.approx(0.25, abs=0.02)
    shot = view.grab().toImage()
    x_left = int(rect.left() + rect.width() * 0.1)
    x_right = int(rect.left() + rect.width() * 0.9)
    assert shot.pixelColor(x_left, y).red() < 60 and shot.pixelColor(x_right, y).red() > 180  # A | B
    qtbot.keyClick(view, Qt.Key.Key_Right)
    assert view.divider() == pytest.approx(0.30, abs=0.02)
    qtbot.keyClick(view, Qt.Key.Key_Left, Qt.KeyboardModifier.ShiftModifier)
    assert view.divider() == pytest.approx(0.29, abs=0.02)
    for _ in range(40):
        qtbot.keyClick(view, Qt.Key.Key_Left)
    assert view.divider() == 0.0
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert view.side_by_side() and dialog.mode.isChecked()
    qtbot.keyClick(view, Qt.Key.Key_Tab)
    assert not view.side_by_side()
    fields = [dialog.table.item(r, 0).text() for r in range(dialog.table.rowCount())]
    assert fields == ["sketch", "sound", "strength"]  # root vs the painted, sounded node
    assert dialog.table.item(2, 1).text() == "0" and dialog.table.item(2, 2).text() == "0.6"
    assert all(w.toolTip() and w.accessibleName() for w in (view, dialog.mode, dialog.table))
    with qtbot.waitSignal(dialog.rejected):
        qtbot.keyClick(view, Qt.Key.Key_Escape)
    assert not dialog.isVisible()


def test_compare_same_recipes_says_so(qtbot, tree: Tree) -> None:
    image = to_qimage(np.zeros((8, 8, 3), np.uint8))
    dialog = CompareDialog(image, QImage(), tree.root.recipe, tree.root.recipe)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 0 and "same" in dialog.summary.text()
    dialog.show()
    dialog.view.grab()  # a null image paints nothing and does not fail


def big_history(count: int) -> list[Node]:
    """Batches of four grown from a recent node, like a long session (real recipes, in memory:
    committing 10,000 nodes with fsync would take minutes and tests the store, not the panel)."""
    rng = random.Random(7)
    words = "lake mountain dawn fog forest sea storm rain snow night dunes river".split()
    nodes: list[Node] = []
    for i in range(count):
        parent = () if i < 4 or rng.random() < 0.01 else (nodes[rng.randrange(max(0, i - 400), i)].id,)
        recipe = Recipe(
            "gen-a" if i % 4 else "gen-b",
            "1",
            seed=i,
            prompt=" ".join(rng.sample(words, 3)),
            strength=round(rng.random(), 2),
        )
        kind = ("generate", "paint", "sound", "masked")[i % 4]
        nodes.append(Node(f"n{i:05d}", parent, kind, recipe, "0" * 64, float(i), i % 40 == 0, ""))
    return nodes


def test_ten_thousand_nodes_build_and_filter(qtbot) -> None:
    nodes = big_history(10_000)
    pix = QPixmap(48, 48)
    pix.fill()
    icon = QIcon(pix)
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.resize(360, 800)
    panel.show()
    start = time.perf_counter()
    panel.set_nodes(nodes, lambda n: icon)
    qtbot.wait(1)  # let it paint: thumbnails are made for painted rows only
    built = time.perf_counter() - start
    timings = {}
    for label, action in (
        ("text 'fog'", lambda: panel.search.setText("fog")),
        ("text 'fog sea'", lambda: panel.search.setText("fog sea")),
        ("starred", lambda: (panel.search.clear(), panel.starred_only.setChecked(True))),
        ("kind masked", lambda: (panel.starred_only.setChecked(False), panel.kind.setCurrentIndex(4))),
        ("clear", lambda: panel.kind.setCurrentIndex(0)),
    ):
        start = time.perf_counter()
        action()
        timings[label] = time.perf_counter() - start
    print(
        f"\n10,000 nodes: build {built * 1000:.0f} ms, thumbnails made {panel.icons_made()}, "
        f"labels made {panel.titles_made()}"
    )
    print("filters: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in timings.items()))
    assert len(panel.node_ids()) == 10_000
    assert panel.icons_made() < 200
    assert panel.titles_made() < 200  # labels too are made for painted rows only
    assert len(panel.visible_ids()) == 10_000
