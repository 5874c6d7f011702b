"""Rewind, branch, replay and export: runs kept as named branches over the one generation loop.

A Branch is a prefix, a condition, a seed, the values forced at some positions, and the Trace of
what was generated. Rewinding truncates the trace; continuing re-primes the model with one
teacher-forced pass over prefix + kept values (Stepper.reset) and meets the same random numbers
(step_uniform depends on seed and position only), so a rewound run regenerates exactly what it had.
A fork copies the shared steps and forces one value at the fork position. No Qt.
"""

from __future__ import annotations

import json
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from arplayground.core.files import write_text_atomically
from arplayground.core.generate import run_steps
from arplayground.core.trace import COLUMNS, Trace

FORMAT = "arplayground-trace"
# 2: plain JSON columns (or base64, compact), the planned length, a grid's lanes. 1 (base64 only) still opens.
VERSION = 2
READS_VERSIONS = (1, 2)


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
    # The first scored_steps steps are known data read teacher-forced (core.score), each forced to
    # its true value; after them the model runs on its own (free-running). 0 for a generated run.
    scored_steps: int = 0
    planned: int = 0  # steps the branch's run plans (the session shows the chosen branch's)

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
        self.scored_steps = min(self.scored_steps, len(self.trace))

    def fork(self, step: int, value: int, name: str) -> "Branch":
        """A new branch sharing steps 0 .. step-1 with this one, with `value` forced at `step`."""
        position = len(self.prefix) + step
        kept = {p: v for p, v in self.forced.items() if p < position}
        return Branch(name, self.prefix, self.condition, self.seed, self.trace.copy(step),
                      {**kept, position: int(value)}, parent=self.name, fork_step=step,
                      scored_steps=min(self.scored_steps, step), planned=self.planned)

    def continuation(self, stepper, n_steps: int, settings, chunk_steps=256):
        """Generate n_steps more from where the trace ends: StepBlocks (run_steps)."""
        return run_steps(stepper, self.history(), n_steps, settings, self.seed, self.condition, self.forced, chunk_steps)

    def record_into_trace(self, block) -> None:
        self.trace.extend(block)


def replay(stepper, branch: Branch, lanes: int = 1, cancelled=lambda: False, settings: tuple | None = None) -> np.ndarray | None:
    """Regenerate the branch from its prefix with its seed, forced values and per-step settings
    (`lanes` images at once for a grid, interleaved as its trace holds them); with the same model
    it returns exactly the values the trace holds. `settings`: each position's, when the caller
    took them from the trace before (a trace another thread may change). Steps that share one
    settings run as compiled chunks where the model has them (the same draws, faster). None once
    cancelled() turns true."""
    per_position = replay_settings(branch, lanes) if settings is None else settings
    uniform = len(set(per_position)) <= 1
    schedule = (lambda: per_position[0]) if uniform else iter(per_position).__next__
    steps = run_steps(stepper, branch.prefix, len(per_position), schedule, branch.seed, branch.condition,
                      branch.forced, per_step_settings=not uniform)
    values = []
    for block in steps:
        if cancelled():
            return None
        values.append(block.values)
    return np.concatenate(values or [np.zeros(0)]).astype(np.int32)


def replay_settings(branch: Branch, lanes: int = 1) -> tuple:
    """The settings of each position of the branch's run (a grid's lanes share each position's)."""
    return branch.trace.settings_per_step()[::lanes]


def export_trace(path, branch: Branch, model: str, card: dict, mode: str, lanes: int = 1, compact: bool = False) -> None:
    """The whole run as one JSON file: model and card, seed, prefix, condition, forced values,
    settings per step, values, top candidates (raw and after the sampler), full distributions,
    uniforms, timings; every column a plain JSON array, or base64 with `compact`. A grid's
    `lanes` images are interleaved, step by step. Written beside the target and renamed over it:
    a full disk never leaves half a trace."""
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "mode": mode,
        "model": model,
        "card": card,
        "branch": {"name": branch.name, "parent": branch.parent, "fork_step": branch.fork_step,
                   "scored_steps": branch.scored_steps, "planned": max(branch.planned, len(branch.trace) // lanes),
                   "lanes": lanes},
        "seed": branch.seed,
        "prefix": [int(v) for v in branch.prefix],
        "condition": branch.condition,
        # A scored branch's first steps are forced to the values the trace holds: not written twice.
        "forced": {str(p): int(v) for p, v in branch.forced.items() if p >= len(branch.prefix) + branch.scored_steps},
        "trace": branch.trace.to_dict(compact),
    }
    write_text_atomically(path, json.dumps(doc))


def plain_numbers(branch: Branch) -> int:
    """How many numbers a plain trace of this branch holds (what its size and its parse time follow)."""
    trace = branch.trace
    per_step = sum(int(np.prod(column.shape[1:])) for column in COLUMNS.values())
    full = (len(trace) - trace.full_from) * trace.full_values * len(trace.full_kinds)
    return len(branch.prefix) + len(trace) * per_step + full


def too_long_for_plain(branch: Branch) -> str | None:
    """Why a trace of this branch is written compact whatever was asked (a sentence for the
    person who asked for plain), or None when a plain one is within PLAIN_MAX_NUMBERS."""
    numbers = plain_numbers(branch)
    if numbers <= PLAIN_MAX_NUMBERS:
        return None
    return f"as plain JSON it would hold {numbers:,} numbers, more than {PLAIN_MAX_NUMBERS:,}"


MAX_TRACE_BYTES = 128_000_000  # the longest runs here (100,000 characters, 4 s of audio after 10 min kept) need 30 MB compact
MAX_PREFIX = 4_800_000  # values before the first step: ten minutes of audio at 8 kHz
# The most numbers a plain trace holds; a longer run is written compact. json reads and writes on
# the GUI thread and holds the GIL throughout, so this bounds the pause: measured with the bundled
# models, 1,000 characters (124,000 numbers) parse in 37 ms and write in 86; a guided 28 x 28 image
# (448,000) in 110 and 185 ms; 1 s of unguided audio (2.5 million) would take 517 and 1,078 ms,
# compact 61 ms to parse. 1,000,000: about 250 ms to parse, 400 to write; up to 8,000 characters,
# a guided image or an unguided 2 x 2 grid, 0.4 s of audio.
PLAIN_MAX_NUMBERS = 1_000_000
# Containers ([ and {) and commas a file may hold, counted in its bytes before it is parsed: JSON
# of empty lists costs ~20 times its size in Python objects, so a 50 MB file could take over 1 GB.
# A compact trace holds a few dozen containers and about one comma per kept value; a plain one a
# comma per number and a container per step and row (at most 4 per step, every step at least 30 numbers).
MAX_CONTAINERS = 1_000_000
MAX_COMMAS = MAX_PREFIX + PLAIN_MAX_NUMBERS + 2_000_000
MAX_SEED = 2**31 - 1  # the seed box's range: the seed a run can have
MAX_LANES = 64  # images in a grid a trace may hold (the window draws at most 16)
MAX_PLANNED = 10_000_000  # steps a trace's run may plan (it holds core.trace.MAX_STEPS at most)


def _whole(x, what: str, low: int = 0, high: int = 2**63 - 1) -> int:
    """x as an int when it is a JSON whole number from low to high (not a bool, not 2.5)."""
    if isinstance(x, bool) or not isinstance(x, int) or not low <= x <= high:
        raise ValueError(f"{what} must be a whole number from {low:,} to {high:,}, not {x!r}"[:200])
    return x


def _condition(x, lanes: int = 1):
    """None, a label, or a pair of labels or Nones (JSON lists become tuples); for a grid of
    `lanes` images, a list of one label or None per image. Ranges are the model's to check
    (check_replayable)."""
    def label(v) -> bool:
        return v is None or (isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2**31)

    if lanes > 1:
        if isinstance(x, list) and len(x) == lanes and all(label(v) for v in x):
            return list(x)
        raise ValueError(f"the trace's condition {x!r} is not one digit or none for each of its {lanes} images"[:200])
    if isinstance(x, list) and len(x) == 2 and all(label(v) for v in x):
        return tuple(x)
    if label(x):
        return x
    raise ValueError(f"the trace's condition {x!r} is not a digit, a (digit, speaker) pair or none"[:200])


def load_trace(path) -> tuple[Branch, dict]:
    """(branch, document without the trace) from export_trace's file; ValueError with a reason for
    anything else. Every field is checked here, so a caller that gets a branch can use it; what
    depends on the model (vocabulary, lengths, labels) is check_replayable's."""
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name} is not a regular file")
        if info.st_size > MAX_TRACE_BYTES:
            raise ValueError(f"{path.name} is {info.st_size:,} bytes: a trace is at most {MAX_TRACE_BYTES:,}")
        with open(path, "rb") as f:
            data = f.read(info.st_size + 1)  # not more: read(n) allocates n bytes up front
        if len(data) > info.st_size:
            raise ValueError(f"{path.name} grew while it was read")
        if data.count(b"[") + data.count(b"{") > MAX_CONTAINERS or data.count(b",") > MAX_COMMAS:
            raise ValueError(f"{path.name} holds far more values than a trace does")
        doc = json.loads(data.decode("utf-8"))
    except MemoryError:
        raise ValueError(f"{path.name} is too large to read here") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"{path.name} is not a readable trace file ({type(e).__name__}: {e})"[:300]) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"{path.name} is not an arplayground trace")
    if doc.get("version") not in READS_VERSIONS:
        raise ValueError(f"{path.name} is trace version {doc.get('version')!r}; this app reads versions "
                         f"{', '.join(map(str, READS_VERSIONS))}"[:300])
    try:
        return _branch_from(doc)
    except ValueError as e:
        raise ValueError(f"{path.name} is not a usable trace: {e}") from None
    except Exception as e:  # anything a checker above missed is still a refusal, never a crash
        raise ValueError(f"{path.name} is not a usable trace ({type(e).__name__}: {e})"[:300]) from None


def _branch_from(doc: dict) -> tuple[Branch, dict]:
    for key, kind in (("mode", str), ("model", str), ("card", dict), ("branch", dict), ("prefix", list),
                      ("forced", dict), ("trace", dict)):
        if not isinstance(doc.get(key), kind):
            raise ValueError(f"its {key!r} is missing or not a {kind.__name__}")
    info = doc["branch"]
    name, parent = info.get("name"), info.get("parent")
    if not isinstance(name, str) or not 0 < len(name) <= 200 or not (parent is None or isinstance(parent, str)):
        raise ValueError("its branch has no usable name")
    seed = _whole(doc.get("seed"), "the seed", 0, MAX_SEED)
    if len(doc["prefix"]) > MAX_PREFIX:
        raise ValueError(f"its prefix holds {len(doc['prefix']):,} values, more than {MAX_PREFIX:,}")
    prefix = tuple(_whole(v, "a prefix value", 0, 2**31 - 1) for v in doc["prefix"])
    trace = Trace.from_dict(doc["trace"])
    end = len(prefix) + len(trace)
    forced = {}
    for p, v in doc["forced"].items():
        position = int(p) if isinstance(p, str) and p.isdecimal() and len(p) < 20 else -1
        if not len(prefix) <= position < end:
            raise ValueError(f"a forced position {p!r} is not one of its steps"[:200])
        forced[position] = _whole(v, "a forced value", 0, 2**31 - 1)
    fork_step = _whole(info.get("fork_step", 0), "the fork step", 0, len(trace))
    scored = _whole(info.get("scored_steps", 0), "the scored steps", 0, len(trace))
    lanes = _whole(info.get("lanes", 1), "the number of images", 1, MAX_LANES)  # version 1: one sequence
    if lanes > 1 and (len(trace) % lanes or forced or scored or fork_step):
        raise ValueError(f"its {len(trace):,} steps are not a grid of {lanes} images drawn together")
    # Version 1 kept no plan: the run planned what it holds.
    planned = _whole(info.get("planned", len(trace) // lanes), "the planned steps", len(trace) // lanes, MAX_PLANNED)
    real = trace.values[:scored]
    forced.update({len(prefix) + i: int(v) for i, v in enumerate(real)})
    branch = Branch(name, prefix, _condition(doc.get("condition"), lanes), seed, trace, forced, parent, fork_step,
                    scored, planned)
    meta = {k: v for k, v in doc.items() if k != "trace"}
    meta["lanes"] = lanes
    return branch, meta


def check_replayable(branch: Branch, vocab_size: int, max_prefix: int, max_steps: int, labels: tuple = (),
                     lanes: int = 1) -> None:
    """ValueError unless a model with vocab_size values can replay this branch (a grid of `lanes`
    images): every value it would take (prefix, forced, drawn) in range, lengths within the mode's
    (max_prefix values before the first step, max_steps steps planned), and each of the
    condition's labels below its count in `labels` (None = any). Run before anything changes, and
    before any value reaches compiled code."""
    if len(branch.prefix) > max_prefix:
        raise ValueError(f"it starts with {len(branch.prefix):,} kept values; this model takes at most {max_prefix:,}")
    if max(branch.planned, len(branch.trace) // lanes) > max_steps:
        raise ValueError(f"it plans {max(branch.planned, len(branch.trace) // lanes):,} steps; this model's runs are at most {max_steps:,}")
    if lanes > 1:  # a grid: one label per image, of the model's one kind of label
        if len(labels) != 1:
            raise ValueError(f"it is a grid of {lanes} images, which this model does not draw")
        for label in branch.condition:
            if label is not None and not 0 <= label < labels[0]:
                raise ValueError(f"its condition {branch.condition!r} names a label this model does not have"[:200])
    outside = [v for v in (*branch.prefix, *branch.forced.values()) if not 0 <= v < vocab_size]
    if outside:
        raise ValueError(f"it holds the value {outside[0]:,}, outside the model's {vocab_size} values")
    problem = branch.trace.values_problem(vocab_size)
    if problem:
        raise ValueError(problem)
    if lanes > 1:
        return
    condition = () if branch.condition is None and not labels else (
        branch.condition if isinstance(branch.condition, tuple) else (branch.condition,))
    if len(condition) != len(labels):
        raise ValueError(f"its condition {branch.condition!r} is not one this model takes")
    for label, count in zip(condition, labels):
        if label is not None and not 0 <= label < count:
            raise ValueError(f"its condition {branch.condition!r} names a label this model does not have")
