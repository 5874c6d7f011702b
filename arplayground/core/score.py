"""Score: teacher forcing and the chain rule.

Generation must go one value at a time, because each value is drawn from the distribution the
earlier ones give. Scoring a sequence that is already known needs no such wait: every
conditional p(x_t | x_<t) comes out of one parallel pass of the network (teacher forcing: the
network is fed the true past at every position at once), and the chain rule,
log p(x) = sum_t log p(x_t | x_<t), adds their logs into the exact log-likelihood of the whole.

A scored sequence is a lab Branch like any run: its trace holds every step's full distribution,
each step forced to the true value. So it replays exactly, exports and opens like a run, and a
rewind to step k followed by Resume lets the model go on with its own samples from there
(free-running after teacher forcing: exposure bias, measured). No Qt, no torch: the steppers
(nets/) do the pass.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from arplayground.core.generate import NonFiniteLogits, StepBlock, check_inputs, nonfinite_kind, run_steps
from arplayground.core.lab import Branch
from arplayground.core.sampling import SamplerSettings, step_uniforms
from arplayground.core.trace import TOP_CANDIDATES, Trace

LOG2 = math.log(2.0)
RECORD_ROWS = 16_384  # steps recorded at once: a chunk's float64 distributions stay near 30 MB


class TeacherForcedStepper(Protocol):
    """A stepper that can give every conditional of a known sequence in parallel passes."""

    vocab: object

    def teacher_forced(self, prefix: Sequence[int], values: Sequence[int], condition=None) -> np.ndarray:
        """(len(values), V) logits of values[i] given prefix + values[:i], each exactly what the
        generation loop's logits() would give at that position."""


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64, as core.sampling.log_softmax does it for one row."""
    x = np.asarray(logits, np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def forced_block(position: int, logits: np.ndarray, values: np.ndarray, seed: int, seconds: float) -> StepBlock:
    """The steps of a known sequence as the generation loop records forced steps: raw distribution
    from the logits, sampler off (temperature 1, nothing cut), the value the true one. Columns are
    computed for all rows at once, by the same rules as StepRecord.from_sample."""
    raw = softmax_rows(logits)
    n, vocab_size = raw.shape
    rows = np.arange(n)
    values = np.asarray(values, np.int64)
    prob = raw[rows, values]
    top = top_candidates(raw, min(TOP_CANDIDATES, vocab_size))
    top_p = np.take_along_axis(raw, top, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.where(raw > 0, raw * np.log(raw), 0.0).sum(axis=1)
    columns = {
        "value": values.astype(np.int32),
        "prob": prob.astype(np.float32),
        "sampled_prob": prob.astype(np.float32),
        "rank": np.count_nonzero(raw > prob[:, None], axis=1).astype(np.int32),
        "entropy": entropy.astype(np.float32),
        "kept": np.count_nonzero(raw, axis=1).astype(np.int32),
        "top_values": top.astype(np.int32),
        "top_raw": top_p.astype(np.float32),
        "top_sampled": top_p.astype(np.float32),
        "raw": raw,
        "sampled": raw,
    }
    return StepBlock(position, columns, step_uniforms(seed, position, n), SamplerSettings(), seconds)


def top_candidates(raw: np.ndarray, k: int) -> np.ndarray:
    """(n, k): each row's k most likely values, best first, ties to the lower value: exactly
    np.argsort(-raw, kind="stable")[:, :k] (StepRecord.from_sample's rule), without sorting all V
    values of every row (a 30 s recording has 240,000 rows)."""
    n, vocab_size = raw.shape
    if k >= vocab_size:
        return np.argsort(-raw, axis=1, kind="stable")
    chosen = np.argpartition(-raw, k - 1, axis=1)[:, :k]  # the k largest, in no order; ties at the edge arbitrary
    values = np.take_along_axis(raw, chosen, axis=1)
    order = np.lexsort((chosen, -values), axis=-1)  # best first, then the lower value
    top = np.take_along_axis(chosen, order, axis=1)
    # Where a value equal to the k-th largest lies outside the chosen k, the tie rule decides
    # which to keep: those (rare) rows take the full stable sort.
    tied = np.count_nonzero(raw >= values.min(axis=1, keepdims=True), axis=1) > k
    if tied.any():
        top[tied] = np.argsort(-raw[tied], axis=1, kind="stable")[:, :k]
    return top


@dataclass(frozen=True)
class Scored:
    """A known sequence scored in parallel: the branch to show, and how long the pass took."""

    branch: Branch
    seconds: float  # wall time of the teacher-forced pass (and the records)

    @property
    def totals(self) -> "ChainRule":
        return chain_rule(self.branch.trace)


def score(stepper: TeacherForcedStepper, prefix: Sequence[int], values: Sequence[int], condition=None,
          name: str = "scored", seed: int = 0) -> Scored:
    """Every value of `values` (after `prefix`, which is given, not scored) under the model, in
    parallel passes: a branch whose every step is forced to its true value. ValueError for a value
    outside the model's vocabulary, before any pass runs."""
    prefix = tuple(int(v) for v in prefix)
    values = np.asarray([int(v) for v in values], np.int64)
    if not len(values):
        raise ValueError("there is nothing to score")
    vocab_size = len(stepper.vocab)
    first = len(prefix)
    forced = {first + i: int(v) for i, v in enumerate(values)}
    check_inputs(prefix, forced, vocab_size)
    started = time.perf_counter()
    logits = stepper.teacher_forced(prefix, values, condition)
    if logits.shape != (len(values), vocab_size):
        raise RuntimeError(f"the model gave logits of shape {logits.shape} for {len(values)} values")
    if not np.isfinite(logits).all():
        bad = int(np.flatnonzero(~np.isfinite(logits).all(axis=1))[0])
        raise NonFiniteLogits(first + bad, nonfinite_kind(logits[bad]))
    seconds = time.perf_counter() - started  # the pass; then the records, as generation makes them
    trace = Trace(capacity=max(16, len(values)))
    for lo in range(0, len(values), RECORD_ROWS):
        started = time.perf_counter()
        block = forced_block(first + lo, logits[lo : lo + RECORD_ROWS], values[lo : lo + RECORD_ROWS], seed, 0.0)
        seconds += time.perf_counter() - started
        trace.extend(block.compact())
    return Scored(Branch(name, prefix, condition, seed, trace, forced, scored_steps=len(values)), seconds)


@dataclass(frozen=True)
class ChainRule:
    """-log2 p(x) = sum over t of -log2 p(x_t | x_<t), as figures."""

    steps: int
    bits: np.ndarray  # (steps,) each step's term, bits
    running: np.ndarray  # (steps,) the running sum; its last value is the total

    @property
    def total_bits(self) -> float:
        return float(self.running[-1]) if self.steps else 0.0

    @property
    def bits_per_step(self) -> float:
        return self.total_bits / self.steps if self.steps else float("nan")

    @property
    def perplexity(self) -> float:
        """2 ** bits per step: the number of equally likely values the model is, on average, choosing among."""
        return float(2.0 ** self.bits_per_step) if self.steps else float("nan")


def surprisal_bits(probs) -> np.ndarray:
    """-log2 p of each recorded probability (a step's term of the chain rule), bits; a zero
    probability is floored so the figure stays finite."""
    return -np.log2(np.maximum(np.asarray(probs, np.float64), 1e-300))


def chain_rule(trace: Trace, lo: int = 0, hi: int | None = None) -> ChainRule:
    """The chain rule over steps lo .. hi-1 of a trace, from the probabilities it records."""
    bits = surprisal_bits(trace.column("prob")[lo:hi])
    return ChainRule(len(bits), bits, np.cumsum(bits))


@dataclass(frozen=True)
class Classification:
    """The model as a classifier, by Bayes' rule over its conditionals (a uniform prior)."""

    labels: tuple  # the conditions tried (digits), in order
    log_likelihoods: np.ndarray  # nats: log p(x | label) for each
    unconditional: float | None  # nats: log p(x | any label), None where the model has no "any"

    @property
    def posterior(self) -> np.ndarray:
        x = self.log_likelihoods - self.log_likelihoods.max()
        p = np.exp(x)
        return p / p.sum()

    @property
    def best(self):
        return self.labels[int(np.argmax(self.log_likelihoods))]

    def share_bits(self, label) -> float | None:
        """log2 p(x | label) - log2 p(x | any): what knowing the label is worth, in bits."""
        if self.unconditional is None:
            return None
        return float((self.log_likelihoods[self.labels.index(label)] - self.unconditional) / LOG2)


def classify(stepper: TeacherForcedStepper, prefix: Sequence[int], values: Sequence[int], conditions: Sequence,
             any_condition=None, with_any: bool = True) -> Classification:
    """log p(values | prefix, condition) for each condition, one teacher-forced pass each."""
    values = np.asarray([int(v) for v in values], np.int64)

    def log_likelihood(condition) -> float:
        logits = np.asarray(stepper.teacher_forced(prefix, values, condition), np.float64)
        m = logits.max(axis=1, keepdims=True)
        log_z = (m[:, 0] + np.log(np.exp(logits - m).sum(axis=1)))
        return float((logits[np.arange(len(values)), values] - log_z).sum())

    lls = np.array([log_likelihood(c) for c in conditions])
    return Classification(tuple(conditions), lls, log_likelihood(any_condition) if with_any else None)


def generation_seconds(stepper, prefix: Sequence[int], n_steps: int, condition=None, cancelled=None) -> float | None:
    """Wall time of generating n_steps values after prefix one at a time, as the app generates
    them (run_steps: compiled chunks where the stepper has them; default sampler, seed 0): the
    sequential side of "training is parallel, generation is sequential". With the app's stepper
    this is the cached path; with nets.baselines.naive_stepper(...) the naive one. None when
    `cancelled()` turned true between blocks."""
    started = time.perf_counter()
    for _ in run_steps(stepper, list(prefix), n_steps, SamplerSettings, 0, condition):
        if cancelled is not None and cancelled():
            return None
    return time.perf_counter() - started


@dataclass(frozen=True)
class Comparison:
    """Two scored sequences side by side: their bits per step, and where they differ most."""

    a: ChainRule
    b: ChainRule
    # Aligned steps (0 .. min length - 1) where b's term exceeds a's the most, and the most a's
    # exceeds b's: (step, a's bits, b's bits), largest difference first.
    b_worse: tuple
    a_worse: tuple

    @property
    def difference(self) -> float:
        """b's bits per step minus a's."""
        return self.b.bits_per_step - self.a.bits_per_step


def compare(a: Trace, b: Trace, a_steps: int | None = None, b_steps: int | None = None, top: int = 5) -> Comparison:
    """Compare the first a_steps of a with the first b_steps of b (default: all), step by step
    where both have a step (the same pixel of two images, the same position of two texts)."""
    ca, cb = chain_rule(a, 0, a_steps), chain_rule(b, 0, b_steps)
    n = min(ca.steps, cb.steps)
    diff = cb.bits[:n] - ca.bits[:n]
    order = np.argsort(-diff, kind="stable")

    def rows(indices):
        return tuple((int(i), float(ca.bits[i]), float(cb.bits[i])) for i in indices)

    return Comparison(ca, cb, rows([i for i in order[:top] if diff[i] > 0]),
                      rows([i for i in order[::-1][:top] if diff[i] < 0]))
