"""Beam search over a model that scores several sequences at once, with every hypothesis kept as a tree.

The search keeps `width` live hypotheses (beams). Each step it reads the next-value distribution
of every beam in one batched call, extends each beam by its most likely values, and keeps the
`width` best extensions by cumulative log-probability; the rest are pruned. With an end value
(a newline, say) a hypothesis that draws it is finished: it leaves the beam, and the search ends
once `width` hypotheses have finished or the length is reached. The winner is the best of the
finished and live hypotheses.

Length normalisation (on/off) is the score a hypothesis is compared by: the sum of its log p
divided by its length in values (length^alpha with alpha = 1, the mean log p per value). All live
hypotheses of a step have the same length, so it never changes which of them survive; it changes
the winner when finished hypotheses of different lengths compete, where the raw sum always
favours the shorter ones.

Every candidate the search looked at is a node of the tree, with its fate (kept, finished,
pruned). Per beam the tree holds its `max(width + 1, 3)` most likely extensions: no other
extension could have survived (at most `width` children of one beam can, and one of its values is
the end value), so the search is exact while the tree stays readable.

No torch here: the model side is a BeamStepper (nets/gpt_beams.py for the GPT; tests give a
hand-made one). Deterministic: ties break towards the earlier beam, then the lower value.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from arplayground.core.cheat import nats_per_char, sample
from arplayground.core.sampling import SamplerSettings

WIDTH_MAX = 8
KEPT, FINISHED, PRUNED = "kept", "finished", "pruned"
ROOT = -1  # the parent of the first step's candidates: the prompt


class BeamStepper(Protocol):
    """What beam search needs from a model: next-value logits for several sequences at once."""

    vocab: object  # len(vocab) values

    def start(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Prime on these sequences (all of one length; the prompt included) in one parallel pass;
        (len(sequences), V) logits of each one's next value."""

    def extend(self, parents: Sequence[int], values: Sequence[int]) -> np.ndarray:
        """Row i continues the row parents[i] of the previous call with values[i]: the caches
        reordered by parent and every row advanced by one value in one batched pass; (len(parents),
        V) logits of each row's next value."""


def log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    x = np.asarray(logits, dtype=np.float64)
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def ranking_score(total_logp: float, length: int, normalise: bool) -> float:
    """What hypotheses are compared by: sum log p, or with normalisation sum log p / length."""
    return total_logp / length if normalise and length > 0 else total_logp


@dataclass(frozen=True)
class Node:
    """One candidate of the tree: a hypothesis extended by one value."""

    id: int
    parent: int  # the node it extends; ROOT for the prompt
    step: int  # 0 for the first value after the prompt
    value: int
    logp: float  # log p(value | the hypothesis it extends)
    total: float  # cumulative log p of the whole hypothesis (sum over its values)
    score: float  # what it was ranked by (ranking_score)
    fate: str  # KEPT (a live beam after this step), FINISHED (drew the end value) or PRUNED


@dataclass(frozen=True)
class BeamStep:
    """One step of the search: every candidate looked at, with its fate, and the best so far."""

    step: int
    nodes: tuple  # Node, grouped by the beam they extend (beams in rank order), each group best first
    best: int  # node id of the best hypothesis (finished or live) after this step
    best_score: float
    seconds: float  # the model's batched pass and the bookkeeping

    def count(self, fate: str) -> int:
        return sum(1 for n in self.nodes if n.fate == fate)


@dataclass(frozen=True)
class Hypothesis:
    node: int  # its newest node; ROOT for the bare prompt
    values: tuple  # the values after the prompt
    total: float
    finished: bool = False


class BeamSearch:
    """Step-by-step beam search from a prompt: step() adds a step to the tree, back() forgets the
    newest one. Run on one thread (the stepper's caches are its state)."""

    def __init__(self, stepper: BeamStepper, prompt: Sequence[int], width: int, length: int,
                 normalise: bool = False, end: int | None = None):
        if not 1 <= int(width) <= WIDTH_MAX:
            raise ValueError(f"the beam width is from 1 to {WIDTH_MAX}, not {width}")
        if int(length) < 1:
            raise ValueError(f"the length is at least 1 value, not {length}")
        vocab_size = len(stepper.vocab)
        prompt = [int(v) for v in prompt]
        if not prompt:
            raise ValueError("beam search starts from a prompt of at least one value")
        if any(not 0 <= v < vocab_size for v in prompt) or (end is not None and not 0 <= int(end) < vocab_size):
            raise ValueError(f"a value outside the model's {vocab_size} values")
        self.stepper, self.prompt = stepper, tuple(prompt)
        self.width, self.length, self.normalise = int(width), int(length), bool(normalise)
        self.end = None if end is None else int(end)
        self.per_beam = min(vocab_size, max(self.width + 1, 3))
        self.steps: list[BeamStep] = []
        self.nodes: list[Node] = []  # by id
        # The state after each step (live beams, finished ones), so back() can return to it.
        self._states: list[tuple[tuple, tuple]] = [((Hypothesis(ROOT, (), 0.0),), ())]
        self._logp: np.ndarray | None = None  # the live beams' next-value log p, row per beam
        self._stale = True  # the stepper does not hold the live beams (at the start, after back())

    # ------------------------------------------------------------------ state

    @property
    def live(self) -> tuple:
        return self._states[-1][0]

    @property
    def finished(self) -> tuple:
        return self._states[-1][1]

    @property
    def done(self) -> bool:
        return (len(self.steps) >= self.length or len(self.finished) >= self.width or not self.live)

    def score_of(self, hypothesis: Hypothesis) -> float:
        return ranking_score(hypothesis.total, len(hypothesis.values), self.normalise)

    def best(self) -> Hypothesis:
        """The winner so far: the best finished or live hypothesis by its score (ties: finished
        first, then in rank order)."""
        candidates = list(self.finished) + list(self.live)
        return max(candidates, key=self.score_of) if candidates else Hypothesis(ROOT, (), 0.0)

    # ------------------------------------------------------------------ search

    def step(self) -> BeamStep | None:
        """One step: extend every live beam, keep the best `width`; None once done."""
        if self.done:
            return None
        started = time.perf_counter()
        live, finished = self.live, self.finished
        if self._stale:
            self._logp = log_softmax_rows(self.stepper.start([self.prompt + h.values for h in live]))
            self._stale = False
        logp = self._logp
        if np.isnan(logp).any() or (logp == np.inf).any():  # -inf is a value the model rules out
            raise ValueError(f"the model's output at step {len(self.steps) + 1} is not finite numbers")
        t = len(self.steps)
        # Each beam's most likely extensions (a stable sort: ties keep the lower value first).
        order = np.argsort(-logp, axis=1, kind="stable")[:, : self.per_beam]
        beams = np.repeat(np.arange(len(live)), self.per_beam)
        values = order.reshape(-1)
        step_logp = logp[beams, values]
        totals = np.array([live[b].total for b in beams]) + step_logp
        scores = totals / (t + 1) if self.normalise else totals
        # Rank all of them: best score first, ties to the earlier beam, then the lower value.
        ranked = np.lexsort((values, beams, -scores))
        fates = np.full(len(values), PRUNED, dtype=object)
        new_live: list[int] = []
        new_finished: list[int] = []
        for rank, i in enumerate(ranked):
            if len(new_live) == self.width:
                break
            if self.end is not None and values[i] == self.end:
                if rank < self.width:  # it would have been kept: it ends here as a finished hypothesis
                    fates[i] = FINISHED
                    new_finished.append(i)
                continue
            fates[i] = KEPT
            new_live.append(i)
        first_id = len(self.nodes)
        for i in range(len(values)):
            b = beams[i]
            self.nodes.append(Node(first_id + i, live[b].node, t, int(values[i]), float(step_logp[i]),
                                   float(totals[i]), float(scores[i]), fates[i]))
        make = lambda i: Hypothesis(first_id + i, live[beams[i]].values + (int(values[i]),), float(totals[i]),  # noqa: E731
                                    finished=fates[i] == FINISHED)
        kept = tuple(make(i) for i in new_live)
        finished = finished + tuple(make(i) for i in new_finished)
        self._states.append((kept, finished))
        if kept and not self.done:
            rows = self.stepper.extend([int(beams[i]) for i in new_live], [int(values[i]) for i in new_live])
            self._logp = log_softmax_rows(rows)
        else:
            self._stale = True  # nothing to extend from: back() or the end
        best = self.best()
        record = BeamStep(t, tuple(self.nodes[first_id:]), best.node, self.score_of(best),
                          time.perf_counter() - started)
        self.steps.append(record)
        return record

    def back(self) -> bool:
        """Forget the newest step; the next step() re-primes the model on the live beams of the
        step before (one parallel pass). False when there is no step to forget."""
        if not self.steps:
            return False
        forgotten = self.steps.pop()
        del self.nodes[len(self.nodes) - len(forgotten.nodes):]
        self._states.pop()
        self._stale = True
        return True

    def run(self) -> Hypothesis:
        """Every remaining step; the winner."""
        while self.step() is not None:
            pass
        return self.best()

    def path(self, node: int) -> list[int]:
        """The node ids from the first step to `node` (the hypothesis it ends)."""
        out = []
        while node != ROOT:
            out.append(node)
            node = self.nodes[node].parent
        return out[::-1]


def nll_bits(total_logp: float, length: int) -> float:
    """Bits per value of a hypothesis from its total log p (nats)."""
    return -total_logp / length / math.log(2.0) if length else float("nan")


@dataclass(frozen=True)
class BesideASample:
    """The search's winner beside a sample of as many values from the same prompt (the window's
    seed and sampler settings), both read by the model, teacher-forced, in bits per value."""

    beam_values: tuple
    beam_bits: float
    sample_values: tuple
    sample_bits: float
    seed: int
    settings: SamplerSettings


def beside_a_sample(stepper, prompt: Sequence[int], values: Sequence[int], seed: int,
                    settings: SamplerSettings) -> BesideASample:
    """`stepper` is a single-sequence stepper of the same model (reset, logits, push,
    teacher_forced); the sample is drawn as a run of the app draws it (run_steps, step_uniform)."""
    values = tuple(int(v) for v in values)
    if not values:
        raise ValueError("the search has no values yet")
    drawn, _ = sample(stepper, prompt, len(values), seed, settings)
    bits = lambda vs: nats_per_char(stepper, prompt, vs) / math.log(2.0)  # noqa: E731
    return BesideASample(values, bits(values), tuple(drawn), bits(drawn), seed, settings)
