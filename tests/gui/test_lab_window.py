"""The step-through lab in the real window: step back, and continue to the same values, in every
mode; branch at a clicked bar; the what-if of a paused step; the timeline; traces out and in."""

import numpy as np
import pytest

from tests.gui.driver import WindowDriver


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_step_back_then_step_again_meets_the_same_values(qtbot, all_models, mode):
    d = WindowDriver.open(qtbot, all_models, mode)
    d.set_run_length(text_steps=40, audio_samples=40)
    assert not d.can("back")
    d.step_times(6)
    first = d.values()
    assert d.shown_values() == first.tolist()
    assert d.can("back")
    d.click_back(2)
    assert d.steps() == 4 and not d.running()
    assert d.shown_values() == first[:4].tolist()
    assert d.panel_title().startswith("step 4") or ", step 4:" in d.panel_title()
    d.click_step()  # one more step: the model is re-primed on the four kept values
    d.wait_for_steps(5)
    assert d.values().tolist() == first[:5].tolist() and d.shown_values() == first[:5].tolist()
    d.resume_to_the_end()  # Resume: to the end of the run
    np.testing.assert_array_equal(d.values()[:6], first)
    assert d.shown_values() == d.values().tolist()
    d.close()


def test_back_is_off_while_running_and_for_grids(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.choose_grid("2 x 2")
    d.click_step()
    d.wait_for_steps(4)
    assert not d.can("back")  # a grid is not stepped back
    d.click_stop()
    d.close()


def test_a_slider_moved_while_paused_redraws_the_step_and_its_would_draw_value_and_nothing_else(qtbot, all_models):
    from arplayground.core.sampling import SamplerSettings, stages

    d = WindowDriver.open(qtbot, all_models)
    d.set_prompt("to be")
    d.step_times(5)
    assert d.what_if_shown() and "would draw the same value" in d.what_if_text()
    values, text = d.values(), d.text_shown()
    _, before = d.bar_heights()
    rec = d.record(4)
    raw = d.distributions(4)[0]  # the trace keeps every step's 65 probabilities
    d.set_top_k(3)
    d.set_temperature(0.4)
    st = stages(np.log(raw.astype(np.float64)), SamplerSettings(0.4, 3, 1.0), rec.u)
    _, after = d.bar_heights()
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, st.final[rec.top_values], atol=1e-6)
    assert np.count_nonzero(after) == 3  # top-k 3: only three candidates keep probability
    assert d.would_draw() == st.would_draw
    assert "top-k 3" in d.what_if_text() and f"u = {rec.u:.3f}" in d.what_if_text()
    d.set_temperature(0.0)  # greedy: u no longer matters, the most likely value wins
    assert d.would_draw() == int(np.argmax(raw))
    # Nothing else moved: the run, the text, the step shown.
    np.testing.assert_array_equal(d.values(), values)
    assert d.text_shown() == text and d.panel_title().startswith("step 5:")
    # The next step is drawn with the new settings.
    d.click_step()
    d.wait_for_steps(6)
    assert d.record(5).settings.greedy
    d.click_stop()
    d.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_clicking_a_bar_branches_there_and_both_branches_are_kept(qtbot, all_models, mode):
    d = WindowDriver.open(qtbot, all_models, mode)
    d.set_run_length(text_steps=12, audio_samples=12)
    d.step_times(6)
    d.show_step(3)  # inspect step 4, then click one of its other candidates
    main_values = d.values()
    alternative = int(d.record(3).top_values[2])
    d.click_bar(alternative)  # a real click on that bar
    d.wait_for_steps(4)
    assert d.branch_name() == "branch 1" and d.branch_family()[0] == "main"
    assert d.values()[:3].tolist() == main_values[:3].tolist() and d.record(3).value == alternative
    assert d.shown_values() == d.values().tolist()
    d.resume_to_the_end()  # Resume the branch to the end
    branch_values = d.values()
    assert d.branch_names() == ["main", "branch 1"]
    assert "from main at step 4" in d.branch_lines()[1] and "NLL" in d.branch_lines()[1]
    # Switch back: the main branch is shown as it was; and forth again.
    d.choose_branch("main")
    assert d.branch_name() == "main" and d.values().tolist() == main_values.tolist()
    assert d.shown_values() == main_values.tolist()
    d.choose_branch("branch 1")
    assert d.values().tolist() == branch_values.tolist() and d.shown_values() == branch_values.tolist()
    d.close()


def test_the_panel_maps_a_click_position_to_the_bar_value(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models)
    d.set_prompt("to be")
    d.click_step()
    d.wait_for_steps(1)
    rec = d.record(0)
    # The panel's own mapping from plot x to a bar (what a click's position goes through).
    assert d.panel.value_at(0.1) == rec.top_values[0] and d.panel.value_at(2.2) == rec.top_values[2]
    assert d.panel.value_at(-3) is None
    assert d.bar_values()[:3] == [int(v) for v in rec.top_values[:3]]  # the bars, best first
    d.click_stop()
    d.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_the_timeline_plots_every_step_and_scrubbing_shows_and_highlights_the_step(qtbot, all_models, mode):
    d = WindowDriver.open(qtbot, all_models, mode)
    d.set_run_length(text_steps=40, audio_samples=400)
    d.set_top_k(7)
    d.generate_and_wait()
    n = d.steps()
    np.testing.assert_allclose(d.timeline_values(), d.column("entropy"), rtol=1e-6)
    d.choose_measure("values kept by the sampler")
    assert d.timeline_values().tolist() == [7.0] * n
    d.choose_measure("running NLL (nats per step)")
    assert d.timeline_values()[-1] == pytest.approx(d.nll(), rel=1e-5)
    d.show_step(10)  # scrub
    assert d.shown_step() == 10 and d.timeline_position() == f"step 11 of {n}"
    view = d.view()
    if mode == "text":
        assert d.panel_title().startswith("step 11:") and d.highlighted_character() == 10
    elif mode == "image":
        assert view.canvas.selected == (0, d.record(10).position) and ", step 11:" in d.panel_title()
    else:
        assert view.cursor_line.value() == pytest.approx(d.record(10).position / 8000)
    d.close()


def test_the_timelines_step_axis_spans_the_whole_run_from_its_first_step(qtbot, all_models):
    """The curve grows into a fixed axis: no relayout of the axes as a run starts and grows."""
    d = WindowDriver.open(qtbot, all_models, "image")
    d.step_times(1)  # a run of 784 pixels, paused after its first
    x_range = d.timeline_x_range()
    assert x_range[0] <= 0 and 785 <= x_range[1] < 800
    d.click_stop()
    d.close()


def test_an_empty_timeline_has_no_negative_steps(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    low, high = d.timeline_x_range()
    assert low >= -0.1 and high >= 1  # was -0.4 .. 0.4: an auto range around no steps
    assert d.timeline_position() == "no steps"
    d.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_an_exported_trace_opens_in_a_new_window_and_replays_exactly(qtbot, all_models, mode, tmp_path):
    d = WindowDriver.open(qtbot, all_models, mode)
    d.set_run_length(text_steps=30, audio_samples=32)
    d.set_temperature(1.4)
    d.step_times(10)  # ten steps at 1.4, then the rest at 0.6 with top-k 5: the settings vary per step
    d.set_temperature(0.6)
    d.set_top_k(5)
    d.show_step(4)
    d.click_bar(int(d.record(4).top_values[1]))  # a branch: a forced value at step 5
    d.wait_for_steps(5)
    d.resume_to_the_end()
    path = tmp_path / "run.trace.json"
    assert d.export_trace(path)
    values = d.values()
    d.close()

    other = WindowDriver.open(qtbot, all_models)
    other.replay(path)
    assert other.steps() == len(values)
    assert other.mode == mode and other.branch_name() == "branch 1"
    assert "branch 1 (from main, not open here, at step 5: " in other.branch_line()  # main stayed behind
    np.testing.assert_array_equal(other.values(), values)
    assert "identical to the trace" in other.status()
    assert other.shown_values() == values.tolist()
    other.close()


def test_opening_a_file_that_is_not_a_trace_says_so_and_changes_nothing(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models)
    bad = tmp_path / "notes.json"
    bad.write_text("[1, 2, 3]")
    assert not d.open_trace(bad)
    assert "not an arplayground trace" in d.status() and not d.has_run()
    d.close()


def test_opening_a_trace_sets_the_sliders_to_its_settings(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.choose_digit(3)  # a digit, so guidance acts and is recorded
    d.set_temperature(0.8)
    d.set_top_k(20)
    d.set_guidance(1.5)
    d.step_times(3)
    d.click_stop()
    path = tmp_path / "run.trace.json"
    assert d.export_trace(path)
    d.close()
    other = WindowDriver.open(qtbot, all_models, "text")
    assert other.open_trace(path)
    other.wait_until(lambda: not other.running() and other.steps() == 3, timeout=30_000)
    s = other.settings()
    assert (s.temperature, s.top_k, s.guidance) == (0.8, 20, 1.5)  # Resume and A/B go on as the file did
    other.close()


def test_the_timeline_replays_the_steps_at_the_display_speed_whatever_the_compute_speed(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models)
    d.set_prompt("to be")
    d.set_length(40)
    d.generate_and_wait()  # computed at full speed
    assert d.steps() == 40
    seen = []
    d.timeline.scrubbed.connect(seen.append)
    d.play_timeline(500)  # from the end: starts over at step 1
    assert seen[0] == 0 and seen[-1] == 39 and seen == sorted(seen) and len(seen) > 5
    assert d.shown_step() == 39 and d.highlighted_character() == 39
    d.close()


# ---------------------------------------------------------------- forced steps and their branches


def test_a_forced_step_shows_what_its_uniform_number_would_have_drawn(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=12)
    d.step_times(6)
    drawn = int(d.record(3).value)
    forced = int(d.record(3).top_values[2])
    d.force_value(3, forced)  # branch: force another candidate at step 4
    assert d.record(3).value == forced
    d.wait_until(lambda: "branch 1 (from main at step 4" in d.branch_line(), timeout=5_000)
    assert "· 4 steps ·" in d.branch_line()  # the forced step counted as it arrives
    d.show_step(3)
    # Same settings and the same u as the draw the force replaced: u picks what was drawn then.
    assert d.what_if().would_draw == d.would_draw() == drawn != forced
    assert "the same value" not in d.what_if_text()
    d.show_step(2)  # an ordinary step of the same branch still reports its own draw
    assert d.would_draw() == d.record(2).value
    d.click_stop()
    d.close()


def test_a_forced_step_is_titled_forced_and_a_drawn_one_drew(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.step_times(5)
    d.show_step(2)
    assert ": drew grey level" in d.panel_title()
    forced = (int(d.record(2).value) + 128) % 256
    d.force_value(2, forced)
    d.show_step(2)
    assert f": forced grey level {forced} " in d.panel_title()
    d.show_step(1)
    assert ": drew grey level" in d.panel_title()
    d.click_stop()
    d.close()


def test_back_updates_the_branch_lists_length_and_nll(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=12)
    d.generate_and_wait()
    assert d.branch_line().startswith("main · 12 steps · NLL ")
    d.click_back(2)
    assert d.branch_line() == f"main · 10 steps · NLL {d.nll():.3f}"
    d.close()
