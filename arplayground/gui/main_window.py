"""The main window: the controller of the widgets laid out by gui/window_layout.py. It sends the
session (core/session.py, the run shown and its branches) what a person asks for, starts the
worker on it (gui/run_control.py) and renders the session into the views, the timeline, the
distribution panel and the status bar."""

from __future__ import annotations

import math
import random
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QMainWindow

from arplayground import catalog
from arplayground.core.sampling import SamplerSettings
from arplayground.core.session import Session, load_failure
from arplayground.gui.ab_compare import ABWindow
from arplayground.gui.branch_lab import BranchLab
from arplayground.gui.cache_check import CacheCheck
from arplayground.gui.causality_control import CausalityControl
from arplayground.gui.cheat_compare import CheatCompare
from arplayground.gui.decoding_lab import DecodingLab
from arplayground.gui.menus import install_menus
from arplayground.gui.model_picker import ModelPicker
from arplayground.gui.run_control import PanelRefresh, RunControl, StatusLine
from arplayground.gui.score_control import ScoreControl
from arplayground.gui.settings_store import WindowSettings, add_recent, ask_open_path, ask_save_path_and_filter
from arplayground.gui.trace_files import Refused, ReplayVerifier, check_trace_file, export_shown_run
from arplayground.gui.views.text import PROMPT_MAX
from arplayground.gui.window_layout import SPEEDS, WindowLayout, speed_label
from arplayground.gui.worker import Batch

# What the Cache switch turns off, per mode; off, every step runs the whole network (nets/baselines.py).
CACHE_TIPS = {
    "text": "KV cache: each character attends to the keys and values kept from before. Off: the whole context "
            "is recomputed for every character (the time per step grows with the position).",
    "image": "Cached activations: each pixel reuses the rows and columns computed so far. Off: the whole "
             "network re-runs over the whole image for every pixel.",
    "audio": "Queues: each sample reuses every layer's past activations. Off: the network re-runs over the "
             "whole clip for every sample.",
}
# The Export trace dialog's filters: plain JSON arrays by default, base64 (a third of the size) on request.
PLAIN_TRACES = "Trace, readable JSON (*.json)"
COMPACT_TRACES = "Compact trace, base64 (*.json)"
PANEL_HZ = 60  # distribution panel redraws per second at most, while streaming: one a frame, never behind
FIRST_STEP_LATE_MS = 300  # a new run with no step by then: the panel stops showing the last run's


class MainWindow(QMainWindow, WindowLayout):
    def __init__(self, models_dir=None, initial: dict | None = None):
        super().__init__()
        self.setWindowTitle("arplayground")
        self.models_dir = Path(models_dir) if models_dir else catalog.default_models_dir()  # Help > About names it
        self.entries = catalog.discover(self.models_dir)
        self.steppers = catalog.StepperCache()  # loaded by the worker, kept across runs
        self.run_control = RunControl(self, self.steppers)
        self.runner = self.run_control.runner
        self._input_ok = False  # set by check_prompt(): a usable model and input for this mode
        self.panel_refresh = PanelRefresh(self, PANEL_HZ)
        self.runner.batch.connect(self.on_batch)
        self.runner.status.connect(self.on_run_status)
        self.runner.finished.connect(self.on_finished)
        self.running_entry: catalog.ModelEntry | None = None
        self.running_view = None
        self.session = Session()  # the run shown: its branches, plan and replay (core, no Qt)
        self.vocab = None
        self.shown_index: int | None = None  # the step the panel shows
        self.decoding_lab = None  # the Decoding lab window, once opened
        self.cache_check = CacheCheck()  # the Cache switch: same seed, same values, checked live
        self.run_cached = True  # whether the run shown was computed with the cache
        self._build_layout()
        self.timeline.set_trace(self.trace)
        self.picker = ModelPicker(self.mode_box, self.model_box, self.model_info, self.entries, self.steppers)
        self.status_line = StatusLine(self.state_label)
        self.lab = BranchLab(self)  # step back, branch, rename, A/B
        self.score = ScoreControl(self, self.score_panel)  # teacher-forced passes over known data
        self.causality = CausalityControl(self, self.causality_panel, self.sees_button)  # what an output sees
        self.cheat = CheatCompare(self)  # Mask on/off: the real text model beside the one without its mask
        self.verifier = ReplayVerifier(self)  # Verify replay: an opened trace re-computed on a job thread
        self._connect()
        self._fill_models()
        self.stored = WindowSettings(self)  # what the window remembers between launches
        self.stored.restore()
        self.apply_initial(initial or {})  # the command line wins over what was stored
        self._update_buttons()
        self.menus = install_menus(self)  # the menu bar, the shortcuts and the buttons' tooltips with their keys

    # The session's state, read where the window renders it.
    trace = property(lambda self: self.session.trace)
    branch = property(lambda self: self.session.branch)
    branches = property(lambda self: self.session.branches)
    n_steps = property(lambda self: self.session.planned)
    n_records = property(lambda self: self.session.planned_records)
    resumable = property(lambda self: self.session.resumable)

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
        self.back_button.clicked.connect(self.lab.back)
        self.panel.value_clicked.connect(self.lab.branch_here)
        self.timeline.scrubbed.connect(self.show_step)
        self.export_trace_button.clicked.connect(self.export_dialog)
        self.open_trace_button.clicked.connect(self.open_trace_dialog)
        self.verify_button.clicked.connect(self.verifier.verify)
        self.branch_box.activated.connect(self.lab.on_branch_chosen)
        self.rename_button.clicked.connect(self.lab.rename_dialog)
        self.ab_button.clicked.connect(self.lab.open_ab)
        self.score_button.clicked.connect(self.score.score_shown)
        self.cheat_button.clicked.connect(self.cheat.open)
        self.decoding_button.clicked.connect(self.open_decoding_lab)
        self.timeline.hovered.connect(self.score.show_term)
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
        self.decoding_button.setVisible(view.mode == "text")
        self.mode_controls.setCurrentWidget(view.controls)
        self.displays.setCurrentWidget(view.display)
        for each in self.views.values():  # a mode change is the next action: the last one's note is spent
            each.clear_note()
        self.forget_run()
        self._fill_models()

    def _halt(self) -> None:
        """Stop the worker, and a replay being verified (its run lock would hold the next run back)."""
        self.runner.stop()
        self.verifier.cancel()

    @Slot()
    def forget_run(self) -> None:
        """The run shown is gone (another mode, or the view's content was drawn over, cleared or
        replaced by an opened file): nothing may continue, inspect, branch or export it any more."""
        was_running = self.is_running()
        self._halt()
        self.score.cancel()
        self.verifier.withdraw()
        self.causality.clear()
        self.session.clear()
        self.timeline.set_trace(self.trace)
        self.shown_index = None
        self.branch_box.clear()
        self.stats_label.clear()
        self.panel.clear()
        self.score.refresh()
        for view in self.views.values():
            view.run_forgotten()  # markers of the run in the views: a selected pixel, a sample's line
        # A stopped run's end never reaches on_finished: say here that it stopped.
        self.status_line.replace("Stopped: the run shown was replaced" if was_running else "Ready")
        self._show_paused(False)
        self._update_buttons()

    def _fill_models(self) -> None:
        self.picker.fill()
        if self.mode_box.currentData() in CACHE_TIPS:
            self.cache_box.setToolTip(CACHE_TIPS[self.mode_box.currentData()])
        self.on_model_changed()

    def current_entry(self) -> catalog.ModelEntry | None:
        return self.picker.current_entry()

    @Slot()
    def on_model_changed(self) -> None:
        entry = self.picker.chosen()
        if entry is not None and entry.available:
            self.current_view().set_entry(entry)
            config = entry.card.get("config", {})
            size = config.get("vocab_size") or config.get("levels", 0)
            if size:
                self.sampler.set_vocabulary_size(size)
        self.sampler.set_mode(self.mode_box.currentData())  # the mode's own guidance (its measured default at first)
        # Guidance needs a condition to lean on: the digit (image, audio); the text model has none.
        self.sampler.set_guidable(entry is not None and entry.available and entry.mode in catalog.CONDITIONAL_MODES)
        self.sampler.set_penalisable(entry is None or entry.mode == "text")  # the per-step loop's only (core.generate.penalisable)
        self.check_prompt()

    # ------------------------------------------------------------------ settings

    def settings(self) -> SamplerSettings:
        return self.sampler.settings()

    @Slot()
    def push_settings(self) -> None:
        self.run_control.set_settings(self.settings())
        if not self.streaming() and self.shown_index is not None and self.shown_index < len(self.trace):
            self.show_step(self.shown_index)  # the lab: redraw the shown step under the new settings

    def speed(self) -> float:
        return float(SPEEDS[self.speed_slider.value()])

    @Slot(int)
    def on_speed_changed(self, _=None) -> None:
        self.speed_label.setText(speed_label(self.speed()))
        self.run_control.set_speed(self.speed())

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
        return self.run_control.is_running()

    def _update_buttons(self) -> None:
        for view in self.views.values():
            view.set_running(self.is_running())
        running = self.is_running()
        self.generate_button.setEnabled(self._input_ok)
        self.score_button.setEnabled(self._input_ok and not self.score.busy())
        self.step_button.setEnabled(self._input_ok or running)
        self.pause_button.setEnabled(running or self.resumable)
        self.stop_button.setEnabled(running)
        self.back_button.setEnabled(self.can_go_back())
        self.rename_button.setEnabled(self.has_single_run())
        self.export_trace_button.setEnabled(self.session.export_refusal() is None)  # a grid's images too
        self.verify_button.setEnabled(self.verifier.can_verify())
        # Greyed out for a grid: say why, where a person looks (the lab works on one run at a time).
        grid = self.branch is not None and not self.has_single_run()
        why = "The lab works on a single run: generate one image to step back, compare or rename it" if grid else ""
        for button in (self.back_button, self.ab_button, self.rename_button):
            button.setToolTip(why or self._lab_tips.get(button, ""))
        self.ab_button.setEnabled(self.has_single_run() and not self.streaming())

    @Slot()
    def generate(self, paused: bool = False) -> None:
        if not self.check_prompt():
            return
        entry = self.current_entry()
        self.runner.stop()
        self.verifier.withdraw()  # the opened trace, if any, is not shown any more
        view = self.current_view()
        self.vocab = catalog.vocabulary(entry)
        self.running_entry = entry
        self.running_view = view
        prefix, condition, n_steps = view.prepare(self.vocab)
        # a grid draws one value per image per step
        self.causality.clear()
        self.session.start(prefix, condition, self.seed_spin.value(), n_steps, view.lanes)
        self.lab.refresh_branch_box()
        self.timeline.set_trace(self.trace, planned_steps=self.n_records, lanes=view.lanes)
        self.shown_index = None
        self.stats_label.clear()
        self.panel_refresh.expect_first_step(self.branch, FIRST_STEP_LATE_MS)
        self._start_run(prefix, n_steps, paused, forced=None)

    def export_dialog(self) -> None:
        name = f"{self.branch.name if self.branch else 'run'}.trace.json"
        path, chosen = ask_save_path_and_filter(self, "trace", "Export trace", name, f"{PLAIN_TRACES};;{COMPACT_TRACES}")
        if path and self.export_trace(path, compact=chosen == COMPACT_TRACES):
            add_recent(path)

    def export_trace(self, path: str, compact: bool = False) -> bool:
        """Write the shown run (a grid's every image) as a trace: plain JSON, or base64 with `compact`."""
        try:
            self.state_label.setText(export_shown_run(path, self.session, self.running_entry, self.running_view, compact))
        except Refused as e:
            self.state_label.setText(str(e))
            return False
        return True

    def open_trace_dialog(self) -> None:
        path = ask_open_path(self, "trace", "Open trace", "Traces (*.json);;All files (*)")
        if path and self.open_trace(path):
            add_recent(path)

    def open_trace(self, path: str) -> bool:
        """Show a trace's run at once, as the file holds it (values, panel, timeline, branch; no
        re-computation): its mode, model, prefix, condition, seed, forced values, and the sliders at
        its last settings, so Step, Resume and A/B go on as the file did. The whole file is checked,
        against the model too, before anything in the window changes. Verify replay re-computes it."""
        try:
            replay = check_trace_file(path, self.entries, self.views, self.picker.lists_mode)
        except Refused as e:
            self.state_label.setText(str(e))
            return False
        loaded, lanes = replay.loaded, replay.lanes
        self.runner.stop()  # checked: from here on the file replaces the run shown
        self.score.cancel()
        self.causality.clear()
        self.picker.select(replay.mode, replay.entry)
        self.vocab = replay.vocab
        self.running_entry, self.running_view = replay.entry, replay.view
        self.session.open_trace(loaded, lanes)
        replay.view.prepare_replay(self.vocab, loaded.prefix, loaded.condition, self.n_steps)
        replay.view.render(self.trace)
        self.seed_spin.setValue(loaded.seed)
        self.lab.refresh_branch_box()
        self.timeline.set_trace(self.trace, planned_steps=self.n_records, lanes=lanes)
        self.shown_index = None
        n = len(self.trace)
        if n:
            self.sampler.set_settings(self.trace[n - 1].settings)  # Resume, Step and A/B go on from the file's
        self._show_paused(self.resumable)
        self.panel_refresh.stop()  # no redraw of the run before may land on the file's
        if n:
            self.show_step(n - 1)
        self._show_stats()
        self.score.refresh()  # a scored trace: its figures
        self.verifier.offer(replay)
        self.status_line.replace(f"Opened {replay.file_name}: {self.session.steps_text()} of {replay.entry.name}, "
                                 "not yet verified · Verify replay")  # short: the status bar's figures sit beside it
        self._update_buttons()
        return True

    def _show_paused(self, paused: bool) -> None:
        """Set the Pause/Resume button without it acting on the run."""
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.blockSignals(False)

    def _start_run(self, prefix, n_steps: int, paused: bool, forced) -> None:
        """Start the worker on this branch: a new run, or the continuation of a rewound one."""
        self.verifier.cancel()  # a replay being verified holds the model's run lock
        self.session.continued()
        self._show_paused(paused)
        self.run_cached = self.cache_box.isChecked()
        self.run_control.start(self.running_entry, self.branch, prefix, n_steps, self.settings(), self.speed(),
                               paused, forced, cache=self.run_cached)
        self.status_line.replace("Paused" if paused else "Generating…")
        self._update_buttons()

    @Slot(bool)
    def on_pause_toggled(self, paused: bool) -> None:
        self.pause_button.setText("Resume" if paused else "Pause")
        self._update_buttons()
        if self.run_control.set_paused(paused):
            self.status_line.say("Paused" if paused else "Generating…")
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
        self.run_control.step_once()

    def has_single_run(self) -> bool:
        return self.session.has_single_run()

    def can_go_back(self) -> bool:
        return self.session.can_go_back(paused_or_idle=not self.is_running() or self.pause_button.isChecked())

    def rename_branch(self, name: str) -> bool:
        return self.lab.rename_branch(name)

    def open_ab(self) -> ABWindow | None:
        return self.lab.open_ab()

    ab_window = property(lambda self: self.lab.ab_window)  # the A/B window open now, if any

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
        self.panel_refresh.settle()
        if self.branches:
            self.lab.refresh_branch_box()  # a stopped run's end never reaches on_finished: its length here
        self.state_label.setText(f"Stopped after {self.session.steps_text()}")
        self._update_buttons()

    @Slot(object)
    def on_batch(self, batch: Batch) -> None:
        batch.record_into(self.trace)
        self.running_view.append(batch, self.trace)
        self.panel_refresh.soon()
        if not self.back_button.isEnabled() and self.pause_button.isChecked():
            self.back_button.setEnabled(self.can_go_back())
        if not self.streaming():  # stepping: the list's lengths follow each step (one branch's too)
            self.lab.refresh_branch_box()
        shown = self.run_control.batch_shown(batch.steps, self.streaming())
        self._show_stats(batch.steps_per_second, shown)

    def _show_stats(self, steps_per_second: float | None = None, shown_per_second: float | None = None) -> None:
        """The status bar's figures for the trace shown: its length, speeds (while generating: the
        compute rate, and the rate shown when the Speed slider paces it) and NLL."""
        self.stats_label.setText(self.session.stats_text(self.running_view.unit, steps_per_second, shown_per_second))

    @Slot(str)
    def on_run_status(self, text: str) -> None:
        """What the run is busy with before its first step (compiling kernels); "" once it generates,
        which puts back what the label said before (a replay's label, or Paused, or Generating…)."""
        self.status_line.status(text)

    @Slot(str)
    def on_finished(self, outcome: str) -> None:
        if self.branches:
            self.lab.refresh_branch_box()  # lengths and NLLs, for comparing branches
        reason = load_failure(outcome)
        if reason is not None:  # weights that passed the check but did not load
            self.running_entry.error = reason
            self._fill_models()
        said = self.session.outcome_text(outcome, self.running_entry.name)
        if outcome == "done":
            checked = self.cache_check.finished(self.running_entry, self.branch, self.run_cached)
            said = said if checked is None else f"{said}; {checked}"
        self.status_line.replace(said)  # the outcome replaces any status
        self.pause_button.setChecked(False)
        self.panel_refresh.settle()
        self.score.refresh()  # a free-run after real data: the two parts' figures
        self._update_buttons()

    @Slot(int)
    def show_step(self, index: int) -> None:
        """Show step `index` of the current run in the distribution panel; while paused (or after
        a run), also what the current settings would make of it."""
        if not 0 <= index < len(self.trace) or self.vocab is None:
            return
        self.shown_index = index
        self.panel.streaming = self.streaming()
        self.panel.forced = self.session.forced_at(index)
        self.running_view.show_in_panel(self.panel, self.trace, index, self.vocab, self.what_if(index))
        if not self.streaming():  # while streaming the timeline follows the panel_refresh
            self.timeline.show_position(index)
        self.score.show_term(index)
        self.causality.step_shown()

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

    def open_decoding_lab(self) -> DecodingLab:
        """The decoding lab's window (one per main window), in front."""
        if self.decoding_lab is None:
            self.decoding_lab = DecodingLab(self)
        self.decoding_lab.show()
        self.decoding_lab.raise_()
        return self.decoding_lab

    def closeEvent(self, event) -> None:
        self.stored.save()
        if self.decoding_lab is not None:
            self.decoding_lab.close()
        self.runner.wait_for_all()  # no thread outlives the window
        self.verifier.close()
        self.score.cancel()
        self.causality.clear()
        self.lab.close_ab()
        for view in self.views.values():
            view.shutdown()  # nor any sound
        super().closeEvent(event)
