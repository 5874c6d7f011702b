"""What the window says after the user moves around a run: switching mode, stepping back, choosing
a branch, forcing a value, opening a trace, comparing A/B, a broken model of another mode."""

import shutil

import numpy as np

from tests.gui.helpers import click, force_value, generate_and_wait, open_window, set_run_length, step_times


def test_switching_mode_mid_run_says_the_run_stopped_and_clears_its_step(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=500, audio_samples=0)
    w.speed_slider.setValue(3)  # 10 steps a second: still running when the mode changes
    click(qtbot, w.generate_button)
    qtbot.waitUntil(lambda: len(w.trace) >= 2, timeout=20_000)
    assert "drew" in w.panel.title.text()
    w.mode_box.setCurrentIndex(w.mode_box.findData("image"))
    qtbot.waitUntil(lambda: not w.is_running(), timeout=5_000)
    assert w.state_label.text() == "Stopped: the run shown was replaced"  # not "Generating…" for ever
    assert w.panel.title.text().startswith("No step yet")  # no text step shown over the image mode
    assert w.timeline.position_label.text() == "no steps" and w.stats_label.text() == ""
    w.close()


def test_switching_mode_after_a_finished_run_leaves_a_ready_window(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=20, audio_samples=0)
    generate_and_wait(qtbot, w)
    assert w.state_label.text() == "Done: 20 steps" and "step 20 of 20" == w.timeline.position_label.text()
    w.mode_box.setCurrentIndex(w.mode_box.findData("audio"))
    assert w.state_label.text() == "Ready" and w.panel.title.text().startswith("No step yet")
    assert w.timeline.position_label.text() == "no steps"
    w.close()


def test_a_forced_step_shows_what_its_uniform_number_would_have_drawn(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    step_times(qtbot, w, 6)
    drawn = int(w.trace[3].value)
    forced = int(w.trace[3].top_values[2])
    force_value(qtbot, w, 3, forced)  # branch: force another candidate at step 4
    assert w.trace[3].value == forced
    qtbot.waitUntil(lambda: "branch 1 (from main at step 4" in w.branch_box.currentText(), timeout=5_000)
    assert "· 4 steps ·" in w.branch_box.currentText()  # the forced step counted as it arrives
    w.show_step(3)
    st = w.what_if(3)
    # Same settings and the same u as the draw the force replaced: u picks what was drawn then.
    assert st.would_draw == drawn != forced
    assert "the same value" not in w.panel.what_if_label.text()
    w.show_step(2)  # an ordinary step of the same branch still reports its own draw
    assert w.what_if(2).would_draw == w.trace[2].value
    click(qtbot, w.stop_button)
    w.close()


def test_the_status_figures_follow_back_and_the_chosen_branch(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    step_times(qtbot, w, 6)
    assert w.stats_label.text().startswith("step 6 / 12")
    click(qtbot, w.back_button)
    click(qtbot, w.back_button)
    assert w.stats_label.text().startswith("step 4 / 12")
    assert f"NLL {w.trace.nll():.3f}" in w.stats_label.text()
    force_value(qtbot, w, 1, int(w.trace[1].top_values[1]))  # branch 1, forced at step 2
    click(qtbot, w.pause_button)  # Resume branch 1 to the end
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == 12, timeout=20_000)
    assert w.stats_label.text().startswith("step 12 / 12")
    w.branch_box.activated.emit(0)  # back to main: 4 steps
    assert w.branch.name == "main" and w.stats_label.text().startswith("step 4 / 12")
    w.close()


def test_an_unfinished_branch_chosen_from_the_list_resumes_with_one_click(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    step_times(qtbot, w, 5)
    force_value(qtbot, w, 2, int(w.trace[2].top_values[1]))
    click(qtbot, w.pause_button)
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == 12, timeout=20_000)
    w.branch_box.activated.emit(0)  # main, 5 of 12 steps
    assert w.pause_button.text() == "Resume" and w.pause_button.isEnabled()
    click(qtbot, w.pause_button)  # one click
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == 12, timeout=20_000)
    assert w.branch.name == "main"
    w.close()


def test_ab_side_a_starts_with_the_settings_the_run_drew_with(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    w.temperature.setValue(1.4)
    w.top_k.setValue(7)
    generate_and_wait(qtbot, w)
    w.temperature.setValue(0.3)  # moved after the run
    w.show_step(4)
    ab = w.open_ab()
    assert ab.a.settings().temperature == 1.4 and ab.a.settings().top_k == 7
    assert ab.b.settings().temperature == 0.3 and ab.b.settings().top_k == 7  # B: the sliders, being explored
    ab.close()
    w.temperature.setValue(1.4)  # sliders back at the run's: B takes another temperature
    ab = w.open_ab()
    assert ab.a.settings().temperature == 1.4 and ab.b.settings().temperature == 0.6
    ab.close()
    w.close()


def test_opening_a_trace_sets_the_sliders_to_its_settings(qtbot, all_models, tmp_path):
    w = open_window(qtbot, all_models, "image")
    digits = w.views["image"].digit_box
    digits.setCurrentIndex(digits.findData(3))  # a digit, so guidance acts and is recorded
    w.temperature.setValue(0.8)
    w.top_k.setValue(20)
    w.guidance.setValue(1.5)
    step_times(qtbot, w, 3)
    click(qtbot, w.stop_button)
    path = tmp_path / "run.trace.json"
    assert w.export_trace(str(path))
    w.close()
    other = open_window(qtbot, all_models, "text")
    assert other.open_trace(str(path))
    qtbot.waitUntil(lambda: not other.is_running() and len(other.trace) == 3, timeout=30_000)
    s = other.settings()
    assert (s.temperature, s.top_k, s.guidance) == (0.8, 20, 1.5)  # Resume and A/B go on as the file did
    other.close()


def test_the_model_picker_lists_only_this_modes_models_broken_ones_included(qtbot, all_models, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(all_models, folder)
    for weights in folder.glob("tiny-wavenet*.safetensors"):
        weights.write_bytes(b"not safetensors")
    w = open_window(qtbot, folder, "image")
    image_items = [w.model_box.itemText(i) for i in range(w.model_box.count())]
    assert not any("wavenet" in t for t in image_items) and any("pixelcnn" in t for t in image_items)
    assert w.current_entry().mode == "image" and w.current_entry().available
    w.mode_box.setCurrentIndex(w.mode_box.findData("audio"))
    audio_items = [w.model_box.itemText(i) for i in range(w.model_box.count())]
    assert audio_items and all("(unavailable)" in t and "wavenet" in t for t in audio_items)
    assert not np.any([("pixelcnn" in t or "gpt" in t) for t in audio_items])
    w.close()


def test_a_forced_step_is_titled_forced_and_a_drawn_one_drew(qtbot, all_models):
    w = open_window(qtbot, all_models, "image")
    step_times(qtbot, w, 5)
    w.show_step(2)
    assert ": drew grey level" in w.panel.title.text()
    forced = (int(w.trace[2].value) + 128) % 256
    force_value(qtbot, w, 2, forced)
    w.show_step(2)
    assert f": forced grey level {forced} " in w.panel.title.text()
    w.show_step(1)
    assert ": drew grey level" in w.panel.title.text()
    click(qtbot, w.stop_button)
    w.close()


def test_a_grid_counts_steps_per_image_and_says_why_the_lab_is_off(qtbot, all_models):
    w = open_window(qtbot, all_models, "image")
    view = w.views["image"]
    view.grid_box.setCurrentIndex(view.grid_box.findText("2 x 2"))
    generate_and_wait(qtbot, w)
    assert w.stats_label.text().startswith("step 784 / 784 in each of 4 images")
    assert w.state_label.text() == "Done: 784 steps in each of 4 images"  # not 3,136 interleaved steps
    assert not w.export_trace_button.isEnabled() and "single run" in w.export_trace_button.toolTip()
    assert "single run" in w.back_button.toolTip() and "single run" in w.ab_button.toolTip()
    view.grid_box.setCurrentIndex(0)  # one image: the buttons' own tips again
    step_times(qtbot, w, 1)
    assert w.state_label.text() in ("Paused", "Done: 1 step") and "single run" not in w.back_button.toolTip()
    click(qtbot, w.stop_button)
    assert w.state_label.text() == "Stopped after 1 step"  # one step, not "1 steps"
    w.close()


def test_a_grids_timeline_counts_steps_per_image_and_plots_the_images_mean(qtbot, all_models):
    w = open_window(qtbot, all_models, "image")
    view = w.views["image"]
    view.grid_box.setCurrentIndex(view.grid_box.findText("2 x 2"))
    generate_and_wait(qtbot, w)
    timeline = w.timeline
    entropy = w.trace.column("entropy").reshape(784, 4)  # step-major: record i is image i % 4
    np.testing.assert_allclose(timeline.values(), entropy.mean(axis=1), rtol=1e-6)  # 784 points, not 3,136
    title = timeline.plot.getPlotItem().titleLabel
    assert title.isVisible() and "mean of the 4 images" in title.text
    assert timeline.position_label.text() == "step 784 of 784, image 4"
    timeline.slider.setValue(100 * 4 + 2)  # step 101 of image 3
    assert timeline.position_label.text() == "step 101 of 784, image 3" and timeline.cursor.value() == 101
    assert "image 3 " in w.panel.title.text() and "step 101 of 784" in w.panel.title.text()
    timeline.display_speed.setCurrentIndex(timeline.display_speed.count() - 1)
    click(qtbot, timeline.play_button)  # plays image 3 to its end, not the interleaved records
    qtbot.waitUntil(lambda: not timeline.play_button.isChecked(), timeout=10_000)
    assert timeline.position_label.text() == "step 784 of 784, image 3" and timeline.slider.value() == 783 * 4 + 2
    timeline.measure_box.setCurrentText("running NLL (nats per step)")  # each image's own running mean
    surprisal = -np.log(w.trace.column("prob").astype(np.float64).reshape(784, 4))
    each = np.cumsum(surprisal, axis=0) / np.arange(1, 785)[:, None]
    np.testing.assert_allclose(timeline.values(), each.mean(axis=1), rtol=1e-6)
    view.grid_box.setCurrentIndex(0)  # one image: a step is a point again, and no title
    generate_and_wait(qtbot, w)
    assert len(timeline.values()) == 784 and timeline.position_label.text() == "step 784 of 784"
    assert not title.isVisible()
    w.close()


def test_a_new_run_clears_the_last_ones_step_and_figures_until_its_own_first_step(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=20, audio_samples=0)
    generate_and_wait(qtbot, w)
    assert "step 20 / 20" in w.stats_label.text()
    w.generate(paused=True)  # a new run with no step yet (as when Stop beats its first step)
    assert w.stats_label.text() == ""
    assert w.timeline.position_label.text() == "no steps" and w.timeline.cursor.value() == 0
    qtbot.waitUntil(lambda: w.panel.title.text() == "No step yet: the run is starting.", timeout=2_000)  # once late
    click(qtbot, w.stop_button)
    assert w.state_label.text() == "Stopped after 0 steps"
    assert w.panel.title.text() == "No step: the run stopped before its first one."
    assert w.timeline.position_label.text() == "no steps"  # was "step 0 of 0" ("image 9" for a 3 x 3 grid)
    w.close()


def test_back_updates_the_branch_lists_length_and_nll(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    generate_and_wait(qtbot, w)
    assert w.branch_box.currentText().startswith("main · 12 steps · NLL ")
    click(qtbot, w.back_button)
    click(qtbot, w.back_button)
    assert w.branch_box.currentText() == f"main · 10 steps · NLL {w.trace.nll():.3f}"
    w.close()


def test_the_window_fits_a_laptop_screen_768_pixels_high(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    for mode in ("text", "image", "audio"):
        w.mode_box.setCurrentIndex(w.mode_box.findData(mode))
        # 768 less a title bar and a panel: the window's smallest height must leave room for both
        assert w.minimumSizeHint().height() <= 700, mode
    w.close()


def test_an_empty_timeline_has_no_negative_steps(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    low, high = w.timeline.plot.getPlotItem().vb.viewRange()[0]
    assert low >= -0.1 and high >= 1  # was -0.4 .. 0.4: an auto range around no steps
    assert w.timeline.position_label.text() == "no steps"
    w.close()


def test_ab_from_before_a_forced_step_keeps_it_on_both_sides(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    step_times(qtbot, w, 6)
    forced = int(w.trace[4].top_values[2])
    force_value(qtbot, w, 4, forced)  # branch 1: step 5 forced
    click(qtbot, w.pause_button)
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == 12, timeout=20_000)
    branch = w.trace.values.copy()
    w.show_step(1)  # A/B from step 2, before the fork
    ab = w.open_ab()
    click(qtbot, ab.run_button)
    qtbot.waitUntil(lambda: not ab.is_running() and ab.run_button.isEnabled(), timeout=30_000)
    np.testing.assert_array_equal(ab.a.trace.values, branch[1:])  # side A is the branch, forced step included
    assert ab.b.trace.values[3] == forced
    ab.close()
    w.close()
