"""Keyboard and screen-reader users: every control has a name, a tooltip and Tab focus; every menu
action a shortcut or mnemonic; the window and thumbnails render sharp at 200 % scaling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QSize
from ui_helpers import generate

from studio.pngmeta import encode_png
from ui.accessibility import audit
from ui.main_window import MainWindow
from ui.settings import Settings
from ui.settings_dialog import SettingsDialog
from ui.thumbnails import Thumbnails


def test_every_control_of_the_window_and_dialogs_is_named_and_reachable(qtbot, window: MainWindow) -> None:
    assert audit(window) == []
    dialog = SettingsDialog(Settings(), ["landscape64"], window)
    qtbot.addWidget(dialog)
    assert audit(dialog) == []
    ids = generate(qtbot, window, "a lake", seed=1)
    window.select_node(ids[0])
    window.select_node(ids[1])
    compare = window.compare_with_previous()
    assert compare is not None
    assert audit(compare) == []
    compare.close()


def test_dock_panels_toggle_from_the_keyboard(qtbot, window: MainWindow) -> None:
    toggle = window.sound_dock.toggleViewAction()
    assert toggle.shortcut().toString() == "Ctrl+Alt+S"
    visible = window.sound_dock.isVisible()
    toggle.trigger()
    assert window.sound_dock.isVisible() != visible


def test_thumbnails_are_made_at_device_pixels(qtbot) -> None:
    png = encode_png(np.full((128, 128, 3), (200, 40, 40), np.uint8), None)
    thumbs = Thumbnails(lambda _sha: png, 48, ratio=2.0)
    with qtbot.waitSignal(thumbs.ready, timeout=10_000):
        thumbs.icon("a" * 64)
    pixmap = thumbs.icon("a" * 64).pixmap(QSize(48, 48), 2.0)
    assert pixmap.size() == QSize(96, 96) and pixmap.devicePixelRatio() == 2.0
    assert thumbs.placeholder.pixmap(QSize(48, 48), 2.0).size() == QSize(96, 96)


def test_the_app_renders_at_200_percent(tmp_path: Path, studio_env: Path) -> None:
    """A real app process at QT_SCALE_FACTOR=2 generates and grabs itself: twice the pixels."""
    shot = tmp_path / "shot.png"
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_SCALE_FACTOR": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "ui.app", "--project", str(tmp_path / "p"), "--screenshot", str(shot)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert Image.open(shot).size == (2560, 1600)
