"""Light and dark: every plot and the text pane's shading read in both, and the window follows the
system's scheme as it changes."""

import pytest
from PySide6.QtWidgets import QApplication

from arplayground.gui import theme
from arplayground.gui.theme import THEMES, apply_theme, contrast_ratio, luminance
from tests.gui.driver import WindowDriver, shaded_characters


@pytest.fixture
def light_again():
    yield
    apply_theme(QApplication.instance(), "light")  # the other tests' palette


def plots(window):
    audio = window.views["audio"]
    return {"bars": window.panel.plot, "cumulative": window.panel.cdf_plot, "timeline": window.timeline.plot,
            "waveform": audio.plot, "surprisal": audio.surprisal_plot}


def assert_reads(d, dark: bool) -> None:
    for name, plot in plots(d.window).items():
        background = plot.backgroundBrush().color()
        text = plot.getPlotItem().getAxis("left").textPen().color()
        assert (luminance(background) < 0.05) == dark and (luminance(text) > 0.5) == dark, name
        assert contrast_ratio(background, text) >= 4.5, name
    panel = d.window.panel  # its lines in the plot's ink: the grey-level bars' skyline, u's line
    for line in (panel.level_outline.opts["pen"], panel.u_line.pen):
        assert contrast_ratio(line.color(), panel.plot.backgroundBrush().color()) >= 4.5
    shaded = shaded_characters(d.window.text_pane)
    assert shaded, "no shaded characters to check"
    worst = min(contrast_ratio(ink, shading) for ink, shading in shaded)
    assert worst >= 4.5, worst


def test_plots_and_the_text_shading_read_in_dark_and_back_in_light(qtbot, all_models, light_again):
    app = QApplication.instance()
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=40)
    d.generate_and_wait()
    assert apply_theme(app, "dark") == "dark"
    qtbot.wait(10)  # the palette's change reaches each widget as an event
    assert_reads(d, dark=True)
    d.click_output(12)  # What it sees' blue shading, drawn in the dark palette
    d.show_what_it_sees()
    d.wait_for_field()
    assert_reads(d, dark=True)
    assert apply_theme(app, "light") == "light"
    qtbot.wait(10)
    d.generate_and_wait()  # a run drawn in light after the dark one
    d.show_what_it_sees(False)
    d.click_output(12)
    d.show_what_it_sees()
    d.wait_for_field()
    assert_reads(d, dark=False)
    d.close()


def test_the_window_follows_the_system_scheme_as_it_changes(qtbot, all_models, light_again, monkeypatch):
    app = QApplication.instance()
    d = WindowDriver.open(qtbot, all_models, "text")
    dark_now = False
    monkeypatch.setattr(theme, "system_is_dark", lambda _app: dark_now)
    assert apply_theme(app, "system") == "light"
    dark_now = True
    app.styleHints().colorSchemeChanged.emit(app.styleHints().colorScheme())  # the system turned dark
    assert luminance(d.window.panel.plot.backgroundBrush().color()) < 0.05
    apply_theme(app, "light")  # a choice of its own: the system's changes no longer apply
    app.styleHints().colorSchemeChanged.emit(app.styleHints().colorScheme())
    assert luminance(d.window.panel.plot.backgroundBrush().color()) > 0.9
    d.close()


def test_a_menu_gets_the_choices_and_a_wrong_one_is_refused():
    assert THEMES == ("system", "light", "dark")
    with pytest.raises(ValueError, match="not one of system, light, dark"):
        apply_theme(QApplication.instance(), "sepia")


def test_view_theme_switches_the_window_and_is_kept_between_launches(qtbot, all_models, light_again):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.choose_menu("theme_dark")
    qtbot.wait(10)
    assert luminance(d.window.panel.plot.backgroundBrush().color()) < 0.05
    assert d.menu_action("theme_dark").isChecked() and not d.menu_action("theme_light").isChecked()
    d.close()
    again = WindowDriver.open(qtbot, all_models)  # dark again, as it was left
    assert theme.current() == "dark" and again.menu_action("theme_dark").isChecked()
    assert luminance(again.window.timeline.plot.backgroundBrush().color()) < 0.05
    again.choose_menu("theme_light")
    assert luminance(again.window.timeline.plot.backgroundBrush().color()) > 0.9
    again.choose_menu("theme_dark")
    again.choose_menu("reset")  # back to following the system
    assert theme.current() == "system" and again.menu_action("theme_system").isChecked()
    again.close()


def test_plots_opened_in_dark_are_dark_and_the_timelines_measure_follows_the_theme(qtbot, all_models, light_again):
    import pyqtgraph as pg

    app = QApplication.instance()
    d = WindowDriver.open(qtbot, all_models, "text")
    apply_theme(app, "dark")
    lab = d.window.open_decoding_lab()  # made after the switch: the theme's from the start
    card = d.window.menus.show_model_card()
    for window in (lab, card):
        for plot in window.findChildren(pg.PlotWidget):
            background = plot.backgroundBrush().color()
            text = plot.getPlotItem().getAxis("bottom").textPen().color()
            assert luminance(background) < 0.05 and contrast_ratio(background, text) >= 4.5
    label = d.window.timeline.main.label  # the measure's name, written over the plot
    assert luminance(pg.mkColor(label.opts["color"])) > 0.5
    apply_theme(app, "light")
    assert luminance(pg.mkColor(label.opts["color"])) < 0.2
    lab.close()
    card.close()
    d.close()


def test_the_model_lines_about_link_turns_light_blue_when_the_theme_turns_dark(qtbot, all_models, light_again):
    def lightest_blue(label) -> int:
        image = label.grab().toImage()
        colours = (image.pixelColor(x, y) for y in range(image.height()) for x in range(image.width()))
        return max((c.lightness() for c in colours if c.blue() > c.red() + 60), default=0)

    d = WindowDriver.open(qtbot, all_models, "text")
    assert "About…" in d.window.model_info.text()
    apply_theme(QApplication.instance(), "dark")  # switched while the window is open
    qtbot.wait(10)
    assert lightest_blue(d.window.model_info) > 160  # the dark palette's link blue; the light one's stayed ~128
    d.close()
