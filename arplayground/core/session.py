"""The session: what the window shows and may do with it, as a plain object. No Qt.

One run at a time is shown: its branches (the main one and those forked from it), the branch shown
now, how many positions the run plans (and how many sequences it draws at once: a grid's lanes),
and whether it can be continued; an opened trace file is shown as it is. The window renders
a session and sends it requests (start, rewind, fork, choose, rename, stop, finish); everything it
decides is tested here with plain pytest.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import math

import numpy as np

from arplayground.core.lab import Branch
from arplayground.core.sampling import SamplerSettings, Stages, stages, stored_logits
from arplayground.core.trace import Trace


@dataclass(frozen=True)
class ReplayCheck:
    """How a replay (Verify replay) compares with the file it replayed."""

    steps: int  # steps replayed (a grid's: of all its images)
    identical: bool
    first_difference: int | None  # step index (0-based) where they part, None when identical
    lanes: int = 1  # a grid's images, interleaved step by step

    def text(self) -> str:
        lanes = self.lanes
        replayed = steps_text(self.steps) if lanes == 1 else f"{steps_text(self.steps // lanes)} in each of {lanes} images"
        if self.identical:
            return f"Replayed {replayed}: identical to the trace"
        where = f"step {self.first_difference // lanes + 1:,}" + (
            f" of image {self.first_difference % lanes + 1}" if lanes > 1 else "")
        return f"Replayed {replayed}: NOT identical; differs from the file at {where}"


@dataclass
class Session:
    branches: dict[str, Branch] = field(default_factory=dict)
    branch: Branch | None = None  # the branch shown
    planned: int = 0  # positions the run plans (per image, for a grid)
    lanes: int = 1  # sequences drawn at once: a grid's images
    resumable: bool = False  # a rewound or stopped run that Step / Resume can continue
    _empty: Trace = field(default_factory=Trace, repr=False)

    # ------------------------------------------------------------------ what is shown

    @property
    def trace(self) -> Trace:
        """The shown branch's steps (an empty trace before any run)."""
        return self.branch.trace if self.branch is not None else self._empty

    @property
    def planned_records(self) -> int:
        """Steps the trace will hold when the run is complete (a grid interleaves its images')."""
        return self.planned * self.lanes

    def has_single_run(self) -> bool:
        """A run of one sequence exists: the lab steps, branches and compares those, not grids."""
        return self.branch is not None and self.lanes == 1

    def can_go_back(self, paused_or_idle: bool) -> bool:
        return self.has_single_run() and len(self.trace) > 0 and paused_or_idle

    def remaining(self) -> int:
        return self.planned - len(self.trace)

    def forced_at(self, index: int) -> bool:
        """Was step `index` of the shown branch forced (clicked in the lab) rather than drawn?"""
        return self.branch is not None and len(self.branch.prefix) + index in self.branch.forced

    def steps_text(self, n: int | None = None) -> str:
        """n steps of the run (the trace's length by default), as a person counts them: a grid's
        trace interleaves its images."""
        n = len(self.trace) if n is None else n
        if self.lanes > 1:
            return f"{steps_text(n // self.lanes)} in each of {self.lanes} images"
        return steps_text(n)

    def ab_start(self, shown: int | None) -> tuple[int, SamplerSettings | None]:
        """(first step compared, 1-based; the settings it was drawn with, None when not drawn yet)
        for an A/B comparison of the shown branch: the step shown (`shown`, 0-based), or the first
        step when none was chosen (nothing shown, or a finished run still showing its last step)."""
        finished_at_end = shown == len(self.trace) - 1 and len(self.trace) == self.planned
        start = shown + 1 if shown is not None and not finished_at_end else 1
        return start, self.trace[start - 1].settings if start <= len(self.trace) else None

    def stats_text(self, unit: str, computes: float | None = None, shown: float | None = None) -> str:
        """The status bar's figures for the shown trace: its length, the speed (while generating)
        and the NLL per `unit` (what one step emits); "" before its first step. The speed is
        labelled: `computes`, the model's rate over its compute time; `shown`, the rate the
        steps reached the window (below it when the Speed slider paces the run)."""
        if not len(self.trace):
            return ""
        nll = self.trace.nll()
        speed = ""
        if computes is not None:
            speed = f"  ·  computes {computes:,.0f} {unit}s/s"
            if shown is not None:
                speed += f" · shown at {shown:,.0f} {unit}s/s"
        lanes = self.lanes  # a grid's trace interleaves its images' steps
        where = (f"step {len(self.trace) // lanes} / {self.planned} in each of {lanes} images" if lanes > 1
                 else f"step {len(self.trace)} / {self.planned_records}")
        return f"{where}{speed}  ·  NLL {nll:.3f} nats/{unit}  ·  perplexity {math.exp(nll):.2f}"

    def outcome_text(self, outcome: str, model: str) -> str:
        """What the state label says of a run of `model` that ended with `outcome`, the worker's
        word for it: "done", "stopped", "nonfinite POSITION KIND" or "error: ..." (a finished
        replay says how it compares with its file instead: finish())."""
        if outcome == "done":
            return f"Done: {self.steps_text()}"
        if outcome == "stopped":
            return f"Stopped after {self.steps_text()}"
        if outcome.startswith("nonfinite "):  # broken weights or an overflow: the run stopped at that step
            _, position, kind = outcome.split(" ", 2)
            step = int(position) - len(self.branch.prefix) + 1
            return (f"{model} went wrong at step {step:,}: its output is not finite numbers ({kind}). "
                    f"The run stopped; {self.steps_text()} before it are kept.")
        reason = load_failure(outcome)
        if reason is not None:
            return f"Could not load {model}: {reason}"
        return f"Generation failed: {outcome}"

    def export_refusal(self) -> str | None:
        """Why the shown run cannot be exported as a trace (a grid's too: its images as lanes); None when it can."""
        if self.branch is None or not len(self.trace):
            return "Nothing to export yet: generate first"
        return None

    def what_if(self, index: int, raw, unconditional, settings: SamplerSettings) -> Stages:
        """The sampler's stages for step `index` of the shown branch under `settings`, from the
        step's full distribution `raw` (and the unconditional one, guided), with the step's own
        uniform number: what the lab shows while paused as the sliders move."""
        rec = self.trace[index]
        settings = settings.clamped(len(raw))
        recent = self.trace.recent(index, settings.penalty_window, self.branch.prefix) if settings.penalised else None
        st = stages(stored_logits(raw), settings, rec.u, None if unconditional is None else stored_logits(unconditional), recent)
        if settings == rec.settings and not self.forced_at(index):
            st = replace(st, would_draw=rec.value)  # what was drawn, not a recomputation of it
        return st  # a forced step: what u would have drawn, which the forced value replaced

    # ------------------------------------------------------------------ requests

    def start(self, prefix, condition, seed: int, planned: int, lanes: int = 1) -> Branch:
        """A new run: one branch, "main", replacing whatever was shown."""
        self.branch = Branch("main", tuple(prefix), condition, seed, planned=planned)
        self.branches = {"main": self.branch}
        self.planned, self.lanes = planned, lanes
        self.resumable = False
        return self.branch

    def add_scored(self, scored: Branch, keep_others: bool) -> Branch:
        """A scored sequence (core.score), shown as a branch of its own beside those shown before
        when `keep_others` (the same mode and model: so they can be compared), else alone. It is
        complete: nothing to resume until a rewind lets the model run on from the real data."""
        if not keep_others or not self.has_single_run():
            self.branches = {}
        scored.name = next(f"scored {i}" for i in range(1, len(self.branches) + 2) if f"scored {i}" not in self.branches)
        scored.planned = len(scored.trace)
        self.branch = scored
        self.branches[scored.name] = scored
        self.planned, self.lanes = scored.planned, 1
        self.resumable = False
        return scored

    def scored_branches(self) -> list[Branch]:
        """The branches that read known data (Score), for comparing."""
        return [b for b in self.branches.values() if b.scored_steps]

    def open_trace(self, loaded: Branch, lanes: int = 1) -> Branch:
        """Show an opened trace's branch (`lanes` images for a grid) as it is, nothing re-computed:
        its steps, name, seed and forced values; a run it planned further, or a rewind, continues it."""
        self.branch = loaded
        self.branches = {loaded.name: loaded}
        self.planned, self.lanes = max(loaded.planned, len(loaded.trace) // lanes), lanes
        self.resumable = lanes == 1 and len(loaded.trace) < self.planned
        return loaded

    def clear(self) -> None:
        """Nothing is shown any more (another mode, or the view's content was replaced)."""
        self.branches, self.branch = {}, None
        self.planned, self.lanes = 0, 1
        self.resumable = False

    def continuation(self) -> tuple[tuple, int, dict] | None:
        """(history, steps left, forced values) to continue the shown branch from its end, or None
        when it cannot be continued."""
        if not self.resumable or self.remaining() <= 0:
            return None
        return self.branch.history(), self.remaining(), self.branch.forced

    def continued(self) -> None:
        """A run now continues the branch: it is no longer waiting to be resumed."""
        self.resumable = False

    def rewind(self, kept: int) -> int:
        """Keep the shown branch's first `kept` steps; Step or Resume regenerates from there."""
        kept = max(0, min(kept, len(self.trace)))
        self.branch.rewind(kept)
        self.resumable = kept < self.planned
        return kept

    def fork(self, index: int, value: int) -> Branch:
        """A new branch sharing steps 0 .. index-1 with the shown one, `value` forced at `index`;
        it is shown, ready to continue (the shown one is kept)."""
        name = next(f"branch {i}" for i in range(1, len(self.branches) + 2) if f"branch {i}" not in self.branches)
        self.branch = self.branch.fork(index, value, name)
        self.branches[name] = self.branch
        self.resumable = True
        return self.branch

    def choose(self, name: str) -> Branch | None:
        """Show branch `name`; None when it is already shown or unknown. An unfinished one can resume."""
        if self.branch is None or name == self.branch.name or name not in self.branches:
            return None
        self.branch = self.branches[name]
        self.planned = self.branch.planned or self.planned  # branches of other lengths (scored ones) plan their own
        self.resumable = len(self.trace) < self.planned
        return self.branch

    def rename(self, name: str) -> str | None:
        """Give the shown branch a name of its own (unique; its children follow it). Returns why
        not, or None when renamed (or nothing to do)."""
        name, old = name.strip(), self.branch.name
        if not name or name == old:
            return None
        if name in self.branches:
            return f"There is already a branch called {name}"
        self.branches = {(name if k == old else k): b for k, b in self.branches.items()}
        for b in self.branches.values():
            if b.parent == old:
                b.parent = name
        self.branch.name = name
        return None

    def stopped(self) -> None:
        """The run was stopped: a single run with steps left can be resumed."""
        self.resumable = self.has_single_run() and len(self.trace) < self.planned

    def branch_lines(self, label: Callable[[int], str] | None) -> list[tuple[str, str]]:
        """(name, line) per branch for the branch list: where it forked, what it forced, its length
        and NLL, for comparing."""
        lines = []
        for name, b in self.branches.items():
            text = name
            if b.parent is not None:
                forced = b.forced.get(len(b.prefix) + b.fork_step)
                shown = label(forced) if forced is not None and label is not None else "?"
                # an opened trace's parent stayed in the session that exported it
                parent = b.parent if b.parent in self.branches else f"{b.parent}, not open here,"
                text += f" (from {parent} at step {b.fork_step + 1}: {shown})"
            if len(b.trace):
                text += f" · {self.steps_text(len(b.trace))} · NLL {b.trace.nll():.3f}"
            lines.append((name, text))
        return lines


def steps_text(n: int) -> str:
    return "1 step" if n == 1 else f"{n:,} steps"


def load_failure(outcome: str) -> str | None:
    """Why the model did not load, when a run ended so: weights that passed the catalog's check
    but not the loading (the worker's outcome "error: ModelError: REASON"); else None."""
    return outcome.split(": ", 2)[-1] if outcome.startswith("error: ModelError") else None


def compare_replay(replayed: np.ndarray, theirs: np.ndarray, lanes: int = 1) -> ReplayCheck:
    """How the values a replay drew compare with those of the trace it replayed (`theirs`; a grid
    of `lanes` images, interleaved)."""
    n = min(len(replayed), len(theirs))
    mismatches = np.flatnonzero(replayed[:n] != theirs[:n])
    identical = np.array_equal(replayed, theirs)
    first = None if identical else (int(mismatches[0]) if len(mismatches) else n)  # else one is a prefix of the other
    return ReplayCheck(len(replayed), identical, first, lanes)
