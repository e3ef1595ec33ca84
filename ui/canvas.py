"""The semantic paint canvas (NVIDIA Canvas / GauGAN style): an image, a class-index sketch and a mask.

The sketch and the mask live at the canvas resolution (`size`×`size`, what the generator reads),
independent of the widget size; the view only scales and pans. The array helpers at the top are
plain numpy so they can be tested without Qt.
"""

from __future__ import annotations

import io
import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import numpy as np
from PIL import Image
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QCursor,
    QHelpEvent,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
    QTabletEvent,
    QUndoStack,
    QWheelEvent,
)
from PySide6.QtWidgets import QWidget

from studio.world.classes import LABEL_CLASSES
from ui.canvas_commands import Box, PatchCommand, PatchStore

MIN_SIZE, MAX_SIZE = 8, 2048
MIN_BRUSH, MAX_BRUSH = 1, 128
MIN_ZOOM, MAX_ZOOM = 0.05, 64.0
THROTTLE_MS = 40  # live re-render requests while painting: at most one per 40 ms
MASK_TINT = (255, 64, 64)
MASK_ALPHA = 0.5  # the mask tint's alpha where the mask is 1


class Tool(StrEnum):
    BRUSH = "brush"
    ERASER = "eraser"
    FILL = "fill"
    EYEDROPPER = "eyedropper"
    MASK = "mask"
    MASK_ERASER = "mask_eraser"


STROKE_TOOLS = (Tool.BRUSH, Tool.ERASER, Tool.MASK, Tool.MASK_ERASER)
TOOL_KEYS: dict[Tool, str] = {
    Tool.BRUSH: "B",
    Tool.ERASER: "E",
    Tool.FILL: "G",
    Tool.EYEDROPPER: "I",
    Tool.MASK: "M",
    Tool.MASK_ERASER: "Shift+M",
}


class ClassLike(Protocol):
    """What the canvas needs of a label class (studio.world.classes.LabelClass or a manifest entry)."""

    index: int
    name: str
    display: str
    color: tuple[int, int, int]


# --- pure array helpers --------------------------------------------------------------------------
def union_box(a: Box | None, b: Box | None) -> Box | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def changed_box(before: np.ndarray, after: np.ndarray) -> Box | None:
    """The tight box of pixels that differ, or None when nothing changed."""
    diff = before != after
    rows, cols = np.flatnonzero(diff.any(axis=1)), np.flatnonzero(diff.any(axis=0))
    if rows.size == 0:
        return None
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def brush_footprint(
    shape: tuple[int, int], x: float, y: float, size: int, hardness: float = 1.0
) -> tuple[Box, np.ndarray] | None:
    """Weights (0..1) of a round brush of diameter `size` centred near (x, y), clipped to `shape`.

    The centre snaps to the pixel grid (pixel centre for odd sizes, pixel corner for even ones) so a
    size-1 brush paints exactly one pixel and sizes grow symmetrically. `hardness` is the fraction
    of the radius at full weight; outside it the weight falls linearly to 0 at the rim.
    """
    h, w = shape
    r = max(size, 1) / 2
    cx = math.floor(x) + 0.5 if size % 2 else float(round(x))
    cy = math.floor(y) + 0.5 if size % 2 else float(round(y))
    x0, x1 = max(0, math.floor(cx - r)), min(w, math.ceil(cx + r))
    y0, y1 = max(0, math.floor(cy - r)), min(h, math.ceil(cy + r))
    if x0 >= x1 or y0 >= y1:
        return None
    dx = np.arange(x0, x1, dtype=np.float32) + 0.5 - cx
    dy = np.arange(y0, y1, dtype=np.float32) + 0.5 - cy
    d = np.sqrt(dy[:, None] ** 2 + dx[None, :] ** 2)
    if hardness >= 1.0:
        weights = (d <= r).astype(np.float32)
    else:
        inner = r * max(0.0, hardness)
        weights = np.clip((r - d) / (r - inner), 0.0, 1.0).astype(np.float32)
    if not weights.any():
        return None
    return (y0, y1, x0, x1), weights


def stamp_labels(labels: np.ndarray, x: float, y: float, size: int, value: int) -> Box | None:
    """Paint a hard disc of class `value`; returns the touched box. Class labels have no soft edge."""
    found = brush_footprint(labels.shape, x, y, size)
    if found is None:
        return None
    (y0, y1, x0, x1), weights = found
    labels[y0:y1, x0:x1][weights > 0] = value
    return y0, y1, x0, x1


def stamp_mask(
    mask: np.ndarray, x: float, y: float, size: int, hardness: float, erase: bool = False
) -> Box | None:
    """Paint (max) or erase (min) a soft disc into a 0..1 mask; overlapping dabs never build up."""
    found = brush_footprint(mask.shape, x, y, size, hardness)
    if found is None:
        return None
    (y0, y1, x0, x1), weights = found
    region = mask[y0:y1, x0:x1]
    if erase:
        np.minimum(region, 1.0 - weights, out=region)
    else:
        np.maximum(region, weights, out=region)
    return y0, y1, x0, x1


def line_points(x0: float, y0: float, x1: float, y1: float, spacing: float) -> list[tuple[float, float]]:
    """Dab positions from (x0, y0) (excluded) to (x1, y1) (included), at most `spacing` apart."""
    length = math.hypot(x1 - x0, y1 - y0)
    steps = max(1, math.ceil(length / max(spacing, 1e-6)))
    return [(x0 + (x1 - x0) * i / steps, y0 + (y1 - y0) * i / steps) for i in range(1, steps + 1)]


def flood_region(labels: np.ndarray, x: int, y: int) -> np.ndarray:
    """Boolean mask of the 4-connected region of equal class containing (x, y).

    Searches over horizontal runs rather than pixels, with each run's neighbour runs in the rows
    above and below found in one vectorised pass, so a 256² fill stays in the millisecond range.
    """
    h, w = labels.shape
    same = labels == labels[y, x]
    edges = np.diff(np.pad(same, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # runs are [start, end) in row-major order
    stride = w + 1
    start_key, end_key = rows * stride + starts, rows * stride + ends
    # neighbours of run i in row r ± 1: runs j there with end_j > start_i and start_j < end_i
    below = rows + 1
    above = rows - 1
    ranges = [
        (
            np.searchsorted(end_key, other * stride + starts, side="right").tolist(),
            np.searchsorted(start_key, other * stride + ends, side="left").tolist(),
        )
        for other in (above, below)
    ]
    seed = int(np.searchsorted(end_key, y * stride + x, side="right"))
    seen = bytearray(len(starts))
    seen[seed] = 1
    stack = [seed]
    found = [seed]
    while stack:
        run = stack.pop()
        for lows, highs in ranges:
            for j in range(lows[run], highs[run]):
                if not seen[j]:
                    seen[j] = 1
                    stack.append(j)
                    found.append(j)
    region = np.zeros((h, w), dtype=bool)
    index = np.asarray(found)
    lengths = ends[index] - starts[index]
    pixel_rows = np.repeat(rows[index], lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    region[pixel_rows, np.repeat(starts[index], lengths) + offsets] = True
    return region


def flood_fill(labels: np.ndarray, x: int, y: int, value: int) -> Box | None:
    """Fill the contiguous region under (x, y) with `value` in place; returns the changed box."""
    if labels[y, x] == value:
        return None
    region = flood_region(labels, x, y)
    labels[region] = value
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def resample_nearest(array: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize to size×size (class labels must never be blended)."""
    h, w = array.shape
    rows = np.minimum((np.arange(size) + 0.5) * h / size, h - 1).astype(np.intp)
    cols = np.minimum((np.arange(size) + 0.5) * w / size, w - 1).astype(np.intp)
    return array[rows[:, None], cols[None, :]]


def resample_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a float mask to size×size, kept in 0..1."""
    if mask.shape == (size, size):
        return mask.astype(np.float32, copy=True)
    image = Image.fromarray(np.ascontiguousarray(mask, dtype=np.float32), mode="F")
    resized = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
    return np.clip(resized, 0.0, 1.0)


def encode_l_png(values: np.ndarray) -> bytes:
    """A single-channel 8-bit PNG (mode "L") of a uint8 array."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(values, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


# --- the widget ------------------------------------------------------------------------------------
@dataclass
class _Stroke:
    """A stroke in progress: the layer's state before it, the dirty box so far, the last dab."""

    layer: str
    tool: Tool
    before: np.ndarray
    box: Box | None
    x: float
    y: float
    pressure: float


class SemanticCanvas(QWidget):
    """Paint class labels and an edit mask over an image; every stroke is one undo command."""

    sketch_changed = Signal()  # throttled while painting, once at stroke end, on undo/redo/clear
    edited = Signal()  # an undoable edit was made, undone or redone: the owner saves the canvas
    mask_changed = Signal()
    class_picked = Signal(int)  # the eyedropper chose this class
    tool_changed = Signal(str)
    class_changed = Signal(int)  # current class, however it was chosen
    brush_size_changed = Signal(int)
    hardness_changed = Signal(float)
    overlay_changed = Signal()  # opacity or visibility
    classes_changed = Signal()
    image_changed = Signal()

    def __init__(
        self,
        parent: QWidget | None = None,
        size: int = 256,
        undo_stack: QUndoStack | None = None,
        classes: Sequence[ClassLike] = LABEL_CLASSES,
    ) -> None:
        super().__init__(parent)
        _check_size(size)
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self._size = size
        self._sketch = np.zeros((size, size), np.uint8)
        self._mask = np.zeros((size, size), np.float32)
        self._sketch_rgba = np.zeros((size, size, 4), np.uint8)
        self._mask_rgba = np.zeros((size, size, 4), np.uint8)
        self._image: QImage | None = None
        self._token = uuid.uuid4().hex  # new when the arrays are replaced: older undo commands go stale
        self.patch_store: PatchStore | None = None  # set by the owner so strokes persist (undo log)
        self._classes: list[ClassLike] = []
        self._lut = np.zeros((256, 4), np.uint8)
        self._current = -1  # set_classes picks the first paintable class
        self._tool = Tool.BRUSH
        self._brush_size = 16
        self._hardness = 0.5
        self._opacity = 0.6
        self._overlay_visible = True
        self._stroke: _Stroke | None = None
        self._pending: set[str] = set()
        self._throttle = QTimer(self, singleShot=True, interval=THROTTLE_MS, timeout=self._flush)
        self._scale = 1.0
        self._offset = QPointF(0, 0)
        self._fitting = True
        self._hover: QPointF | None = None
        self._space = False
        self._pan_from: tuple[QPointF, QPointF] | None = None
        self.setMouseTracking(True)
        self.setTabletTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMinimumSize(200, 200)
        self.setAccessibleName("Semantic canvas")
        self.setToolTip(
            "Paint what goes where. B brush, E eraser, G fill, I eyedropper, M mask, Shift+M erase mask, "
            "[ ] brush size, 1–9/0 classes, O overlay, Ctrl+wheel or +/- zoom, Ctrl+0 fit, "
            "middle-drag or Space+drag pans."
        )
        self.set_classes(classes)
        self._update_cursor()

    # --- layers ------------------------------------------------------------------------------------
    @property
    def canvas_size(self) -> int:
        """The sketch and mask resolution (size×size), independent of the widget's size."""
        return self._size

    def set_size(self, size: int) -> None:
        """Change the canvas resolution; the sketch is resampled nearest, the mask bilinear."""
        _check_size(size)
        if size == self._size:
            return
        self._end_stroke()
        self._size = size
        self._replace(resample_nearest(self._sketch, size), resample_mask(self._mask, size))
        self.fit()

    def set_classes(self, classes: Sequence[ClassLike]) -> None:
        """The palette (index, name, display, color); indices are the model's channels."""
        classes = list(classes)
        if not classes:
            raise ValueError("the palette needs at least one class")
        indices = [int(c.index) for c in classes]
        if len(set(indices)) != len(indices) or min(indices) < 0 or max(indices) > 255:
            raise ValueError(f"class indices must be unique and within 0..255, got {indices}")
        self._classes = sorted(classes, key=lambda c: int(c.index))
        self._lut[:] = 0
        for c in self._classes:
            if int(c.index) != 0:  # class 0 "unknown" stays transparent: the model decides there
                self._lut[int(c.index)] = (*(int(v) for v in c.color), 255)
        if self._current not in indices:
            self._current = next((i for i in sorted(indices) if i != 0), indices[0])
            self.class_changed.emit(self._current)
        self._refresh_sketch(None)
        self.classes_changed.emit()
        self.update()

    def classes(self) -> list[ClassLike]:
        return list(self._classes)

    def class_indices(self) -> list[int]:
        return [int(c.index) for c in self._classes]

    def set_image(self, image: QImage | None) -> None:
        """The picture shown under the sketch (scaled to the canvas square), or None."""
        self._image = None if image is None or image.isNull() else image.copy()
        self.image_changed.emit()
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def has_image(self) -> bool:
        return self._image is not None

    def sketch(self) -> np.ndarray:
        return self._sketch.copy()

    def set_sketch(self, indices: np.ndarray) -> None:
        """Load a label map (any 2-D integer array of known classes; resampled nearest to the canvas).

        This loads state (e.g. a history node's sketch): it is not an undoable edit and emits no
        sketch_changed, so loading never triggers a re-render by itself.
        """
        array = np.asarray(indices)
        if array.ndim != 2 or array.size == 0:
            raise ValueError(f"a sketch must be a 2-D array of class indices, got shape {array.shape}")
        if not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_):
            raise ValueError(f"a sketch must hold integer class indices, got dtype {array.dtype}")
        unknown = sorted(set(np.unique(array).tolist()) - set(self.class_indices()))
        if unknown:
            raise ValueError(f"the sketch uses class indices {unknown} that the palette does not know")
        self._end_stroke()
        self._replace(resample_nearest(array.astype(np.uint8), self._size), self._mask)

    def clear_sketch(self) -> None:
        """Set every pixel to class 0 ("unknown": the model decides); undoable."""
        self._end_stroke()
        self._commit("sketch", self._sketch.copy(), (0, self._size, 0, self._size), "Clear sketch", fill=0)

    def mask(self) -> np.ndarray:
        return self._mask.copy()

    def set_mask(self, mask: np.ndarray) -> None:
        """Load a mask: floats in 0..1 or uint8 0..255, 2-D; resampled bilinear. Not undoable."""
        array = np.asarray(mask)
        if array.ndim != 2 or array.size == 0:
            raise ValueError(f"a mask must be a 2-D array, got shape {array.shape}")
        if array.dtype == np.uint8:
            array = array.astype(np.float32) / 255.0
        elif np.issubdtype(array.dtype, np.floating) or array.dtype == np.bool_:
            array = array.astype(np.float32)
            if not np.all(np.isfinite(array)):
                raise ValueError("a mask must not contain NaN or infinite values")
        else:
            raise ValueError(f"a mask must be float 0..1 or uint8 0..255, got dtype {array.dtype}")
        self._end_stroke()
        self._replace(self._sketch, resample_mask(np.clip(array, 0.0, 1.0), self._size))
        self.mask_changed.emit()

    def clear_mask(self) -> None:
        """Remove the whole mask; undoable."""
        self._end_stroke()
        self._commit("mask", self._mask.copy(), (0, self._size, 0, self._size), "Clear mask", fill=0.0)

    def has_mask(self) -> bool:
        return bool(self._mask.max(initial=0.0) > 0.0)

    def sketch_png(self) -> bytes:
        """Class indices as a mode "L" PNG: exactly what studio.inference.pipeline.sketch_indices reads."""
        return encode_l_png(self._sketch)

    def mask_png(self) -> bytes:
        """The mask as a mode "L" PNG, 0..255, white = regenerate."""
        return encode_l_png(np.rint(self._mask * 255.0).astype(np.uint8))

    # --- brush state ---------------------------------------------------------------------------
    @property
    def current_class(self) -> int:
        return self._current

    @current_class.setter
    def current_class(self, index: int) -> None:
        index = int(index)
        if index not in self.class_indices():
            raise ValueError(f"class {index} is not in the palette {self.class_indices()}")
        if index != self._current:
            self._current = index
            self.class_changed.emit(index)

    @property
    def tool(self) -> Tool:
        return self._tool

    @tool.setter
    def tool(self, tool: str) -> None:
        try:
            tool = Tool(tool)
        except ValueError:
            raise ValueError(f"unknown tool {tool!r}; tools are {[t.value for t in Tool]}") from None
        if tool != self._tool:
            self._end_stroke()
            self._tool = tool
            self._update_cursor()
            self.update()
            self.tool_changed.emit(tool.value)

    @property
    def brush_size(self) -> int:
        return self._brush_size

    @brush_size.setter
    def brush_size(self, size: int) -> None:
        size = min(MAX_BRUSH, max(MIN_BRUSH, int(size)))
        if size != self._brush_size:
            self._brush_size = size
            self.update()
            self.brush_size_changed.emit(size)

    @property
    def hardness(self) -> float:
        return self._hardness

    @hardness.setter
    def hardness(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        if value != self._hardness:
            self._hardness = value
            self.hardness_changed.emit(value)

    @property
    def overlay_opacity(self) -> float:
        return self._opacity

    @overlay_opacity.setter
    def overlay_opacity(self, value: float) -> None:
        value = min(1.0, max(0.0, float(value)))
        if value != self._opacity:
            self._opacity = value
            self.update()
            self.overlay_changed.emit()

    @property
    def overlay_visible(self) -> bool:
        return self._overlay_visible

    @overlay_visible.setter
    def overlay_visible(self, visible: bool) -> None:
        if bool(visible) != self._overlay_visible:
            self._overlay_visible = bool(visible)
            self.update()
            self.overlay_changed.emit()

    def pick_palette_entry(self, number: int) -> None:
        """Digit shortcuts: 1..9 then 0 choose the 1st..10th paintable (non-unknown) class."""
        paintable = [i for i in self.class_indices() if i != 0]
        slot = 9 if number == 0 else number - 1
        if 0 <= slot < len(paintable):
            self.current_class = paintable[slot]

    # --- view ------------------------------------------------------------------------------------
    @property
    def zoom(self) -> float:
        """Widget pixels per canvas pixel."""
        return self._scale

    def fit(self) -> None:
        """Show the whole canvas, centred; stays fitted on resize until the user zooms or pans."""
        self._fitting = True
        margin = 8
        avail = max(1, min(self.width(), self.height()) - 2 * margin)
        self._scale = min(MAX_ZOOM, max(MIN_ZOOM, avail / self._size))
        extent = self._size * self._scale
        self._offset = QPointF((self.width() - extent) / 2, (self.height() - extent) / 2)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the canvas point under `anchor` (widget coordinates; default centre) still."""
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        point = self.canvas_pos(anchor)
        self._scale = min(MAX_ZOOM, max(MIN_ZOOM, self._scale * factor))
        self._offset = anchor - point * self._scale
        self._fitting = False
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        self._offset += QPointF(dx, dy)
        self._fitting = False
        self.update()

    def canvas_pos(self, widget_pos: QPointF) -> QPointF:
        """Widget coordinates → canvas pixel coordinates (floats; pixel (i, j) spans [j, j+1))."""
        return (QPointF(widget_pos) - self._offset) / self._scale

    def widget_pos(self, canvas_pos: QPointF) -> QPointF:
        return QPointF(canvas_pos) * self._scale + self._offset

    def canvas_rect(self) -> QRectF:
        """Where the canvas square is drawn, in widget coordinates."""
        extent = self._size * self._scale
        return QRectF(self._offset.x(), self._offset.y(), extent, extent)

    # --- undo support (PatchTarget) --------------------------------------------------------------
    @property
    def token(self) -> str:
        """Names the current canvas contents; undo commands apply only to the contents they edited."""
        return self._token

    def adopt_token(self, token: str) -> None:
        """After restoring saved contents: the saved strokes made on them apply again."""
        self._token = str(token)

    def apply_patch(self, layer: str, box: Box, data: np.ndarray, token: str) -> bool:
        if token != self._token:
            return False
        self._end_stroke()
        y0, y1, x0, x1 = box
        if layer == "sketch":
            self._sketch[y0:y1, x0:x1] = data
            self._refresh_sketch(box)
            self.sketch_changed.emit()
        else:
            self._mask[y0:y1, x0:x1] = data
            self._refresh_mask(box)
            self.mask_changed.emit()
        self.edited.emit()
        return True

    # --- painting ------------------------------------------------------------------------------------
    def _layer(self, name: str) -> np.ndarray:
        return self._sketch if name == "sketch" else self._mask

    def _begin_stroke(self, pos: QPointF, pressure: float) -> None:
        layer = "mask" if self._tool in (Tool.MASK, Tool.MASK_ERASER) else "sketch"
        self._stroke = _Stroke(layer, self._tool, self._layer(layer).copy(), None, pos.x(), pos.y(), pressure)
        self._dab(pos.x(), pos.y(), pressure)

    def _continue_stroke(self, pos: QPointF, pressure: float) -> None:
        stroke = self._stroke
        if stroke is None:
            return
        spacing = max(1.0, self._dab_size(pressure) / 4)
        for x, y in line_points(stroke.x, stroke.y, pos.x(), pos.y(), spacing):
            self._dab(x, y, pressure)
        stroke.x, stroke.y, stroke.pressure = pos.x(), pos.y(), pressure

    def _dab_size(self, pressure: float) -> int:
        return max(MIN_BRUSH, round(self._brush_size * min(1.0, max(0.05, pressure))))

    def _dab(self, x: float, y: float, pressure: float) -> None:
        stroke = self._stroke
        assert stroke is not None
        size = self._dab_size(pressure)
        if stroke.layer == "sketch":
            value = 0 if stroke.tool == Tool.ERASER else self._current
            box = stamp_labels(self._sketch, x, y, size, value)
            if box is not None:
                self._refresh_sketch(box)
        else:
            box = stamp_mask(self._mask, x, y, size, self._hardness, erase=stroke.tool == Tool.MASK_ERASER)
            if box is not None:
                self._refresh_mask(box)
        if box is not None:
            stroke.box = union_box(stroke.box, box)
            self._notify(stroke.layer)

    def _end_stroke(self) -> None:
        """Finish the stroke in progress (if any) as one undo command."""
        stroke, self._stroke = self._stroke, None
        if stroke is None:
            return
        self._throttle.stop()
        self._pending.clear()
        if stroke.box is not None:
            names = {Tool.BRUSH: f"Paint {self._display(self._current)}", Tool.ERASER: "Erase"}
            text = names.get(stroke.tool, "Erase mask" if stroke.tool == Tool.MASK_ERASER else "Paint mask")
            self._commit(stroke.layer, stroke.before, stroke.box, text)

    def _commit(self, layer: str, before: np.ndarray, box: Box, text: str, fill: float | None = None) -> None:
        """Push the change of `layer` inside `box` (relative to the full `before`) as a command."""
        current = self._layer(layer)
        y0, y1, x0, x1 = box
        if fill is not None:
            current[y0:y1, x0:x1] = fill
            self._refresh_sketch(box) if layer == "sketch" else self._refresh_mask(box)
        tight = changed_box(before[y0:y1, x0:x1], current[y0:y1, x0:x1])
        if tight is None:
            return
        ty0, ty1, tx0, tx1 = tight
        box = (y0 + ty0, y0 + ty1, x0 + tx0, x0 + tx1)
        y0, y1, x0, x1 = box
        command = PatchCommand(
            self, layer, box, before[y0:y1, x0:x1], current[y0:y1, x0:x1], self._token, text
        )
        self.undo_stack.push(command)
        self.sketch_changed.emit() if layer == "sketch" else self.mask_changed.emit()
        self.edited.emit()

    def _fill(self, pos: QPointF) -> None:
        x, y = math.floor(pos.x()), math.floor(pos.y())
        if not (0 <= x < self._size and 0 <= y < self._size):
            return
        before = self._sketch.copy()
        box = flood_fill(self._sketch, x, y, self._current)
        if box is not None:
            self._refresh_sketch(box)
            self._commit("sketch", before, box, f"Fill {self._display(self._current)}")

    def _pick(self, pos: QPointF) -> None:
        x, y = math.floor(pos.x()), math.floor(pos.y())
        if 0 <= x < self._size and 0 <= y < self._size:
            index = int(self._sketch[y, x])
            self.current_class = index
            self.class_picked.emit(index)

    def _display(self, index: int) -> str:
        return next((c.display for c in self._classes if int(c.index) == index), str(index))

    def _notify(self, layer: str) -> None:
        """Throttle live updates: emit now if idle, else once when the 40 ms window closes."""
        if self._throttle.isActive():
            self._pending.add(layer)
            return
        self._emit_changed(layer)
        self._throttle.start()

    def _flush(self) -> None:
        pending, self._pending = self._pending, set()
        for layer in sorted(pending):
            self._emit_changed(layer)
        if pending:
            self._throttle.start()

    def _emit_changed(self, layer: str) -> None:
        self.sketch_changed.emit() if layer == "sketch" else self.mask_changed.emit()

    def _replace(self, sketch: np.ndarray, mask: np.ndarray) -> None:
        """New arrays (resize or load): older undo commands no longer apply."""
        self._sketch = np.ascontiguousarray(sketch, dtype=np.uint8).copy()
        self._mask = np.ascontiguousarray(mask, dtype=np.float32).copy()
        self._sketch_rgba = np.zeros((self._size, self._size, 4), np.uint8)
        self._mask_rgba = np.zeros((self._size, self._size, 4), np.uint8)
        self._token = uuid.uuid4().hex
        self._refresh_sketch(None)
        self._refresh_mask(None)

    def _refresh_sketch(self, box: Box | None) -> None:
        y0, y1, x0, x1 = box if box is not None else (0, self._size, 0, self._size)
        self._sketch_rgba[y0:y1, x0:x1] = self._lut[self._sketch[y0:y1, x0:x1]]
        self.update()

    def _refresh_mask(self, box: Box | None) -> None:
        y0, y1, x0, x1 = box if box is not None else (0, self._size, 0, self._size)
        alpha = self._mask[y0:y1, x0:x1] * MASK_ALPHA  # premultiplied red tint
        region = self._mask_rgba[y0:y1, x0:x1]
        for channel, value in enumerate(MASK_TINT):
            region[..., channel] = np.rint(alpha * value).astype(np.uint8)
        region[..., 3] = np.rint(alpha * 255).astype(np.uint8)
        self.update()

    # --- events -----------------------------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt override)
        pos = event.position()
        if event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        ):
            self._pan_from = (pos, QPointF(self._offset))
            self._update_cursor()
        elif event.button() == Qt.MouseButton.LeftButton:
            self._press(pos, 1.0, alt=bool(event.modifiers() & Qt.KeyboardModifier.AltModifier))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        self._hover = pos
        if self._pan_from is not None:
            start, offset = self._pan_from
            self._offset = offset + (pos - start)
            self._fitting = False
        elif self._stroke is not None:
            self._continue_stroke(self.canvas_pos(pos), self._stroke.pressure)
        self.update()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self._update_cursor()
        elif event.button() == Qt.MouseButton.LeftButton and self._stroke is not None:
            self._continue_stroke(self.canvas_pos(event.position()), self._stroke.pressure)
            self._end_stroke()
        event.accept()

    def tabletEvent(self, event: QTabletEvent) -> None:  # noqa: N802
        """Pen pressure scales the brush; accepting the event stops Qt from synthesising mouse events."""
        pos, pressure = event.position(), max(0.05, float(event.pressure()))
        kind = event.type()
        self._hover = pos
        if kind == QTabletEvent.Type.TabletPress and event.button() == Qt.MouseButton.LeftButton:
            if self._space:
                self._pan_from = (pos, QPointF(self._offset))
            else:
                self._press(pos, pressure, alt=bool(event.modifiers() & Qt.KeyboardModifier.AltModifier))
        elif kind == QTabletEvent.Type.TabletMove:
            if self._pan_from is not None:
                start, offset = self._pan_from
                self._offset = offset + (pos - start)
                self._fitting = False
            elif self._stroke is not None:
                self._continue_stroke(self.canvas_pos(pos), pressure)
        elif kind == QTabletEvent.Type.TabletRelease:
            if self._pan_from is not None:
                self._pan_from = None
            elif self._stroke is not None:
                self._continue_stroke(self.canvas_pos(pos), pressure)
                self._end_stroke()
        self.update()
        event.accept()

    def _press(self, widget_pos: QPointF, pressure: float, alt: bool) -> None:
        pos = self.canvas_pos(widget_pos)
        if alt or self._tool == Tool.EYEDROPPER:  # Alt+click: eyedropper with any tool
            self._pick(pos)
        elif self._tool == Tool.FILL:
            self._fill(pos)
        else:
            self._end_stroke()
            self._begin_stroke(pos, pressure)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        delta = event.angleDelta()
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = delta.y() / 120
            if steps:
                self.zoom_by(1.25**steps, event.position())
        else:
            pixels = event.pixelDelta()
            if pixels.isNull():
                self.pan_by(delta.x() / 2, delta.y() / 2)
            else:
                self.pan_by(pixels.x(), pixels.y())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key, mods = event.key(), event.modifiers()
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        tools = {
            Qt.Key.Key_B: Tool.BRUSH,
            Qt.Key.Key_E: Tool.ERASER,
            Qt.Key.Key_G: Tool.FILL,
            Qt.Key.Key_I: Tool.EYEDROPPER,
        }
        step = max(1, self._brush_size // 8)
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self._update_cursor()
        elif key == Qt.Key.Key_BracketLeft:
            self.brush_size = self._brush_size - step
        elif key == Qt.Key.Key_BracketRight:
            self.brush_size = self._brush_size + step
        elif key == Qt.Key.Key_M and not ctrl:
            self.tool = Tool.MASK_ERASER if shift else Tool.MASK
        elif key in tools and not ctrl and not shift:
            self.tool = tools[key]
        elif key == Qt.Key.Key_O and not ctrl:
            self.overlay_visible = not self._overlay_visible
        elif key == Qt.Key.Key_0 and ctrl:
            self.fit()
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_by(1.25, self._hover)
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_by(0.8, self._hover)
        elif Qt.Key.Key_0 <= key <= Qt.Key.Key_9 and not ctrl:
            self.pick_palette_entry(int(key) - int(Qt.Key.Key_0))
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._update_cursor()
            event.accept()
        else:
            super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        self._space = False  # the Space release may go to another widget
        self._update_cursor()
        super().focusOutEvent(event)

    def leaveEvent(self, event) -> None:  # noqa: N802
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._fitting:
            self.fit()

    def event(self, event) -> bool:
        if isinstance(event, QHelpEvent) and self.canvas_rect().contains(QPointF(event.pos())):
            event.ignore()  # no help popping up over the picture while the artist aims a stroke
            return True
        return super().event(event)

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            self.setCursor(QCursor(Qt.CursorShape.ClosedHandCursor))
        elif self._space:
            self.setCursor(QCursor(Qt.CursorShape.OpenHandCursor))
        else:
            self.setCursor(QCursor(Qt.CursorShape.CrossCursor))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        pal = self.palette()
        painter.fillRect(self.rect(), pal.color(QPalette.ColorRole.Window))
        target = self.canvas_rect()
        painter.fillRect(target, pal.color(QPalette.ColorRole.Base))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._image)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)  # crisp class pixels
        fmt, n = QImage.Format.Format_RGBA8888_Premultiplied, self._size
        if self._overlay_visible and self._opacity > 0:
            painter.setOpacity(self._opacity)
            painter.drawImage(target, QImage(self._sketch_rgba.data, n, n, 4 * n, fmt))
            painter.setOpacity(1.0)
        painter.drawImage(target, QImage(self._mask_rgba.data, n, n, 4 * n, fmt))
        painter.setPen(QPen(pal.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(target)
        if (
            self._hover is not None
            and self._tool in STROKE_TOOLS
            and self._pan_from is None
            and not self._space
        ):
            radius = self._brush_size / 2 * self._scale
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            for color, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255, 220), 1)):
                painter.setPen(QPen(color, width))  # dark halo + light line: visible on any picture
                painter.drawEllipse(self._hover, radius, radius)
        painter.end()


def _check_size(size: int) -> None:
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"canvas size must be an integer in {MIN_SIZE}..{MAX_SIZE}, got {size!r}")
