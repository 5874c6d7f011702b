"""The main window: controls on the left, the mode's view and the distribution panel on the right."""

from __future__ import annotations

import math
import random
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QPushButton,
    QSlider,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from arplayground import catalog
from arplayground.core.lab import check_replayable, export_trace, load_trace
from arplayground.core.sampling import SamplerSettings
from arplayground.core.session import Session
from arplayground.gui.ab_compare import ABWindow
from arplayground.gui.distribution_panel import DistributionPanel
from arplayground.gui.sampler_controls import SamplerControls
from arplayground.gui.timeline import Timeline
from arplayground.gui.views.audio import AudioModeView
from arplayground.gui.views.image import ImageModeView
from arplayground.gui.views.text import PROMPT_MAX, TextModeView
from arplayground.gui.worker import Batch, GenerationRunner, RunControls, RunRequest

# Display speeds, steps per second, slowest first; the last notch is "as fast as it computes".
SPEEDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 0)
MODE_TITLES = {"text": "Text", "image": "Image", "audio": "Audio"}
PANEL_HZ = 60  # distribution panel redraws per second at most, while streaming: one a frame, never behind
FIRST_STEP_LATE_MS = 300  # a new run with no step by then: the panel stops showing the last run's
TIMELINE_HZ = 4  # the timeline's, while streaming: a repaint of all its steps costs as much as the panel's


AUDIO_KEPT_MAX = 10 * 60 * 8000  # a kept recording of ten minutes at 8 kHz


def replay_limits(entry: catalog.ModelEntry, view, prefix_len: int) -> tuple[int, int, tuple]:
    """(most kept values, most steps, label counts of the condition) a single run of this model
    in this view can have: what a trace must fit before it replaces the run shown."""
    config = entry.card["config"]
    if entry.mode == "image":
        pixels = config["height"] * config["width"]
        return pixels - 1, pixels - prefix_len, (config["n_classes"],)
    if entry.mode == "audio":
        return AUDIO_KEPT_MAX, int(view.length_spin.maximum() * config["sample_rate"]) + 1, (config["n_digits"], config["n_speakers"])
    return PROMPT_MAX, view.length_spin.maximum(), ()


def speed_label(speed: float) -> str:
    return "max" if speed == 0 else f"{speed:g} steps/s"


class MainWindow(QMainWindow):
    def __init__(self, models_dir=None, initial: dict | None = None):
        super().__init__()
        self.setWindowTitle("arplayground")
        self.entries = catalog.discover(models_dir)
        self.steppers = catalog.StepperCache()  # loaded by the worker, kept across runs
        self.runner = GenerationRunner(self)
        self._panel_dirty = False
        self._input_ok = False  # set by check_prompt(): a usable model and input for this mode
        self.panel_timer = QTimer(self)
        self.panel_timer.setInterval(int(1000 / PANEL_HZ))
        self.panel_timer.setSingleShot(True)
        self.panel_timer.timeout.connect(self._refresh_panel)
        self.runner.batch.connect(self.on_batch)
        self.runner.status.connect(self.on_run_status)
        self._label_before_status: str | None = None  # the state label's text while a status covers it
        self.runner.finished.connect(self.on_finished)
        self.controls: RunControls | None = None
        self.running_entry: catalog.ModelEntry | None = None
        self.running_view = None
        self.session = Session()  # the run shown: its branches, plan and replay (core, no Qt)
        self.vocab = None
        self.ab_window: ABWindow | None = None
        self.shown_index: int | None = None  # the step the panel shows
        self._timeline_due = 0.0  # monotonic time of the timeline's next redraw while streaming
        self.chosen_models: dict[str, Path] = {}  # mode -> card of the model last chosen in it
        self._build()
        self._connect()
        self._fill_models()
        self.apply_initial(initial or {})
        self._update_buttons()

    # The session's state, read where the window renders it.
    trace = property(lambda self: self.session.trace)
    branch = property(lambda self: self.session.branch)
    branches = property(lambda self: self.session.branches)
    n_steps = property(lambda self: self.session.planned)
    n_records = property(lambda self: self.session.planned_records)
    resumable = property(lambda self: self.session.resumable)

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        side = QWidget()
        form = QFormLayout(side)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setVerticalSpacing(10)

        # One view per mode: its own controls and display; everything else is shared.
        self.views = {"text": TextModeView(), "image": ImageModeView(), "audio": AudioModeView()}
        self.mode_box = QComboBox()
        modes_with_models = {e.mode for e in self.entries}
        for mode in catalog.MODES:  # a mode appears once models/ holds a model for it
            if mode in modes_with_models or mode == "text":
                self.mode_box.addItem(MODE_TITLES[mode], mode)
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
        form.addRow(self.mode_controls)
        text_view = self.views["text"]  # short names used throughout (and by the tests)
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
        speed_row = QHBoxLayout()
        speed_row.addWidget(self.speed_slider, 1)
        speed_row.addWidget(self.speed_label)
        form.addRow("Speed", speed_row)

        self.sampler = SamplerControls()
        form.addRow(self.sampler)
        # short names used throughout (and by the tests)
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
        self.rename_button = QPushButton("Rename…")
        self.rename_button.setToolTip("Give the shown branch a name of your own")
        self.ab_button = QPushButton("A/B…")
        self.ab_button.setToolTip("Two continuations from the shown step, with two sampler settings and the same "
                                  "random numbers, side by side with their NLL")
        lab_row.addWidget(self.rename_button)
        lab_row.addWidget(self.ab_button)
        form.addRow(lab_row)
        trace_row = QHBoxLayout()
        self.export_trace_button = QPushButton("Export trace…")
        self.export_trace_button.setToolTip("The whole run as JSON: values, top candidates raw and after the sampler, "
                                            "settings per step, seed, model and card, timings")
        self.open_trace_button = QPushButton("Open trace…")
        self.open_trace_button.setToolTip("Replay a trace with its model, seed and settings (exactly), then branch it")
        trace_row.addWidget(self.export_trace_button)
        trace_row.addWidget(self.open_trace_button)
        form.addRow(trace_row)
        self._lab_tips = {b: b.toolTip() for b in (self.back_button, self.ab_button, self.rename_button, self.export_trace_button)}
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.generate)
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
        right = QSplitter(Qt.Orientation.Vertical)
        self.timeline = Timeline()
        under_view = QWidget()  # the view and its timeline share one splitter pane
        under_layout = QVBoxLayout(under_view)
        under_layout.setContentsMargins(0, 0, 0, 0)
        under_layout.addWidget(self.displays, 1)
        under_layout.addWidget(self.timeline)
        self.timeline.set_trace(self.trace)
        right.addWidget(under_view)
        right.addWidget(self.panel)
        right.setSizes([470, 390])

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(side_column)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        self.setCentralWidget(splitter)

        self.state_label = QLabel("Ready")
        self.stats_label = QLabel()
        self.statusBar().addWidget(self.state_label)
        self.statusBar().addPermanentWidget(self.stats_label)
        screen = self.screen().availableGeometry()  # a laptop's 1366 x 768 less its panels: fit it
        self.resize(min(1280, screen.width()), min(900, screen.height()))

    def _connect(self) -> None:
        self.model_box.currentIndexChanged.connect(self.on_model_changed)
        self.mode_box.currentIndexChanged.connect(self.on_mode_changed)
        self.prompt_edit.textChanged.connect(self.check_prompt)
        self.new_seed_button.clicked.connect(lambda: self.seed_spin.setValue(random.randrange(2**31 - 1)))
        self.speed_slider.valueChanged.connect(self.on_speed_changed)
        self.sampler.changed.connect(self.push_settings)
        self.generate_button.clicked.connect(self.generate)
        self.pause_button.toggled.connect(self.on_pause_toggled)
        self.step_button.clicked.connect(self.step)
        self.back_button.clicked.connect(self.back)
        self.panel.value_clicked.connect(self.branch_here)
        self.timeline.scrubbed.connect(self.show_step)
        self.export_trace_button.clicked.connect(self.export_dialog)
        self.open_trace_button.clicked.connect(self.open_trace_dialog)
        self.branch_box.activated.connect(self.on_branch_chosen)
        self.rename_button.clicked.connect(self.rename_dialog)
        self.ab_button.clicked.connect(self.open_ab)
        self.stop_button.clicked.connect(self.stop)
        for view in self.views.values():
            view.step_clicked.connect(self.show_step)
            view.content_replaced.connect(self.forget_run)

    # ------------------------------------------------------------------ models

    def current_view(self):
        return self.views[self.mode_box.currentData()]

    @Slot()
    def on_mode_changed(self) -> None:
        view = self.current_view()
        self.mode_controls.setCurrentWidget(view.controls)
        self.displays.setCurrentWidget(view.display)
        self.forget_run()
        self._fill_models()

    def _halt(self) -> None:
        """Stop the worker. A stopped run's end never reaches on_finished, so a replay's check goes too."""
        self.runner.stop()
        self.session.replaying = None

    @Slot()
    def forget_run(self) -> None:
        """The run shown is gone (another mode, or the view's content was drawn over, cleared or
        replaced by an opened file): nothing may continue, inspect, branch or export it any more."""
        was_running = self.is_running()
        self._halt()
        self.session.clear()
        self.timeline.set_trace(self.trace)
        self.shown_index = None
        self.branch_box.clear()
        self.stats_label.clear()
        self.panel.clear()
        for view in self.views.values():
            view.run_forgotten()  # markers of the run in the views: a selected pixel, a sample's line
        self._label_before_status = None
        # A stopped run's end never reaches on_finished: say here that it stopped.
        self.state_label.setText("Stopped: the run shown was replaced" if was_running else "Ready")
        self._show_paused(False)
        self._update_buttons()

    def _fill_models(self) -> None:
        mode = self.mode_box.currentData()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        first_available = chosen = -1
        # A card too broken to name its mode shows in every mode.
        listed = [e for e in self.entries if e.mode == mode or e.mode not in catalog.MODES]
        for entry, label in zip(listed, catalog.distinct_labels(listed)):  # two cards may share a name
            self.model_box.addItem(label if entry.available else f"{label} (unavailable)", entry)
            index = self.model_box.count() - 1
            self.model_box.setItemData(index, entry.summary(), Qt.ItemDataRole.ToolTipRole)
            if not entry.available:
                self.model_box.model().item(index).setEnabled(False)
            else:
                first_available = index if first_available < 0 else first_available
                chosen = index if entry.card_path == self.chosen_models.get(mode) else chosen
        # The model last chosen in this mode, as long as it can run; else the first that can.
        self.model_box.setCurrentIndex(chosen if chosen >= 0 else max(first_available, 0))
        self.model_box.blockSignals(False)
        self.on_model_changed()

    def current_entry(self) -> catalog.ModelEntry | None:
        entry = self.model_box.currentData()
        return entry if isinstance(entry, catalog.ModelEntry) else None

    @Slot()
    def on_model_changed(self) -> None:
        entry = self.current_entry()
        if entry is not None:
            self.chosen_models[self.mode_box.currentData()] = entry.card_path
        # Only the models chosen now (one per mode) stay loaded: ~20 MB each. A run keeps its own.
        self.steppers.keep_only([e for e in self.entries if e.available and self.chosen_models.get(e.mode) == e.card_path])
        broken = [e for e in self.entries if not e.available]
        notes = [f"⚠ {e.card_path.name}: {e.error}" for e in broken]
        if entry is None:
            self.model_info.setText("\n".join(["No model found in models/."] + notes))
        elif entry.available:
            self.model_info.setText("\n".join([entry.summary()] + notes))
            self.current_view().set_entry(entry)
            config = entry.card.get("config", {})
            size = config.get("vocab_size") or config.get("levels", 0)
            if size:
                self.sampler.set_vocabulary_size(size)
        else:
            self.model_info.setText("\n".join(notes))
        # Guidance needs a condition to lean on: the digit (image, audio); the text model has none.
        self.sampler.set_guidable(entry is not None and entry.available and entry.mode in catalog.CONDITIONAL_MODES)
        self.check_prompt()

    # ------------------------------------------------------------------ settings

    def settings(self) -> SamplerSettings:
        return self.sampler.settings()

    @Slot()
    def push_settings(self) -> None:
        """Every slider move is a new immutable snapshot; the worker reads it before its next step."""
        if self.controls is not None:
            self.controls.set_settings(self.settings())
        if not self.streaming() and self.shown_index is not None and self.shown_index < len(self.trace):
            self.show_step(self.shown_index)  # the lab: redraw the shown step under the new settings

    def speed(self) -> float:
        return float(SPEEDS[self.speed_slider.value()])

    @Slot(int)
    def on_speed_changed(self, _=None) -> None:
        self.speed_label.setText(speed_label(self.speed()))
        if self.controls is not None:
            self.controls.set_speed(self.speed())

    def apply_initial(self, initial: dict) -> None:
        """Settings from the command line, clamped into range where needed, with a visible note."""
        if initial.get("mode") and self.mode_box.findData(initial["mode"]) >= 0:
            self.mode_box.setCurrentIndex(self.mode_box.findData(initial["mode"]))
        notes = self.sampler.apply(initial)
        if initial.get("prompt") is not None and len(initial["prompt"]) > PROMPT_MAX:
            notes.append(f"the prompt is {len(initial['prompt']):,} characters, more than {PROMPT_MAX:,}: not used")
        elif initial.get("prompt") is not None:
            self.prompt_edit.setPlainText(initial["prompt"])
        for key, widget, low, high in (
            ("length", self.length_spin, 1, self.length_spin.maximum()),
            ("seed", self.seed_spin, 0, self.seed_spin.maximum()),
        ):
            value = initial.get(key)
            if value is None:
                continue
            if isinstance(value, float) and not math.isfinite(value):
                value = high
            clamped = min(max(value, low), high)
            if clamped != value:
                notes.append(f"{key.replace('_', '-')} {value:g} is out of range: using {clamped:g}")
            widget.setValue(clamped)
        if notes:
            self.sampler.show_note("; ".join(notes))

    # ------------------------------------------------------------------ prompt

    @Slot()
    def check_prompt(self) -> bool:
        """Is there a usable model and input for the current mode? Runs the view's own input check
        (text: unknown prompt characters, named inline) and remembers the answer for the buttons."""
        entry = self.current_entry()
        usable = entry is not None and entry.available and entry.mode == self.mode_box.currentData()
        self._input_ok = usable and self.current_view().check(entry)
        self._update_buttons()
        return self._input_ok

    # ------------------------------------------------------------------ running

    def is_running(self) -> bool:
        return self.runner.is_running()

    def _update_buttons(self) -> None:
        for view in self.views.values():
            view.set_running(self.is_running())
        running = self.is_running()
        self.generate_button.setEnabled(self._input_ok)
        self.step_button.setEnabled(self._input_ok or running)
        self.pause_button.setEnabled(running or self.resumable)
        self.stop_button.setEnabled(running)
        self.back_button.setEnabled(self.can_go_back())
        self.rename_button.setEnabled(self.has_single_run())
        self.export_trace_button.setEnabled(self.has_single_run())
        # Greyed out for a grid: say why, where a person looks (the lab works on one run at a time).
        grid = self.branch is not None and not self.has_single_run()
        why = "The lab works on a single run: generate one image to step back, compare, rename or export it" if grid else ""
        for button in (self.back_button, self.ab_button, self.rename_button, self.export_trace_button):
            button.setToolTip(why or self._lab_tips.get(button, ""))
        self.ab_button.setEnabled(self.has_single_run() and not self.streaming())

    @Slot()
    def generate(self, paused: bool = False) -> None:
        if not self.check_prompt():
            return
        entry = self.current_entry()
        self.runner.stop()
        view = self.current_view()
        self.vocab = catalog.vocabulary(entry)
        self.running_entry = entry
        self.running_view = view
        prefix, condition, n_steps = view.prepare(self.vocab)
        # a grid draws one value per image per step
        self.session.start(prefix, condition, self.seed_spin.value(), n_steps, view.lanes)
        self._refresh_branch_box()
        self.timeline.set_trace(self.trace, planned_steps=self.n_records, lanes=view.lanes)
        self.shown_index = None
        self.stats_label.clear()
        # Not the last run's step in the panel while this one has none. Only once it is late: most
        # first steps come within a frame, and a cleared panel painted as well would cost each run
        # of back-to-back images one more repaint.
        QTimer.singleShot(FIRST_STEP_LATE_MS, self, lambda branch=self.branch: self._clear_panel_if_no_step(branch))
        self._start_run(prefix, n_steps, paused, forced=None)

    def export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export trace", f"{self.branch.name if self.branch else 'run'}.trace.json", "Traces (*.json)")
        if path:
            self.export_trace(path)

    def export_trace(self, path: str) -> bool:
        if self.branch is None or not len(self.trace):
            self.state_label.setText("Nothing to export yet: generate first")
            return False
        if not self.has_single_run():
            self.state_label.setText("A grid is not exported as a trace: generate a single image to export its run")
            return False
        try:
            export_trace(path, self.branch, self.running_entry.name, self.running_entry.card, self.running_view.mode)
        except OSError as e:
            self.state_label.setText(f"Could not write {path}: {e.strerror or e}")
            return False
        self.state_label.setText(f"Exported {len(self.trace)} steps of {self.branch.name} to {path}")
        return True

    def open_trace_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open trace", "", "Traces (*.json);;All files (*)")
        if path:
            self.open_trace(path)

    def open_trace(self, path: str) -> bool:
        """Replay a trace: its mode, model, prefix, condition, seed, forced values and the settings of
        every step, so the same model reproduces it exactly (checked when the replay ends). The
        whole file is checked, against the model too, before anything in the window changes."""
        try:
            loaded, meta = load_trace(path)
        except ValueError as e:
            self.state_label.setText(str(e))
            return False
        mode, model = meta["mode"], meta["model"]
        if self.mode_box.findData(mode) < 0:
            self.state_label.setText(f"The trace is from {mode!r} mode, which has no model here"[:300])
            return False
        entry = catalog.entry_for_trace(self.entries, mode, model, meta["card"])  # two cards may share a name
        if entry is None:
            self.state_label.setText(f"The trace needs the model {model!r}, which is not available here"[:300])
            return False
        view, vocab = self.views[mode], catalog.vocabulary(entry)
        try:
            check_replayable(loaded, len(vocab), *replay_limits(entry, view, len(loaded.prefix)))
        except ValueError as e:
            self.state_label.setText(f"{Path(path).name} cannot be replayed with {model}: {e}")
            return False
        self.runner.stop()  # checked: from here on the file replaces the run shown
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
        self.model_box.setCurrentIndex(next(i for i in range(self.model_box.count()) if self.model_box.itemData(i) is entry))
        self.vocab = vocab
        self.running_entry, self.running_view = entry, view
        n = len(loaded.trace)
        prefix, condition, _ = view.prepare_replay(self.vocab, loaded.prefix, loaded.condition, n)
        self.seed_spin.setValue(loaded.seed)
        self.session.start_replay(loaded)
        self._refresh_branch_box()
        self.timeline.set_trace(self.trace, planned_steps=self.n_records)
        self.shown_index = None
        schedule = loaded.trace.settings_per_step()
        if n:
            self.sampler.set_settings(loaded.trace[n - 1].settings)  # Resume, Step and A/B go on from the file's
        self._start_run(prefix, n, paused=False, forced=dict(loaded.forced), schedule=schedule)
        self.state_label.setText(f"Replaying {Path(path).name}: {n} steps of {model}")
        return True

    def _show_paused(self, paused: bool) -> None:
        """Set the Pause/Resume button without it acting on the run."""
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)

    def _start_run(self, prefix, n_steps: int, paused: bool, forced, schedule=None) -> None:
        """Start the worker on this branch: a new run, or the continuation of a rewound one."""
        view, entry, branch = self.running_view, self.running_entry, self.branch
        self.session.continued(is_replay=schedule is not None)
        self._show_paused(paused)
        self.controls = RunControls(self.settings(), self.speed(), paused=paused)
        steppers = self.steppers
        request = RunRequest(
            load=lambda: steppers.get(entry),
            prefix=prefix,
            n_steps=n_steps,
            seed=branch.seed,
            condition=branch.condition,
            forced=forced,
            schedule=schedule,
            card_path=entry.card_path,
        )
        self.runner.start(request, self.controls)
        self._label_before_status = None
        self.state_label.setText("Paused" if paused else "Generating…")
        self._update_buttons()

    @Slot(bool)
    def on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self._update_buttons()
        if self.controls is not None and self.is_running():
            self.controls.set_paused(paused)
            text = "Paused" if paused else "Generating…"
            if self._label_before_status is not None:  # a status covers the label: show this after it
                self._label_before_status = text
            else:
                self.state_label.setText(text)
        elif not paused and self.resumable:
            self.resume(paused=False)

    @Slot()
    def step(self) -> None:
        """One step: pauses a running generation, continues a rewound one, or starts a new one paused."""
        if not self.is_running():
            if self.resumable:
                self.resume(paused=True)
            else:
                self.generate(paused=True)
        elif not self.pause_button.isChecked():
            self.pause_button.setChecked(True)
        if self.controls is not None:
            self.controls.step_once()

    def has_single_run(self) -> bool:
        return self.session.has_single_run()

    def can_go_back(self) -> bool:
        return self.session.can_go_back(paused_or_idle=not self.is_running() or self.pause_button.isChecked())

    @Slot()
    def back(self) -> None:
        """Step back: forget the newest step. The model is re-primed on what is kept (one
        teacher-forced pass) when Step or Resume continues, and meets the same random numbers."""
        if self.can_go_back():
            self.rewind_to(len(self.trace) - 1)

    def rewind_to(self, kept: int) -> None:
        self._halt()
        kept = self.session.rewind(kept)
        self.running_view.rewind(kept)
        self.timeline.refresh()
        self._refresh_branch_box()  # the branch's length and NLL
        self._show_paused(True)
        self.panel_timer.stop()
        if kept:
            self.show_step(kept - 1)
        self._show_stats()
        self.state_label.setText(f"Back at step {kept}: Step or Resume continues from here")
        self._update_buttons()

    def can_branch(self) -> bool:
        return self.has_single_run() and not self.streaming()

    @Slot(int)
    def branch_here(self, value: int) -> None:
        """Force `value` at the shown step in a new branch and draw it; the current branch is kept."""
        index = self.shown_index
        if index is None or not self.can_branch() or index >= len(self.trace):
            return
        if value == self.trace[index].value:
            self.state_label.setText(f"Step {index + 1} already drew that value")
            return
        self._halt()
        name = self.session.fork(index, value).name
        self.timeline.set_trace(self.trace, planned_steps=self.n_records)  # a branch runs to the same length
        self.running_view.rewind(index)
        self._refresh_branch_box()
        self.resume(paused=True)
        self.controls.step_once()  # the forced step itself; Step / Resume continue
        self.state_label.setText(f"{name}: {self.vocab.label(value)} forced at step {index + 1}")

    @Slot(int)
    def on_branch_chosen(self, row: int) -> None:
        name = self.branch_box.itemData(row)
        if self.branch is None or name == self.branch.name or name not in self.branches:
            return
        self._halt()
        self.session.choose(name)
        self.timeline.set_trace(self.trace, planned_steps=self.n_records)
        self.running_view.render(self.trace)  # drawn from the chosen branch's trace
        self._show_paused(self.resumable)  # an unfinished branch continues with one click on Resume
        self._refresh_branch_box()
        if len(self.trace):
            self.show_step(len(self.trace) - 1)
        self._show_stats()
        self.state_label.setText(f"Showing {name}")
        self._update_buttons()

    def _refresh_branch_box(self) -> None:
        """One line per branch: where it forked, what it forced, its length and NLL, for comparing."""
        self.branch_box.blockSignals(True)
        self.branch_box.clear()
        for name, text in self.session.branch_lines(self.vocab.label if self.vocab is not None else None):
            self.branch_box.addItem(text, name)
        self.branch_box.setCurrentIndex(self.branch_box.findData(self.branch.name))
        self.branch_box.blockSignals(False)

    def rename_dialog(self) -> None:
        if self.branch is None:
            return
        name, ok = QInputDialog.getText(self, "Rename branch", "Name", text=self.branch.name)
        if ok:
            self.rename_branch(name)

    def rename_branch(self, name: str) -> bool:
        """Give the shown branch a name of its own (unique; its children follow it)."""
        old = self.branch.name
        refused = self.session.rename(name)
        if refused:
            self.state_label.setText(refused)
        if refused or self.branch.name == old:
            return False
        name = self.branch.name
        self._refresh_branch_box()
        self.state_label.setText(f"{old} is now called {name}")
        return True

    @Slot()
    def open_ab(self) -> ABWindow | None:
        """The A/B window for this run, starting at the shown step; at the first step when none was
        chosen (nothing shown yet, or a finished run still showing its last step)."""
        if not self.has_single_run() or self.streaming():
            return None
        if self.ab_window is not None:
            self.ab_window.close()
        last = len(self.trace) - 1
        chosen = self.shown_index is not None and not (self.shown_index == last and len(self.trace) == self.n_steps)
        start = self.shown_index + 1 if chosen else 1
        # Side A starts as the run itself (the settings its first compared step was drawn with),
        # side B as the sliders are now, the settings being explored (another temperature if the same).
        settings_a = self.trace[start - 1].settings if start <= len(self.trace) else self.settings()
        ab = ABWindow(self.running_view, self.running_entry, self.vocab, self.branch, self.n_steps,
                      start, settings_a, self.settings(), parent=self)
        ab.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # its views and models go with it
        ab.destroyed.connect(lambda _=None, ab=ab: self._forget_ab(ab))
        self.ab_window = ab
        ab.show()
        return ab

    def _forget_ab(self, ab) -> None:
        if self.ab_window is ab:
            self.ab_window = None

    def resume(self, paused: bool) -> None:
        """Continue the current branch from the end of its trace."""
        continuation = self.session.continuation()
        if continuation is not None:
            history, remaining, forced = continuation
            self._start_run(history, remaining, paused, forced=forced)

    @Slot()
    def stop(self) -> None:
        self.runner.stop()
        self.session.stopped()
        self._show_paused(self.resumable)
        self._settle_panel()
        self.state_label.setText(f"Stopped after {self._steps_made(len(self.trace))}")
        self._update_buttons()

    @Slot(object)
    def on_batch(self, batch: Batch) -> None:
        batch.record_into(self.trace)
        self.running_view.append(batch, self.trace)
        self.refresh_panel_soon()
        if not self.back_button.isEnabled() and self.pause_button.isChecked():
            self.back_button.setEnabled(self.can_go_back())
        if len(self.branches) > 1 and not self.streaming():  # stepping: the list's lengths follow each step
            self._refresh_branch_box()
        self._show_stats(batch.steps_per_second)

    def _show_stats(self, steps_per_second: float | None = None) -> None:
        """The status bar's figures for the trace shown: its length, speed (while generating) and NLL."""
        if not len(self.trace):
            self.stats_label.clear()
            return
        nll = self.trace.nll()
        speed = f"  ·  {steps_per_second:,.0f} steps/s" if steps_per_second is not None else ""
        lanes = self.running_view.lanes  # a grid's trace interleaves its images' steps
        where = (f"step {len(self.trace) // lanes} / {self.n_records // lanes} in each of {lanes} images" if lanes > 1
                 else f"step {len(self.trace)} / {self.n_records}")
        self.stats_label.setText(
            f"{where}{speed}  ·  "
            f"NLL {nll:.3f} nats/{self.running_view.unit}  ·  perplexity {math.exp(nll):.2f}"
        )

    def refresh_panel_soon(self) -> None:
        """Show the newest step now, or at the end of the current panel interval.

        While a run streams at full speed the panel redraws at most PANEL_HZ times a second, as
        often as the worker sends batches, so it never lags the view by more than a frame; each
        redraw costs the worker GIL time, which is why the panel avoids costly relayouts. It
        always settles on the newest step. A single step (paused) shows at once.
        """
        self._panel_dirty = True
        if not self.streaming():
            self._settle_panel()
        elif not self.panel_timer.isActive():
            self._refresh_panel()
            self.panel_timer.start()

    @Slot()
    def _refresh_panel(self) -> None:
        if self._panel_dirty:
            self._panel_dirty = False
            now = time.monotonic()
            if not self.streaming() or now >= self._timeline_due:
                self._timeline_due = now + 1 / TIMELINE_HZ
                self.timeline.refresh()
                self.timeline.show_position(len(self.trace) - 1)
            self.show_step(len(self.trace) - 1)
            if self.is_running():
                self.panel_timer.start()  # the next redraw waits a full interval

    def _clear_panel_if_no_step(self, branch) -> None:
        if branch is self.branch and not len(self.trace):
            self.panel.clear("No step yet: the run is starting.")

    def _settle_panel(self) -> None:
        """The run has ended: show its newest step now, whatever the throttle."""
        self.panel_timer.stop()
        if not len(self.trace):  # it ended before its first step
            self.panel.clear("No step: the run stopped before its first one.")
        self._panel_dirty = True
        self._refresh_panel()

    @Slot(str)
    def on_run_status(self, text: str) -> None:
        """What the run is busy with before its first step (compiling kernels); "" once it generates,
        which puts back what the label said before (a replay's label, or Paused, or Generating…)."""
        if text:
            if self._label_before_status is None:
                self._label_before_status = self.state_label.text()
            self.state_label.setText(text)
        elif self._label_before_status is not None:
            self.state_label.setText(self._label_before_status)
            self._label_before_status = None

    @Slot(str)
    def on_finished(self, outcome: str) -> None:
        self._label_before_status = None  # the outcome replaces any status
        if self.branches:
            self._refresh_branch_box()  # lengths and NLLs, for comparing branches
        replay = self.session.finish(outcome)
        if replay is not None:
            self.state_label.setText(replay.text())
        elif outcome == "done":
            self.state_label.setText(f"Done: {self._steps_made(len(self.trace))}")
        elif outcome == "stopped":
            self.state_label.setText(f"Stopped after {self._steps_made(len(self.trace))}")
        elif outcome.startswith("nonfinite "):  # broken weights or an overflow: the run stopped at that step
            _, position, kind = outcome.split(" ", 2)
            step = int(position) - len(self.branch.prefix) + 1
            self.state_label.setText(f"{self.running_entry.name} went wrong at step {step:,}: its output is not "
                                     f"finite numbers ({kind}). The run stopped; {self._steps_made(len(self.trace))} "
                                     "before it are kept.")
        elif outcome.startswith("error: ModelError"):  # weights that passed the check but did not load
            reason = outcome.split(": ", 2)[-1]
            self.running_entry.error = reason
            self._fill_models()
            self.state_label.setText(f"Could not load {self.running_entry.name}: {reason}")
        else:
            self.state_label.setText(f"Generation failed: {outcome}")
        self.pause_button.setChecked(False)
        self._settle_panel()
        self._update_buttons()

    @Slot(int)
    def show_step(self, index: int) -> None:
        """Show step `index` of the current run in the distribution panel; while paused (or after
        a run), also what the current settings would make of it."""
        if not 0 <= index < len(self.trace) or self.vocab is None:
            return
        self.shown_index = index
        self.panel.streaming = self.streaming()
        self.panel.forced = self._forced(index)
        self.running_view.show_in_panel(self.panel, self.trace, index, self.vocab, self.what_if(index))
        if not self.streaming():  # while streaming the timeline follows at TIMELINE_HZ (_refresh_panel)
            self.timeline.show_position(index)

    def streaming(self) -> bool:
        return self.is_running() and not self.pause_button.isChecked()

    def what_if(self, index: int):
        """The sampler's stages for step `index` under the current settings, with the step's own
        uniform number: None while streaming, or when the trace keeps only the step's top candidates."""
        distributions = None if self.streaming() else self.trace.distributions(index)
        if distributions is None:
            return None
        raw, _, unconditional = distributions
        return self.session.what_if(index, raw, unconditional, self.settings())

    def _steps_made(self, n: int) -> str:
        return self.session.steps_text(n)

    def _forced(self, index: int) -> bool:
        return self.session.forced_at(index)

    def closeEvent(self, event) -> None:
        self.runner.wait_for_all()  # no thread outlives the window
        if self.ab_window is not None:
            self.ab_window.close()
        for view in self.views.values():
            view.shutdown()  # nor any sound
        super().closeEvent(event)


