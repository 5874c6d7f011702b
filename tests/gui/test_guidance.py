"""Guidance through the real window: offered where there is a digit to guide by, drawn with, shown."""

import numpy as np
import pytest
from PySide6.QtCore import Qt

from arplayground.core.sampling import SamplerSettings, stages
from tests.gui.helpers import generate_and_wait, open_window, pixel_centre


def test_guidance_is_offered_for_image_and_audio_models_and_not_for_text(qtbot, all_models):
    w = open_window(qtbot, all_models, "text")
    assert not w.guidance.isEnabled() and "has none" in w.guidance.toolTip()
    for mode in ("image", "audio"):
        w.mode_box.setCurrentIndex(w.mode_box.findData(mode))
        assert w.guidance.isEnabled() and "any digit" in w.guidance.toolTip()
    w.guidance.setValue(9.0)  # past the end of the slider: clamped
    assert w.settings().guidance == 4.0
    w.mode_box.setCurrentIndex(w.mode_box.findData("text"))  # the slider keeps its place, but acts on nothing here
    assert w.guidance.value() == 4.0 and w.settings().guidance == 1.0
    w.close()


def test_a_guided_image_is_drawn_with_guidance_and_its_pixels_show_the_distribution_without_the_digit(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    view = w.views["image"]
    view.digit_box.setCurrentIndex(view.digit_box.findData(3))
    generate_and_wait(qtbot, w)
    plain = view.canvas.image.copy()
    assert not w.panel.unconditional_line.isVisible()
    w.guidance.setValue(2.5)
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 784 and all(w.trace[i].settings.guidance == 2.5 for i in (0, 400, 783))
    assert not np.array_equal(view.canvas.image, plain)  # same seed: only guidance differs

    index = 9 * 28 + 12
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(view.canvas, index))
    title = w.panel.title.text()
    assert title.startswith("pixel (9, 12), step 265") and "guidance 2.50" in title
    assert w.panel.unconditional_line.isVisible()
    assert "without the digit" in [label.text for _, label in w.panel.legend.items]
    raw, sampled, unconditional = w.trace.distributions(index)  # the trace keeps all three
    np.testing.assert_allclose(w.panel.unconditional_line.getData()[1], unconditional)
    assert unconditional.sum() == pytest.approx(1.0, abs=0.02) and not np.allclose(unconditional, raw)
    # The what-if starts from the same three distributions and ends where the draw did.
    rec = w.trace[index]
    st = stages(np.log(np.maximum(raw, 1e-38)), rec.settings, rec.u, np.log(np.maximum(unconditional, 1e-38)))
    assert st.would_draw == rec.value
    np.testing.assert_allclose(st.final, sampled, atol=1e-5)
    assert "guidance moves p(grey level" in w.panel.what_if_label.text()
    w.guidance.setValue(1.0)  # the lab: the same step, now without guidance
    assert "guidance moves" not in w.panel.what_if_label.text()
    unguided = stages(np.log(np.maximum(raw, 1e-38)), SamplerSettings(), rec.u)
    np.testing.assert_allclose(w.panel.levels[1], unguided.final, atol=1e-6)
    w.close()


def test_a_guided_clip_shows_its_newest_sample_with_and_without_the_digit(qtbot, tiny_audio_models):
    w = open_window(qtbot, tiny_audio_models, "audio")
    view = w.views["audio"]
    view.length_spin.setValue(0.1)
    view.digit_box.setCurrentIndex(view.digit_box.findData(4))
    w.guidance.setValue(2.0)
    generate_and_wait(qtbot, w)
    last = len(w.trace) - 1
    assert w.trace[last].settings.guidance == 2.0 and w.trace.distributions(last)[2] is not None
    w.show_step(last)
    assert w.panel.unconditional_line.isVisible() and "guidance 2.00" in w.panel.title.text()
    w.guidance.setValue(1.0)
    generate_and_wait(qtbot, w)
    w.show_step(len(w.trace) - 1)
    assert not w.panel.unconditional_line.isVisible()
    w.close()


def test_the_digit_map_colours_each_guided_pixel_by_how_much_the_digit_changed_it(qtbot, tiny_image_models):
    from arplayground.gui.views.image import DIGIT_MAP_BITS, heat, kl_bits

    w = open_window(qtbot, tiny_image_models, "image")
    view = w.views["image"]
    view.digit_box.setCurrentIndex(view.digit_box.findData(7))
    generate_and_wait(qtbot, w)  # unguided: no distribution without the digit, so no figures
    view.digit_map_box.setChecked(True)
    assert np.isnan(view.digit_bits).all() and "needs a run drawn with guidance" in view.note.text()
    w.guidance.setValue(2.0)
    generate_and_wait(qtbot, w)
    bits = view.digit_bits[0]
    n = len(w.trace)  # the figures are the trace's own distributions
    np.testing.assert_allclose(bits, kl_bits(w.trace.full_column("raw", 0, n), w.trace.full_column("unconditional", 0, n)), rtol=1e-5)
    assert np.isfinite(bits).all() and (bits >= -1e-6).all() and bits.max() > 0
    assert f"max {bits.max():.2f} bits" in view.note.text()
    shown = view.canvas.rgb().reshape(-1, 3)
    most = int(np.argmax(bits))  # the pixel the digit changed most: the heat colour of its figure
    np.testing.assert_array_equal(shown[most], np.maximum(heat(np.array(bits[most])), view.canvas.image.reshape(-1)[most] * 0.35).astype(np.uint8))
    assert tuple(heat(np.array(DIGIT_MAP_BITS))) == (255, 255, 0) and tuple(heat(np.array(0.0))) == (0, 0, 0)  # dark to yellow
    view.digit_map_box.setChecked(False)  # off: the digit in its own greys again
    np.testing.assert_array_equal(view.canvas.rgb()[..., 0], view.canvas.image)
    view.digit_map_box.setChecked(True)
    view.clear_button.click()  # the drawn run is gone: so is its map
    assert not view.digit_map_box.isChecked() and view.canvas.overlay is None
    w.close()
