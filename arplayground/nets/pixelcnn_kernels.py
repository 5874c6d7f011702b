"""The PixelCNN's compiled inner loop (numba, nogil): one pixel's column of the horizontal stack
and the output head.

Drawing a pixel needs, per gated layer, two small matrix-vector products and a gate. As torch calls
that was about 100 calls a pixel whose fixed cost outweighed their arithmetic (measured on an
AVX2-only CPU: 0.69 s an image, only 18x faster than re-running the whole network). Here they are
plain loops over float32 arrays, and the GIL is released.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arplayground.nets.fast_math import FAST, gate32


@njit(nogil=True, cache=True, fastmath=FAST)
def pixel_column(c, x_row, h_rows, v_to_h, w_first, b_first, w_h, b_h, w_out, b_out,
                 w_head1, b_head1, w_head2, b_head2, h, pre, g, z, logits):
    """The horizontal stack at column c of the current row, for every lane, then the head's logits.

    x_row (B, W + p0): the row's normalised pixels, column c at index c + p0 (zeros to the left);
    h_rows (n_layers, B, W + p, C): each gated layer's input along the row, column c at index c + p;
      this call writes column c's, so the columns c-p .. c are one contiguous window;
    v_to_h (n_layers, B, W, 2C): the vertical stack's share of each horizontal gate, biases included;
    w_first (C, p0); w_h (n_layers, 2C, (p + 1) * C) matching a flattened (p + 1, C) window;
    w_out (n_layers, C, C); w_head1 (2C, C); w_head2 (L, 2C); logits (B, L) is written.
    """
    n_layers, lanes, _, C = h_rows.shape
    p0 = w_first.shape[1]
    p = w_h.shape[2] // C - 1
    zero = np.float32(0.0)
    for b in range(lanes):
        for o in range(C):  # the first layer: a 1 x p0 convolution over the pixels left of c
            acc = b_first[o]
            for j in range(p0):
                acc += w_first[o, j] * x_row[b, c + j]
            h[o] = acc
        for l in range(n_layers):
            h_rows[l, b, c + p, :] = h
            for o in range(2 * C):  # the 1 x (p + 1) convolution over columns c-p .. c
                acc = b_h[l, o] + v_to_h[l, b, c, o]
                for j in range(p + 1):
                    for i in range(C):
                        acc += w_h[l, o, j * C + i] * h_rows[l, b, c + j, i]
                pre[o] = acc
            for i in range(C):
                g[i] = gate32(pre[i], pre[C + i])
            for o in range(C):  # the 1 x 1 output convolution, added to the residual stream
                acc = b_out[l, o]
                for i in range(C):
                    acc += w_out[l, o, i] * g[i]
                h[o] += acc
        for i in range(C):  # head: ReLU, 1 x 1 to 2C, ReLU, 1 x 1 to the levels
            h[i] = max(h[i], zero)
        for o in range(w_head1.shape[0]):
            acc = b_head1[o]
            for i in range(C):
                acc += w_head1[o, i] * h[i]
            z[o] = max(acc, zero)
        for o in range(w_head2.shape[0]):
            acc = b_head2[o]
            for i in range(z.shape[0]):
                acc += w_head2[o, i] * z[i]
            logits[b, o] = acc
