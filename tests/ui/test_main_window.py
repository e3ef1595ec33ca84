"""The main window on real tiny models and a real project: generate, history, undo, export, import."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox
from ui_helpers import RENDER_MS, click_history, generate

from studio.pngmeta import read_recipe
from studio.project.store import Project
from studio.recipe import RecipeError
from ui.main_window import MainWindow


def test_enter_generates_committed_thumbnails(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "a misty lake under snowy mountains at dawn", seed=11)
    assert len(ids) == 4
    assert window.grid.node_ids() == ids
    assert window.grid.count() == 4
    committed = {n.id: n for n in window.project.nodes()}
    assert set(ids) <= set(committed)
    assert [committed[i].recipe.seed for i in ids] == [11, 12, 13, 14]
    assert all(window.project.assets.has(committed[i].image) for i in ids)
    assert set(window.history.node_ids()) == set(ids)
    assert window.view.has_image()
    assert "ms / image" in window.speed_label.text()
    assert "CPU" in window.provider_label.text() or "CUDA" in window.provider_label.text()


def test_empty_prompt_generates_anything(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "")
    assert len(ids) == 4
    assert window.project.node(ids[0]).recipe.prompt == ""


def test_history_click_restores_prompt_and_seed(qtbot, window: MainWindow) -> None:
    first = generate(qtbot, window, "sunset over the sea", seed=5)
    generate(qtbot, window, "a forest in the fog", seed=40)
    assert window.prompt_panel.text() == "a forest in the fog"
    click_history(qtbot, window, first[2])
    assert window.prompt_panel.text() == "sunset over the sea"
    assert window.prompt_panel.seed_value() == 7
    assert window.history.current() == first[2]


def test_generating_from_an_older_node_makes_a_branch(qtbot, window: MainWindow) -> None:
    roots = generate(qtbot, window, "snowy peaks")
    assert all(window.project.node(i).parents == () for i in roots)
    fresh = generate(qtbot, window, "snowy peaks at night")  # nothing picked: a new root
    assert all(window.project.node(i).parents == () for i in fresh)
    click_history(qtbot, window, roots[2])
    branch = generate(qtbot, window, "snowy peaks under a storm")
    assert all(window.project.node(i).parents == (roots[2],) for i in branch)
    assert window.history.item(branch[0]).parent() is window.history.item(roots[2])


def test_star_undo_redo(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "green hills")
    click_history(qtbot, window, ids[1])
    qtbot.mouseClick(window.history.star, Qt.MouseButton.LeftButton)
    assert window.project.node(ids[1]).starred
    assert window.history.item(ids[1]).text(0).startswith("★")
    window.undo_stack.undo()
    assert not window.project.node(ids[1]).starred
    assert not window.history.star.isChecked()
    window.undo_stack.redo()
    assert window.project.node(ids[1]).starred


def test_note_undo(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "a calm lake")
    click_history(qtbot, window, ids[0])
    window.history.note.setText("keep this one")
    qtbot.keyClick(window.history.note, Qt.Key.Key_Return)
    assert window.project.node(ids[0]).note == "keep this one"
    window.undo_stack.undo()
    assert window.project.node(ids[0]).note == ""
    assert window.history.note.text() == ""


def test_f2_renames_the_selected_node_undoably(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "a calm lake")
    click_history(qtbot, window, ids[1])
    qtbot.keyClick(window.history.tree, Qt.Key.Key_F2)
    assert window.history.note.hasFocus()
    qtbot.keyClicks(window.history.note, "Poster draft")
    qtbot.keyClick(window.history.note, Qt.Key.Key_Return)
    assert window.project.node(ids[1]).note == "Poster draft"
    assert "Poster draft" in window.history.item(ids[1]).text(0)
    window.undo_stack.undo()
    assert window.project.node(ids[1]).note == ""


def test_delete_and_undo(qtbot, window: MainWindow) -> None:
    roots = generate(qtbot, window, "desert dunes")
    click_history(qtbot, window, roots[0])
    children = generate(qtbot, window, "desert dunes at dusk")  # children of the picked roots[0]
    click_history(qtbot, window, roots[0])
    qtbot.mouseClick(window.history.delete, Qt.MouseButton.LeftButton)
    live = {n.id for n in window.project.nodes()}
    assert roots[0] not in live and not set(children) & live
    assert set(roots[1:]) <= live
    assert roots[0] not in window.history.node_ids()
    window.undo_stack.undo()
    live = {n.id for n in window.project.nodes()}
    assert set(roots) | set(children) <= live
    assert set(roots) | set(children) <= set(window.history.node_ids())


def test_undo_generate_moves_nodes_to_trash(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "rocky coast")
    window.undo_stack.undo()
    assert not {n.id for n in window.project.nodes()} & set(ids)
    assert window.history.node_ids() == []
    window.undo_stack.redo()
    assert set(ids) <= {n.id for n in window.project.nodes()}


def test_settings_dialog_changes_count(qtbot, window: MainWindow, studio_env: Path) -> None:
    dialog = window.open_settings()
    qtbot.addWidget(dialog)
    dialog.count.setValue(6)
    dialog.accept()
    assert window.settings.count == 6
    assert json.loads((studio_env / "settings.json").read_text())["count"] == 6
    assert len(generate(qtbot, window, "a lake")) == 6
    assert window.grid.count() == 6


def test_export_png_round_trips_recipe(qtbot, window: MainWindow, tmp_path: Path) -> None:
    ids = generate(qtbot, window, "mountains above the clouds", seed=3)
    out = tmp_path / "out.png"
    assert window.export_png(ids[1], out)
    assert read_recipe(out.read_bytes()) == window.project.node(ids[1]).recipe
    window.settings.privacy = True
    private = tmp_path / "private.png"
    assert window.export_png(ids[1], private)
    with pytest.raises(RecipeError, match="no Synesthesia recipe"):
        read_recipe(private)


def _drop(window: MainWindow, path: Path) -> None:
    """Drag a file over the window and drop it, as a file manager does (enter, then drop)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    action, button, mods = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(QPoint(50, 50), action, mime, button, mods)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), action, mime, button, mods))


def test_drop_png_restores_recipe_as_import_node(qtbot, window: MainWindow, tmp_path: Path) -> None:
    ids = generate(qtbot, window, "a waterfall in the forest", seed=21)
    out = tmp_path / "shared.png"
    window.export_png(ids[2], out)
    window.prompt_panel.set_recipe("something else", 999)
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        _drop(window, out)
    (new_id,) = blocker.args[0]
    node = window.project.node(new_id)
    assert node.kind == "import" and node.parents == ()
    assert node.recipe == window.project.node(ids[2]).recipe
    assert window.prompt_panel.text() == "a waterfall in the forest"
    assert window.prompt_panel.seed_value() == 23
    same_pixels = window.project.node(ids[2]).image == node.image
    assert same_pixels, "re-rendering a recipe on the same provider is bit-exact"


def test_drop_png_without_recipe_imports_the_picture(qtbot, window: MainWindow, tmp_path: Path) -> None:
    plain = tmp_path / "plain.png"
    from PIL import Image

    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    with qtbot.waitSignal(window.message_shown):
        _drop(window, broken)
    assert window.project.nodes() == []
    Image.new("RGB", (8, 8), (10, 20, 30)).save(plain)
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS) as blocker:
        _drop(window, plain)
    node = window.project.node(blocker.args[0][0])
    assert node.kind == "import" and node.recipe.extra == {"imported": "plain.png"}
    assert "imported as a picture" in window.statusBar().currentMessage()


def test_opening_a_locked_project_shows_the_lock_message(qtbot, window: MainWindow, tmp_path: Path) -> None:
    other = Project.open(tmp_path / "other")  # held by "another window"
    try:
        assert not window.open_project(tmp_path / "other")
        boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]
        assert boxes and "already open" in boxes[-1].text()
        boxes[-1].close()
        assert Path(window.project.path) == Path(tmp_path / "project")
    finally:
        other.close()


def test_save_as_copies_and_switches(qtbot, window: MainWindow, tmp_path: Path) -> None:
    ids = generate(qtbot, window, "a lake at noon")
    target = tmp_path / "copy"
    assert window.save_project_as(target)
    assert Path(window.project.path) == target
    assert {n.id for n in window.project.nodes()} == set(ids)
    assert window.settings.recent_projects[0] == str(target.resolve())


def test_heartbeat_while_generating(qtbot, window: MainWindow) -> None:
    """The UI thread never blocks on inference: a 10 ms timer keeps ticking while 3 generations run."""
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    for i in range(3):
        generate(qtbot, window, f"a storm over the sea {i}")
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    largest = max(gaps)
    print(f"\nUI heartbeat: {len(ticks)} ticks, largest gap {largest * 1000:.1f} ms")
    assert largest < 2.0


def test_welcome_chip_generates_example_prompt(qtbot, window: MainWindow) -> None:
    assert window.stack.currentWidget() is window.welcome
    from PySide6.QtWidgets import QPushButton

    chips = {b.text(): b for b in window.welcome.findChildren(QPushButton)}
    assert "a misty lake under snowy mountains at dawn" in chips and "lake" in chips
    with qtbot.waitSignal(window.batch_shown, timeout=RENDER_MS):
        qtbot.mouseClick(chips["a misty lake under snowy mountains at dawn"], Qt.MouseButton.LeftButton)
    assert window.stack.currentWidget() is window.grid


def test_no_generator_gives_a_clear_message(qtbot, monkeypatch, tmp_path: Path) -> None:
    empty = tmp_path / "no-models"
    empty.mkdir()
    monkeypatch.setenv("SYNESTHESIA_MODELS", str(empty))
    monkeypatch.setenv("SYNESTHESIA_HOME", str(tmp_path / "home"))
    from ui.settings import Settings

    win = MainWindow(Project.open(tmp_path / "p"), Settings())
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.message_shown, timeout=60_000) as blocker:
        win.show()
    assert "No generator model is installed" in blocker.args[0]
    with qtbot.waitSignal(win.message_shown, timeout=60_000) as blocker:
        qtbot.keyClick(win.prompt_panel.prompt, Qt.Key.Key_Return)
    assert "No generator model is installed" in blocker.args[0]
    win.close()


def test_double_click_opens_large_and_f_fits(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "a valley")
    grid = window.grid
    rect = grid.visualItemRect(grid.item(1))
    qtbot.mouseClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.history.current() == ids[1]
    qtbot.mouseDClick(grid.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    (large,) = window._windows
    assert large.isVisible() and large.view.has_image()
    fitted = large.view.zoom()
    large.view.zoom_by(0.5)
    assert large.view.zoom() < fitted
    large.activateWindow()
    qtbot.waitUntil(large.isActiveWindow)
    qtbot.keyClick(large.view, Qt.Key.Key_F)
    assert large.view.zoom() == fitted
    large.close()


def test_every_control_has_a_tooltip(window: MainWindow) -> None:
    from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QLineEdit

    controls = [
        w
        for kind in (QAbstractButton, QAbstractSpinBox, QLineEdit)
        for w in window.findChildren(kind)
        if w.isVisible()
        and w.objectName() != "chip"
        and not isinstance(w.parent(), QAbstractSpinBox)  # its inner line edit
        and not w.parent().inherits("QCollapsible")
    ]
    assert controls
    assert [w for w in controls if not w.toolTip()] == []


def test_status_bar_says_why_the_cpu_runs(window: MainWindow) -> None:
    """No toast on a machine without an NVIDIA GPU, but the provider's tooltip gives the reason."""
    if Path("/proc/driver/nvidia/version").exists():
        pytest.skip("this machine has an NVIDIA driver")
    assert window.provider_label.text() == "provider: CPU"
    assert "no NVIDIA GPU found" in window.provider_label.toolTip()


def test_the_session_owns_the_selection_controllers_follow(qtbot, window: MainWindow) -> None:
    ids = generate(qtbot, window, "a lake in the hills", seed=3)
    seen: list[str] = []
    window.session.selection_changed.connect(seen.append)
    click_history(qtbot, window, ids[1])
    assert window.session.selected == ids[1] and seen[-1] == ids[1]
    with qtbot.waitSignal(window.session.committed, timeout=RENDER_MS) as blocker:
        window.variations.vary()  # the Variations panel works on the session's node
    assert all(node.parents == (ids[1],) for node in blocker.args[0])
    click_history(qtbot, window, ids[1])
    assert window.sound.base() == window.project.node(ids[1]).recipe
    window.delete_node(ids[1])  # trashing the selected node: nothing is selected any more
    assert window.session.selected != ids[1]
    window.undo_stack.undo()
    click_history(qtbot, window, ids[1])
    assert window.session.selected == ids[1]
