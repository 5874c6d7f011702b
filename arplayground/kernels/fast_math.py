"""Arithmetic shared by the networks' compiled loops (kernels/wavenet.py, kernels/pixelcnn.py).

The networks' sums may be reordered (SIMD); results stay within float32 round-off of torch's.
Sampling code keeps strict IEEE semantics instead: it relies on -inf and on exact ties.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arplayground.kernels.cache import forget_stale

FAST = {"reassoc", "contract", "nsz", "arcp"}  # numba fastmath flags for the network arithmetic

# tanh(x) = x * P(x*x) / Q(x*x) on |x| <= 9 (beyond, float32 tanh is +-1), P and Q of degree 4,
# fitted here by iteratively reweighted least squares on tanh(x) / x. Max error 3.4e-7 in float32
# (tested). Plain arithmetic, so a layer's gates vectorise; math.tanh and math.exp are one libm
# call each, and those 1,280 calls a WaveNet step were about 40% of the network's time.
_P0, _P1, _P2, _P3, _P4 = (np.float32(c) for c in (1.0, 0.13396863639354706, 0.0035142770502716303,
                                                  2.091183341690339e-05, 1.3765338202631483e-08))
_Q0, _Q1, _Q2, _Q3, _Q4 = (np.float32(c) for c in (1.0, 0.4673018753528595, 0.02594839595258236,
                                                  0.00033159906161017716, 7.946500204525364e-07))
_TANH_CLAMP = np.float32(9.0)
_HALF = np.float32(0.5)


@njit(nogil=True, cache=True, fastmath=FAST, inline="always")
def tanh32(x):
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    y = x * x
    p = (((_P4 * y + _P3) * y + _P2) * y + _P1) * y + _P0
    q = (((_Q4 * y + _Q3) * y + _Q2) * y + _Q1) * y + _Q0
    return x * p / q


@njit(nogil=True, cache=True, fastmath=FAST, inline="always")
def gate32(a, b):
    """tanh(a) * sigmoid(b), with sigmoid(b) = (1 + tanh(b / 2)) / 2."""
    return tanh32(a) * (_HALF + _HALF * tanh32(_HALF * b))


forget_stale(globals())  # numba's cache would keep a callee's old code after an edit
