"""A picture (any size, colour, transparency, dark or light paper) made into an MNIST digit: the
arithmetic of it, on numpy arrays. No Qt: decoding the file and the smooth downscale are the GUI's
(gui.image_files), which hands this module the picture's pixels and gets back what to show.

MNIST digits are 28 x 28, light ink on black, the ink's bounding box scaled to fit 20 x 20 and its
centre of mass in the middle; a picture is turned into that the way MNIST was made.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SIZE = 28  # an MNIST digit is SIZE x SIZE
BOX = 20  # the ink's bounding box is scaled to fit BOX x BOX
MIN_INK = 32  # a picture whose strongest ink (0-255 above the paper) is fainter holds no digit
GRAIN_SPREADS = 6  # ink must stand this many median absolute deviations of the paper above it


@dataclass
class Ink:
    """A picture read as ink on paper."""

    grey: np.ndarray  # (H, W) float32 shades, 0-255, transparency made paper
    ink: np.ndarray  # (H, W) float32 ink above the paper and its grain: 0 is paper
    inverted: bool  # dark ink on light paper (MNIST's is light on black)
    notes: list[str] = field(default_factory=list)  # what was done to it, for the user

    @property
    def found(self) -> bool:
        """Whether there is a digit to take: ink, not one shade all over."""
        return bool(self.ink.max() >= MIN_INK)

    def as_digit(self) -> np.ndarray:
        """The shades as they are, light ink on black: for a picture already SIZE x SIZE (a
        saved digit), which is used without cropping or scaling."""
        return np.round(255 - self.grey if self.inverted else self.grey).astype(np.uint8)


def channels(words: np.ndarray) -> tuple[np.ndarray, ...]:
    """(alpha, red, green, blue) as float32 0-255 from (H, W) 0xAARRGGBB words."""
    words = np.asarray(words, np.uint32)
    return tuple(((words >> shift) & 255).astype(np.float32) for shift in (24, 16, 8, 0))


def ink_of(words: np.ndarray) -> Ink:
    """Read (H, W) 0xAARRGGBB pixels as ink on paper."""
    alpha, red, green, blue = channels(words)
    # Said only where colour was dropped: a pixel (one that shows: not fully transparent) whose
    # channels differ. Not from the file's format: a grey picture saved with a palette (as PNG
    # optimisers write it) is not a "grayscale" QImage, and was reported converted.
    colour = bool(np.any(((red != green) | (green != blue)) & (alpha > 0)))
    notes = ["colour converted to grey"] if colour else []
    grey, alpha = (11 * red + 16 * green + 5 * blue) / 32, alpha / 255  # Qt's qGray()
    if alpha.min() < 1:  # transparency is paper, not ink: paper of the shade that sets off what is drawn
        drawn_shade = (grey * alpha).sum() / max(alpha.sum(), 1e-6)  # mostly dark ink: white paper
        grey = grey * alpha + (0.0 if drawn_shade > 127 else 255.0) * (1 - alpha)
        notes.append("transparent areas taken as paper")
    # A digit is mostly paper: the median pixel is the paper's shade (a frame or a dark edge
    # along the border does not fool it, as it fooled a median of the edges).
    paper = float(np.median(grey))
    inverted = paper > 127  # dark ink on light paper: MNIST digits are light ink on black
    ink = np.clip(paper - grey if inverted else grey - paper, 0, None)
    # Textured paper (a photo, a scan) is not ink: take off a floor well above its grain,
    # from the spread of the paper's own pixels (median absolute deviation), so MNIST's
    # black background stays 0 and the box fits the strokes, not the page.
    grain = float(np.median(np.abs(grey - paper)))
    ink = np.clip(ink - GRAIN_SPREADS * grain, 0, None)
    if inverted:
        notes.append("inverted to light-on-dark like MNIST")
    return Ink(grey=grey, ink=ink, inverted=inverted, notes=notes)


def ink_box(ink: np.ndarray) -> np.ndarray:
    """The ink's bounding box, (h, w) uint8 with its strongest ink 255. Faint specks and noise (a
    quarter of the strongest ink or less) do not widen the box. The ink must be found (Ink.found)."""
    rows, cols = np.nonzero(ink > ink.max() / 4)
    return np.ascontiguousarray(ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] * (255 / ink.max()), np.uint8)


def box_size(height: int, width: int) -> tuple[int, int]:
    """(width, height) a box is scaled to: fitting BOX x BOX, its aspect ratio kept, at least 1."""
    scale = BOX / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def centred(small: np.ndarray) -> np.ndarray:
    """(SIZE, SIZE) uint8 digit from the scaled box (at most BOX x BOX): full ink again, its centre
    of mass in the middle (kept inside the frame)."""
    digit = np.asarray(small).astype(np.float32)
    digit *= 255 / max(float(digit.max()), 1.0)  # a thin stroke shrunk from a large page turns faint: full ink again
    cy, cx = (np.indices(digit.shape) * digit).sum((1, 2)) / digit.sum()
    top = int(np.clip(round(13.5 - cy), 0, SIZE - digit.shape[0]))
    left = int(np.clip(round(13.5 - cx), 0, SIZE - digit.shape[1]))
    out = np.zeros((SIZE, SIZE), np.uint8)
    out[top : top + digit.shape[0], left : left + digit.shape[1]] = np.round(digit)
    return out
