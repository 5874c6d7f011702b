"""A note in room kept for it: the sidebar's notes ("Saved …", "Opened …", "Edited …", a value
clamped) come and go, and a label that grew and shrank with them moved Generate, Pause and the
sliders under a person's pointer."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QFontMetrics, QGuiApplication, QPalette, QTextLayout, QTextOption
from PySide6.QtWidgets import QLabel, QSizePolicy

from arplayground.gui.theme import warning_colour


def fit_lines(text: str, font, width: int, lines: int) -> str:
    """`text` broken into at most `lines` lines of `width` pixels in `font`, as Qt wraps words; what
    does not fit ends the last line in "…". The lines are joined by newlines."""
    text = " ".join(text.split())  # one paragraph: a newline of its own would take a line
    if not text or width <= 0:
        return text
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)  # a long path breaks too
    layout.setTextOption(option)
    layout.beginLayout()
    starts = []
    while len(starts) <= lines:  # one line past the room says whether it overflows
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        starts.append(line.textStart())
    layout.endLayout()
    starts.append(len(text))
    shown = [text[a:b].strip() for a, b in zip(starts[:lines], starts[1 : lines + 1])]
    if len(starts) > lines + 1:  # more text than room: the last line takes the rest, elided
        rest = text[starts[lines - 1]:]
        shown[-1] = QFontMetrics(font).elidedText(rest, Qt.TextElideMode.ElideRight, width)
    return "\n".join(shown)


class NoteLine(QLabel):
    """A label `lines` lines high whether it says anything or not, so nothing under it moves when a
    note appears or clears. A note too long for its room ends in "…"; the whole of it is the
    tooltip. text() is the whole note, as set."""

    def __init__(self, lines: int = 2, parent=None):
        super().__init__(parent)
        self.lines = lines
        self.note = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # Its width is the column's, never its text's: a long note must not widen the sidebar.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(lines * self.fontMetrics().lineSpacing() + 2)

    def setText(self, text: str) -> None:
        self.note = text
        self.setToolTip(text)
        self._fit()

    def text(self) -> str:
        return self.note

    def clear(self) -> None:
        self.setText("")

    def shown_text(self) -> str:
        """What the line shows: the note, broken into its lines, elided where it is too long."""
        return super().text()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def _fit(self) -> None:
        width = self.contentsRect().width()
        super().setText(fit_lines(self.note, self.font(), width, self.lines) if width > 0 else self.note)


class WarningLine(NoteLine):
    """A NoteLine in the scheme's warning red (a deep red on light, a pale one on dark: one red
    does not read on both), recoloured when the application's palette changes."""

    def __init__(self, lines: int = 2, parent=None):
        super().__init__(lines, parent)
        self._recolour()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        # A child hears of a new application palette as its own PaletteChange (which setPalette
        # sends too: hence the check that the colour is not already the scheme's).
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._recolour()

    def _recolour(self) -> None:
        red = warning_colour(QGuiApplication.palette())
        if self.palette().color(QPalette.ColorRole.WindowText) != red:
            palette = self.palette()
            palette.setColor(QPalette.ColorRole.WindowText, red)
            self.setPalette(palette)
