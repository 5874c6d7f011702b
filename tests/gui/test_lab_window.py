"""The step-through lab in the real window: step back, and continue to the same values, in every mode."""

import numpy as np
import pytest

from tests.gui.helpers import click, generate_and_wait, open_window, set_run_length, step_times


def shown(w, mode):
    """What the view shows of the run: the generated values, read from the widgets."""
    view = w.views[mode]
    if mode == "text":
        return [w.vocab.encode(c)[0] for c in view.pane.generated_text()]
    if mode == "image":
        return view.canvas.image.reshape(-1)[view.prefix_len : view.canvas.known].tolist()
    return view.levels[view.prefix_len : view.generated_until].tolist()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_step_back_then_step_again_meets_the_same_values(qtbot, all_models, mode):
    w = open_window(qtbot, all_models, mode)
    set_run_length(w, mode, text_steps=40, audio_samples=40)
    assert not w.back_button.isEnabled()
    step_times(qtbot, w, 6)
    first = w.trace.values.copy()
    assert shown(w, mode) == first.tolist()
    assert w.back_button.isEnabled()
    click(qtbot, w.back_button)
    click(qtbot, w.back_button)
    assert len(w.trace) == 4 and not w.is_running()
    assert shown(w, mode) == first[:4].tolist()
    assert w.panel.title.text().startswith("step 4") or ", step 4:" in w.panel.title.text()
    click(qtbot, w.step_button)  # one more step: the model is re-primed on the four kept values
    qtbot.waitUntil(lambda: len(w.trace) == 5, timeout=10_000)
    assert w.trace.values.tolist() == first[:5].tolist() and shown(w, mode) == first[:5].tolist()
    click(qtbot, w.pause_button)  # Resume: to the end of the run
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == w.n_steps, timeout=20_000)
    np.testing.assert_array_equal(w.trace.values[:6], first)
    assert shown(w, mode) == w.trace.values.tolist()
    w.close()


def test_back_is_off_while_running_and_for_grids(qtbot, all_models):
    w = open_window(qtbot, all_models, "image")
    view = w.views["image"]
    view.grid_box.setCurrentIndex(view.grid_box.findText("2 x 2"))
    click(qtbot, w.step_button)
    qtbot.waitUntil(lambda: len(w.trace) == 4, timeout=10_000)
    assert not w.back_button.isEnabled()  # a grid is not stepped back
    click(qtbot, w.stop_button)
    w.close()


def test_a_slider_moved_while_paused_redraws_the_step_and_its_would_draw_value_and_nothing_else(qtbot, all_models):
    from arplayground.core.sampling import SamplerSettings, stages

    w = open_window(qtbot, all_models)
    w.prompt_edit.setPlainText("to be")
    step_times(qtbot, w, 5)
    assert w.panel.what_if_label.isVisible() and "would draw the same value" in w.panel.what_if_label.text()
    values, text = w.trace.values.copy(), w.text_pane.toPlainText()
    _, before = w.panel.bar_heights()
    rec = w.trace[4]
    raw = w.trace.distributions(4)[0]  # the trace keeps every step's 65 probabilities
    w.top_k.setValue(3)
    w.temperature.setValue(0.4)
    st = stages(np.log(raw.astype(np.float64)), SamplerSettings(0.4, 3, 1.0), rec.u)
    _, after = w.panel.bar_heights()
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, st.final[rec.top_values], atol=1e-6)
    assert np.count_nonzero(after) == 3  # top-k 3: only three candidates keep probability
    assert w.panel.would_line.value() == st.would_draw
    assert "top-k 3" in w.panel.what_if_label.text() and f"u = {rec.u:.3f}" in w.panel.what_if_label.text()
    w.temperature.setValue(0.0)  # greedy: u no longer matters, the most likely value wins
    assert w.panel.would_line.value() == int(np.argmax(raw))
    # Nothing else moved: the run, the text, the step shown.
    np.testing.assert_array_equal(w.trace.values, values)
    assert w.text_pane.toPlainText() == text and w.panel.title.text().startswith("step 5:")
    # The next step is drawn with the new settings.
    click(qtbot, w.step_button)
    qtbot.waitUntil(lambda: len(w.trace) == 6, timeout=10_000)
    assert w.trace[5].settings.greedy
    click(qtbot, w.stop_button)
    w.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_clicking_a_bar_branches_there_and_both_branches_are_kept(qtbot, all_models, mode):
    w = open_window(qtbot, all_models, mode)
    set_run_length(w, mode, text_steps=12, audio_samples=12)
    step_times(qtbot, w, 6)
    w.show_step(3)  # inspect step 4, then click one of its other candidates
    main_values = w.trace.values.copy()
    alternative = int(w.trace[3].top_values[2])
    w.panel.value_clicked.emit(alternative)  # what a click on that bar emits
    qtbot.waitUntil(lambda: len(w.trace) == 4, timeout=10_000)
    assert w.branch.name == "branch 1" and w.branch.parent == "main"
    assert w.trace.values[:3].tolist() == main_values[:3].tolist() and w.trace[3].value == alternative
    assert shown(w, mode) == w.trace.values.tolist()
    click(qtbot, w.pause_button)  # Resume the branch to the end
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == w.n_steps, timeout=20_000)
    branch_values = w.trace.values.copy()
    assert [w.branch_box.itemData(i) for i in range(w.branch_box.count())] == ["main", "branch 1"]
    assert "from main at step 4" in w.branch_box.itemText(1) and "NLL" in w.branch_box.itemText(1)
    # Switch back: the main branch is shown as it was; and forth again.
    w.branch_box.activated.emit(0)
    assert w.branch.name == "main" and w.trace.values.tolist() == main_values.tolist()
    assert shown(w, mode) == main_values.tolist()
    w.branch_box.activated.emit(1)
    assert w.trace.values.tolist() == branch_values.tolist() and shown(w, mode) == branch_values.tolist()
    w.close()


def test_the_panel_maps_a_click_position_to_the_bar_value(qtbot, all_models):
    w = open_window(qtbot, all_models)
    w.prompt_edit.setPlainText("to be")
    click(qtbot, w.step_button)
    qtbot.waitUntil(lambda: len(w.trace) == 1, timeout=10_000)
    rec = w.trace[0]
    assert w.panel.value_at(0.1) == rec.top_values[0] and w.panel.value_at(2.2) == rec.top_values[2]
    assert w.panel.value_at(-3) is None
    click(qtbot, w.stop_button)
    w.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_the_timeline_plots_every_step_and_scrubbing_shows_and_highlights_the_step(qtbot, all_models, mode):
    w = open_window(qtbot, all_models, mode)
    set_run_length(w, mode, text_steps=40, audio_samples=400)
    w.top_k.setValue(7)
    generate_and_wait(qtbot, w)
    n = len(w.trace)
    tl = w.timeline
    np.testing.assert_allclose(tl.values(), w.trace.column("entropy"), rtol=1e-6)
    tl.measure_box.setCurrentText("values kept by the sampler")
    assert tl.values().tolist() == [7.0] * n
    tl.measure_box.setCurrentText("running NLL (nats per step)")
    assert tl.values()[-1] == pytest.approx(w.trace.nll(), rel=1e-5)
    tl.slider.setValue(10)  # scrub
    assert w.shown_index == 10 and tl.position_label.text() == f"step 11 of {n}"
    view = w.views[mode]
    if mode == "text":
        assert w.panel.title.text().startswith("step 11:") and view.pane.highlighted == 10
    elif mode == "image":
        assert view.canvas.selected == (0, w.trace[10].position) and ", step 11:" in w.panel.title.text()
    else:
        assert view.cursor_line.value() == pytest.approx(w.trace[10].position / 8000)
    w.close()


def test_the_timelines_step_axis_spans_the_whole_run_from_its_first_step(qtbot, all_models):
    """The curve grows into a fixed axis: no relayout of the axes as a run starts and grows."""
    w = open_window(qtbot, all_models, "image")
    step_times(qtbot, w, 1)  # a run of 784 pixels, paused after its first
    x_range = w.timeline.plot.getPlotItem().vb.viewRange()[0]
    assert x_range[0] <= 0 and 785 <= x_range[1] < 800
    click(qtbot, w.stop_button)
    w.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_an_exported_trace_opens_in_a_new_window_and_replays_exactly(qtbot, all_models, mode, tmp_path):
    w = open_window(qtbot, all_models, mode)
    set_run_length(w, mode, text_steps=30, audio_samples=32)
    w.temperature.setValue(1.4)
    step_times(qtbot, w, 10)  # ten steps at 1.4, then the rest at 0.6 with top-k 5: the settings vary per step
    w.temperature.setValue(0.6)
    w.top_k.setValue(5)
    w.show_step(4)
    w.panel.value_clicked.emit(int(w.trace[4].top_values[1]))  # a branch: a forced value at step 5
    qtbot.waitUntil(lambda: len(w.trace) == 5, timeout=10_000)
    click(qtbot, w.pause_button)
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == w.n_steps, timeout=20_000)
    path = tmp_path / "run.trace.json"
    assert w.export_trace(str(path))
    values = w.trace.values.copy()
    w.close()

    other = open_window(qtbot, all_models)
    assert other.open_trace(str(path))
    qtbot.waitUntil(lambda: not other.is_running() and len(other.trace) == len(values), timeout=30_000)
    assert other.mode_box.currentData() == mode and other.branch.name == "branch 1"
    assert "branch 1 (from main, not open here, at step 5: " in other.branch_box.currentText()  # main stayed behind
    np.testing.assert_array_equal(other.trace.values, values)
    assert "identical to the trace" in other.state_label.text()
    assert shown(other, mode) == values.tolist()
    other.close()


def test_opening_a_file_that_is_not_a_trace_says_so_and_changes_nothing(qtbot, all_models, tmp_path):
    w = open_window(qtbot, all_models)
    bad = tmp_path / "notes.json"
    bad.write_text("[1, 2, 3]")
    assert not w.open_trace(str(bad))
    assert "not an arplayground trace" in w.state_label.text() and w.branch is None
    w.close()


def test_the_timeline_replays_the_steps_at_the_display_speed_whatever_the_compute_speed(qtbot, all_models):
    w = open_window(qtbot, all_models)
    w.prompt_edit.setPlainText("to be")
    w.length_spin.setValue(40)
    generate_and_wait(qtbot, w)  # computed at full speed
    assert len(w.trace) == 40
    tl = w.timeline
    tl.display_speed.setCurrentIndex(tl.display_speed.findData(500))
    seen = []
    tl.scrubbed.connect(seen.append)
    tl.play_button.setChecked(True)  # from the end: starts over at step 1
    qtbot.waitUntil(lambda: not tl.play_button.isChecked(), timeout=10_000)
    assert seen[0] == 0 and seen[-1] == 39 and seen == sorted(seen) and len(seen) > 5
    assert w.shown_index == 39 and w.text_pane.highlighted == 39
    w.close()
