"""The distribution panel: one step's top candidates, raw beside after-sampler, the drawn one marked.

Plot items are made once; each update only calls setOpts / setTicks (no per-frame item churn).
While paused (the lab's what-if), a strip of small panels under the bars shows the distribution
after each stage of the sampler chain, and the cumulative distribution beside it the draw's u.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QLinearGradient, QPainter, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QVBoxLayout, QWidget

from arplayground.core.sampling import STAGE_LABELS, Stages
from arplayground.core.trace import StepRecord
from arplayground.core.vocab import GreyLevels
from arplayground.gui.note_line import NoteLine
from arplayground.gui.theme import style_plot

RAW_COLOUR = (120, 144, 176)  # the model's own distribution
SAMPLED_COLOUR = (236, 150, 40)  # after guidance / temperature / top-k / top-p
UNCONDITIONAL_COLOUR = (140, 70, 190)  # the model without its condition (what guidance pushes away from)
DRAWN_COLOUR = (214, 40, 40)
# The probability axis's top: one of a few fixed scales, so that while a run streams the axis is
# rarely laid out again (each relayout is a costly Python redraw of its ticks).
Y_SCALES = (0.1, 0.2, 0.35, 0.6, 1.1)
SHRINK_SECONDS = 0.5


def y_scale(top: float) -> float:
    """The smallest scale with room for the tallest bar and the drawn marker above it."""
    return next((s for s in Y_SCALES if top * 1.12 + 0.02 <= s), Y_SCALES[-1])


GREY_LEVELS = GreyLevels()  # the levels show_levels draws unless told otherwise


def settings_text(s) -> str:
    """The sampler settings of a step, as the panel's title shows them (the newer stages only when on)."""
    text = "greedy" if s.greedy else f"T {s.temperature:.2f}"
    text += f" · top-k {s.top_k or 'off'} · top-p {s.top_p:.2f}"
    text += f" · guidance {s.guidance:.2f}" if s.guided else ""
    text += f" · min-p {s.min_p:.2f}" if s.min_p > 0 else ""
    text += f" · typical {s.typical_p:.2f}" if s.typical_p < 1 else ""
    text += f" · top-nσ {s.top_n_sigma:.2f}" if s.top_n_sigma > 0 else ""
    text += f" · repetition {s.repetition_penalty:.2f}/{s.penalty_window}" if s.repetition_penalty != 1 else ""
    return text


STAGE_TITLES = {"model": "model", "guidance": "guidance", **STAGE_LABELS, "penalties": "repetition",
                "top_n_sigma": "top-nσ"}
REMOVED_COLOUR = (185, 185, 185)  # a value this stage removed: its bar at its height before, greyed


@dataclass(frozen=True)
class StageCell:
    """One small panel of the strip: a stage and the distribution after it, over the values shown."""

    name: str  # "model", "guidance" or one of core.sampling.STAGES
    kept: int  # values the stage left with non-zero probability (over the whole vocabulary)
    heights: np.ndarray  # after the stage, one per value shown
    removed: np.ndarray  # bool: this stage removed the value (drawn greyed, at its height before)
    before: np.ndarray  # the heights before the stage (where a removed bar is drawn)


def stage_cells(st: Stages, values) -> list[StageCell]:
    """The strip's cells for these stages over `values` (the candidates shown): the model's
    distribution, then guidance and every stage that acts (those that are off change nothing)."""
    values = np.asarray(values, np.int64)
    cells, before = [], None
    for step in st.chain:
        if not step.active:
            continue
        heights = step.probs[values]
        prior = heights if before is None else before
        removed = (heights == 0) & (prior > 0)
        cells.append(StageCell(step.name, step.kept, heights, removed, prior))
        before = heights
    return cells


class StageStrip(QWidget):
    """The sampler chain, stage by stage: a row of small bar charts over the same values (the
    candidates shown), each titled with its stage and how many values it keeps; what a stage
    removed stays in place, greyed. Painted in one go (no plot items): it changes with every
    slider move while paused. The value u draws is marked in the last one."""

    HEIGHT = 80  # at its smallest: the bars above get the room a 768-pixel screen has

    def __init__(self):
        super().__init__()
        self.cells: list[StageCell] = []
        self.drawn_at: int | None = None  # index into the values shown of what u would draw
        self.setMinimumHeight(self.HEIGHT)  # and taller with the panel: the cells scale with it
        font = self.font()
        font.setPointSize(8)
        self.setFont(font)
        self.setToolTip("The distribution after each stage of the sampler, in the order they act, over the "
                        "candidates shown above; grey: what that stage removed. The count is how many values it keeps.")

    def set_cells(self, cells: list[StageCell], drawn_at: int | None) -> None:
        self.cells, self.drawn_at = cells, drawn_at
        self.update()

    def titles(self) -> list[str]:
        """Each cell's two title lines as one, for tests: "top-k 12" (the stage, then the values it keeps)."""
        return [f"{STAGE_TITLES.get(c.name, c.name)} {c.kept}" for c in self.cells]

    def paintEvent(self, event) -> None:
        if not self.cells:
            return
        painter = QPainter(self)
        metrics = painter.fontMetrics()
        gap, n = 6.0, len(self.cells)
        width = (self.width() - gap * (n - 1)) / n
        line = metrics.height()
        top = 2 * line + 2  # the stage's name, then what it keeps
        chart = self.height() - top - 2
        for k, cell in enumerate(self.cells):
            x0 = k * (width + gap)
            painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
            name = metrics.elidedText(STAGE_TITLES.get(cell.name, cell.name), Qt.TextElideMode.ElideRight, int(width))
            painter.drawText(QRectF(x0, 0, width, line), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            kept = metrics.elidedText(f"keeps {cell.kept}", Qt.TextElideMode.ElideRight, int(width))
            painter.drawText(QRectF(x0, line, width, line), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, kept)
            painter.fillRect(QRectF(x0, top, width, chart), self.palette().color(QPalette.ColorRole.AlternateBase))
            m = len(cell.heights)
            if not m:
                continue
            scale = max(float(cell.heights.max()), float(np.where(cell.removed, cell.before, 0).max()), 1e-12)
            bar = width / m
            last = k == n - 1
            for i in range(m):
                removed = bool(cell.removed[i])
                h = (cell.before[i] if removed else cell.heights[i]) / scale * (chart - 1)
                if h <= 0:
                    continue
                if removed:
                    colour = QColor(*REMOVED_COLOUR)
                elif last and i == self.drawn_at:
                    colour = QColor(*DRAWN_COLOUR)
                else:
                    colour = QColor(*(RAW_COLOUR if cell.name == "model" else SAMPLED_COLOUR))
                painter.fillRect(QRectF(x0 + i * bar + 0.5, top + chart - h, max(1.0, bar - 1.0), h), colour)
        painter.end()


class CandidateLabels(QWidget):
    """The candidates' labels, one under each bar pair, painted in one go.

    The plot's own axis could carry them as tick labels, but new tick labels make pyqtgraph lay the
    axis out again in Python (about 3 ms), and the candidates change on nearly every step; this row
    costs a few drawText calls, so the panel can follow a streaming run every frame.
    """

    POINT_SIZE = 11
    MIN_POINT_SIZE = 8
    GAP = 3.0  # pixels between neighbouring labels

    def __init__(self, plot: pg.PlotWidget):
        super().__init__()
        self.plot = plot
        self.labels: list[str] = []
        self.painted: list[tuple[str, QRectF]] = []
        font = self.font()
        font.setPointSize(self.POINT_SIZE)
        self.setFont(font)
        self.painted_font = font
        self.setFixedHeight(self.fontMetrics().height() + 6)

    def set_labels(self, labels: list[str]) -> None:
        if labels != self.labels:
            self.labels = labels
            self.update()

    def x_of(self, value_x: float) -> float:
        """Where plot coordinate x falls on this row, in pixels."""
        scene = self.plot.getPlotItem().vb.mapViewToScene(QPointF(value_x, 0.0))
        return self.mapFromGlobal(self.plot.mapToGlobal(self.plot.mapFromScene(scene))).x()

    def layout_labels(self):
        """(font, [(text, rect)]) of the labels to draw: a label never runs into its neighbour.
        The font shrinks (down to MIN_POINT_SIZE) until the widest label fits its bar's slot; if it
        still does not, only every k-th bar is labelled, in room k slots wide, and a label too long
        even for that is elided."""
        first = self.x_of(0.0)
        slot = max(8.0, self.x_of(1.0) - first)  # bars sit at x = 0, 1, 2, ... on a linear axis
        font = self.font()
        size = self.POINT_SIZE
        while True:
            font.setPointSizeF(size)
            metrics = QFontMetricsF(font)
            widest = max(metrics.horizontalAdvance(t) for t in self.labels)
            if widest + self.GAP <= slot or size <= self.MIN_POINT_SIZE:
                break
            size -= 1
        every = 1
        while widest + self.GAP > every * slot and every < len(self.labels):
            every += 1
        room = every * slot - self.GAP
        laid = []
        for i in range(0, len(self.labels), every):
            centre = first + i * slot
            text = metrics.elidedText(self.labels[i], Qt.TextElideMode.ElideRight, room)
            laid.append((text, QRectF(centre - room / 2, 0, room, self.height())))
        return font, laid

    def paintEvent(self, event) -> None:
        if not self.labels:
            self.painted = []
            return
        font, laid = self.layout_labels()
        painter = QPainter(self)
        painter.setFont(font)
        for text, rect in laid:
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        painter.end()
        self.painted_font, self.painted = font, laid  # what a person sees, for tests


WHAT_IF_HINT = "Pause, or let the run finish, to see here what the current settings would draw at the shown step."
CAP = np.array([70, 70, 70, 255], np.uint8).view(np.uint32)[0]  # the dark top of each level bar


def grey_swatch() -> QBrush:
    """The legend's "after sampler" swatch in grey mode: black to white, as the bars are shaded
    (the legend paints it in a 20 x 20 box from (2, 2))."""
    gradient = QLinearGradient(2, 0, 20, 0)
    gradient.setColorAt(0.0, QColor(0, 0, 0))
    gradient.setColorAt(1.0, QColor(255, 255, 255))
    return QBrush(gradient)


class LevelBars(pg.ImageItem):
    """256 bars, each in its own colour (grey level v in grey v), drawn as one image.

    One drawImage per repaint, built with numpy, instead of 256 rectangles recorded one by one in
    Python, which made the panel too costly to redraw every frame while an image streams. Each bar
    has a dark cap, so light grey bars stay visible on the white plot.
    """

    ROWS = 200  # vertical resolution of the bars

    def __init__(self):
        super().__init__(axisOrder="row-major")
        self.heights = np.zeros(256)
        self.top = 1.0
        self.set_shaded(True)

    def set_shaded(self, shaded: bool) -> None:
        """Shaded: bar v in grey v (an image's levels); else all in the after-sampler colour."""
        if shaded:
            rgb = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
        else:
            rgb = np.tile(np.array(SAMPLED_COLOUR, np.uint8), (256, 1))
        fill = np.concatenate([rgb, np.full((256, 1), 255, np.uint8)], axis=1)  # (256, RGBA)
        self.fill = fill.view(np.uint32)[:, 0]  # each bar's RGBA bytes as one number: 4x less to move
        self.set_heights(self.heights, self.top)

    def set_heights(self, heights, top: float) -> None:
        self.heights, self.top = np.asarray(heights, float), float(top)
        rows = np.clip(np.ceil(self.heights / self.top * self.ROWS), 0, self.ROWS).astype(int)
        row = np.arange(self.ROWS)[:, None]  # row 0 is drawn at probability 0
        packed = np.where(row < rows, self.fill, np.uint32(0))  # (ROWS, 256)
        capped = np.flatnonzero(rows > 0)
        packed[rows[capped] - 1, capped] = CAP
        image = packed.view(np.uint8).reshape(self.ROWS, 256, 4)
        self.setImage(image, autoLevels=False)
        self.setRect(QRectF(-0.5, 0.0, 256.0, self.top))


@dataclass(frozen=True)
class PanelData:
    """What the panel draws: candidates best-first with both probabilities, and the drawn value."""

    step: int
    labels: tuple  # candidate labels, best first
    values: tuple  # candidate values
    raw: np.ndarray
    sampled: np.ndarray
    drawn: int  # the drawn value
    drawn_label: str
    drawn_prob: float
    entropy: float
    settings_text: str


def panel_data(rec: StepRecord, step_number: int, vocab) -> PanelData:
    """A step's recorded top candidates for the panel, labelled by the vocabulary: each bar by
    vocab.bar_label, the drawn value by vocab.describe."""
    return PanelData(
        step=step_number,
        labels=tuple(vocab.bar_label(int(v)) for v in rec.top_values),
        values=tuple(int(v) for v in rec.top_values),
        raw=rec.top_raw,
        sampled=rec.top_sampled,
        drawn=rec.value,
        drawn_label=vocab.describe(rec.value),
        drawn_prob=rec.prob,
        entropy=rec.entropy,
        settings_text=settings_text(rec.settings),
    )


class DistributionPanel(QWidget):
    value_clicked = Signal(int)  # a bar was clicked: the value it stands for (the lab branches on it)

    def __init__(self, max_bars: int = 20, parent=None):
        super().__init__(parent)
        self.max_bars = max_bars
        self.data: PanelData | None = None
        self._level_shaded = True  # as level_bars is made below
        self._tick_vocab = None  # the vocabulary the level axis's ticks were labelled by
        self._y_top = 0.0
        self._y_changed_at = 0.0
        self.streaming = False  # set by the window: while a run streams, the axis shrinks lazily
        self.forced = False  # set by the window: the shown step's value was forced (a branch), not drawn
        self._n_bars = -1
        self.title = QLabel("No step yet: click Generate.")
        self.title.setObjectName("distributionTitle")
        self.title.setWordWrap(True)
        # Two lines, always: a title that changed height would resize the plot on every step.
        self.title.setFixedHeight(2 * self.title.fontMetrics().lineSpacing() + 4)
        self.title.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.plot = pg.PlotWidget()  # its colours: the palette's (gui/theme.py)
        self.plot.setMinimumHeight(80)  # the bars, the panel's subject, never squashed flat (room left for a menu bar at 700)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setLabel("left", "p")  # "probability" ran past the top of a short plot
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        # No grid: grid lines make the axis span the whole plot, so every bar update would repaint it.
        self.legend = self.plot.addLegend(offset=(-10, 2))
        self.legend.setColumnCount(3)  # one row: a short plot's bars stay clear of it
        self.raw_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=RAW_COLOUR, pen=None, name="model (raw)")
        self.sampled_bars = pg.BarGraphItem(
            x=[], height=[], width=0.4, brush=SAMPLED_COLOUR, pen=None, name="after sampler"
        )
        self.drawn_marker = pg.ScatterPlotItem(x=[], y=[], symbol="t", size=14, brush=DRAWN_COLOUR, pen=None)
        # Image mode: all 256 grey levels; the sampled distribution as bars in their own grey,
        # the raw one as a line over them.
        self.level_bars = LevelBars()
        # What the legend shows for the level bars (an image has no legend sample of its own).
        self.level_legend = pg.BarGraphItem(x=[], height=[], width=1.0, brush=grey_swatch())
        # The bars' skyline in the plot's ink (_ink_lines): each bar is painted in its own grey, so without
        # it the bars of bright levels vanish into a white plot, and of dark levels into a dark one.
        self.level_outline = pg.PlotCurveItem(
            x=np.arange(259) - 1.5, y=np.zeros(258), stepMode="center"
        )
        self.level_line = pg.PlotCurveItem(
            x=np.arange(257) - 0.5, y=np.zeros(256), stepMode="center", pen=pg.mkPen(RAW_COLOUR, width=2)
        )
        # With guidance: the model's distribution without the digit, which guidance pushes away from.
        # Solid: a dashed pen cost 2-3 ms more per redraw (measured), at 60 redraws a second.
        self.unconditional_line = pg.PlotCurveItem(
            x=np.arange(257) - 0.5, y=np.zeros(256), stepMode="center",
            pen=pg.mkPen(UNCONDITIONAL_COLOUR, width=1.5),
        )
        for item in (self.raw_bars, self.sampled_bars, self.level_bars, self.level_outline, self.level_line,
                     self.unconditional_line, self.drawn_marker):
            self.plot.addItem(item)
        self.level_bars.hide()
        self.level_outline.hide()
        self.level_line.hide()
        self.unconditional_line.hide()
        self.legend.addItem(self.drawn_marker, "drawn")
        self.axis = self.plot.getAxis("bottom")
        font = self.axis.label.font()
        font.setPointSize(11)
        self.axis.setTickFont(font)
        # Axes of a fixed size: tick labels that grow or shrink would otherwise lay the whole plot
        # out again, and repaint both axes, on most steps of a streaming run.
        for axis in (self.axis, self.plot.getAxis("left")):
            axis.setStyle(autoExpandTextSpace=False, autoReduceTextSpace=False)
        self.plot.getAxis("left").setWidth(52)
        self.axis.setTicks([[]])  # no numbers under candidate bars: the row below names them
        self.candidate_labels = CandidateLabels(self.plot)
        self._bottom_axis(levels=False)
        # The lab's "what if": the cumulative distribution sampled from (values in their own order,
        # as the inverse-CDF draw walks them), this step's uniform number u across it, and the
        # value u picks under the current settings. Shown while paused.
        # Its room is kept while it is hidden (during a run), so a run's start and end do not lay
        # the panel out again: that relayout and repaint cost the GUI thread ~40 ms each time.
        # Three lines at most, whatever the settings say (guidance adds a clause): the rest is elided,
        # the whole of it the tooltip, so a narrow panel (Score shown beside it) clips nothing.
        self.what_if_label = NoteLine(lines=3)
        self.cdf_plot = pg.PlotWidget()
        self.cdf_plot.setMinimumHeight(StageStrip.HEIGHT + 6)  # and taller with the panel
        self.stage_strip = StageStrip()
        for widget in (self.what_if_label, self.cdf_plot, self.stage_strip):
            policy = widget.sizePolicy()
            policy.setRetainSizeWhenHidden(True)
            widget.setSizePolicy(policy)
        self.cdf_plot.setMouseEnabled(x=False, y=False)
        self.cdf_plot.hideButtons()
        self.cdf_plot.setMenuEnabled(False)
        self.cdf_plot.setYRange(0, 1, padding=0.02)
        self.cdf_plot.setLabel("left", "cum. p")  # "cumulative" ran past the top
        self.cdf_curve = pg.PlotCurveItem(x=np.array([-0.5, 0.5]), y=np.zeros(1), pen=pg.mkPen(SAMPLED_COLOUR, width=2), stepMode="center")
        self.u_line = pg.InfiniteLine(angle=0)
        self.would_line = pg.InfiniteLine(angle=90, pen=pg.mkPen(DRAWN_COLOUR, width=2))
        for item in (self.cdf_curve, self.u_line, self.would_line):
            self.cdf_plot.addItem(item)
        self.what_if: Stages | None = None
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 3)
        layout.addWidget(self.candidate_labels)
        layout.addWidget(self.what_if_label)
        under = QHBoxLayout()  # the chain's stages beside the final CDF: one row's height for both
        under.setContentsMargins(0, 0, 0, 0)
        under.addWidget(self.stage_strip, 3)
        under.addWidget(self.cdf_plot, 2)
        layout.addLayout(under, 1)  # a taller panel gives the bars and the what-if row room alike
        for plot in (self.plot, self.cdf_plot):  # the last tick label (a 65-value axis's "60") inside the plot
            plot.getPlotItem().layout.setContentsMargins(0, 4, 12, 0)
            style_plot(plot)
        self._ink_lines()
        self.hide_what_if()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._ink_lines()

    def _ink_lines(self) -> None:
        """The lines drawn in the plots' ink (the bars' skyline, u's line): the palette's text
        colour, so that they stand out of a light plot and a dark one alike."""
        ink = self.palette().color(QPalette.ColorRole.Text)
        self.level_outline.setPen(pg.mkPen(ink, width=1))
        self.level_legend.setOpts(pen=pg.mkPen(ink))
        self.u_line.setPen(pg.mkPen(ink, width=1, style=Qt.PenStyle.DashLine))

    def _use_levels(self, levels: bool) -> None:
        """Switch between top-candidate bars (text) and the full grey-level histogram (image)."""
        if self.level_bars.isVisible() == levels:
            return
        for item in (self.raw_bars, self.sampled_bars):
            item.setVisible(not levels)
        for item in (self.level_bars, self.level_line):
            item.setVisible(levels)
        self.level_outline.setVisible(levels and self._level_shaded)
        self.unconditional_line.hide()
        self._fill_legend(levels)
        self._n_bars, self._y_top = -1, 0.0
        self._tick_vocab = None  # the candidate bars replaced the level ticks
        self._bottom_axis(levels)
        if levels:
            self.plot.setXRange(-3, 258, padding=0)  # room for the drawn marker over level 0 or 255, the commonest

    def _fill_legend(self, levels: bool) -> None:
        """The legend names what is on show (rebuilt only when that changes: it lays the plot out)."""
        self.legend.clear()
        if levels:
            self.legend.addItem(self.level_line, "model (raw)")
            if self.unconditional_line.isVisible():
                self.legend.addItem(self.unconditional_line, "without the digit")
            self.legend.addItem(self.level_legend, "after sampler")
        else:
            self.legend.addItem(self.raw_bars, "model (raw)")
            self.legend.addItem(self.sampled_bars, "after sampler")
        self.legend.addItem(self.drawn_marker, "drawn")

    def _bottom_axis(self, levels: bool) -> None:
        """Levels: numbered ticks on the plot's axis. Candidates: a bare axis line, and the row of
        labels under it."""
        self.candidate_labels.setVisible(not levels)
        self.axis.setStyle(showValues=levels)
        self.axis.setHeight(34 if levels else 8)
        if not levels:
            self.axis.setTicks([[]])

    def _use_level_vocab(self, vocab) -> None:
        """Bars in their own grey where the levels are shades (an image's), else in one colour (an
        audio sample's); the axis's ticks labelled by the vocabulary (a grey level's number, the
        amplitude a mu-law level stands for)."""
        if vocab.shaded != self._level_shaded:
            self._level_shaded = vocab.shaded
            self.level_bars.set_shaded(vocab.shaded)
            self.level_legend.setOpts(brush=grey_swatch() if vocab.shaded else SAMPLED_COLOUR)
            self.level_outline.setVisible(vocab.shaded and self.level_bars.isVisible())
        if vocab is not self._tick_vocab:
            self._tick_vocab = vocab
            self.axis.setTicks([[(v, vocab.tick_label(v)) for v in (0, 32, 64, 96, 128, 160, 192, 224, 255)]])

    def show_levels(self, title, raw, sampled, drawn, drawn_prob, entropy, settings, vocab=GREY_LEVELS,
                    unconditional=None) -> None:
        """One step's distribution over every level of `vocab` (an image pixel's grey levels, an
        audio sample's mu-law levels), raw (line) and after the sampler (bars), and when guided,
        the model's distribution without the digit (purple line)."""
        self._use_levels(True)
        self._use_level_vocab(vocab)
        self.data = None
        self.levels = (np.asarray(raw), np.asarray(sampled), int(drawn))
        self.level_line.setData(x=np.arange(257) - 0.5, y=raw)
        if (unconditional is not None) != self.unconditional_line.isVisible():
            self.unconditional_line.setVisible(unconditional is not None)
            self._fill_legend(True)
        if unconditional is not None:
            self.unconditional_line.setData(x=np.arange(257) - 0.5, y=unconditional)
        top = max(float(np.max(raw)), float(np.max(sampled)), 0.0 if unconditional is None else float(np.max(unconditional)))
        y_top = self._set_y_top(top)
        self.level_bars.set_heights(sampled, y_top)
        if self.level_outline.isVisible():
            self.level_outline.setData(x=np.arange(259) - 1.5, y=np.concatenate([[0.0], sampled, [0.0]]))
        self.drawn_marker.setData(x=[drawn], y=[max(raw[drawn], sampled[drawn]) + 0.03 * y_top])
        self.title.setText(
            f"{title}: {self._verb()} {vocab.describe(drawn)} with p = {drawn_prob:.3f}  ·  entropy {entropy:.2f} nats"
            f"  ·  {settings_text(settings)}"
        )

    def _verb(self) -> str:
        return "forced" if self.forced else "drew"

    def _set_y_top(self, top: float) -> float:
        """Grow the axis at once when a bar needs room. Shrink it at once too, except while a run
        streams: then at most every SHRINK_SECONDS, so the axis is not re-laid out on every step."""
        want, now = y_scale(top), time.monotonic()
        may_shrink = not self.streaming or now - self._y_changed_at >= SHRINK_SECONDS
        if want > self._y_top or (want < self._y_top and may_shrink):
            self._y_top, self._y_changed_at = want, now
            self.plot.setYRange(0, want, padding=0)
        return self._y_top

    def show_step(self, data: PanelData, where: str | None = None) -> None:
        """The step's top candidates; `where` names the step in the title (default "step N")."""
        self._use_levels(False)
        self.data = data
        n = min(self.max_bars, len(data.labels))
        x = np.arange(n, dtype=float)
        raw, sampled = np.asarray(data.raw[:n], float), np.asarray(data.sampled[:n], float)
        self.raw_bars.setOpts(x=x - 0.2, height=raw)
        drawn_brush = pg.mkBrush(DRAWN_COLOUR)
        plain = pg.mkBrush(SAMPLED_COLOUR)
        brushes = [drawn_brush if v == data.drawn else plain for v in data.values[:n]]
        self.sampled_bars.setOpts(x=x + 0.2, height=sampled, brushes=brushes)
        shown_at = [i for i, v in enumerate(data.values[:n]) if v == data.drawn]
        if shown_at:
            i = shown_at[0]
            self.drawn_marker.setData(x=[i], y=[max(raw[i], sampled[i]) + 0.04])
        else:
            self.drawn_marker.setData(x=[], y=[])
        self.candidate_labels.set_labels([str(label) for label in data.labels[:n]])
        if n != self._n_bars:
            self._n_bars = n
            self.plot.setXRange(-0.7, max(n, 1) - 0.3, padding=0)
        top = max(float(raw.max(initial=0)), float(sampled.max(initial=0)))
        self._set_y_top(top)
        outside = "" if shown_at else " (outside the top candidates shown)"
        self.title.setText(
            f"{where or f'step {data.step}'}: {self._verb()} {data.drawn_label!s} with p = {data.drawn_prob:.3f}{outside}"
            f"  ·  entropy {data.entropy:.2f} nats  ·  {data.settings_text}"
        )

    def clear(self, title: str = "No step yet: click Generate.") -> None:
        """No step to show (the run shown is gone, or a new one has none yet): empty bars, `title`."""
        self._use_levels(False)
        self.data = None
        self.raw_bars.setOpts(x=[], height=[])
        self.sampled_bars.setOpts(x=[], height=[], brushes=None)
        self.drawn_marker.setData(x=[], y=[])
        self.candidate_labels.set_labels([])
        self.title.setText(title)
        self.hide_what_if()

    def show_what_if(self, st: Stages, u: float, drawn: int, label) -> None:
        """Under the bars: what the current settings make of this step, and what u would pick now."""
        self.what_if = st
        cumulative = np.cumsum(st.final)
        self.cdf_curve.setData(x=np.arange(len(cumulative) + 1) - 0.5, y=cumulative)
        self.cdf_plot.setXRange(-0.5, len(cumulative) - 0.5, padding=0)
        self.u_line.setPos(u * cumulative[-1])
        self.would_line.setPos(st.would_draw)
        kept = np.flatnonzero(st.final)
        if len(kept) <= 12:  # few enough to name: the values the draw can land on
            self.cdf_plot.getAxis("bottom").setTicks([[(int(v), label(int(v))) for v in kept]])
        else:
            self.cdf_plot.getAxis("bottom").setTicks(None)
        acting = [c for c in st.chain if c.active and c.name not in ("model", "guidance")]
        filters, kept = "", None
        for c in acting:  # the first stage with its count, then each that removes something
            if kept is None:
                filters = f"{STAGE_LABELS[c.name]} keeps {c.kept}"
            elif c.kept < kept:
                filters += f", {STAGE_LABELS[c.name]} {c.kept}"
            kept = c.kept
        if st.settings.guided and st.guided is None:
            filters = "no guidance here (this step has no distribution without the digit: drawn unguided, or with no digit); " + filters
        elif st.guided is not None and st.settings.guided:
            before, after = f"{st.raw[drawn]:.3f}", f"{st.guided[drawn]:.3f}"
            moved = f"moves p({label(drawn)}) from {before} to {after}" if before != after else f"leaves p({label(drawn)}) at {after}"
            filters = f"guidance {moved}; " + filters
        self._show_stages(st)
        same = "the same value" if st.would_draw == drawn else f"{label(st.would_draw)} instead of {label(drawn)}"
        self.what_if_label.setText(
            f"Now ({settings_text(st.settings)}): {filters} values; u = {u:.3f} would draw {same} "
            f"(p = {st.final[st.would_draw]:.3f} after the sampler)."
        )
        self.what_if_label.show()
        self.cdf_plot.show()
        self.stage_strip.show()

    def _show_stages(self, st: Stages) -> None:
        """The strip over the values the bars show: the candidates (text), or the step's most
        likely levels under the model (image, audio: 256 levels would be hairlines)."""
        if self.data is not None:
            values = list(self.data.values[: self.max_bars])
        else:
            values = np.argsort(-st.raw, kind="stable")[: self.max_bars].tolist()
        drawn_at = values.index(st.would_draw) if st.would_draw in values else None
        self.stage_strip.set_cells(stage_cells(st, values), drawn_at)

    def hide_what_if(self, hint: str | None = None) -> None:
        """While a run streams (and in views without it): a line that says what will appear here,
        or `hint`, where the step shown can have no what-if at all."""
        self.what_if = None
        self.what_if_label.setText(WHAT_IF_HINT if hint is None else hint)  # plain text: a NoteLine shows no markup
        self.cdf_plot.hide()
        self.stage_strip.hide()
        self.stage_strip.set_cells([], None)

    def value_at(self, x: float) -> int | None:
        """The value of the bar at plot coordinate x (a candidate bar, or a level)."""
        i = int(round(x))
        if self.level_bars.isVisible():
            return i if 0 <= i < 256 else None
        if self.data is not None and 0 <= i < min(self.max_bars, len(self.data.values)):
            return int(self.data.values[i])
        return None

    def _on_plot_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        value = self.value_at(point.x())
        if value is not None:
            self.value_clicked.emit(value)

    def bar_heights(self) -> tuple[np.ndarray, np.ndarray]:
        """(raw, after-sampler) bar heights as drawn, for tests and checks."""
        return (np.asarray(self.raw_bars.opts["height"]), np.asarray(self.sampled_bars.opts["height"]))

    def tick_labels(self) -> list[str]:
        """The candidates' labels as shown under their bars."""
        return list(self.candidate_labels.labels) if self.candidate_labels.isVisible() else []
