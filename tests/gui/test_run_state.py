"""The run the window shows stays consistent when the user changes what is around it: edits the
canvas, opens a recording, stops a replay, renames branches, switches model."""

import json

import numpy as np
from PySide6.QtCore import Qt

from arplayground.audio.wav import write_wav
from arplayground.gui.main_window import MainWindow
from tests.conftest import write_tiny_gpt
from tests.gui.helpers import click, generate_and_wait, open_window, pixel_centre, set_run_length, step_times


def assert_no_run(w):
    assert w.branch is None and len(w.trace) == 0 and w.branch_box.count() == 0
    assert not w.pause_button.isEnabled() and not w.back_button.isEnabled()
    assert not w.export_trace_button.isEnabled()


def test_stop_offers_resume_and_drawing_on_the_stopped_image_forgets_its_run(qtbot, all_models):
    w = open_window(qtbot, all_models, "image")
    step_times(qtbot, w, 5)
    click(qtbot, w.stop_button)
    assert w.pause_button.isEnabled() and w.pause_button.text() == "Resume"  # one click resumes
    canvas = w.views["image"].canvas
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pixel_centre(canvas, 300))
    assert canvas.known == 784 and canvas.image[10, 20] == 255
    assert_no_run(w)  # the stopped run is not continued into the drawing
    click(qtbot, w.step_button)  # a new run, from nothing kept (0 rows), paused after one pixel
    qtbot.waitUntil(lambda: len(w.trace) == 1, timeout=10_000)
    assert w.trace[0].position == 0 and canvas.known == 1
    click(qtbot, w.stop_button)
    w.close()


def test_a_grid_cannot_be_exported_and_clearing_it_leaves_nothing_to_inspect(qtbot, all_models):
    w = open_window(qtbot, all_models, "image")
    view = w.views["image"]
    view.grid_box.setCurrentIndex(view.grid_box.findText("2 x 2"))
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 4 * 784
    assert not w.export_trace_button.isEnabled()
    assert not w.export_trace("unused.json") and "grid is not exported" in w.state_label.text()
    click(qtbot, view.clear_button)
    assert len(view.canvas.images) == 1
    assert_no_run(w)
    title = w.panel.title.text()
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(view.canvas, 100))
    assert w.panel.title.text() == title and w.shown_index is None  # the old run's pixel is not shown
    w.close()


def test_a_trace_with_a_grids_condition_is_refused_and_changes_nothing(qtbot, all_models, tmp_path):
    w = open_window(qtbot, all_models, "image")
    generate_and_wait(qtbot, w)
    path = tmp_path / "one.trace.json"
    assert w.export_trace(str(path))
    doc = json.loads(path.read_text())
    doc["condition"] = [1, 2, 3, 4]
    path.write_text(json.dumps(doc))
    w.mode_box.setCurrentIndex(w.mode_box.findData("text"))
    set_run_length(w, "text", text_steps=10, audio_samples=0)
    generate_and_wait(qtbot, w)
    before = w.trace.values.copy()
    assert not w.open_trace(str(path))
    assert "condition [1, 2, 3, 4] is not a digit, a (digit, speaker) pair or none" in w.state_label.text()
    assert w.mode_box.currentData() == "text" and w.branch is not None
    np.testing.assert_array_equal(w.trace.values, before)
    w.close()


def test_a_stopped_replay_does_not_judge_the_next_run(qtbot, all_models, tmp_path):
    w = open_window(qtbot, all_models)
    set_run_length(w, "text", text_steps=30, audio_samples=0)
    generate_and_wait(qtbot, w)
    path = tmp_path / "run.trace.json"
    assert w.export_trace(str(path))
    assert w.open_trace(str(path))
    w.stop()  # before its first batch arrives
    w.length_spin.setValue(12)
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 12 and w.state_label.text() == "Done: 12 steps"
    w.close()


def test_opening_a_recording_after_stop_forgets_the_stopped_run(qtbot, all_models, tmp_path):
    w = open_window(qtbot, all_models, "audio")
    view = w.views["audio"]
    view.play_live.setChecked(False)
    set_run_length(w, "audio", text_steps=0, audio_samples=64)
    step_times(qtbot, w, 3)
    click(qtbot, w.stop_button)
    assert w.resumable
    path = tmp_path / "tone.wav"
    write_wav(path, 0.2 * np.sin(np.arange(800) / 5))  # 0.1 s at 8 kHz, mono
    assert view.open_wav(str(path))
    opened = view.levels.copy()
    assert_no_run(w)
    assert not w.resumable
    click(qtbot, w.pause_button)  # disabled: nothing of the old run is written over the recording
    np.testing.assert_array_equal(view.levels, opened)
    w.close()


def test_a_new_branch_never_takes_a_name_the_user_gave(qtbot, all_models):
    w = open_window(qtbot, all_models)
    set_run_length(w, "text", text_steps=12, audio_samples=0)
    generate_and_wait(qtbot, w)
    w.show_step(3)
    w.panel.value_clicked.emit(int(w.trace[3].top_values[2]))
    qtbot.waitUntil(lambda: len(w.trace) == 4, timeout=10_000)
    assert w.branch.name == "branch 1" and w.rename_branch("branch 2")
    click(qtbot, w.stop_button)
    w.branch_box.activated.emit(w.branch_box.findData("main"))
    w.show_step(5)
    w.panel.value_clicked.emit(int(w.trace[5].top_values[2]))
    qtbot.waitUntil(lambda: len(w.trace) == 6, timeout=10_000)
    click(qtbot, w.stop_button)
    assert sorted(w.branches) == ["branch 1", "branch 2", "main"]
    assert w.branches["branch 2"].fork_step == 3 and w.branches["branch 1"].fork_step == 5
    w.close()


def test_choosing_another_model_keeps_the_shown_run_inspectable(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    w = open_window(qtbot, all_models, "text")
    set_run_length(w, "text", text_steps=10, audio_samples=0)
    generate_and_wait(qtbot, w)
    w.model_box.setCurrentIndex(1 - w.model_box.currentIndex())  # the other of the two
    w.show_step(2)
    assert w.panel.title.text().startswith("step 3")
    w.close()


def test_switching_mode_and_back_keeps_the_model_chosen_in_that_mode(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    w = open_window(qtbot, all_models, "text")
    first = w.model_box.currentIndex()
    w.model_box.setCurrentIndex(1 - first)  # the other of the two
    chosen = w.model_box.currentText()
    w.mode_box.setCurrentIndex(w.mode_box.findData("image"))
    w.mode_box.setCurrentIndex(w.mode_box.findData("text"))
    assert w.model_box.currentIndex() == 1 - first and w.model_box.currentText() == chosen  # not the first listed again
    w.close()


def test_mode_from_the_command_line_comes_before_its_settings(qtbot, all_models):
    w = MainWindow(all_models, {"mode": "image", "top_k": 100})  # more than the text model's vocabulary
    qtbot.addWidget(w)
    assert w.mode_box.currentData() == "image"
    assert w.top_k.value() == 100 and w.settings_note.isHidden()
    w.close()
