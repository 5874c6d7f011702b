"""The main window's widgets and where they sit: the controls in a column on the left; the mode's
display with its timeline above the distribution panel on the right; the state and the run's
figures in the status bar. What the widgets do is the window's (gui/main_window.py): it wires
them to the session and renders it."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QPlainTextEdit,
    QPushButton,
    QSlider,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from arplayground.gui.causality_panel import CausalityPanel
from arplayground.gui.distribution_panel import DistributionPanel
from arplayground.gui.sampler_controls import SamplerControls
from arplayground.gui.score_panel import ScorePanel
from arplayground.gui.timeline import Timeline
from arplayground.gui.views.audio import AudioModeView
from arplayground.gui.views.base import ModeView
from arplayground.gui.views.image import ImageModeView
from arplayground.gui.views.text import TextModeView

# Display speeds, steps per second, slowest first; the last notch is "as fast as it computes".
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 0)


def speed_label(speed: float) -> str:
    return "max" if speed == 0 else f"{speed:g} steps/s"


class WindowLayout:
    """Mixed into the main window, as Qt Designer's forms are: _build_layout() makes the widgets
    attributes of the window itself, the names the window and its tests use."""

    views: dict[str, ModeView]  # one per mode: its own controls and display; everything else is shared
    mode_box: QComboBox  # filled by the model picker, as model_box is
    model_box: QComboBox
    model_info: QLabel
    mode_controls: QStackedWidget  # the current view's controls
    displays: QStackedWidget  # the current view's display
    seed_spin: QSpinBox
    new_seed_button: QPushButton
    speed_slider: QSlider  # a notch of SPEEDS
    speed_label: QLabel
    cache_box: QCheckBox  # off: the naive path, the whole network for every step (nets/baselines.py)
    sampler: SamplerControls
    generate_button: QPushButton
    pause_button: QPushButton  # checkable: Pause, or Resume while checked
    back_button: QPushButton
    step_button: QPushButton
    stop_button: QPushButton
    branch_box: QComboBox  # the run's branches, each named by its data
    rename_button: QPushButton
    ab_button: QPushButton
    cheat_button: QPushButton  # Mask on/off…: the real text model beside the cheat
    export_trace_button: QPushButton
    open_trace_button: QPushButton
    verify_button: QPushButton
    panel: DistributionPanel
    timeline: Timeline
    state_label: QLabel
    stats_label: QLabel
    _lab_tips: dict[QPushButton, str]  # the lab buttons' own tooltips, which a grid's reason replaces

    # The text view's and the sampler's widgets, by the short names used throughout (and by the tests).
    prompt_edit: QPlainTextEdit
    prompt_message: QLabel
    length_spin: QSpinBox
    text_pane: QPlainTextEdit
    temperature: QWidget  # the sampler's sliders
    top_k: QWidget
    top_p: QWidget
    guidance: QWidget
    settings_note: QLabel

    def _fit_mode_controls(self) -> None:
        """Size the controls' stack by the page shown: the others are Ignored by its layout."""
        shown = self.mode_controls.currentWidget()
        for i in range(self.mode_controls.count()):
            page = self.mode_controls.widget(i)
            fits = QSizePolicy.Policy.Preferred if page is shown else QSizePolicy.Policy.Ignored
            page.setSizePolicy(fits, fits)
        self.mode_controls.adjustSize()

    def _build_layout(self) -> None:
        """Make the window's widgets and place them (the window is a QMainWindow)."""
        side = QWidget()
        form = QFormLayout(side)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)

        self.views = {"text": TextModeView(), "image": ImageModeView(), "audio": AudioModeView()}
        self.mode_box = QComboBox()
        form.addRow("Mode", self.mode_box)
        self.model_box = QComboBox()
        form.addRow("Model", self.model_box)
        self.model_info = QLabel()
        self.model_info.setWordWrap(True)
        self.model_info.setObjectName("modelInfo")
        form.addRow(self.model_info)

        self.mode_controls = QStackedWidget()
        for view in self.views.values():
            self.mode_controls.addWidget(view.controls)
        # The stack as tall as the page shown, not its tallest (Image's): no gap over the seed.
        self.mode_controls.currentChanged.connect(self._fit_mode_controls)
        self._fit_mode_controls()
        form.addRow(self.mode_controls)
        text_view = self.views["text"]
        self.prompt_edit, self.prompt_message = text_view.prompt_edit, text_view.prompt_message
        self.length_spin, self.text_pane = text_view.length_spin, text_view.pane

        seed_row = QHBoxLayout()
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(1234)
        self.new_seed_button = QPushButton("New")
        self.new_seed_button.setToolTip("Pick a random seed")
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.new_seed_button)
        form.addRow("Seed", seed_row)

        self.speed_slider = QSlider(Qt.Orientation.Horizontal)
        self.speed_slider.setRange(0, len(SPEEDS) - 1)
        self.speed_slider.setValue(len(SPEEDS) - 1)
        self.speed_label = QLabel(speed_label(0))
        # As wide as its widest text, whatever it says now: else the slider's groove, and the handle
        # under the pointer, shifted as the label changed while it was dragged.
        widest = max(self.speed_label.fontMetrics().horizontalAdvance(speed_label(s)) for s in SPEEDS)
        self.speed_label.setFixedWidth(widest + 8)
        self.speed_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        speed_row = QHBoxLayout()
        speed_row.addWidget(self.speed_slider, 1)
        speed_row.addWidget(self.speed_label)
        speed_row.addSpacing(8)  # "1000 steps/s" ran into the Cache box
        self.cache_box = QCheckBox("Cache")  # its tooltip says what it caches in the mode shown
        self.cache_box.setChecked(True)
        speed_row.addWidget(self.cache_box)
        form.addRow("Speed", speed_row)

        self.sampler = SamplerControls()
        form.addRow(self.sampler)
        self.temperature, self.top_k, self.top_p = self.sampler.temperature, self.sampler.top_k, self.sampler.top_p
        self.guidance, self.settings_note = self.sampler.guidance, self.sampler.note

        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.back_button = QPushButton("◀ Back")
        self.back_button.setToolTip("Step back: forget the newest step; Step or Resume regenerates from there")
        self.step_button = QPushButton("Step")
        self.stop_button = QPushButton("Stop")
        for b in (self.generate_button, self.pause_button, self.back_button, self.step_button, self.stop_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        self.branch_box = QComboBox()
        self.branch_box.setToolTip(
            "Branches of this run. While paused, click a bar in the distribution panel to force that "
            "value at the shown step: a new branch continues from there, and this one is kept."
        )
        form.addRow("Branch", self.branch_box)
        lab_row = QHBoxLayout()
        self.score_button = QPushButton("Score")
        self.score_button.setToolTip("Read what is shown (or the text typed, the PNG or WAV opened) in one teacher-forced "
                                     "pass: every step's distribution at once, and the chain rule's total")
        lab_row.addWidget(self.score_button)
        self.cheat_button = QPushButton("Mask on/off…")  # Text mode only (gui/cheat_compare.py shows it)
        self.cheat_button.setToolTip("The same text read and written by the real model and by the cheat, a model "
                                     "trained without its causal mask, side by side")
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Give the shown branch a name of your own")
        self.ab_button = QPushButton("A/B…")
        self.ab_button.setToolTip("Two continuations from the shown step, with two sampler settings and the same "
                                  "random numbers, side by side with their NLL")
        lab_row.addWidget(self.rename_button)
        lab_row.addWidget(self.ab_button)
        form.addRow(lab_row)
        self.sees_button = QPushButton("What it sees")
        self.sees_button.setCheckable(True)
        self.sees_button.setToolTip("Show what the shown output can see: the inputs its masks or dilations let reach it, "
                                    "and each one's measured influence (the gradient on the real weights). While on, "
                                    "click any character, pixel or sample to see its field.")
        causality_row = QHBoxLayout()  # what keeps a model honest: what each output sees, and a model that peeks
        causality_row.addWidget(self.sees_button, 1)
        causality_row.addWidget(self.cheat_button)
        self.decoding_button = QPushButton("Decoding lab…")  # Text mode only
        self.decoding_button.setToolTip("Other ways to decode the same prompt with the same model, step by step")
        causality_row.addWidget(self.decoding_button)
        form.addRow(causality_row)
        trace_row = QHBoxLayout()
        self.export_trace_button = QPushButton("Export trace…")
        self.export_trace_button.setToolTip("The whole run (a grid's every image) as readable JSON: values, every step's "
                                            "full distribution, top candidates raw and after the sampler, settings per "
                                            "step, seed, model and card, timings. Compact (base64) is a third of the size")
        self.open_trace_button = QPushButton("Open trace…")
        self.open_trace_button.setToolTip("Show a trace's run at once, with its model, seed and settings; then verify "
                                          "its replay, step back, branch or resume it")
        self.verify_button = QPushButton("Verify replay")
        self.verify_button.setToolTip("Re-compute the opened trace with its model, seed and settings, at full speed, "
                                      "and say whether every value matches the file")
        trace_row.addWidget(self.export_trace_button)
        trace_row.addWidget(self.open_trace_button)
        trace_row.addWidget(self.verify_button)
        form.addRow(trace_row)
        self._lab_tips = {b: b.toolTip() for b in (self.back_button, self.ab_button, self.rename_button, self.export_trace_button)}
        side.setMinimumWidth(330)
        side_column = QWidget()
        column = QVBoxLayout(side_column)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(side)
        column.addStretch(1)  # controls stay together at the top

        self.displays = QStackedWidget()
        for view in self.views.values():
            self.displays.addWidget(view.display)
        self.panel = DistributionPanel(max_bars=16)
        self.timeline = Timeline()
        self.score_panel = ScorePanel()  # its own pane, shown while a scored sequence is
        self.causality_panel = CausalityPanel()  # its own pane, shown while What it sees is on
        # The two panes that come and go sit beside what they explain, not under it: shown, they take
        # width, which a 1280- or 1366-pixel screen has to spare, not height, which a 768-pixel one has
        # not (under one another, the display, timeline, panel and a pane needed 777-807 px of ~700).
        beside_display = QSplitter(Qt.Orientation.Horizontal)  # What it sees beside the output it explains
        beside_display.addWidget(self.displays)
        beside_display.addWidget(self.causality_panel)
        beside_display.setStretchFactor(0, 3)
        beside_display.setStretchFactor(1, 2)
        beside_display.setCollapsible(0, False)
        under_view = QWidget()  # the view and its timeline share one splitter pane
        under_layout = QVBoxLayout(under_view)
        under_layout.setContentsMargins(0, 0, 0, 0)
        under_layout.addWidget(beside_display, 1)
        under_layout.addWidget(self.timeline)
        beside_panel = QSplitter(Qt.Orientation.Horizontal)  # the Score figures beside the step's distribution
        beside_panel.addWidget(self.panel)
        beside_panel.addWidget(self.score_panel)
        beside_panel.setStretchFactor(0, 3)
        beside_panel.setStretchFactor(1, 2)
        beside_panel.setCollapsible(0, False)  # the distribution panel never disappears under the Score figures
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(under_view)
        right.addWidget(beside_panel)
        right.setSizes([520, 340])  # the display first: the panel starts near its smallest
        right.setCollapsible(0, False)
        right.setCollapsible(1, False)
        right_column = QWidget()  # the margin the controls' form has, on the window's right edge too
        right_layout = QVBoxLayout(right_column)
        right_layout.setContentsMargins(4, 8, 10, 4)
        right_layout.addWidget(right)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        # The controls scroll when they are taller than the window (the sampler's More stages open
        # on a laptop's screen) instead of making the window taller than the screen.
        side_scroll = QScrollArea()
        side_scroll.setWidget(side_column)
        side_scroll.setWidgetResizable(True)
        side_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        side_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        side_scroll.setMinimumWidth(side.minimumWidth() + side_scroll.verticalScrollBar().sizeHint().width())
        splitter.addWidget(side_scroll)
        splitter.addWidget(right_column)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)

        self.state_label = QLabel("Ready")
        self.stats_label = QLabel()
        self.statusBar().addWidget(self.state_label)
        self.statusBar().addPermanentWidget(self.stats_label)
        self.statusBar().setContentsMargins(6, 0, 10, 0)  # the figures clear of the window's corner
        screen = self.screen().availableGeometry()  # a laptop's 1366 x 768 less its panels: fit it
        self.resize(min(1280, screen.width()), min(900, screen.height()))
