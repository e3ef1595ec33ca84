"""The semantic paint canvas and its panel, driven with real mouse and key events offscreen."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QImage, QInputDevice, QPointingDevice, QTabletEvent, QUndoStack
from PySide6.QtWidgets import QApplication

from studio.inference.manifest import ModelInfo
from studio.inference.pipeline import sketch_indices
from studio.project.store import Project
from studio.world.classes import CLASS_INDEX, LABEL_CLASSES
from ui.canvas import (
    SemanticCanvas,
    Tool,
    brush_footprint,
    flood_region,
    line_points,
    resample_nearest,
    stamp_labels,
)
from ui.paint_panel import PaintPanel
from ui.undo_log import META_KEY, UndoLog

SIZE = 64
WATER, SKY, ROCK, GRASS = CLASS_INDEX["water"], CLASS_INDEX["sky"], CLASS_INDEX["rock"], CLASS_INDEX["grass"]


@pytest.fixture
def canvas(qtbot) -> SemanticCanvas:
    widget = SemanticCanvas(size=SIZE, undo_stack=QUndoStack())
    qtbot.addWidget(widget)
    widget.resize(320, 320)
    widget.show()
    qtbot.waitExposed(widget)
    widget.setFocus()
    return widget


def at(canvas: SemanticCanvas, x: float, y: float) -> QPoint:
    """The widget point over the centre of canvas pixel (x, y)."""
    return canvas.widget_pos(QPointF(x + 0.5, y + 0.5)).toPoint()


def stroke(qtbot, canvas: SemanticCanvas, points: list[tuple[int, int]]) -> None:
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, *points[0]))
    for point in points[1:]:
        qtbot.mouseMove(canvas, at(canvas, *point))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, *points[-1]))


def test_brush_paints_a_gapless_line_of_the_current_class(qtbot, canvas: SemanticCanvas) -> None:
    canvas.current_class = WATER
    canvas.brush_size = 3
    stroke(qtbot, canvas, [(5, 10), (55, 10)])  # one fast move: the dabs in between are interpolated
    sketch = canvas.sketch()
    assert sketch.dtype == np.uint8 and sketch.shape == (SIZE, SIZE)
    assert (sketch[9:12, 5:56] == WATER).all()
    assert (sketch[:8] == 0).all() and (sketch[13:] == 0).all()
    assert canvas.undo_stack.count() == 1


def test_eraser_paints_unknown(qtbot, canvas: SemanticCanvas) -> None:
    canvas.set_sketch(np.full((SIZE, SIZE), GRASS, np.uint8))
    qtbot.keyClick(canvas, Qt.Key.Key_E)
    assert canvas.tool == Tool.ERASER
    canvas.brush_size = 5
    stroke(qtbot, canvas, [(20, 20), (20, 40)])
    sketch = canvas.sketch()
    assert (sketch[20:41, 20] == 0).all()
    assert sketch[20, 30] == GRASS and sketch[5, 5] == GRASS


def test_fill_fills_only_the_contiguous_region(qtbot, canvas: SemanticCanvas) -> None:
    sketch = np.full((SIZE, SIZE), SKY, np.uint8)
    sketch[:, 30:33] = ROCK  # a wall splits the sky in two
    canvas.set_sketch(sketch)
    canvas.current_class = WATER
    qtbot.keyClick(canvas, Qt.Key.Key_G)
    assert canvas.tool == Tool.FILL
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 10, 10))
    result = canvas.sketch()
    assert (result[:, :30] == WATER).all()
    assert (result[:, 30:33] == ROCK).all()
    assert (result[:, 33:] == SKY).all()
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.sketch(), sketch)


def test_flood_region_matches_a_pixel_bfs_on_random_maps() -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        labels = (rng.random((23, 31)) < rng.random()).astype(np.uint8)
        y, x = int(rng.integers(23)), int(rng.integers(31))
        expected = np.zeros_like(labels, dtype=bool)
        todo = [(y, x)]
        while todo:
            cy, cx = todo.pop()
            if 0 <= cy < 23 and 0 <= cx < 31 and not expected[cy, cx] and labels[cy, cx] == labels[y, x]:
                expected[cy, cx] = True
                todo += [(cy - 1, cx), (cy + 1, cx), (cy, cx - 1), (cy, cx + 1)]
        assert np.array_equal(flood_region(labels, x, y), expected)


def test_eyedropper_picks_the_class_under_the_cursor(qtbot, canvas: SemanticCanvas) -> None:
    sketch = np.zeros((SIZE, SIZE), np.uint8)
    sketch[40:, :] = GRASS
    canvas.set_sketch(sketch)
    qtbot.keyClick(canvas, Qt.Key.Key_I)
    assert canvas.tool == Tool.EYEDROPPER
    with qtbot.waitSignal(canvas.class_picked) as blocker:
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 12, 50))
    assert blocker.args == [GRASS]
    assert canvas.current_class == GRASS
    assert np.array_equal(canvas.sketch(), sketch)  # picking never paints


def test_undo_redo_restore_exact_arrays_and_store_only_the_box(qtbot, canvas: SemanticCanvas) -> None:
    canvas.current_class = SKY
    canvas.brush_size = 4
    stroke(qtbot, canvas, [(10, 10), (20, 14)])
    first = canvas.sketch()
    canvas.current_class = WATER
    stroke(qtbot, canvas, [(15, 12), (30, 30), (40, 30)])
    second = canvas.sketch()
    stack = canvas.undo_stack
    assert stack.count() == 2
    y0, y1, x0, x1 = stack.command(1).box
    assert (y1 - y0) * (x1 - x0) < SIZE * SIZE // 4
    stack.undo()
    assert np.array_equal(canvas.sketch(), first)
    stack.undo()
    assert not canvas.sketch().any()
    stack.redo()
    stack.redo()
    assert np.array_equal(canvas.sketch(), second)


def test_clear_sketch_and_mask_are_undoable(qtbot, canvas: SemanticCanvas) -> None:
    sketch = np.full((SIZE, SIZE), ROCK, np.uint8)
    canvas.set_sketch(sketch)
    canvas.set_mask(np.full((SIZE, SIZE), 0.5, np.float32))
    with qtbot.waitSignal(canvas.sketch_changed):
        canvas.clear_sketch()
    assert not canvas.sketch().any()
    with qtbot.waitSignal(canvas.mask_changed):
        canvas.clear_mask()
    assert not canvas.has_mask()
    canvas.undo_stack.undo()
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.sketch(), sketch)
    assert np.allclose(canvas.mask(), 0.5)


def test_mask_brush_with_low_hardness_has_soft_edges(qtbot, canvas: SemanticCanvas) -> None:
    qtbot.keyClick(canvas, Qt.Key.Key_M)
    assert canvas.tool == Tool.MASK
    canvas.hardness = 0.3
    canvas.brush_size = 21
    with qtbot.waitSignal(canvas.mask_changed):
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 32, 32))
    mask = canvas.mask()
    assert mask.dtype == np.float32 and mask[32, 32] == 1.0
    assert ((mask > 0.05) & (mask < 0.95)).sum() > 20  # a ramp, not a hard disc
    assert mask[32, 0] == 0.0 and canvas.has_mask()
    assert not canvas.sketch().any()  # the mask never touches the sketch
    qtbot.keyClick(canvas, Qt.Key.Key_M, Qt.KeyboardModifier.ShiftModifier)
    assert canvas.tool == Tool.MASK_ERASER
    canvas.hardness = 1.0
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 32, 32))
    assert canvas.mask()[32, 32] == 0.0
    png = Image.open(io.BytesIO(canvas.mask_png()))
    assert png.mode == "L" and png.size == (SIZE, SIZE)
    assert np.array_equal(np.asarray(png), np.rint(canvas.mask() * 255).astype(np.uint8))


def test_keys_change_size_tools_overlay_and_class(qtbot, canvas: SemanticCanvas) -> None:
    canvas.brush_size = 16
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert canvas.brush_size > 16
    for _ in range(60):
        qtbot.keyClick(canvas, Qt.Key.Key_BracketLeft)
    assert canvas.brush_size == 1
    changed: list[str] = []
    canvas.tool_changed.connect(changed.append)
    for key, tool in [
        (Qt.Key.Key_G, Tool.FILL),
        (Qt.Key.Key_I, Tool.EYEDROPPER),
        (Qt.Key.Key_E, Tool.ERASER),
        (Qt.Key.Key_B, Tool.BRUSH),
    ]:
        qtbot.keyClick(canvas, key)
        assert canvas.tool == tool
    assert changed == ["fill", "eyedropper", "eraser", "brush"]
    assert canvas.overlay_visible
    qtbot.keyClick(canvas, Qt.Key.Key_O)
    assert not canvas.overlay_visible
    qtbot.keyClick(canvas, Qt.Key.Key_3)
    assert canvas.current_class == LABEL_CLASSES[3].index
    qtbot.keyClick(canvas, Qt.Key.Key_0)
    assert canvas.current_class == LABEL_CLASSES[10].index


def test_sketch_png_is_what_the_pipeline_reads(canvas: SemanticCanvas, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sketch = rng.integers(0, len(LABEL_CLASSES), (SIZE, SIZE)).astype(np.uint8)
    canvas.set_sketch(sketch)
    png = canvas.sketch_png()
    image = Image.open(io.BytesIO(png))
    assert image.mode == "L"
    assert np.array_equal(np.asarray(image), sketch)
    info = ModelInfo(
        name="tiny",
        version="1",
        kind="generator",
        path=tmp_path / "tiny.onnx",
        manifest_path=tmp_path / "tiny.json",
        sha256="0" * 64,
        inputs=(),
        outputs=(),
        resolution=SIZE,
        label_classes=LABEL_CLASSES,
    )
    assert np.array_equal(sketch_indices(png, info), sketch)


def test_sketch_changed_during_a_stroke_and_at_its_end(qtbot, canvas: SemanticCanvas) -> None:
    canvas.brush_size = 2
    with qtbot.waitSignal(canvas.sketch_changed):
        qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 5, 5))
    with qtbot.waitSignal(canvas.sketch_changed):  # throttled: arrives with the timer if not at once
        for x in range(6, 30, 3):
            qtbot.mouseMove(canvas, at(canvas, x, 5))
    assert canvas.undo_stack.count() == 0  # still the same stroke
    with qtbot.waitSignals([canvas.sketch_changed, canvas.edited]):
        qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 40, 5))
    assert canvas.undo_stack.count() == 1
    assert (canvas.sketch()[5, 5:41] == canvas.current_class).all()


def test_zoom_and_pan_keep_painting_at_the_right_pixel(qtbot, canvas: SemanticCanvas) -> None:
    canvas.brush_size = 1
    fitted = canvas.zoom
    centre = QPointF(canvas.width() / 2, canvas.height() / 2)
    target = (centre + QPointF(40, 40)).toPoint()
    expected_before = int(canvas.canvas_pos(QPointF(target)).x())
    canvas.zoom_by(1.25, centre)
    canvas.zoom_by(1.25, centre)  # zoom about the centre: the canvas point under it stays put
    assert canvas.zoom == pytest.approx(fitted * 1.5625)
    centre_pixel = SIZE / 2 + (centre.x() - canvas.width() / 2) / canvas.zoom
    expected = int(centre_pixel + 40 / canvas.zoom)
    assert expected != expected_before
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=target)
    painted = np.argwhere(canvas.sketch())
    assert painted.tolist() == [[expected, expected]]
    qtbot.keyClick(canvas, Qt.Key.Key_Plus)
    assert canvas.zoom > fitted * 1.5625
    qtbot.keyClick(canvas, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    assert canvas.zoom == pytest.approx(fitted)
    # a middle-button drag pans by exactly the dragged distance
    before = canvas.canvas_rect()
    qtbot.mousePress(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(100, 100))
    qtbot.mouseMove(canvas, QPoint(130, 110))
    qtbot.mouseRelease(canvas, Qt.MouseButton.MiddleButton, pos=QPoint(130, 110))
    assert canvas.canvas_rect().topLeft() == before.topLeft() + QPointF(30, 10)
    assert len(np.argwhere(canvas.sketch())) == 1  # panning never paints


def test_set_size_resamples_and_bad_input_is_refused(canvas: SemanticCanvas) -> None:
    sketch = np.zeros((SIZE, SIZE), np.uint8)
    sketch[:, SIZE // 2 :] = WATER
    canvas.set_sketch(sketch)
    canvas.set_size(128)
    assert canvas.canvas_size == 128 and canvas.sketch().shape == (128, 128)
    assert set(np.unique(canvas.sketch()).tolist()) == {0, WATER}  # nearest: no blended classes
    assert (canvas.sketch()[:, 64:] == WATER).all() and canvas.mask().shape == (128, 128)
    with pytest.raises(ValueError, match="does not know"):
        canvas.set_sketch(np.full((8, 8), 200, np.uint8))
    with pytest.raises(ValueError, match="2-D"):
        canvas.set_sketch(np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="integer"):
        canvas.set_sketch(np.zeros((4, 4), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        canvas.set_mask(np.full((4, 4), np.nan, np.float32))
    with pytest.raises(ValueError, match="size"):
        canvas.set_size(3)
    with pytest.raises(ValueError, match="unknown tool"):
        canvas.tool = "spray"
    with pytest.raises(ValueError, match="not in the palette"):
        canvas.current_class = 99
    with pytest.raises(ValueError, match="at least one"):
        canvas.set_classes([])
    assert canvas.canvas_size == 128 and (canvas.sketch()[:, 64:] == WATER).all()  # nothing lost


def test_undo_after_reload_is_a_harmless_no_op(qtbot, canvas: SemanticCanvas) -> None:
    canvas.brush_size = 6
    stroke(qtbot, canvas, [(10, 10), (20, 20)])
    loaded = np.full((SIZE, SIZE), GRASS, np.uint8)
    canvas.set_sketch(loaded)  # e.g. the app shows another history node
    canvas.undo_stack.undo()
    assert np.array_equal(canvas.sketch(), loaded)


def test_image_underlay_and_overlay_render(qtbot, canvas: SemanticCanvas) -> None:
    image = QImage(32, 32, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.red)
    canvas.set_image(image)
    canvas.set_sketch(np.full((SIZE, SIZE), WATER, np.uint8))
    canvas.overlay_opacity = 1.0
    centre = canvas.rect().center()
    shot = canvas.grab().toImage()
    assert shot.pixelColor(centre).getRgb()[:3] == LABEL_CLASSES[WATER].color
    qtbot.keyClick(canvas, Qt.Key.Key_O)
    shot = canvas.grab().toImage()
    assert shot.pixelColor(centre).getRgb()[:3] == (255, 0, 0)


def test_tablet_pressure_scales_the_brush(canvas: SemanticCanvas) -> None:
    pen = QPointingDevice(
        "test pen",
        1,
        QInputDevice.DeviceType.Stylus,
        QPointingDevice.PointerType.Pen,
        QInputDevice.Capability.Position | QInputDevice.Capability.Pressure,
        1,
        3,
    )
    canvas.brush_size = 20

    def send(kind: QEvent.Type, x: float, pressure: float) -> None:
        pos = canvas.widget_pos(QPointF(x + 0.5, 20.5))
        left = Qt.MouseButton.LeftButton
        event = QTabletEvent(
            kind, pen, pos, QPointF(canvas.mapToGlobal(pos)), pressure, 0, 0, 0, 0, 0,
            Qt.KeyboardModifier.NoModifier, left, left,
        )  # fmt: skip
        QApplication.sendEvent(canvas, event)
        assert event.isAccepted()

    send(QEvent.Type.TabletPress, 15, 0.25)
    send(QEvent.Type.TabletRelease, 15, 0.25)
    expected = np.zeros((SIZE, SIZE), np.uint8)
    stamp_labels(expected, 15.5, 20.5, 5, 1)  # a quarter of the pressure: a quarter of the size
    assert np.array_equal(canvas.sketch().astype(bool), expected.astype(bool))
    light = int(expected.sum())
    send(QEvent.Type.TabletPress, 45, 1.0)
    send(QEvent.Type.TabletRelease, 45, 1.0)
    assert int(canvas.sketch().astype(bool).sum()) - light > 10 * light  # full pressure: full size
    assert canvas.undo_stack.count() == 2


def test_pure_helpers() -> None:
    labels = np.zeros((10, 10), np.uint8)
    assert stamp_labels(labels, 4.2, 4.7, 1, 3) == (4, 5, 4, 5)
    assert labels.sum() == 3
    assert stamp_labels(labels, -50, -50, 5, 3) is None
    points = line_points(0, 0, 10, 0, 2.5)
    assert points[-1] == (10, 0) and len(points) == 4
    (y0, y1, x0, x1), weights = brush_footprint((100, 100), 50, 50, 9, hardness=0.0)
    assert weights.max() == 1.0 and 0 < weights[weights > 0].min() < 0.5
    grid = np.arange(16, dtype=np.uint8).reshape(4, 4)
    assert np.array_equal(resample_nearest(grid, 8)[::2, ::2], grid)


def test_paint_panel_mirrors_the_canvas_and_drives_it(qtbot, canvas: SemanticCanvas) -> None:
    panel = PaintPanel(canvas)
    qtbot.addWidget(panel)
    panel.show()
    panel.tool_buttons[Tool.FILL].click()
    assert canvas.tool == Tool.FILL
    qtbot.keyClick(canvas, Qt.Key.Key_E)
    assert panel.tool_buttons[Tool.ERASER].isChecked()
    panel.class_buttons[GRASS].click()
    assert canvas.current_class == GRASS and canvas.tool == Tool.BRUSH
    qtbot.keyClick(canvas, Qt.Key.Key_1)
    assert panel.class_buttons[SKY].isChecked()
    assert "1" in panel.class_buttons[SKY].toolTip()
    panel.size_slider.setValue(40)
    assert canvas.brush_size == 40
    qtbot.keyClick(canvas, Qt.Key.Key_BracketRight)
    assert panel.size_slider.value() == canvas.brush_size > 40
    panel.opacity_slider.setValue(0.25)
    assert canvas.overlay_opacity == pytest.approx(0.25)
    assert panel.is_live()
    with qtbot.waitSignal(panel.live_toggled) as blocker:
        panel.live.click()
    assert blocker.args == [False]
    assert not panel.regenerate_button.isEnabled() and not panel.from_image_button.isEnabled()
    image = QImage(16, 16, QImage.Format.Format_RGB888)
    image.fill(Qt.GlobalColor.gray)
    canvas.set_image(image)
    canvas.set_mask(np.ones((SIZE, SIZE), np.float32))
    assert panel.regenerate_button.isEnabled()
    with qtbot.waitSignal(panel.regenerate_in_mask_requested):
        panel.regenerate_button.click()
    with qtbot.waitSignal(panel.sketch_from_image_requested):
        panel.from_image_button.click()
    panel.clear_mask_button.click()
    assert not canvas.has_mask() and not panel.regenerate_button.isEnabled()
    for widget in [*panel.tool_buttons.values(), *panel.class_buttons.values(), panel.size_slider]:
        assert widget.toolTip() and widget.accessibleName()
    canvas.set_classes(LABEL_CLASSES[:4])
    assert sorted(panel.class_buttons) == [0, 1, 2, 3]


def test_saved_strokes_come_back_and_damaged_ones_are_skipped(
    qtbot, canvas: SemanticCanvas, tmp_path: Path
) -> None:
    """The undo log writes strokes as .npy assets and rebuilds them on a new canvas with the same
    token; a stroke whose asset is missing or does not fit its box is skipped, not fatal."""
    project = Project.open(tmp_path / "p")
    canvas.patch_store = lambda data: project.assets.put(data, "npy")
    log = UndoLog(canvas.undo_stack, lambda: project, canvas)
    canvas.brush_size = 4
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 10, 10))
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at(canvas, 10, 10))
    painted, token = canvas.sketch(), canvas.token
    assert painted.any()
    log.close()
    records = json.loads(project.meta_get(META_KEY))
    assert [r["type"] for r in records] == ["patch"]
    damaged = [
        {**records[0], "after": "0" * 64},  # a missing asset
        {**records[0], "box": [0, 1, 0, 1]},  # arrays that do not fit the box
    ]
    project.meta_set(META_KEY, json.dumps([*damaged, records[0]]))

    fresh = SemanticCanvas(size=SIZE, undo_stack=QUndoStack())
    qtbot.addWidget(fresh)
    fresh.set_sketch(painted)
    fresh.adopt_token(token)
    restored = UndoLog(fresh.undo_stack, lambda: project, fresh)
    assert restored.restore(lambda ids: None, lambda node_id, tags: None) == 1
    fresh.undo_stack.undo()
    assert not fresh.sketch().any()
    fresh.undo_stack.redo()
    assert np.array_equal(fresh.sketch(), painted)
    restored.close()
    project.close()
