"""Guidance through the real window: offered where there is a digit to guide by, drawn with, shown."""

import re

import numpy as np
import pytest

from arplayground.core.sampling import SamplerSettings, stages
from tests.gui.driver import WindowDriver


def test_guidance_is_offered_for_image_and_audio_models_and_not_for_text(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    guidance = d.window.guidance
    assert not guidance.isEnabled() and "has none" in guidance.toolTip()
    for mode in ("image", "audio"):
        d.choose_mode(mode)
        assert guidance.isEnabled() and "any digit" in guidance.toolTip()
    d.set_guidance(9.0)  # past the end of the slider: clamped
    assert d.settings().guidance == 4.0
    d.choose_mode("text")  # the slider keeps its place, but acts on nothing here
    assert d.slider("guidance") == 4.0 and d.settings().guidance == 1.0
    d.close()


def test_a_guided_image_is_drawn_with_guidance_and_its_pixels_show_the_distribution_without_the_digit(qtbot, tiny_image_models):
    d = WindowDriver.open(qtbot, tiny_image_models, "image")
    view = d.view()
    d.choose_digit(3)
    d.set_guidance(1.0)  # off (Image mode starts guided): the plain image to compare with
    d.generate_and_wait()
    plain = view.canvas.image.copy()
    assert not d.shows_unconditional()
    d.set_guidance(2.5)
    d.generate_and_wait()
    assert d.steps() == 784 and all(d.record(i).settings.guidance == 2.5 for i in (0, 400, 783))
    assert not np.array_equal(view.canvas.image, plain)  # same seed: only guidance differs

    index = 9 * 28 + 12
    d.click_pixel(index)
    title = d.panel_title()
    assert title.startswith("pixel (9, 12), step 265") and "guidance 2.50" in title
    assert d.shows_unconditional()
    assert "without the digit" in d.legend()
    raw, sampled, unconditional = d.distributions(index)  # the trace keeps all three
    np.testing.assert_allclose(d.unconditional_shown(), unconditional)
    assert unconditional.sum() == pytest.approx(1.0, abs=0.02) and not np.allclose(unconditional, raw)
    # The what-if starts from the same three distributions and ends where the draw did.
    rec = d.record(index)
    st = stages(np.log(np.maximum(raw, 1e-38)), rec.settings, rec.u, np.log(np.maximum(unconditional, 1e-38)))
    assert st.would_draw == rec.value
    np.testing.assert_allclose(st.final, sampled, atol=1e-5)
    assert re.search(r"guidance (moves|leaves) p\(grey level", d.what_if_text())
    d.set_guidance(1.0)  # the lab: the same step, now without guidance
    assert "p(grey level" not in d.what_if_text()
    unguided = stages(np.log(np.maximum(raw, 1e-38)), SamplerSettings(), rec.u)
    np.testing.assert_allclose(d.levels()[1], unguided.final, atol=1e-6)
    d.close()


def test_a_guided_clip_shows_its_newest_sample_with_and_without_the_digit(qtbot, tiny_audio_models):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    d.set_seconds(0.1)
    d.choose_digit(4)
    d.set_guidance(2.0)
    d.generate_and_wait()
    last = d.steps() - 1
    assert d.record(last).settings.guidance == 2.0 and d.distributions(last)[2] is not None
    d.show_step(last)
    assert d.shows_unconditional() and "guidance 2.00" in d.panel_title()
    d.set_guidance(1.0)
    d.generate_and_wait()
    d.show_step(d.steps() - 1)
    assert not d.shows_unconditional()
    d.close()


def test_the_digit_map_colours_each_guided_pixel_by_how_much_the_digit_changed_it(qtbot, tiny_image_models):
    from arplayground.gui.views.image import DIGIT_MAP_BITS, heat, kl_bits

    d = WindowDriver.open(qtbot, tiny_image_models, "image")
    view = d.view()
    d.choose_digit(7)
    d.set_guidance(1.0)
    d.generate_and_wait()  # unguided: no distribution without the digit, so no figures
    view.digit_map_box.setChecked(True)
    assert np.isnan(view.digit_bits).all() and "needs a run drawn with guidance" in view.note.text()
    d.set_guidance(2.0)
    d.generate_and_wait()
    bits = view.digit_bits[0]
    # the figures are the trace's own distributions
    np.testing.assert_allclose(bits, kl_bits(d.full_column("raw"), d.full_column("unconditional")), rtol=1e-5)
    assert np.isfinite(bits).all() and (bits >= -1e-6).all() and bits.max() > 0
    assert f"max {bits.max():.2f} bits" in view.note.text()
    shown = view.canvas.rgb().reshape(-1, 3)
    most = int(np.argmax(bits))  # the pixel the digit changed most: the heat colour of its figure
    np.testing.assert_array_equal(shown[most], np.maximum(heat(np.array(bits[most])), view.canvas.image.reshape(-1)[most] * 0.35).astype(np.uint8))
    assert tuple(heat(np.array(DIGIT_MAP_BITS))) == (255, 255, 0) and tuple(heat(np.array(0.0))) == (0, 0, 0)  # dark to yellow
    view.digit_map_box.setChecked(False)  # off: the digit in its own greys again
    np.testing.assert_array_equal(view.canvas.rgb()[..., 0], view.canvas.image)
    view.digit_map_box.setChecked(True)
    d.click(view.clear_button)  # the drawn run is gone: so is its map
    assert not view.digit_map_box.isChecked() and view.canvas.overlay is None
    d.close()
