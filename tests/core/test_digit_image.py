"""core.digit_image: a picture's pixels read as ink on paper and placed as MNIST places a digit.
Plain numpy, no Qt (gui.image_files decodes the file and scales the box)."""

import numpy as np
import pytest

from arplayground.core import digit_image
from arplayground.core.digit_image import Ink, box_size, centred, ink_box, ink_of


def argb(grey, alpha=None) -> np.ndarray:
    """(H, W) 0xAARRGGBB words of grey shades (0-255), opaque unless alpha is given."""
    grey = np.asarray(grey, np.uint32)
    alpha = np.full_like(grey, 255) if alpha is None else np.asarray(alpha, np.uint32)
    return (alpha << 24) | (grey << 16) | (grey << 8) | grey


def page(height=40, width=60, paper=255, ink=0) -> np.ndarray:
    """A bar of ink on paper, rows 10..29, columns 20..29."""
    shades = np.full((height, width), paper, np.uint32)
    shades[10:30, 20:30] = ink
    return shades


def test_dark_ink_on_light_paper_is_inverted_to_light_ink_on_black():
    read = ink_of(argb(page()))
    assert read.inverted and read.found
    assert read.notes == ["inverted to light-on-dark like MNIST"]
    assert read.ink[10:30, 20:30].min() == 255 and read.ink.sum() == 255 * 200  # only the bar is ink
    np.testing.assert_array_equal(read.as_digit(), 255 - page())


def test_light_ink_on_black_is_taken_as_it_is():
    read = ink_of(argb(page(paper=0, ink=200)))
    assert not read.inverted and read.notes == []
    assert read.ink.max() == 200
    np.testing.assert_array_equal(read.as_digit(), page(paper=0, ink=200))


def test_a_colour_picture_is_made_grey_as_qt_does_and_says_so():
    red = np.full((4, 4), 0xFF_C8_00_00, np.uint32)  # opaque pure red, 200
    read = ink_of(red)
    assert read.notes[0] == "colour converted to grey"
    np.testing.assert_allclose(read.grey, 11 * 200 / 32)  # qGray(): (11 r + 16 g + 5 b) / 32


def test_grey_pixels_are_not_reported_as_colour_converted_whatever_the_transparent_ones_hold():
    words = argb(page())  # every channel equal
    assert "colour converted to grey" not in ink_of(words).notes
    hidden = words.copy()
    hidden[0, 0] = 0x00_FF_00_00  # fully transparent red: never seen, not colour
    assert "colour converted to grey" not in ink_of(hidden).notes
    tinted = words.copy()
    tinted[0, 0] = 0xFF_F0_F0_F1  # one visible pixel a shade off grey: colour, and said
    assert ink_of(tinted).notes[0] == "colour converted to grey"


def test_transparency_is_paper_of_the_shade_that_sets_off_the_ink():
    # Dark strokes on a transparent page: the page becomes white, so the strokes are the ink.
    alpha = np.where(page(paper=0, ink=255) > 0, 255, 0)
    read = ink_of(argb(np.zeros((40, 60)), alpha))
    assert "transparent areas taken as paper" in read.notes and read.inverted
    assert read.ink[10:30, 20:30].min() == 255 and read.ink[0].max() == 0
    # Light strokes on a transparent page: a black page.
    read = ink_of(argb(np.full((40, 60), 255), alpha))
    assert not read.inverted and read.ink[10:30, 20:30].min() == 255 and read.ink[0].max() == 0


def test_the_papers_grain_is_not_ink():
    rng = np.random.default_rng(0)
    grainy = np.clip(page(ink=40) + rng.integers(-12, 1, (40, 60)), 0, 255)  # paper 243..255, ink ~30
    read = ink_of(argb(grainy))
    assert read.found and read.ink[:10].max() == 0 and read.ink[30:].max() == 0  # the page: no ink at all
    assert read.ink[10:30, 20:30].min() > 0


def test_one_shade_all_over_holds_no_digit():
    assert not ink_of(argb(np.full((30, 30), 128))).found
    faint = page(paper=0, ink=digit_image.MIN_INK - 1)
    assert not ink_of(argb(faint)).found
    assert ink_of(argb(page(paper=0, ink=digit_image.MIN_INK))).found


def test_the_box_fits_the_strong_ink_and_ignores_faint_specks():
    ink = np.zeros((50, 50), np.float32)
    ink[10:20, 30:35] = 100.0
    ink[0, 0] = 25.0  # a speck: a quarter of the strongest ink
    box = ink_box(ink)
    assert box.shape == (10, 5) and box.dtype == np.uint8 and box.flags.c_contiguous
    assert box.max() == 255


@pytest.mark.parametrize("height, width, expected", [
    (100, 50, (10, 20)), (50, 100, (20, 10)), (20, 20, (20, 20)), (3, 1000, (20, 1)), (7, 7, (20, 20)),
])
def test_a_box_is_scaled_to_fit_20_by_20_keeping_its_shape(height, width, expected):
    assert box_size(height, width) == expected


def test_the_digit_is_placed_by_its_centre_of_mass_and_at_full_ink():
    square = np.full((20, 20), 100, np.uint8)
    digit = centred(square)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    assert digit.max() == 255  # faint after scaling: full ink again
    rows, cols = np.nonzero(digit)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 23, 4, 23)
    # Mass at one end of the box: the box moves so that the mass is in the middle, inside the frame.
    heavy = np.zeros((20, 4), np.uint8)
    heavy[:2] = 200
    rows, cols = np.nonzero(centred(heavy))
    assert cols.min() == 12  # columns: its centre (1.5 in) at 13.5
    assert rows.min() == 8  # rows: its centre would go to 13.5, but the box stays inside the frame
    bottom = np.zeros((20, 20), np.uint8)
    bottom[-1] = 255
    rows, _ = np.nonzero(centred(bottom))
    assert rows.tolist() == [19] * 20  # the box as high as the frame allows: at its top


def test_ink_keeps_what_it_was_given():
    grey, ink = np.zeros((2, 2), np.float32), np.ones((2, 2), np.float32)
    read = Ink(grey=grey, ink=ink, inverted=False)
    assert read.notes == [] and read.grey is grey and read.ink is ink
