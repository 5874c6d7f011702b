"""core.half.to_float16: numpy's float32 -> float16 cast, bit for bit, fast for tiny numbers."""

import numpy as np

from arplayground.core.half import to_float16


def same_bits(x):
    ours = to_float16(x).view(np.uint16)
    with np.errstate(over="ignore"):
        numpy = np.asarray(x, np.float32).astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(ours, numpy)


def test_every_float16_boundary_and_special_value():
    smallest = 2.0**-24
    edges = [0.0, -0.0, smallest, smallest / 2, smallest * 0.5000001, smallest * 1.5, smallest * 2.5,
             2**-14, 2**-14 * (1 - 2**-12), 2**-14 * (1 - 2**-11), -2**-15, 65504.0, 65520.0, 1e9, -1e9,
             np.inf, -np.inf, np.nan, 1.0, 0.1, 1 / 3]
    same_bits(np.array(edges))


def test_random_distributions_and_the_whole_float32_subnormal_range_of_float16():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 8, (500, 256))
    p = np.exp(x - x.max(1, keepdims=True))
    same_bits(p / p.sum(1, keepdims=True))
    same_bits(np.linspace(-2**-13, 2**-13, 200_001, dtype=np.float32))
    same_bits(rng.random(10_000).astype(np.float32) * 2**-14)
