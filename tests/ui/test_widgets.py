"""Widgets on their own: image view zoom/fit, prompt counter, recent prompts, settings dialog, welcome."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from studio.recipe import MAX_PROMPT_CHARS
from ui.image_view import ImageView, to_qimage
from ui.prompt_panel import PromptPanel
from ui.settings import Settings
from ui.settings_dialog import SettingsDialog


def test_image_view_wheel_zoom_and_fit(qtbot) -> None:
    view = ImageView()
    qtbot.addWidget(view)
    view.resize(400, 400)
    view.show()
    view.set_image(to_qimage(np.full((64, 64, 3), 200, np.uint8)))
    fitted = view.zoom()
    wheel = QWheelEvent(
        QPointF(200, 200),
        QPointF(200, 200),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), wheel)
    assert view.zoom() > fitted
    qtbot.keyClick(view, Qt.Key.Key_F)
    assert view.zoom() == fitted


def test_prompt_counter_warns_on_huge_prompts(qtbot) -> None:
    panel = PromptPanel()
    qtbot.addWidget(panel)
    assert "anything" in panel.counter.text()
    panel.prompt.setText("x" * 500)
    assert panel.counter.objectName() == "warning"
    panel.prompt.setText("x" * (MAX_PROMPT_CHARS + 1))
    assert "cut" in panel.counter.text()


def test_prompt_recent_menu_and_dice(qtbot) -> None:
    panel = PromptPanel()
    qtbot.addWidget(panel)
    panel.set_recent(["a lake", "a hill"])
    actions = panel.recent.menu().actions()
    assert [a.text() for a in actions] == ["a lake", "a hill"]
    actions[1].trigger()
    assert panel.text() == "a hill"
    seeds = set()
    for _ in range(5):
        panel.dice.click()
        seeds.add(panel.seed_value())
    assert len(seeds) > 1
    with qtbot.waitSignal(panel.generate_requested):
        qtbot.keyClick(panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def test_settings_dialog_result(qtbot) -> None:
    dialog = SettingsDialog(Settings(count=4), ["gen-a", "gen-b"])
    qtbot.addWidget(dialog)
    dialog.count.setValue(9)
    dialog.size.setCurrentIndex(dialog.size.findData(256))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.model.setCurrentIndex(dialog.model.findData("gen-b"))
    dialog.privacy.setChecked(True)
    dialog.layout_check.setChecked(False)
    result = dialog.result_settings()
    assert result.imagine_layout is False
    assert (result.count, result.size, result.device, result.model, result.privacy) == (
        9,
        256,
        "cpu",
        "gen-b",
        True,
    )
    assert all(w.toolTip() for w in (dialog.count, dialog.size, dialog.device, dialog.model, dialog.privacy))
