"""The record of a run: one StepRecord per generated value, stored compactly in a Trace.

A StepRecord is immutable, so the worker can hand it to the GUI thread without copying. The Trace
keeps the same fields column by column in numpy arrays (top candidates in float16), so that even
hundreds of thousands of steps stay small; it is what rewind, branching and export build on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from arplayground.core.sampling import Sample, SamplerSettings, entropy

TOP_CANDIDATES = 16  # candidates kept per step: enough for the panel's bars and a hover tooltip
MAX_STEPS = 1_000_000  # the most steps a trace file may hold (about 180 MB in memory): ten times the longest run here


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


class Trace:
    """Columnar store of StepRecords; grows by doubling, owned by one thread."""

    def __init__(self, capacity: int = 1024):
        self._n = 0
        self._settings: list[SamplerSettings] = []
        self._settings_index: dict[SamplerSettings, int] = {}
        self._alloc(capacity)

    def _alloc(self, capacity: int) -> None:
        k = TOP_CANDIDATES
        fresh = {
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
        if hasattr(self, "_cols"):
            for name, col in self._cols.items():
                fresh[name][: self._n] = col[: self._n]
        self._cols = fresh

    def __len__(self) -> int:
        return self._n

    def truncate(self, n: int) -> None:
        """Keep the first n steps (rewind); the rest is forgotten."""
        self._n = max(0, min(n, self._n))

    def copy(self, n: int | None = None) -> "Trace":
        """A new trace holding the first n steps (all by default): a branch's shared history."""
        n = self._n if n is None else max(0, min(n, self._n))
        out = Trace(capacity=max(16, n))
        for name, col in self._cols.items():
            out._cols[name][:n] = col[:n]
        out._settings, out._settings_index = list(self._settings), dict(self._settings_index)
        out._n = n
        return out

    def extend(self, block) -> None:
        """The trace's one writer: the steps of a core.generate.StepBlock (one position of the
        per-step loop, or a compiled chunk), column by column, without a StepRecord per step."""
        position, columns, us, settings, seconds = block.position, block.columns, block.us, block.settings, block.seconds
        n = len(us)
        while self._n + n > len(self._cols["value"]):
            self._alloc(2 * len(self._cols["value"]))
        i, c = self._n, self._cols
        k = columns["top_values"].shape[1]
        c["position"][i : i + n] = position + np.arange(n) // block.lanes
        for name in ("value", "prob", "sampled_prob", "rank", "entropy", "kept"):
            c[name][i : i + n] = columns[name]
        for name in ("top_values", "top_raw", "top_sampled"):
            c[name][i : i + n, :k] = columns[name]
        c["top_count"][i : i + n] = k
        if settings not in self._settings_index:
            self._settings_index[settings] = len(self._settings)
            self._settings.append(settings)
        c["settings"][i : i + n] = self._settings_index[settings]
        c["u"][i : i + n], c["seconds"][i : i + n] = us, seconds / n
        self._n += n

    def __getitem__(self, i: int) -> StepRecord:
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        c = self._cols
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
        return self._cols["value"][: self._n].copy()

    def settings_per_step(self) -> tuple:
        """The sampler settings of every step, in order (what a replay applies)."""
        return tuple(self._settings[int(i)] for i in self._cols["settings"][: self._n])

    def column(self, name: str) -> np.ndarray:
        """One per-step field for all steps (a view, valid until the next append): for plots."""
        return self._cols[name][: self._n]

    def nll(self) -> float:
        """Mean negative log-likelihood of the drawn values under the model, nats per step."""
        if self._n == 0:
            return float("nan")
        p = self._cols["prob"][: self._n].astype(np.float64)
        return float(-np.mean(np.log(np.maximum(p, 1e-300))))

    def nbytes(self) -> int:
        return sum(col[: self._n].nbytes for col in self._cols.values())

    def to_dict(self) -> dict:
        """Every column as base64 of its little-endian bytes (exact, float16 stays float16), and the
        settings table: compact JSON that from_dict() restores bit for bit."""
        import base64

        columns = {}
        for name, col in self._cols.items():
            data = np.ascontiguousarray(col[: self._n]).astype(col.dtype.newbyteorder("<"), copy=False)
            columns[name] = {"dtype": data.dtype.str, "shape": list(data.shape), "base64": base64.b64encode(data.tobytes()).decode()}
        return {"steps": self._n, "settings": [s.to_dict() for s in self._settings], "columns": columns}

    @staticmethod
    def from_dict(d) -> "Trace":
        """The trace to_dict() wrote, every column checked (name, dtype, shape, exact size) before
        any array is decoded or allocated; ValueError with the reason for anything else."""
        import base64
        import binascii

        if not isinstance(d, dict) or not isinstance(d.get("columns"), dict) or not isinstance(d.get("settings"), list):
            raise ValueError("the trace has no columns or settings table")
        n = d.get("steps")
        if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n <= MAX_STEPS:
            raise ValueError(f"the trace's step count must be a whole number from 0 to {MAX_STEPS:,}, not {n!r}")
        template = Trace(capacity=1)._cols  # each column's dtype and row shape
        expected, given = set(template), set(d["columns"])
        if given != expected:
            missing, unknown = sorted(expected - given), sorted(given - expected)
            raise ValueError("trace columns: " + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else [])))
        layouts = {}
        for name, spec in d["columns"].items():  # every column's size checked before anything is decoded or allocated
            dtype, shape = template[name].dtype.newbyteorder("<"), [n, *template[name].shape[1:]]
            if not isinstance(spec, dict) or not isinstance(spec.get("base64"), str):
                raise ValueError(f"trace column {name!r} has no data")
            if spec.get("dtype") != dtype.str or spec.get("shape") != shape:
                raise ValueError(f"trace column {name!r} must be {dtype.str} of shape {shape}, "
                                 f"not {spec.get('dtype')!r} of shape {spec.get('shape')!r}")
            size = int(np.prod(shape)) * dtype.itemsize
            if len(spec["base64"]) != 4 * ((size + 2) // 3):
                raise ValueError(f"trace column {name!r} does not hold {n} steps")
            layouts[name] = dtype, shape
        trace = Trace(capacity=max(16, n))
        for name, (dtype, shape) in layouts.items():
            try:
                data = np.frombuffer(base64.b64decode(d["columns"][name]["base64"], validate=True), dtype=dtype)
            except (binascii.Error, ValueError):
                raise ValueError(f"trace column {name!r} is not valid base64") from None
            if data.size != int(np.prod(shape)):
                raise ValueError(f"trace column {name!r} does not hold {n} steps")
            trace._cols[name][:n] = data.reshape(shape)
        if len(d["settings"]) > max(n, 1):
            raise ValueError("the trace holds more settings than steps")
        trace._settings = [SamplerSettings.from_dict(s) for s in d["settings"]]
        trace._settings_index = {s: i for i, s in enumerate(trace._settings)}
        c = trace._cols
        if n and not (0 <= int(c["settings"][:n].min()) and int(c["settings"][:n].max()) < len(trace._settings)):
            raise ValueError("trace steps refer to settings the file does not hold")
        if n and not (0 <= int(c["top_count"][:n].min()) and int(c["top_count"][:n].max()) <= TOP_CANDIDATES):
            raise ValueError("trace steps hold an impossible number of top candidates")
        for name in ("prob", "sampled_prob", "entropy", "u", "seconds", "top_raw", "top_sampled"):
            if not np.isfinite(c[name][:n]).all():
                raise ValueError(f"trace column {name!r} holds values that are not finite numbers")
        trace._n = n
        return trace

    def values_problem(self, vocab_size: int) -> str | None:
        """Why these steps cannot be a run of a model with vocab_size values (a drawn value or a top
        candidate outside 0 .. vocab_size - 1), or None: checked before a replay reaches compiled code."""
        c, n = self._cols, self._n
        for name in ("value", "top_values", "rank"):
            column = c[name][:n]
            if n and not (column.min() >= 0 and column.max() < vocab_size):
                return f"its {name.replace('_', ' ')}s leave the model's {vocab_size} values"
        if n and not (c["kept"][:n].min() >= 0 and c["kept"][:n].max() <= vocab_size):
            return f"its kept counts leave the model's {vocab_size} values"
        return None
