"""The one generation loop, the trace it records, and the vocabulary."""

import numpy as np
import pytest

from arplayground.core.generate import generate, each_step
from arplayground.core.sampling import SamplerSettings
from arplayground.core.trace import TOP_CANDIDATES, Trace
from arplayground.core.vocab import UnknownSymbols, Vocabulary


class CountingStepper:
    """A deterministic fake model: logits depend on the last value, so pushes matter."""

    def __init__(self, size=8):
        self.vocab = Vocabulary([chr(ord("a") + i) for i in range(size)])
        self.size = size

    def reset(self, prefix, condition=None):
        self.values = list(prefix)
        self.resets = getattr(self, "resets", 0) + 1

    def logits(self):
        last = self.values[-1] if self.values else 0
        return np.cos(np.arange(self.size) * (last + 1.0)) * 3

    def push(self, value):
        self.values.append(value)


def blocks(stepper, settings, n=40, seed=5, prefix=(1, 2)):
    return list(generate(stepper, list(prefix), n, settings, seed))


def run(stepper, settings, n=40, seed=5, prefix=(1, 2)):
    return [s.record for s in each_step(blocks(stepper, settings, n, seed, prefix))]


def test_same_seed_same_values_other_seed_other_values():
    a = [r.value for r in run(CountingStepper(), lambda: SamplerSettings())]
    b = [r.value for r in run(CountingStepper(), lambda: SamplerSettings())]
    c = [r.value for r in run(CountingStepper(), lambda: SamplerSettings(), seed=6)]
    assert a == b and a != c


def test_settings_are_read_fresh_at_every_step():
    current = {"s": SamplerSettings(temperature=1.5)}
    stepper = CountingStepper()
    records = []
    for i, step in enumerate(each_step(generate(stepper, [1], 30, lambda: current["s"], seed=3))):
        records.append(step.record)
        if i == 9:  # changed between step 9 and step 10: step 10 obeys
            current["s"] = SamplerSettings(temperature=0.0)
    assert all(r.settings.temperature == 1.5 for r in records[:10])
    assert all(r.settings.temperature == 0.0 for r in records[10:])
    assert all(r.rank == 0 for r in records[10:])  # greedy: always the model's argmax
    assert any(r.rank > 0 for r in records[:10])


def test_records_describe_the_step():
    stepper = CountingStepper()
    steps = list(each_step(generate(stepper, [3], 20, lambda: SamplerSettings(temperature=0.8, top_k=4), seed=1)))
    for i, step in enumerate(steps):
        rec, smp = step.record, step.sample
        assert rec.position == 1 + i
        assert rec.value == smp.value == stepper.values[1 + i]
        assert rec.prob == pytest.approx(smp.raw_probs[rec.value])
        assert rec.sampled_prob == pytest.approx(smp.probs[rec.value])
        assert rec.rank == int(np.sum(smp.raw_probs > smp.raw_probs[rec.value]))
        assert list(rec.top_values) == list(np.argsort(-smp.raw_probs, kind="stable")[: len(rec.top_values)])
        assert np.count_nonzero(smp.probs) == 4


def test_generate_resets_with_the_prefix_once():
    stepper = CountingStepper()
    run(stepper, lambda: SamplerSettings(), n=5, prefix=(4, 5, 6))
    assert stepper.resets == 1 and stepper.values[:3] == [4, 5, 6] and len(stepper.values) == 8


def test_restarting_from_a_prefix_meets_the_same_random_numbers():
    full = run(CountingStepper(), lambda: SamplerSettings(), n=30)
    values = [1, 2] + [r.value for r in full]
    resumed = run(CountingStepper(), lambda: SamplerSettings(), n=18, prefix=values[:14])
    assert [r.value for r in resumed] == [r.value for r in full[12:]]


def test_trace_round_trips_records_compactly():
    made = blocks(CountingStepper(), lambda: SamplerSettings(top_p=0.9), n=3000)
    records = list(s.record for s in each_step(made))
    trace = Trace(capacity=4)
    for block in made:
        trace.extend(block)
    assert len(trace) == 3000
    for i in (0, 1, 1234, 2999, -1):
        got, want = trace[i], records[i]
        assert (got.value, got.position, got.rank, got.settings) == (want.value, want.position, want.rank, want.settings)
        np.testing.assert_allclose(got.top_raw, want.top_raw, atol=1e-3)
        assert got.u == want.u
    assert trace.nll() == pytest.approx(np.mean([r.surprisal for r in records]), rel=1e-4)
    # the records, plus every step's full distribution in float16 (8 values here)
    assert trace.nbytes() < 3000 * (TOP_CANDIDATES * 8 + 64 + 2 * 8)


def test_vocabulary_labels_and_unknown_symbols():
    vocab = Vocabulary(list("\n abc"))
    assert vocab.label(0) == "⏎" and vocab.label(1) == "␣" and vocab.label(2) == "a"
    assert vocab.decode(vocab.encode("a b\nc")) == "a b\nc"
    with pytest.raises(UnknownSymbols) as err:
        vocab.encode("abzx€z")
    assert err.value.symbols == ["z", "x", "€"]
    assert "'z'" in str(err.value)


def test_the_per_step_loop_yields_blocks_of_one_position_with_every_full_distribution():
    """One step shape: a StepBlock of one position, the same columns a compiled chunk returns."""
    from arplayground.core.generate import StepBlock

    made = blocks(CountingStepper(), lambda: SamplerSettings(temperature=0.7, top_k=3), n=5)
    assert all(isinstance(b, StepBlock) and len(b) == 1 and b.positions == 1 for b in made)
    assert [b.position for b in made] == [2, 3, 4, 5, 6]
    for b in made:
        assert b.raw.shape == b.sampled.shape == (1, 8) and b.unconditional is None
        rec, smp = b.record(0), b.sample(0)
        assert rec.prob == pytest.approx(b.raw[0, rec.value]) and np.count_nonzero(b.sampled[0]) == 3
        assert smp.value == rec.value and smp.u == rec.u
    trace = Trace(capacity=2)
    for b in made:
        trace.extend(b)  # the trace's one writer
    assert trace.values.tolist() == [int(b.values[0]) for b in made]
