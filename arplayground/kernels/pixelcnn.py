"""The PixelCNN's compiled inner loops (numba, nogil): one pixel's column of the horizontal stack
and the output head, and run_pixels(), which draws (sampling.draw_step) pixel after pixel of a row.

Drawing a pixel needs, per gated layer, two small matrix-vector products and a gate. As torch calls
that was about 100 calls a pixel whose fixed cost outweighed their arithmetic (measured on an
AVX2-only CPU: 0.69 s an image, only 18x faster than re-running the whole network). Here they are
plain loops over float32 arrays, and the GIL is released.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arplayground.kernels.cache import forget_stale
from arplayground.kernels.fast_math import FAST, gate32
from arplayground.kernels.sampling import draw_step


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


@njit(nogil=True, cache=True)
def run_pixels(c0, n, temperature, top_k, top_p, guidance, chain, uniforms, records, out_raw, out_probs, out_unconditional,
               raw, probs, row_pixels, x_row_pad, x_row, h_rows, v_to_h, w_first, b_first, w_h, b_h, w_out, b_out,
               w_head1, b_head1, w_head2, b_head2, h, pre, g, z, logits):
    """Pixels c0 .. c0 + n - 1 of the current row (n <= W - c0), every lane: draw each from the
    current logits with uniforms[i, lane] and record it (draw_step: records' row i * lanes + lane,
    with the full raw and sampled distributions in out_raw, out_probs), write it into the row's
    caches, then compute the next column's logits (unless the row is finished: the next row's
    vertical stack needs torch).

    Guided (guidance != 1): the cache arrays hold twice the lanes, the second half the same images
    under "any digit"; each lane draws from both halves' logits and its value goes into both;
    out_unconditional gets that half's distributions (unused otherwise: it may have no rows).

    row_pixels (lanes, W) int64 and x_row_pad (lanes, W) float32 are this row of the image and of
    its normalised, padded copy; x_row as for pixel_column.
    """
    guided = guidance != 1.0
    lanes = logits.shape[0] // 2 if guided else logits.shape[0]
    W = row_pixels.shape[1]
    p0 = w_first.shape[1]
    L = raw.shape[0]
    work = (np.empty(L), np.empty(L), np.empty(L))
    for i in range(n):
        c = c0 + i
        for b in range(lanes):
            shadow = b + lanes if guided else b
            value = draw_step(i * lanes + b, logits[b], logits[shadow], temperature, top_k, top_p, guidance, chain, uniforms[i, b],
                              raw, probs, work, records, out_raw, out_probs, out_unconditional)
            x = np.float32(value) / np.float32(127.5) - np.float32(1.0)  # as PixelCNN.normalise
            for lane in (b, shadow):
                row_pixels[lane, c] = value
                x_row_pad[lane, c] = x
                x_row[lane, p0 + c] = x
        if c + 1 < W:
            pixel_column(c + 1, x_row, h_rows, v_to_h, w_first, b_first, w_h, b_h, w_out, b_out,
                         w_head1, b_head1, w_head2, b_head2, h, pre, g, z, logits)


forget_stale(globals())  # numba's cache would keep a callee's old code after an edit
