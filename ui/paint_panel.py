"""Tools, class palette and brush settings for a SemanticCanvas, plus the app-level paint actions."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledDoubleSlider, QLabeledSlider

from ui.canvas import MAX_BRUSH, MIN_BRUSH, TOOL_KEYS, SemanticCanvas, Tool
from ui.theme import set_tooltip_deep

ICON = 22
TOOL_TIPS: dict[Tool, str] = {
    Tool.BRUSH: "Brush: paint the current class",
    Tool.ERASER: "Eraser: paint 'unknown' (the model decides there)",
    Tool.FILL: "Fill: fill the connected area under the cursor with the current class",
    Tool.EYEDROPPER: "Eyedropper: pick the class under the cursor (Alt+click works with any tool)",
    Tool.MASK: "Mask brush: mark where to regenerate (hardness softens the edge)",
    Tool.MASK_ERASER: "Mask eraser: unmark",
}
TOOL_NAMES: dict[Tool, str] = {
    Tool.BRUSH: "Brush",
    Tool.ERASER: "Eraser",
    Tool.FILL: "Fill",
    Tool.EYEDROPPER: "Eyedropper",
    Tool.MASK: "Mask brush",
    Tool.MASK_ERASER: "Mask eraser",
}


def tool_icon(tool: Tool, color: QColor) -> QIcon:
    """Small line-art glyphs drawn in the palette's text colour, so they suit light and dark themes."""
    pixmap = QPixmap(ICON, ICON)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = QPen(color, 1.6, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    p.setPen(pen)
    red = QColor(230, 70, 70)
    if tool == Tool.BRUSH:
        p.drawLine(QPointF(17, 3), QPointF(9, 12))
        p.setBrush(color)
        p.drawEllipse(QPointF(7, 15), 3.5, 3.5)
    elif tool == Tool.ERASER:
        p.translate(11, 11)
        p.rotate(-35)
        p.drawRect(QRectF(-8, -4, 16, 8))
        p.drawLine(QPointF(-2, -4), QPointF(-2, 4))
    elif tool == Tool.FILL:
        path = QPainterPath(QPointF(4, 9))
        path.lineTo(11, 3)
        path.lineTo(17, 10)
        path.lineTo(10, 17)
        path.closeSubpath()
        p.drawPath(path)
        p.setBrush(color)
        p.drawEllipse(QPointF(18, 16), 2, 2.5)
    elif tool == Tool.EYEDROPPER:
        p.drawLine(QPointF(4, 18), QPointF(13, 9))
        p.setBrush(color)
        p.drawEllipse(QPointF(15.5, 6.5), 3.5, 3.5)
    elif tool == Tool.MASK:
        p.setPen(QPen(red, 1.6))
        p.setBrush(QBrush(red, Qt.BrushStyle.BDiagPattern))
        p.drawEllipse(QPointF(11, 11), 8, 8)
    else:
        p.setPen(QPen(red, 1.6, Qt.PenStyle.DashLine))
        p.drawEllipse(QPointF(11, 11), 8, 8)
        p.setPen(QPen(color, 1.8))
        p.drawLine(QPointF(6, 16), QPointF(16, 6))
    p.end()
    return QIcon(pixmap)


def swatch_icon(rgb: tuple[int, int, int], border: QColor, unknown: bool = False) -> QIcon:
    """A colour square; 'unknown' gets a diagonal hatch because it is painted transparent."""
    pixmap = QPixmap(ICON - 4, ICON - 4)
    pixmap.fill(Qt.GlobalColor.transparent)
    p = QPainter(pixmap)
    p.setPen(QPen(border, 1))
    p.setBrush(QBrush(border, Qt.BrushStyle.BDiagPattern) if unknown else QColor(*rgb))
    p.drawRoundedRect(QRectF(0.5, 0.5, ICON - 5, ICON - 5), 3, 3)
    p.end()
    return QIcon(pixmap)


class PaintPanel(QWidget):
    """Binds to one SemanticCanvas and mirrors its state both ways (keys on the canvas update it)."""

    live_toggled = Signal(bool)
    sketch_from_image_requested = Signal()
    regenerate_in_mask_requested = Signal()

    def __init__(self, canvas: SemanticCanvas, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = canvas
        self.setAccessibleName("Paint panel")
        # the current tool and class must stand out; palette roles keep it right in light and dark themes
        self.setStyleSheet(
            "QToolButton:checked { background: palette(highlight); border: 1px solid palette(link); }"
        )
        text = self.palette().color(QPalette.ColorRole.ButtonText)

        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_buttons: dict[Tool, QToolButton] = {}
        tools_row = QHBoxLayout()
        tools_row.setSpacing(2)
        for tool in Tool:
            button = QToolButton()
            button.setCheckable(True)
            button.setIcon(tool_icon(tool, text))
            button.setIconSize(QSize(ICON, ICON))
            button.setToolTip(f"{TOOL_TIPS[tool]} ({TOOL_KEYS[tool]})")
            button.setAccessibleName(TOOL_NAMES[tool])
            button.clicked.connect(lambda _=False, t=tool: self._choose_tool(t))
            self.tool_group.addButton(button)
            self.tool_buttons[tool] = button
            tools_row.addWidget(button)
        tools_row.addStretch(1)

        self.palette_box = QGroupBox("Classes")
        self.palette_box.setToolTip("What to paint. 1–9 and 0 pick the classes in this order.")
        self.palette_box.setAccessibleName("Class palette")
        self._palette_layout = QGridLayout(self.palette_box)
        self._palette_layout.setSpacing(2)
        self.class_group = QButtonGroup(self)
        self.class_group.setExclusive(True)
        self.class_buttons: dict[int, QToolButton] = {}

        self.size_slider = QLabeledSlider(Qt.Orientation.Horizontal)
        self.size_slider.setRange(MIN_BRUSH, MAX_BRUSH)
        set_tooltip_deep(self.size_slider, "Brush size in canvas pixels ([ smaller, ] larger)")
        self.size_slider.setAccessibleName("Brush size")
        self.hardness_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.hardness_slider.setRange(0.0, 1.0)
        self.hardness_slider.setDecimals(2)
        set_tooltip_deep(self.hardness_slider, "Mask brush hardness: below 1 the mask edge fades out softly")
        self.hardness_slider.setAccessibleName("Mask hardness")
        self.opacity_slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0.0, 1.0)
        self.opacity_slider.setDecimals(2)
        set_tooltip_deep(self.opacity_slider, "How strongly class colours cover the picture (O hides them)")
        self.opacity_slider.setAccessibleName("Overlay opacity")
        form = QFormLayout()
        form.addRow("Size", self.size_slider)
        form.addRow("Hardness", self.hardness_slider)
        form.addRow("Overlay", self.opacity_slider)

        self.live = QCheckBox("Live")
        self.live.setChecked(True)
        self.live.setToolTip("Re-render the picture while you paint")
        self.live.setAccessibleName("Live re-render")
        self.live.toggled.connect(self.live_toggled)
        self.clear_sketch_button = self._button(
            "Clear sketch", "Set the whole sketch to 'unknown' (undoable)", canvas.clear_sketch
        )
        self.clear_mask_button = self._button("Clear mask", "Remove the mask (undoable)", canvas.clear_mask)
        self.from_image_button = self._button(
            "Sketch from image",
            "Guess the classes of the current picture as a starting sketch",
            self.sketch_from_image_requested.emit,
        )
        self.regenerate_button = self._button(
            "Regenerate in mask",
            "Re-render only the masked area, keeping the rest of the picture",
            self.regenerate_in_mask_requested.emit,
        )
        actions = QGridLayout()
        actions.addWidget(self.clear_sketch_button, 0, 0)
        actions.addWidget(self.clear_mask_button, 0, 1)
        actions.addWidget(self.from_image_button, 1, 0)
        actions.addWidget(self.regenerate_button, 1, 1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(tools_row)
        layout.addWidget(self.palette_box)
        layout.addLayout(form)
        layout.addWidget(self.live)
        layout.addLayout(actions)
        layout.addStretch(1)

        self.size_slider.valueChanged.connect(lambda v: setattr(canvas, "brush_size", v))
        self.hardness_slider.valueChanged.connect(lambda v: setattr(canvas, "hardness", v))
        self.opacity_slider.valueChanged.connect(self._set_opacity)
        canvas.tool_changed.connect(self._sync_tool)
        canvas.class_changed.connect(self._sync_class)
        canvas.classes_changed.connect(self._build_palette)
        canvas.brush_size_changed.connect(self.size_slider.setValue)
        canvas.hardness_changed.connect(self.hardness_slider.setValue)
        canvas.overlay_changed.connect(self._sync_overlay)
        canvas.mask_changed.connect(self._sync_actions)
        canvas.image_changed.connect(self._sync_actions)
        self._build_palette()
        self.size_slider.setValue(canvas.brush_size)
        self.hardness_slider.setValue(canvas.hardness)
        self._sync_overlay()
        self._sync_tool(canvas.tool)
        self._sync_actions()

    def is_live(self) -> bool:
        return self.live.isChecked()

    def _button(self, text: str, tip: str, slot) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.setAccessibleName(text)
        button.clicked.connect(slot)
        return button

    def _choose_tool(self, tool: Tool) -> None:
        self.canvas.tool = tool
        self.canvas.setFocus()  # so the canvas shortcuts keep working after a click here

    def _choose_class(self, index: int) -> None:
        self.canvas.current_class = index
        if self.canvas.tool not in (Tool.BRUSH, Tool.FILL):
            self.canvas.tool = Tool.BRUSH  # choosing a colour means "paint with it"
        self.canvas.setFocus()

    def _build_palette(self) -> None:
        for button in self.class_buttons.values():
            self.class_group.removeButton(button)
            button.deleteLater()
        self.class_buttons.clear()
        border = self.palette().color(QPalette.ColorRole.Mid)
        paintable = [c for c in self.canvas.classes() if int(c.index) != 0]
        unknown = [c for c in self.canvas.classes() if int(c.index) == 0]
        for slot, cls in enumerate(paintable + unknown):
            index = int(cls.index)
            button = QToolButton()
            button.setCheckable(True)
            button.setAutoRaise(True)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.setIcon(swatch_icon(tuple(cls.color), border, unknown=index == 0))
            button.setText(cls.display)
            button.setAccessibleName(f"Class {cls.display}")
            if index == 0:
                tip = f"{cls.display}: let the model decide (same as the eraser, E)"
            elif slot < 10:
                tip = f"{cls.display} (key {(slot + 1) % 10})"
            else:
                tip = cls.display
            button.setToolTip(tip)
            button.clicked.connect(lambda _=False, i=index: self._choose_class(i))
            self.class_group.addButton(button)
            self.class_buttons[index] = button
            self._palette_layout.addWidget(button, slot // 2, slot % 2)
        self._sync_class(self.canvas.current_class)

    def _set_opacity(self, value: float) -> None:
        """Moving the slider sets the opacity and shows the overlay again if O had hidden it."""
        self.canvas.overlay_opacity = value
        self.canvas.overlay_visible = True

    def _sync_overlay(self) -> None:
        """A hidden overlay reads 0.00: the slider says how strongly the classes cover the picture now."""
        shown = self.canvas.overlay_opacity if self.canvas.overlay_visible else 0.0
        self.opacity_slider.blockSignals(True)
        self.opacity_slider.setValue(shown)
        self.opacity_slider.blockSignals(False)

    def _sync_tool(self, tool: str) -> None:
        self.tool_buttons[Tool(tool)].setChecked(True)

    def _sync_class(self, index: int) -> None:
        button = self.class_buttons.get(index)
        if button is not None:
            button.setChecked(True)

    def _sync_actions(self) -> None:
        self.regenerate_button.setEnabled(self.canvas.has_mask() and self.canvas.has_image())
        self.from_image_button.setEnabled(self.canvas.has_image())
