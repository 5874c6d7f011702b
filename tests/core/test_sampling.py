import numpy as np
import pytest

from arplayground.core.sampling import (
    GUIDANCE_MAX,
    SamplerSettings,
    draw,
    entropy,
    filtered_log_probs,
    log_softmax,
    sample,
    stages,
    step_uniform,
)

LOGITS = np.array([2.0, 1.0, 0.5, 0.0, -1.0, -3.0])


def probs(settings):
    return np.exp(filtered_log_probs(LOGITS, settings))


def test_temperature_one_is_softmax():
    expected = np.exp(LOGITS) / np.exp(LOGITS).sum()
    np.testing.assert_allclose(probs(SamplerSettings()), expected, rtol=1e-12)


@pytest.mark.parametrize("t", [0.0, 1e-6, 1e-5])
def test_tiny_temperature_is_greedy_without_nan(t):
    p = probs(SamplerSettings(temperature=t))
    assert not np.isnan(p).any()
    assert p[0] == pytest.approx(1.0)
    assert sample(LOGITS, SamplerSettings(temperature=t), 0.999999).value == 0


def test_huge_temperature_is_near_uniform_without_nan():
    p = probs(SamplerSettings(temperature=100.0).clamped(len(LOGITS)))  # clamped to 2
    assert not np.isnan(p).any()
    raw = np.exp(filtered_log_probs(LOGITS, SamplerSettings(temperature=100.0)))
    assert not np.isnan(raw).any() and raw.max() - raw.min() < 0.1


def test_extreme_logits_stay_finite():
    logits = np.array([1e30, -1e30, 0.0, 5.0])
    for t in (1e-6, 0.5, 2.0):
        p = np.exp(filtered_log_probs(logits, SamplerSettings(temperature=t)))
        assert np.isfinite(p).all() and p.sum() == pytest.approx(1.0)


def test_top_k_keeps_k_most_likely_and_is_clamped():
    p = probs(SamplerSettings(top_k=2))
    assert np.count_nonzero(p) == 2 and p[0] > 0 and p[1] > 0
    assert p.sum() == pytest.approx(1.0)
    assert SamplerSettings(top_k=1000).clamped(6).top_k == 6
    assert SamplerSettings(top_k=-3).clamped(6).top_k == 0
    np.testing.assert_allclose(probs(SamplerSettings(top_k=6)), probs(SamplerSettings()))


def test_top_p_keeps_smallest_set_reaching_p():
    raw = probs(SamplerSettings())
    order = np.argsort(-raw)
    cumulative = np.cumsum(raw[order])
    p_target = (cumulative[1] + cumulative[2]) / 2  # needs exactly three values
    p = probs(SamplerSettings(top_p=p_target))
    assert set(np.flatnonzero(p)) == set(order[:3])
    assert probs(SamplerSettings(top_p=0.0))[0] == pytest.approx(1.0)  # always keeps the best


def test_out_of_range_settings_are_clamped():
    s = SamplerSettings(temperature=5.0, top_k=99, top_p=1.5).clamped(10)
    assert (s.temperature, s.top_k, s.top_p) == (2.0, 10, 1.0)
    s = SamplerSettings(temperature=float("nan"), top_p=-1).clamped(10)
    assert (s.temperature, s.top_p) == (0.0, 0.0)


def test_sample_returns_raw_filtered_value_and_u():
    smp = sample(LOGITS, SamplerSettings(temperature=0.7, top_k=3), 0.42)
    np.testing.assert_allclose(smp.raw_probs, np.exp(LOGITS) / np.exp(LOGITS).sum())
    assert np.count_nonzero(smp.probs) == 3
    assert smp.u == 0.42
    assert smp.probs[smp.value] > 0


def test_inverse_cdf_draw_boundaries():
    p = np.array([0.25, 0.0, 0.5, 0.25])
    assert draw(p, 0.0) == 0
    assert draw(p, 0.2499) == 0
    assert draw(p, 0.25) == 2
    assert draw(p, 0.7499) == 2
    assert draw(p, 0.75) == 3
    assert draw(p, 0.999999999) == 3
    assert draw(np.array([0.5, 0.5, 0.0]), 1.0) == 1  # never a removed value


def test_draws_follow_the_distribution():
    rng = np.random.default_rng(0)
    p = probs(SamplerSettings(temperature=1.3))
    counts = np.bincount([draw(p, u) for u in rng.random(20000)], minlength=len(p))
    np.testing.assert_allclose(counts / 20000, p, atol=0.015)


def test_uniforms_are_a_function_of_seed_and_step():
    a = [step_uniform(7, i) for i in range(50)]
    assert a == [step_uniform(7, i) for i in range(50)]
    assert a != [step_uniform(8, i) for i in range(50)]
    assert all(0.0 <= u < 1.0 for u in a)
    assert len(set(a)) == 50


def test_entropy():
    assert entropy(np.array([1.0, 0.0])) == 0.0
    assert entropy(np.full(4, 0.25)) == pytest.approx(np.log(4))


def test_step_uniforms_match_step_uniform_bit_for_bit_and_look_uniform():
    from arplayground.core.sampling import step_uniforms

    for seed in (0, 7, 2**40 + 3, -1):
        many = step_uniforms(seed, 1000, 300)
        assert many.tolist() == [step_uniform(seed, 1000 + i) for i in range(300)]
    u = step_uniforms(3, 0, 100_000)
    assert 0.0 <= u.min() and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.005 and abs(np.var(u) - 1 / 12) < 0.002
    counts = np.histogram(u, bins=20, range=(0, 1))[0]
    assert counts.min() > 4500 and counts.max() < 5500  # each bin expects 5,000
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01  # neighbouring steps are unrelated


def test_stages_show_each_filter_and_agree_with_sample():
    from arplayground.core.sampling import stages

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 2, 50)
    for settings in (SamplerSettings(), SamplerSettings(0.5, 10, 0.8), SamplerSettings(1.5, 0, 0.6), SamplerSettings(0.0)):
        for u in (0.01, 0.5, 0.93):
            st = stages(logits, settings, u)
            smp = sample(logits, settings, u)
            assert st.would_draw == smp.value
            np.testing.assert_allclose(st.final, smp.probs)
            np.testing.assert_allclose(st.raw, smp.raw_probs)
            assert st.kept == np.count_nonzero(smp.probs)
    st = stages(logits, SamplerSettings(0.5, 10, 0.8), 0.5)
    assert np.count_nonzero(st.tempered) == 50 and np.count_nonzero(st.top_k) == 10
    assert st.kept <= 10 and st.final.sum() == pytest.approx(1.0)
    assert st.tempered.max() > st.raw.max()  # a low temperature sharpens


def test_guidance_pushes_the_logits_away_from_the_unconditional_ones():
    rng = np.random.default_rng(4)
    conditional, unconditional = rng.normal(size=50), rng.normal(size=50)
    u = 0.37
    plain = sample(conditional, SamplerSettings(), u)
    off = sample(conditional, SamplerSettings(guidance=1.0), u, unconditional)
    assert np.array_equal(off.probs, plain.probs) and off.value == plain.value and off.unconditional_probs is None
    ignore_digit = sample(conditional, SamplerSettings(guidance=0.0), u, unconditional)
    np.testing.assert_allclose(ignore_digit.probs, np.exp(log_softmax(unconditional)), atol=1e-12)
    np.testing.assert_allclose(ignore_digit.raw_probs, plain.raw_probs)  # raw stays the model's own
    strong = sample(conditional, SamplerSettings(guidance=3.0, temperature=0.5), u, unconditional)
    np.testing.assert_allclose(strong.probs, np.exp(log_softmax((unconditional + 3 * (conditional - unconditional)) / 0.5)), atol=1e-12)
    np.testing.assert_allclose(strong.unconditional_probs, np.exp(log_softmax(unconditional)))
    # Without an unconditional distribution (a model with no condition) guidance has nothing to act on.
    assert np.array_equal(sample(conditional, SamplerSettings(guidance=3.0), u).probs, plain.probs)


def test_stages_show_guidance_first_and_end_where_sample_does():
    rng = np.random.default_rng(5)
    conditional, unconditional = rng.normal(size=40) * 2, rng.normal(size=40) * 2
    settings = SamplerSettings(temperature=0.7, top_k=12, top_p=0.9, guidance=2.0)
    for u in (0.05, 0.5, 0.95):
        st = stages(conditional, settings, u, unconditional)
        smp = sample(conditional, settings, u, unconditional)
        np.testing.assert_allclose(st.guided, np.exp(log_softmax(unconditional + 2 * (conditional - unconditional))))
        np.testing.assert_array_equal(st.final, smp.probs)
        assert st.would_draw == smp.value
    assert stages(conditional, settings, 0.5).guided is None


def test_guidance_is_clamped_and_travels_with_the_settings():
    assert SamplerSettings(guidance=9.0).clamped(10).guidance == GUIDANCE_MAX
    assert SamplerSettings(guidance=-1.0).clamped(10).guidance == 0.0
    assert SamplerSettings(guidance=float("nan")).clamped(10).guidance == 1.0
    assert SamplerSettings(guidance=2).clamped(10).guidance == 2.0 and type(SamplerSettings(guidance=2).clamped(10).guidance) is float
    s = SamplerSettings(temperature=0.5, top_k=3, top_p=0.8, guidance=1.5)
    assert SamplerSettings(**s.to_dict()) == s
    assert SamplerSettings(**{"temperature": 0.5, "top_k": 3, "top_p": 0.8}).guidance == 1.0  # traces written before guidance
