"""The lab's A/B window and named branches, in the real window with every mode's view."""

import numpy as np
import pytest
import shiboken6

from tests.gui.driver import WindowDriver


def start_run(d, text_steps=30):
    d.set_run_length(text_steps=text_steps, audio_samples=32)
    d.generate_and_wait()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_ab_draws_two_continuations_of_the_shown_step_with_the_same_random_numbers(qtbot, all_models, mode):
    d = WindowDriver.open(qtbot, all_models, mode)
    assert not d.can("ab")  # nothing to compare yet
    d.set_guidance(1.0)  # off: a rank counts from the model's own distribution, which greedy B then always takes
    start_run(d)
    run = d.values()
    assert d.can("ab")
    first = d.open_ab()  # a finished run showing its last step: A/B starts at step 1
    assert first.start_step() == 1
    first_view = first.side("A").view
    d.show_step(9)
    ab = d.open_ab()  # a step chosen: A/B starts there
    # The replaced window took its views with it, the controls they never showed included: left
    # behind, Qt deleted them again at exit and the test process died with a segfault.
    qtbot.waitUntil(lambda: not shiboken6.isValid(first_view.controls), timeout=5_000)
    assert not shiboken6.isValid(first_view.display)
    assert ab is not None and ab.window.isVisible() and ab.start_step() == 10
    assert ab.settings("A") == d.settings()  # A: the run's own settings
    if mode == "audio":  # before Run A/B: no "Pick a digit and a speaker, then Generate" (it has neither)
        assert ab.side("A").view.readout.text() == "Run A/B to hear and see this side."
    assert ab.side("A").guidance.isVisibleTo(ab.window) == (mode != "text")  # guidance: only with a digit to guide by
    ab.set_temperature("B", 0.0)  # B: greedy
    ab.run_and_wait()
    a, b = ab.values("A"), ab.values("B")
    assert len(a) == len(b) == d.planned_steps() - 9
    # Same seed and settings as the run: A redraws exactly what the run drew from step 10 on.
    np.testing.assert_array_equal(a, run[9:])
    # The same random number at every step on both sides; B, greedy, always took the most likely value.
    np.testing.assert_array_equal(ab.column("A", "u"), ab.column("B", "u"))
    assert (ab.column("B", "rank") == 0).all()
    assert not np.array_equal(a, b)
    # Side by side: both views show the shared start, then their own continuation.
    kept = list(d.prefix()) + run[:9].tolist()
    assert ab.shows("A") == kept + a.tolist()
    assert ab.shows("B") == kept + b.tolist()
    assert f"NLL {ab.nll('A'):.3f}" in ab.nll_text("A") and f"NLL {ab.nll('B'):.3f}" in ab.nll_text("B")
    if mode == "audio":  # one amplitude axis for both waveforms, holding the louder of the two
        from arplayground.core.mulaw import encode

        view_a, view_b = ab.side("A").view, ab.side("B").view
        view_b.levels = encode(np.full(len(view_b.levels), 0.01))
        view_b._redraw(grow_only=False)  # B's clip now peaks at 0.01 (set inside the view: no run draws that)
        assert view_b.amplitude_scale < view_a.amplitude_scale
        ab.side("B").finished.emit()  # what a side sends when its run ends: the window aligns the axes then
        ranges = [view.plot.getPlotItem().vb.viewRange()[1] for view in (view_a, view_b)]
        assert ranges[0] == pytest.approx(ranges[1])
        assert view_a.amplitude_scale == view_b.amplitude_scale >= float(np.abs(view_a.curve.getData()[1]).max())
    first_difference = int(np.flatnonzero(a != b)[0])
    assert f"diverge at step {9 + first_difference + 1} of the run;" in ab.summary()
    assert f"A {ab.nll('A'):.3f}, B {ab.nll('B'):.3f}" in ab.summary()
    # A click on either side's step 3 compares what the two sides drew there.
    ab.click_step("B", 2)
    for name in ("A", "B"):
        rec = ab.record(name, 2)
        assert f"{name} drew {d.label(rec.value)} (p = {rec.prob:.3f}" in ab.step_text()
    assert ab.step_text().startswith("Step 12 of the run:")
    # The run in the main window is untouched.
    np.testing.assert_array_equal(d.values(), run)
    d.close()
    assert not ab.running()


def test_ab_with_equal_settings_draws_equal_sides_and_is_off_while_streaming(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models)
    d.set_prompt("to be")
    d.set_length(300)
    d.set_speed(1)  # 1 step a second: the run is still streaming below; A/B runs at full speed
    d.click_generate()
    d.wait_for_at_least(1, timeout=10_000)
    assert not d.can("ab")
    d.click_pause()
    assert d.can("ab")
    ab = d.open_ab()
    ab.set_start_step(1)
    ab.set_settings("B", ab.settings("A"))
    ab.run_and_wait(timeout=60_000)
    np.testing.assert_array_equal(ab.values("A"), ab.values("B"))
    assert "A and B drew the same 300 values" in ab.summary()
    second = d.open_ab()  # a new comparison replaces the old window, which is deleted
    qtbot.waitUntil(lambda: d.ab_window() is second.window, timeout=5_000)
    second.close()
    qtbot.waitUntil(lambda: d.ab_window() is None, timeout=5_000)
    d.click_stop()
    d.close()


def test_branches_can_be_renamed_and_keep_their_family(qtbot, all_models, tmp_path):
    from arplayground.core.lab import load_trace

    d = WindowDriver.open(qtbot, all_models)
    start_run(d, text_steps=12)
    assert d.rename_branch("careful")
    d.show_step(3)
    d.click_bar(d.bar_values()[2])  # a branch at step 4
    d.wait_for_steps(4)
    assert d.branch_family()[0] == "careful"
    assert d.rename_branch("wild")
    assert not d.rename_branch("careful") and "already a branch called careful" in d.status()
    texts = d.branch_lines()
    assert texts[0].startswith("careful") and texts[1].startswith("wild (from careful at step 4")
    d.choose_branch("careful")  # switch back by its new name
    assert d.branch_name() == "careful" and d.steps() == 12
    assert d.rename_branch("calm")
    assert d.branch_family("wild")[0] == "calm"
    path = tmp_path / "calm.trace.json"
    assert d.export_trace(path)
    assert load_trace(path)[0].name == "calm"
    d.close()


def test_ab_side_a_starts_with_the_settings_the_run_drew_with(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=12)
    d.set_temperature(1.4)
    d.set_top_k(7)
    d.generate_and_wait()
    d.set_temperature(0.3)  # moved after the run
    d.show_step(4)
    ab = d.open_ab()
    assert ab.settings("A").temperature == 1.4 and ab.settings("A").top_k == 7
    assert ab.settings("B").temperature == 0.3 and ab.settings("B").top_k == 7  # B: the sliders, being explored
    ab.close()
    d.set_temperature(1.4)  # sliders back at the run's: B takes another temperature
    ab = d.open_ab()
    assert ab.settings("A").temperature == 1.4 and ab.settings("B").temperature == 0.6
    ab.close()
    d.close()


def test_ab_from_before_a_forced_step_keeps_it_on_both_sides(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=12)
    d.step_times(6)
    forced = int(d.record(4).top_values[2])
    d.force_value(4, forced)  # branch 1: step 5 forced
    d.resume_to_the_end()
    branch = d.values()
    d.show_step(1)  # A/B from step 2, before the fork
    ab = d.open_ab()
    ab.run_and_wait()
    np.testing.assert_array_equal(ab.values("A"), branch[1:])  # side A is the branch, forced step included
    assert ab.values("B")[3] == forced
    ab.close()
    d.close()
