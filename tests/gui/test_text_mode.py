"""Text mode through the real window: buttons clicked, sliders moved, what a person would see."""

import json

import numpy as np
import pytest
import torch

from tests.conftest import write_tiny_gpt
from tests.gui.driver import WindowDriver


@pytest.fixture
def d(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models)
    yield d
    d.halt()
    assert not d.running()


def test_generate_shows_n_characters_and_the_last_step(qtbot, d):
    d.set_prompt("ROMEO:")
    d.set_length(150)
    d.generate_and_wait()
    assert len(d.generated_text()) == 150
    assert d.text_shown().startswith("ROMEO:")
    assert d.steps() == 150
    last = d.record(-1)
    assert d.panel_title().startswith("step 150: drew")
    raw, sampled = d.bar_heights()
    np.testing.assert_allclose(raw, last.top_raw, atol=1e-3)
    np.testing.assert_allclose(sampled, last.top_sampled, atol=1e-3)
    labels = d.bar_labels()
    assert labels[0] == d.label(int(last.top_values[0]))
    assert all(label.strip() for label in labels), "whitespace candidates must be drawn visibly"
    assert "step 150 / 150" in d.figures() and "perplexity" in d.figures()
    assert d.status() == "Done: 150 steps"


def test_temperature_zero_mid_run_makes_following_steps_argmax(qtbot, d):
    d.set_prompt("KING:")
    d.set_length(110)  # 5 + 110 < block_size 128: every step sees the whole text
    d.set_speed(200)
    d.click_generate()
    d.wait_for_at_least(40, timeout=30_000)
    d.set_temperature(0.0)  # as a person drags the slider to 0
    d.set_speed(0)
    d.wait_until_done()
    records = [d.record(i) for i in range(d.steps())]
    greedy = [r.settings.temperature == 0.0 for r in records]
    first = greedy.index(True)
    assert first >= 40 and all(greedy[first:]), "every step after the change obeys it"
    assert any(r.rank > 0 for r in records[:first])
    # Check against the model itself: each greedy step is the argmax of a full forward pass.
    stepper = d.window.steppers.held(d.model_entry())
    ids = stepper.vocab.encode("KING:") + [r.value for r in records]
    assert len(ids) <= stepper.model.cfg.block_size
    with torch.no_grad():
        for r in records[first:]:
            logits, _ = stepper.model(torch.tensor([ids[: r.position]]))
            assert r.value == int(torch.argmax(logits[0, -1])), f"step at position {r.position}"


def test_stop_ends_the_run(qtbot, d):
    d.set_length(5000)
    d.set_speed(50)
    d.click_generate()
    d.wait_for_at_least(3, timeout=30_000)
    assert d.can("stop")
    d.click_stop()
    assert not d.running()
    shown = d.steps()
    qtbot.wait(200)
    assert d.steps() == shown < 5000
    assert d.status().startswith("Stopped after")
    assert d.can("generate") and not d.can("stop")


def test_closing_the_window_mid_generation_leaves_no_running_thread(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models)
    d.set_length(100_000)
    d.click_generate()
    d.wait_for_at_least(20, timeout=30_000)
    thread = d.window.runner._thread  # the worker's own thread: what closing must end
    assert thread is not None and thread.isRunning()
    d.close()
    assert thread.isFinished()
    assert not d.running()


def test_same_seed_same_text_other_seed_other_text(qtbot, d):
    texts = []
    for seed in (42, 42, 43):
        d.set_seed(seed)
        d.set_length(120)
        d.generate_and_wait()
        texts.append(d.generated_text())
    assert texts[0] == texts[1]
    assert texts[0] != texts[2]


def test_pause_step_and_resume(qtbot, d):
    d.set_length(50)
    d.click_step()  # idle: starts a run paused, one step
    d.wait_for_steps(1, timeout=30_000)
    assert d.paused() and d.pause_label() == "Resume"
    d.click_step()
    d.wait_for_steps(2, timeout=30_000)
    qtbot.wait(100)
    assert d.steps() == 2 and d.running()
    assert d.panel_title().startswith("step 2:")
    d.click_resume()
    d.wait_until_done()
    assert d.steps() == 50


def test_unknown_prompt_characters_get_an_inline_message(qtbot, d):
    d.type_prompt("Hello ")
    d.paste_prompt("€uro")  # pasted: QTest cannot type characters beyond Latin-1
    assert d.prompt_message() is not None
    assert "'€'" in d.prompt_message()
    assert not d.can("generate")
    d.set_prompt("Hello euro")
    assert d.prompt_message() is None
    assert d.can("generate")


def test_broken_model_is_listed_unavailable_and_the_app_still_works(qtbot, tiny_models):
    write_tiny_gpt(tiny_models, name="aaa-broken")
    weights = tiny_models / "aaa-broken.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    d = WindowDriver.open(qtbot, tiny_models, show=False)
    assert "aaa-broken (unavailable)" in d.models()
    assert not d.model_selectable("aaa-broken (unavailable)")
    assert d.model() == "tiny-gpt"
    assert "truncated" in d.model_info()
    d.set_length(10)
    d.generate_and_wait()
    assert len(d.generated_text()) == 10


def test_out_of_range_settings_are_clamped_visibly(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, initial={"temperature": 7.5, "top_k": 500, "top_p": 3.0}, show=False)
    assert d.slider("temperature") == 2.0 and d.slider("top_p") == 1.0
    assert d.slider("top_k") == len(json.loads((tiny_models / "tiny-gpt.json").read_text())["vocabulary"])
    note = d.sampler_note()
    assert "temperature 7.5 is out of range: using 2" in note and "top-k 500" in note


def test_hover_and_click_show_a_characters_step(qtbot, d):
    d.set_prompt("AB")
    d.set_length(30)
    d.generate_and_wait()
    pane = d.window.text_pane
    point = d.character_point(4)  # the fifth generated character
    assert pane.step_at(point) == 4  # what hovering there names
    tip = pane.describe(4)
    assert tip.startswith("step 5:") and "top:" in tip
    d.click_character(4)
    assert d.panel_title().startswith("step 5:")


def test_save_text_writes_the_prompt_and_the_generated_text(qtbot, tiny_models, tmp_path):
    d = WindowDriver.open(qtbot, tiny_models, show=False)
    d.set_prompt("to be")
    d.set_length(20)
    d.click_generate()
    d.wait_until(lambda: not d.running() and d.steps() == 20, timeout=20_000)
    path = tmp_path / "sample.txt"
    assert d.view("text").save_text(str(path))
    assert path.read_text(encoding="utf-8") == d.text_shown()
    assert path.read_text(encoding="utf-8").startswith("to be") and len(path.read_text(encoding="utf-8")) == 25
    d.close()
