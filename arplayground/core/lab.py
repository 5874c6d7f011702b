"""Rewind, branch, replay and export: runs kept as named branches over the one generation loop.

A Branch is a prefix, a condition, a seed, the values forced at some positions, and the Trace of
what was generated. Rewinding truncates the trace; continuing re-primes the model with one
teacher-forced pass over prefix + kept values (Stepper.reset) and meets the same random numbers
(step_uniform depends on seed and position only), so a rewound run regenerates exactly what it had.
A fork copies the shared steps and forces one value at the fork position. No Qt.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arplayground.core.generate import run_steps
from arplayground.core.trace import Trace

FORMAT = "arplayground-trace"
VERSION = 1


@dataclass
class Branch:
    name: str
    prefix: tuple  # the given start: prompt characters, kept pixels, kept audio
    condition: object  # digit, (digit, speaker) or None; JSON-able
    seed: int
    trace: Trace = field(default_factory=Trace)  # the generated steps after the prefix
    forced: dict = field(default_factory=dict)  # position -> value taken instead of drawn
    parent: str | None = None
    fork_step: int = 0  # steps shared with the parent

    @property
    def values(self) -> np.ndarray:
        return self.trace.values

    def history(self, steps: int | None = None) -> tuple:
        """prefix + the first `steps` generated values (all by default): what reset() re-primes on."""
        values = self.trace.values if steps is None else self.trace.values[:steps]
        return tuple(self.prefix) + tuple(int(v) for v in values)

    def rewind(self, steps: int) -> None:
        """Keep the first `steps` generated steps; later forced values are dropped with them."""
        self.trace.truncate(steps)
        end = len(self.prefix) + len(self.trace)
        self.forced = {p: v for p, v in self.forced.items() if p < end}

    def fork(self, step: int, value: int, name: str) -> "Branch":
        """A new branch sharing steps 0 .. step-1 with this one, with `value` forced at `step`."""
        position = len(self.prefix) + step
        kept = {p: v for p, v in self.forced.items() if p < position}
        return Branch(name, self.prefix, self.condition, self.seed, self.trace.copy(step),
                      {**kept, position: int(value)}, parent=self.name, fork_step=step)

    def continuation(self, stepper, n_steps: int, settings, chunk_steps=256):
        """Generate n_steps more from where the trace ends: Steps, or Chunks for a compiled stepper
        (the worker's own choice, run_steps)."""
        return run_steps(stepper, self.history(), n_steps, settings, self.seed, self.condition, self.forced, chunk_steps)

    def record_into_trace(self, step_or_chunk) -> None:
        if hasattr(step_or_chunk, "columns"):
            self.trace.extend_chunk(step_or_chunk)
        else:
            self.trace.append(step_or_chunk.record)


def replay(stepper, branch: Branch) -> np.ndarray:
    """Regenerate the branch from its prefix with its seed, forced values and per-step settings,
    step by step (as the app replays an opened trace); with the same model it returns exactly the
    values the trace holds."""
    schedule = iter(branch.trace.settings_per_step())
    steps = run_steps(stepper, branch.prefix, len(branch.trace), schedule.__next__, branch.seed, branch.condition,
                      branch.forced, per_step_settings=True)
    return np.array([s.record.value for s in steps], np.int32)


def export_trace(path, branch: Branch, model: str, card: dict, mode: str) -> None:
    """The whole run as one JSON file: model and card, seed, prefix, condition, forced values,
    settings per step, values, top candidates (raw and after the sampler), uniforms, timings."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "mode": mode,
        "model": model,
        "card": card,
        "branch": {"name": branch.name, "parent": branch.parent, "fork_step": branch.fork_step},
        "seed": branch.seed,
        "prefix": [int(v) for v in branch.prefix],
        "condition": branch.condition,
        "forced": {str(p): int(v) for p, v in branch.forced.items()},
        "trace": branch.trace.to_dict(),
    }
    Path(path).write_text(json.dumps(doc))


def load_trace(path) -> tuple[Branch, dict]:
    """(branch, document without the trace) from export_trace's file; ValueError with a reason."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{Path(path).name} is not a readable trace file ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{Path(path).name} is not an arplayground trace")
    if doc.get("version") != VERSION:
        raise ValueError(f"{Path(path).name} is trace version {doc.get('version')}; this app reads version {VERSION}")
    condition = doc["condition"]
    if isinstance(condition, list):
        condition = tuple(condition)
    info = doc["branch"]
    branch = Branch(info["name"], tuple(doc["prefix"]), condition, int(doc["seed"]), Trace.from_dict(doc["trace"]),
                    {int(p): int(v) for p, v in doc["forced"].items()}, info.get("parent"), int(info.get("fork_step", 0)))
    meta = {k: v for k, v in doc.items() if k != "trace"}
    return branch, meta
