"""Beam search (core/beam.py) on hand-made distributions and on the tiny GPT (nets/gpt_beams.py)."""

from __future__ import annotations

import numpy as np
import pytest

from arplayground.core.beam import FINISHED, KEPT, PRUNED, ROOT, BeamSearch, ranking_score
from arplayground.core.generate import run_steps
from arplayground.core.sampling import SamplerSettings

A, B, C, E, D = range(5)  # E is the end value where a test uses one


class Values:
    def __len__(self):
        return 5


class TableStepper:
    """Next-value probabilities from a table keyed by the values after the prompt; uniform elsewhere."""

    def __init__(self, table: dict):
        self.vocab, self.table = Values(), table
        self.rows: list[tuple] = []
        self.starts = 0

    def _logits(self):
        return np.log(np.array([self.table.get(r, [0.2] * 5) for r in self.rows], np.float64))

    def start(self, sequences):
        self.starts += 1
        self.rows = [tuple(s[1:]) for s in sequences]  # the prompt is one value
        return self._logits()

    def extend(self, parents, values):
        self.rows = [self.rows[p] + (v,) for p, v in zip(parents, values)]
        return self._logits()


# Greedy takes A (0.6) and then meets a flat distribution; B (0.4) leads to C at 0.9: 0.36 > 0.6 * 0.35.
GREEDY_MISSES = {(): [0.6, 0.4, 0.0, 0.0, 0.0], (A,): [0.35, 0.35, 0.3, 0.0, 0.0], (B,): [0.05, 0.05, 0.9, 0.0, 0.0]}

# Ending at once (E, 0.45) against A B C E (0.5 * 0.9^3): the sum of log p prefers the short one,
# the mean per value the long one.
SHORT_OR_LONG = {(): [0.5, 0.03, 0.01, 0.45, 0.01], (A,): [0.025, 0.9, 0.025, 0.025, 0.025],
                 (A, B): [0.025, 0.025, 0.9, 0.025, 0.025], (A, B, C): [0.025, 0.025, 0.025, 0.9, 0.025]}


def greedy(table, n):
    values = []
    for _ in range(n):
        p = table.get(tuple(values), [0.2] * 5)
        values.append(int(np.argmax(p)))
    return values


def test_beam_search_finds_the_sequence_greedy_decoding_misses():
    with np.errstate(divide="ignore"):
        narrow = BeamSearch(TableStepper(GREEDY_MISSES), [D], width=1, length=2).run()
        wide = BeamSearch(TableStepper(GREEDY_MISSES), [D], width=2, length=2).run()
    assert list(narrow.values) == greedy(GREEDY_MISSES, 2) == [A, A]
    assert list(wide.values) == [B, C]
    assert wide.total == pytest.approx(np.log(0.36)) and wide.total > narrow.total


def test_length_normalisation_changes_the_winner():
    plain = BeamSearch(TableStepper(SHORT_OR_LONG), [D], width=2, length=10, end=E)
    normalised = BeamSearch(TableStepper(SHORT_OR_LONG), [D], width=2, length=10, end=E, normalise=True)
    assert plain.run().values == (E,)
    assert normalised.run().values == (A, B, C, E)
    assert normalised.best().total == pytest.approx(np.log(0.5 * 0.9**3))
    # All live beams of a step have one length: the trees agree but for the scores they were ranked by.
    assert [(n.value, n.fate) for n in plain.nodes] == [(n.value, n.fate) for n in normalised.nodes]
    assert ranking_score(-3.0, 4, True) == -0.75 and ranking_score(-3.0, 4, False) == -3.0


def test_the_tree_keeps_every_candidate_with_its_fate_and_the_best_beam_has_the_best_score():
    search = BeamSearch(TableStepper(SHORT_OR_LONG), [D], width=2, length=10, end=E, normalise=True)
    live_before = 1
    while (step := search.step()) is not None:
        assert len(step.nodes) == live_before * search.per_beam == live_before * 3
        kept, finished, pruned = step.count(KEPT), step.count(FINISHED), step.count(PRUNED)
        assert kept + finished + pruned == len(step.nodes)
        assert kept == len(search.live) <= 2 and finished <= 2
        everything = [search.nodes[h.node] for h in search.finished + search.live]
        assert step.best_score == max(n.score for n in everything) == search.nodes[step.best].score
        for node in step.nodes:  # cumulative: the parent's total plus this value's log p
            parent = 0.0 if node.parent == ROOT else search.nodes[node.parent].total
            assert node.total == pytest.approx(parent + node.logp)
            assert node.parent == ROOT or search.nodes[node.parent].fate == KEPT
        live_before = kept
    assert search.done and len(search.finished) == 2
    assert [search.nodes[i].value for i in search.path(search.best().node)] == [A, B, C, E]
    assert search.steps[0].count(FINISHED) == 1  # E at once ranked second of two: finished, not pruned


def test_back_forgets_the_newest_step_and_stepping_again_gives_it_back():
    stepper = TableStepper(SHORT_OR_LONG)
    search = BeamSearch(stepper, [D], width=3, length=6)
    for _ in range(4):
        search.step()
    fourth = search.steps[-1]
    nodes = len(search.nodes)
    assert search.back() and len(search.steps) == 3 and len(search.nodes) == nodes - len(fourth.nodes)
    again = search.step()
    assert stepper.starts == 2  # the model was re-primed on the beams of step 3
    assert [(n.value, n.parent, n.fate) for n in again.nodes] == [(n.value, n.parent, n.fate) for n in fourth.nodes]
    assert [n.total for n in again.nodes] == pytest.approx([n.total for n in fourth.nodes])
    while search.back():
        pass
    assert not search.steps and not search.nodes and search.live[0].node == ROOT


def test_bad_arguments_are_refused():
    for width in (0, 9):
        with pytest.raises(ValueError):
            BeamSearch(TableStepper({}), [D], width=width, length=3)
    with pytest.raises(ValueError):
        BeamSearch(TableStepper({}), [7], width=2, length=3)
    with pytest.raises(ValueError):
        BeamSearch(TableStepper({}), [], width=2, length=3)


# ---------------------------------------------------------------- the GPT, batched


@pytest.fixture
def tiny_stepper(tiny_models):
    from arplayground import catalog

    entry = next(e for e in catalog.discover(tiny_models) if e.mode == "text")
    return catalog.load_stepper(entry)


def test_width_one_is_greedy_decoding_exactly_also_past_the_context(tiny_stepper):
    from arplayground.nets.gpt_beams import GPTBeams

    prompt = tiny_stepper.vocab.encode("to be")
    n = 300  # the tiny GPT's context is 128: the cache is re-primed twice on the way
    drawn = []
    for block in run_steps(tiny_stepper, prompt, n, lambda: SamplerSettings(temperature=0.0), 0):
        drawn += block.values.tolist()
    best = BeamSearch(GPTBeams.of(tiny_stepper), prompt, width=1, length=n).run()
    assert list(best.values) == drawn


def test_the_batched_beams_read_what_the_single_sequence_stepper_reads(tiny_stepper):
    """Reordered caches: every beam's next-value logits match a fresh pass over its whole text."""
    from arplayground.nets.gpt_beams import GPTBeams

    beams = GPTBeams.of(tiny_stepper)
    beams.capacity = 180  # a pool this small fills every few dozen steps: compacted, on the same window
    prompt = tiny_stepper.vocab.encode("to be")
    search = BeamSearch(beams, prompt, width=4, length=150)  # past the 128-character context too
    compactions = 0
    for _ in range(150):
        before = beams.pool.length
        search.step()
        compactions += beams.window < 128 and beams.pool.length < before
        if search.steps[-1].step in (5, 40, 60, 126, 127, 149):
            for row, hypothesis in enumerate(search.live):
                assert beams.sequences[row] == list(prompt) + list(hypothesis.values)
                tiny_stepper.reset(beams.sequences[row])
                np.testing.assert_allclose(search._logp[row] - search._logp[row].max(),
                                           tiny_stepper.logits() - tiny_stepper.logits().max(), atol=2e-4)
    assert compactions >= 2


def test_beam_search_on_the_gpt_is_deterministic(tiny_stepper):
    from arplayground.nets.gpt_beams import GPTBeams

    prompt = tiny_stepper.vocab.encode("to be")
    runs = [BeamSearch(GPTBeams.of(tiny_stepper), prompt, width=8, length=30, normalise=True) for _ in range(2)]
    for search in runs:
        search.run()
    assert runs[0].nodes == runs[1].nodes


def test_the_winner_beside_a_sample_both_read_by_the_model(tiny_stepper):
    from arplayground.core.beam import beside_a_sample
    from arplayground.core.cheat import nats_per_char, sample
    from arplayground.nets.gpt_beams import GPTBeams

    prompt = tiny_stepper.vocab.encode("to be")
    best = BeamSearch(GPTBeams.of(tiny_stepper, 4), prompt, width=4, length=40).run()
    settings = SamplerSettings(temperature=0.8, top_k=20)
    beside = beside_a_sample(tiny_stepper, prompt, best.values, seed=11, settings=settings)
    assert beside.sample_values == sample(tiny_stepper, prompt, 40, 11, settings)[0]
    assert beside.beam_bits == pytest.approx(nats_per_char(tiny_stepper, prompt, best.values) / np.log(2))
    assert beside.beam_bits == pytest.approx(-best.total / 40 / np.log(2), rel=1e-4)  # its own score, batched
    assert beside.beam_bits < beside.sample_bits
    with pytest.raises(ValueError):
        beside_a_sample(tiny_stepper, prompt, (), seed=11, settings=settings)
