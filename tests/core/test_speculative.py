"""Speculative decoding (issue 23, part 3): the rejection test on hand-made distributions, the GPT's
block scoring and rollback against one push at a time, greedy speculative text equal to greedy
plain text, and the first speculative character distributed as the target's, not the draft's."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from arplayground import catalog
from arplayground.core.generate import run_steps
from arplayground.core.sampling import SamplerSettings, draw, sample
from arplayground.core.speculative import (
    ACCEPT_TEST,
    DRAFT_DRAW,
    FINAL_DRAW,
    SpeculativeDecoder,
    acceptance_ratio,
    plain_decode,
    residual,
    speculative_decode,
    uniform,
    verify,
)
from tests.conftest import write_tiny_gpt

MODELS = Path(__file__).parents[2] / "models"
GREEDY = SamplerSettings(temperature=0.0)
PREFIX = "First Citizen:\nBefore we proceed any further, hear me "  # where the draft and the target differ (TV 0.41)


@pytest.fixture(scope="module")
def bundled():
    """(target, draft): the bundled text model and its draft, one torch thread, as the app runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    entries = {e.name: e for e in catalog.discover(MODELS)}
    yield (catalog.load_stepper(entries["shakespeare-char-gpt"]), catalog.load_stepper(entries["shakespeare-char-draft"]))
    torch.set_num_threads(threads)


@pytest.fixture
def tiny(tmp_path):
    """(target, draft): two untrained tiny GPTs of one vocabulary (context 128: runs re-prime)."""
    target = catalog.load_stepper(catalog.read_entry(write_tiny_gpt(tmp_path, "target", seed=0)))
    draft = catalog.load_stepper(catalog.read_entry(write_tiny_gpt(tmp_path, "draft", seed=1)))
    return target, draft


def one_hot(i: int, n: int = 4) -> np.ndarray:
    out = np.zeros(n)
    out[i] = 1.0
    return out


# ---------------------------------------------------------------- the test on hand-made p and q


def test_a_proposal_is_kept_while_u_is_below_p_over_q():
    q = np.array([[0.5, 0.25, 0.25, 0.0]])
    p = np.array([[0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]])
    assert acceptance_ratio(0.25, 0.5) == 0.5 and acceptance_ratio(0.3, 0.2) == 1.0
    kept = verify([0], q, p, [0.49], 0.95)
    assert kept.accepted == 1 and kept.residual is None and list(kept.ratios) == [0.5]
    assert kept.drawn == 3  # the bonus, from p after the proposal: u 0.95 lands in its last value
    rejected = verify([0], q, p, [0.5], 0.3)  # u = p/q exactly: rejected (the test is u < p/q)
    assert rejected.accepted == 0
    # max(0, p - q) = (0, 0, 0, 0.25): the only value the draft under-proposed
    assert np.array_equal(rejected.residual, [0.0, 0.0, 0.0, 1.0]) and rejected.drawn == 3


def test_the_residual_is_what_the_draft_under_proposed_normalised():
    p, q = np.array([0.4, 0.3, 0.2, 0.1]), np.array([0.1, 0.5, 0.2, 0.2])
    assert np.allclose(residual(p, q), [1.0, 0.0, 0.0, 0.0])
    p, q = np.array([0.5, 0.3, 0.2, 0.0]), np.array([0.2, 0.2, 0.2, 0.4])
    assert np.allclose(residual(p, q), [0.75, 0.25, 0.0, 0.0])
    assert np.array_equal(residual(p, p), p)  # nothing under-proposed: a rejection had probability 0


def test_the_test_stops_at_the_first_rejection():
    q = np.stack([one_hot(1), one_hot(2), one_hot(3)])
    p = np.stack([one_hot(1), np.array([0.5, 0.0, 0.5, 0.0]), one_hot(3), one_hot(0)])
    verdict = verify([1, 2, 3], q, p, [0.9, 0.6, 0.0], [0.1, 0.2, 0.3, 0.4])
    assert verdict.accepted == 1 and verdict.drawn == 0  # residual (1, 0, 0, 0), drawn with u_draw[1]
    assert list(verdict.ratios) == [1.0, 0.5, 1.0]  # the third would pass: it is never reached


def test_greedy_keeps_a_proposal_exactly_when_the_argmaxes_agree():
    q = np.stack([one_hot(2), one_hot(1)])
    p = np.stack([one_hot(2), one_hot(3), one_hot(0)])
    verdict = verify([2, 1], q, p, [0.999, 0.0], 0.5)
    assert verdict.accepted == 1 and verdict.drawn == 3  # the target's own greedy choice replaces the draft's
    assert verify([2], q[:1], p[:2], [0.999999], 0.0).drawn == 3  # all kept: the bonus is the target's argmax


# ---------------------------------------------------------------- the GPT scores a block, rolls back


def test_score_block_gives_what_one_push_at_a_time_gives_and_rollback_takes_it_back(tiny):
    target, _ = tiny
    values = target.vocab.encode("the kings")
    target.reset(target.vocab.encode("Hello "))
    one_by_one = []
    for v in values:
        target.push(v)
        one_by_one.append(target.logits().copy())
    target.reset(target.vocab.encode("Hello "))
    before = target.logits().copy()
    rows = target.score_block(values)
    assert np.allclose(rows, one_by_one, atol=1e-5)
    target.rollback(len(values) - 3)  # keep "the"
    assert target.tokens == target.vocab.encode("Hello the")
    assert np.allclose(target.logits(), one_by_one[2], atol=1e-5)
    target.push(values[3])
    assert np.allclose(target.logits(), one_by_one[3], atol=1e-5)
    target.rollback(4)
    assert np.allclose(target.logits(), before, atol=1e-6)


def test_a_block_across_the_cache_re_prime_has_generation_s_contexts(tiny):
    target, _ = tiny  # context 128: the cache is re-primed on the last 64 characters when full
    text = target.vocab.encode("To be, or not to be, that is the question: " * 4)[:140]
    start = text[:120]
    target.reset(start)
    one_by_one = []
    for v in text[120:]:
        target.push(v)
        one_by_one.append(target.logits().copy())
    target.reset(start)
    assert np.allclose(target.score_block(text[120:]), one_by_one, atol=1e-5)
    target.rollback(15)  # back before the re-prime: primed again on the window that length has
    assert target.tokens == text[:125] and np.allclose(target.logits(), one_by_one[4], atol=1e-5)


# ---------------------------------------------------------------- greedy: the target's own text


@pytest.mark.parametrize("k", [1, 3, 8])
def test_greedy_speculative_text_is_greedy_plain_text_with_the_bundled_models(bundled, k):
    target, draft = bundled
    prefix = tuple(target.vocab.encode(PREFIX))
    plain = [int(b.values[0]) for b in run_steps(target, prefix, 200, lambda: GREEDY, seed=3)]
    decoder = speculative_decode(target, draft, prefix, 200, GREEDY, seed=3, k=k)
    assert decoder.generated == plain
    assert 0 < decoder.acceptance_rate() < 1 and 1 < decoder.chars_per_target_pass() <= k + 1


@pytest.mark.parametrize("k", [2, 5, 16])
def test_greedy_speculative_text_is_greedy_plain_text_with_tiny_models_past_the_context(tiny, k):
    target, draft = tiny
    prefix = tuple(target.vocab.encode("O Romeo, Romeo! wherefore art thou Romeo?\n"))
    plain = [int(b.values[0]) for b in run_steps(target, prefix, 300, lambda: GREEDY, seed=0)]  # re-primes twice
    decoder = speculative_decode(target, draft, prefix, 300, GREEDY, seed=0, k=k)
    assert decoder.generated == plain and len(decoder.generated) == 300


def test_plain_decode_draws_what_the_window_s_loop_draws(bundled):
    target, _ = bundled
    prefix = tuple(target.vocab.encode(PREFIX))
    settings = SamplerSettings(temperature=0.9, top_k=20)
    values, seconds = plain_decode(target, prefix, 60, settings, seed=11)
    assert values == [int(b.values[0]) for b in run_steps(target, prefix, 60, lambda: settings, seed=11)]
    assert seconds > 0


def test_a_round_taken_back_and_run_again_draws_the_same(bundled):
    target, draft = bundled
    decoder = SpeculativeDecoder(target, draft, target.vocab.encode(PREFIX), seed=5)
    settings = SamplerSettings(temperature=1.0)
    for _ in range(6):
        decoder.step(4, settings)
    text, last = list(decoder.tokens), decoder.rounds[-1]
    decoder.back()
    assert decoder.tokens == text[: last.position] and len(decoder.rounds) == 5
    again = decoder.step(4, settings)
    assert decoder.tokens == text and np.array_equal(again.proposals, last.proposals) and again.accepted == last.accepted
    assert np.allclose(again.p, last.p, atol=1e-6) and np.allclose(again.q, last.q, atol=1e-6)


def test_a_round_records_its_proposals_distributions_and_test(bundled):
    target, draft = bundled
    decoder = SpeculativeDecoder(target, draft, target.vocab.encode(PREFIX), seed=2)
    rounds = [decoder.step(8, SamplerSettings()) for _ in range(10)]
    for r in rounds:
        assert r.q.shape == (8, 65) and r.p.shape == (9, 65) and len(r.u_accept) == 8
        assert np.allclose(r.q.sum(1), 1) and np.allclose(r.p.sum(1), 1)
        kept = r.u_accept[: r.accepted] < r.ratios[: r.accepted]
        assert kept.all() and (not r.rejected or r.u_accept[r.accepted] >= r.ratios[r.accepted])
        assert (r.residual is not None) == r.rejected
        assert r.u_draft[0] == uniform(2, r.position, DRAFT_DRAW) and r.u_accept[0] == uniform(2, r.position, ACCEPT_TEST)
        assert r.u_draw == uniform(2, r.position + r.accepted, FINAL_DRAW)
    assert any(r.rejected for r in rounds)
    assert decoder.tokens[len(decoder.start):] == [v for r in rounds for v in r.values]
    assert decoder.accepted == sum(r.accepted for r in rounds) and decoder.proposed == 80
    assert decoder.step(8, SamplerSettings(), limit=1).k == 0  # the last character of a run: a plain step


def test_a_draft_of_another_vocabulary_is_refused(bundled, tiny):
    with pytest.raises(ValueError, match="one vocabulary"):
        SpeculativeDecoder(bundled[0], tiny[1], [1, 2], seed=0)


# ---------------------------------------------------------------- sampled: the target's distribution


def chi_square(counts: np.ndarray, probs: np.ndarray) -> tuple[float, int, float]:
    """(statistic, degrees of freedom, p-value) of counts against probs, the values expected fewer
    than 5 times pooled into one cell (the usual rule); the p-value from the regularised upper
    incomplete gamma function."""
    expected = probs * counts.sum()
    big = expected >= 5
    observed = np.append(counts[big], counts[~big].sum())
    expected = np.append(expected[big], expected[~big].sum())
    if expected[-1] < 5:  # the pooled cell too small: fold it into the smallest cell kept
        smallest = int(np.argmin(expected[:-1]))
        observed[smallest] += observed[-1]
        expected[smallest] += expected[-1]
        observed, expected = observed[:-1], expected[:-1]
    statistic = float(((observed - expected) ** 2 / expected).sum())
    dof = len(expected) - 1
    p_value = float(torch.special.gammaincc(torch.tensor(dof / 2, dtype=torch.float64),
                                             torch.tensor(statistic / 2, dtype=torch.float64)))
    return statistic, dof, p_value


def first_character(q: np.ndarray, p: np.ndarray, settings, seed: int, position: int) -> int:
    """The first character a round starting at `position` gives, from the draft's q and the
    target's p there, with the decoder's own numbers and steps (draw from q, the test, the residual)."""
    x = sample(np.log(np.maximum(q, 1e-300)), settings, uniform(seed, position, DRAFT_DRAW)).value
    verdict = verify([x], q[None], np.stack([p, p]), [uniform(seed, position, ACCEPT_TEST)],
                     uniform(seed, position, FINAL_DRAW))
    return x if verdict.accepted else verdict.drawn


def test_the_first_speculative_character_follows_the_target_not_the_draft(bundled):
    target, draft = bundled
    prefix = target.vocab.encode(PREFIX)
    settings = SamplerSettings(temperature=1.0)
    target.reset(prefix)
    draft.reset(prefix)
    p = sample(target.logits(), settings, 0.0).probs
    q = sample(draft.logits(), settings, 0.0).probs
    assert 0.5 * np.abs(p - q).sum() > 0.3  # the two models disagree here

    # The function above is the decoder's first character: checked on real rounds, seed by seed.
    for seed in range(40):
        decoder = SpeculativeDecoder(target, draft, prefix, seed)
        assert decoder.step(2, settings).values[0] == first_character(q, p, settings, seed, len(prefix))

    draws = 20_000
    counts = np.bincount([first_character(q, p, settings, seed, len(prefix)) for seed in range(draws)], minlength=len(p))
    _, dof, p_target = chi_square(counts, p)
    statistic, _, p_draft = chi_square(counts, q)
    assert dof >= 5
    assert p_target > 0.001, f"the speculative characters do not follow the target (p-value {p_target:.2g})"
    assert p_draft < 1e-12, f"the speculative characters look like the draft's (chi-square {statistic:.0f})"
    # and what was proposed does follow the draft: the test is what turns q into p
    proposed = np.bincount([draw(q, uniform(seed, len(prefix), DRAFT_DRAW)) for seed in range(draws)], minlength=len(q))
    assert chi_square(proposed, q)[2] > 0.001 and chi_square(proposed, p)[2] < 1e-12


# ---------------------------------------------------------------- the draft's card


def test_the_draft_is_listed_after_the_real_model_and_never_its_mode_s_default():
    entries = catalog.discover(MODELS)
    text = [e for e in entries if e.mode == "text"]
    assert [e.name for e in text] == ["shakespeare-char-gpt", "shakespeare-char-draft", "shakespeare-char-cheat"]
    draft = text[1]
    assert draft.available and draft.role == catalog.DRAFT and draft.demonstration is None
    assert catalog.default_entry(entries, "text").name == "shakespeare-char-gpt"
    assert draft.summary().startswith("The draft for speculative decoding: gpt, 103,104 parameters")


def test_the_draft_s_card_says_how_it_was_made():
    card = json.loads((MODELS / "shakespeare-char-draft.json").read_text())
    real = json.loads((MODELS / "shakespeare-char-gpt.json").read_text())
    assert card["vocabulary"] == real["vocabulary"] and card["dataset"] == real["dataset"]
    assert card["config"] == {"vocab_size": 65, "block_size": 256, "n_layer": 2, "n_head": 2, "n_embd": 64,
                              "dropout": 0.0, "rope_base": 10000.0}
    assert card["parameters"] == 103_104 and card["validation"]["val_loss_nats_per_char"] == 1.6044
    training = card["training"]
    assert "--layers 2 --heads 2 --embd 64" in training["command"] and "--iters 4000" in training["command"]
    assert training["wall_time_s"] > 0 and "CPU" in training["hardware"] and len(training["history"]) == 8


def test_a_draft_sorts_after_the_models_meant_for_use_and_is_a_default_only_where_none_runs(tmp_path):
    path = write_tiny_gpt(tmp_path, "aa-draft")
    card = json.loads(path.read_text())
    path.write_text(json.dumps({**card, "role": "draft"}))
    only = catalog.discover(tmp_path)
    assert catalog.default_entry(only, "text").name == "aa-draft"  # nothing else runs: better than nothing
    write_tiny_gpt(tmp_path, "zz-real")
    entries = catalog.discover(tmp_path)
    assert [e.name for e in entries] == ["zz-real", "aa-draft"]
    assert catalog.default_entry(entries, "text").name == "zz-real"


@pytest.mark.parametrize("change, reason", [
    (lambda c: c.update(role="drafts"), "is not one this version knows"),
    (lambda c: c.update(role=None), "is not one this version knows"),
    (lambda c: c.update(role=["draft"]), "is not one this version knows"),
    (lambda c: c["config"].update(causal=False), "not a GPT with its causal mask"),
    (lambda c: c.update(demonstration="no causal mask"), "both a 'role' and a 'demonstration'"),
])
def test_the_role_field_is_checked_like_every_other(tmp_path, change, reason):
    path = write_tiny_gpt(tmp_path)
    card = {**json.loads(path.read_text()), "role": "draft"}
    path.write_text(json.dumps(card))
    assert catalog.read_entry(path).available
    change(card)
    path.write_text(json.dumps(card))
    entry = catalog.read_entry(path)
    assert not entry.available and reason in entry.error, entry.error


def test_chi_square_helper_agrees_with_the_known_distribution():
    rng = np.random.default_rng(0)
    probs = np.array([0.5, 0.3, 0.15, 0.05])
    counts = np.bincount(rng.choice(4, 5000, p=probs), minlength=4)
    statistic, dof, p_value = chi_square(counts, probs)
    assert dof == 3 and 0.001 < p_value <= 1 and math.isfinite(statistic)
    assert chi_square(counts, np.full(4, 0.25))[2] < 1e-12
