"""The Decoding lab's Speculative tab (issue 23, part 3) on the real window: a run's rounds shown as
they come, paused, stepped, taken back and stepped again to the same round, each round's proposals
with q, p, u and the test, the residual drawn from, and the live figures with the speed-up over
plain decoding timed in the tab; greedy gives the plain greedy text; refusals say why."""

import json
import re
from pathlib import Path

from arplayground.core.generate import run_steps
from arplayground.core.sampling import SamplerSettings
from tests.conftest import write_tiny_gpt
from tests.gui.driver import SpeculativeDriver, WindowDriver

MODELS = Path(__file__).parents[2] / "models"


def with_draft(folder: Path) -> Path:
    """The tiny models' folder with a second tiny GPT marked as their draft."""
    path = write_tiny_gpt(folder, "tiny-draft", seed=1)
    path.write_text(json.dumps({**json.loads(path.read_text()), "role": "draft"}))
    return folder


def test_a_run_pauses_steps_goes_back_and_shows_each_round(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, with_draft(tiny_models), "text")
    assert d.models() == ["tiny-gpt", "tiny-draft (the draft for speculative decoding)"]
    assert d.model_entry().name == "tiny-gpt"  # the draft is never where Text mode starts
    d.set_prompt("to be or not")
    d.set_seed(4)
    s = SpeculativeDriver.open(d)
    s.set_k(3)
    s.set_length(80)
    s.set_pace("50 rounds/s")
    s.click("start")
    s.wait_for_rounds(3)
    s.pause()
    assert s.paused() and s.status().startswith("Paused:")
    n = s.rounds()
    s.click("step")
    s.wait_until_idle()
    assert s.rounds() == n + 1
    stepped = s.round()
    s.click("back")
    s.wait_until_idle()
    assert s.rounds() == n
    s.click("step")  # the same round again: the same numbers, the same draws
    s.wait_until_idle()
    assert s.rounds() == n + 1
    again = s.round()
    assert list(again.proposals) == list(stepped.proposals) and again.values == stepped.values

    assert s.round_shown() == n + 1  # the round shown follows the run
    rows = s.table()
    assert len(rows) == 3 and [row[0] for row in rows] == ["1", "2", "3"]
    for i, row in enumerate(rows):
        assert row[2] == f"{again.q[i, again.proposals[i]]:.3f}" and row[3] == f"{again.p[i, again.proposals[i]]:.3f}"
        assert row[5] == f"{again.u_accept[i]:.3f}"
        expected = "accepted" if i < again.accepted else "rejected" if i == again.accepted else "not tested"
        assert expected in row[6]
    draw = s.draw_text()
    assert ("residual max(0, p − q)" in draw) == again.rejected and f"u = {again.u_draw:.3f}" in draw
    bars = s.bars()
    assert len(bars["labels"]) == 12 and len(bars["drawn"]) == 1 and bars["drawn"][0] > 0
    figures = s.figures()
    assert re.search(r"Acceptance rate \d+% \(\d+ of \d+ proposals\)", figures)
    rounds = s.tab.rounds  # the figures' running sums, after a round taken back, are those of the rounds shown
    assert f"({sum(r.accepted for r in rounds):,} of {sum(r.k for r in rounds):,} proposals)" in figures
    assert s.status().startswith(f"Paused: {sum(len(r.values) for r in rounds):,} of 80 characters in {len(rounds):,} rounds")
    assert "characters per target pass" in figures and "timed when the run reaches its length" in figures

    marks = s.marks()
    assert marks.count("rejected") == sum(r.rejected for r in s.tab.rounds)
    assert set(marks) <= {"accepted", "rejected", "replacement", "bonus"} and "accepted" in marks

    s.show_round(1)  # an earlier round, while paused
    assert s.round_shown() == 1 and len(s.table()) == s.round(0).k

    s.set_pace("As fast as it computes")
    s.click("pause")  # resume to the end: plain decoding of the same length is timed
    s.wait_for_speed_up()
    assert sum(len(r.values) for r in s.tab.rounds) == 80
    assert re.search(r"plain [\d,]+ characters/s: speed-up \d+\.\d\d×", s.figures())
    assert s.status().startswith("Done: 80 of 80 characters")
    s.click("stop")
    assert not s.running() and s.status().startswith("Stopped:")
    d.close()


def test_greedy_gives_the_plain_greedy_text_with_the_bundled_models(qtbot):
    d = WindowDriver.open(qtbot, MODELS, "text")
    d.set_prompt("ROMEO:\n")
    d.set_temperature(0.0)
    s = SpeculativeDriver.open(d)
    s.set_k(4)
    s.set_length(100)
    s.set_pace("As fast as it computes")
    s.click("start")
    s.wait_for_speed_up()
    assert "greedy: the same text as plain decoding" in s.figures()
    target = s.tab._stepper(d.model_entry())
    prefix = tuple(target.vocab.encode("ROMEO:\n"))
    greedy = SamplerSettings(temperature=0.0)
    plain = [int(b.values[0]) for b in run_steps(target, prefix, 100, lambda: greedy, seed=d.seed())]
    assert [v for r in s.tab.rounds for v in r.values] == plain
    s.click("stop")
    d.close()


def test_step_before_a_run_starts_one_paused(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, with_draft(tiny_models), "text")
    d.set_prompt("to be")
    s = SpeculativeDriver.open(d)
    assert not s.can("back") and not s.can("stop")
    s.click("step")
    s.wait_until_idle()
    assert s.rounds() == 1 and s.paused() and s.running() and s.can("back")
    assert s.round_heading().startswith("of 1 ·")
    d.close()  # closing the main window closes the lab and ends the run's thread
    assert not s.running()


def test_without_a_draft_the_tab_says_why(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    s = SpeculativeDriver.open(d)
    s.click("start")
    assert "No draft model for tiny-gpt" in s.status() and '"role": "draft"' in s.status()
    assert not s.running()
    d.close()
