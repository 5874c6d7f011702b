"""Score in the window: typed text, a generated run, an opened PNG and WAV read in one
teacher-forced pass; the chain rule's figures, a step's term, the classifier, the sequential paths
timed, free-running from a step, comparing, and refusals that change nothing."""

import numpy as np
import pytest

from arplayground import catalog
from arplayground.gui.image_files import write_png
from tests.gui.driver import WindowDriver
from tests.gui.helpers import write_tone


def teacher_forced_probs(d, prefix, values, condition):
    """The model's own teacher-forced distributions, straight from the stepper, to check the window by."""
    stepper = catalog.load_stepper(d.window.current_entry())
    logits = stepper.teacher_forced(prefix, values, condition)
    p = np.exp(logits - logits.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def test_typed_text_is_scored_whole_with_the_chain_rule_and_every_distribution(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    assert not d.score_shown()
    d.set_prompt("To be, or not")
    d.score()
    assert d.score_shown() and d.branch_name() == "scored 1"
    assert d.steps() == 13 and d.text_shown() == "To be, or not"
    values = d.encode("To be, or not")
    assert list(d.values()) == values
    probs = teacher_forced_probs(d, (), values, None)
    for i in (0, 6, 12):  # the trace holds every step's full distribution (float16)
        np.testing.assert_allclose(d.distributions(i)[0], probs[i], atol=1e-3)
    bits = -np.log2(probs[np.arange(13), values]).sum()
    assert d.score_total_bits() == pytest.approx(bits, abs=0.05)
    assert "13 chars in one teacher-forced pass" in d.score_text() and "bits/char" in d.score_text()
    assert d.timeline_values()[-1] == pytest.approx(bits, rel=1e-3)  # the running sum ends at the total
    d.show_step(4)  # a step's term, its rank
    assert "Step 5 (real)" in d.score_text() and "rank" in d.score_text()
    d.hover_timeline(8)
    assert "Step " in d.score_text()


def test_a_generated_run_is_scored_prompt_included_and_two_scores_compare(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("ROMEO")
    d.set_length(30)
    d.generate_and_wait()
    whole = d.text_shown()
    d.score()
    assert d.text_shown() == whole and d.steps() == len(whole)
    assert sorted(d.branch_names()) == ["main", "scored 1"]
    d.set_prompt("zzzz zzzz")  # the prompt box now holds other text: that is what Score reads
    d.score()
    assert d.text_shown() == "zzzz zzzz" and d.branch_name() == "scored 2"
    d.compare_with("scored 1")
    assert "scored 1:" in d.score_text() and "bits/char over 35" in d.score_text()
    d.choose_branch("main")  # the run again, as it was: no Score figures
    assert d.text_shown() == whole and not d.score_shown()
    d.choose_branch("scored 1")
    assert d.score_shown() and d.steps() == len(whole)


def test_text_the_model_cannot_read_is_refused_and_nothing_changes(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("")
    d.score()
    assert "Type or paste text" in d.status() and not d.has_run()
    d.set_prompt("abc ~ def")
    assert not d.can("score")  # the prompt's own check: a character the model never saw
    d.set_prompt("abc")
    d.score()
    d.set_prompt("abc ~")
    d.press("score")
    assert d.branch_name() == "scored 1" and d.steps() == 3


def test_an_opened_png_is_scored_with_a_surprisal_map_and_the_classifier(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    digit = np.zeros((28, 28), np.uint8)
    digit[5:23, 12:16] = 255
    write_png(str(tmp_path / "one.png"), digit)
    d.open_picture(tmp_path / "one.png")
    d.choose_digit(1)
    d.score()
    assert d.steps() == 784 and list(d.values()) == list(digit.reshape(-1))
    text = d.score_text()
    assert "784 pixels" in text and "bits/dim" in text and "most likely" in text and "digit 1's share" in text
    probs = teacher_forced_probs(d, (), digit.reshape(-1), 1)
    np.testing.assert_allclose(d.distributions(400)[0], probs[400], atol=1e-3)
    view = d.view("image")
    d.click(view.surprisal_box)
    bits = view.canvas.overlay[0]
    np.testing.assert_allclose(bits, -np.log2(probs[np.arange(784), digit.reshape(-1)]), rtol=1e-4, atol=1e-4)
    assert "Surprisal map" in view.note.text()


def test_an_unfinished_image_is_not_scored(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.start_paused_run()
    d.step_times(3)
    d.click_stop()
    d.score()
    assert "not complete (3 of 784" in d.status() and d.branch_name() == "main"


def test_an_opened_wav_is_scored_its_surprisal_drawn_under_the_waveform(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "audio")
    d.open_wav(write_tone(tmp_path / "tone.wav", 0.1))
    d.choose_digit(2)
    d.score()
    assert d.steps() == 800 and "800 samples" in d.score_text() and "digit 2's share" in d.score_text()
    curve = d.view("audio").surprisal_curve
    x, y = curve.getData()
    assert len(y) == 800 and np.isfinite(y).all()
    np.testing.assert_allclose(y, -np.log2(d.column("prob").astype(np.float64)), rtol=1e-5)


def test_free_running_from_a_step_keeps_the_real_data_and_the_model_goes_on(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    text = "To be, or not to be, that is the question"
    d.set_prompt(text)
    d.score()
    d.show_step(10)
    d.click_free_run()
    d.wait_until_done()
    assert d.steps() == len(text) and d.text_shown()[:10] == text[:10]
    assert "Real data, teacher-forced: steps 1–10" in d.score_text()
    assert "The model's own continuation: steps 11–" in d.score_text()


def test_the_sequential_paths_are_timed_on_request(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("To be, or not to be")
    d.score()
    d.click_time_sequential()
    text = d.score_text()
    assert "19 conditionals in one pass" in text and "cached" in text and "naive" in text
    assert "Measured now" in text


def test_a_scored_trace_exports_opens_and_replays_identically(qtbot, tiny_models, tmp_path):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("What light through yonder window")
    d.score()
    values = d.values()
    assert d.export_trace(tmp_path / "scored.json")
    d.set_prompt("other")
    d.replay(tmp_path / "scored.json")
    assert "identical" in d.status().lower() and list(d.values()) == list(values)
    assert d.score_shown()  # the replayed branch is a scored one: its figures are back


def test_a_text_longer_than_the_context_is_scored_in_windows_and_says_so(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")  # the tiny GPT's context is 128
    d.set_prompt("To be, or not to be, that is the question. " * 5)
    d.score()
    assert d.steps() == 215 and "longer than the model's 128-character context: scored in windows" in d.score_text()
