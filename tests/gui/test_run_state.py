"""The run the window shows stays consistent when the user changes what is around it: edits the
canvas, opens a recording, stops a replay, renames branches, switches model or mode, steps back,
chooses a branch; and what the status line, figures and timeline then say."""

import json

import numpy as np

from arplayground.audio.wav import write_wav
from tests.conftest import write_tiny_gpt
from tests.gui.driver import WindowDriver


def assert_no_run(d):
    assert not d.has_run() and d.steps() == 0 and d.branch_lines() == []
    assert not d.can("pause") and not d.can("back")
    assert not d.can("export")


def test_stop_offers_resume_and_drawing_on_the_stopped_image_forgets_its_run(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.step_times(5)
    d.click_stop()
    assert d.can_resume()  # one click resumes
    canvas = d.view().canvas
    d.draw_pixel(300)
    assert canvas.known == 784 and canvas.image[10, 20] == 255
    assert_no_run(d)  # the stopped run is not continued into the drawing
    d.click_step()  # a new run, from nothing kept (0 rows), paused after one pixel
    d.wait_for_steps(1)
    assert d.record(0).position == 0 and canvas.known == 1
    d.click_stop()
    d.close()


def test_clearing_a_grid_leaves_nothing_to_inspect(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    view = d.view()
    d.choose_grid("2 x 2")
    d.generate_and_wait()
    assert d.steps() == 4 * 784
    assert d.can("export")  # a grid is exported as lanes (tests/gui/test_trace_files.py)
    d.click(view.clear_button)
    assert len(view.canvas.images) == 1
    assert_no_run(d)
    title = d.panel_title()
    d.click_pixel(100)
    assert d.panel_title() == title and d.shown_step() is None  # the old run's pixel is not shown
    d.close()


def test_a_trace_with_a_grids_condition_is_refused_and_changes_nothing(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.generate_and_wait()
    path = tmp_path / "one.trace.json"
    assert d.export_trace(path)
    doc = json.loads(path.read_text())
    doc["condition"] = [1, 2, 3, 4]
    path.write_text(json.dumps(doc))
    d.choose_mode("text")
    d.set_run_length(text_steps=10)
    d.generate_and_wait()
    before = d.values()
    assert not d.open_trace(path)
    assert "condition [1, 2, 3, 4] is not a digit, a (digit, speaker) pair or none" in d.status()
    assert d.mode == "text" and d.has_run()
    np.testing.assert_array_equal(d.values(), before)
    d.close()


def test_a_stopped_replay_does_not_judge_the_next_run(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models)
    d.set_run_length(text_steps=30)
    d.generate_and_wait()
    path = tmp_path / "run.trace.json"
    assert d.export_trace(path)
    assert d.open_trace(path)
    d.click_stop()  # before its first batch arrives (a click runs no queued events)
    d.set_length(12)
    d.generate_and_wait()
    assert d.steps() == 12 and d.status() == "Done: 12 steps"
    d.close()


def test_opening_a_recording_after_stop_forgets_the_stopped_run(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "audio")
    view = d.view()
    view.play_live.setChecked(False)
    d.set_run_length(audio_samples=64)
    d.step_times(3)
    d.click_stop()
    assert d.can_resume()
    path = tmp_path / "tone.wav"
    write_wav(path, 0.2 * np.sin(np.arange(800) / 5))  # 0.1 s at 8 kHz, mono
    assert view.open_wav(str(path))
    opened = view.levels.copy()
    assert_no_run(d)
    assert not d.can_resume()
    d.click_pause()  # disabled: nothing of the old run is written over the recording
    np.testing.assert_array_equal(view.levels, opened)
    d.close()


def test_a_new_branch_never_takes_a_name_the_user_gave(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models)
    d.set_run_length(text_steps=12)
    d.generate_and_wait()
    d.show_step(3)
    d.click_bar(d.bar_values()[2])
    d.wait_for_steps(4)
    assert d.branch_name() == "branch 1" and d.rename_branch("branch 2")
    d.click_stop()
    d.choose_branch("main")
    d.show_step(5)
    d.click_bar(d.bar_values()[2])
    d.wait_for_steps(6)
    d.click_stop()
    assert sorted(d.branch_names()) == ["branch 1", "branch 2", "main"]
    assert d.branch_family("branch 2")[1] == 3 and d.branch_family("branch 1")[1] == 5
    d.close()


def test_choosing_another_model_keeps_the_shown_run_inspectable(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=10)
    d.generate_and_wait()
    d.choose_model(next(line for line in d.models() if line != d.model()))  # the other of the two
    d.show_step(2)
    assert d.panel_title().startswith("step 3")
    d.close()


def test_switching_mode_and_back_keeps_the_model_chosen_in_that_mode(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    d = WindowDriver.open(qtbot, all_models, "text")
    first = d.model()
    chosen = next(line for line in d.models() if line != first)  # the other of the two
    d.choose_model(chosen)
    d.choose_mode("image")
    d.choose_mode("text")
    assert d.model() == chosen  # not the first listed again
    d.close()


def test_mode_from_the_command_line_comes_before_its_settings(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, initial={"mode": "image", "top_k": 100}, show=False)  # more than the text model's vocabulary
    assert d.mode == "image"
    assert d.slider("top_k") == 100 and d.sampler_note() is None
    d.close()


# ---------------------------------------------------------------- what the window says after a move


def test_switching_mode_mid_run_says_the_run_stopped_and_clears_its_step(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=500)
    d.set_speed(10)  # 10 steps a second: still running when the mode changes
    d.click_generate()
    d.wait_for_at_least(2, timeout=20_000)
    assert "drew" in d.panel_title()
    d.choose_mode("image")
    d.wait_until_stopped(timeout=5_000)
    assert d.status() == "Stopped: the run shown was replaced"  # not "Generating…" for ever
    assert d.panel_title().startswith("No step yet")  # no text step shown over the image mode
    assert d.timeline_position() == "no steps" and d.figures() == ""
    d.close()


def test_switching_mode_after_a_finished_run_leaves_a_ready_window(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=20)
    d.generate_and_wait()
    assert d.status() == "Done: 20 steps" and "step 20 of 20" == d.timeline_position()
    d.choose_mode("audio")
    assert d.status() == "Ready" and d.panel_title().startswith("No step yet")
    assert d.timeline_position() == "no steps"
    d.close()


def test_the_status_figures_follow_back_and_the_chosen_branch(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=12)
    d.step_times(6)
    assert d.figures().startswith("step 6 / 12")
    d.click_back(2)
    assert d.figures().startswith("step 4 / 12")
    assert f"NLL {d.nll():.3f}" in d.figures()
    d.show_step(1)
    d.force_value(1, d.bar_values()[1])  # branch 1, forced at step 2
    d.resume_to_the_end()  # Resume branch 1 to the end
    assert d.figures().startswith("step 12 / 12")
    d.choose_branch("main")  # back to main: 4 steps
    assert d.branch_name() == "main" and d.figures().startswith("step 4 / 12")
    d.close()


def test_an_unfinished_branch_chosen_from_the_list_resumes_with_one_click(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=12)
    d.step_times(5)
    d.show_step(2)
    d.force_value(2, d.bar_values()[1])
    d.resume_to_the_end()
    d.choose_branch("main")  # 5 of 12 steps
    assert d.can_resume()
    d.resume_to_the_end()  # one click
    assert d.branch_name() == "main"
    d.close()


def test_a_new_run_clears_the_last_ones_step_and_figures_until_its_own_first_step(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=20)
    d.generate_and_wait()
    assert "step 20 / 20" in d.figures()
    d.start_paused_run()  # a new run with no step yet (as when Stop beats its first step)
    assert d.figures() == ""
    assert d.timeline_position() == "no steps" and d.timeline_cursor() == 0
    d.wait_until(lambda: d.panel_title() == "No step yet: the run is starting.", timeout=2_000)  # once late
    d.click_stop()
    assert d.status() == "Stopped after 0 steps"
    assert d.panel_title() == "No step: the run stopped before its first one."
    assert d.timeline_position() == "no steps"  # was "step 0 of 0" ("image 9" for a 3 x 3 grid)
    d.close()


def test_the_window_fits_a_laptop_screen_768_pixels_high(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    for mode in ("text", "image", "audio"):
        d.choose_mode(mode)
        # 768 less a title bar and a panel: the window's smallest height must leave room for both
        assert d.window.minimumSizeHint().height() <= 700, mode
    d.close()
