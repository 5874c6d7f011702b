"""The model picker through the real window: broken cards never stop startup, two cards of one name
are two models, and models no longer chosen are released."""

import gc
import shutil
import weakref

import numpy as np

from tests.conftest import write_tiny_gpt
from tests.core.test_catalog import write_bad_cards, write_second_card_of_the_same_name
from tests.gui.driver import WindowDriver


def test_startup_lists_the_good_models_and_each_broken_one_with_its_reason(qtbot, all_models, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    reasons = write_bad_cards(all_models, outside)
    d = WindowDriver.open(qtbot, all_models, "text")  # the old catalog raised here, or hung on the FIFO
    assert d.modes() == ["text", "image", "audio"]
    assert d.model_entry().name == "tiny-gpt" and d.model_entry().available
    info = d.model_info()
    for file, reason in reasons.items():
        line = next((line for line in info.splitlines() if line.startswith(f"⚠ {file}: ")), "")
        assert reason in line, (file, line)
    for line, entry in zip(d.models(), d.model_entries()):
        if not entry.available:
            assert line.endswith("(unavailable)") and not d.model_selectable(line)
            assert d.model_tooltip(line) == f"unavailable: {entry.error}"
    d.set_run_length(text_steps=5)
    d.generate_and_wait()
    assert d.steps() == 5
    for mode, name in (("image", "tiny-pixelcnn"), ("audio", "tiny-wavenet")):
        d.choose_mode(mode)
        assert d.model_entry().name == name and d.model_entry().available
    d.close()


def first_step_distribution(d) -> np.ndarray:
    d.set_run_length(text_steps=3)
    d.generate_and_wait()
    return np.asarray(d.record(0).top_raw, float)


def test_two_cards_of_one_name_are_listed_apart_and_each_runs_its_own_weights(qtbot, tiny_models):
    write_second_card_of_the_same_name(tiny_models)
    d = WindowDriver.open(qtbot, tiny_models, "text")
    assert d.models() == ["tiny-gpt", "tiny-gpt (tiny-gpt.json)"]  # retrained.json first, then the original
    first = first_step_distribution(d)
    first_stepper = d.window.steppers.held(d.model_entry())
    d.choose_model("tiny-gpt (tiny-gpt.json)")
    assert d.model_entry().card_path.name == "tiny-gpt.json"
    second = first_step_distribution(d)  # the same prompt and seed, the other weights
    assert d.window.steppers.held(d.model_entry()) is not first_stepper
    assert not np.allclose(first, second)
    d.close()


def test_choosing_another_model_releases_the_first_ones_stepper(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    d = WindowDriver.open(qtbot, all_models, "text")
    steppers = d.window.steppers  # the window's cache of loaded models: what is held, and let go
    d.choose_model("tiny-gpt")  # tiny-gpt-b.json is listed first
    first_step_distribution(d)
    a = weakref.ref(steppers.held(d.model_entry()))
    assert a() is not None
    d.choose_model("tiny-gpt-b")
    gc.collect()
    assert a() is None, "the model no longer chosen is still held"
    first_step_distribution(d)
    b = steppers.held(d.model_entry())
    d.choose_mode("image")  # the text mode's choice stays loaded
    assert steppers.held(next(e for e in d.window.entries if e.name == "tiny-gpt-b")) is b
    d.close()


def test_a_run_goes_on_when_its_model_is_no_longer_chosen(qtbot, all_models):
    write_tiny_gpt(all_models, name="tiny-gpt-b", seed=1)
    d = WindowDriver.open(qtbot, all_models, "text")
    d.choose_model("tiny-gpt")
    d.set_prompt("to be")
    d.set_length(60)
    d.set_speed(200)
    d.click_generate()
    d.wait_for_at_least(5, timeout=30_000)
    running = d.model_entry()
    d.choose_model("tiny-gpt-b")  # the cache lets the running model go; the run holds its own
    gc.collect()
    assert d.window.steppers.held(running) is None
    d.set_speed(0)
    d.wait_until_stopped(timeout=30_000)
    assert d.steps() == 60 and d.status().startswith("Done")
    d.close()


def test_the_model_picker_lists_only_this_modes_models_broken_ones_included(qtbot, all_models, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(all_models, folder)
    for weights in folder.glob("tiny-wavenet*.safetensors"):
        weights.write_bytes(b"not safetensors")
    d = WindowDriver.open(qtbot, folder, "image")
    image_items = d.models()
    assert not any("wavenet" in t for t in image_items) and any("pixelcnn" in t for t in image_items)
    assert d.model_entry().mode == "image" and d.model_entry().available
    d.choose_mode("audio")
    audio_items = d.models()
    assert audio_items and all("(unavailable)" in t and "wavenet" in t for t in audio_items)
    assert not np.any([("pixelcnn" in t or "gpt" in t) for t in audio_items])
    d.close()
