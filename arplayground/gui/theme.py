"""Light and dark: the window follows the system's colour scheme (Qt's style hints, and their
colorSchemeChanged signal) unless told otherwise, with apply_theme(app, choice) for a View menu.

Widgets take their colours from the application's palette: Qt repaints them when it changes. The
pyqtgraph plots keep their own background and axis pens, so apply_theme sets those too, on every
plot that exists and (through pyqtgraph's defaults) on every plot made after.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QLabel

THEMES = ("system", "light", "dark")  # what apply_theme takes, in the order a menu lists them
THEME_LABELS = {"system": "Follow the system", "light": "Light", "dark": "Dark"}

# The dark palette: near-black fields on a dark grey window, light text (Fusion's roles).
_DARK = {
    QPalette.ColorRole.Window: (45, 45, 48),
    QPalette.ColorRole.WindowText: (225, 225, 225),
    QPalette.ColorRole.Base: (30, 30, 32),
    QPalette.ColorRole.AlternateBase: (52, 52, 56),
    QPalette.ColorRole.ToolTipBase: (60, 60, 64),
    QPalette.ColorRole.ToolTipText: (235, 235, 235),
    QPalette.ColorRole.PlaceholderText: (140, 140, 140),
    QPalette.ColorRole.Text: (225, 225, 225),
    QPalette.ColorRole.Button: (58, 58, 62),
    QPalette.ColorRole.ButtonText: (225, 225, 225),
    QPalette.ColorRole.BrightText: (255, 110, 110),
    QPalette.ColorRole.Light: (80, 80, 84),
    QPalette.ColorRole.Midlight: (66, 66, 70),
    QPalette.ColorRole.Mid: (40, 40, 43),
    QPalette.ColorRole.Dark: (25, 25, 27),
    QPalette.ColorRole.Shadow: (10, 10, 10),
    QPalette.ColorRole.Highlight: (60, 110, 190),
    QPalette.ColorRole.HighlightedText: (255, 255, 255),
    QPalette.ColorRole.Link: (120, 170, 255),
    QPalette.ColorRole.LinkVisited: (180, 140, 255),
}
_DARK_DISABLED = {
    QPalette.ColorRole.WindowText: (120, 120, 120),
    QPalette.ColorRole.Text: (120, 120, 120),
    QPalette.ColorRole.ButtonText: (120, 120, 120),
    QPalette.ColorRole.Base: (40, 40, 43),
}

_choice = "system"  # the last apply_theme's, which a change of the system's scheme re-reads
_following: set[int] = set()  # the applications whose style hints this module listens to


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, rgb in _DARK.items():
        palette.setColor(role, QColor(*rgb))
    for role, rgb in _DARK_DISABLED.items():
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(*rgb))
    return palette


def system_is_dark(app) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_theme(app, choice: str = "system") -> str:
    """Light, dark, or the system's scheme (and then whatever it changes to). Returns the scheme
    now shown, "light" or "dark"."""
    global _choice
    if choice not in THEMES:
        raise ValueError(f"theme {choice!r} is not one of {', '.join(THEMES)}")
    _choice = choice
    if id(app) not in _following:  # once per application: the system's scheme changed while open
        app.styleHints().colorSchemeChanged.connect(lambda _scheme: _choice == "system" and apply_theme(app, "system"))
        _following.add(id(app))
    dark = system_is_dark(app) if choice == "system" else choice == "dark"
    app.setPalette(dark_palette() if dark else app.style().standardPalette())
    restyle_widgets(app)
    return "dark" if dark else "light"


def current() -> str:
    """The choice the last apply_theme was given ("system" before any)."""
    return _choice


def plot_colours(palette: QPalette | None = None) -> tuple[QColor, QColor]:
    """(background, foreground) for a plot: the palette's field and its text."""
    palette = palette or QGuiApplication.palette()
    return palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Text)


def style_plot(plot: pg.PlotWidget) -> None:
    """A plot's background, axes, axis text and legend in the application's palette."""
    background, foreground = plot_colours()
    plot.setBackground(background)
    item = plot.getPlotItem()
    for name in ("left", "bottom", "right", "top"):
        axis = item.getAxis(name)
        axis.setPen(foreground)
        axis.setTextPen(foreground)
        if axis.label is not None:  # the axis title ("p", "cum. p", "amplitude")
            axis.label.setDefaultTextColor(foreground)
    legend = item.legend
    if legend is not None:
        legend.setLabelTextColor(foreground)
        legend.setBrush(pg.mkBrush(background.red(), background.green(), background.blue(), 200))
        for _sample, label in legend.items:
            label.setText(label.text, color=foreground)
    for label in getattr(plot, "themed_labels", ()):  # text a plot writes over itself (the timeline's measure)
        label.setText(label.text, color=foreground)


def restyle_widgets(app) -> None:
    """What the palette alone does not recolour, in one pass over the widgets: every plot (and,
    through pyqtgraph's defaults, every plot made from now on), and every label with a link (a
    link takes the palette's Link colour when its text is set: set again, or the model line's
    "About…" stays a light theme's blue on a dark window)."""
    background, foreground = plot_colours(app.palette())
    pg.setConfigOption("background", background)
    pg.setConfigOption("foreground", foreground)
    for widget in app.allWidgets():
        if isinstance(widget, pg.PlotWidget):
            style_plot(widget)
        elif isinstance(widget, QLabel) and "<a " in widget.text():
            text = widget.text()
            widget.clear()  # setText() of the same text does nothing
            widget.setText(text)


def luminance(colour: QColor) -> float:
    """WCAG's relative luminance of an sRGB colour, 0 (black) to 1 (white)."""
    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    return 0.2126 * linear(colour.redF()) + 0.7152 * linear(colour.greenF()) + 0.0722 * linear(colour.blueF())


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG's contrast ratio, 1 to 21; body text wants 4.5 or more."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


WARNING_REDS = (QColor(176, 0, 32), QColor(255, 138, 128))  # for a light window, for a dark one


def warning_colour(palette: QPalette | None = None) -> QColor:
    """The red of a warning that reads on the palette's window: whichever of WARNING_REDS stands out more."""
    window = (palette or QGuiApplication.palette()).color(QPalette.ColorRole.Window)
    return max(WARNING_REDS, key=lambda red: contrast_ratio(red, window))


def ink_on(background: QColor, palette: QPalette | None = None) -> QColor:
    """The text colour for characters shaded with `background`: of the palette's text and field
    colours, the one that stands out more (a pale shading takes the dark one in either scheme)."""
    palette = palette or QGuiApplication.palette()
    text, field = palette.color(QPalette.ColorRole.Text), palette.color(QPalette.ColorRole.Base)
    return max((text, field), key=lambda ink: contrast_ratio(ink, background))
