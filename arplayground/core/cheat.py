"""The cheat, shown: a text model trained without its causal mask beside one trained with it.

Trained without the mask, every position of a window saw the character it had to predict, so
training taught the model to copy it from one step ahead: teacher-forced on known text its loss is
near zero. Generating, the next character does not exist yet, there is nothing to copy, and what
it writes is garbage that the real model finds very unlikely. This module measures both sides
for any two character steppers (no Qt, no torch: the steppers do the passes), for the window's
comparison (gui/cheat_compare.py) and for `arplayground-train cheat-figures`, which writes the
figures into the cheat's card.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from arplayground.core.generate import run_steps
from arplayground.core.sampling import SamplerSettings

LOG2 = math.log(2.0)
WHY = ("Why: with no mask, each position saw the character it had to predict, so training taught it to copy; "
       "generating, there is no future to copy.")


def nats_per_char(stepper, prefix: Sequence[int], values: Sequence[int]) -> float:
    """Mean -ln p(values[i] | prefix, values[:i]) under the model, teacher-forced: the stepper's
    parallel passes, each position with the context generation gives it."""
    values = np.asarray([int(v) for v in values], np.int64)
    if not len(values):
        raise ValueError("there is nothing to score")
    logits = np.asarray(stepper.teacher_forced(tuple(prefix), values), np.float64)
    top = logits.max(axis=1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(logits - top).sum(axis=1))
    nats = log_z - logits[np.arange(len(values)), values]
    if not np.isfinite(nats).all():
        raise ValueError("the model's logits are not finite numbers")
    return float(nats.mean())


def sample(stepper, prefix: Sequence[int], n: int, seed: int, settings: SamplerSettings = SamplerSettings()):
    """(values, nats per char the model drew them with): n values after prefix, drawn as the app
    draws a run with this seed and these settings (run_steps: step t meets step_uniform(seed, t),
    so two models given the same prefix and seed meet the same random numbers)."""
    values, probs = [], []
    for block in run_steps(stepper, list(prefix), n, lambda: settings, seed):
        values += block.values.tolist()
        probs += block.columns["prob"].tolist()
    return tuple(values), float(-np.log(np.maximum(probs, 1e-300)).mean())


def encoded(vocab, text: str, whose: str) -> tuple[int, ...]:
    """text in vocab's values; ValueError naming the characters that model has never seen."""
    unknown = vocab.unknown(text)
    if unknown:
        raise ValueError(f"{whose} has never seen {' '.join(repr(c) for c in unknown[:8])}")
    return tuple(vocab.encode(text))


@dataclass(frozen=True)
class Side:
    """One model's column: teacher-forced on the text, then generating from the prompt."""

    name: str
    text_nats: float  # per char, teacher-forced on the text
    sample: str  # what it wrote after the prompt
    sample_nats_real: float  # per char: the real model's reading of that sample
    sample_nats_own: float  # per char: the probabilities it drew its sample with

    @property
    def text_bits(self) -> float:
        return self.text_nats / LOG2

    @property
    def sample_bits_real(self) -> float:
        return self.sample_nats_real / LOG2

    @property
    def sample_bits_own(self) -> float:
        return self.sample_nats_own / LOG2


@dataclass(frozen=True)
class MaskComparison:
    text_chars: int
    prompt: str  # the prompt both samples follow ("\n" for none, as a run starts)
    sample_chars: int
    seed: int
    settings: SamplerSettings
    real: Side
    cheat: Side


def compare_masks(real, cheat, names: tuple[str, str], text: str, prompt: str, sample_chars: int, seed: int,
                  settings: SamplerSettings = SamplerSettings(), cancelled: Callable[[], bool] = lambda: False):
    """Both models teacher-forced on `text` (read after the newline a run starts from, as Score
    reads it), and a sample of each from `prompt` with the same seed and settings, each sample read
    by the real model. None once cancelled() turns true; ValueError for text or a sample a model
    cannot read."""
    text_real, text_cheat = encoded(real.vocab, text, names[0]), encoded(cheat.vocab, text, names[1])
    prompt = prompt or real.vocab.text(real.vocab.default_start)
    prompt_real, prompt_cheat = encoded(real.vocab, prompt, names[0]), encoded(cheat.vocab, prompt, names[1])
    sides = []
    for name, stepper, text_values, prompt_values in ((names[0], real, text_real, prompt_real),
                                                      (names[1], cheat, text_cheat, prompt_cheat)):
        if cancelled():
            return None
        text_nats = nats_per_char(stepper, (), text_values)
        values, own = sample(stepper, prompt_values, sample_chars, seed, settings)
        written = stepper.vocab.decode(values)
        if cancelled():
            return None
        read = nats_per_char(real, prompt_real, encoded(real.vocab, written, names[0]))
        sides.append(Side(name, text_nats, written, read, own))
    return MaskComparison(len(text), prompt, sample_chars, seed, settings, *sides)
