"""gui.image_files: pictures opened as MNIST digits (Qt decodes and scales) and grey PNGs saved
whole or not at all, without a window."""

import errno

import numpy as np
import pytest
from PySide6.QtGui import QColor, QImage, QPainter

from arplayground.gui import image_files
from arplayground.gui.image_files import (
    ImageFileError,
    encode_png,
    fit_like_mnist,
    grey_pixels,
    grey_qimage,
    read_digit,
    write_png,
)


def digit_like() -> np.ndarray:
    """A 28 x 28 light stroke on black, as a saved digit is."""
    out = np.zeros((28, 28), np.uint8)
    out[6:22, 12:16] = 255
    out[6:9, 8:16] = 180
    return out


def test_a_grey_image_round_trips_through_qimage_with_its_padded_rows():
    grey = np.arange(27 * 5, dtype=np.uint8).reshape(5, 27)  # 27 wide: each row padded to 28 bytes
    image = grey_qimage(grey)
    assert image.format() == QImage.Format.Format_Grayscale8 and image.bytesPerLine() == 28
    np.testing.assert_array_equal(grey_pixels(image), grey)


def test_a_saved_digit_opens_as_it_was(tmp_path):
    path = str(tmp_path / "digit.png")
    write_png(path, digit_like())
    opened = read_digit(path)
    np.testing.assert_array_equal(opened.pixels, digit_like())
    assert opened.notes == []  # grey, 28 x 28, light on black: nothing done to it


def test_a_grey_picture_saved_with_a_palette_is_not_reported_as_colour_converted(qtbot, tmp_path):
    picture = QImage(60, 40, QImage.Format.Format_RGB32)
    picture.fill(QColor(240, 240, 240))
    painter = QPainter(picture)
    painter.fillRect(20, 5, 10, 30, QColor(30, 30, 30))
    painter.end()
    path = str(tmp_path / "palette.png")
    assert picture.convertToFormat(QImage.Format.Format_Indexed8).save(path)  # as PNG optimisers write grey
    assert not QImage(path).isGrayscale()  # Qt's test: a palette that is not a full grey ramp
    assert read_digit(path).notes[0] == "inverted to light-on-dark like MNIST"  # was "colour converted to grey" first


def test_a_large_dark_on_light_colour_picture_is_fitted_like_mnist(qtbot, tmp_path):
    picture = QImage(300, 200, QImage.Format.Format_RGB32)
    picture.fill(QColor(250, 245, 235))  # cream paper
    painter = QPainter(picture)
    painter.fillRect(100, 40, 30, 120, QColor(20, 20, 120))  # a dark blue stroke
    painter.end()
    path = str(tmp_path / "photo.png")
    assert picture.save(path)
    opened = read_digit(path)
    assert opened.notes == ["colour converted to grey", "inverted to light-on-dark like MNIST",
                            "300x200 fitted to 28x28 as MNIST digits are: ink cropped, scaled to fit 20x20 and centred"]
    rows, cols = np.nonzero(opened.pixels > 128)
    assert rows.max() - rows.min() + 1 == 20  # the stroke's height scaled to 20
    assert opened.pixels.max() == 255 and opened.pixels[0].max() == 0


def test_fit_like_mnist_puts_the_ink_box_in_20_by_20_at_the_centre_of_mass():
    ink = np.zeros((400, 100), np.float32)
    ink[50:350, 10:60] = 90.0
    digit = fit_like_mnist(ink)
    rows, cols = np.nonzero(digit)
    assert rows.max() - rows.min() + 1 <= 20 and cols.max() - cols.min() + 1 <= 20
    cy, cx = (np.indices(digit.shape) * digit.astype(float)).sum((1, 2)) / digit.sum()
    assert cy == pytest.approx(13.5, abs=0.6) and cx == pytest.approx(13.5, abs=0.6)


def test_what_is_not_a_picture_or_holds_no_ink_is_refused_with_the_reason(qtbot, tmp_path):
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    with pytest.raises(ImageFileError) as refused:
        read_digit(str(notes))
    assert str(refused.value) == f"Could not open {notes}: not an image file this app can read"
    blank = QImage(50, 40, QImage.Format.Format_RGB32)
    blank.fill(QColor(200, 200, 200))
    assert blank.save(str(tmp_path / "blank.png"))
    with pytest.raises(ImageFileError, match="Found no digit in .*blank.png: it is all one shade"):
        read_digit(str(tmp_path / "blank.png"))
    with pytest.raises(ImageFileError, match="not an image file"):
        read_digit(str(tmp_path / "missing.png"))


def test_a_grid_mosaic_encodes_as_a_grey_png():
    mosaic = np.full((58, 88), 128, np.uint8)
    data = encode_png(mosaic)
    assert data[:4] == b"\x89PNG"
    image = QImage.fromData(data)
    assert (image.width(), image.height()) == (88, 58) and image.isGrayscale()


class FullDisk:
    """A file being written on a disk that is full."""

    def __init__(self, path, mode):
        self.file = open(path, mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_that_fails_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "digit.png"
    path.write_bytes(b"old")
    monkeypatch.setattr(image_files, "open", FullDisk, raising=False)  # what write_png opens
    with pytest.raises(OSError) as failed:
        write_png(str(path), digit_like())
    monkeypatch.undo()
    assert failed.value.errno == errno.ENOSPC
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digit.png"]  # no temporary file left
