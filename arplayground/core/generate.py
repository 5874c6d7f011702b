"""The stepping protocol every model implements, and the one generation loop that drives them all."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterator, Protocol, Sequence

import numpy as np

from arplayground.core.sampling import Sample, SamplerSettings, sample, step_uniform
from arplayground.core.trace import StepRecord


class Stepper(Protocol):
    """What the generation loop needs from a model (text, image or audio alike)."""

    vocab: object  # has len() and label(value) -> str

    def reset(self, prefix: Sequence[int], condition=None) -> None:
        """Take the prefix in one parallel, teacher-forced pass and fill the caches."""

    def logits(self) -> np.ndarray:
        """Logits of the next value, from the caches, without recomputing the past."""

    def push(self, value: int) -> None:
        """Append the drawn value and update the caches."""


@dataclass(frozen=True)
class Step:
    """One step as the loop yields it: the compact record plus the full distributions of this step."""

    record: StepRecord
    sample: Sample


def generate(
    stepper: Stepper,
    prefix: Sequence[int],
    n_steps: int,
    settings: Callable[[], SamplerSettings],
    seed: int,
    condition=None,
) -> Iterator[Step]:
    """Sample n_steps values after prefix, one at a time.

    `settings` is called afresh before every step, so a change made while the loop runs (from
    another thread, as an immutable snapshot) applies to the very next step. Step i of the
    sequence draws with step_uniform(seed, i): the same seed, prefix and settings give the same
    values, and a run restarted from any prefix meets the same random numbers.
    """
    stepper.reset(prefix, condition)
    vocab_size = len(stepper.vocab)
    position = len(prefix)
    for _ in range(n_steps):
        started = time.perf_counter()
        current = settings().clamped(vocab_size)
        smp = sample(stepper.logits(), current, step_uniform(seed, position))
        stepper.push(smp.value)
        record = StepRecord.from_sample(position, smp, current, time.perf_counter() - started)
        yield Step(record, smp)
        position += 1
