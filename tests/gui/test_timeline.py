"""The timeline: its y axis says the measure and unit, several measures stack on the same steps,
it keeps up with the panel while a run streams, the empty one shows a hint instead of an axis
around nothing, and Play shows whether it plays. Through the real window (tests/gui/driver.py)."""

import numpy as np
import pytest

from arplayground.gui.timeline import CHAIN_RULE, LATENCY, MEASURES, RANK
from tests.gui.driver import WindowDriver


@pytest.fixture
def d(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    yield d
    d.close()


def test_each_measure_labels_the_y_axis_with_its_unit(qtbot, d):
    d.set_length(10)
    d.generate_and_wait()
    assert d.timeline_axis_label() == "entropy (nats)"
    for measure, axis in ((RANK, "rank (1 = most likely)"), (LATENCY, "compute time per step (ms)"),
                          ("surprisal of the drawn value (nats)", "surprisal (nats)"),
                          (CHAIN_RULE, "running −log₂ p (bits)")):
        d.choose_timeline_measure(measure)
        assert d.timeline_axis_label() == axis
    assert all(m.axis for m in MEASURES.values())


def test_the_empty_timeline_shows_a_hint_not_an_axis_around_nothing(qtbot, d):
    assert d.timeline_hint() == "Generate to see each step's entropy (nats)"
    assert not d.timeline_tick_numbers_shown()  # was 0.0004 .. -0.0004 around no steps
    assert d.timeline_values().size == 0
    d.set_length(10)
    d.generate_and_wait()
    assert d.timeline_hint() is None and d.timeline_tick_numbers_shown()
    d.start_paused_run()  # a new run, no step yet: empty again, with the hint
    assert d.timeline_hint() is not None and not d.timeline_tick_numbers_shown()
    d.click_stop()


def test_measures_stack_on_the_same_steps_with_one_position_line(qtbot, d):
    d.set_length(30)
    d.generate_and_wait()
    d.add_timeline_measure(RANK)
    d.add_timeline_measure(LATENCY)
    assert d.timeline_measures() == ["entropy (nats)", RANK, LATENCY]
    assert d.timeline_axis_label(RANK) == "rank (1 = most likely)"
    np.testing.assert_allclose(d.timeline_values(), d.column("entropy"), rtol=1e-6)  # the first plot as before
    np.testing.assert_array_equal(d.timeline_values_of(RANK), d.column("rank") + 1)
    np.testing.assert_allclose(d.timeline_values_of(LATENCY), d.column("seconds") * 1000, rtol=1e-6)
    d.show_step(11)
    assert d.timeline_cursors() == [12.0, 12.0, 12.0]  # one position on every plot
    d.click_stacked_plot(RANK, 20)  # a click on a stacked plot scrubs too
    assert d.shown_step() == 20 and d.timeline_cursors() == [21.0, 21.0, 21.0]
    stacked = d.timeline.stacked[RANK].item.vb
    assert stacked.viewRange()[0] == pytest.approx(d.timeline_x_range())  # the same step axis
    d.remove_timeline_measure(RANK)
    assert d.timeline_measures() == ["entropy (nats)", LATENCY]
    d.set_length(12)
    d.generate_and_wait()  # the stacked plot follows the new run
    assert len(d.timeline_values_of(LATENCY)) == 12


def test_while_streaming_the_timeline_shows_the_step_the_panel_shows(qtbot, d):
    d.set_length(150)
    d.set_speed(100)
    d.click_generate()
    d.wait_for_at_least(2)
    checked = 0
    while d.running() and checked < 40:
        shown = d.shown_step()  # the panel's step: the newest at its last redraw (more may have come since)
        if shown is not None:
            # was "step 74 of 74" with the panel at 117
            assert d.timeline_position() == f"step {shown + 1} of {shown + 1}"
            assert len(d.timeline_values()) == shown + 1  # the curve is drawn up to it too
            checked += 1
        qtbot.wait(25)
    assert checked > 5
    d.click_stop()


def test_play_looks_pressed_and_says_pause_while_it_plays(qtbot, d):
    assert d.timeline_play_button() == ("▶ Play", False)
    d.set_length(40)
    d.generate_and_wait()
    seen = []
    d.timeline.scrubbed.connect(lambda _: seen.append(d.timeline_play_button()))
    d.play_timeline(500)
    assert seen and seen[0] == ("⏸ Pause", True)  # while it plays
    assert d.timeline_play_button() == ("▶ Play", False)  # at the end
    d.click(d.timeline.play_button)
    assert d.timeline_play_button() == ("⏸ Pause", True)
    d.click(d.timeline.play_button)  # pause it
    assert d.timeline_play_button() == ("▶ Play", False) and not d.timeline.playing()
