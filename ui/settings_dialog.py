"""Settings dialog: model, device, output size, variation count and PNG metadata privacy."""

from __future__ import annotations

import dataclasses

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledSlider

from ui.accessibility import name_parts
from ui.settings import DEVICES, MAX_COUNT, MIN_COUNT, SIZES, Settings

DIALOG_WIDTH = 520


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, models: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._base = settings
        self.model = QComboBox()
        self.model.addItem("Default (sharpest installed)", "")
        for name in models:
            self.model.addItem(name, name)
        self.model.setCurrentIndex(max(0, self.model.findData(settings.model)))
        self.model.setToolTip(
            "Generator used for new images; existing nodes keep the model they were made with"
        )
        self.device = QComboBox()
        for d, label in zip(DEVICES, ("Auto (GPU when available)", "CPU", "CUDA GPU"), strict=True):
            self.device.addItem(label, d)
        self.device.setCurrentIndex(self.device.findData(settings.device))
        self.device.setToolTip(
            "Where images are computed; if the GPU fails the app falls back to the CPU and says so"
        )
        self.size = QComboBox()
        for s in SIZES:
            self.size.addItem(f"{s} × {s} px", s)
        self.size.setCurrentIndex(self.size.findData(settings.size))
        self.size.setToolTip("Output size of new images; sizes above the model's own use its upscaler")
        self.count = QLabeledSlider(Qt.Orientation.Horizontal)
        self.count.setRange(MIN_COUNT, MAX_COUNT)
        self.count.setValue(settings.count)
        self.count.setToolTip("How many variations each generation makes (consecutive seeds)")
        self.layout_check = QCheckBox("Imagine a layout for text prompts")
        self.layout_check.setChecked(settings.imagine_layout)
        self.layout_check.setToolTip(
            "Text-only prompts first get a scene layout (sky, mountains, water…) that fits the words, "
            "chosen by the seed; the picture follows it and the Paint tab shows it for repainting. "
            "Off: the generator invents the structure itself (blurrier)."
        )
        self.match_check = QCheckBox("Show how well each result matches its prompt")
        self.match_check.setChecked(settings.show_match)
        self.match_check.setToolTip(
            "Each result is captioned in the background and gets a score in its corner: green when "
            "the caption names everything the prompt asked for (time, weather, season, lake, forest…), "
            "amber for half or more, red below. Its tooltip says what the picture shows."
        )
        self.privacy = QCheckBox("Strip the recipe from exported PNGs")
        self.privacy.setChecked(settings.privacy)
        self.privacy.setToolTip("Privacy: exported PNGs carry no prompt, seed or model")
        explain = QLabel(
            "Exported PNGs normally carry their recipe (prompt, seed, model) in a text chunk, so dropping "
            "them back into the app restores how they were made. Turn this on when you share images and "
            "do not want your prompts to travel with them."
        )
        explain.setWordWrap(True)
        explain.setObjectName("muted")
        form = QFormLayout()
        form.addRow("Model", self.model)
        form.addRow("Device", self.device)
        form.addRow("Output size", self.size)
        form.addRow("Variations", self.count)
        form.addRow("Layout", self.layout_check)
        form.addRow("Prompt match", self.match_check)
        form.addRow("PNG metadata", self.privacy)
        form.addRow("", explain)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setToolTip("Save the settings (Enter)")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setToolTip(
            "Keep the settings as they were (Esc)"
        )
        for widget, name in (
            (self.model, "Model"),
            (self.device, "Device"),
            (self.size, "Output size"),
            (self.count, "Variations per generation"),
        ):
            widget.setAccessibleName(name)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        name_parts(self)  # after the layout: the form's widgets are the dialog's children only now
        # tall enough for the wrapped explanation at this width (a plain resize cut it mid-sentence)
        self.resize(DIALOG_WIDTH, max(self.sizeHint().height(), self.heightForWidth(DIALOG_WIDTH)))

    def result_settings(self) -> Settings:
        """A copy of the settings with the dialog's choices applied."""
        return dataclasses.replace(
            self._base,
            model=self.model.currentData(),
            device=self.device.currentData(),
            size=self.size.currentData(),
            count=self.count.value(),
            privacy=self.privacy.isChecked(),
            imagine_layout=self.layout_check.isChecked(),
            show_match=self.match_check.isChecked(),
        )
