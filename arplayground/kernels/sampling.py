"""Sampling and per-step records in compiled code (numba, nogil), for the models' chunk loops.

Sampling follows core.sampling rule for rule (log-space, the chain's stages in the settings' order,
stable ties, inverse-CDF draw), so a chunk draws what the per-step generation loop would draw from
the same logits and uniform numbers; record_into() writes what core.trace.StepRecord.from_sample
records (the readable reference; the tests hold the two equal). draw_step() is the one step both
chunk loops (pixelcnn.py, wavenet.py) take: shape (guidance), sample, record. Strict IEEE arithmetic
here (no fastmath): it relies on -inf and on exact ties.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from arplayground.core.sampling import DEFAULT_ORDER, GREEDY_BELOW, SIGMA_SLACK, STAGES, valid_order
from arplayground.kernels.cache import forget_stale

# The StepRecord fields record_into() writes, in the order of its `records` tuple: a chunk's columns.
RECORD_COLUMNS = ("value", "prob", "sampled_prob", "rank", "entropy", "kept", "top_values", "top_raw", "top_sampled")


def record_columns(n: int, top: int) -> dict:
    """Empty columns for n steps' records, RECORD_COLUMNS in order, with `top` candidates each
    (a dict: a chunk loop takes tuple(columns[name] for name in RECORD_COLUMNS) as its `records`)."""
    return {
        "value": np.zeros(n, np.int32), "prob": np.zeros(n, np.float32), "sampled_prob": np.zeros(n, np.float32),
        "rank": np.zeros(n, np.int32), "entropy": np.zeros(n, np.float32), "kept": np.zeros(n, np.int32),
        "top_values": np.zeros((n, top), np.int32),
        "top_raw": np.zeros((n, top), np.float32), "top_sampled": np.zeros((n, top), np.float32),
    }


def kernel_settings(settings, guided: bool) -> tuple[float, int, float, float, np.ndarray]:
    """(temperature, top_k, top_p, guidance, chain) as the chunk kernels take them: temperature 0
    when greedy, guidance 1 (off) unless this chunk is guided (core.generate.guiding); chain is
    float64 [min_p, typical_p, top_n_sigma, then each stage of settings.order as its index in
    core.sampling.STAGES]. The repetition penalty is not among them: it needs the values drawn
    before, which only the per-step loop has (core.generate.effective turns it off for chunked
    models)."""
    temperature = 0.0 if settings.greedy else settings.temperature
    guidance = settings.guidance if guided else 1.0
    order = valid_order(settings.order) or DEFAULT_ORDER
    chain = np.array([settings.min_p, settings.typical_p, settings.top_n_sigma] + [STAGES.index(s) for s in order], np.float64)
    return float(temperature), int(settings.top_k), float(settings.top_p), float(guidance), chain


@njit(nogil=True, cache=True)
def _log_softmax_inplace(x):
    m = -np.inf
    for v in x:
        if v > m:
            m = v
    total = 0.0
    for v in x:
        total += math.exp(v - m)
    log_total = math.log(total)
    for i in range(len(x)):
        # The same formula as core.sampling.log_softmax, but the sum above runs in order where
        # np.sum adds pairwise: the last bits can differ. Draws are compared in tests, not assumed.
        x[i] = (x[i] - m) - log_total


@njit(nogil=True, cache=True)
def _keep_top(logp, order, keep):
    """Remove every value ranked `keep` or lower (order: most likely first), renormalise."""
    for j in range(keep, len(order)):
        logp[order[j]] = -np.inf
    _log_softmax_inplace(logp)


@njit(nogil=True, cache=True)
def shape_into(logits, unconditional, guidance, shaped):
    """What the filters start from, as core.sampling.guided_logits: the logits (float64) when
    guidance is 1, else unconditional + guidance * (logits - unconditional)."""
    if guidance == 1.0:
        for i in range(len(logits)):
            shaped[i] = logits[i]
    else:
        for i in range(len(logits)):
            u = np.float64(unconditional[i])
            shaped[i] = u + guidance * (np.float64(logits[i]) - u)


@njit(nogil=True, cache=True)
def softmax_into(logits, out):
    """exp(log_softmax(logits)) into out (float64)."""
    for i in range(len(logits)):
        out[i] = logits[i]
    _log_softmax_inplace(out)
    for i in range(len(out)):
        out[i] = math.exp(out[i])


# Stage numbers: core.sampling.STAGES's indices, as kernel_settings() writes them.
_PENALTIES, _TEMPERATURE, _TOP_K, _TYPICAL_P, _TOP_P, _MIN_P, _TOP_N_SIGMA = range(7)


@njit(nogil=True, cache=True)
def _cut_below(logp, threshold):
    """Remove every value under threshold, renormalise."""
    for i in range(len(logp)):
        if logp[i] < threshold:
            logp[i] = -np.inf
    _log_softmax_inplace(logp)


@njit(nogil=True, cache=True)
def _keep_mass(logp, order, mass):
    """Keep values in `order` until their cumulative probability reaches mass (at least one)."""
    L = len(logp)
    cumulative, keep = 0.0, L
    for j in range(L):  # the first rank whose cumulative mass reaches p, kept with all above it
        cumulative += math.exp(logp[order[j]])
        if cumulative >= mass:
            keep = j + 1
            break
    _keep_top(logp, order, keep)


@njit(nogil=True, cache=True)
def _apply_stage(stage, logp, normalised, temperature, top_k, top_p, min_p, typical_p, top_n_sigma, spare):
    """One active stage on logp in place: core.sampling._apply, rule for rule (the same sums in
    the same order). normalised: whether logp holds log-probabilities yet (else the logits)."""
    L = len(logp)
    if stage == _TEMPERATURE:
        if temperature < GREEDY_BELOW:  # the most likely value left; ties keep the lower value
            best = 0
            for i in range(L):
                if logp[i] > logp[best]:
                    best = i
            for i in range(L):
                logp[i] = -np.inf
            logp[best] = 0.0
        else:
            for i in range(L):
                logp[i] = logp[i] / temperature
            _log_softmax_inplace(logp)
        return
    if stage == _MIN_P:
        top = -np.inf
        for v in logp:
            if v > top:
                top = v
        _cut_below(logp, top + math.log(min_p))
        return
    if stage == _TOP_N_SIGMA:
        top, total, count = -np.inf, 0.0, 0
        for v in logp:
            if v > top:
                top = v
            if np.isfinite(v):
                total += v
                count += 1
        mean = total / count
        spread = 0.0
        for v in logp:
            if np.isfinite(v):
                spread += (v - mean) * (v - mean)
        _cut_below(logp, top - top_n_sigma * math.sqrt(spread / count) * SIGMA_SLACK)
        return
    if not normalised:
        _log_softmax_inplace(logp)
    if stage == _TOP_K:
        _keep_top(logp, np.argsort(-logp, kind="mergesort"), top_k)
    elif stage == _TOP_P:
        _keep_mass(logp, np.argsort(-logp, kind="mergesort"), top_p)
    elif stage == _TYPICAL_P:
        h = 0.0
        for v in logp:
            if np.isfinite(v):
                h -= math.exp(v) * v
        for i in range(L):
            spare[i] = abs(-logp[i] - h) if np.isfinite(logp[i]) else np.inf
        _keep_mass(logp, np.argsort(spare, kind="mergesort"), typical_p)


@njit(nogil=True, cache=True)
def sample_into(logits, shaped, guided, temperature, top_k, top_p, chain, u, raw, probs, logp, spare):
    """core.sampling.sample(), compiled: fills raw (from logits) and probs (from shaped: the
    logits after guidance, shape_into()), both float64; returns the drawn value and the raw
    distribution's entropy (nats). chain: kernel_settings()'s [min_p, typical_p, top_n_sigma,
    the stage order]; spare: an (L,) float64 scratch buffer."""
    L = len(logits)
    for i in range(L):
        raw[i] = logits[i]
    _log_softmax_inplace(raw)
    entropy = 0.0
    for i in range(L):
        log_p = raw[i]
        raw[i] = math.exp(log_p)
        entropy -= raw[i] * log_p  # from the log-probabilities at hand: no 256 extra logs
    min_p, typical_p, top_n_sigma = chain[0], chain[1], chain[2]
    others = (0 < top_k < L) or top_p < 1.0 or min_p > 0.0 or typical_p < 1.0 or top_n_sigma > 0.0
    if not guided and temperature == 1.0 and not others:
        probs[:] = raw  # nothing to reshape
    else:
        for i in range(L):
            logp[i] = shaped[i]
        normalised = False
        for j in range(3, len(chain)):
            stage = int(chain[j])
            if stage == _TEMPERATURE:
                active = True  # T = 1 still divides by 1, as core.sampling does
            elif stage == _TOP_K:
                active = 0 < top_k < L
            elif stage == _TOP_P:
                active = top_p < 1.0
            elif stage == _TYPICAL_P:
                active = typical_p < 1.0
            elif stage == _MIN_P:
                active = min_p > 0.0
            elif stage == _TOP_N_SIGMA:
                active = top_n_sigma > 0.0
            else:
                active = False  # the repetition penalty: per-step loop only
            if active:
                _apply_stage(stage, logp, normalised, temperature, top_k, top_p, min_p, typical_p, top_n_sigma, spare)
                normalised = True
        if not normalised:
            _log_softmax_inplace(logp)
        for i in range(L):
            probs[i] = math.exp(logp[i])
    total = 0.0
    for i in range(L):
        total += probs[i]
    target, cumulative, value = u * total, 0.0, L
    for i in range(L):
        cumulative += probs[i]
        if cumulative > target:
            value = i
            break
    value = min(value, L - 1)
    while probs[value] == 0.0:  # round-off at the very top can land on a removed value
        value -= 1
    return value, entropy


@njit(nogil=True, cache=True)
def record_into(i, value, entropy, raw, probs, records):
    """StepRecord's fields for step i of a chunk into row i of `records` (the RECORD_COLUMNS arrays, in
    order): the drawn value's raw and sampled probability, its rank (values strictly more likely),
    the entropy, how many values the filters kept, and the top candidates by raw probability, most
    likely first, equal probabilities lower value first (StepRecord.from_sample's stable argsort)."""
    out_value, out_prob, out_sampled, out_rank, out_entropy, out_kept, out_top_values, out_top_raw, out_top_sampled = records
    p = raw[value]
    out_value[i], out_prob[i], out_sampled[i] = value, p, probs[value]
    rank, kept = 0, 0
    for v in range(len(raw)):
        if raw[v] > p:
            rank += 1
        if probs[v] > 0.0:
            kept += 1
    out_rank[i], out_entropy[i], out_kept[i] = rank, entropy, kept
    k = out_top_values.shape[1]
    top_v = np.empty(k, np.int64)
    top_p = np.empty(k)
    count = 0
    for v in range(len(raw)):  # insertion into a sorted top-k; equal probabilities keep the lower value first
        q = raw[v]
        if count == k and not q > top_p[k - 1]:
            continue
        j = count if count < k else k - 1
        while j > 0 and top_p[j - 1] < q:
            top_p[j], top_v[j] = top_p[j - 1], top_v[j - 1]
            j -= 1
        top_p[j], top_v[j] = q, v
        if count < k:
            count += 1
    for j in range(k):
        out_top_values[i, j] = top_v[j]
        out_top_raw[i, j] = top_p[j]
        out_top_sampled[i, j] = probs[top_v[j]]


@njit(nogil=True, cache=True)
def draw_step(i, logits, unconditional, temperature, top_k, top_p, guidance, chain, u, raw, probs, work, records,
              full_raw, full_sampled, full_unconditional):
    """One step of a chunk loop: shape the logits (guided by the unconditional ones when guidance
    is not 1), draw with the uniform number u by core.sampling's rules, record the step in row i.
    Returns the drawn value. chain: kernel_settings()'s array (the newer stages and the order).

    raw, probs (L,) float64 are left holding this step's raw and sampled distributions; work is
    (shaped, logp, spare), three (L,) float64 buffers. full_raw, full_sampled and full_unconditional
    (rows, L) float32 keep every step's whole distributions in row i (the unconditional one only
    when guided); an array with no rows keeps none.
    """
    shaped, logp, spare = work
    guided = guidance != 1.0
    shape_into(logits, unconditional, guidance, shaped)
    value, entropy = sample_into(logits, shaped, guided, temperature, top_k, top_p, chain, u, raw, probs, logp, spare)
    record_into(i, value, entropy, raw, probs, records)
    if i < full_raw.shape[0]:
        for v in range(len(raw)):
            full_raw[i, v] = raw[v]
    if i < full_sampled.shape[0]:
        for v in range(len(probs)):
            full_sampled[i, v] = probs[v]
    if guided and i < full_unconditional.shape[0]:
        softmax_into(unconditional, spare)
        for v in range(len(spare)):
            full_unconditional[i, v] = spare[v]
    return value


def no_rows(levels: int) -> np.ndarray:
    """A (0, levels) float32 array: draw_step's "keep no full distributions"."""
    return np.zeros((0, levels), np.float32)


forget_stale(globals())  # numba's cache would keep a callee's old code after an edit
