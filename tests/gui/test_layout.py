"""The window's layout on the laptop screens people have (1280 x 800, 1366 x 768): it fits, in every
mode and with each pane shown, nothing in it is cut off, and notes never move the controls."""

import pytest
from PySide6.QtGui import QImage, QPainter

from tests.gui.driver import WindowDriver, cut_off, position_in

# A screen's size, and the height a window gets there under a title bar and a panel (768 - 68).
SCREENS = {"1280x800": (1280, 800 - 68), "1366x768": (1366, 768 - 68)}
MODES = ("text", "image", "audio")


def show_pane(d, pane: str | None) -> None:
    """A short run, then the pane a person would open on it: Score's figures or What it sees."""
    if d.mode == "audio":
        d.wait_for_sound_check()  # its verdict is a note of its own, which makes the controls taller
    d.set_run_length(text_steps=30, audio_samples=400)
    d.generate_and_wait()
    if pane == "score":
        d.score()
        assert d.score_shown()
    elif pane == "sees":
        d.click_output(3)
        d.show_what_it_sees()
        d.wait_for_field()
        assert d.sees_panel_shown()


@pytest.mark.parametrize("pane", [None, "score", "sees"])
@pytest.mark.parametrize("mode", MODES)
def test_the_window_fits_both_laptop_screens_with_nothing_cut_off(qtbot, all_models, mode, pane):
    d = WindowDriver.open(qtbot, all_models, mode)
    show_pane(d, pane)
    for screen, (width, height) in SCREENS.items():
        smallest = d.window.minimumSizeHint()
        assert smallest.width() <= width and smallest.height() <= height, (screen, smallest)
        d.window.resize(width, height)
        qtbot.wait(30)  # laid out (and the plots' views resized) before anything is measured
        assert d.window.size().width() == width and d.window.size().height() == height, screen
        problems = cut_off(d.window)
        assert not problems, f"{screen}: " + "; ".join(problems)
    d.close()


def test_the_right_column_keeps_a_margin_from_the_window_edge(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.window.resize(1366, 700)
    qtbot.wait(30)
    right_edge = d.window.width()
    for widget in (d.window.panel.plot, d.window.timeline.plot, d.window.text_pane):
        x, _ = position_in(d.window, widget)
        assert right_edge - (x + widget.width()) >= 8, widget
    d.close()


def test_the_image_canvas_scales_with_its_pane_in_whole_pixels(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    canvas = d.view().canvas
    cells = []
    for height in (700, 1000):
        d.window.resize(1366, height)
        qtbot.wait(30)
        left, top, cell = canvas.cell_rect()
        assert cell == min(canvas.width() // 28, canvas.height() // 28)  # as large as fits, whole pixels
        cells.append(cell)
    assert cells[1] > cells[0]
    d.close()


def test_the_text_pane_shows_as_many_lines_as_its_room_at_1366x768(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.window.resize(*SCREENS["1366x768"])
    qtbot.wait(30)
    pane = d.window.text_pane
    lines = pane.viewport().height() // pane.fontMetrics().lineSpacing()
    # The panel below is at its smallest; the display has the rest of the column.
    assert d.window.panel.height() <= d.window.panel.minimumSizeHint().height() + 60
    assert lines >= 8, lines
    d.close()


def test_a_note_appearing_or_clearing_moves_no_control(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=20)
    d.generate_and_wait()
    w = d.window
    controls = (w.generate_button, w.pause_button, w.temperature, w.speed_slider)
    before = [position_in(w, c) for c in controls]
    view = d.view()
    assert view.save_text(str(tmp_path / "a.txt")) and view.note.text().startswith("Saved ")
    qtbot.wait(10)
    assert [position_in(w, c) for c in controls] == before
    long_note = "Could not save " + "/very/long/folder" * 30 + ": No space left on device"
    view.note.setText(long_note)  # longer than its two lines: elided, whole in its tooltip
    qtbot.wait(10)
    assert [position_in(w, c) for c in controls] == before
    assert view.note.shown_text().endswith("…") and view.note.toolTip() == long_note
    w.sampler.show_note("top-k 100 is more than the vocabulary: using 65")  # the sampler's own note
    qtbot.wait(10)
    assert [position_in(w, c) for c in controls] == before
    d.click_generate()  # the next action: the note is spent
    assert view.note.text() == ""
    d.wait_until_done()
    assert [position_in(w, c)[1] for c in controls] == [y for _, y in before]  # none moved up or down
    d.close()


def test_saved_clears_on_the_next_run_and_on_a_mode_change(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.generate_and_wait()
    view = d.view()
    assert view.save_png(str(tmp_path / "a.png")) and view.note.text().startswith("Saved ")
    d.choose_mode("text")
    assert view.note.text() == ""
    d.close()


def test_edited_clears_once_the_completion_starts_and_opened_when_a_replay_runs(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.draw_pixel(300)
    view = d.view()
    assert view.note.text().startswith("Edited: set rows to keep")
    d.keep_rows(10)
    d.click_generate()  # the completion starts
    assert view.note.text() == ""
    d.wait_until_done()
    trace = tmp_path / "run.json"
    assert d.export_trace(trace)
    picture = QImage(60, 60, QImage.Format.Format_Grayscale8)
    picture.fill(0)
    painter = QPainter(picture)
    painter.fillRect(25, 10, 10, 40, 255)  # a stroke: a "1" an MNIST reader would take
    painter.end()
    assert picture.save(str(tmp_path / "one.png"))
    d.open_picture(tmp_path / "one.png")
    assert view.note.text().startswith("Opened ")
    d.replay(trace)
    assert view.note.text() == ""
    d.close()


def test_the_prompts_warning_moves_no_control_and_reads_in_light_and_dark(qtbot, all_models):
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from arplayground.gui.theme import apply_theme, contrast_ratio

    d = WindowDriver.open(qtbot, all_models, "text")
    w = d.window
    controls = (w.length_spin, w.generate_button, w.temperature)
    qtbot.wait(10)  # the first layout pass after the window is shown
    before = [position_in(w, c) for c in controls]
    d.set_prompt("to be €")  # a character the model never saw: the red warning under the prompt
    assert "'€'" in d.prompt_message()
    qtbot.wait(10)
    assert [position_in(w, c) for c in controls] == before
    try:
        for scheme in ("dark", "light"):
            apply_theme(QApplication.instance(), scheme)
            qtbot.wait(10)
            label = w.prompt_message
            ink, window = (label.palette().color(QPalette.ColorRole.WindowText),
                           label.palette().color(QPalette.ColorRole.Window))
            assert contrast_ratio(ink, window) >= 4.5, scheme
            assert ink.red() > ink.green() + 80, scheme  # still a red
    finally:
        apply_theme(QApplication.instance(), "light")
    d.set_prompt("to be")
    assert d.prompt_message() is None
    qtbot.wait(10)
    assert [position_in(w, c) for c in controls] == before
    d.close()


def test_the_what_if_line_shows_words_not_markup(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    line = d.window.panel.what_if_label  # a NoteLine: plain text, elided to its three lines
    qtbot.wait(10)
    assert line.shown_text().startswith("Pause, or let the run finish") and "<" not in line.shown_text()
    d.close()


def test_the_speed_slider_keeps_its_width_as_it_is_dragged(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    slider = d.window.speed_slider
    widths = set()
    for notch in range(slider.minimum(), slider.maximum() + 1):
        d.set_speed_notch(notch)
        qtbot.wait(5)
        widths.add(slider.width())
    assert len(widths) == 1, widths  # the label beside it changed: the groove did not
    d.close()
