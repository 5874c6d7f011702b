"""The sampler's controls: one labelled slider per stage, in the order the stages act.

Used by the main window and by each side of the A/B window. A stage is one row of STAGES: the
SamplerSettings field it sets, its range, its "off" value and its tooltip. Adding a stage (issue 23's
min-p, typical-p, ...) is adding its field to SamplerSettings and its row here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QWidget
from superqt import QLabeledDoubleSlider, QLabeledSlider

from arplayground.core.sampling import GUIDANCE_MAX, TEMPERATURE_MAX, SamplerSettings

GUIDANCE_TIP = (
    "Classifier-free guidance: the model's logits with the digit, pushed away from its logits "
    "without it (\"any digit\") by this factor, before temperature, top-k and top-p. "
    "1 = off (the model's own distribution), 0 = ignore the digit, above 1 = lean harder on it. "
    "No effect when the digit is \"any\"."
)
NO_GUIDANCE_TIP = "Guidance needs a condition (a digit): this model has none."


@dataclass(frozen=True)
class Stage:
    key: str  # the SamplerSettings field it sets
    label: str
    low: float
    high: float  # top-k's follows the model's vocabulary (set_vocabulary_size)
    off: float  # the value that leaves the distribution as it is: the slider's start, and what a disabled stage reads
    tip: str = ""
    decimals: int | None = 2  # None: a whole number
    step: float = 0.05
    if_nan: float | None = None  # what a NaN from the command line becomes; None: the top of the range


STAGES = (
    Stage("temperature", "Temperature", 0.0, TEMPERATURE_MAX, 1.0, "0 = greedy (always the most likely value)"),
    Stage("top_k", "Top-k", 0, 65, 0, "Keep the k most likely values; 0 = off", decimals=None),
    Stage("top_p", "Top-p", 0.0, 1.0, 1.0, "Keep the smallest set of values whose probability reaches p; 1 = off",
          step=0.01),
    Stage("guidance", "Guidance", 0.0, GUIDANCE_MAX, 1.0, NO_GUIDANCE_TIP, if_nan=1.0),  # as SamplerSettings.clamped
)


class SamplerControls(QWidget):
    """settings() / set_settings(); `changed` on every move of a slider. The sliders clamp what they
    are given into their ranges; the note under them says where a value had to be clamped."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setVerticalSpacing(10)
        self.sliders: dict[str, QLabeledSlider | QLabeledDoubleSlider] = {}
        for stage in STAGES:
            self.sliders[stage.key] = slider = self._slider(stage)
            slider.valueChanged.connect(self.changed)
            self.form.addRow(stage.label, slider)
            setattr(self, stage.key, slider)  # w.sampler.temperature, ...
        self.note = QLabel()
        self.note.setObjectName("settingsNote")
        self.note.setStyleSheet("color: #8a5a00;")
        self.note.setWordWrap(True)
        self.note.hide()
        self.form.addRow(self.note)

    @staticmethod
    def _slider(stage: Stage):
        if stage.decimals is None:
            slider = QLabeledSlider(Qt.Orientation.Horizontal)
        else:
            slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
            slider.setDecimals(stage.decimals)
            slider.setSingleStep(stage.step)
        slider.setRange(stage.low, stage.high)
        slider.setValue(stage.off)
        slider.setToolTip(stage.tip)
        return slider

    def settings(self) -> SamplerSettings:
        """The settings the sliders show; a disabled stage (guidance without a digit) is off."""
        values = {}
        for stage in STAGES:
            slider = self.sliders[stage.key]
            value = slider.value() if slider.isEnabled() else stage.off
            values[stage.key] = int(value) if stage.decimals is None else round(float(value), 4)
        return SamplerSettings(**values)

    def set_settings(self, settings: SamplerSettings) -> None:
        """Set the sliders to these settings (a trace's, a run's), as if the user had moved them."""
        for stage in STAGES:
            self.sliders[stage.key].setValue(getattr(settings, stage.key))

    def set_vocabulary_size(self, size: int) -> None:
        """Top-k reaches as far as the model's vocabulary; a k beyond it is clamped, and the note says so."""
        if self.top_k.value() > size:
            self.show_note(f"top-k {self.top_k.value()} is more than the vocabulary: using {size}")
        self.top_k.setRange(0, size)

    def set_guidable(self, guidable: bool, hide: bool = False) -> None:
        """Guidance needs a condition to lean on: the digit (image, audio); the text model has none.
        Without one the slider keeps its place but acts on nothing; `hide` takes its row away too."""
        self.guidance.setEnabled(guidable)
        self.guidance.setToolTip(GUIDANCE_TIP if guidable else NO_GUIDANCE_TIP)
        if hide:
            self.form.setRowVisible(self.guidance, guidable)

    def apply(self, values: dict) -> list[str]:
        """Set the stages named in `values` (from the command line), each clamped into its range;
        a note for each value that had to be clamped."""
        notes = []
        for stage in STAGES:
            value = values.get(stage.key)
            if value is None:
                continue
            slider = self.sliders[stage.key]
            low, high = slider.minimum(), slider.maximum()
            if isinstance(value, float) and not math.isfinite(value):
                value = high if stage.if_nan is None else stage.if_nan
            clamped = min(max(value, low), high)
            if clamped != value:
                notes.append(f"{stage.key.replace('_', '-')} {value:g} is out of range: using {clamped:g}")
            slider.setValue(clamped)
        return notes

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.show()
