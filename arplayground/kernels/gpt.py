"""The GPT's compiled decode step (numba, nogil): one new character through every layer, its keys
and values written into the KV cache, the next character's logits out.

A cached step is small (a 2.7M-parameter model reads ~10 MB of weights and ~9 MB of cache at
context 1000), so torch's per-operator overhead (about 60 operators a step) was most of its time;
one compiled call does the same arithmetic in float32. The cache arrays are the torch KVCache's
own storage (numpy views), so torch primes them and this step continues them, interchangeably.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from arplayground.kernels.cache import forget_stale
from arplayground.kernels.fast_math import FAST

LN_EPS = np.float32(1e-5)  # torch.nn.LayerNorm's default


@njit(nogil=True, cache=True, fastmath=FAST, inline="always")
def _layer_norm(x, weight, bias, out):
    n = x.shape[0]
    mean = np.float32(0.0)
    for i in range(n):
        mean += x[i]
    mean /= n
    var = np.float32(0.0)
    for i in range(n):
        d = x[i] - mean
        var += d * d
    var /= n
    scale = np.float32(1.0) / np.float32(math.sqrt(var + LN_EPS))
    for i in range(n):
        out[i] = (x[i] - mean) * scale * weight[i] + bias[i]


@njit(nogil=True, cache=True, fastmath=FAST, inline="always")
def _matvec(w, x, out):
    """out = w @ x for w (rows, cols), row by row (contiguous rows: the inner loop vectorises)."""
    rows, cols = w.shape
    for r in range(rows):
        acc = np.float32(0.0)
        for c in range(cols):
            acc += w[r, c] * x[c]
        out[r] = acc


@njit(nogil=True, cache=True, fastmath=FAST)
def decode_step(token, pos, wte, ln1_w, ln1_b, qkv_w, proj_w, ln2_w, ln2_b, fc_w, mlp_proj_w, lnf_w, lnf_b,
                rope_cos, rope_sin, K, V, x, h, qkv, y, a, scores, logits):
    """Character `token` at position `pos` (the cache holds positions 0 .. pos-1): K, V
    (layers, heads, block, head size) get its keys and values at pos; logits (vocab,) the next
    character's. x, h, qkv, y, a, scores: scratch of sizes C, C, 3C, C, 4C, block."""
    n_layer, n_head, _, hs = K.shape
    C = wte.shape[1]
    half = hs // 2
    inv_sqrt = np.float32(1.0 / math.sqrt(hs))
    x[:] = wte[token]
    for l in range(n_layer):
        _layer_norm(x, ln1_w[l], ln1_b[l], h)
        _matvec(qkv_w[l], h, qkv)  # (3C,): q, k, v, each heads x head size
        for hd in range(n_head):
            q0, k0, v0 = hd * hs, C + hd * hs, 2 * C + hd * hs
            for i in range(half):  # rotary: rotate each (first-half, second-half) pair by the position's angle
                c, s = rope_cos[pos, i], rope_sin[pos, i]
                q1, q2 = qkv[q0 + i], qkv[q0 + half + i]
                qkv[q0 + i], qkv[q0 + half + i] = q1 * c - q2 * s, q1 * s + q2 * c
                k1, k2 = qkv[k0 + i], qkv[k0 + half + i]
                K[l, hd, pos, i], K[l, hd, pos, half + i] = k1 * c - k2 * s, k1 * s + k2 * c
            for i in range(hs):
                V[l, hd, pos, i] = qkv[v0 + i]
            top = np.float32(-np.inf)
            for j in range(pos + 1):  # the query sees every stored key and its own
                acc = np.float32(0.0)
                for i in range(hs):
                    acc += qkv[q0 + i] * K[l, hd, j, i]
                acc *= inv_sqrt
                scores[j] = acc
                top = max(top, acc)
            total = np.float32(0.0)
            for j in range(pos + 1):
                e = np.float32(math.exp(scores[j] - top))
                scores[j] = e
                total += e
            for i in range(hs):
                y[hd * hs + i] = np.float32(0.0)
            for j in range(pos + 1):
                w = scores[j] / total
                for i in range(hs):
                    y[hd * hs + i] += w * V[l, hd, j, i]
        _matvec(proj_w[l], y, h)
        for i in range(C):
            x[i] += h[i]
        _layer_norm(x, ln2_w[l], ln2_b[l], h)
        _matvec(fc_w[l], h, a)
        for i in range(a.shape[0]):  # exact GELU, as F.gelu: x * Phi(x)
            a[i] = np.float32(0.5) * a[i] * (np.float32(1.0) + np.float32(math.erf(a[i] * np.float32(0.7071067811865476))))
        _matvec(mlp_proj_w[l], a, h)
        for i in range(C):
            x[i] += h[i]
    _layer_norm(x, lnf_w, lnf_b, h)
    _matvec(wte, h, logits)  # the output head is tied to the embedding


forget_stale(globals())  # numba's cache would keep a callee's old code after an edit
