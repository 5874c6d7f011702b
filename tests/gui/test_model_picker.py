"""The model picker through the real window: broken cards never stop startup, two cards of one name
are two models, and models no longer chosen are released."""

import gc
import weakref

import numpy as np
from PySide6.QtCore import Qt

from arplayground.gui.main_window import SPEEDS
from tests.conftest import write_tiny_gpt
from tests.core.test_catalog import write_bad_cards, write_second_card_of_the_same_name
from tests.gui.helpers import click, generate_and_wait, open_window, set_run_length


def picker_items(w) -> list[str]:
    return [w.model_box.itemText(i) for i in range(w.model_box.count())]


def choose(w, label: str) -> None:
    w.model_box.setCurrentIndex(picker_items(w).index(label))


def test_startup_lists_the_good_models_and_each_broken_one_with_its_reason(qtbot, all_models, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    reasons = write_bad_cards(all_models, outside)
    w = open_window(qtbot, all_models, "text")  # the old catalog raised here, or hung on the FIFO
    assert [w.mode_box.itemData(i) for i in range(w.mode_box.count())] == ["text", "image", "audio"]
    assert w.current_entry().name == "tiny-gpt" and w.current_entry().available
    info = w.model_info.text()
    for file, reason in reasons.items():
        line = next((line for line in info.splitlines() if line.startswith(f"⚠ {file}: ")), "")
        assert reason in line, (file, line)
    items = picker_items(w)
    for i, entry in enumerate(w.model_box.itemData(i) for i in range(w.model_box.count())):
        if not entry.available:
            assert items[i].endswith("(unavailable)") and not w.model_box.model().item(i).isEnabled()
            assert w.model_box.itemData(i, Qt.ItemDataRole.ToolTipRole) == f"unavailable: {entry.error}"
    set_run_length(w, "text", text_steps=5, audio_samples=0)
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 5
    for mode, name in (("image", "tiny-pixelcnn"), ("audio", "tiny-wavenet")):
        w.mode_box.setCurrentIndex(w.mode_box.findData(mode))
        assert w.current_entry().name == name and w.current_entry().available
    w.close()


def first_step_distribution(qtbot, w) -> np.ndarray:
    set_run_length(w, "text", text_steps=3, audio_samples=0)
    generate_and_wait(qtbot, w)
    return np.asarray(w.trace[0].top_raw, float)


def test_two_cards_of_one_name_are_listed_apart_and_each_runs_its_own_weights(qtbot, tiny_models):
    write_second_card_of_the_same_name(tiny_models)
    w = open_window(qtbot, tiny_models, "text")
    assert picker_items(w) == ["tiny-gpt", "tiny-gpt (tiny-gpt.json)"]  # retrained.json first, then the original
    first = first_step_distribution(qtbot, w)
    first_stepper = w.steppers.held(w.current_entry())
    choose(w, "tiny-gpt (tiny-gpt.json)")
    assert w.current_entry().card_path.name == "tiny-gpt.json"
    second = first_step_distribution(qtbot, w)  # the same prompt and seed, the other weights
    assert w.steppers.held(w.current_entry()) is not first_stepper
    assert not np.allclose(first, second)
    w.close()


def test_choosing_another_model_releases_the_first_ones_stepper(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    w = open_window(qtbot, all_models, "text")
    choose(w, "tiny-gpt")  # tiny-gpt-b.json is listed first
    first_step_distribution(qtbot, w)
    a = weakref.ref(w.steppers.held(w.current_entry()))
    assert a() is not None
    choose(w, "tiny-gpt-b")
    gc.collect()
    assert a() is None, "the model no longer chosen is still held"
    first_step_distribution(qtbot, w)
    b = w.steppers.held(w.current_entry())
    w.mode_box.setCurrentIndex(w.mode_box.findData("image"))  # the text mode's choice stays loaded
    assert w.steppers.held(next(e for e in w.entries if e.name == "tiny-gpt-b")) is b
    w.close()


def test_a_run_goes_on_when_its_model_is_no_longer_chosen(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    w = open_window(qtbot, all_models, "text")
    choose(w, "tiny-gpt")
    w.prompt_edit.setPlainText("to be")
    w.length_spin.setValue(60)
    w.speed_slider.setValue(SPEEDS.index(200))
    click(qtbot, w.generate_button)
    qtbot.waitUntil(lambda: len(w.trace) >= 5, timeout=30_000)
    running = w.current_entry()
    choose(w, "tiny-gpt-b")  # the cache lets the running model go; the run holds its own
    gc.collect()
    assert w.steppers.held(running) is None
    w.speed_slider.setValue(SPEEDS.index(0))
    qtbot.waitUntil(lambda: not w.is_running(), timeout=30_000)
    assert len(w.trace) == 60 and w.state_label.text().startswith("Done")
    w.close()
