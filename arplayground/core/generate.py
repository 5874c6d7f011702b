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
        """Take the prefix in one parallel, teacher-forced pass and fill the caches.

        A stepper that can run several sequences as one batch (image grid mode) takes a list of
        conditions, one per lane, and sets `lanes` to its length; every lane starts from prefix.
        """

    def logits(self) -> np.ndarray:
        """Logits of the next value, from the caches, without recomputing the past.

        (V,) for one lane; (lanes, V) for a batch.
        """

    def push(self, value) -> None:
        """Append the drawn value (one per lane for a batch) and update the caches."""


@dataclass(frozen=True)
class Step:
    """One step as the loop yields it: the compact record plus the full distributions of this step."""

    record: StepRecord
    sample: Sample
    lane: int = 0  # which sequence of a batch (grid mode); 0 for a single sequence
    lanes: int = 1


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

    A batched stepper (stepper.lanes > 1 after reset) yields one Step per lane per position, lane
    by lane; lane j draws with seed + j, so every cell of a grid is exactly the image a single run
    with seed + j and that cell's condition would draw.
    """
    stepper.reset(prefix, condition)
    lanes = getattr(stepper, "lanes", 1)
    vocab_size = len(stepper.vocab)
    position = len(prefix)
    for _ in range(n_steps):
        started = time.perf_counter()
        current = settings().clamped(vocab_size)
        logits = np.reshape(stepper.logits(), (lanes, vocab_size))
        samples = [sample(logits[j], current, step_uniform(seed + j, position)) for j in range(lanes)]
        stepper.push(samples[0].value if lanes == 1 else [s.value for s in samples])
        seconds = (time.perf_counter() - started) / lanes
        for lane, smp in enumerate(samples):
            yield Step(StepRecord.from_sample(position, smp, current, seconds), smp, lane, lanes)
        position += 1
