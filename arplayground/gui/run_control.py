"""The run going on in the main window: the worker that makes it and the controls it reads before
each step; the distribution panel's and timeline's redraws as its steps stream in, throttled so
they never hold the worker back; and the state label, which the worker's status lines (compiling
kernels…) cover for a while before the first step."""

from __future__ import annotations

import collections
import time

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QLabel

from arplayground import catalog
from arplayground.core.lab import Branch
from arplayground.core.sampling import SamplerSettings
from arplayground.gui.worker import GenerationRunner, RunControls, RunRequest
from arplayground.nets.baselines import naive_stepper


SHOWN_OVER_S = 2.0  # the shown rate counts the steps that reached the window in about the last 2 s


class ShownRate:
    """The rate a run's steps reach the window: what a person sees arrive, paced by the Speed
    slider (or held back by a busy window), beside the model's own compute rate. Counted from the
    batches as they arrive, over about the last SHOWN_OVER_S of streaming, so a speed change shows
    within seconds; a pause starts the count again. `clock`: seconds (tests hand in their own)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self._arrivals: collections.deque[tuple[float, int]] = collections.deque()  # (time, steps so far)
        self._steps = 0

    def reset(self) -> None:
        self._arrivals.clear()
        self._steps = 0

    def arrived(self, steps: int) -> None:
        """A batch of `steps` steps reached the window now."""
        now = self.clock()
        self._steps += steps
        self._arrivals.append((now, self._steps))
        while len(self._arrivals) > 2 and now - self._arrivals[1][0] >= SHOWN_OVER_S:
            self._arrivals.popleft()

    def per_second(self) -> float | None:
        """Steps per second that arrived after the first batch counted; None before two batches."""
        if len(self._arrivals) < 2:
            return None
        (start, before), (end, now) = self._arrivals[0], self._arrivals[-1]
        return (now - before) / (end - start) if end > start else None


class RunControl:
    """The worker of the window's runs (one at a time) and, for the run started last, the controls
    it reads before each step: the sampler settings, the speed, pause and one step."""

    def __init__(self, parent: QObject, steppers: catalog.StepperCache):
        self.runner = GenerationRunner(parent)
        self.steppers = steppers  # loaded by the worker, kept across runs
        self.controls: RunControls | None = None
        self.shown_rate = ShownRate()  # of the run started last, while it streams

    def start(self, entry: catalog.ModelEntry, branch: Branch, prefix, n_steps: int, settings: SamplerSettings,
              speed: float, paused: bool, forced, cache: bool = True) -> None:
        """Run `entry` on `branch` (its seed and condition) from `prefix` for `n_steps` steps, taking
        `forced` values. Without `cache`, the
        naive path: the whole network for every step (nets/baselines.py), on the same weights."""
        self.controls = RunControls(settings, speed, paused=paused)
        self.shown_rate.reset()
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

    def batch_shown(self, steps: int, streaming: bool) -> float | None:
        """A batch of `steps` reached the window: the rate steps are shown at while the run streams
        paced by the Speed slider; None at full speed (shown as fast as computed) or while paused."""
        if not streaming:
            self.shown_rate.reset()  # single steps: no rate; after Resume, counted afresh
            return None
        self.shown_rate.arrived(steps)
        return self.shown_rate.per_second() if self.controls is not None and self.controls.speed else None

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
    the worker GIL time, which is why the panel avoids costly relayouts. The timeline redraws on
    the same tick, so both show the same step (throttled apart, at 4 Hz, the timeline said "step
    74 of 74" with the panel at 117). A single step (paused) shows at once, and the end of a run
    settles on its newest step whatever the throttle. Of the window it reads the session's trace and whether the run
    streams, and draws through its show_step(), timeline and panel.
    """

    def __init__(self, window, hz: int):  # the main window, which imports this module
        super().__init__(window)
        self.window = window
        self._dirty = False
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
