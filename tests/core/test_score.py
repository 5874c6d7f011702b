"""Score (core/score.py): one teacher-forced pass gives every conditional the sequential cached
path gives, and the chain rule adds them into the trace's total. Tiny seeded models and the
bundled ones."""

from pathlib import Path

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.generate import run_steps
from arplayground.core.lab import replay
from arplayground.core.sampling import SamplerSettings
from arplayground.core.score import chain_rule, classify, score
from arplayground.nets import wavenet
from tests.conftest import write_tiny_gpt, write_tiny_pixelcnn, write_tiny_wavenet

MODELS = Path(__file__).parents[2] / "models"
rng = np.random.default_rng(0)


def stepper_of(card: Path):
    return catalog.load_stepper(catalog.read_entry(card))


def sequential_raw(stepper, prefix, values, condition) -> np.ndarray:
    """Every step's raw distribution from the generation loop, each value forced (the cached path)."""
    forced = {len(prefix) + i: int(v) for i, v in enumerate(values)}
    blocks = list(run_steps(stepper, list(prefix), len(values), SamplerSettings, 0, condition, forced))
    assert np.array_equal(np.concatenate([b.values for b in blocks]), values)
    return np.concatenate([b.raw for b in blocks])


def check_against_sequential(stepper, prefix, values, condition=None):
    scored = score(stepper, prefix, values, condition)
    trace = scored.branch.trace
    parallel = trace.full_column("raw", 0, len(trace)).astype(np.float64)  # float16 in the trace
    exact = np.asarray(stepper.teacher_forced(prefix, values, condition))
    exact = np.exp(exact - exact.max(1, keepdims=True))
    exact /= exact.sum(1, keepdims=True)
    sequential = sequential_raw(stepper, prefix, values, condition)
    np.testing.assert_allclose(exact, sequential, atol=1e-4)
    np.testing.assert_allclose(parallel, sequential, atol=1e-3)  # float16's half a unit in the last place
    # The chain rule's total is the sum the trace records.
    totals = scored.totals
    assert totals.steps == len(values)
    assert totals.total_bits == pytest.approx(float(-np.log2(trace.column("prob").astype(np.float64)).sum()), rel=1e-9)
    seq_bits = -np.log2(sequential[np.arange(len(values)), values]).sum()
    assert totals.total_bits == pytest.approx(seq_bits, rel=1e-4)
    assert np.array_equal(trace.values, values)
    return scored


def test_text_every_window_matches_the_cached_path(tmp_path):
    stepper = stepper_of(write_tiny_gpt(tmp_path))  # block 128: re-primes at 129, 194, 259, ...
    values = rng.integers(0, len(stepper.vocab), 400)
    check_against_sequential(stepper, [3, 5], values)
    check_against_sequential(stepper, [], values[:150])  # no prompt: the model reads its default start first


def test_image_one_pass_matches_the_cached_path_under_a_digit_and_any(tmp_path):
    stepper = stepper_of(write_tiny_pixelcnn(tmp_path))
    image = rng.integers(0, 256, 784)
    check_against_sequential(stepper, [], image, 3)
    check_against_sequential(stepper, image[:100], image[100:], None)  # kept rows given, the rest scored


def test_audio_windows_far_into_a_clip_are_exact(tmp_path, monkeypatch):
    stepper = stepper_of(write_tiny_wavenet(tmp_path))  # receptive field 16, knots every 100 samples
    monkeypatch.setattr(wavenet, "TEACHER_WINDOW", 37)  # many windows, none aligned with anything
    levels = rng.integers(0, 256, 700)
    check_against_sequential(stepper, [], levels, (2, 1))
    check_against_sequential(stepper, levels[:50], levels[50:], (None, None))


@pytest.mark.parametrize("name, prefix_len, n", [("shakespeare-char-gpt", 1, 1500), ("mnist-gated-pixelcnn", 0, 784),
                                                 ("fsdd-wavenet", 0, 3000)])
def test_each_bundled_model_parallel_equals_sequential(name, prefix_len, n, monkeypatch):
    stepper = stepper_of(MODELS / f"{name}.json")
    if name == "shakespeare-char-gpt":
        text = (MODELS.parent / "README.md").read_text()
        ids = stepper.vocab.encode("".join(c for c in text if c in stepper.vocab.chars))[: prefix_len + n]
        values, condition = np.array(ids[prefix_len:]), None  # 1500 > 1024: crosses a re-prime
    elif name == "mnist-gated-pixelcnn":
        values, condition = rng.integers(0, 256, n), 7
    else:
        monkeypatch.setattr(wavenet, "TEACHER_WINDOW", 1000)  # windows past the 2,047-sample field
        values, condition = rng.integers(100, 156, n), (4, 2)
    check_against_sequential(stepper, np.array(ids[:prefix_len]) if prefix_len else [], values, condition)


def test_a_scored_branch_replays_identically_and_free_runs_from_any_step(tmp_path):
    stepper = stepper_of(write_tiny_pixelcnn(tmp_path))
    image = rng.integers(0, 256, 784)
    branch = score(stepper, [], image, 5).branch
    assert np.array_equal(replay(stepper, branch), image)
    branch.rewind(300)  # the real data ends here; the model goes on with its own samples
    assert sorted(branch.forced) == list(range(300))
    made = [b for b in branch.continuation(stepper, 784 - 300, SamplerSettings)]
    for b in made:
        branch.record_into_trace(b.compact())
    own = chain_rule(branch.trace, 300)
    real = chain_rule(branch.trace, 0, 300)
    assert own.steps == 484 and real.steps == 300
    assert np.array_equal(branch.trace.values[:300], image[:300])


def test_values_outside_the_vocabulary_are_refused_before_any_pass(tmp_path):
    stepper = stepper_of(write_tiny_gpt(tmp_path))
    calls = []
    stepper.teacher_forced = lambda *a: calls.append(a)
    with pytest.raises(ValueError, match="outside"):
        score(stepper, [], [1, 2, 999])
    with pytest.raises(ValueError, match="nothing to score"):
        score(stepper, [1], [])
    assert not calls


def test_the_classifier_by_bayes_rule_picks_the_digit_whose_conditional_is_most_likely(tmp_path):
    stepper = stepper_of(write_tiny_pixelcnn(tmp_path))
    image = rng.integers(0, 256, 784)
    c = classify(stepper, [], image, list(range(10)), None)
    singles = [score(stepper, [], image, d).totals.total_bits for d in range(10)]
    assert c.best == int(np.argmin(singles))
    assert c.posterior.sum() == pytest.approx(1.0)
    any_bits = score(stepper, [], image, None).totals.total_bits
    assert c.share_bits(3) == pytest.approx(any_bits - singles[3], rel=1e-3, abs=1e-3)


def test_the_naive_baselines_give_the_cached_paths_numbers(tmp_path):
    from arplayground.core.generate import generate
    from arplayground.nets.baselines import naive_stepper

    for card, prefix, n, condition in ((write_tiny_gpt(tmp_path), [4], 300, None),  # past block 128
                                       (write_tiny_pixelcnn(tmp_path), [], 60, 2),
                                       (write_tiny_wavenet(tmp_path), [], 120, (1, 0))):
        fast = stepper_of(card)
        slow = naive_stepper(fast)
        a = list(generate(fast, prefix, n, SamplerSettings, 9, condition))
        b = list(generate(slow, prefix, n, SamplerSettings, 9, condition))
        assert [int(x.values[0]) for x in a] == [int(x.values[0]) for x in b]
        np.testing.assert_allclose(np.concatenate([x.raw for x in a]), np.concatenate([x.raw for x in b]), atol=1e-5)


def test_generation_seconds_times_a_run_and_stops_when_cancelled(tmp_path):
    from arplayground.core.score import generation_seconds

    stepper = stepper_of(write_tiny_gpt(tmp_path))
    assert generation_seconds(stepper, [1], 20) > 0
    assert generation_seconds(stepper, [1], 20, cancelled=lambda: True) is None


def test_top_candidates_are_the_stable_sorts_first_k_ties_included():
    from arplayground.core.score import top_candidates

    x = rng.normal(0, 3, (2000, 256))
    x[::7, 10:60] = 0.5  # ties across the edge of the top 16
    x[::11] = 0.0  # every value tied
    raw = np.exp(x)
    for k in (1, 16, 256):
        np.testing.assert_array_equal(top_candidates(raw, k), np.argsort(-raw, axis=1, kind="stable")[:, :k])


def test_a_scored_trace_round_trips_through_export_and_open_and_replays_identically(tmp_path):
    from arplayground.core.lab import export_trace, load_trace

    card = write_tiny_wavenet(tmp_path)
    stepper = stepper_of(card)
    levels = rng.integers(0, 256, 500)
    branch = score(stepper, [], levels, (1, 2)).branch
    branch.rewind(400)
    branch.forced[len(branch.prefix) + 420] = 7  # and a value forced after the real data, as a fork would
    for b in branch.continuation(stepper, 100, SamplerSettings):
        branch.record_into_trace(b.compact())
    export_trace(tmp_path / "scored.json", branch, "tiny-wavenet", {}, "audio")
    opened, meta = load_trace(tmp_path / "scored.json")
    assert opened.scored_steps == 400 and opened.forced == branch.forced
    assert '"420": 7' in (tmp_path / "scored.json").read_text() and '"3": ' not in (tmp_path / "scored.json").read_text()
    np.testing.assert_array_equal(opened.trace.values, branch.trace.values)
    np.testing.assert_array_equal(replay(stepper, opened), branch.trace.values)
    np.testing.assert_array_equal(opened.trace.full_column("raw", 0, 500), branch.trace.full_column("raw", 0, 500))
    fork = opened.fork(200, 5, "what if")
    assert fork.scored_steps == 200


def test_compare_puts_two_scored_sequences_side_by_side(tmp_path):
    from arplayground.core.score import compare

    stepper = stepper_of(write_tiny_pixelcnn(tmp_path))
    flat = np.zeros(784, np.int64)
    noisy = flat.copy()
    noisy[[5, 300, 600]] = [255, 128, 77]  # three pixels unlike their neighbours
    a, b = score(stepper, [], flat, 1).branch.trace, score(stepper, [], noisy, 1).branch.trace
    c = compare(a, b, top=3)
    assert c.a.steps == c.b.steps == 784
    assert c.difference == pytest.approx(c.b.bits_per_step - c.a.bits_per_step)
    # Before pixel 5 both see the same past: the same terms; pixel 5 itself is one b is worse at.
    assert np.array_equal(c.a.bits[:5], c.b.bits[:5])
    assert 5 in [step for step, _, _ in c.b_worse] or 300 in [step for step, _, _ in c.b_worse]
    for step, bits_a, bits_b in c.b_worse:
        assert bits_b > bits_a
