"""The compiled step both chunk loops take (kernels.sampling.draw_step) against its readable reference:
core.sampling.sample() for the draw, core.trace.StepRecord.from_sample() for the record."""

import numpy as np
import pytest

from arplayground.core.sampling import SamplerSettings, sample
from arplayground.core.trace import TOP_CANDIDATES, StepRecord
from arplayground.kernels.sampling import RECORD_COLUMNS, draw_step, kernel_settings, no_rows, record_columns

SETTINGS = [
    SamplerSettings(),
    SamplerSettings(temperature=0.6, top_k=12),
    SamplerSettings(temperature=1.4, top_p=0.7),
    SamplerSettings(temperature=0.9, top_k=50, top_p=0.9),
    SamplerSettings(temperature=0.0),
    SamplerSettings(guidance=2.5),
    SamplerSettings(temperature=0.8, top_p=0.95, guidance=0.4),
]


def logits_with_ties(rng, n: int = 256) -> np.ndarray:
    """float32 logits where many values share a logit: ranks, top-k cuts and the top 16 meet ties."""
    return rng.choice(rng.normal(0, 3, 40), n).astype(np.float32)


def step(logits, unconditional, settings, u, rows: int = 1):
    """draw_step on one step: its value, its record (as a StepRecord's fields) and the full rows."""
    L = len(logits)
    columns = record_columns(1, TOP_CANDIDATES)
    raw, probs = np.zeros(L), np.zeros(L)
    full = [np.full((rows, L), -1.0, np.float32) for _ in range(3)]
    guided = settings.guided
    value = draw_step(0, logits, unconditional, *kernel_settings(settings, guided), u, raw, probs,
                      (np.empty(L), np.empty(L), np.empty(L)), tuple(columns[name] for name in RECORD_COLUMNS), *full)
    return value, columns, raw, probs, full


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_the_compiled_step_draws_and_records_what_the_reference_does(settings):
    rng = np.random.default_rng(7)
    for _ in range(60):
        logits, unconditional = logits_with_ties(rng), logits_with_ties(rng)
        u = float(rng.random())
        value, columns, raw, probs, full = step(logits, unconditional, settings, u)
        reference = sample(logits, settings, u, unconditional if settings.guided else None)
        rec = StepRecord.from_sample(0, reference, settings, 0.0)
        assert value == reference.value == columns["value"][0]
        assert columns["rank"][0] == rec.rank and columns["kept"][0] == rec.kept
        assert columns["top_values"][0].tolist() == rec.top_values.tolist()  # the top 16, ties lower value first
        np.testing.assert_allclose(columns["top_raw"][0], rec.top_raw, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(columns["top_sampled"][0], rec.top_sampled, rtol=1e-6, atol=1e-9)
        assert columns["prob"][0] == pytest.approx(rec.prob, rel=1e-6)
        assert columns["sampled_prob"][0] == pytest.approx(rec.sampled_prob, rel=1e-6)
        assert columns["entropy"][0] == pytest.approx(rec.entropy, rel=1e-5)
        np.testing.assert_allclose(raw, reference.raw_probs, rtol=1e-9, atol=1e-15)
        np.testing.assert_allclose(probs, reference.probs, rtol=1e-9, atol=1e-15)
        # The full rows hold this step's distributions, float32; the unconditional one only when guided.
        np.testing.assert_array_equal(full[0][0], raw.astype(np.float32))
        np.testing.assert_array_equal(full[1][0], probs.astype(np.float32))
        if settings.guided:
            np.testing.assert_allclose(full[2][0], reference.unconditional_probs, rtol=1e-5, atol=1e-12)
        else:
            assert (full[2] == -1.0).all()


def test_arrays_with_no_rows_keep_no_full_distributions():
    rng = np.random.default_rng(3)
    logits = logits_with_ties(rng)
    settings = SamplerSettings(guidance=2.0)
    L = len(logits)
    columns = record_columns(1, TOP_CANDIDATES)
    raw, probs = np.zeros(L), np.zeros(L)
    value = draw_step(0, logits, logits_with_ties(rng), *kernel_settings(settings, True), 0.5, raw, probs,
                      (np.empty(L), np.empty(L), np.empty(L)), tuple(columns[name] for name in RECORD_COLUMNS),
                      no_rows(L), no_rows(L), no_rows(L))
    assert 0 <= value < L and columns["value"][0] == value and raw.sum() == pytest.approx(1.0)


def test_guidance_one_ignores_the_unconditional_logits():
    rng = np.random.default_rng(11)
    logits = logits_with_ties(rng)
    a = step(logits, logits_with_ties(rng), SamplerSettings(temperature=0.7), 0.37)
    b = step(logits, np.full(len(logits), np.nan, np.float32), SamplerSettings(temperature=0.7), 0.37)
    assert a[0] == b[0] and np.array_equal(a[3], b[3])
