"""WaveNet's compiled inner loops (numba, nogil): one network step, and a whole chunk of steps
with sampling and per-step records (sampling.draw_step).

At 8,000 samples a second one Python call per sample is too slow, and a loop that held the GIL
would starve the GUI thread; these release it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arplayground.kernels.cache import forget_stale
from arplayground.kernels.fast_math import FAST, gate32
from arplayground.kernels.sampling import draw_step, softmax_into


@njit(nogil=True, cache=True, fastmath=FAST)
def network_step(level, t, embed, w_gate, b_gate, t_gate, t_spacing, w_out, b_res, b_skip, w_head1, b_head1, w_head2, b_head2,
                 dilations, queues, h, x, pre, g, skips, z, logits):
    """Step t consumes `level` (sample t-1) and writes the logits of sample t; updates the queues."""
    n_layers, two_r, _ = w_gate.shape
    R = two_r // 2
    S = skips.shape[0]
    L = w_head2.shape[0]
    # The local condition: step t sits between knots `left` and `right` (the last knot from there on).
    knots = t_gate.shape[1]
    position = min(t / t_spacing, knots - 1.0)
    left = int(position)
    right = min(left + 1, knots - 1)
    frac = np.float32(position - left)
    # Every accumulator is float32 (a bare 0.0 would be float64 and cost a conversion per product).
    zero, one = np.float32(0.0), np.float32(1.0)
    h[:] = embed[level]
    skips[:] = b_skip
    for l in range(n_layers):
        slot = t % dilations[l]
        x[:R] = queues[l, slot]  # the layer's input d steps ago ...
        x[R:] = h  # ... and now: the dilated conv's two taps
        queues[l, slot, :] = h  # read again d steps from now
        for o in range(two_r):
            acc = zero
            for i in range(two_r):
                acc += w_gate[l, o, i] * x[i]
            pre[o] = acc + b_gate[l, o] + (one - frac) * t_gate[l, left, o] + frac * t_gate[l, right, o]
        for i in range(R):
            g[i] = gate32(pre[i], pre[R + i])
        for o in range(R + S):  # residual rows, then skip rows
            acc = zero
            for i in range(R):
                acc += w_out[l, o, i] * g[i]
            if o < R:
                h[o] += acc + b_res[l, o]
            else:
                skips[o - R] += acc
    for i in range(S):
        skips[i] = max(skips[i], zero)
    for o in range(S):
        acc = zero
        for i in range(S):
            acc += w_head1[o, i] * skips[i]
        z[o] = max(acc + b_head1[o], zero)
    for o in range(L):
        acc = zero
        for i in range(S):
            acc += w_head2[o, i] * z[i]
        logits[o] = acc + b_head2[o]


@njit(nogil=True, cache=True)
def run_chunk(t, temperature, top_k, top_p, guidance, chain, uniforms, records, full_raw, full_sampled, full_unconditional,
              raw, probs, unconditional,
              embed, w_gate, b_gate, t_gate, t_spacing, w_out, b_res, b_skip, w_head1, b_head1, w_head2, b_head2,
              dilations, queues, h, x, pre, g, skips, z, logits,
              u_b_gate, u_t_gate, u_queues, u_h, u_x, u_pre, u_g, u_skips, u_z, u_logits):
    """len(uniforms) steps from the current logits: draw and record (draw_step: row i of records,
    and of full_* where they have rows), run the network on the drawn value.

    Guided (guidance != 1): the u_* arguments are the unconditional copy (its own gate biases,
    queues and buffers; every other weight is shared), which draws nothing but steps on the same
    values; each draw is guided by its logits, and `unconditional` ends with the last step's
    distribution under the copy. Unguided, the u_* arguments are not read.
    """
    guided = guidance != 1.0
    L = len(raw)
    work = (np.empty(L), np.empty(L), np.empty(L))
    for i in range(len(uniforms)):
        value = draw_step(i, logits, u_logits, temperature, top_k, top_p, guidance, chain, uniforms[i], raw, probs, work,
                          records, full_raw, full_sampled, full_unconditional)
        if guided and i == len(uniforms) - 1:
            softmax_into(u_logits, unconditional)
        network_step(value, t + i, embed, w_gate, b_gate, t_gate, t_spacing, w_out, b_res, b_skip,
                     w_head1, b_head1, w_head2, b_head2, dilations, queues, h, x, pre, g, skips, z, logits)
        if guided:
            network_step(value, t + i, embed, w_gate, u_b_gate, u_t_gate, t_spacing, w_out, b_res, b_skip,
                         w_head1, b_head1, w_head2, b_head2, dilations, u_queues, u_h, u_x, u_pre, u_g, u_skips, u_z, u_logits)


forget_stale(globals())  # numba's cache would keep a callee's old code after an edit
