"""Helpers shared by the UI tests: drive the window like a user and wait for committed results."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from studio.project.store import Project
from ui.main_window import MainWindow
from ui.settings import Settings

LOAD_MS = 120_000
RENDER_MS = 120_000


def open_window(qtbot, project_dir: Path) -> MainWindow:
    """A window on the project, its models loaded (restart tests open the same project twice)."""
    win = MainWindow(Project.open(project_dir), Settings(count=2, size=64))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.models_ready, timeout=LOAD_MS):
        win.show()
    return win


def generate(qtbot, win: MainWindow, prompt: str, seed: int | None = None) -> list[str]:
    """Type a prompt, press Enter, wait until the committed nodes are shown; returns their ids."""
    win.prompt_panel.prompt.setText(prompt)
    if seed is not None:
        win.prompt_panel.seed.setValue(seed)
    with qtbot.waitSignal(win.batch_shown, timeout=RENDER_MS) as blocker:
        qtbot.keyClick(win.prompt_panel.prompt, Qt.Key.Key_Return)
    return blocker.args[0]


def click_history(qtbot, win: MainWindow, node_id: str) -> None:
    tree = win.history.tree
    item = win.history.item(node_id)
    tree.scrollToItem(item)
    rect = tree.visualItemRect(item)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
