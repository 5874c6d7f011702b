"""The sampler's controls: one labelled slider per stage, and the order the stages act in.

Used by the main window and by each side of the A/B window. A stage is one row of STAGES: the
SamplerSettings field it sets, its range, its "off" value and its tooltip. Adding a stage is adding
its field to SamplerSettings and its row here. The four long-standing ones are always on show; the
chain's newer stages and the order list (drag to reorder, as llama.cpp's sampler order) sit in a
section that "More stages" opens, so the side column keeps its height for those who do not need them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QFormLayout, QListWidget, QListWidgetItem, QToolButton, QVBoxLayout, QWidget
from superqt import QLabeledDoubleSlider, QLabeledSlider

from arplayground.core import sampling
from arplayground.core.sampling import (GUIDANCE_MAX, PENALTY_MAX, TEMPERATURE_MAX, TOP_N_SIGMA_MAX, WINDOW_MAX,
                                        SamplerSettings)
from arplayground.gui.note_line import NoteLine

GUIDANCE_TIP = (
    "Guidance: how hard each step leans on the digit you asked for. At 1 it is off: the model draws "
    "from what it learned. Above 1 every step is pushed further towards the digit and away from what "
    "the model would draw for \"any digit\" (classifier-free guidance, before temperature, top-k and "
    "top-p); 0 ignores the digit. A guided step runs the network twice. No effect when the digit is \"any\"."
)
NO_GUIDANCE_TIP = "Guidance needs a condition (a digit): this model has none."
PENALTY_TIP = ("Each value seen in the last `window` values is made this many times less likely "
               "(its probability divided by it). 1 = off. Text only.")
NO_PENALTY_TIP = ("Text only: the repetition penalty needs the values drawn before each step, which the "
                  "compiled image and audio runs do not keep; this model draws without it.")
ORDER_TIP = ("The order the stages act in, first at the top: drag a stage to move it. Stages that are off "
             "are greyed (they pass the distribution on unchanged). Guidance always comes first.")


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
    more: bool = False  # in the "More stages" section


STAGES = (
    Stage("temperature", "Temperature", 0.0, TEMPERATURE_MAX, 1.0, "0 = greedy (always the most likely value)"),
    Stage("top_k", "Top-k", 0, 65, 0, "Keep the k most likely values; 0 = off", decimals=None),
    Stage("top_p", "Top-p", 0.0, 1.0, 1.0, "Keep the smallest set of values whose probability reaches p; 1 = off",
          step=0.01),
    Stage("guidance", "Guidance", 0.0, GUIDANCE_MAX, 1.0, NO_GUIDANCE_TIP, if_nan=1.0),  # as SamplerSettings.clamped
    # The newer stages: a non-finite value from the command line turns the stage off, as SamplerSettings.clamped.
    Stage("min_p", "Min-p", 0.0, 1.0, 0.0, "Keep the values at least min-p times as likely as the most likely; 0 = off",
          step=0.01, if_nan=0.0, more=True),
    Stage("typical_p", "Typical-p", 0.0, 1.0, 1.0, "Locally typical sampling: keep the values whose surprisal is "
          "nearest the entropy until their probability reaches p (may drop the most likely); 1 = off",
          step=0.01, if_nan=1.0, more=True),
    Stage("top_n_sigma", "Top-n-sigma", 0.0, TOP_N_SIGMA_MAX, 0.0, "Keep the values whose logit is within n "
          "standard deviations of the highest; 0 = off", if_nan=0.0, more=True),
    Stage("repetition_penalty", "Repetition", 1.0, PENALTY_MAX, 1.0, PENALTY_TIP, if_nan=1.0, more=True),
    Stage("penalty_window", "Window", 1, WINDOW_MAX, sampling.DEFAULT_WINDOW,
          "How many values back the repetition penalty looks. Text only.", decimals=None, more=True),
)
PENALTY_KEYS = ("repetition_penalty", "penalty_window")  # text only (set_penalisable)

# Each mode's starting sampler, and what "reset to defaults" returns to (default_settings): every
# stage off, except guidance where the project's benchmarks measured which value reads best
# (docs/benchmarks.md, "What the models generate"); the slider's tooltip gives those figures.
MODE_GUIDANCE = {"image": 2.0, "audio": 1.5}
MEASURED_GUIDANCE = {
    "image": "Measured: guidance 2: 97 of 100 generated digits read as the asked digit by the project's "
             "classifier, against 86 at 1 (93 at 1.5, 89 at 3) (benchmarks/image_digits.py).",
    "audio": "Measured: guidance 1.5: 51 of 60 generated clips heard as the asked digit by the project's listener, "
             "against 45 at 1 (47 and 44 by its hiss-tolerant listener), and as loud as real recordings: median "
             "RMS 0.056 against 0.026 at 1 (real clips 0.049); at 2 the clips grow louder and read no better "
             "(benchmarks/audio_digits.py).",
}


def default_settings(mode: str) -> SamplerSettings:
    """The sampler `mode` starts with: text every stage off, image and audio their measured guidance."""
    return SamplerSettings(guidance=MODE_GUIDANCE.get(mode, 1.0))


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
        self.penalisable, self._hide_penalty = True, False
        self._rebuilding = False  # set_order() at work: its removals are not a drop
        self.mode: str | None = None  # set_mode(): whose guidance the slider shows
        self._guidance_of: dict[str, float] = {}  # each mode's guidance, kept while another mode is shown
        self._guidance_tip = GUIDANCE_TIP
        self.more_button = QToolButton()
        self.more_button.setCheckable(True)
        self.more_button.setText("More stages: min-p, typical-p, top-n-sigma, repetition, order")
        self.more_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.more_button.setArrowType(Qt.ArrowType.RightArrow)
        self.more_button.setAutoRaise(True)
        self.more_button.toggled.connect(self.show_more)
        for stage in STAGES:
            if stage.more and self.more_button.parent() is None:
                self.form.addRow(self.more_button)
            self.sliders[stage.key] = slider = self._slider(stage)
            slider.valueChanged.connect(self.changed)
            slider.valueChanged.connect(self._grey_off_stages)
            self.form.addRow(stage.label, slider)
            setattr(self, stage.key, slider)  # w.sampler.temperature, ...
        self.order_list = QListWidget()
        self.order_list.setObjectName("samplerOrder")
        self.order_list.setToolTip(ORDER_TIP)
        self.order_list.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.order_list.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.order_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        for name in sampling.DEFAULT_ORDER:
            item = QListWidgetItem(sampling.STAGE_LABELS[name])
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.order_list.addItem(item)
        rows = len(sampling.STAGES)
        self.order_list.setFixedHeight(rows * self.order_list.sizeHintForRow(0) + 2 * self.order_list.frameWidth() + 2)
        # A drop moves a row (rowsMoved); should a style drop by copying the row and removing the
        # old one, the list is whole again only after the removal: that is when it is announced.
        for moved in (self.order_list.model().rowsMoved, self.order_list.model().rowsRemoved):
            moved.connect(self._order_moved)
        self.form.addRow("Order", self.order_list)
        self.note = NoteLine()
        self.note.setObjectName("settingsNote")
        self.note.hide()  # until a value is clamped; its room is kept, so showing it moves nothing
        room = QWidget()
        room.setFixedHeight(self.note.height())
        QVBoxLayout(room).addWidget(self.note)
        room.layout().setContentsMargins(0, 0, 0, 0)
        self.form.addRow(room)
        self._grey_off_stages()
        self.show_more(False)

    def show_more(self, shown: bool) -> None:
        """Open or close the section of the newer stages and the order (what they are set to
        applies either way; the button's text says which are on while it is closed)."""
        if self.more_button.isChecked() != shown:
            self.more_button.setChecked(shown)  # toggled comes back here
            return
        self.more_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        for stage in STAGES:
            if stage.more:
                visible = shown and (self.penalisable or stage.key not in PENALTY_KEYS or not self._hide_penalty)
                self.form.setRowVisible(self.sliders[stage.key], visible)
        self.form.setRowVisible(self.order_list, shown)

    def order(self) -> tuple:
        """The stages in the order the list shows them, first at the top."""
        return tuple(self.order_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.order_list.count()))

    def set_order(self, order) -> None:
        """Put the list in this order (a trace's, the command line's); not a permutation of the
        stages: the default order."""
        order = sampling.valid_order(order) or sampling.DEFAULT_ORDER
        if order == self.order():
            return
        items = {}
        self._rebuilding = True
        while self.order_list.count():
            item = self.order_list.takeItem(0)
            items[item.data(Qt.ItemDataRole.UserRole)] = item
        for name in order:
            self.order_list.addItem(items[name])
        self._rebuilding = False
        self._grey_off_stages()
        self.changed.emit()

    def _order_moved(self, *_) -> None:
        if self._rebuilding or sampling.valid_order(self.order()) is None:
            return  # set_order() taking the items out and back, or a drop half done
        self._grey_off_stages()
        self.changed.emit()

    def move_stage(self, name: str, row: int) -> None:
        """Move one stage to `row` of the list, as a drag does (for the keyboard and tests)."""
        order = [s for s in self.order() if s != name]
        order.insert(max(0, min(row, len(order))), name)
        self.set_order(order)

    def _grey_off_stages(self, *_) -> None:
        """Stages that are off with the current sliders are greyed in the order list; the closed
        section's button names the newer stages that are on."""
        settings = self.settings()
        for i in range(self.order_list.count()):
            item = self.order_list.item(i)
            name = item.data(Qt.ItemDataRole.UserRole)
            active = settings.active(name, 2**31 - 1)
            if name == "penalties" and not self.penalisable:
                active = False
            item.setForeground(Qt.GlobalColor.black if active else Qt.GlobalColor.gray)
            item.setText(sampling.STAGE_LABELS[name] + ("" if active or name == "temperature" else "  (off)"))
        short = {"min_p": "min-p", "typical_p": "typical-p", "top_n_sigma": "top-nσ", "penalties": "repetition"}
        on = [short[s] for s in short if settings.active(s, 2**31 - 1) and (s != "penalties" or self.penalisable)]
        reordered = settings.order != sampling.DEFAULT_ORDER
        summary = ", ".join(on) + (" · reordered" if reordered else "")
        self.more_button.setText("More stages" + (f" ({summary})" if summary else ": min-p, typical-p, top-n-sigma, repetition, order"))

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
        """The settings the sliders and the order list show; a disabled stage (guidance without a
        digit, the repetition penalty outside text) is off."""
        values = {}
        for stage in STAGES:
            slider = self.sliders[stage.key]
            value = slider.value() if slider.isEnabled() else stage.off
            values[stage.key] = int(value) if stage.decimals is None else round(float(value), 4)
        order = self.order() if hasattr(self, "order_list") else sampling.DEFAULT_ORDER
        return SamplerSettings(**values, order=order)

    def set_settings(self, settings: SamplerSettings) -> None:
        """Set the sliders and the order to these settings (a trace's, a run's), as if the user had moved them."""
        for stage in STAGES:
            self.sliders[stage.key].setValue(getattr(settings, stage.key))
        self.set_order(settings.order)

    def set_vocabulary_size(self, size: int) -> None:
        """Top-k reaches as far as the model's vocabulary; a k beyond it is clamped, and the note says so."""
        if self.top_k.value() > size:
            self.show_note(f"top-k {self.top_k.value()} is more than the vocabulary: using {size}")
        self.top_k.setRange(0, size)

    def set_mode(self, mode: str) -> None:
        """Show `mode`'s guidance: its default at first, then what it was left at. An image's best
        guidance is not a clip's, so each mode keeps its own; the tooltip gives that mode's figures."""
        if mode == self.mode:
            return
        if self.mode in MODE_GUIDANCE:
            self._guidance_of[self.mode] = self.guidance.value()
        self.mode = mode
        if mode in MODE_GUIDANCE:  # text has none: the slider keeps its place, disabled
            self.guidance.setValue(self._guidance_of.get(mode, default_settings(mode).guidance))
        self._guidance_tip = GUIDANCE_TIP + ("\n\n" + MEASURED_GUIDANCE[mode] if mode in MEASURED_GUIDANCE else "")
        if self.guidance.isEnabled():
            self.guidance.setToolTip(self._guidance_tip)

    def guidance_by_mode(self) -> dict[str, float]:
        """Each guided mode's guidance as it was left: the one shown now, the others kept (settings_store)."""
        kept = dict(self._guidance_of)
        if self.mode in MODE_GUIDANCE:
            kept[self.mode] = self.guidance.value()
        return kept

    def set_guidance_by_mode(self, values: dict[str, float]) -> None:
        """Put back guidance_by_mode() (values already checked); {} forgets them: each mode starts at its default."""
        self._guidance_of = {m: v for m, v in values.items() if m in MODE_GUIDANCE}
        if self.mode in MODE_GUIDANCE:
            self.guidance.setValue(self._guidance_of.get(self.mode, default_settings(self.mode).guidance))

    def set_guidable(self, guidable: bool, hide: bool = False) -> None:
        """Guidance needs a condition to lean on: the digit (image, audio); the text model has none.
        Without one the slider keeps its place but acts on nothing; `hide` takes its row away too."""
        self.guidance.setEnabled(guidable)
        self.guidance.setToolTip(self._guidance_tip if guidable else NO_GUIDANCE_TIP)
        if hide:
            self.form.setRowVisible(self.guidance, guidable)

    def set_penalisable(self, penalisable: bool, hide: bool = False) -> None:
        """The repetition penalty acts on text only (core.generate.penalisable): elsewhere its
        sliders keep their place, disabled, and say why; `hide` takes their rows away too."""
        self.penalisable, self._hide_penalty = penalisable, hide
        for key in PENALTY_KEYS:
            self.sliders[key].setEnabled(penalisable)
        for stage in STAGES:
            if stage.key in PENALTY_KEYS:
                self.sliders[stage.key].setToolTip(stage.tip if penalisable else NO_PENALTY_TIP)
        self.show_more(self.more_button.isChecked())
        self._grey_off_stages()

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
        if values.get("order") is not None:
            self.set_order(values["order"])  # already checked by the command line (core.sampling.parse_order)
        return notes

    def show_note(self, text: str) -> None:
        self.note.setText(text)
        self.note.show()
