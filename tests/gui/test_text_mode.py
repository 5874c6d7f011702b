"""Text mode through the real window: buttons clicked, sliders moved, what a person would see."""

import json

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from arplayground.gui.main_window import SPEEDS, MainWindow
from tests.conftest import write_tiny_gpt


@pytest.fixture
def window(qtbot, tiny_models):
    w = MainWindow(tiny_models)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.runner.stop()
    assert not w.is_running()


def set_speed(window, steps_per_second):
    window.speed_slider.setValue(SPEEDS.index(steps_per_second))


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def wait_done(qtbot, window, timeout=60_000):
    qtbot.waitUntil(lambda: not window.is_running() and window.generate_button.isEnabled(), timeout=timeout)


def test_generate_shows_n_characters_and_the_last_step(qtbot, window):
    window.prompt_edit.setPlainText("ROMEO:")
    window.length_spin.setValue(150)
    click(qtbot, window.generate_button)
    wait_done(qtbot, window)
    assert len(window.text_pane.generated_text()) == 150
    assert window.text_pane.toPlainText().startswith("ROMEO:")
    assert len(window.trace) == 150
    last = window.trace[-1]
    assert window.panel.title.text().startswith("step 150: drew")
    raw, sampled = window.panel.bar_heights()
    np.testing.assert_allclose(raw, last.top_raw, atol=1e-3)
    np.testing.assert_allclose(sampled, last.top_sampled, atol=1e-3)
    labels = window.panel.tick_labels()
    assert labels[0] == window.vocab.label(int(last.top_values[0]))
    assert all(label.strip() for label in labels), "whitespace candidates must be drawn visibly"
    assert "step 150 / 150" in window.stats_label.text() and "perplexity" in window.stats_label.text()
    assert window.state_label.text() == "Done: 150 steps"


def test_temperature_zero_mid_run_makes_following_steps_argmax(qtbot, window):
    window.prompt_edit.setPlainText("KING:")
    window.length_spin.setValue(110)  # 5 + 110 < block_size 128: every step sees the whole text
    set_speed(window, 200)
    click(qtbot, window.generate_button)
    qtbot.waitUntil(lambda: len(window.trace) >= 40, timeout=30_000)
    window.temperature.setValue(0.0)  # as a person drags the slider to 0
    set_speed(window, 0)
    wait_done(qtbot, window)
    records = [window.trace[i] for i in range(len(window.trace))]
    greedy = [r.settings.temperature == 0.0 for r in records]
    first = greedy.index(True)
    assert first >= 40 and all(greedy[first:]), "every step after the change obeys it"
    assert any(r.rank > 0 for r in records[:first])
    # Check against the model itself: each greedy step is the argmax of a full forward pass.
    stepper = window.steppers.held(window.current_entry())
    ids = stepper.vocab.encode("KING:") + [r.value for r in records]
    assert len(ids) <= stepper.model.cfg.block_size
    with torch.no_grad():
        for r in records[first:]:
            logits, _ = stepper.model(torch.tensor([ids[: r.position]]))
            assert r.value == int(torch.argmax(logits[0, -1])), f"step at position {r.position}"


def test_stop_ends_the_run(qtbot, window):
    window.length_spin.setValue(5000)
    set_speed(window, 50)
    click(qtbot, window.generate_button)
    qtbot.waitUntil(lambda: len(window.trace) >= 3, timeout=30_000)
    assert window.stop_button.isEnabled()
    click(qtbot, window.stop_button)
    assert not window.is_running()
    shown = len(window.trace)
    qtbot.wait(200)
    assert len(window.trace) == shown < 5000
    assert window.state_label.text().startswith("Stopped after")
    assert window.generate_button.isEnabled() and not window.stop_button.isEnabled()


def test_closing_the_window_mid_generation_leaves_no_running_thread(qtbot, tiny_models):
    w = MainWindow(tiny_models)
    qtbot.addWidget(w)
    w.show()
    w.length_spin.setValue(100_000)
    click(qtbot, w.generate_button)
    qtbot.waitUntil(lambda: len(w.trace) >= 20, timeout=30_000)
    thread = w.runner._thread
    assert thread is not None and thread.isRunning()
    w.close()
    assert thread.isFinished()
    assert not w.is_running()


def test_same_seed_same_text_other_seed_other_text(qtbot, window):
    texts = []
    for seed in (42, 42, 43):
        window.seed_spin.setValue(seed)
        window.length_spin.setValue(120)
        click(qtbot, window.generate_button)
        wait_done(qtbot, window)
        texts.append(window.text_pane.generated_text())
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_pause_step_and_resume(qtbot, window):
    window.length_spin.setValue(50)
    click(qtbot, window.step_button)  # idle: starts a run paused, one step
    qtbot.waitUntil(lambda: len(window.trace) == 1, timeout=30_000)
    assert window.pause_button.isChecked() and window.pause_button.text() == "Resume"
    click(qtbot, window.step_button)
    qtbot.waitUntil(lambda: len(window.trace) == 2, timeout=30_000)
    qtbot.wait(100)
    assert len(window.trace) == 2 and window.is_running()
    assert window.panel.title.text().startswith("step 2:")
    click(qtbot, window.pause_button)  # resume
    wait_done(qtbot, window)
    assert len(window.trace) == 50


def test_unknown_prompt_characters_get_an_inline_message(qtbot, window):
    qtbot.keyClicks(window.prompt_edit, "Hello ")
    window.prompt_edit.insertPlainText("€uro")  # pasted: QTest cannot type characters beyond Latin-1
    assert window.prompt_message.isVisible()
    assert "'€'" in window.prompt_message.text()
    assert not window.generate_button.isEnabled()
    window.prompt_edit.setPlainText("Hello euro")
    assert not window.prompt_message.isVisible()
    assert window.generate_button.isEnabled()


def test_broken_model_is_listed_unavailable_and_the_app_still_works(qtbot, tiny_models):
    write_tiny_gpt(tiny_models, name="aaa-broken")
    weights = tiny_models / "aaa-broken.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    w = MainWindow(tiny_models)
    qtbot.addWidget(w)
    items = [w.model_box.itemText(i) for i in range(w.model_box.count())]
    assert "aaa-broken (unavailable)" in items
    broken_index = items.index("aaa-broken (unavailable)")
    assert not w.model_box.model().item(broken_index).isEnabled()
    assert w.model_box.currentText() == "tiny-gpt"
    assert "truncated" in w.model_info.text()
    w.length_spin.setValue(10)
    click(qtbot, w.generate_button)
    wait_done(qtbot, w)
    assert len(w.text_pane.generated_text()) == 10


def test_out_of_range_settings_are_clamped_visibly(qtbot, tiny_models):
    w = MainWindow(tiny_models, {"temperature": 7.5, "top_k": 500, "top_p": 3.0})
    qtbot.addWidget(w)
    assert w.temperature.value() == 2.0 and w.top_p.value() == 1.0
    assert w.top_k.value() == len(json.loads((tiny_models / "tiny-gpt.json").read_text())["vocabulary"])
    note = w.settings_note.text()
    assert "temperature 7.5 is out of range: using 2" in note and "top-k 500" in note


def test_hover_and_click_show_a_characters_step(qtbot, window):
    window.prompt_edit.setPlainText("AB")
    window.length_spin.setValue(30)
    click(qtbot, window.generate_button)
    wait_done(qtbot, window)
    pane = window.text_pane
    cursor = pane.textCursor()
    cursor.setPosition(2 + 4)  # just before the fifth generated character
    rect = pane.cursorRect(cursor)
    point = rect.center()
    point.setX(rect.x() + 3)
    assert pane.step_at(point) == 4
    tip = pane.describe(4)
    assert tip.startswith("step 5:") and "top:" in tip
    qtbot.mouseClick(pane.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert window.panel.title.text().startswith("step 5:")


def test_save_text_writes_the_prompt_and_the_generated_text(qtbot, tiny_models, tmp_path):
    from arplayground.gui.main_window import MainWindow

    w = MainWindow(tiny_models)
    qtbot.addWidget(w)
    w.prompt_edit.setPlainText("to be")
    w.length_spin.setValue(20)
    qtbot.mouseClick(w.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.is_running() and len(w.trace) == 20, timeout=20_000)
    path = tmp_path / "sample.txt"
    assert w.views["text"].save_text(str(path))
    assert path.read_text(encoding="utf-8") == w.text_pane.toPlainText()
    assert path.read_text(encoding="utf-8").startswith("to be") and len(path.read_text(encoding="utf-8")) == 25
    w.close()
