"""Image mode through the real window: the digit fills in raster order; pixels can be inspected; a
drawing or an opened picture is completed; grids; the digit map; what the canvas and the grey-level
bars look like on screen."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen

from arplayground.gui.views.image import UNDRAWN
from tests.gui.driver import WindowDriver, pixel_centre


@pytest.fixture
def d(qtbot, tiny_image_models):
    d = WindowDriver.open(qtbot, tiny_image_models, "image")
    yield d
    d.halt()


def test_image_mode_is_listed_only_with_an_image_model(qtbot, tiny_models, tiny_image_models):
    d = WindowDriver.open(qtbot, tiny_image_models, show=False)
    assert d.mode_lines() == ["Text", "Image"]


def test_generate_fills_all_784_pixels_in_raster_order(qtbot, d):
    view = d.view()
    assert d.display_shown() is view.canvas
    assert d.model() == "tiny-pixelcnn"
    d.choose_digit(3)
    d.generate_and_wait()
    assert d.steps() == 784
    assert d.column("position").tolist() == list(range(784))
    assert view.canvas.known == 784 and view.canvas.cursor_index is None
    np.testing.assert_array_equal(view.canvas.image.reshape(-1), d.values())
    assert "nats/pixel" in d.figures()
    assert d.panel_title().startswith("pixel (27, 27), step 784: drew grey level")


def test_clicking_a_pixel_shows_the_distribution_it_was_drawn_from(qtbot, d):
    d.generate_and_wait()
    index = 5 * 28 + 7
    d.click_pixel(index)
    assert d.panel_title().startswith("pixel (5, 7), step 148: drew grey level")
    raw, sampled, drawn = d.levels()
    assert drawn == d.record(index).value
    np.testing.assert_allclose(sampled, d.distributions(index)[1])  # the branch's own step
    assert sampled.sum() == pytest.approx(1.0, abs=0.02) and raw.sum() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_allclose(d.panel.level_bars.heights, sampled)


def test_completion_keeps_the_kept_rows(qtbot, d):
    view = d.view()
    d.generate_and_wait()
    first = view.canvas.image.copy()
    d.keep_rows(10)
    d.set_seed(d.seed() + 1)
    d.generate_and_wait()
    second = view.canvas.image
    np.testing.assert_array_equal(second[:10], first[:10])
    assert d.steps() == 784 - 280 and d.record(0).position == 280
    assert not np.array_equal(second[10:], first[10:])


def test_same_seed_same_image_and_png_round_trip(qtbot, d, tmp_path):
    view = d.view()
    d.generate_and_wait()
    first = view.canvas.image.copy()
    d.generate_and_wait()
    np.testing.assert_array_equal(view.canvas.image, first)
    path = tmp_path / "digit.png"
    assert view.save_png(str(path))
    saved = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    assert (saved.width(), saved.height()) == (28, 28)
    pixels = np.array([[saved.pixelColor(c, r).red() for c in range(28)] for r in range(28)])
    np.testing.assert_array_equal(pixels, first)


def test_draw_erase_and_complete_a_drawing(qtbot, d):
    canvas = d.view().canvas
    for index in (3 * 28 + 10, 4 * 28 + 10, 5 * 28 + 10):  # Shift+click draws a short stroke
        d.draw_pixel(index)
    assert canvas.image[3, 10] == canvas.image[4, 10] == 255 and canvas.image[4, 11] == 128
    d.erase_pixel(5 * 28 + 10)  # erase 3x3
    assert canvas.image[5, 10] == 0 and canvas.image[4, 10] == 0 and canvas.image[3, 10] == 255
    drawn = canvas.image.copy()
    d.keep_rows(14)
    d.generate_and_wait()
    np.testing.assert_array_equal(canvas.image[:14], drawn[:14])
    assert d.record(0).position == 14 * 28 and canvas.known == 784


def test_opening_a_non_image_changes_nothing(d, tmp_path):
    view = d.view()
    before = view.canvas.image.copy()
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    assert not view.open_image(str(bad))
    assert "not an image" in view.note.text()
    np.testing.assert_array_equal(view.canvas.image, before)


def test_a_colour_image_of_another_size_is_converted_with_a_note(d, tmp_path):
    picture = QImage(56, 40, QImage.Format.Format_RGB32)
    picture.fill(QColor(250, 250, 245))  # light paper
    painter = QPainter(picture)
    painter.fillRect(24, 5, 8, 30, QColor(20, 30, 120))  # a dark blue stroke: a "1"
    painter.end()
    path = tmp_path / "one.png"
    picture.save(str(path))
    view = d.view()
    assert view.open_image(str(path))
    note = view.note.text()
    assert "colour converted to grey" in note and "56x40 fitted to 28x28" in note and "inverted" in note
    image = view.canvas.image
    assert image[14, 14] > 200 and image[14, 2] < 30  # the stroke is bright, the paper dark
    assert view.canvas.known == 784


def test_a_bad_text_prompt_does_not_block_image_mode(qtbot, tiny_image_models):
    d = WindowDriver.open(qtbot, tiny_image_models)
    d.set_prompt("price: €5")
    assert not d.can("generate")
    d.choose_mode("image")
    assert d.can("generate")
    d.choose_mode("text")
    assert not d.can("generate") and d.prompt_message() is not None


def test_a_grid_of_digits_is_one_batch_and_each_image_is_its_own_single_run(qtbot, d, tmp_path):
    from arplayground import catalog
    from arplayground.core.generate import generate, each_step

    view = d.view()
    d.choose_grid("digits 0-9, one each")
    d.generate_and_wait()
    canvas = view.canvas
    assert (canvas.rows, canvas.cols) == (2, 5) and canvas.images.shape == (10, 28, 28)
    assert d.steps() == 10 * 784 and canvas.known == 784
    assert d.figures().startswith("step 784 / 784 in each of 10 images")
    # Image 3 is what a single run of digit 3 with seed + 3 draws.
    settings = d.settings()
    single = [s.record.value for s in each_step(generate(catalog.load_stepper(d.model_entry()), [], 784, lambda: settings, d.seed() + 3, 3))]
    np.testing.assert_array_equal(canvas.images[3].reshape(-1), single)
    # A click on image 3 shows the distribution its pixel was drawn from.
    d.click_pixel(2 * 28 + 5, image=3)
    assert d.panel_title().startswith("image 4 (digit 3), pixel (2, 5)")
    raw, sampled, drawn = d.levels()
    assert drawn == canvas.images[3, 2, 5]
    np.testing.assert_allclose(sampled, d.distributions((2 * 28 + 5) * 10 + 3)[1])  # position-major
    # Completion on a grid: every image starts from the clicked image's kept rows.
    kept = canvas.images[3, :6].copy()
    d.keep_rows(6)
    d.choose_grid("2 x 2")
    d.generate_and_wait()
    assert canvas.images.shape == (4, 28, 28) and d.steps() == 4 * (784 - 6 * 28)
    for image in canvas.images:
        np.testing.assert_array_equal(image[:6], kept)
    assert len({image.tobytes() for image in canvas.images}) == 4  # four different completions
    path = tmp_path / "grid.png"
    assert view.save_png(str(path))
    saved = QImage(str(path))
    assert (saved.width(), saved.height()) == (2 * 28 + 2, 2 * 28 + 2)


def test_a_grid_counts_steps_per_image_and_says_why_the_lab_is_off(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.choose_grid("2 x 2")
    d.generate_and_wait()
    assert d.figures().startswith("step 784 / 784 in each of 4 images")
    assert d.status() == "Done: 784 steps in each of 4 images"  # not 3,136 interleaved steps
    assert d.can("export") and "single run" not in d.tooltip("export")  # a grid exports as lanes
    assert "single run" in d.tooltip("back") and "single run" in d.tooltip("ab")
    d.choose_grid("one image")  # the buttons' own tips again
    d.step_times(1)
    assert d.status() in ("Paused", "Done: 1 step") and "single run" not in d.tooltip("back")
    d.click_stop()
    assert d.status() == "Stopped after 1 step"  # one step, not "1 steps"
    d.close()


def test_a_grids_timeline_counts_steps_per_image_and_plots_the_images_mean(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.choose_grid("2 x 2")
    d.generate_and_wait()
    entropy = d.column("entropy").reshape(784, 4)  # step-major: record i is image i % 4
    np.testing.assert_allclose(d.timeline_values(), entropy.mean(axis=1), rtol=1e-6)  # 784 points, not 3,136
    title = d.timeline.plot.getPlotItem().titleLabel
    assert title.isVisible() and "mean of the 4 images" in title.text
    assert d.timeline_position() == "step 784 of 784, image 4"
    d.show_step(100 * 4 + 2)  # step 101 of image 3
    assert d.timeline_position() == "step 101 of 784, image 3" and d.timeline_cursor() == 101
    assert "image 3 " in d.panel_title() and "step 101 of 784" in d.panel_title()
    d.play_timeline()  # plays image 3 to its end, not the interleaved records
    assert d.timeline_position() == "step 784 of 784, image 3" and d.shown_step() == 783 * 4 + 2
    d.choose_measure("running NLL (nats per step)")  # each image's own running mean
    surprisal = -np.log(d.column("prob").astype(np.float64).reshape(784, 4))
    each = np.cumsum(surprisal, axis=0) / np.arange(1, 785)[:, None]
    np.testing.assert_allclose(d.timeline_values(), each.mean(axis=1), rtol=1e-6)
    d.choose_grid("one image")  # a step is a point again, and no title
    d.generate_and_wait()
    assert len(d.timeline_values()) == 784 and d.timeline_position() == "step 784 of 784"
    assert not title.isVisible()
    d.close()


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


# ---------------------------------------------------------------- what a person sees on the canvas


def on_screen(canvas, index: int, image: int = 0) -> tuple[int, int, int]:
    """The colour a person sees at the centre of one pixel: the widget painted for real."""
    colour = canvas.grab().toImage().pixelColor(pixel_centre(canvas, index, image))
    return colour.red(), colour.green(), colour.blue()


def test_ticking_the_digit_map_before_any_run_leaves_the_canvas_whole_and_says_why(qtbot, d):
    view = d.view()
    d.click(view.digit_map_box)  # before the first run: there are no figures at all
    assert view.digit_map_box.isChecked()
    assert "needs a run drawn with guidance" in view.note.text()
    assert on_screen(view.canvas, 14 * 28 + 14) == UNDRAWN  # painted, not blank or crashed
    d.generate_and_wait()  # still ticked: the run draws normally
    assert view.canvas.known == 784
    brightest = int(np.argmax(view.canvas.image))
    assert on_screen(view.canvas, brightest) == (view.canvas.image.reshape(-1)[brightest],) * 3


def test_a_failure_while_painting_the_canvas_leaves_no_painter_behind(qtbot, d, monkeypatch):
    canvas = d.view().canvas

    def broken(image):
        raise RuntimeError("painting failed")

    monkeypatch.setattr(canvas, "image_origin", broken)
    with pytest.raises(RuntimeError, match="painting failed"):
        canvas.grab()
    monkeypatch.undo()
    # The painter was ended: the canvas paints again (an active one left behind crashed the app).
    assert on_screen(canvas, 0) == UNDRAWN


def test_a_digit_map_with_nothing_to_show_does_not_dim_the_digit(qtbot, d):
    view = d.view()
    d.choose_digit(3)
    d.generate_and_wait()  # guidance 1: no figures to map
    d.click(view.digit_map_box)
    assert "needs a run drawn with guidance" in view.note.text()
    np.testing.assert_array_equal(view.canvas.rgb()[..., 0], view.canvas.image)  # full brightness
    brightest = int(np.argmax(view.canvas.image))
    assert on_screen(view.canvas, brightest) == (view.canvas.image.reshape(-1)[brightest],) * 3
    # Drawing over the run takes its map away; ticked again, no old figures come back.
    d.set_guidance(2.0)
    d.generate_and_wait()
    assert np.isfinite(view.digit_bits).any() and view.canvas.overlay is not None
    d.draw_pixel(3 * 28 + 3)
    d.click(view.digit_map_box)
    assert view.digit_map_box.isChecked() and view.canvas.overlay is None
    np.testing.assert_array_equal(view.canvas.rgb()[..., 0], view.canvas.image)


def test_a_grid_pixel_is_named_by_its_step_within_its_own_image(qtbot, d):
    d.choose_grid("digits 0-9, one each")
    d.generate_and_wait()
    d.click_pixel(14 * 28 + 14, image=5)
    assert d.panel_title().startswith("image 6 (digit 5), pixel (14, 14), step 407 of 784: drew grey level")
    # With rows kept, each image draws only the rest, and counts from its first drawn pixel.
    d.keep_rows(6)
    d.choose_grid("2 x 2")
    d.generate_and_wait()
    d.click_pixel(6 * 28, image=3)
    assert d.panel_title().startswith(f"image 4 (digit any), pixel (6, 0), step 1 of {784 - 6 * 28}:")


def test_leaving_image_mode_drops_the_inspected_pixels_outline(qtbot, d):
    view = d.view()
    d.generate_and_wait()
    d.click_pixel(300)
    assert view.canvas.selected == (0, 300)
    d.choose_mode("text")
    d.choose_mode("image")
    assert view.canvas.selected is None  # its run is gone: no outline left on the image


def test_bright_grey_level_bars_are_outlined_on_the_white_plot_and_the_legend_matches(qtbot, d):
    from arplayground.core.sampling import SamplerSettings
    from arplayground.core.vocab import GreyLevels

    d.generate_and_wait()
    panel = d.panel
    raw = np.full(256, 1 / 256)
    sampled = np.zeros(256)
    sampled[240:256] = 1 / 16  # all the mass on bright levels, as on a stroke's pixel
    panel.show_levels("pixel (14, 14), step 407", raw, sampled, 250, 1 / 16, 2.7, SamplerSettings(top_k=16), vocab=GreyLevels())
    qtbot.wait(50)
    image = panel.plot.grab().toImage()
    vb = panel.plot.getPlotItem().vb

    def grey_at(x, y):
        point = panel.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
        return QImage.pixelColor(image, point.x(), point.y()).lightness()

    mid = sampled.max() / 2
    row = [grey_at(x, mid) for x in np.linspace(237.0, 242.0, 40)]  # across the block's left side
    assert min(row) < 120, row  # a dark edge: was white bars (240+) on white
    right = [grey_at(x, mid) for x in np.linspace(254.0, 256.0, 20)]
    assert min(right) < 120, right
    assert grey_at(248.0, mid) > 200  # inside, each bar keeps its own (bright) grey
    # The legend's "after sampler" swatch: black to white, as the bars are, not one mid-grey.
    sample = next(s for s, label in panel.legend.items if label.text == "after sampler")
    swatch = QImage(22, 22, QImage.Format.Format_RGB32)
    swatch.fill(0xFFFFFF)
    painter = QPainter(swatch)
    sample.paint(painter)
    painter.end()
    assert swatch.pixelColor(4, 15).lightness() < 60 and swatch.pixelColor(18, 15).lightness() > 200


# ---------------------------------------------------------------- Open PNG… made like MNIST


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
def test_an_opened_picture_becomes_a_digit_the_size_and_place_of_mnist(qtbot, d, tmp_path, name, picture, said):
    view = d.view()
    path = tmp_path / f"{name}.png"
    assert picture().save(str(path))
    d.open_picture(path)
    assert view.canvas.known == 784
    assert_mnist_like(view.canvas.image)
    assert_mnist_like(np.asarray(view.canvas.rgb()[..., 0]))  # and so it is on screen
    note = view.note.text()
    assert note.startswith(f"Opened {path}") and "ink cropped, scaled to fit 20x20 and centred" in note
    for words in said:
        assert words in note
    assert ("inverted" in note) == (name != "light_on_dark")
    assert (view.canvas.image == 0).mean() > 0.6  # paper is MNIST's exact black, grain and all


def test_a_picture_with_no_ink_is_refused_and_a_saved_digit_opens_as_it_was(qtbot, d, tmp_path):
    view = d.view()
    for index in range(6 * 28 + 10, 22 * 28 + 10, 28):  # a "1" drawn with Shift, on black as MNIST's
        d.draw_pixel(index)
    before = view.canvas.image.copy()
    blank = QImage(300, 200, QImage.Format.Format_ARGB32)
    blank.fill(QColor(0, 0, 0, 0))  # all transparent: all paper
    assert blank.save(str(tmp_path / "blank.png"))
    d.open_picture(tmp_path / "blank.png")
    assert "no ink" in view.note.text() and "Nothing changed" in view.note.text()
    np.testing.assert_array_equal(view.canvas.image, before)
    (tmp_path / "notes.png").write_text("not a picture")
    d.open_picture(tmp_path / "notes.png")
    assert "not an image" in view.note.text() and "Nothing changed" in view.note.text()
    np.testing.assert_array_equal(view.canvas.image, before)
    # A digit saved at 28 x 28 is already MNIST's size: it comes back as it was, not refitted.
    assert view.save_png(str(tmp_path / "digit.png"))
    d.click(view.clear_button)
    d.open_picture(tmp_path / "digit.png")
    np.testing.assert_array_equal(view.canvas.image, before)


def test_a_light_frame_on_two_edges_does_not_turn_a_light_digit_into_a_white_page(qtbot, d, tmp_path):
    picture = seven(240, 240, QColor(0, 0, 0), QColor(255, 255, 255), 70, 60, 110)
    painter = QPainter(picture)  # a scan's light border along the top and left edges
    painter.fillRect(0, 0, 240, 4, QColor(230, 230, 230))
    painter.fillRect(0, 0, 4, 240, QColor(230, 230, 230))
    painter.end()
    assert picture.save(str(tmp_path / "framed.png"))
    view = d.view()
    d.open_picture(tmp_path / "framed.png")
    assert "inverted" not in view.note.text()  # the paper is the picture's median, not its edges'
    assert (view.canvas.image < 32).mean() > 0.7  # black paper, as MNIST's (was a white square)
