"""The menu bar and the shortcuts in the real window: each key does its job, a focused field keeps
the keys it uses, each menu item does what its button does and is greyed out when the button is,
recent files, Help's lists."""

import pytest
from PySide6.QtCore import Qt

from arplayground.gui.menus import SHORTCUTS
from tests.gui.driver import WindowDriver

CTRL = Qt.KeyboardModifier.ControlModifier
SPACE, LEFT_KEY, RIGHT_KEY, ESC = Qt.Key.Key_Space, Qt.Key.Key_Left, Qt.Key.Key_Right, Qt.Key.Key_Escape


def slow_text_run(qtbot, folder) -> WindowDriver:
    """The window in Text mode, a 200-character run at 2 steps a second: long enough to act on while it goes."""
    d = WindowDriver.open(qtbot, folder, "text")
    d.set_prompt("to be")
    d.set_length(200)
    d.set_speed(2)
    d.focus(d.window.generate_button)  # the focus where a person's mouse left it: on a button
    return d


def text_run(qtbot, folder, steps: int) -> WindowDriver:
    """The window in Text mode after a run of `steps` characters from "to be"."""
    d = WindowDriver.open(qtbot, folder, "text")
    d.set_prompt("to be")
    d.set_length(steps)
    d.generate_and_wait()
    return d


def test_space_generates_pauses_and_resumes_esc_stops(qtbot, tiny_models):
    d = slow_text_run(qtbot, tiny_models)
    d.press_key(SPACE)
    assert d.running() and not d.paused()
    d.wait_for_at_least(1)
    d.press_key(SPACE)
    assert d.paused() and d.pause_label() == "Resume"
    d.press_key(SPACE)
    assert not d.paused() and d.running()
    d.press_key(ESC)
    d.wait_until_stopped()
    assert not d.running() and d.status().startswith("Stopped after")
    d.close()


def test_right_steps_and_left_steps_back(qtbot, tiny_models):
    d = slow_text_run(qtbot, tiny_models)
    d.press_key(RIGHT_KEY)  # nothing going: a new run, paused, one step
    d.wait_for_steps(1)
    d.press_key(RIGHT_KEY)
    d.wait_for_steps(2)
    assert d.paused()
    second = int(d.values()[1])
    d.press_key(LEFT_KEY)
    d.wait_for_steps(1)
    d.press_key(RIGHT_KEY)  # the same step again: the same random number, the same value
    d.wait_for_steps(2)
    assert int(d.values()[1]) == second
    d.halt()
    d.close()


def test_ctrl_return_generates_ctrl_s_saves_ctrl_e_exports(qtbot, tiny_models, tmp_path):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("to be")
    d.set_length(6)
    d.focus(d.window.prompt_edit)  # Ctrl+Return is Generate from the prompt too
    d.press_key(Qt.Key.Key_Return, CTRL)
    d.wait_until_done()
    assert d.steps() == 6 and d.prompt() == "to be"
    d.save_with_key(tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text(encoding="utf-8") == "to be" + d.generated_text()
    d.export_with_key(tmp_path / "run.trace.json")
    assert (tmp_path / "run.trace.json").is_file() and d.status().startswith("Exported ")
    d.close()


def test_space_left_and_right_stay_in_the_prompt_and_move_nothing(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("to")
    prompt = d.window.prompt_edit
    d.focus(prompt)
    prompt.moveCursor(prompt.textCursor().MoveOperation.End)
    d.press_key(SPACE)
    assert d.prompt() == "to " and not d.running() and not d.has_run()
    d.press_key(LEFT_KEY)
    d.press_key(LEFT_KEY)
    assert prompt.textCursor().position() == 1
    d.press_key(RIGHT_KEY)
    assert prompt.textCursor().position() == 2 and not d.running() and not d.has_run()
    d.close()


def test_sliders_spin_boxes_and_combos_keep_their_keys(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("to be")
    d.set_length(50)
    d.set_speed(2)
    d.press("step")  # a paused run of one step: Left would take it back, Right would add one
    d.wait_for_steps(1)
    slider = d.window.speed_slider
    notch = slider.value()
    d.press_key(RIGHT_KEY, widget=slider)
    assert slider.value() == notch + 1
    d.press_key(LEFT_KEY)
    d.press_key(LEFT_KEY)
    assert slider.value() == notch - 1
    spin = d.window.length_spin
    d.press_key(RIGHT_KEY, widget=spin)
    d.press_key(LEFT_KEY)
    d.qtbot.wait(50)
    assert d.steps() == 1  # neither stepped nor went back
    box = d.window.mode_box
    d.press_key(SPACE, widget=box)  # Space opens the combo's list, and does not resume the run
    box.hidePopup()
    assert d.paused() and d.steps() == 1
    d.press_key(RIGHT_KEY, widget=d.window.generate_button)  # on a button the key is the shortcut's
    d.wait_for_steps(2)
    d.halt()
    d.close()


def test_menu_items_follow_their_buttons(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "text")
    assert d.menus() == ["File", "View", "Run", "Model", "Help"]
    for action, button in (("export", "export"), ("back", "back"), ("stop", "stop"), ("generate", "generate"),
                           ("step", "step"), ("open_trace", "open")):
        assert d.menu_enabled(action) == d.can(button), action
    assert not d.menu_enabled("export") and not d.menu_enabled("open_file")  # no run yet; Text opens no file
    d.set_prompt("to be")
    d.set_length(5)
    d.choose_menu("generate")
    d.wait_until_done()
    assert d.steps() == 5
    assert d.menu_enabled("export") and d.can("export")
    assert d.menu_enabled("back") == d.can("back")
    d.choose_menu("mode_image")  # View's modes are the Mode box's
    assert d.mode == "image" and d.menu_action("mode_image").isChecked()
    assert d.menu_enabled("open_file") and d.menu_enabled("save")
    d.choose_mode("audio")
    assert d.menu_action("mode_audio").isChecked() and not d.menu_action("mode_text").isChecked()
    d.choose_mode("text")
    assert not d.menu_enabled("open_file")
    d.choose_menu("sees")  # View > What it sees is the button, checked with it
    assert d.window.sees_button.isChecked() and d.menu_action("sees").isChecked()
    d.click(d.window.sees_button)
    assert not d.menu_action("sees").isChecked()
    d.close()


def test_file_menu_exports_and_opens_a_trace_and_saves_a_picture(qtbot, all_models, tmp_path):
    d = text_run(qtbot, all_models, 5)
    with d._dialog("getSaveFileName", tmp_path / "t.trace.json"):
        d.choose_menu("export")
    assert (tmp_path / "t.trace.json").is_file()
    values = list(d.values())
    d.set_prompt("other")
    with d._dialog("getOpenFileName", tmp_path / "t.trace.json"):
        d.choose_menu("open_trace")
    assert d.status().startswith("Opened ")  # shown at once, nothing re-computed
    d.wait_until_stopped()
    assert list(d.values()) == values
    d.choose_mode("image")
    with d._dialog("getSaveFileName", tmp_path / "blank.png"):
        d.choose_menu("save")
    assert (tmp_path / "blank.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    d.close()


def test_buttons_name_their_keys_and_help_lists_every_shortcut(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    assert d.tooltip("step").endswith("(Right)") and d.tooltip("back").endswith("(Left)")
    assert d.tooltip("stop").endswith("(Esc)") and d.tooltip("export").endswith("(Ctrl+E)")
    assert d.tooltip("generate") == "Generate (Space, Ctrl+Return)" and d.tooltip("pause").endswith("(Space)")
    for mode in ("text", "image", "audio"):
        assert d.view(mode).save_button.toolTip().endswith("(Ctrl+S)")
    d.set_prompt("to be")
    d.set_length(3)
    d.generate_and_wait()
    assert d.tooltip("back").endswith("(Left)")  # the window's own refresh of the lab tips keeps the key
    assert d.menu_action("step").shortcut().toString() == "Right"
    d.choose_menu("shortcuts")
    rows = d.dialog("shortcuts").rows
    assert rows == [(s.keys, s.does) for s in SHORTCUTS]
    assert {"Space", "Right", "Left", "Esc", "Ctrl+S", "Ctrl+E", "Ctrl+Return"} <= {keys for keys, _ in rows}
    d.close()


def test_about_names_the_versions_and_the_models_folder(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.choose_menu("about")
    rows = dict(d.dialog("about").rows)
    assert list(rows) == ["arplayground", "Python", "Qt", "PySide6", "torch", "numpy", "numba", "pyqtgraph",
                          "Models folder"]
    import numpy
    import torch

    assert rows["torch"] == torch.__version__ and rows["numpy"] == numpy.__version__
    assert all(v and v != "not installed" for v in rows.values())
    assert rows["Models folder"].startswith(str(all_models.resolve())) and "3 model cards" in rows["Models folder"]
    d.close()


def test_recent_files_keep_eight_grey_the_missing_and_reopen(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "text")
    assert d.recent_files() == []
    d.set_prompt("to be")
    d.set_length(4)
    d.generate_and_wait()
    values = list(d.values())
    for i in range(9):
        d.export_trace(tmp_path / f"run{i}.trace.json")
    lines = d.recent_files()
    assert len(lines) == 8 and lines[0] == ("1. run8.trace.json", True)
    assert "run0.trace.json" not in " ".join(text for text, _ in lines)  # the oldest went
    (tmp_path / "run7.trace.json").unlink()
    assert ("2. run7.trace.json (missing)", False) in d.recent_files()
    d.set_prompt("other")
    d.open_recent("3. run6")
    assert d.status().startswith("Opened ")  # shown at once, nothing re-computed
    d.wait_until_stopped()
    assert list(d.values()) == values
    assert d.recent_files()[0] == ("1. run6.trace.json", True)  # reopened: the newest
    d.close()


def test_a_recent_picture_opens_in_image_mode(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.draw_pixel(28 * 14 + 14)
    with d._dialog("getSaveFileName", tmp_path / "dot.png"):
        d.choose_menu("save")
    d.choose_mode("text")
    d.open_recent("1. dot.png")
    assert d.mode == "image" and d.view("image").note.text().startswith("Opened ")
    d.close()


@pytest.mark.parametrize("name", ["open_trace", "export", "save", "open_file", "play", "step", "back", "stop",
                                  "generate"])
def test_a_greyed_out_item_does_nothing_when_triggered_anyway(qtbot, tiny_models, name, tmp_path):
    """A key can reach an action Qt has not yet greyed: it clicks the button, which refuses when greyed."""
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("to be")
    d.set_length(4)
    for button in (d.window.generate_button, d.window.pause_button, d.window.step_button, d.window.open_trace_button):
        button.setEnabled(False)
    d.window.views["text"].save_button.setEnabled(False)
    assert not d.menu_enabled(name)
    with d._dialog("getSaveFileName", tmp_path / "x"), d._dialog("getOpenFileName", tmp_path / "x"):
        d.menu_action(name).trigger()
    assert not d.running() and not d.has_run() and not (tmp_path / "x").exists()
    d.close()


def test_ctrl_o_opens_a_trace_ctrl_shift_o_a_picture_and_ctrl_q_quits(qtbot, all_models, tmp_path):
    d = text_run(qtbot, all_models, 4)
    d.export_trace(tmp_path / "t.trace.json")
    d.focus(d.window.generate_button)
    with d._dialog("getOpenFileName", tmp_path / "t.trace.json"):
        d.press_key(Qt.Key.Key_O, CTRL)
    assert d.status().startswith("Opened ")  # shown at once, nothing re-computed
    d.wait_until_stopped()
    d.choose_mode("image")
    d.draw_pixel(28 * 14 + 14)
    d.view("image").save_png(str(tmp_path / "dot.png"))
    d.view("image").clear_button.click()
    d.focus(d.window.generate_button)
    with d._dialog("getOpenFileName", tmp_path / "dot.png"):
        d.press_key(Qt.Key.Key_O, CTRL | Qt.KeyboardModifier.ShiftModifier)
    assert d.view("image").note.text().startswith(f"Opened {tmp_path / 'dot.png'}")
    d.press_key(Qt.Key.Key_Q, CTRL)
    assert not d.window.isVisible()


def test_only_files_opened_or_saved_become_recent(qtbot, all_models, tmp_path):
    from tests.gui.driver import write_tone

    d = WindowDriver.open(qtbot, all_models, "text")
    junk = tmp_path / "junk.trace.json"
    junk.write_text("{not a trace")
    assert not d.open_trace(junk)  # refused: not a recent file
    assert d.recent_files() == []
    d.choose_mode("audio")
    tone = write_tone(tmp_path / "tone.wav", 0.05)
    d.open_wav(tone)  # converted in the background: recent once it has opened
    assert d.recent_files() == [("1. tone.wav", True)]
    d.choose_mode("text")
    d.open_recent("1. tone.wav")
    assert d.mode == "audio"
    d.wait_until(lambda: d.view("audio").conversion is None)
    assert d.recent_files() == [("1. tone.wav", True)]
    d.close()
