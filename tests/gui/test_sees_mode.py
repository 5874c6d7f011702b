"""What it sees, in the real window: click an output, switch the field on, and the inputs that
can reach it are shaded in place by their measured influence, and nothing after it ever is; the
pane beside gives the attention grid (text), the gated and plain PixelCNN fields (image) and the
dilation tree (audio). Computed off the GUI thread, on a copy of the model: a paused run goes on
exactly as it would have."""

import numpy as np
import pytest

from tests.gui.driver import WindowDriver


@pytest.fixture
def text(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("To be, or not")
    d.set_length(30)
    d.generate_and_wait()
    yield d
    d.halt()


def test_a_character_sees_only_the_text_before_it(text):
    d = text
    d.click_output(10)  # the 11th generated character: character 24 of the whole text
    d.show_what_it_sees()
    d.wait_for_field()
    assert d.sees_panel_shown()
    heading = d.sees_heading()
    assert "What character 24" in heading and "exactly 0" in heading
    shading = d.text_shading()
    output = 13 + 10  # the prompt's 13 characters, then the step
    assert all(c is None for c in shading[output:])  # the output itself and the future: never lit
    assert sum(c is not None for c in shading[:output]) == output  # the causal mask lets all before it through
    field = d.field()
    assert field.position == output and field.after_output_is_zero()
    assert field.attention is not None and np.allclose(field.attention[:, :, :output].sum(-1), 1, atol=1e-5)


def test_the_field_follows_each_output_clicked_and_an_attention_head_shades_the_text(text):
    d = text
    d.click_output(5)
    d.show_what_it_sees()
    d.wait_for_field()
    assert d.field().position == 13 + 5
    d.click_output(20)  # while on, a click asks for that output's field
    d.wait_until(lambda: d.field() is not None and d.field().position == 13 + 20, timeout=60_000)
    by_influence = d.text_shading()
    d.click_attention_cell(0, 0)
    by_head = d.text_shading()
    assert by_head != by_influence and all(c is None for c in by_head[13 + 20 :])
    weights = d.field().attention[0, 0, : 13 + 20]
    strongest = int(np.argmax(weights))
    assert by_head[strongest] is not None
    d.show_what_it_sees(False)
    assert not d.sees_panel_shown() and all(c is None for c in d.text_shading())


def test_entropy_is_a_measure_too(text):
    d = text
    d.click_output(3)
    d.show_what_it_sees()
    d.wait_for_field()
    d.choose_sees_measure("entropy")
    d.wait_until(lambda: d.field() is not None and d.field().measure == "entropy", timeout=60_000)
    assert "entropy" in d.sees_heading() and d.field().after_output_is_zero()


def test_a_paused_run_goes_on_as_it_would_have(qtbot, tiny_models):
    straight = WindowDriver.open(qtbot, tiny_models, "text")
    straight.set_length(40)
    straight.generate_and_wait()
    expected = straight.values()
    straight.close()

    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_length(40)
    d.start_paused_run()
    d.step_times(12)
    d.click_output(8)
    d.show_what_it_sees()
    d.wait_for_field()
    assert d.paused()
    d.resume_to_the_end()
    assert list(d.values()) == list(expected)
    d.halt()


def test_a_pixel_sees_above_and_left_and_the_plain_stack_has_a_blind_spot(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.generate_and_wait()
    before = d.canvas_colours().copy()
    step = 9 * 28 + 14  # row 9, column 14: well inside the image
    d.click_output(step)
    d.show_what_it_sees()
    d.wait_for_field()
    heading, detail = d.sees_heading(), d.sees_detail()
    assert f"What pixel {step + 1}" in heading and "exactly 0" in heading
    assert "blind spot" in detail and "untrained" in detail
    shown = d.canvas_colours().reshape(-1, 3)
    field = d.field()
    changed = np.any(shown != before.reshape(-1, 3), axis=1)
    assert changed[: step][field.structural[:step]].all()  # every pixel it sees is shaded
    assert not field.structural[step:].any() and field.after_output_is_zero()
    plain = d.window.causality_panel.plain_map.field
    assert plain.blind_spot is not None and plain.blind_spot.any() and plain.after_output_is_zero()
    assert plain.seen < field.seen  # the blind spot, measured
    assert (plain.measured[plain.blind_spot] == 0).all()
    d.show_what_it_sees(False)
    assert np.array_equal(d.canvas_colours(), before)  # off: the image as it was
    d.halt()


def test_a_sample_sees_its_dilation_tree_over_the_waveform(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "audio")
    d.set_run_length(audio_samples=600)
    d.generate_and_wait()
    d.click_output(500)
    d.show_what_it_sees()
    d.wait_for_field()
    field = d.field()
    assert field.after_output_is_zero() and field.layers
    assert "samples" in d.sees_detail() and "ms" in d.sees_detail()
    start, end = d.field_region_seconds()
    first_seen = int(np.flatnonzero(field.structural)[0])
    assert start == pytest.approx(first_seen / 8000) and end == pytest.approx((field.position + 1) / 8000)
    d.show_what_it_sees(False)
    assert d.field_region_seconds() is None
    d.halt()


def test_with_nothing_shown_it_says_what_to_do(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.show_what_it_sees()
    assert "Generate or score something" in d.sees_heading()
    assert d.field() is None


def test_the_cheat_sees_the_character_it_predicts(qtbot, tiny_models):
    """A model trained without its causal mask: What it sees lights the future, the very
    character it is asked for among it, and its attention says it has no mask."""
    from tests.core.test_cheat import write_tiny_cheat

    write_tiny_cheat(tiny_models)
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.choose_model_named("aa-cheat")
    d.set_prompt("To be, or not")
    score_text = d.prompt()
    d.score()  # teacher-forced: the whole text is known, future included
    d.click_output(6)
    d.show_what_it_sees()
    d.wait_for_field()
    field = d.field()
    assert field.position == 6 and not field.after_output_is_zero()
    assert field.measured[6] > 0  # the character it predicts is among its inputs
    assert "it sees the future" in d.sees_heading() and "no causal mask" in d.sees_detail()
    shading = d.text_shading()
    assert shading[6] is not None and any(c is not None for c in shading[7 : len(score_text)])
    d.halt()
