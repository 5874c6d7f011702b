"""The Decoding lab's Beam search tab on the real window: run, pause, step, back, stop; the tree of
beams as drawn; the winner beside a sample with both NLLs."""

import re

from arplayground import catalog
from arplayground.core.beam import BeamSearch
from arplayground.nets.gpt_beams import GPTBeams
from tests.gui.driver import WindowDriver


def bits(text: str) -> float:
    (value,) = re.findall(r"([0-9]+\.[0-9]+) bits/char", text)
    return float(value)


def expected_search(folder, prompt: str, width: int, length: int, normalise: bool = False):
    """The same search run here, in core, on a fresh copy of the model."""
    entry = next(e for e in catalog.discover(folder) if e.mode == "text")
    stepper = catalog.load_stepper(entry)
    search = BeamSearch(GPTBeams.of(stepper, width), stepper.vocab.encode(prompt), width, length, normalise)
    search.run()
    return search, stepper.vocab


def test_a_search_runs_to_its_end_and_shows_its_tree_and_both_texts(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("to be")
    d.set_seed(5)
    beam = d.open_beam_search()
    assert beam.shown()
    beam.set_width(3)
    beam.set_length(24)
    beam.set_normalise(True)
    beam.press("start")
    beam.wait_until_done()
    assert beam.steps() == 24
    expected, vocab = expected_search(tiny_models, "to be", 3, 24, normalise=True)
    for step in (0, 11, 23):
        assert beam.column(step) == [(vocab.label(n.value), n.fate, n.total) for n in expected.steps[step].nodes]
        counts = beam.counts(step)
        assert counts["kept"] == 3 and counts["finished"] == 0
        assert counts["pruned"] == len(beam.column(step)) - 3
    assert len(beam.column(0)) == 4 and len(beam.column(1)) == 12  # each beam's 4 best extensions
    winner = vocab.decode(expected.best().values)
    assert beam.beam_text() == "to be" + winner
    assert "".join(beam.highlighted()) == "".join(vocab.label(v) for v in expected.best().values)
    assert beam.highlighted_in_colour()
    sample = beam.sample_text()
    assert sample.startswith("to be") and len(sample) == len(beam.beam_text())
    assert "width 3, length-normalised" in beam.titles()[0] and "seed 5" in beam.titles()[1]
    # Both read by the model: the search's winner is far likelier than a sample from an untrained model.
    assert 0 < bits(beam.beam_nll()) < bits(beam.sample_nll())
    assert "24 characters" in beam.beam_nll() and "24 characters" in beam.sample_nll()
    assert not beam.can("pause") and not beam.can("step") and beam.can("back")
    beam.press("stop")
    assert not beam.can("stop") and beam.can("start")


def test_pause_step_and_back_grow_and_shrink_the_tree(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("to be")
    beam = d.open_beam_search()
    beam.set_width(4)
    beam.set_length(2000)  # far past the tiny model's 128-character context
    beam.press("start")
    beam.wait_until(lambda: beam.steps() >= 3)
    beam.press("pause")
    beam.wait_until_paused()
    paused_at = beam.steps()
    assert 3 <= paused_at < 2000 and beam.can("back") and beam.can("step")
    beam.click_step()
    beam.click_step()
    assert beam.steps() == paused_at + 2
    newest = beam.column(paused_at + 1)
    beam.click_back()
    assert beam.steps() == paused_at + 1
    beam.wait_until(lambda: beam.state().startswith(f"Paused after {paused_at + 1} steps"))
    beam.click_step()  # the forgotten step again, from the model re-primed on the beams before it
    again = beam.column(paused_at + 1)
    assert [(c, fate) for c, fate, _ in again] == [(c, fate) for c, fate, _ in newest]
    assert all(abs(a[2] - b[2]) < 1e-3 for a, b in zip(again, newest))
    for _ in range(3):
        beam.click_back()
    assert beam.steps() == paused_at - 1
    beam.press("stop")
    assert beam.state().startswith(f"Stopped after {paused_at - 1} steps")


def test_step_with_no_search_going_starts_one_paused(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    beam = d.open_beam_search()  # no prompt: from a newline, as a run starts
    beam.set_width(2)
    beam.set_length(3)
    beam.set_end("at a newline")
    for n in (1, 2, 3):
        beam.click_step()
        assert beam.steps() == n
    beam.wait_until_done()
    assert beam.sample_text().startswith("\n") and bits(beam.sample_nll()) > 0
    beam.close()  # no thread outlives the lab


def test_the_tab_says_why_it_cannot_search_outside_text_mode(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    beam = d.open_beam_search()
    d.choose_mode("image")
    beam.press("start")
    assert "choose Text mode" in beam.state() and beam.steps() == 0
