"""The sampler chain (issue 23): min-p, typical-p, top-n-sigma, the repetition penalty and the
stages' order; hand-computed small cases, clamping, validation, traces, and the compiled twin."""

import json
import math

import numpy as np
import pytest

from arplayground.core.generate import StepBlock, generate
from arplayground.core.sampling import (
    DEFAULT_ORDER,
    STAGES,
    SamplerSettings,
    parse_order,
    sample,
    sampled_from,
    sampler_chain,
    stages,
)
from arplayground.core.trace import TOP_CANDIDATES, Trace
from arplayground.kernels.sampling import RECORD_COLUMNS, draw_step, kernel_settings, record_columns


def final(probabilities, **settings) -> np.ndarray:
    """The chain's last distribution for logits log(probabilities)."""
    recent = settings.pop("recent", None)
    s = SamplerSettings(**settings).clamped(len(probabilities))
    return sampler_chain(np.log(np.asarray(probabilities, np.float64)), s, None, recent)[-1].probs


def test_min_p_keeps_values_at_least_that_fraction_of_the_top():
    p = final([0.5, 0.3, 0.15, 0.05], min_p=0.25)  # threshold 0.125: the 0.05 goes
    np.testing.assert_allclose(p, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0.0], rtol=1e-12)
    assert np.count_nonzero(final([0.5, 0.3, 0.15, 0.05], min_p=1.0)) == 1  # only the top


def test_typical_p_keeps_the_values_nearest_the_entropy_and_may_drop_the_most_likely():
    # H = 1.2799 nats; surprisals 0.916, 1.204, 1.609, 2.303: nearest are 0.3 (0.076 away) then 0.2 (0.329).
    p = final([0.4, 0.3, 0.2, 0.1], typical_p=0.45)
    np.testing.assert_allclose(p, [0.0, 0.6, 0.4, 0.0], rtol=1e-12)
    np.testing.assert_allclose(final([0.4, 0.3, 0.2, 0.1], typical_p=0.29), [0, 1, 0, 0])  # 0.3 alone reaches it
    np.testing.assert_allclose(final([0.4, 0.3, 0.2, 0.1], typical_p=0.0), [0, 1, 0, 0])  # keeps one always


def test_top_n_sigma_keeps_logits_within_n_deviations_of_the_top():
    logits = np.array([3.0, 2.0, 0.0, -1.0])  # mean 1, sigma sqrt(2.5) = 1.581
    s = SamplerSettings(top_n_sigma=1.0)
    assert np.flatnonzero(sampler_chain(logits, s)[-1].probs).tolist() == [0, 1]  # above 1.419
    s = SamplerSettings(top_n_sigma=2.5)
    assert np.flatnonzero(sampler_chain(logits, s)[-1].probs).tolist() == [0, 1, 2]  # above -0.953
    hot = SamplerSettings(top_n_sigma=1.0, temperature=2.0)  # the kept set ignores temperature
    assert np.flatnonzero(sampler_chain(logits, hot)[-1].probs).tolist() == [0, 1]


def test_the_repetition_penalty_divides_recent_values_probabilities_within_its_window():
    uniform = [0.25] * 4
    np.testing.assert_allclose(final(uniform, repetition_penalty=2.0, recent=[1, 1, 3]), [1 / 3, 1 / 6, 1 / 3, 1 / 6])
    np.testing.assert_allclose(final(uniform, repetition_penalty=2.0, penalty_window=1, recent=[1, 1, 3]),
                               [2 / 7, 2 / 7, 2 / 7, 1 / 7])
    np.testing.assert_allclose(final(uniform, repetition_penalty=2.0), uniform)  # no values before: nothing to penalise
    np.testing.assert_allclose(final(uniform, repetition_penalty=2.0, recent=[9, -1]), uniform)  # outside: ignored


def test_the_order_matters_and_is_followed():
    p = [0.5, 0.3, 0.2]
    # Temperature first (the default): 0.5 sharpens to 0.658, which alone reaches top-p 0.6.
    np.testing.assert_allclose(final(p, temperature=0.5, top_p=0.6), [1, 0, 0])
    # Top-p first: 0.5 + 0.3 reach 0.6 untempered; then T 0.5 gives 0.25 : 0.09.
    order = ("top_p", "temperature") + tuple(s for s in DEFAULT_ORDER if s not in ("top_p", "temperature"))
    np.testing.assert_allclose(final(p, temperature=0.5, top_p=0.6, order=order), [0.25 / 0.34, 0.09 / 0.34, 0], rtol=1e-12)


def test_every_stage_is_listed_with_what_it_keeps_and_the_last_is_what_sample_draws_from():
    rng = np.random.default_rng(4)
    logits = rng.normal(0, 2, 40)
    s = SamplerSettings(temperature=0.8, top_k=30, min_p=0.02, typical_p=0.95, top_p=0.9, top_n_sigma=2.0)
    chain = sampler_chain(logits, s.clamped(40))
    assert [c.name for c in chain] == ["model", *DEFAULT_ORDER]
    assert chain[0].kept == 40 and chain[STAGES.index("top_k") + 1].kept == 30
    assert all(a.kept >= b.kept for a, b in zip(chain[1:], chain[2:]))  # the default order only removes
    assert not chain[1].active and all(c.active for c in chain[2:])  # penalties off
    for u in np.linspace(0, 0.999, 30):
        smp = sample(logits, s, u)
        np.testing.assert_array_equal(smp.probs, chain[-1].probs)
        st = stages(logits, s, u)
        assert st.would_draw == smp.value and st.kept == chain[-1].kept and len(st.chain) == len(chain)


def test_new_stages_off_by_default_and_clamped_like_the_others():
    s = SamplerSettings()
    assert (s.min_p, s.typical_p, s.top_n_sigma, s.repetition_penalty, s.order) == (0.0, 1.0, 0.0, 1.0, DEFAULT_ORDER)
    c = SamplerSettings(min_p=2, typical_p=-1, top_n_sigma=99, repetition_penalty=0.5, penalty_window=0).clamped(10)
    assert (c.min_p, c.typical_p, c.top_n_sigma, c.repetition_penalty, c.penalty_window) == (1.0, 0.0, 5.0, 1.0, 1)
    nan = float("nan")
    c = SamplerSettings(min_p=nan, typical_p=nan, top_n_sigma=float("inf"), repetition_penalty=nan).clamped(10)
    assert (c.min_p, c.typical_p, c.top_n_sigma, c.repetition_penalty) == (0.0, 1.0, 0.0, 1.0)  # off
    assert SamplerSettings(penalty_window=10**9).clamped(10).penalty_window == 1024
    assert type(SamplerSettings(min_p=0).clamped(10).min_p) is float
    once = SamplerSettings(min_p=0.1, order=tuple(reversed(STAGES))).clamped(10)
    assert once.clamped(10) is once  # in range: no new object


@pytest.mark.parametrize("order", [("temperature",), STAGES + ("top_k",), ("a",) * 7, "temperature", None,
                                   tuple(reversed(STAGES))[:-1] + ("nope",)])
def test_an_order_that_is_not_a_permutation_of_the_stages_becomes_the_default(order):
    assert SamplerSettings(order=order).clamped(10).order == DEFAULT_ORDER


def test_a_permutation_is_kept_and_a_list_becomes_a_tuple():
    order = list(reversed(STAGES))
    s = SamplerSettings(order=order)
    assert s.order == tuple(order) and s.clamped(10).order == tuple(order) and hash(s)


def test_parse_order_names_stages_and_fills_in_the_rest():
    assert parse_order("min-p,temperature") == ("min_p", "temperature", "penalties", "top_k", "typical_p", "top_p", "top_n_sigma")
    assert parse_order(",".join(STAGES)) == STAGES
    with pytest.raises(ValueError, match="unknown sampler stage 'xtc'"):
        parse_order("top_k,xtc")
    with pytest.raises(ValueError, match="once"):
        parse_order("top_k,top-k")


def test_settings_dicts_round_trip_and_old_ones_take_the_defaults():
    s = SamplerSettings(0.7, 5, 0.9, 1.0, 0.05, 0.8, 1.5, 1.3, 32, tuple(reversed(STAGES)))
    assert SamplerSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert SamplerSettings(**s.to_dict()) == s
    old = {"temperature": 0.5, "top_k": 3, "top_p": 0.8, "guidance": 1.0}  # a trace from before the chain
    assert SamplerSettings.from_dict(old) == SamplerSettings(0.5, 3, 0.8, 1.0)
    assert SamplerSettings.from_dict(old).order == DEFAULT_ORDER


@pytest.mark.parametrize("change, message", [
    ({"order": ["top_k"]}, "order must name"), ({"order": "top_k"}, "order must name"),
    ({"order": list(STAGES[:-1]) + ["xtc"]}, "order must name"), ({"min_p": 1.5}, "min_p"),
    ({"typical_p": float("nan")}, "typical_p"), ({"top_n_sigma": -1}, "top_n_sigma"),
    ({"repetition_penalty": 0.5}, "repetition_penalty"), ({"penalty_window": 0}, "penalty_window"),
    ({"penalty_window": 2.0}, "penalty_window"), ({"xtc": 0.1}, "may hold"),
])
def test_settings_from_a_file_are_refused_when_out_of_range(change, message):
    with pytest.raises(ValueError, match=message):
        SamplerSettings.from_dict({**SamplerSettings().to_dict(), **change})


def trace_with(settings, steps=5, vocab=12):
    rng = np.random.default_rng(0)
    trace = Trace()
    for position in range(steps):
        logits = rng.normal(0, 2, vocab)
        trace.extend(StepBlock.of_samples(position, [sample(logits, settings, float(rng.random()))], settings, 0.0).compact())
    return trace


def test_a_trace_keeps_the_new_settings_and_an_old_trace_opens_with_the_defaults():
    s = SamplerSettings(temperature=0.9, min_p=0.1, typical_p=0.9, top_n_sigma=2.0, order=tuple(reversed(STAGES)))
    again = Trace.from_dict(json.loads(json.dumps(trace_with(s).to_dict())))
    assert again.settings_per_step() == (s.clamped(12),) * 5 or again.settings_per_step() == (s,) * 5
    doc = trace_with(SamplerSettings(0.7, 4, 0.9)).to_dict()
    doc["settings"] = [{"temperature": 0.7, "top_k": 4, "top_p": 0.9, "guidance": 1.0}]  # as old traces hold them
    old = Trace.from_dict(json.loads(json.dumps(doc)))
    assert old.settings_per_step() == (SamplerSettings(0.7, 4, 0.9),) * 5 and old[0].settings.order == DEFAULT_ORDER


def test_the_trace_recomputes_what_typical_p_and_min_p_sampled():
    for s in (SamplerSettings(typical_p=0.6), SamplerSettings(temperature=0.8, min_p=0.2),
              SamplerSettings(top_n_sigma=1.0, order=tuple(reversed(STAGES)))):
        trace = trace_with(s)
        rng = np.random.default_rng(0)
        for i in range(5):
            logits = rng.normal(0, 2, 12)
            drawn = sample(logits, s, float(rng.random()))
            _, sampled, _ = trace.distributions(i)
            np.testing.assert_allclose(sampled, drawn.probs, atol=2e-3)


class Letters:
    """A text-like stepper (per-step loop only): logits from the last value, which repeat a lot."""

    def __init__(self, size=6):
        self.vocab = list(range(size))
        self.lanes = 1
        self.size = size

    def reset(self, prefix, condition=None):
        self.last = prefix[-1] if prefix else 0

    def logits(self):
        x = np.zeros(self.size)
        x[self.last] = 3.0  # "say it again"
        return x

    def push(self, value):
        self.last = int(value)


def test_the_repetition_penalty_acts_in_the_per_step_loop_and_replays_exactly():
    plain = [int(b.values[0]) for b in generate(Letters(), [0], 300, lambda: SamplerSettings(), 3)]
    penalised = SamplerSettings(repetition_penalty=3.0, penalty_window=4)
    blocks = list(generate(Letters(), [0], 300, lambda: penalised, 3))
    values = [int(b.values[0]) for b in blocks]
    repeats = lambda v: sum(a == b for a, b in zip(v, v[1:]))  # noqa: E731
    assert repeats(values) < repeats(plain) and values != plain
    assert all(b.settings.repetition_penalty == 3.0 for b in blocks)
    # The what-if / stages path with the same recent values gives what was drawn, step by step.
    history = [0] + values
    for i in (0, 1, 57, 299):
        st = stages(_logits_after(history[i]), penalised, float(blocks[i].us[0]), None,
                    history[: i + 1][-4:])
        assert st.would_draw == values[i]
    assert [int(b.values[0]) for b in generate(Letters(), [0], 300, lambda: penalised, 3)] == values  # replay


def _logits_after(last):
    x = np.zeros(6)
    x[last] = 3.0
    return x


def test_the_penalty_is_off_for_models_with_compiled_chunks():
    from arplayground.core.generate import effective

    class Chunked(Letters):
        def run_chunk(self, *args):
            raise AssertionError("not called here")

    s = SamplerSettings(repetition_penalty=2.0)
    assert effective(Chunked(), s).repetition_penalty == 1.0 and effective(Letters(), s).repetition_penalty == 2.0


ORDERS = [DEFAULT_ORDER, tuple(reversed(STAGES)),
          ("top_p", "min_p", "penalties", "typical_p", "top_n_sigma", "top_k", "temperature")]
CHAIN_SETTINGS = [
    SamplerSettings(min_p=0.05), SamplerSettings(min_p=0.3, temperature=1.5), SamplerSettings(typical_p=0.7),
    SamplerSettings(typical_p=0.2, temperature=0.6), SamplerSettings(top_n_sigma=1.0), SamplerSettings(top_n_sigma=0.3, temperature=1.8),
    SamplerSettings(temperature=0.8, top_k=40, typical_p=0.9, top_p=0.95, min_p=0.02, top_n_sigma=2.5),
    SamplerSettings(temperature=0.0, typical_p=0.5, min_p=0.1),
] + [SamplerSettings(temperature=t, top_k=k, top_p=p, min_p=m, typical_p=ty, top_n_sigma=n, order=o)
     for o in ORDERS for (t, k, p, m, ty, n) in [(1.3, 0, 0.8, 0.05, 1.0, 0.0), (0.7, 30, 1.0, 0.0, 0.8, 1.5),
                                                 (1.0, 10, 0.9, 0.1, 0.9, 2.0)]]


@pytest.mark.parametrize("settings", CHAIN_SETTINGS, ids=str)
def test_the_compiled_step_applies_the_same_chain_and_draws_the_same_values(settings):
    rng = np.random.default_rng(17)
    L = 256
    for trial in range(120):
        logits = (rng.choice(rng.normal(0, 3, 40), L) if trial % 2 else rng.normal(0, 2.5, L)).astype(np.float32)
        u = float(rng.random())
        columns = record_columns(1, TOP_CANDIDATES)
        raw, probs = np.zeros(L), np.zeros(L)
        empty = np.zeros((0, L), np.float32)
        value = draw_step(0, logits, logits, *kernel_settings(settings, False), u, raw, probs,
                          (np.empty(L), np.empty(L), np.empty(L)), tuple(columns[name] for name in RECORD_COLUMNS),
                          empty, empty, empty)
        reference = sample(logits, settings, u)
        assert value == reference.value, (trial, u)
        assert columns["kept"][0] == np.count_nonzero(reference.probs)
        np.testing.assert_allclose(probs, reference.probs, rtol=1e-9, atol=1e-15)


def test_sampled_from_without_recent_values_keeps_the_top_set():
    raw = np.array([0.4, 0.3, 0.2, 0.1])
    out = sampled_from(raw, None, SamplerSettings(repetition_penalty=2.0), 4)
    np.testing.assert_allclose(out, raw)
    assert math.isclose(out.sum(), 1.0)


def test_a_guided_step_recomputed_from_float16_distributions_stays_near_what_was_sampled(monkeypatch):
    """The trace keeps distributions in float16, whose tail reads 0. Guidance 2 is
    2 log c - log u: a 0 taken as 1e-300 lifted values both models gave ~nothing to huge logits."""
    from arplayground.core import sampling
    from arplayground.core.sampling import guided_logits, log_softmax, sampled_from

    def worst_error():
        rng = np.random.default_rng(0)
        worst = 0.0
        for _ in range(50):
            logits = rng.normal(0, 6, 256)  # peaked, with a tail far below float16's smallest value
            unconditional = logits + rng.normal(0, 1, 256)  # the same model without the digit: close
            settings = SamplerSettings(guidance=2.0)
            truth = np.exp(log_softmax(guided_logits(log_softmax(logits), log_softmax(unconditional), settings)))
            stored = [np.exp(log_softmax(x)).astype(np.float16) for x in (logits, unconditional)]
            assert (stored[1] == 0).any()  # the case: some of the tail underflowed
            worst = max(worst, np.abs(sampled_from(stored[0], stored[1], settings, kept=256) - truth).max())
        return worst

    assert worst_error() < 0.01
    monkeypatch.setattr(sampling, "FLOAT16_TINY", 1e-300)  # the floor before: the panel's spikes
    assert worst_error() > 0.5
