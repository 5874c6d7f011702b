"""Image mode through the real window: the digit fills in raster order; pixels can be inspected."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from arplayground.gui.main_window import MainWindow
from tests.gui.helpers import generate_and_wait, open_window, pixel_centre


@pytest.fixture
def window(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    yield w
    w.runner.stop()


def test_image_mode_is_listed_only_with_an_image_model(qtbot, tiny_models, tiny_image_models):
    w = MainWindow(tiny_image_models)
    qtbot.addWidget(w)
    assert [w.mode_box.itemText(i) for i in range(w.mode_box.count())] == ["Text", "Image"]


def test_generate_fills_all_784_pixels_in_raster_order(qtbot, window):
    view = window.views["image"]
    assert window.displays.currentWidget() is view.canvas
    assert window.model_box.currentText() == "tiny-pixelcnn"
    view.digit_box.setCurrentIndex(view.digit_box.findData(3))
    generate_and_wait(qtbot, window)
    assert len(window.trace) == 784
    assert [window.trace[i].position for i in range(784)] == list(range(784))
    assert view.canvas.known == 784 and view.canvas.cursor_index is None
    np.testing.assert_array_equal(view.canvas.image.reshape(-1), window.trace.values)
    assert "nats/pixel" in window.stats_label.text()
    assert window.panel.title.text().startswith("pixel (27, 27), step 784: drew grey level")


def test_clicking_a_pixel_shows_the_distribution_it_was_drawn_from(qtbot, window):
    view = window.views["image"]
    generate_and_wait(qtbot, window)
    index = 5 * 28 + 7
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(view.canvas, index))
    assert window.panel.title.text().startswith("pixel (5, 7), step 148: drew grey level")
    raw, sampled, drawn = window.panel.levels
    assert drawn == window.trace[index].value
    np.testing.assert_allclose(sampled, window.trace.distributions(index)[1])  # the branch's own step
    assert sampled.sum() == pytest.approx(1.0, abs=0.02) and raw.sum() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(window.panel.level_bars.heights, sampled)


def test_completion_keeps_the_kept_rows(qtbot, window):
    view = window.views["image"]
    generate_and_wait(qtbot, window)
    first = view.canvas.image.copy()
    view.keep_rows.setValue(10)
    window.seed_spin.setValue(window.seed_spin.value() + 1)
    generate_and_wait(qtbot, window)
    second = view.canvas.image
    np.testing.assert_array_equal(second[:10], first[:10])
    assert len(window.trace) == 784 - 280 and window.trace[0].position == 280
    assert not np.array_equal(second[10:], first[10:])


def test_same_seed_same_image_and_png_round_trip(qtbot, window, tmp_path):
    view = window.views["image"]
    generate_and_wait(qtbot, window)
    first = view.canvas.image.copy()
    generate_and_wait(qtbot, window)
    np.testing.assert_array_equal(view.canvas.image, first)
    path = tmp_path / "digit.png"
    assert view.save_png(str(path))
    saved = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    assert (saved.width(), saved.height()) == (28, 28)
    pixels = np.array([[saved.pixelColor(c, r).red() for c in range(28)] for r in range(28)])
    np.testing.assert_array_equal(pixels, first)


def test_draw_erase_and_complete_a_drawing(qtbot, window):
    view = window.views["image"]
    canvas = view.canvas
    for index in (3 * 28 + 10, 4 * 28 + 10, 5 * 28 + 10):  # Shift+click draws a short stroke
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pixel_centre(canvas, index))
    assert canvas.image[3, 10] == canvas.image[4, 10] == 255 and canvas.image[4, 11] == 128
    qtbot.mouseClick(canvas, Qt.MouseButton.RightButton, pos=pixel_centre(canvas, 5 * 28 + 10))  # erase 3x3
    assert canvas.image[5, 10] == 0 and canvas.image[4, 10] == 0 and canvas.image[3, 10] == 255
    drawn = canvas.image.copy()
    view.keep_rows.setValue(14)
    generate_and_wait(qtbot, window)
    np.testing.assert_array_equal(canvas.image[:14], drawn[:14])
    assert window.trace[0].position == 14 * 28 and canvas.known == 784


def test_opening_a_non_image_changes_nothing(window, tmp_path):
    view = window.views["image"]
    before = view.canvas.image.copy()
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    assert not view.open_image(str(bad))
    assert "not an image" in view.note.text()
    np.testing.assert_array_equal(view.canvas.image, before)


def test_a_colour_image_of_another_size_is_converted_with_a_note(window, tmp_path):
    from PySide6.QtGui import QColor, QPainter

    picture = QImage(56, 40, QImage.Format.Format_RGB32)
    picture.fill(QColor(250, 250, 245))  # light paper
    painter = QPainter(picture)
    painter.fillRect(24, 5, 8, 30, QColor(20, 30, 120))  # a dark blue stroke: a "1"
    painter.end()
    path = tmp_path / "one.png"
    picture.save(str(path))
    view = window.views["image"]
    assert view.open_image(str(path))
    note = view.note.text()
    assert "colour converted to grey" in note and "56x40 fitted to 28x28" in note and "inverted" in note
    image = view.canvas.image
    assert image[14, 14] > 200 and image[14, 2] < 30  # the stroke is bright, the paper dark
    assert view.canvas.known == 784


def test_a_bad_text_prompt_does_not_block_image_mode(qtbot, tiny_image_models):
    w = MainWindow(tiny_image_models)
    qtbot.addWidget(w)
    w.show()
    w.prompt_edit.setPlainText("price: €5")
    assert not w.generate_button.isEnabled()
    w.mode_box.setCurrentIndex(w.mode_box.findData("image"))
    assert w.generate_button.isEnabled()
    w.mode_box.setCurrentIndex(w.mode_box.findData("text"))
    assert not w.generate_button.isEnabled() and w.prompt_message.isVisible()


def test_a_grid_of_digits_is_one_batch_and_each_image_is_its_own_single_run(qtbot, window, tmp_path):
    from arplayground import catalog
    from arplayground.core.generate import generate, each_step

    view = window.views["image"]
    view.grid_box.setCurrentIndex(view.grid_box.findText("digits 0-9, one each"))
    generate_and_wait(qtbot, window)
    canvas = view.canvas
    assert (canvas.rows, canvas.cols) == (2, 5) and canvas.images.shape == (10, 28, 28)
    assert len(window.trace) == 10 * 784 and canvas.known == 784
    assert window.stats_label.text().startswith("step 784 / 784 in each of 10 images")
    # Image 3 is what a single run of digit 3 with seed + 3 draws.
    entry = window.current_entry()
    settings = window.settings()
    single = [s.record.value for s in each_step(generate(catalog.load_stepper(entry), [], 784, lambda: settings, window.seed_spin.value() + 3, 3))]
    np.testing.assert_array_equal(canvas.images[3].reshape(-1), single)
    # A click on image 3 shows the distribution its pixel was drawn from.
    qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(canvas, 2 * 28 + 5, image=3))
    assert window.panel.title.text().startswith("image 4 (digit 3), pixel (2, 5)")
    raw, sampled, drawn = window.panel.levels
    assert drawn == canvas.images[3, 2, 5]
    np.testing.assert_allclose(sampled, window.trace.distributions((2 * 28 + 5) * 10 + 3)[1])  # position-major
    # Completion on a grid: every image starts from the clicked image's kept rows.
    kept = canvas.images[3, :6].copy()
    view.keep_rows.setValue(6)
    view.grid_box.setCurrentIndex(view.grid_box.findText("2 x 2"))
    generate_and_wait(qtbot, window)
    assert canvas.images.shape == (4, 28, 28) and len(window.trace) == 4 * (784 - 6 * 28)
    for image in canvas.images:
        np.testing.assert_array_equal(image[:6], kept)
    assert len({image.tobytes() for image in canvas.images}) == 4  # four different completions
    path = tmp_path / "grid.png"
    assert view.save_png(str(path))
    saved = QImage(str(path))
    assert (saved.width(), saved.height()) == (2 * 28 + 2, 2 * 28 + 2)


def test_level_bars_are_shaded_in_their_own_grey_and_as_tall_as_their_probability(qtbot):
    from arplayground.core.sampling import SamplerSettings
    from arplayground.gui.distribution_panel import DistributionPanel

    panel = DistributionPanel()
    qtbot.addWidget(panel)
    sampled = np.zeros(256)
    sampled[[0, 40, 200]] = [0.5, 0.3, 0.2]
    raw = np.full(256, 1 / 256)
    panel.show_levels("pixel (0, 0), step 1", raw, sampled, 40, 0.3, 1.0, SamplerSettings(1.0, 3, 1.0))
    bars = panel.level_bars
    image, top, rows = bars.image, bars.top, bars.ROWS  # (row from the bottom, level, RGBA)
    assert top >= 0.5 * 1.12  # room for the tallest bar and the marker above it
    for level, p in ((0, 0.5), (40, 0.3), (200, 0.2)):
        height = int(np.ceil(p / top * rows))
        column = image[:, level]
        assert (column[: height - 1, :3] == level).all() and (column[: height - 1, 3] == 255).all()
        assert column[height - 1, 3] == 255 and (column[height:, 3] == 0).all()  # a cap, then nothing
    assert (image[:, [1, 39, 255], 3] == 0).all()  # levels the sampler dropped have no bar


def test_the_level_axis_fits_a_shown_step_at_once_but_shrinks_lazily_while_streaming(qtbot):
    from arplayground.core.sampling import SamplerSettings
    from arplayground.gui.distribution_panel import DistributionPanel

    panel = DistributionPanel()
    qtbot.addWidget(panel)
    settings = SamplerSettings(1.0, 0, 1.0)
    peaked, broad = np.full(256, 0.01 / 255), np.full(256, 1 / 256)
    peaked[0] = 0.99

    def show(dist):
        panel.show_levels("pixel", dist, dist, 0, float(dist[0]), 1.0, settings)
        return panel.plot.viewRange()[1][1]

    panel.streaming = True
    tall = show(peaked)
    assert tall >= 0.99 and show(broad) == tall  # streaming: the axis is not re-laid out at once
    panel.streaming = False  # a step clicked or stepped to: its bars fill the plot
    assert show(broad) <= 0.1  # the smallest scale
    assert show(peaked) >= 0.99  # growing is always at once
