"""Image mode through the real window: the digit fills in raster order; pixels can be inspected."""

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage

from arplayground.gui.main_window import MainWindow


@pytest.fixture
def window(qtbot, tiny_image_models):
    w = MainWindow(tiny_image_models)
    qtbot.addWidget(w)
    w.show()
    w.mode_box.setCurrentIndex(w.mode_box.findData("image"))
    yield w
    w.runner.stop()


def generate_and_wait(qtbot, w):
    qtbot.mouseClick(w.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.is_running() and w.generate_button.isEnabled(), timeout=60_000)


def pixel_centre(canvas, index):
    left, top, cell = canvas.cell_rect()
    r, c = divmod(index, canvas.W)
    return QPoint(left + c * cell + cell // 2, top + r * cell + cell // 2)


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
    np.testing.assert_allclose(sampled, view.sampled[index].astype(float))
    assert sampled.sum() == pytest.approx(1.0, abs=0.02) and raw.sum() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(window.panel.level_bars.opts["height"], sampled)


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
