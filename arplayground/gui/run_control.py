"""The run going on in the main window: the worker that makes it and the controls it reads before
each step; the distribution panel's and timeline's redraws as its steps stream in, throttled so
they never hold the worker back; and the state label, which the worker's status lines (compiling
kernels…) cover for a while before the first step."""

from __future__ import annotations

import time
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QLabel

from arplayground import catalog
from arplayground.core.lab import Branch
from arplayground.core.sampling import SamplerSettings
from arplayground.gui.worker import GenerationRunner, RunControls, RunRequest
from arplayground.nets.baselines import naive_stepper

TIMELINE_HZ = 4  # the timeline's redraws while streaming: a repaint of all its steps costs as much as the panel's


class RunControl:
    """The worker of the window's runs (one at a time) and, for the run started last, the controls
    it reads before each step: the sampler settings, the speed, pause and one step."""

    def __init__(self, parent: QObject, steppers: catalog.StepperCache):
        self.runner = GenerationRunner(parent)
        self.steppers = steppers  # loaded by the worker, kept across runs
        self.controls: RunControls | None = None

    def start(self, entry: catalog.ModelEntry, branch: Branch, prefix, n_steps: int, settings: SamplerSettings,
              speed: float, paused: bool, forced, cache: bool = True) -> None:
        """Run `entry` on `branch` (its seed and condition) from `prefix` for `n_steps` steps, taking
        `forced` values. Without `cache`, the
        naive path: the whole network for every step (nets/baselines.py), on the same weights."""
        self.controls = RunControls(settings, speed, paused=paused)
        steppers = self.steppers

        def load():
            fast = steppers.get(entry)
            return fast if cache else naive_stepper(fast)

        request = RunRequest(
            load=load,
            prefix=prefix,
            n_steps=n_steps,
            seed=branch.seed,
            condition=branch.condition,
            forced=forced,
            card_path=entry.card_path,
        )
        self.runner.start(request, self.controls)

    def is_running(self) -> bool:
        return self.runner.is_running()

    def set_settings(self, settings: SamplerSettings) -> None:
        """Every slider move is a new immutable snapshot; the worker reads it before its next step."""
        if self.controls is not None:
            self.controls.set_settings(settings)

    def set_speed(self, speed: float) -> None:
        if self.controls is not None:
            self.controls.set_speed(speed)

    def set_paused(self, paused: bool) -> bool:
        """Pause or resume the running run; False when none is running."""
        if self.controls is None or not self.is_running():
            return False
        self.controls.set_paused(paused)
        return True

    def step_once(self) -> None:
        if self.controls is not None:
            self.controls.step_once()


class PanelRefresh(QObject):
    """Shows the newest step in the window's distribution panel and timeline as a run streams.

    While a run streams at full speed the panel redraws at most `hz` times a second, as often as
    the worker sends batches, so it never lags the view by more than a frame; each redraw costs
    the worker GIL time, which is why the panel avoids costly relayouts. The timeline follows at
    TIMELINE_HZ. A single step (paused) shows at once, and the end of a run settles on its newest
    step whatever the throttle. Of the window it reads the session's trace and whether the run
    streams, and draws through its show_step(), timeline and panel.
    """

    def __init__(self, window, hz: int):  # the main window, which imports this module
        super().__init__(window)
        self.window = window
        self._dirty = False
        self._timeline_due = 0.0  # monotonic time of the timeline's next redraw while streaming
        self.timer = QTimer(self)
        self.timer.setInterval(int(1000 / hz))
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._refresh)

    def soon(self) -> None:
        """Show the newest step now, or at the end of the current interval."""
        self._dirty = True
        if not self.window.streaming():
            self.settle()
        elif not self.timer.isActive():
            self._refresh()
            self.timer.start()

    def settle(self) -> None:
        """The run has ended: show its newest step now."""
        self.timer.stop()
        if not len(self.window.trace):  # it ended before its first step
            self.window.panel.clear("No step: the run stopped before its first one.")
        self._dirty = True
        self._refresh()

    def stop(self) -> None:
        """No redraw is due any more (the window shows a step of its own choosing)."""
        self.timer.stop()

    def expect_first_step(self, branch: Branch, within_ms: int) -> None:
        """Not the last run's step in the panel while `branch`, a new run, has none. Only once it
        is late: most first steps come within a frame, and a cleared panel painted as well would
        cost each run of back-to-back images one more repaint."""
        QTimer.singleShot(within_ms, self, lambda: self._clear_if_no_step(branch))

    def _clear_if_no_step(self, branch: Branch) -> None:
        if branch is self.window.branch and not len(self.window.trace):
            self.window.panel.clear("No step yet: the run is starting.")

    @Slot()
    def _refresh(self) -> None:
        window = self.window
        if self._dirty:
            self._dirty = False
            now = time.monotonic()
            if not window.streaming() or now >= self._timeline_due:
                self._timeline_due = now + 1 / TIMELINE_HZ
                window.timeline.refresh()
                window.timeline.show_position(len(window.trace) - 1)
            window.show_step(len(window.trace) - 1)
            if window.is_running():
                self.timer.start()  # the next redraw waits a full interval


class StatusLine:
    """The state label, which the worker's status (what a run is busy with before its first step)
    covers while it lasts: what the label said, or was told meanwhile, comes back after it."""

    def __init__(self, label: QLabel):
        self.label = label
        self._covered: str | None = None  # the label's own text while a status covers it

    def say(self, text: str) -> None:
        """Show `text`; under a status, once the status ends."""
        if self._covered is not None:
            self._covered = text
        else:
            self.label.setText(text)

    def replace(self, text: str) -> None:
        """Show `text` now, ending any status (a new run, a run's outcome, a run forgotten)."""
        self._covered = None
        self.label.setText(text)

    def status(self, text: str) -> None:
        """The run's status: "" once it generates, which puts back what the label said before."""
        if text:
            if self._covered is None:
                self._covered = self.label.text()
            self.label.setText(text)
        elif self._covered is not None:
            self.label.setText(self._covered)
            self._covered = None
