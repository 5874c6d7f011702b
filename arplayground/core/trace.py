"""The record of a run: one StepRecord per generated value, stored compactly in a Trace.

The Trace keeps StepRecord's fields column by column in numpy arrays (top candidates in float16),
and every step's full distribution (float16) for the newest FULL_STEPS steps, so that even
hundreds of thousands of steps stay small; it is what the views draw, and what rewind, branching
and export build on.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass

import numpy as np

from arplayground.core.sampling import Sample, SamplerSettings, entropy, sampled_from

TOP_CANDIDATES = 16  # candidates kept per step: enough for the panel's bars and a hover tooltip
MAX_STEPS = 1_000_000  # the most steps a trace file may hold (about 180 MB in memory): ten times the longest run here
# Steps whose full distributions a trace keeps: 60 s of audio at 8 kHz. float16, 2 bytes a value:
# 512 bytes a step at 256 values (twice that guided), 245.8 MB for 60 s of audio (491.5 MB guided);
# 130 bytes a text step. Older steps keep their top candidates only.
FULL_STEPS = 480_000
MAX_VALUES = 65_536  # the most values a trace file's full distributions may hold per step
# The per-step columns grow by doubling up to this many steps, then by new segments of as many,
# never by copying what they hold: a trace grows on the GUI thread, and doubling at 262,144 steps
# (a long audio trace replayed) copied 46 MB there: 70 ms on a quiet machine, 190 ms on a busy one.
SEGMENT_STEPS = 65_536
_HALF_NORMAL = 2.0**-14  # float16's smallest normal number; below it float16 counts in steps of 2**-24


def as_float16(x) -> np.ndarray:
    """x.astype(np.float16), bit for bit, about ten times faster on probabilities. numpy converts
    a value whose float16 is subnormal or zero one at a time, raising the underflow flag (about
    75 ns each, 30 times its normal path), and most of a peaked distribution's values are that
    small: 5 ms for a chunk of 250 x 256, longer than drawing it. A float16 below 2**-14 is
    k * 2**-24, so here k is x * 2**24 (exact: a power of two) rounded half to even, as numpy rounds;
    the rest, NaN and inf included, go through numpy's normal path."""
    x = np.asarray(x)
    if x.dtype == np.float16:
        return x
    magnitude = np.abs(x)
    small = magnitude < _HALF_NORMAL  # False for NaN
    normal = np.where(small, 0, x).astype(np.float16).view(np.uint16)
    steps = np.rint(np.where(small, magnitude, 0) * 2.0**24).astype(np.uint16)  # 0 .. 1024 (1024: 2**-14 itself)
    sign = np.signbit(x).astype(np.uint16) << 15
    return np.where(small, steps | sign, normal).view(np.float16)


@dataclass(frozen=True)
class StepRecord:
    position: int  # index of this value in the whole sequence (prefix included)
    value: int  # the drawn value
    prob: float  # its probability under the model's raw distribution
    sampled_prob: float  # its probability in the distribution actually sampled from
    rank: int  # 0 = the model's most likely value
    entropy: float  # of the raw distribution, nats
    kept: int  # values the sampler left with non-zero probability
    top_values: np.ndarray  # (K,) int: the raw distribution's most likely values, best first
    top_raw: np.ndarray  # (K,) float: their raw probabilities
    top_sampled: np.ndarray  # (K,) float: their probabilities after the sampler's filters
    settings: SamplerSettings
    u: float  # the uniform number that drew the value
    seconds: float  # compute time of this step (logits + sampling + push)

    @property
    def surprisal(self) -> float:
        """-log p of the drawn value under the model, nats: the step's share of the NLL."""
        return float(-np.log(max(self.prob, 1e-300)))

    @staticmethod
    def from_sample(position: int, smp: Sample, settings: SamplerSettings, seconds: float) -> "StepRecord":
        raw = smp.raw_probs
        k = min(TOP_CANDIDATES, len(raw))
        top = (-raw).argsort(kind="stable")[:k]
        p = raw[smp.value]
        return StepRecord(
            position=position,
            value=smp.value,
            prob=float(p),
            sampled_prob=float(smp.probs[smp.value]),
            rank=int(np.count_nonzero(raw > p)),
            entropy=entropy(raw),
            kept=int(np.count_nonzero(smp.probs)),
            top_values=top.astype(np.int32),
            top_raw=raw[top].astype(np.float32),
            top_sampled=smp.probs[top].astype(np.float32),
            settings=settings,
            u=smp.u,
            seconds=seconds,
        )


def _empty_columns(capacity: int) -> dict[str, np.ndarray]:
    """StepRecord's fields as zeroed columns of `capacity` rows (top candidates in float16)."""
    k = TOP_CANDIDATES
    return {
        "position": np.zeros(capacity, np.int64),
        "value": np.zeros(capacity, np.int32),
        "prob": np.zeros(capacity, np.float32),
        "sampled_prob": np.zeros(capacity, np.float32),
        "rank": np.zeros(capacity, np.int32),
        "entropy": np.zeros(capacity, np.float32),
        "kept": np.zeros(capacity, np.int32),
        "top_values": np.zeros((capacity, k), np.int32),
        "top_raw": np.zeros((capacity, k), np.float16),
        "top_sampled": np.zeros((capacity, k), np.float16),
        "top_count": np.zeros(capacity, np.int16),
        "settings": np.zeros(capacity, np.int32),
        "u": np.zeros(capacity, np.float64),
        "seconds": np.zeros(capacity, np.float32),
    }


COLUMNS = _empty_columns(0)  # each per-step column's dtype and row shape


class Trace:
    """Columnar store of StepRecords, owned by one thread. The columns live in segments: the first
    grows by doubling up to SEGMENT_STEPS, later ones hold SEGMENT_STEPS each (no growth copies)."""

    def __init__(self, capacity: int = 1024):
        self._n = 0
        self._settings: list[SamplerSettings] = []
        self._settings_index: dict[SamplerSettings, int] = {}
        # Full distributions: "raw" (and "unconditional", once a step is guided), float16, step t in
        # row t % ring of a ring of FULL_STEPS rows (whole segments, allocated as first needed);
        # past it the oldest are overwritten. Steps full_from .. n-1 have theirs.
        self._full: dict[str, list] = {}  # name -> the ring's segments, (segment, V) float16 each, or None
        self._full_from = 0
        self._values = self._seg = self._ring = 0
        # The per-step columns: segments (dicts of columns), the first step of each, and the rows
        # they hold together.
        self._segments = [_empty_columns(max(1, capacity))]
        self._starts = [0]
        self._capacity = max(1, capacity)

    def _grow(self, needed: int) -> None:
        """Room for `needed` steps: the one segment doubled while it is under SEGMENT_STEPS (small
        traces stay one array each, so column() is a view), else new segments."""
        while self._capacity < needed:
            if len(self._segments) == 1 and self._capacity < SEGMENT_STEPS:
                fresh = _empty_columns(min(SEGMENT_STEPS, 2 * self._capacity))
                for name, col in self._segments[0].items():
                    fresh[name][: self._n] = col[: self._n]
                self._segments[0] = fresh
                self._capacity = len(fresh["value"])
            else:
                self._segments.append(_empty_columns(SEGMENT_STEPS))
                self._starts.append(self._capacity)
                self._capacity += SEGMENT_STEPS

    def _pieces(self, lo: int, hi: int):
        """(segment, a, b) for each segment holding some of steps lo .. hi-1 (its rows a .. b-1), in order."""
        k = bisect.bisect_right(self._starts, lo) - 1
        while lo < hi:
            start, segment = self._starts[k], self._segments[k]
            m = min(hi, start + len(segment["value"])) - lo
            yield segment, lo - start, lo - start + m
            lo += m
            k += 1

    def _rows(self, name: str, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Column `name` of steps lo .. hi-1 (default: all): a view where one segment holds them, else a copy."""
        hi = self._n if hi is None else hi
        parts = [segment[name][a:b] for segment, a, b in self._pieces(lo, hi)]
        if len(parts) == 1:
            return parts[0]
        if not parts:
            return self._segments[0][name][:0]
        return np.concatenate(parts)

    def _write(self, name: str, lo: int, data: np.ndarray) -> None:
        """Rows lo .. lo + len(data) - 1 of column `name` (within capacity); 2-D data may hold
        fewer columns than the column (top candidates of a smaller vocabulary)."""
        done = 0
        for segment, a, b in self._pieces(lo, lo + len(data)):
            column = segment[name]
            if column.ndim == 2:
                column[a:b, : data.shape[1]] = data[done : done + b - a]
            else:
                column[a:b] = data[done : done + b - a]
            done += b - a

    def _step(self, i: int) -> tuple[dict, int]:
        """The segment holding step i, and its row there."""
        k = bisect.bisect_right(self._starts, i) - 1
        return self._segments[k], i - self._starts[k]

    def __len__(self) -> int:
        return self._n

    def truncate(self, n: int) -> None:
        """Keep the first n steps (rewind); the rest is forgotten."""
        self._n = max(0, min(n, self._n))
        self._full_from = min(self._full_from, self._n)

    def copy(self, n: int | None = None) -> "Trace":
        """A new trace holding the first n steps (all by default): a branch's shared history."""
        n = self._n if n is None else max(0, min(n, self._n))
        out = Trace(capacity=max(16, n))
        for name in COLUMNS:
            out._write(name, 0, self._rows(name, 0, n))
        out._settings, out._settings_index = list(self._settings), dict(self._settings_index)
        out._n = n
        lo = min(self._full_from, n)
        if self._full and n > lo:
            out._n, out._full_from = lo, lo
            out._write_full(lo, {name: self._full_rows(name, lo, n) for name in self._full})
            out._n = n
        else:
            out._full_from = n
        return out

    # ------------------------------------------------------------------ full distributions

    def _full_rows(self, name: str, lo: int, hi: int) -> np.ndarray:
        """Rows of steps lo .. hi-1 (all within full_from .. n) of full column `name`, in step order."""
        segments, size = self._full[name], self._seg
        out = np.zeros((hi - lo, self._values), np.float16)
        t = lo
        while t < hi:
            r = t % self._ring
            k, at = divmod(r, size)
            m = min(hi - t, size - at)
            if segments[k] is not None:
                out[t - lo : t - lo + m] = segments[k][at : at + m]
            t += m
        return out

    def _write_full(self, start: int, columns: dict) -> None:
        """Full distributions of steps start .. start + n - 1 (the trace's newest, self._n == start).

        Rows live in a ring of FULL_STEPS rows (rounded up to whole segments), made of segments
        allocated as they are first needed: no growth copies (a trace grows on the GUI thread)."""
        n = len(columns["raw"])
        end = start + n
        if not self._full:
            self._full_from = start  # the steps before (an opened trace without them) keep their top candidates
            self._values = columns["raw"].shape[1]
            self._seg = min(8192, FULL_STEPS)
            self._ring = -(-FULL_STEPS // self._seg) * self._seg
        assert columns["raw"].shape[1] == self._values, "one vocabulary per trace"
        for name in columns:
            if name not in self._full:  # the unconditional one starts at the run's first guided step
                self._full[name] = [None] * (self._ring // self._seg)
        keep = min(n, self._ring)  # a block longer than the ring keeps its newest steps
        size, t = self._seg, end - keep
        while t < end:
            k, at = divmod(t % self._ring, size)
            m = min(end - t, size - at)
            for name, data in columns.items():
                segments = self._full[name]
                if segments[k] is None:
                    segments[k] = np.zeros((size, self._values), np.float16)
                segments[k][at : at + m] = as_float16(data[t - start : t - start + m])
            t += m
        self._full_from = max(self._full_from, end - self._ring)

    @property
    def full_from(self) -> int:
        """The first step whose full distributions the trace keeps (steps before keep their top candidates)."""
        return self._full_from if self._full else self._n

    @property
    def full_values(self) -> int:
        """Values in each kept full distribution (the vocabulary's size; 0 with none kept)."""
        return self._values if self._full else 0

    @property
    def full_kinds(self) -> tuple:
        """The full distributions kept: "raw", and "unconditional" once a step was guided."""
        return tuple(self._full)

    def has_full(self, i: int) -> bool:
        return bool(self._full) and self._full_from <= i < self._n

    def distributions(self, i: int, prefix=()):
        """(raw, sampled, unconditional or None) float64 of step i, or None when only its top
        candidates are kept. sampled is recomputed from raw, the step's settings and kept count
        (core.sampling.sampled_from); unconditional is there where the step was guided. prefix:
        the values before the trace's first step, which a repetition penalty's window may reach."""
        if i < 0:
            i += self._n
        if not self.has_full(i):
            return None
        segment, row = self._step(i)
        settings = self._settings[int(segment["settings"][row])]
        raw = self._full_rows("raw", i, i + 1)[0].astype(np.float64)
        unconditional = None
        if settings.guided and "unconditional" in self._full:
            unconditional = self._full_rows("unconditional", i, i + 1)[0].astype(np.float64)
        return raw, sampled_from(raw, unconditional, settings, int(segment["kept"][row]),
                                 self.recent(i, settings.penalty_window, prefix) if settings.penalised else None), unconditional

    def recent(self, i: int, window: int, prefix=()) -> list:
        """The last `window` values before step i: the trace's own, after the prefix's."""
        before = self._rows("value", max(0, i - window), i).tolist()
        return (list(prefix) + before)[-window:] if len(before) < window else before

    def full_column(self, name: str, lo: int, hi: int) -> np.ndarray | None:
        """Full column `name` ("raw" or "unconditional") of steps lo .. hi-1, (hi - lo, V) float16,
        or None unless the trace keeps it for all of them (for views drawing many steps at once)."""
        if name not in self._full or not (self._full_from <= lo <= hi <= self._n):
            return None
        return self._full_rows(name, lo, hi)

    def extend(self, block) -> None:
        """The trace's one writer: the steps of a core.generate.StepBlock (one position of the
        per-step loop, or a compiled chunk), column by column, without a StepRecord per step."""
        position, columns, us, settings, seconds = block.position, block.columns, block.us, block.settings, block.seconds
        n = len(us)
        self._grow(self._n + n)
        i = self._n
        k = columns["top_values"].shape[1]
        self._write("position", i, position + np.arange(n) // block.lanes)
        for name in ("value", "prob", "sampled_prob", "rank", "entropy", "kept", "top_values"):
            self._write(name, i, columns[name])
        for name in ("top_raw", "top_sampled"):  # float16 columns
            self._write(name, i, as_float16(columns[name]))
        self._write("top_count", i, np.full(n, k, np.int16))
        if settings not in self._settings_index:
            self._settings_index[settings] = len(self._settings)
            self._settings.append(settings)
        self._write("settings", i, np.full(n, self._settings_index[settings], np.int32))
        self._write("u", i, us)
        self._write("seconds", i, np.full(n, seconds / n, np.float32))
        if "raw" in columns:
            self._write_full(i, {name: columns[name] for name in ("raw", "unconditional") if name in columns})
        self._n += n

    def __getitem__(self, i: int) -> StepRecord:
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        c, i = self._step(i)
        k = int(c["top_count"][i])
        return StepRecord(
            position=int(c["position"][i]),
            value=int(c["value"][i]),
            prob=float(c["prob"][i]),
            sampled_prob=float(c["sampled_prob"][i]),
            rank=int(c["rank"][i]),
            entropy=float(c["entropy"][i]),
            kept=int(c["kept"][i]),
            top_values=c["top_values"][i, :k].copy(),
            top_raw=c["top_raw"][i, :k].astype(np.float32),
            top_sampled=c["top_sampled"][i, :k].astype(np.float32),
            settings=self._settings[int(c["settings"][i])],
            u=float(c["u"][i]),
            seconds=float(c["seconds"][i]),
        )

    @property
    def values(self) -> np.ndarray:
        return np.array(self._rows("value"))

    def settings_per_step(self) -> tuple:
        """The sampler settings of every step, in order (what a replay applies)."""
        return tuple(self._settings[int(i)] for i in self._rows("settings"))

    def column(self, name: str) -> np.ndarray:
        """One per-step field for all steps, for plots and drawing: a view (valid until the next
        append) up to SEGMENT_STEPS steps, a copy past them. Read it, never write to it."""
        return self._rows(name)

    def nll(self) -> float:
        """Mean negative log-likelihood of the drawn values under the model, nats per step."""
        if self._n == 0:
            return float("nan")
        p = self._rows("prob").astype(np.float64)
        return float(-np.mean(np.log(np.maximum(p, 1e-300))))

    def nbytes(self) -> int:
        kept = self._n - self.full_from
        return (sum(self._n * col.itemsize * int(np.prod(col.shape[1:])) for col in COLUMNS.values())
                + sum(kept * self._values * 2 for _ in self._full))

    def to_dict(self, compact: bool = False) -> dict:
        """The steps as JSON that from_dict() restores bit for bit: every column a plain JSON array
        (nested for the top candidates and full distributions, each float the shortest decimal that
        reads back as the float16 or float32 kept), or with `compact` base64 of its little-endian
        bytes (about a third of the size); the settings table; what the file's distributions hold."""
        encode = _base64_column if compact else _plain_column
        columns = {name: encode(self._rows(name)) for name in COLUMNS}
        doc = {"steps": self._n, "encoding": "base64" if compact else "plain", "distributions": self.distributions_text(),
               "about": COLUMN_ABOUT, "settings": [s.to_dict() for s in self._settings], "columns": columns}
        if self._full:  # steps full_from .. n-1: their full distributions, float16, in step order
            lo = self.full_from
            for name in self._full:
                columns[name] = encode(self._full_rows(name, lo, self._n))
            doc["full_from"] = lo
        return doc

    def distributions_text(self) -> str:
        """Which steps' full distributions the trace holds, in words (a trace file says it)."""
        top = f"top {TOP_CANDIDATES} only"
        if not self._full or self.full_from >= self._n:
            return top
        return "full" if self.full_from == 0 else f"full from step {self.full_from + 1:,}; {top} before"

    @staticmethod
    def from_dict(d) -> "Trace":
        """The trace to_dict() wrote (plain or compact, or version 1's base64), every column checked
        (name, dtype, shape, exact size) before any array is decoded or allocated; ValueError with
        the reason for anything else."""
        if not isinstance(d, dict) or not isinstance(d.get("columns"), dict) or not isinstance(d.get("settings"), list):
            raise ValueError("the trace has no columns or settings table")
        n = d.get("steps")
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_STEPS:
            raise ValueError(f"the trace's step count must be a whole number from 0 to {MAX_STEPS:,}, not {n!r}")
        template = COLUMNS  # each column's dtype and row shape
        expected, given = set(template), set(d["columns"]) - (FULL_COLUMNS if "raw" in d["columns"] else {"raw"})
        if given != expected:
            missing, unknown = sorted(expected - given), sorted(given - expected)
            raise ValueError("trace columns: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
        layouts = {}
        for name in template:  # every column's size checked before anything is decoded or allocated
            dtype, shape = template[name].dtype.newbyteorder("<"), [n, *template[name].shape[1:]]
            _check_column(name, d["columns"][name], dtype, shape)
            layouts[name] = dtype, shape
        full = _full_layouts(d, n)  # the full distributions, optional (traces saved before them have none)
        trace = Trace(capacity=max(16, n))
        for name, (dtype, shape) in layouts.items():
            trace._write(name, 0, _decode_column(name, d["columns"][name], dtype, shape))
        full_from, full_columns = full if full is not None else (n, {})
        for name, shape in full_columns.items():
            data = _decode_column(name, d["columns"][name], np.dtype("<f2"), shape)
            if not np.isfinite(data).all() or (data < 0).any():
                raise ValueError(f"trace column {name!r} holds values that are not probabilities")
            full_columns[name] = data
        if len(d["settings"]) > max(n, 1):
            raise ValueError("the trace holds more settings than steps")
        trace._settings = [SamplerSettings.from_dict(s) for s in d["settings"]]
        trace._settings_index = {s: i for i, s in enumerate(trace._settings)}
        trace._n = n  # for the checks below (_rows reads the first n)
        c = {name: trace._rows(name) for name in ("settings", "top_count", "prob", "sampled_prob", "entropy", "u",
                                                   "seconds", "top_raw", "top_sampled")}
        if n and not (0 <= int(c["settings"][:n].min()) and int(c["settings"][:n].max()) < len(trace._settings)):
            raise ValueError("trace steps refer to settings the file does not hold")
        if n and not (0 <= int(c["top_count"][:n].min()) and int(c["top_count"][:n].max()) <= TOP_CANDIDATES):
            raise ValueError("trace steps hold an impossible number of top candidates")
        for name in ("prob", "sampled_prob", "entropy", "u", "seconds", "top_raw", "top_sampled"):
            if not np.isfinite(c[name][:n]).all():
                raise ValueError(f"trace column {name!r} holds values that are not finite numbers")
        trace._n = full_from
        if full_columns and n > full_from:
            trace._write_full(full_from, full_columns)
        trace._full_from = full_from
        trace._n = n
        return trace

    def values_problem(self, vocab_size: int) -> str | None:
        """Why these steps cannot be a run of a model with vocab_size values (a drawn value or a top
        candidate outside 0 .. vocab_size - 1), or None: checked before a replay reaches compiled code."""
        n = self._n
        c = {name: self._rows(name) for name in ("value", "top_values", "rank", "kept")}
        for name, what in (("value", "drawn values"), ("top_values", "top candidates"), ("rank", "ranks")):
            column = c[name][:n]
            if n and not (column.min() >= 0 and column.max() < vocab_size):
                return f"its {what} leave the model's {vocab_size} values"
        if n and not (c["kept"][:n].min() >= 0 and c["kept"][:n].max() <= vocab_size):
            return f"its kept counts leave the model's {vocab_size} values"
        if self._full and self._values != vocab_size:
            return f"its full distributions are over {self._values:,} values, not the model's {vocab_size}"
        return None


FULL_COLUMNS = {"raw", "unconditional"}  # optional in a trace file: the steps' full distributions

# What each column of a trace file holds, written into the file for a person or a notebook reading it.
COLUMN_ABOUT = {
    "position": "index of the step's value in the whole sequence, the prefix included",
    "value": "the value drawn: text, the character's index in the vocabulary; image, a grey level 0-255; audio, an 8-bit mu-law level",
    "prob": "its probability under the model's raw distribution",
    "sampled_prob": "its probability in the distribution sampled from (after temperature, top-k and the other stages)",
    "rank": "how many values the model found more likely than the drawn one (0: it was the most likely)",
    "entropy": "of the raw distribution, in nats",
    "kept": "how many values the sampler left with a non-zero probability",
    "top_values": f"the model's {TOP_CANDIDATES} most likely values, best first (the first top_count of each row)",
    "top_raw": "their raw probabilities (float16)",
    "top_sampled": "their probabilities after the sampler (float16)",
    "top_count": f"how many of the {TOP_CANDIDATES} are candidates (fewer for a smaller vocabulary)",
    "settings": "which entry of the settings table the step was drawn with",
    "u": "the uniform number in [0, 1) that drew the value",
    "seconds": "compute time of the step, in seconds",
    "raw": "every value's raw probability, one row per step from step full_from (0-based) on (float16)",
    "unconditional": "the same without the condition, for guided steps (float16)",
    "lanes": "a grid's images are interleaved: step i is image i % lanes",
}


@functools.cache
def _float16_decimals() -> np.ndarray:
    """Every float16, indexed by its bits, as the float64 of its shortest decimal (numpy's str):
    what a plain trace writes for it, which reads back as the same float16."""
    halves = np.arange(2**16, dtype=np.uint16).view(np.float16)
    return np.array([float(str(h)) for h in halves])


def _plain_column(col: np.ndarray) -> list:
    """A column as nested lists of JSON numbers: ints as they are, float64 exactly (json writes
    the shortest repr), float16 and float32 as their shortest decimals, so that each reads back
    (as float64, cast to the column's dtype) as the same number, bit for bit."""
    if col.dtype == np.float16:
        return _float16_decimals()[np.ascontiguousarray(col).view(np.uint16)].tolist()
    if col.dtype == np.float32:  # str() of a numpy float32 is its shortest decimal: 0.3, not 0.30000001192092896
        return np.array([float(str(v)) for v in col.reshape(-1)], np.float64).reshape(col.shape).tolist()
    return col.tolist()


def _base64_column(col: np.ndarray) -> dict:
    """A column as base64 of its little-endian bytes, with its dtype and shape (a compact trace)."""
    import base64

    data = np.ascontiguousarray(col).astype(col.dtype.newbyteorder("<"), copy=False)
    return {"dtype": data.dtype.str, "shape": list(data.shape), "base64": base64.b64encode(data.tobytes()).decode()}


def _check_column(name: str, spec, dtype: np.dtype, shape: list) -> None:
    """A trace file's column `name` can hold `shape` of `dtype`, judged before anything is decoded:
    a plain list of shape[0] rows, or base64 of exactly that many bytes."""
    if isinstance(spec, list):
        if len(spec) != shape[0]:
            raise ValueError(f"trace column {name!r} holds {len(spec):,} rows, not {shape[0]:,}")
        return
    if not isinstance(spec, dict) or not isinstance(spec.get("base64"), str):
        raise ValueError(f"trace column {name!r} has no data")
    if spec.get("dtype") != dtype.str or spec.get("shape") != shape:
        raise ValueError(f"trace column {name!r} must be {dtype.str} of shape {shape}, "
                         f"not {spec.get('dtype')!r} of shape {spec.get('shape')!r}"[:300])
    if len(spec["base64"]) != 4 * ((int(np.prod(shape)) * dtype.itemsize + 2) // 3):
        raise ValueError(f"trace column {name!r} does not hold {shape[0]} steps")


def _decode_column(name: str, spec, dtype: np.dtype, shape: list) -> np.ndarray:
    """Column `name` of a trace file (checked by _check_column) as an array of `dtype` and `shape`."""
    import base64
    import binascii

    if isinstance(spec, dict):
        try:
            data = np.frombuffer(base64.b64decode(spec["base64"], validate=True), dtype=dtype)
        except (binascii.Error, ValueError):
            raise ValueError(f"trace column {name!r} is not valid base64") from None
        if data.size != int(np.prod(shape)):
            raise ValueError(f"trace column {name!r} does not hold {shape[0]} steps")
        return data.reshape(shape).astype(dtype.newbyteorder("="))
    if shape[0] == 0:
        return np.zeros(shape, dtype)
    try:
        data = np.array(spec)
    except (ValueError, TypeError):  # rows of different lengths
        data = None
    if data is None or list(data.shape) != shape:
        raise ValueError(f"trace column {name!r} must be a table of shape {shape}"[:200])
    if data.dtype.kind not in ("iu" if dtype.kind == "i" else "iuf"):
        raise ValueError(f"trace column {name!r} must hold {'whole ' if dtype.kind == 'i' else ''}numbers only")
    if dtype.kind == "i" and data.size and not (np.iinfo(dtype).min <= data.min() and data.max() <= np.iinfo(dtype).max):
        raise ValueError(f"trace column {name!r} holds numbers beyond {dtype.name}")
    with np.errstate(over="ignore"):  # a float beyond float16 becomes inf, which the finite checks refuse
        return data.astype(dtype.newbyteorder("="))


def _full_layouts(d: dict, n: int):
    """(full_from, {name: shape}) of a trace file's full distributions, every size checked before
    anything is decoded; None when the file has none (saved before traces kept them)."""
    columns = d["columns"]
    if "raw" not in columns:
        if "unconditional" in columns or "full_from" in d:
            raise ValueError("trace columns: unconditional distributions without raw ones")
        return None
    full_from = d.get("full_from")
    if isinstance(full_from, bool) or not isinstance(full_from, int) or not max(0, n - FULL_STEPS) <= full_from <= n:
        raise ValueError(f"the trace's full_from must be a whole number from {max(0, n - FULL_STEPS):,} to {n:,}, not {full_from!r}"[:200])
    spec, rows = columns["raw"], n - full_from
    if isinstance(spec, list):  # plain: the row length is the vocabulary's (any row; their lengths are checked whole)
        values = len(spec[0]) if spec and isinstance(spec[0], list) else (1 if not spec else None)
        shape = [len(spec), values]
    else:
        shape = spec.get("shape") if isinstance(spec, dict) else None
        values = shape[1] if isinstance(shape, list) and len(shape) == 2 else None
    if isinstance(values, bool) or not isinstance(values, int) or not 1 <= values <= MAX_VALUES:
        raise ValueError(f"trace column 'raw' must be <f2 of shape [{rows}, values], not {shape!r}"[:200])
    layouts = {}
    for name in sorted(FULL_COLUMNS & set(columns)):
        want = [rows, values]
        _check_column(name, columns[name], np.dtype("<f2"), want)
        layouts[name] = want
    return full_from, layouts
