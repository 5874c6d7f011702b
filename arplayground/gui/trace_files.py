"""Trace files in the window: exporting the run shown (a grid's images too), checking a file to
open against this window's models and views before anything in it changes, and verifying an
opened trace's replay on a job thread. The file's own checks are core's (core.lab: load_trace,
check_replayable); here is what only the window knows: which of its models and views a trace
belongs to, and the most a run of theirs can hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject

from arplayground import catalog
from arplayground.core.lab import (Branch, check_replayable, export_trace, load_trace, replay, replay_settings,
                                   too_long_for_plain)
from arplayground.core.session import Session, compare_replay, steps_text
from arplayground.gui.jobs import JobRunner
from arplayground.gui.views.base import ModeView
from arplayground.gui.views.image import GRIDS
from arplayground.gui.views.text import PROMPT_MAX
from arplayground.gui.worker import run_lock

AUDIO_KEPT_MAX = 10 * 60 * 8000  # a kept recording of ten minutes at 8 kHz
GRID_LANES = sorted({rows * cols for _, (rows, cols, _) in GRIDS} - {1})  # the grids Image mode draws


class Refused(Exception):
    """A trace not written or not opened; the message says why, for the state label."""


def replay_limits(entry: catalog.ModelEntry, view: ModeView, prefix_len: int) -> tuple[int, int, tuple]:
    """(most kept values, most steps, label counts of the condition) a run of this model in this
    view can have (for a grid, of each image): what a trace must fit before it replaces the run shown."""
    config = entry.card["config"]
    if entry.mode == "image":
        pixels = config["height"] * config["width"]
        return pixels - 1, pixels - prefix_len, (config["n_classes"],)
    if entry.mode == "audio":
        return AUDIO_KEPT_MAX, int(view.length_spin.maximum() * config["sample_rate"]) + 1, (config["n_digits"], config["n_speakers"])
    return PROMPT_MAX, view.length_spin.maximum(), ()


@dataclass(frozen=True)
class Replay:
    """A trace file that this window can show and replay exactly: with this model, in this view."""

    file_name: str
    loaded: Branch  # the file's branch: prefix, condition, seed, forced values, plan, its steps
    lanes: int  # images drawn together (a grid); 1 for one sequence
    mode: str
    entry: catalog.ModelEntry
    view: ModeView
    vocab: object  # the model's vocabulary (core.vocab)


def check_trace_file(path: str, entries: list[catalog.ModelEntry], views: dict[str, ModeView],
                     lists_mode) -> Replay:
    """The trace at `path`, checked whole, against the model it names too. `lists_mode(mode)`:
    does the window offer that mode? Raises Refused."""
    try:
        loaded, meta = load_trace(path)
    except ValueError as e:
        raise Refused(str(e)) from e
    mode, model, lanes = meta["mode"], meta["model"], meta["lanes"]
    if not lists_mode(mode):
        raise Refused(f"The trace is from {mode!r} mode, which has no model here"[:300])
    entry = catalog.entry_for_trace(entries, mode, model, meta["card"])  # two cards may share a name
    if entry is None:
        raise Refused(f"The trace needs the model {model!r}, which is not available here"[:300])
    if lanes > 1 and (mode != "image" or lanes not in GRID_LANES):
        raise Refused(f"{Path(path).name} is a grid of {lanes} images; this window draws grids of "
                      f"{', '.join(map(str, GRID_LANES))} images in Image mode")
    view, vocab = views[mode], catalog.vocabulary(entry)
    try:
        check_replayable(loaded, len(vocab), *replay_limits(entry, view, len(loaded.prefix)), lanes=lanes)
    except ValueError as e:
        raise Refused(f"{Path(path).name} cannot be replayed with {model}: {e}") from e
    return Replay(Path(path).name, loaded, lanes, mode, entry, view, vocab)


def export_shown_run(path: str, session: Session, entry: catalog.ModelEntry | None, view: ModeView | None,
                     compact: bool = False) -> str:
    """Write the session's shown branch (a grid's images as lanes), made by `entry` in `view`, to
    `path`: plain JSON arrays, or base64 with `compact` (and where a plain file would be too long:
    core.lab.too_long_for_plain); what the state label says of it. Raises Refused: nothing to
    export, or the file not written."""
    refusal = session.export_refusal()
    if refusal is not None:
        raise Refused(refusal)
    too_long = None if compact else too_long_for_plain(session.branch)
    try:
        export_trace(path, session.branch, entry.name, entry.card, view.mode, session.lanes, compact or bool(too_long))
    except OSError as e:
        raise Refused(f"Could not write {path}: {e.strerror or e}") from e
    said = f"Exported {session.steps_text()} of {session.branch.name} to {path}"
    if too_long:
        return f"{said}, compact (base64): {too_long}"
    return f"{said}{', compact (base64)' if compact else ''}"


@dataclass(frozen=True)
class Opened:
    """What Verify replay re-computes: an opened trace's run as the file holds it, taken when it
    was opened (the branch shown may be rewound or continued since)."""

    replay: Replay
    start: Branch  # prefix, condition, seed, forced values (no steps)
    settings: tuple  # each position's settings
    values: np.ndarray  # the values the file holds


class ReplayVerifier(QObject):
    """Verify replay: the opened trace re-computed on a job thread (under the model's run lock,
    never beside a generation run on it) at full speed, then compared value by value with the file."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.jobs = JobRunner(self)
        self.jobs.done.connect(self._done)
        self.jobs.failed.connect(self._failed)
        self.opened: Opened | None = None

    def offer(self, replay: Replay) -> None:
        """An opened trace is shown: it can be verified (its file's run, taken now)."""
        b = replay.loaded
        self.cancel()
        self.opened = Opened(replay, Branch(b.name, b.prefix, b.condition, b.seed, forced=dict(b.forced)),
                             replay_settings(b, replay.lanes), b.values.copy())

    def withdraw(self) -> None:
        """The opened trace is not shown any more (another run, mode or file)."""
        self.cancel()
        self.opened = None

    def can_verify(self) -> bool:
        return self.opened is not None and not self.jobs.busy()

    def busy(self) -> bool:
        return self.jobs.busy()

    def cancel(self) -> None:
        self.jobs.cancel()

    def close(self) -> None:
        """The window is closing: a replay being verified stops at its next block, and is waited for."""
        self.cancel()
        self.jobs.wait()

    def verify(self) -> None:
        if not self.can_verify():
            return
        if self.window.is_running():
            self.window.stop()  # a run, paused or not, holds the model's run lock: it stops (and can resume)
        opened, steppers = self.opened, self.window.steppers
        entry, lanes = opened.replay.entry, opened.replay.lanes

        def work(cancelled):
            stepper = steppers.get(entry)
            with run_lock(stepper):  # never beside a generation run on the same model
                return replay(stepper, opened.start, lanes, cancelled, opened.settings)

        self.jobs.start("verify", work)
        self.window.state_label.setText(f"Verifying {opened.replay.file_name}: re-computing "
                                        f"{steps_text(len(opened.values))} at full speed…")
        self.window._update_buttons()

    def _done(self, _name: str, values) -> None:
        opened = self.opened
        if values is not None and opened is not None:
            check = compare_replay(values, opened.values, opened.replay.lanes)
            self.window.state_label.setText(f"Verified {opened.replay.file_name}: {check.text()}")
        self.window._update_buttons()

    def _failed(self, _name: str, why: str) -> None:
        self.window.state_label.setText(f"Could not verify the replay: {why}")
        self.window._update_buttons()
