"""The stepping protocol every model implements, and the one generation loop that drives them all."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Iterator, Mapping, Protocol, Sequence

import numpy as np

from arplayground.core.sampling import Sample, SamplerSettings, sample, step_uniform, step_uniforms
from arplayground.core.trace import TOP_CANDIDATES, StepRecord, as_float16

CHUNK_VALUES = 256  # values drawn in one compiled chunk at most (audio: 32 ms of sound)


class NonFiniteLogits(RuntimeError):
    """The model gave a distribution that is not finite numbers (NaN or inf: broken weights, an
    overflow). The run stops at that step instead of drawing from garbage."""

    def __init__(self, position: int, kind: str):
        super().__init__(f"the model's output at position {position:,} is not finite numbers ({kind})")
        self.position, self.kind = position, kind  # position in the whole sequence, prefix included


def nonfinite_kind(x: np.ndarray) -> str | None:
    """'NaN' or 'inf' when x holds one (NaN first), else None: the check costs one pass over V values."""
    if np.isfinite(x).all():
        return None
    return "NaN" if np.isnan(x).any() else "inf"


def check_inputs(prefix: Sequence[int], forced: Mapping[int, int], vocab_size: int) -> None:
    """ValueError unless every value the model will be given (prefix, forced) is one of its
    vocab_size values: these index embeddings inside compiled code, which does not check bounds."""
    values = np.fromiter((int(v) for v in prefix), np.int64, len(prefix))
    if len(values) and not (values.min() >= 0 and values.max() < vocab_size):
        bad = int(values[(values < 0) | (values >= vocab_size)][0])
        raise ValueError(f"the start holds the value {bad:,}, outside the model's {vocab_size} values")
    for position, value in forced.items():
        if not 0 <= int(value) < vocab_size:
            raise ValueError(f"the value {int(value):,} forced at position {position:,} is outside the model's {vocab_size} values")


class Stepper(Protocol):
    """What the generation loop needs from a model (text, image or audio alike)."""

    vocab: object  # has len() and label(value) -> str
    lanes: int  # after reset(): sequences run as one batch (a grid's images); 1 for one sequence

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


class GuidableStepper(Stepper, Protocol):
    """A stepper of a model with a condition, which guidance (SamplerSettings.guidance) can act on."""

    guidable: bool  # after reset(): the run has a condition to guide by (not "any")

    def unconditional_logits(self) -> np.ndarray:
        """Like logits(), without the condition; from then on the stepper keeps that second state
        in step with every push (the first call primes it from the past)."""

    def stop_unconditional(self) -> None:
        """Drop that state again (guidance off: no cost)."""


class ChunkedStepper(Stepper, Protocol):
    """A stepper too fast for one Python call per step (audio, images): many steps in compiled code
    that releases the GIL, drawing exactly what generate() would draw."""

    def run_chunk(self, settings: SamplerSettings, uniforms: np.ndarray, top: int, guided: bool) -> dict:
        """len(uniforms) positions (uniforms (positions,) or (positions, lanes)): every lane draws
        with its uniform number under settings (already clamped), guided by the unconditional
        logits when `guided` (the loop's decision, guiding()), is recorded and pushed. Returns the
        block's columns, position-major (row i * lanes + lane): StepRecord's fields (value, prob,
        sampled_prob, rank, entropy, kept (n,); top_values, top_raw, top_sampled (n, top)) and every
        step's full distributions raw, sampled (n, V), and unconditional (n, V) when guided."""

    def warm_up(self) -> None:
        """Compile the kernels, or load them from numba's cache."""

    def needs_compiling(self) -> bool:
        """Whether warm_up() will compile (the first run after installing)."""


def guiding(stepper, settings: SamplerSettings) -> bool:
    """Whether this step is guided: guidance is on and the run has a condition to guide by."""
    return settings.guided and getattr(stepper, "guidable", False)


def penalisable(stepper) -> bool:
    """Whether the repetition penalty acts on this model's runs: only where every step goes
    through the per-step loop (text), which knows the values drawn before; a model with compiled
    chunks (image, audio) draws without it, per step or in chunks alike, so a replay of either
    draws the same values."""
    return getattr(stepper, "run_chunk", None) is None


def effective(stepper, settings: SamplerSettings) -> SamplerSettings:
    """The settings as they act on this run: guidance off where there is no condition to guide by
    (text, "any digit"), the repetition penalty off where it does not act (penalisable()), so
    records and exported traces never claim a stage that did nothing."""
    if settings.penalised and not penalisable(stepper):
        settings = replace(settings, repetition_penalty=1.0)
    return settings if not settings.guided or guiding(stepper, settings) else replace(settings, guidance=1.0)


def unconditional_logits(stepper, settings: SamplerSettings):
    """The stepper's unconditional logits when this step is guided; otherwise None, and the
    stepper stops keeping its unconditional state."""
    if guiding(stepper, settings):
        return stepper.unconditional_logits()
    if getattr(stepper, "guidable", False):
        stepper.stop_unconditional()
    return None


@dataclass(frozen=True)
class StepBlock:
    """Consecutive steps, column by column: what every generation path yields, what the trace
    stores and what the views draw. The per-step loop yields blocks of one position (every lane of
    a grid); compiled chunks yield many. A grid's block holds every lane of each position,
    position-major (step i is lane i % lanes)."""

    position: int  # of the first step
    columns: dict  # value, prob, sampled_prob, rank, entropy, kept (n,); top_values, top_raw, top_sampled (n, K);
    #               raw, sampled (n, V): every step's full distributions; unconditional (n, V) when guided
    us: np.ndarray  # the uniform number of each step
    settings: SamplerSettings  # read once before the block: a change applies from the next one
    seconds: float  # compute time of the whole block
    lanes: int = 1

    def __len__(self) -> int:
        return len(self.us)

    @property
    def positions(self) -> int:
        return len(self.us) // self.lanes

    @property
    def values(self) -> np.ndarray:
        return self.columns["value"]

    @property
    def raw(self) -> np.ndarray:
        """(n, V): the model's distribution at every step."""
        return self.columns["raw"]

    @property
    def sampled(self) -> np.ndarray | None:
        """(n, V): the distribution every step was drawn from (None in a compact block)."""
        return self.columns.get("sampled")

    @property
    def unconditional(self) -> np.ndarray | None:
        """(n, V) when guided: the model's distribution without its condition; else None."""
        return self.columns.get("unconditional")

    def compact(self) -> "StepBlock":
        """The block as the trace stores it, made by the worker before it is sent: the full
        distributions in float16, without the sampled one (the trace recomputes it from raw, the
        settings and the kept count: core.sampling.sampled_from)."""
        columns = {name: col for name, col in self.columns.items() if name not in ("raw", "sampled", "unconditional")}
        columns["raw"] = as_float16(self.raw)
        if self.unconditional is not None:
            columns["unconditional"] = as_float16(self.unconditional)
        return replace(self, columns=columns)

    def record(self, i: int) -> StepRecord:
        c = self.columns
        return StepRecord(
            position=self.position + i // self.lanes, value=int(c["value"][i]), prob=float(c["prob"][i]),
            sampled_prob=float(c["sampled_prob"][i]), rank=int(c["rank"][i]), entropy=float(c["entropy"][i]),
            kept=int(c["kept"][i]),
            top_values=c["top_values"][i].copy(), top_raw=c["top_raw"][i].copy(), top_sampled=c["top_sampled"][i].copy(),
            settings=self.settings, u=float(self.us[i]), seconds=self.seconds / len(self),
        )

    def sample(self, i: int) -> Sample:
        """Step i's distributions and draw, as core.sampling.sample() gave them."""
        unconditional = self.unconditional
        return Sample(self.raw[i], self.sampled[i], int(self.values[i]), float(self.us[i]),
                      None if unconditional is None else unconditional[i])

    @staticmethod
    def of_samples(position: int, samples: Sequence[Sample], settings: SamplerSettings, seconds: float) -> "StepBlock":
        """One position's draws (one per lane), as the per-step loop made them, as a block."""
        per_step = seconds / len(samples)
        records = [StepRecord.from_sample(position, smp, settings, per_step) for smp in samples]
        columns = {name: np.array([getattr(r, name) for r in records], dtype)
                   for name, dtype in (("value", np.int32), ("prob", np.float32), ("sampled_prob", np.float32),
                                       ("rank", np.int32), ("entropy", np.float32), ("kept", np.int32))}
        for name in ("top_values", "top_raw", "top_sampled"):
            columns[name] = np.stack([getattr(r, name) for r in records])
        columns["raw"] = np.stack([smp.raw_probs for smp in samples])
        columns["sampled"] = np.stack([smp.probs for smp in samples])
        if samples[0].unconditional_probs is not None:
            columns["unconditional"] = np.stack([smp.unconditional_probs for smp in samples])
        return StepBlock(position, columns, np.array([smp.u for smp in samples], np.float64), settings, seconds,
                         len(samples))


@dataclass(frozen=True)
class Step:
    """One step of a block, for code that reads steps one by one (tests, the lab's replay)."""

    record: StepRecord
    sample: Sample
    lane: int = 0  # which sequence of a batch (grid mode); 0 for a single sequence
    lanes: int = 1


def each_step(blocks: Iterable[StepBlock]) -> Iterator[Step]:
    """The steps of these blocks one by one, oldest first (a grid's lane by lane at each position)."""
    for block in blocks:
        for i in range(len(block)):
            yield Step(block.record(i), block.sample(i), i % block.lanes, block.lanes)


def generate(
    stepper: Stepper,
    prefix: Sequence[int],
    n_steps: int,
    settings: Callable[[], SamplerSettings],
    seed: int,
    condition=None,
    forced: Mapping[int, int] | None = None,
) -> Iterator[StepBlock]:
    """Sample n_steps values after prefix, one position at a time: a StepBlock of one position.

    `settings` is called afresh before every step, so a change made while the loop runs (from
    another thread, as an immutable snapshot) applies to the very next step. Step i of the
    sequence draws with step_uniform(seed, i): the same seed, prefix and settings give the same
    values, and a run restarted from any prefix meets the same random numbers.

    A batched stepper (stepper.lanes > 1 after reset) yields one block per position holding every
    lane; lane j draws with seed + j, so every cell of a grid is exactly the image a single run
    with seed + j and that cell's condition would draw.

    forced maps positions to values taken instead of drawing (a branch: "what if this value had
    come here?"); the record still holds the distribution the model gave at that position.
    """
    forced = forced or {}
    vocab_size = len(stepper.vocab)
    check_inputs(prefix, forced, vocab_size)
    stepper.reset(prefix, condition)
    lanes = getattr(stepper, "lanes", 1)
    assert lanes == 1 or not forced, "values are forced in single sequences, not grids"
    position = len(prefix)
    # Each lane's values so far, the prefix included: the repetition penalty's window reads their end.
    history = [list(prefix) for _ in range(lanes)]
    for _ in range(n_steps):
        started = time.perf_counter()
        current = effective(stepper, settings().clamped(vocab_size))
        recent = history if current.penalised else [None] * lanes
        # The unconditional copy first: starting or dropping it may rebuild the caches (a PixelCNN
        # batch of another size), and the logits must be those the compiled chunks would use.
        unconditional = unconditional_logits(stepper, current)
        logits = np.reshape(stepper.logits(), (lanes, vocab_size))
        _check_finite(logits, unconditional, position)
        unconditional = [None] * lanes if unconditional is None else np.reshape(unconditional, (lanes, vocab_size))
        samples = [sample(logits[j], current, step_uniform(seed + j, position), unconditional[j], recent[j])
                   for j in range(lanes)]
        if position in forced:
            samples[0] = replace(samples[0], value=int(forced[position]))
        for j in range(lanes):
            history[j].append(samples[j].value)
        stepper.push(samples[0].value if lanes == 1 else [s.value for s in samples])
        yield StepBlock.of_samples(position, samples, current, time.perf_counter() - started)
        position += 1


def generate_chunks(
    stepper: ChunkedStepper,
    prefix: Sequence[int],
    n_steps: int,
    settings: Callable[[], SamplerSettings],
    seed: int,
    condition=None,
    chunk_steps: int | Callable[[], int] = 256,
    forced: Mapping[int, int] | None = None,
) -> Iterator[StepBlock]:
    """generate() for a stepper with a compiled run_chunk(): the same draws (same sampling rules,
    same step_uniform numbers), in blocks of chunk_steps positions.

    Settings are read before each chunk; 256 steps are 32 ms of audio at 8 kHz, so a change still
    reaches the sound at once. chunk_steps may be a callable read before each chunk (the worker
    asks for single steps while paused). A forced position is taken by the per-step protocol.
    """
    forced = forced or {}
    vocab_size = len(stepper.vocab)
    check_inputs(prefix, forced, vocab_size)
    stepper.reset(prefix, condition)
    lanes = getattr(stepper, "lanes", 1)
    assert lanes == 1 or not forced, "values are forced in single sequences, not grids"
    position = len(prefix)
    end = position + n_steps
    while position < end:
        current = effective(stepper, settings().clamped(vocab_size))
        if position in forced:
            yield _forced_block(stepper, position, forced[position], current, step_uniform(seed, position))
            position += 1
            continue
        # chunk_steps counts positions (the worker's pacing does too); a grid draws one value per
        # image at each, so its chunks also stop at CHUNK_VALUES values: a few ms of compute.
        n = min(chunk_steps() if callable(chunk_steps) else chunk_steps, max(1, CHUNK_VALUES // lanes), end - position)
        n = min(n, min((p for p in forced if p > position), default=end) - position)  # stop before a forced one
        # Lane j draws with seed + j, as in generate(): (positions, lanes), or (positions,) for one.
        us = step_uniforms(seed, position, n) if lanes == 1 else np.stack(
            [step_uniforms(seed + j, position, n) for j in range(lanes)], axis=1)
        started = time.perf_counter()
        columns = stepper.run_chunk(current, us, TOP_CANDIDATES, guiding(stepper, current))
        seconds = time.perf_counter() - started
        _check_chunk(columns, position, lanes)
        yield StepBlock(position, columns, us.reshape(-1), current, seconds, lanes)
        position += n


def uses_chunks(stepper, per_step_settings: bool = False) -> bool:
    """Compiled chunks for a stepper that has them, unless every step must read its own settings
    (replaying a trace: settings are read once per chunk)."""
    return getattr(stepper, "run_chunk", None) is not None and not per_step_settings


def run_steps(
    stepper,
    prefix: Sequence[int],
    n_steps: int,
    settings: Callable[[], SamplerSettings],
    seed: int,
    condition=None,
    forced: Mapping[int, int] | None = None,
    chunk_steps: int | Callable[[], int] = 256,
    per_step_settings: bool = False,
):
    """The app's one entry to generation (the worker, the lab, the benchmarks): StepBlocks, from
    generate_chunks where uses_chunks() says so, else from generate(); the same draws either way."""
    if uses_chunks(stepper, per_step_settings):
        return generate_chunks(stepper, prefix, n_steps, settings, seed, condition, chunk_steps, forced)
    return generate(stepper, prefix, n_steps, settings, seed, condition, forced)


def _check_finite(logits: np.ndarray, unconditional, position: int) -> None:
    """Raise NonFiniteLogits unless this step's logits (and the unconditional ones, guided) are finite."""
    kind = nonfinite_kind(np.asarray(logits))
    if kind is None and unconditional is not None:
        kind = nonfinite_kind(np.asarray(unconditional))
    if kind is not None:
        raise NonFiniteLogits(position, kind)


def _check_chunk(columns: dict, position: int, lanes: int) -> None:
    """A compiled chunk's steps came from finite logits: any NaN or inf in a step's logits (or the
    unconditional ones) turns its probabilities and entropy into NaN, so those columns say which
    step went wrong without a second pass over the logits inside the kernel."""
    bad = ~(np.isfinite(columns["prob"]) & np.isfinite(columns["sampled_prob"]) & np.isfinite(columns["entropy"]))
    if bad.any():
        raise NonFiniteLogits(position + int(np.argmax(bad)) // lanes, "NaN or inf")


def _forced_block(stepper, position: int, value: int, settings: SamplerSettings, u: float) -> StepBlock:
    """One forced step of a compiled stepper, through its per-step protocol, as a block of one."""
    started = time.perf_counter()
    unconditional = unconditional_logits(stepper, settings)  # first, as in generate()
    logits = stepper.logits()
    _check_finite(logits, unconditional, position)
    smp = replace(sample(logits, settings, u, unconditional), value=int(value))
    stepper.push(smp.value)
    return StepBlock.of_samples(position, [smp], settings, time.perf_counter() - started)
