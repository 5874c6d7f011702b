"""A trace past SEGMENT_STEPS steps holds its per-step columns in segments (it grows without
copying what it holds) and reads, copies, exports and rewinds exactly as one held in one array."""

import numpy as np
import pytest

from arplayground.core import trace as trace_module
from arplayground.core.generate import StepBlock
from arplayground.core.sampling import SamplerSettings, sample
from arplayground.core.trace import COLUMNS, Trace


def blocks(n_blocks=25, seed=0):
    rng = np.random.default_rng(seed)
    out, position = [], 0
    for b in range(n_blocks):
        settings = SamplerSettings(temperature=0.5 + b % 3 / 2, top_k=b % 4)  # a few settings tables entries
        n = int(rng.integers(1, 40))
        smps = [sample(rng.normal(size=12) * 4, settings, rng.random()) for _ in range(n)]
        one = StepBlock.of_samples(position, smps, settings, 0.1)
        out.append(StepBlock(position, one.columns, one.us, settings, 0.1, 1).compact())
        position += n
    return out


def built(made, capacity=4):
    trace = Trace(capacity=capacity)
    for block in made:
        trace.extend(block)
    return trace


def same(a: Trace, b: Trace) -> None:
    assert len(a) == len(b)
    for name in COLUMNS:
        assert np.array_equal(a.column(name), b.column(name)), name
    assert np.array_equal(a.values, b.values) and a.settings_per_step() == b.settings_per_step()
    for i in range(len(a)):
        ra, rb = a[i], b[i]
        assert (ra.position, ra.value, ra.prob, ra.settings, ra.u) == (rb.position, rb.value, rb.prob, rb.settings, rb.u)
        assert np.array_equal(ra.top_raw, rb.top_raw) and np.array_equal(ra.top_values, rb.top_values)
        da, db = a.distributions(i), b.distributions(i)
        assert (da is None) == (db is None)
        if da is not None:
            assert all(np.array_equal(x, y) for x, y in zip(da[:2], db[:2]))
    assert np.array_equal(a.nll(), b.nll(), equal_nan=True) and a.nbytes() == b.nbytes() and a.values_problem(12) == b.values_problem(12)


@pytest.fixture
def segmented(monkeypatch):
    """SEGMENT_STEPS of 16: the blocks below cross many segment edges, inside blocks too."""
    made = blocks()
    whole = built(made)  # before the patch: one array
    monkeypatch.setattr(trace_module, "SEGMENT_STEPS", 16)
    return made, whole, built(made)


def test_segments_read_as_one_array(segmented):
    made, whole, trace = segmented
    assert len(trace._segments) > 10 and len(whole._segments) == 1  # the premise: many segments against one
    same(trace, whole)


def test_growing_copies_nothing_it_holds_past_the_first_segment(segmented):
    made, _, trace = segmented
    first = [segment["value"] for segment in trace._segments]
    trace.extend(StepBlock(len(trace), made[0].columns, made[0].us, made[0].settings, 0.1, 1))
    assert all(a is b["value"] for a, b in zip(first, trace._segments))  # the same arrays, not copies


def test_copies_exports_and_rewinds_across_segments(segmented):
    made, whole, trace = segmented
    for n in (0, 5, 16, 17, 100, len(trace)):
        same(trace.copy(n), whole.copy(n))
    d = trace.to_dict()
    assert d == whole.to_dict()
    same(Trace.from_dict(d), whole)
    for t in (trace, whole):  # rewind into an early segment, then grow again over the forgotten steps
        t.truncate(20)
        for block in made[3:9]:
            t.extend(StepBlock(len(t), block.columns, block.us, block.settings, 0.1, 1))
    same(trace, whole)
