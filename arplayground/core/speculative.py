"""Speculative decoding (Leviathan et al. 2023; Chen et al. 2023): a small draft model proposes k
characters one at a time, the target model scores all k in one pass, and a rejection test keeps a
prefix of them, so that every character kept follows the target's own distribution exactly.

Per round, with q_i the draft's distribution (after the sampler) for proposal x_i and p_i the
target's: accept x_i while u_i < min(1, p_i(x_i) / q_i(x_i)); at the first rejection draw from the
residual max(0, p_i - q_i), normalised; when all k are accepted, draw one bonus character from
p_(k+1). Greedy (temperature 0) makes p and q one-hot: a proposal is kept exactly when the draft's
most likely character is the target's, and the output is the target's greedy text.

Random numbers come from core.sampling's seeded counter hash, keyed by the position of the
character being decided (three streams: the draft's draw, the test, the residual or bonus draw),
so a round taken back and run again meets the same numbers. No Qt, no torch: the steppers do
the model work (reset / logits / push, and score_block / rollback where they have them).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from arplayground.core.sampling import SamplerSettings, draw, sample, step_uniform

K_MAX = 16
DRAFT_DRAW, ACCEPT_TEST, FINAL_DRAW = 0, 1, 2  # the three uniform streams of a position


def uniform(seed: int, position: int, stream: int) -> float:
    """The uniform number of one stream at one position of the sequence (prefix included)."""
    return step_uniform(seed, 3 * position + stream)


@dataclass(frozen=True)
class Verdict:
    """The rejection test over one round's proposals."""

    accepted: int  # proposals kept, from the first
    ratios: np.ndarray  # (k,) min(1, p(x) / q(x)) of each proposal
    residual: np.ndarray | None  # (V,) max(0, p - q) normalised at the first rejection; None when all were kept
    drawn: int  # the replacement from the residual, or the bonus from the target's next distribution


def acceptance_ratio(p: float, q: float) -> float:
    """min(1, p / q) for a value the draft drew (so q > 0)."""
    return 1.0 if p >= q else p / q


def residual(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """max(0, p - q) normalised: what the target gives that the draft under-proposed. Where it has
    no mass (p equals q to round-off, so a rejection had probability ~0) it is p itself."""
    r = np.maximum(p - q, 0.0)
    total = r.sum()
    return r / total if total > 0 else p


def verify(proposals: Sequence[int], q: np.ndarray, p: np.ndarray, u_accept: Sequence[float], u_draw) -> Verdict:
    """The test itself: q (k, V) the draft's distributions the proposals were drawn from, p (k + 1, V)
    the target's at the same positions and after the last proposal, u_accept (k,) the tests'
    numbers. u_draw: the number of the residual or bonus draw, or (k + 1,) numbers, one for each
    place that draw may come (u_draw[i] when proposal i is the first rejected, u_draw[k] for the bonus)."""
    k = len(proposals)
    draws = np.broadcast_to(np.asarray(u_draw, dtype=np.float64), (k + 1,))
    ratios = np.array([acceptance_ratio(p[i, x], q[i, x]) for i, x in enumerate(proposals)], dtype=np.float64)
    for i in range(k):
        if not u_accept[i] < ratios[i]:
            r = residual(p[i], q[i])
            return Verdict(i, ratios, r, draw(r, float(draws[i])))
    return Verdict(k, ratios, None, draw(p[k], float(draws[k])))


@dataclass(frozen=True)
class Round:
    """One round: what the draft proposed, what the target made of it, what was kept."""

    position: int  # sequence index (prefix included) of the first proposal
    proposals: np.ndarray  # (k,) the draft's characters
    q: np.ndarray  # (k, V) the draft's distribution, after the sampler, for each proposal
    p: np.ndarray  # (k + 1, V) the target's, after the sampler, at each proposal and after the last
    u_draft: np.ndarray  # (k,) the numbers that drew the proposals from q
    u_accept: np.ndarray  # (k,) the numbers of the tests u < min(1, p / q)
    ratios: np.ndarray  # (k,) min(1, p(x) / q(x))
    accepted: int  # proposals kept
    residual: np.ndarray | None  # (V,) at the first rejection
    drawn: int  # the replacement (rejected) or the bonus (all kept)
    u_draw: float
    settings: SamplerSettings
    draft_seconds: float
    target_seconds: float

    @property
    def k(self) -> int:
        return len(self.proposals)

    @property
    def rejected(self) -> bool:
        return self.accepted < self.k

    @property
    def values(self) -> list[int]:
        """The characters this round adds: the kept proposals, then the drawn one."""
        return [int(x) for x in self.proposals[: self.accepted]] + [self.drawn]

    @property
    def seconds(self) -> float:
        return self.draft_seconds + self.target_seconds


def _after_sampler(logits: np.ndarray, settings: SamplerSettings) -> np.ndarray:
    return sample(logits, settings, 0.0).probs  # the distribution the sampler draws from (the draw is unused)


def _score(stepper, values: list[int]) -> np.ndarray:
    """(len(values), V): the logits after each value, appended. One pass where the stepper can."""
    if hasattr(stepper, "score_block"):
        return np.asarray(stepper.score_block(values), dtype=np.float64)
    rows = []
    for value in values:
        stepper.push(value)
        rows.append(np.asarray(stepper.logits(), dtype=np.float64))
    return np.stack(rows) if rows else np.empty((0, len(stepper.vocab)))


def _rollback(stepper, n: int, kept: list[int]) -> None:
    """Take back the last n values; `kept` is the stepper's text after that."""
    if n <= 0:
        return
    if hasattr(stepper, "rollback"):
        stepper.rollback(n)
    else:
        stepper.reset(kept)


class SpeculativeDecoder:
    """A text generated by speculative decoding, round by round, from a prefix, with a seed. The
    target and the draft are steppers of one vocabulary, used by this decoder alone while it runs.

    Between rounds each stepper may lag the text by the values it has not read yet (pending): the
    character drawn at the end of a round is read by the target at the start of the next round's
    pass, with the new proposals, so a round costs the target one pass, not two."""

    def __init__(self, target, draft, prefix: Sequence[int], seed: int):
        if len(target.vocab) != len(draft.vocab) or any(
                target.vocab.label(v) != draft.vocab.label(v) for v in range(len(target.vocab))):
            raise ValueError("the draft and the target must share one vocabulary")
        self.target, self.draft, self.seed = target, draft, int(seed)
        self.start = [int(v) for v in prefix] or [target.vocab.default_start]
        self.prefix_length = len(self.start)
        self.rounds: list[Round] = []
        self._prime(self.start)

    def _prime(self, tokens: list[int]) -> None:
        self.tokens = list(tokens)
        self.target.reset(self.tokens)
        self.draft.reset(self.tokens)
        self._pending_target: list[int] = []
        self._pending_draft: list[int] = []

    @property
    def generated(self) -> list[int]:
        return self.tokens[self.prefix_length :]

    def step(self, k: int, settings: SamplerSettings, limit: int | None = None) -> Round:
        """One round of up to k proposals (1-16). With limit, the round adds at most that many
        characters (the proposals are cut to limit - 1), so a run ends at its length exactly."""
        k = min(max(int(k), 1), K_MAX)
        if limit is not None:
            k = min(k, max(int(limit), 1) - 1)  # 0 proposals: a plain step from the target
        settings = settings.clamped(len(self.target.vocab))
        position = len(self.tokens)

        started = time.perf_counter()
        if self._pending_draft:
            draft_logits = _score(self.draft, self._pending_draft)[-1]
        else:
            draft_logits = np.asarray(self.draft.logits(), dtype=np.float64)
        proposals, q, u_draft = [], [], []
        for i in range(k):
            u = uniform(self.seed, position + i, DRAFT_DRAW)
            drawn = sample(draft_logits, settings, u)
            proposals.append(drawn.value)
            q.append(drawn.probs)
            u_draft.append(u)
            if i < k - 1:  # the last proposal's successor is never asked of the draft
                self.draft.push(drawn.value)
                draft_logits = np.asarray(self.draft.logits(), dtype=np.float64)
        draft_seconds = time.perf_counter() - started

        started = time.perf_counter()
        pending = self._pending_target
        # p for the first proposal: the target's logits now, unless it has a value still to read
        # (then it is the pass's row after that value). Read before the pass replaces them.
        first = [] if pending else [np.asarray(self.target.logits(), np.float64).copy()]
        rows = _score(self.target, pending + proposals) if pending or proposals else []
        target_logits = first + list(rows[len(pending) - 1 :] if pending else rows)
        p = np.stack([_after_sampler(row, settings) for row in target_logits])
        q = np.stack(q) if q else np.empty((0, p.shape[1]))
        u_accept = np.array([uniform(self.seed, position + i, ACCEPT_TEST) for i in range(k)])
        u_draws = np.array([uniform(self.seed, position + i, FINAL_DRAW) for i in range(k + 1)])
        verdict = verify(proposals, q, p, u_accept, u_draws)
        m = verdict.accepted
        u_draw = float(u_draws[m])
        kept = self.tokens + proposals[:m]
        _rollback(self.target, k - m, kept)  # the target read every proposal: the rejected ones go
        self._pending_target = [verdict.drawn]
        target_seconds = time.perf_counter() - started

        started = time.perf_counter()
        if m == k:  # the draft read all but the last proposal: it reads that with the bonus
            self._pending_draft = proposals[k - 1 :] + [verdict.drawn] if k else [verdict.drawn]
        else:
            _rollback(self.draft, k - 1 - m, kept)
            self._pending_draft = [verdict.drawn]
        draft_seconds += time.perf_counter() - started

        self.tokens = kept + [verdict.drawn]
        record = Round(position, np.array(proposals, dtype=np.int64), q, p, np.array(u_draft), u_accept,
                       verdict.ratios, m, verdict.residual, verdict.drawn, u_draw, settings, draft_seconds,
                       target_seconds)
        self.rounds.append(record)
        return record

    def reprime(self) -> None:
        """Prime both models on the text again, after something else drove them (a plain run timed
        on the same target): the next round goes on as if nothing had happened."""
        self._prime(self.tokens)

    def back(self) -> Round | None:
        """Take the last round back: the text as it was before it, both models primed on it again
        (one pass each). Running that round again meets the same numbers and draws the same."""
        if not self.rounds:
            return None
        last = self.rounds.pop()
        self._prime(self.tokens[: last.position])
        return last

    # ------------------------------------------------------------------ figures

    @property
    def proposed(self) -> int:
        return sum(r.k for r in self.rounds)

    @property
    def accepted(self) -> int:
        return sum(r.accepted for r in self.rounds)

    def acceptance_rate(self) -> float:
        """Proposals kept out of proposals made (NaN before any)."""
        return self.accepted / self.proposed if self.proposed else float("nan")

    def chars_per_target_pass(self) -> float:
        """Characters added per target pass: each round is one pass (NaN before any)."""
        return len(self.generated) / len(self.rounds) if self.rounds else float("nan")

    def seconds(self) -> float:
        """Compute time of the rounds kept (priming excluded)."""
        return sum(r.seconds for r in self.rounds)


def speculative_decode(target, draft, prefix: Sequence[int], n: int, settings: SamplerSettings, seed: int,
                       k: int) -> SpeculativeDecoder:
    """n characters after prefix by speculative decoding with k proposals a round."""
    decoder = SpeculativeDecoder(target, draft, prefix, seed)
    while len(decoder.generated) < n:
        decoder.step(k, settings, limit=n - len(decoder.generated))
    return decoder


def plain_decode(stepper, prefix: Sequence[int], n: int, settings: SamplerSettings, seed: int) -> tuple[list[int], float]:
    """The baseline: n characters one target step each (logits, the sampler, push), drawn with the
    numbers of the per-step loop (core.generate.generate: step_uniform of the position after the
    prefix as given), so the same seed draws what a run in the window draws; (values, compute
    seconds, priming excluded)."""
    stepper.reset([int(v) for v in prefix])
    settings = settings.clamped(len(stepper.vocab))
    values = []
    started = time.perf_counter()
    for i in range(n):
        value = sample(np.asarray(stepper.logits(), np.float64), settings, step_uniform(seed, len(prefix) + i)).value
        values.append(value)
        if i < n - 1:
            stepper.push(value)
    return values, time.perf_counter() - started
