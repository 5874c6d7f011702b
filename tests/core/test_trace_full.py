"""The trace keeps every step's full distributions (float16) for its newest FULL_STEPS steps."""

import numpy as np
import pytest

from arplayground.core import trace as trace_module
from arplayground.core.generate import StepBlock
from arplayground.core.sampling import SamplerSettings, sample
from arplayground.core.trace import Trace


def made(n_blocks=30, guided=False, seed=0):
    rng = np.random.default_rng(seed)
    settings = SamplerSettings(temperature=0.8, top_k=5, guidance=2.0 if guided else 1.0)
    blocks, position = [], 0
    for _ in range(n_blocks):
        n = int(rng.integers(1, 100))
        smps = [sample(rng.normal(size=16) * 3, settings, rng.random(), rng.normal(size=16) if guided else None)
                for _ in range(n)]
        one = StepBlock.of_samples(position, smps, settings, 0.1)
        blocks.append(StepBlock(position, one.columns, one.us, settings, 0.1, 1))  # a chunk of n positions
        position += n
    return blocks


def filled(blocks, capacity=4):
    trace = Trace(capacity=capacity)
    for b in blocks:
        trace.extend(b.compact())  # as the worker sends them
    return trace


@pytest.mark.parametrize("guided", [False, True])
def test_every_step_keeps_its_distributions_up_to_the_bound_and_older_ones_their_top_candidates(monkeypatch, guided):
    monkeypatch.setattr(trace_module, "FULL_STEPS", 1000)
    blocks = made(guided=guided)
    trace = filled(blocks)
    raw, sampled = np.concatenate([b.raw for b in blocks]), np.concatenate([b.sampled for b in blocks])
    n = len(trace)
    assert n > 1000 and trace.full_from == n - 1000
    for i in (trace.full_from, n - 500, n - 1):
        r, s, u = trace.distributions(i)
        np.testing.assert_allclose(r, raw[i], atol=1e-3)
        np.testing.assert_allclose(s, sampled[i], atol=2e-3)  # recomputed from raw, settings and kept
        assert np.count_nonzero(s) == trace[i].kept and (u is not None) == guided
        if guided:
            np.testing.assert_allclose(u, np.concatenate([b.unconditional for b in blocks])[i], atol=1e-3)
    assert trace.distributions(trace.full_from - 1) is None and len(trace[trace.full_from - 1].top_values) == 16
    # A branch copies what it shares; a rewind keeps what was kept.
    fork = trace.copy(n - 10)
    assert fork.full_from == trace.full_from and np.array_equal(fork.distributions(n - 11)[0], trace.distributions(n - 11)[0])
    trace.truncate(trace.full_from + 5)
    assert trace.full_from == len(trace) - 5 and trace.distributions(len(trace) - 1) is not None


def test_the_full_distributions_survive_export_and_traces_saved_without_them_still_open():
    trace = filled(made(guided=True))
    d = trace.to_dict()
    again = Trace.from_dict(d)
    n = len(trace)
    assert again.full_from == trace.full_from == 0
    for name in ("raw", "unconditional"):
        assert np.array_equal(again.full_column(name, 0, n), trace.full_column(name, 0, n))
    old = dict(d, columns={k: v for k, v in d["columns"].items() if k not in ("raw", "unconditional")})
    del old["full_from"]
    opened = Trace.from_dict(old)
    assert len(opened) == n and opened.full_from == n and opened.distributions(n - 1) is None
    assert opened.values.tolist() == trace.values.tolist()


def test_a_trace_file_whose_full_distributions_are_the_wrong_size_is_refused_before_decoding():
    d = filled(made(n_blocks=3)).to_dict(compact=True)  # base64 sizes are judged before decoding
    n = d["steps"]
    for change, reason in (
        (lambda d: d["columns"]["raw"].update(shape=[n, 10**9]), "raw"),
        (lambda d: d["columns"]["raw"].update(base64="AAAA"), "does not hold"),
        (lambda d: d.update(full_from=n + 1), "full_from"),
        (lambda d: d["columns"]["raw"].update(dtype="<f4"), "<f2"),
        (lambda d: d["columns"].update(unconditional=d["columns"].pop("raw")), "unconditional"),
    ):
        broken = {**d, "columns": {k: dict(v) for k, v in d["columns"].items()}}
        change(broken)
        with pytest.raises(ValueError, match=reason):
            Trace.from_dict(broken)
    assert Trace(capacity=4).values_problem(16) is None
    assert "full distributions are over 16" in filled(made(n_blocks=2)).values_problem(256)
