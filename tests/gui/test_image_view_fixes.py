"""Image mode defects a first-time user met (QA report 1, 2, 11, 13), through the real window."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from arplayground.gui.views.image import UNDRAWN
from tests.gui.helpers import click, generate_and_wait, open_window, pixel_centre


@pytest.fixture
def window(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    yield w
    w.runner.stop()


def on_screen(canvas, index: int, image: int = 0) -> tuple[int, int, int]:
    """The colour a person sees at the centre of one pixel: the widget painted for real."""
    colour = canvas.grab().toImage().pixelColor(pixel_centre(canvas, index, image))
    return colour.red(), colour.green(), colour.blue()


# ---------------------------------------------------------------- 1: the digit map before any run


def test_ticking_the_digit_map_before_any_run_leaves_the_canvas_whole_and_says_why(qtbot, window):
    view = window.views["image"]
    click(qtbot, view.digit_map_box)  # before the first run: there are no figures at all
    assert view.digit_map_box.isChecked()
    assert "needs a run drawn with guidance" in view.note.text()
    assert on_screen(view.canvas, 14 * 28 + 14) == UNDRAWN  # painted, not blank or crashed
    generate_and_wait(qtbot, window)  # still ticked: the run draws normally
    assert view.canvas.known == 784
    brightest = int(np.argmax(view.canvas.image))
    assert on_screen(view.canvas, brightest) == (view.canvas.image.reshape(-1)[brightest],) * 3


def test_a_failure_while_painting_the_canvas_leaves_no_painter_behind(qtbot, window, monkeypatch):
    canvas = window.views["image"].canvas

    def broken(image):
        raise RuntimeError("painting failed")

    monkeypatch.setattr(canvas, "image_origin", broken)
    with pytest.raises(RuntimeError, match="painting failed"):
        canvas.grab()
    monkeypatch.undo()
    # The painter was ended: the canvas paints again (an active one left behind crashed the app).
    assert on_screen(canvas, 0) == UNDRAWN


# ---------------------------------------------------------------- 13: no dimming with nothing to map


def test_a_digit_map_with_nothing_to_show_does_not_dim_the_digit(qtbot, window):
    view = window.views["image"]
    view.digit_box.setCurrentIndex(view.digit_box.findData(3))
    generate_and_wait(qtbot, window)  # guidance 1: no figures to map
    click(qtbot, view.digit_map_box)
    assert "needs a run drawn with guidance" in view.note.text()
    np.testing.assert_array_equal(view.canvas.rgb()[..., 0], view.canvas.image)  # full brightness
    brightest = int(np.argmax(view.canvas.image))
    assert on_screen(view.canvas, brightest) == (view.canvas.image.reshape(-1)[brightest],) * 3
    # Drawing over the run takes its map away; ticked again, no old figures come back.
    window.guidance.setValue(2.0)
    generate_and_wait(qtbot, window)
    assert np.isfinite(view.digit_bits).any() and view.canvas.overlay is not None
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pixel_centre(view.canvas, 3 * 28 + 3))
    click(qtbot, view.digit_map_box)
    assert view.digit_map_box.isChecked() and view.canvas.overlay is None
    np.testing.assert_array_equal(view.canvas.rgb()[..., 0], view.canvas.image)


# ---------------------------------------------------------------- 11: a grid's steps, per image


def test_a_grid_pixel_is_named_by_its_step_within_its_own_image(qtbot, window):
    view = window.views["image"]
    view.grid_box.setCurrentIndex(view.grid_box.findText("digits 0-9, one each"))
    generate_and_wait(qtbot, window)
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(view.canvas, 14 * 28 + 14, image=5))
    assert window.panel.title.text().startswith("image 6 (digit 5), pixel (14, 14), step 407 of 784: drew grey level")
    # With rows kept, each image draws only the rest, and counts from its first drawn pixel.
    view.keep_rows.setValue(6)
    view.grid_box.setCurrentIndex(view.grid_box.findText("2 x 2"))
    generate_and_wait(qtbot, window)
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(view.canvas, 6 * 28, image=3))
    assert window.panel.title.text().startswith(f"image 4 (digit any), pixel (6, 0), step 1 of {784 - 6 * 28}:")


# ---------------------------------------------------------------- 2: Open PNG… made like MNIST


def seven(width: int, height: int, paper: QColor, ink: QColor, left: int, top: int, size: int) -> QImage:
    """A hand-drawn-looking 7, `size` pixels tall, on a page."""
    picture = QImage(width, height, QImage.Format.Format_ARGB32)
    picture.fill(paper)
    painter = QPainter(picture)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(ink, max(2, size // 8), Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
    a, b, c = QPointF(left, top), QPointF(left + 0.7 * size, top), QPointF(left + 0.25 * size, top + size)
    painter.drawLine(a, b)
    painter.drawLine(b, c)
    painter.end()
    return picture


def on_textured_paper(picture: QImage) -> QImage:
    """The picture with the grain of a photographed page: noise on every pixel (seeded)."""
    rng = np.random.default_rng(0)
    out = picture.convertToFormat(QImage.Format.Format_RGB32)
    for y in range(out.height()):
        for x in range(0, out.width(), 1):
            c = out.pixelColor(x, y)
            n = int(rng.normal(0, 14))
            grey = max(0, min(255, c.red() + n))
            out.setPixelColor(x, y, QColor(grey, grey, grey))
    return out


def open_with_the_button(qtbot, view, monkeypatch, path) -> None:
    """Open PNG… as a person does, the file dialog answering with `path`."""
    monkeypatch.setattr("arplayground.gui.views.image.QFileDialog.getOpenFileName", lambda *a, **k: (str(path), ""))
    click(qtbot, view.open_button)


def assert_mnist_like(image: np.ndarray) -> None:
    """Bright ink on black, its larger side about 20 pixels, its centre of mass near the middle."""
    rows, cols = np.nonzero(image > 64)
    assert len(rows), "no ink on the canvas"
    assert 18 <= max(rows.max() - rows.min(), cols.max() - cols.min()) + 1 <= 21
    assert image.max() >= 250 and (image[0] == 0).all() and (image[:, 0] == 0).all() and image.mean() < 80
    centre = (np.indices(image.shape) * image).sum((1, 2)) / image.sum()
    assert np.all(np.abs(centre - 13.5) <= 1.5), centre


@pytest.mark.parametrize(
    "name, picture, said",
    [
        ("transparent", lambda: seven(200, 200, QColor(0, 0, 0, 0), QColor(0, 0, 0), 60, 50, 100),
         ["200x200", "transparent areas taken as paper", "inverted to light-on-dark"]),
        ("page", lambda: seven(2000, 1500, QColor(255, 255, 255), QColor(20, 20, 20), 1500, 1200, 120),
         ["2000x1500", "inverted to light-on-dark"]),
        ("wide", lambda: seven(600, 200, QColor(250, 248, 240), QColor(30, 30, 90), 30, 20, 40),
         ["600x200", "colour converted to grey", "inverted to light-on-dark"]),
        ("light_on_dark", lambda: seven(90, 300, QColor(0, 0, 0), QColor(255, 255, 255), 5, 240, 50), ["90x300"]),
        ("textured_paper", lambda: on_textured_paper(seven(400, 300, QColor(215, 215, 215), QColor(60, 60, 60), 250, 180, 60)),
         ["400x300", "inverted to light-on-dark"]),
    ],
)
def test_an_opened_picture_becomes_a_digit_the_size_and_place_of_mnist(qtbot, window, monkeypatch, tmp_path, name, picture, said):
    view = window.views["image"]
    path = tmp_path / f"{name}.png"
    assert picture().save(str(path))
    open_with_the_button(qtbot, view, monkeypatch, path)
    assert view.canvas.known == 784
    assert_mnist_like(view.canvas.image)
    assert_mnist_like(np.asarray(view.canvas.rgb()[..., 0]))  # and so it is on screen
    note = view.note.text()
    assert note.startswith(f"Opened {path}") and "ink cropped, scaled to fit 20x20 and centred" in note
    for words in said:
        assert words in note
    assert ("inverted" in note) == (name != "light_on_dark")
    assert (view.canvas.image == 0).mean() > 0.6  # paper is MNIST's exact black, grain and all


def test_a_picture_with_no_ink_is_refused_and_a_saved_digit_opens_as_it_was(qtbot, window, monkeypatch, tmp_path):
    view = window.views["image"]
    for index in range(6 * 28 + 10, 22 * 28 + 10, 28):  # a "1" drawn with Shift, on black as MNIST's
        qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, pixel_centre(view.canvas, index))
    before = view.canvas.image.copy()
    blank = QImage(300, 200, QImage.Format.Format_ARGB32)
    blank.fill(QColor(0, 0, 0, 0))  # all transparent: all paper
    assert blank.save(str(tmp_path / "blank.png"))
    open_with_the_button(qtbot, view, monkeypatch, tmp_path / "blank.png")
    assert "no ink" in view.note.text() and "Nothing changed" in view.note.text()
    np.testing.assert_array_equal(view.canvas.image, before)
    (tmp_path / "notes.png").write_text("not a picture")
    open_with_the_button(qtbot, view, monkeypatch, tmp_path / "notes.png")
    assert "not an image" in view.note.text() and "Nothing changed" in view.note.text()
    np.testing.assert_array_equal(view.canvas.image, before)
    # A digit saved at 28 x 28 is already MNIST's size: it comes back as it was, not refitted.
    assert view.save_png(str(tmp_path / "digit.png"))
    view.clear_button.click()
    open_with_the_button(qtbot, view, monkeypatch, tmp_path / "digit.png")
    np.testing.assert_array_equal(view.canvas.image, before)


def test_leaving_image_mode_drops_the_inspected_pixels_outline(qtbot, window):
    view = window.views["image"]
    generate_and_wait(qtbot, window)
    qtbot.mouseClick(view.canvas, Qt.MouseButton.LeftButton, pos=pixel_centre(view.canvas, 300))
    assert view.canvas.selected == (0, 300)
    window.mode_box.setCurrentIndex(window.mode_box.findData("text"))
    window.mode_box.setCurrentIndex(window.mode_box.findData("image"))
    assert view.canvas.selected is None  # its run is gone: no outline left on the image


def test_a_light_frame_on_two_edges_does_not_turn_a_light_digit_into_a_white_page(qtbot, window, monkeypatch, tmp_path):
    picture = seven(240, 240, QColor(0, 0, 0), QColor(255, 255, 255), 70, 60, 110)
    painter = QPainter(picture)  # a scan's light border along the top and left edges
    painter.fillRect(0, 0, 240, 4, QColor(230, 230, 230))
    painter.fillRect(0, 0, 4, 240, QColor(230, 230, 230))
    painter.end()
    assert picture.save(str(tmp_path / "framed.png"))
    view = window.views["image"]
    open_with_the_button(qtbot, view, monkeypatch, tmp_path / "framed.png")
    assert "inverted" not in view.note.text()  # the paper is the picture's median, not its edges'
    assert (view.canvas.image < 32).mean() > 0.7  # black paper, as MNIST's (was a white square)
