"""Score in the window: read what the view shows (or was given) in one teacher-forced pass off the
GUI thread, show it as a branch of the session, and answer the Score panel's requests (the
sequential paths timed, free-running from a step, comparing two scored branches).

The pass runs on a job thread (gui/jobs.py) under the model's run lock, so it never shares the
model with a generation run; the window keeps painting (torch releases the GIL in its ops).
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, Slot

from arplayground import catalog
from arplayground.core.score import classify, compare, generation_seconds, score
from arplayground.gui.jobs import JobRunner
from arplayground.gui.score_panel import PER
from arplayground.gui.timeline import CHAIN_RULE
from arplayground.gui.worker import run_lock

# The classifier reads the sequence ten more times: up to 10 s of sound (a spoken digit is under 1 s;
# a 30 s recording would take ten passes of 30 s for a question about one word).
CLASSIFY_MAX_STEPS = 80_000
NAIVE_SECONDS = 60.0  # the naive path is timed for at most this long (it is quadratic in the length), then said so


@dataclass
class ScoreInfo:
    """What a scored branch's panel shows beyond its trace: the pass's time and the classifier."""

    branch: object
    seconds: float
    classification: object = None
    asked: object = None


def conditions_to_classify(entry, condition):
    """(labels, any label, how to name one) for the model as a classifier, or None: the ten digits
    (with the speaker kept, for audio) and "any digit"."""
    if entry.mode == "image" and entry.card.get("config", {}).get("n_classes"):
        return list(range(10)), None, condition, lambda d: f"digit {d}"
    if entry.mode == "audio":
        digit, speaker = condition if isinstance(condition, tuple) else (condition, None)
        return [(d, speaker) for d in range(10)], (None, speaker), (digit, speaker), lambda c: f"digit {c[0]}"
    return None


def context_note(entry, length: int) -> str:
    """What the heading says of a text longer than the model's context."""
    block = entry.card.get("config", {}).get("block_size") if entry.mode == "text" else None
    if not block or length + 1 <= block:
        return ""
    return (f"It is longer than the model's {block:,}-character context: scored in windows, each position with "
            f"the context generation gives it (the cache re-primes on the last {block // 2 + 1:,} when full).")


class ScoreControl(QObject):
    def __init__(self, window, panel):
        super().__init__(window)
        self.window, self.panel = window, panel
        self.jobs = JobRunner(self)
        self.jobs.done.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self.infos: list[ScoreInfo] = []
        self._request = None  # (view, entry, vocab, unit) of the pass running
        panel.time_requested.connect(self.time_sequential)
        panel.free_run_requested.connect(self.free_run)
        panel.compare_chosen.connect(self.compare_with)

    # -- Score --------------------------------------------------------------------------------

    @Slot()
    def score_shown(self) -> None:
        """Score what the current view shows or was given, in one parallel pass."""
        w = self.window
        entry, view = w.current_entry(), w.current_view()
        if entry is None or not entry.available:
            w.state_label.setText("No usable model in this mode to score with")
            return
        vocab = catalog.vocabulary(entry)
        got = view.score_input(vocab)
        if isinstance(got, str):
            w.state_label.setText(got)
            return
        prefix, values, condition = got
        w._halt()  # the shown run stops: the scored sequence replaces it on the screen
        classes = conditions_to_classify(entry, condition)
        steppers = w.steppers

        def work(cancelled):
            stepper = steppers.get(entry)
            with run_lock(stepper):  # never beside a generation run on the same model
                scored = score(stepper, prefix, values, condition)
                classification = None
                if classes is not None and len(values) <= CLASSIFY_MAX_STEPS and not cancelled():
                    labels, any_label, asked, _ = classes
                    classification = classify(stepper, prefix, values, labels, any_label)
            return scored, classification

        self._request = (view, entry, vocab, view.unit)
        self.jobs.start("score", work)
        w.state_label.setText(f"Scoring {len(values):,} {view.unit}s in one teacher-forced pass…")
        w._update_buttons()

    def busy(self) -> bool:
        return self.jobs.busy()

    def cancel(self) -> None:
        self.jobs.cancel()

    def _on_done(self, name: str, result) -> None:
        w = self.window
        if name == "score":
            self._show_scored(*result)
        elif name == "cached":
            self._timed_cached(*result)
        elif name == "naive":
            self._timed_naive(*result)
        w._update_buttons()

    def _on_failed(self, name: str, why: str) -> None:
        w = self.window
        if name == "score":
            w.state_label.setText(f"Could not score: {why}")
        else:
            self.panel.show_timing_busy(f"Timing failed: {why}")
        w._update_buttons()

    def _show_scored(self, scored, classification) -> None:
        w = self.window
        view, entry, vocab, unit = self._request
        if view is not w.current_view():
            return  # the mode changed while it ran: what it read is not shown any more
        same = w.running_entry is entry and w.running_view is view
        w.vocab, w.running_entry, w.running_view = vocab, entry, view
        branch = w.session.add_scored(scored.branch, keep_others=same)
        classes = conditions_to_classify(entry, branch.condition)
        self.infos = [i for i in self.infos if any(i.branch is b for b in w.branches.values())]
        self.infos.append(ScoreInfo(branch, scored.seconds, classification, classes[2] if classes else None))
        self.render_branch()
        totals = scored.totals
        w.state_label.setText(f"Scored {totals.steps:,} {unit}s in one pass ({scored.seconds:.3f} s): "
                              f"{totals.bits_per_step:.3f} bits/{PER.get(unit, unit)}")

    def render_branch(self) -> None:
        """Draw the shown (scored) branch from nothing: display, timeline, panel, figures."""
        w = self.window
        branch, view, trace = w.branch, w.running_view, w.trace
        w.causality.clear()
        view.start_display(w.vocab, branch.prefix, branch.condition, max(w.n_steps, len(trace)))
        view.render(trace)
        w.timeline.set_trace(trace, planned_steps=w.n_records)
        w.timeline.show_measure(CHAIN_RULE)
        w.lab.refresh_branch_box()
        w._show_paused(False)
        if len(trace):
            w.show_step(len(trace) - 1)
        w._show_stats()
        self.refresh()

    def refresh(self) -> None:
        """Show the Score panel for a scored branch shown, hide it otherwise."""
        w = self.window
        branch = w.branch
        if branch is None or not branch.scored_steps or w.running_view is None:
            self.panel.clear()
            return
        info = next((i for i in self.infos if i.branch is branch), None)
        classes = conditions_to_classify(w.running_entry, branch.condition)
        self.panel.show_score(branch, w.running_view.unit, w.vocab.describe,
                              info.seconds if info else None, info.classification if info else None,
                              info.asked if info else None, classes[3] if classes else str,
                              note=context_note(w.running_entry, len(branch.prefix) + branch.scored_steps))
        others = [b.name for b in w.session.scored_branches() if b is not branch]
        self.panel.set_compare_choices(others)
        if w.shown_index is not None:
            self.show_term(w.shown_index)

    @Slot(int)
    def show_term(self, index: int) -> None:
        w = self.window
        if w.branch is not None and w.branch.scored_steps and self.panel.isVisible():
            self.panel.show_term(w.trace, index, w.branch.scored_steps)

    # -- the panel's requests -------------------------------------------------------------------

    @Slot()
    def time_sequential(self) -> None:
        """Generate the same number of values one at a time, cached then naive, and show the times."""
        w = self.window
        branch, entry = w.branch, w.running_entry
        if branch is None or not branch.scored_steps or self.panel.pass_seconds is None:
            return
        n, prefix, condition = branch.scored_steps, branch.prefix, branch.condition
        steppers = w.steppers

        def cached(cancelled):
            stepper = steppers.get(entry)
            with run_lock(stepper):
                if hasattr(stepper, "warm_up"):
                    stepper.warm_up()  # compiled kernels loaded first: their loading is not generation
                return n, generation_seconds(stepper, prefix, n, condition, cancelled)

        self._timing = (n, prefix, condition, entry)
        self.jobs.start("cached", cached)
        self.panel.show_timing_busy(f"Generating {n:,} values one at a time with the cache…")

    def _timed_cached(self, n: int, seconds: float | None) -> None:
        if seconds is None:
            return
        self._cached = seconds
        self.panel.show_timing(n, seconds, None, naive_pending=NAIVE_SECONDS)
        n, prefix, condition, entry = self._timing
        steppers = self.window.steppers

        def naive(cancelled):
            from arplayground.nets.baselines import naive_stepper  # torch baselines, loaded on request

            stepper = steppers.get(entry)
            with run_lock(stepper):
                slow = naive_stepper(stepper)
                started = time.perf_counter()
                too_long = lambda: cancelled() or time.perf_counter() - started > NAIVE_SECONDS  # noqa: E731
                seconds = generation_seconds(slow, prefix, n, condition, too_long)
                return n, seconds, time.perf_counter() - started

        self.jobs.start("naive", naive)

    def _timed_naive(self, n: int, seconds: float | None, spent: float) -> None:
        self.panel.show_timing(n, self._cached, seconds, naive_over=None if seconds is not None else spent)

    @Slot()
    def free_run(self) -> None:
        """Keep the real data before the shown step; the model runs on from there with its own samples."""
        w = self.window
        branch, index = w.branch, w.shown_index
        if branch is None or not branch.scored_steps:
            return
        if index is None or index >= branch.scored_steps:
            w.state_label.setText("Click a step of the real data first: the model free-runs from there")
            return
        w.lab.rewind_to(index)
        self.refresh()
        w.resume(paused=False)
        w.state_label.setText(f"Free-running from step {index + 1}: the real data ends there, the model goes on alone")

    @Slot(str)
    def compare_with(self, name: str) -> None:
        w = self.window
        other = w.branches.get(name)
        if other is None or w.branch is None:
            self.panel.show_comparison("")
            return
        c = compare(w.trace, other.trace, w.branch.scored_steps, other.scored_steps)
        unit = w.running_view.unit
        lines = [f"This one: {c.a.bits_per_step:.3f} bits/{unit} over {c.a.steps:,}; {name}: "
                 f"{c.b.bits_per_step:.3f} bits/{unit} over {c.b.steps:,} ({c.difference:+.3f})."]
        describe = w.vocab.describe
        for rows, who in ((c.b_worse, name), (c.a_worse, "this one")):
            if rows:
                steps = ", ".join(f"{step + 1:,} ({html.escape(describe(int(other.trace.values[step] if who == name else w.trace.values[step])))}: "
                                  f"{a:.1f} vs {b:.1f} bits)" for step, a, b in rows[:3])
                lines.append(f"Where {who} is most surprising by comparison: steps {steps}.")
        self.panel.show_comparison(" ".join(lines))
