"""The Variations panel: vary around a node, browse seeds, interpolate, breed, and discovered controls.

The panel only holds widgets and says what the artist asked for (signals); VariationsController
does the work with the worker and the project.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QImage, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QElidingLabel, QLabeledDoubleSlider

from studio.variations import MAX_PARENTS, Direction
from ui.accessibility import name_parts
from ui.scroll import scroll_body
from ui.theme import set_tooltip_deep

STRIP_THUMB = 56
DIRECTION_RANGE = 3.0


def _button(text: str, tip: str, name: str | None = None) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    button.setAccessibleName(name or text)
    return button


class VariationsPanel(QWidget):
    vary_requested = Signal()
    seed_step = Signal(int)  # -1 or +1: preview the node with a neighbouring seed
    seed_keep_requested = Signal()
    set_a_requested = Signal()
    interpolate_requested = Signal()
    frame_picked = Signal(int)
    keep_frame_requested = Signal()
    add_to_mix_requested = Signal()
    mix_cleared = Signal()
    breed_requested = Signal()
    directions_wanted = Signal()  # the first time the panel is shown
    direction_moved = Signal()
    keep_direction_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Variations")
        self._asked_directions = False
        self._direction_sliders: dict[str, QLabeledDoubleSlider] = {}
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.addWidget(self._build_vary())
        layout.addWidget(self._build_seeds())
        layout.addWidget(self._build_interpolate())
        layout.addWidget(self._build_breed())
        layout.addWidget(self._build_directions())
        layout.addStretch(1)
        scroll_body(self, inner)

    # --- construction ---------------------------------------------------------------------------
    def _build_vary(self) -> QGroupBox:
        box = QGroupBox("Vary")
        form = QFormLayout(box)
        self.strength = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
        self.strength.setRange(0.0, 1.0)
        self.strength.setValue(0.3)
        self.strength.setAccessibleName("Variation strength")
        set_tooltip_deep(
            self.strength, "How far the children wander from the selected image (0 = same, 1 = new)"
        )
        self.count = QSpinBox()
        self.count.setRange(1, 16)
        self.count.setValue(4)
        self.count.setAccessibleName("Number of variations")
        self.count.setToolTip("How many children to make")
        self.vary_button = _button(
            "Vary", "Make jittered children of the selected image", "Vary selected image"
        )
        self.vary_button.clicked.connect(self.vary_requested)
        form.addRow("Strength", self.strength)
        form.addRow("Count", self.count)
        form.addRow(self.vary_button)
        return box

    def _build_seeds(self) -> QGroupBox:
        box = QGroupBox("Seeds")
        row = QHBoxLayout(box)
        self.prev_seed = _button("◀", "Preview the selected image with the previous seed", "Previous seed")
        self.next_seed = _button("▶", "Preview the selected image with the next seed", "Next seed")
        self.seed_label = QLabel("seed —")
        self.seed_label.setAccessibleName("Previewed seed")
        self.keep_seed = _button("Keep", "Store the previewed seed as a node", "Keep previewed seed")
        self.keep_seed.setEnabled(False)
        self.prev_seed.clicked.connect(lambda: self.seed_step.emit(-1))
        self.next_seed.clicked.connect(lambda: self.seed_step.emit(1))
        self.keep_seed.clicked.connect(self.seed_keep_requested)
        for widget in (self.prev_seed, self.seed_label, self.next_seed, self.keep_seed):
            row.addWidget(widget)
        return box

    def _build_interpolate(self) -> QGroupBox:
        box = QGroupBox("Interpolate")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.set_a_button = _button(
            "Set A", "Remember the selected image as one end", "Set interpolation start"
        )
        self.a_label = QElidingLabel("A: —")
        self.a_label.setAccessibleName("Interpolation start")
        row.addWidget(self.set_a_button)
        row.addWidget(self.a_label, 1)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.frames = QSpinBox()
        self.frames.setRange(2, 16)
        self.frames.setValue(7)
        self.frames.setAccessibleName("Number of frames")
        self.frames.setToolTip("Frames in the strip, both ends included")
        self.interpolate_button = _button(
            "Interpolate A → current", "Render a strip of frames from A to the selected image"
        )
        row.addWidget(self.frames)
        row.addWidget(self.interpolate_button, 1)
        layout.addLayout(row)
        self.strip = QListWidget()
        self.strip.setViewMode(QListView.ViewMode.IconMode)
        self.strip.setFlow(QListView.Flow.LeftToRight)
        self.strip.setWrapping(False)
        self.strip.setMovement(QListView.Movement.Static)
        self.strip.setIconSize(QSize(STRIP_THUMB, STRIP_THUMB))
        self.strip.setFixedHeight(STRIP_THUMB + 48)  # icon, its number and the horizontal scroll bar
        self.strip.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.strip.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.strip.setAccessibleName("Interpolation frames")
        self.strip.setToolTip("The frames from A to the selected image; click one to see it")
        self.frame_slider = QSlider(Qt.Orientation.Horizontal)
        self.frame_slider.setRange(0, 0)
        self.frame_slider.setAccessibleName("Interpolation frame")
        self.frame_slider.setToolTip("Pick a frame of the strip")
        self.keep_frame_button = _button(
            "Keep frame", "Store the picked frame as a node with both ends as parents"
        )
        self.keep_frame_button.setEnabled(False)
        layout.addWidget(self.strip)
        layout.addWidget(self.frame_slider)
        layout.addWidget(self.keep_frame_button)
        self.set_a_button.clicked.connect(self.set_a_requested)
        self.interpolate_button.clicked.connect(self.interpolate_requested)
        self.keep_frame_button.clicked.connect(self.keep_frame_requested)
        self.frame_slider.valueChanged.connect(self._frame_from_slider)
        self.strip.currentRowChanged.connect(self._frame_from_strip)
        return box

    def _build_breed(self) -> QGroupBox:
        box = QGroupBox("Breed")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.add_mix_button = _button(
            "Add to mix",
            f"Add the selected image to the parents (up to {MAX_PARENTS})",
            "Add to breeding mix",
        )
        self.clear_mix_button = _button("Clear", "Empty the breeding mix", "Clear breeding mix")
        row.addWidget(self.add_mix_button)
        row.addWidget(self.clear_mix_button)
        layout.addLayout(row)
        self.mix_rows = QVBoxLayout()
        layout.addLayout(self.mix_rows)
        self.breed_button = _button(
            "Breed", "Mix the parents' latents and prompts into one child", "Breed mix"
        )
        self.breed_button.setEnabled(False)
        layout.addWidget(self.breed_button)
        self._weights: list[QSlider] = []
        self.add_mix_button.clicked.connect(self.add_to_mix_requested)
        self.clear_mix_button.clicked.connect(self.mix_cleared)
        self.breed_button.clicked.connect(self.breed_requested)
        return box

    def _build_directions(self) -> QGroupBox:
        box = QGroupBox("Discovered controls")
        layout = QVBoxLayout(box)
        self.directions_note = QLabel("Shown once the controls are computed from the model.")
        self.directions_note.setWordWrap(True)
        self.directions_note.setAccessibleName("Discovered controls status")
        self.directions_form = QFormLayout()
        row = QHBoxLayout()
        self.reset_directions_button = _button("Reset", "Put every control back to 0", "Reset controls")
        self.keep_direction_button = _button("Keep", "Store the moved picture as a node", "Keep controls")
        self.keep_direction_button.setEnabled(False)
        row.addWidget(self.reset_directions_button)
        row.addWidget(self.keep_direction_button)
        layout.addWidget(self.directions_note)
        layout.addLayout(self.directions_form)
        layout.addLayout(row)
        self.reset_directions_button.clicked.connect(self.reset_directions)
        self.keep_direction_button.clicked.connect(self.keep_direction_requested)
        return box

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 (Qt override)
        super().showEvent(event)
        if not self._asked_directions:
            self._asked_directions = True
            self.directions_wanted.emit()

    # --- state the controller reads -------------------------------------------------------------
    def variation_strength(self) -> float:
        return float(self.strength.value())

    def variation_count(self) -> int:
        return int(self.count.value())

    def frame_count(self) -> int:
        return int(self.frames.value())

    def current_frame(self) -> int:
        return int(self.frame_slider.value())

    def mix_weights(self) -> list[float]:
        return [slider.value() / 100.0 for slider in self._weights]

    def amounts(self) -> dict[str, float]:
        return {name: float(s.value()) for name, s in self._direction_sliders.items() if s.value() != 0}

    # --- what the controller shows --------------------------------------------------------------
    def set_seed(self, seed: int | None) -> None:
        self.seed_label.setText("seed —" if seed is None else f"seed {seed}")
        self.keep_seed.setEnabled(seed is not None)

    def set_a(self, text: str) -> None:
        self.a_label.setText(f"A: {text}")

    def set_frames(self, images: Sequence[QImage]) -> None:
        self.strip.clear()
        for i, image in enumerate(images):
            pix = QPixmap.fromImage(image).scaled(
                STRIP_THUMB,
                STRIP_THUMB,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            item = QListWidgetItem(QIcon(pix), str(i + 1))
            item.setToolTip(f"Frame {i + 1} of {len(images)}")
            self.strip.addItem(item)
        self.frame_slider.blockSignals(True)
        self.frame_slider.setRange(0, max(0, len(images) - 1))
        self.frame_slider.setValue(0)
        self.frame_slider.blockSignals(False)
        self.keep_frame_button.setEnabled(bool(images))
        if images:
            self.strip.setCurrentRow(0)

    def pick_frame(self, index: int) -> None:
        self.frame_slider.setValue(index)

    def set_mix(self, labels: Sequence[str]) -> None:
        """One row per parent: its label and a weight slider (weights keep their values)."""
        old = self.mix_weights()
        while self.mix_rows.count():
            item = self.mix_rows.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self._weights = []
        for i, label in enumerate(labels):
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            name = QElidingLabel(label)
            slider = QSlider(Qt.Orientation.Horizontal)
            slider.setRange(1, 100)
            slider.setValue(round(old[i] * 100) if i < len(old) else 50)
            slider.setAccessibleName(f"Weight of parent {i + 1}")
            slider.setToolTip(f"How much of {label} the child gets")
            line.addWidget(name, 1)
            line.addWidget(slider, 1)
            self.mix_rows.addWidget(row)
            self._weights.append(slider)
        self.breed_button.setEnabled(len(labels) >= 2)
        self.add_mix_button.setEnabled(len(labels) < MAX_PARENTS)

    def set_directions_note(self, text: str) -> None:
        self.directions_note.setText(text)

    def set_directions(self, directions: Sequence[Direction]) -> None:
        while self.directions_form.rowCount():
            self.directions_form.removeRow(0)
        self._direction_sliders = {}
        for d in directions:
            slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setRange(-DIRECTION_RANGE, DIRECTION_RANGE)
            slider.setValue(0.0)
            slider.setAccessibleName(f"Control {d.name}")
            set_tooltip_deep(slider, f"{d.name}: {d.changes} ({d.variance:.0%} of the model's variety)")
            slider.valueChanged.connect(self._direction_changed)
            self.directions_form.addRow(d.name, slider)
            self._direction_sliders[d.name] = slider
        name_parts(self)  # the sliders arrive after the window named its parts
        self.directions_note.setText(
            "Drag a control to move the selected picture along it."
            if directions
            else "No controls were found."
        )

    def direction_slider(self, name: str) -> QLabeledDoubleSlider:
        return self._direction_sliders[name]

    def reset_directions(self) -> None:
        for slider in self._direction_sliders.values():
            slider.blockSignals(True)
            slider.setValue(0.0)
            slider.blockSignals(False)
        self.keep_direction_button.setEnabled(False)

    # --- internals ------------------------------------------------------------------------------
    def _direction_changed(self) -> None:
        self.keep_direction_button.setEnabled(bool(self.amounts()))
        self.direction_moved.emit()

    def _frame_from_slider(self, index: int) -> None:
        if self.strip.currentRow() != index:
            self.strip.setCurrentRow(index)
        self.frame_picked.emit(index)

    def _frame_from_strip(self, row: int) -> None:
        if row >= 0 and self.frame_slider.value() != row:
            self.frame_slider.setValue(row)
