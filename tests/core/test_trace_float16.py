"""core.trace.as_float16: bit for bit numpy's astype(np.float16), for every kind of value the
trace stores (probabilities down to underflow) and for those it never should meet."""

import numpy as np
import pytest

from arplayground.core.generate import StepBlock
from arplayground.core.sampling import SamplerSettings
from arplayground.core.trace import Trace, as_float16


def bits(x) -> np.ndarray:
    return np.asarray(x, np.float16).view(np.uint16)


def edge_values() -> np.ndarray:
    """Every float16 below the smallest normal, the midpoints between neighbours (where rounding
    half to even decides) and the float64 on either side of each, around 2**-14 and above it."""
    halves = np.arange(0, 1100, dtype=np.uint16).view(np.float16).astype(np.float64)  # 0 .. past 2**-14
    mids = (halves[:-1] + halves[1:]) / 2
    near = np.concatenate([np.nextafter(mids, 0), np.nextafter(mids, 1), np.nextafter(halves, 0), np.nextafter(halves, 1)])
    special = np.array([0.0, -0.0, 2.0**-14, np.nextafter(2.0**-14, 0), 2.0**-24, 2.0**-25, np.nextafter(2.0**-25, 1),
                        1e-300, 5e-324, 1.0, 65504.0, 65520.0, 1e6, np.inf, -np.inf, np.nan])
    values = np.concatenate([halves, mids, near, special])
    return np.concatenate([values, -values])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_numpy_on_every_edge(dtype):
    x = edge_values().astype(dtype)
    with np.errstate(over="ignore"):  # numpy's own warning for values past float16's range
        assert np.array_equal(bits(as_float16(x)), bits(x.astype(np.float16)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_equals_numpy_on_distributions(dtype):
    rng = np.random.default_rng(3)
    for scale in (0.5, 4, 12, 40):  # flat to very peaked: most values underflow at the end
        logits = rng.normal(0, scale, (64, 256))
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p = (p / p.sum(axis=1, keepdims=True)).astype(dtype)
        out = as_float16(p)
        assert out.dtype == np.float16 and out.shape == p.shape
        assert np.array_equal(bits(out), bits(p.astype(np.float16)))
    wide = np.geomspace(1e-40, 1e4, 20_000).astype(dtype)
    assert np.array_equal(bits(as_float16(wide)), bits(wide.astype(np.float16)))


def test_float16_is_returned_as_is():
    x = np.arange(10, dtype=np.float16)
    assert as_float16(x) is x


def test_trace_stores_what_astype_gives():
    """The trace's float16 columns (top candidates, full distributions) hold astype's bits,
    whether a block comes compact (float16, from the worker) or as the model gave it."""
    rng = np.random.default_rng(0)
    m, k = 40, 16
    logits = rng.normal(0, 15, (m, 256))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    top = np.argsort(-p, axis=1)[:, :k]
    columns = {"value": top[:, 0].astype(np.int32), "prob": p.max(axis=1).astype(np.float32),
               "sampled_prob": p.max(axis=1).astype(np.float32), "rank": np.zeros(m, np.int32),
               "entropy": np.ones(m, np.float32), "kept": np.full(m, 256, np.int32), "top_values": top.astype(np.int32),
               "top_raw": np.take_along_axis(p, top, 1).astype(np.float32),
               "top_sampled": np.take_along_axis(p, top, 1).astype(np.float32), "raw": p, "sampled": p}
    block = StepBlock(0, columns, rng.random(m), SamplerSettings(), 0.01)
    for given in (block, block.compact()):
        trace = Trace()
        trace.extend(given)
        assert np.array_equal(bits(trace.full_column("raw", 0, m)), bits(p.astype(np.float16)))
        assert np.array_equal(bits(trace.column("top_raw")), bits(columns["top_raw"].astype(np.float16)))
    assert np.array_equal(bits(block.compact().raw), bits(p.astype(np.float16)))
