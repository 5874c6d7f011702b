"""Image files for Image mode: a picture opened as an MNIST digit, and digits saved as a grey PNG.

Qt decodes and encodes the files and does the smooth downscale; the rest (grey, paper and ink,
the box, the centring) is core.digit_image's numpy. Every file opened is someone else's: one that
is not a picture, or holds no ink, is refused with a reason and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
from PySide6.QtGui import QImage

from arplayground.core import digit_image
from arplayground.core.files import replacing


class ImageFileError(Exception):
    """Why a picture could not be opened or saved, for the user (ends without a full stop)."""


@dataclass
class OpenedDigit:
    pixels: np.ndarray  # (28, 28) uint8, light ink on black
    notes: list[str]  # what was done to the picture (converted, inverted, fitted)


def grey_pixels(qimage: QImage) -> np.ndarray:
    """A Grayscale8 image's pixels, (H, W) uint8 (its rows are padded to 4 bytes)."""
    w, h, stride = qimage.width(), qimage.height(), qimage.bytesPerLine()
    return np.frombuffer(qimage.constBits(), np.uint8, count=stride * h).reshape(h, stride)[:, :w].copy()


def grey_qimage(grey: np.ndarray) -> QImage:
    """A Grayscale8 QImage of (H, W) uint8 shades, owning its pixels."""
    grey = np.ascontiguousarray(grey, np.uint8)
    h, w = grey.shape
    return QImage(grey.data, w, h, w, QImage.Format.Format_Grayscale8).copy()


def fit_like_mnist(ink: np.ndarray) -> np.ndarray:
    """(28, 28) uint8 digit from ink (H, W; 0 = paper) the way MNIST was made: the ink's bounding
    box scaled to fit 20 x 20 keeping its aspect ratio, then its centre of mass put in the middle."""
    box = digit_image.ink_box(ink)
    h, w = box.shape
    small = QImage(box.data, w, h, w, QImage.Format.Format_Grayscale8).scaled(
        *digit_image.box_size(h, w), Qt.AspectRatioMode.IgnoreAspectRatio,
        Qt.TransformationMode.SmoothTransformation).convertToFormat(QImage.Format.Format_Grayscale8)
    return digit_image.centred(grey_pixels(small))


def read_digit(path: str) -> OpenedDigit:
    """The picture at `path` as an MNIST digit. Raises ImageFileError: not a picture Qt reads, or
    no ink on its paper."""
    qimage = QImage(path)
    if qimage.isNull():
        raise ImageFileError(f"Could not open {path}: not an image file this app can read")
    w, h = qimage.width(), qimage.height()
    argb = qimage.convertToFormat(QImage.Format.Format_ARGB32)  # one 0xAARRGGBB word per pixel
    words = np.frombuffer(argb.constBits(), np.uint32, count=w * h).reshape(h, w)
    read = digit_image.ink_of(words)
    if not read.found:
        raise ImageFileError(f"Found no digit in {path}: it is all one shade, with no ink on its paper")
    if (w, h) == (digit_image.SIZE, digit_image.SIZE):  # already MNIST's size (a saved digit, say): used as it is
        return OpenedDigit(read.as_digit(), read.notes)
    fitted = f"{w}x{h} fitted to 28x28 as MNIST digits are: ink cropped, scaled to fit 20x20 and centred"
    return OpenedDigit(fit_like_mnist(read.ink), read.notes + [fitted])


def encode_png(grey: np.ndarray) -> bytes:
    """(H, W) uint8 shades as the bytes of a grey PNG. Raises ImageFileError if Qt cannot encode it."""
    encoded = QByteArray()
    buffer = QBuffer(encoded)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not grey_qimage(grey).save(buffer, "PNG"):
        raise ImageFileError("the image could not be encoded")
    return encoded.data()


def write_png(path: str, grey: np.ndarray) -> None:
    """Save (H, W) uint8 shades as a grey PNG: encoded in memory, then written beside the target and
    renamed over it, so a failed write leaves the old file whole. (Qt's PNG writer reports success
    on a full disk, so Python writes.) Raises ImageFileError (not encoded) or OSError (not written)."""
    data = encode_png(grey)
    with replacing(path) as temporary, open(temporary, "wb") as f:
        f.write(data)
