"""The timeline under the view: measures of every step of the run (one, or several stacked on the
same steps), and a cursor to scrub with. A grid's curve is its images' mean at each step; the
cursor and Play follow one image.

Scrubbing shows the step under the cursor in the panel and highlights its value in place (the
character, the pixel, the audio sample). The curves are made once and only fed new arrays;
long audio runs are drawn with peak downsampling and clipped to the visible range.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QMenu, QPushButton, QSlider, QToolButton, QVBoxLayout,
                               QWidget)

from arplayground.gui.theme import plot_colours, style_plot

DISPLAY_SPEEDS = (1, 2, 5, 10, 20, 50, 100, 500, 2000)  # steps per second when the timeline plays
FRAME_MS = 16
PLAY, PAUSE = "▶ Play", "⏸ Pause"  # the Play button's text, stopped and while playing

def surprisal(column) -> np.ndarray:
    """-log p of each drawn value under the model, nats."""
    return -np.log(np.maximum(column("prob").astype(np.float64), 1e-30))


def running_nll(column) -> np.ndarray:
    """Down each image's column: a grid's images each run alone."""
    s = surprisal(column)
    return np.cumsum(s, axis=0) / np.arange(1, len(s) + 1)[:, None]


def running_bits(column) -> np.ndarray:
    """The chain rule's running sum down each image's column: -log2 p of every value so far, bits.
    Its last point is -log2 p(x) of the whole sequence."""
    return np.cumsum(surprisal(column), axis=0) / np.log(2.0)


CHAIN_RULE = "chain rule: running sum of −log₂ p (bits)"
LATENCY = "compute time per step (ms)"
RANK = "rank of the drawn value (1 = most likely)"


@dataclass(frozen=True)
class Measure:
    axis: str  # the plot's y axis label: the measure and its unit
    of: Callable  # (column(name) -> (steps, images) array) -> the measure per step and image


# Per step, nats where it applies; keyed by the name the measure list shows.
MEASURES = {
    "entropy (nats)": Measure("entropy (nats)", lambda column: column("entropy")),
    "surprisal of the drawn value (nats)": Measure("surprisal (nats)", surprisal),
    # The trace keeps 0-based ranks; a person counts the most likely value as the first.
    RANK: Measure("rank (1 = most likely)", lambda column: column("rank") + 1),
    "values kept by the sampler": Measure("values kept", lambda column: column("kept")),
    "running NLL (nats per step)": Measure("running NLL (nats/step)", running_nll),
    "running perplexity": Measure("running perplexity", lambda column: np.exp(running_nll(column))),
    CHAIN_RULE: Measure("running −log₂ p (bits)", running_bits),
    # Per-step latency: flat with the cache, rising with the position without it (a chunk's steps
    # share its time evenly: the compiled paths time blocks, not single values).
    LATENCY: Measure("compute time per step (ms)", lambda column: column("seconds") * 1000.0),
}
PLOT_HEIGHT = 96  # the first measure's plot: at 120 a 768-pixel screen left the bars ~70 px (45 with What it sees)
STACKED_HEIGHT = 80  # each measure added below it
AXIS_WIDTH = 62  # the y axis's width, fixed: tick labels of another size do not shift the plot


class MeasurePlot:
    """One measure's plot: its curve, the position line and, with no steps, a hint instead of an
    axis around nothing. The timeline stacks one per measure shown, sharing the step axis."""

    def __init__(self, height: int):
        self.widget = pg.PlotWidget()  # its colours: the palette's (gui/theme.py)
        self.widget.setFixedHeight(height)
        self.widget.setMouseEnabled(x=True, y=False)
        self.widget.setMenuEnabled(False)
        self.widget.hideButtons()
        self.item = self.widget.getPlotItem()
        self.item.getAxis("left").setWidth(AXIS_WIDTH)
        self.curve = self.widget.plot(pen=pg.mkPen((70, 130, 220), width=1))  # a mid blue: it reads on light and dark
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((214, 40, 40), width=2))
        self.widget.addItem(self.cursor)
        style_plot(self.widget)
        # The y axis's label, written across the plot's top-left corner: turned along an axis of
        # 70-120 px, "compute time per step (ms)" ran past it and into the next plot's.
        self.label = pg.LabelItem("", size="8pt", color=plot_colours()[1], justify="left")
        self.label.setParentItem(self.item.vb)
        self.label.anchor(itemPos=(0, 0), parentPos=(0, 0), offset=(4, 0))
        self.widget.themed_labels = (self.label,)  # recoloured with the plot when the theme changes
        self.hint = pg.TextItem(color=(110, 110, 110), anchor=(0.5, 0.5))
        self.widget.addItem(self.hint, ignoreBounds=True)
        self.measure = ""
        self.follow = None  # a stacked plot: the slot that keeps it on the first plot's step axis
        self._empty = None  # whether the plot shows its hint (None: not drawn yet)

    def show_measure(self, name: str) -> None:
        if name != self.measure:  # only then: a label lays the axis out again
            self.measure = name
            self.label.setText(MEASURES[name].axis)
            self.hint.setText(f"Generate to see each step's {MEASURES[name].axis}")

    def draw(self, x: np.ndarray, y: np.ndarray | None) -> None:
        """The curve, or (y None: no steps) an empty plot with the hint and no numbers on its y axis."""
        view, axis = self.item.vb, self.item.getAxis("left")
        if y is None:
            self.curve.setData([], [])
            if self._empty is not True:
                view.enableAutoRange(y=False)
                self.widget.setYRange(0, 1, padding=0)
                axis.setStyle(showValues=False)  # no tick numbers around nothing (0.0004 ...)
                self.cursor.hide()  # no step to be at
                self._empty = True
            low, high = view.viewRange()[0]
            self.hint.setPos((low + high) / 2, 0.5)
            self.hint.show()
            return
        self.curve.setData(x, y)
        if self._empty is not False:
            axis.setStyle(showValues=True)
            self.hint.hide()
            self.cursor.show()
            self._empty = False
        if not view.autoRangeEnabled()[1]:
            view.enableAutoRange(y=True)


class Timeline(QWidget):
    scrubbed = Signal(int)  # step index chosen with the slider or by a click on a plot
    hovered = Signal(int)  # step index under the mouse on a plot (-1: off the steps)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trace = None
        # A grid's trace interleaves its images, step-major (record i: image i % lanes, step
        # i // lanes): the x axis counts steps per image and the curve is the images' mean.
        self.lanes = 1
        self.measure_box = QComboBox()
        self.measure_box.addItems(list(MEASURES))
        self.measure_box.setToolTip("The measure plotted at each step")
        # More measures, each in a plot of its own stacked under the first, on the same step axis.
        self.add_button = QToolButton()
        self.add_button.setText("+ measure")
        self.add_button.setToolTip("Show more measures, stacked under this one on the same steps")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        for name in MEASURES:
            action = self.add_menu.addAction(name)
            action.setCheckable(True)
            action.toggled.connect(lambda on, name=name: self.add_measure(name) if on else self.remove_measure(name))
        self.add_button.setMenu(self.add_menu)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub to any step: the panel shows it and the view highlights it")
        self.position_label = QLabel("no steps")
        # Display speed, separate from compute speed: replay the steps already generated (however
        # fast they were computed) at a pace a person can follow.
        self.play_button = QPushButton(PLAY)
        self.play_button.setCheckable(True)  # checked (pressed in) while it plays, and says Pause
        self.play_button.setToolTip("Walk the cursor through the steps already generated, at the display speed")
        self.display_speed = QComboBox()
        for rate in DISPLAY_SPEEDS:
            self.display_speed.addItem(f"{rate} steps/s", rate)
        self.display_speed.setCurrentIndex(DISPLAY_SPEEDS.index(10))
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(FRAME_MS)
        self.play_timer.timeout.connect(self._advance)
        self._play_position, self._play_lane = 0.0, 0
        self.main = self._new_plot(PLOT_HEIGHT)
        self.plot, self.curve, self.cursor = self.main.widget, self.main.curve, self.main.cursor
        self.stacked: dict[str, MeasurePlot] = {}  # the measures added under the first, in order
        top = QHBoxLayout()
        top.addWidget(QLabel("Timeline"))
        top.addWidget(self.measure_box, 1)
        top.addWidget(self.add_button)
        top.addWidget(self.play_button)
        top.addWidget(self.display_speed)
        top.addWidget(self.position_label)
        self.plots = QVBoxLayout()
        self.plots.setSpacing(0)
        self.plots.addWidget(self.plot)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(self.plots)
        layout.addWidget(self.slider)
        self.measure_box.currentIndexChanged.connect(self.refresh)
        self.slider.valueChanged.connect(self._on_slider)
        self.play_button.toggled.connect(self._on_play_toggled)

    def _new_plot(self, height: int) -> MeasurePlot:
        plot = MeasurePlot(height)
        scene = plot.widget.scene()
        scene.sigMouseClicked.connect(lambda event: self._on_plot_clicked(event, plot))
        scene.sigMouseMoved.connect(lambda scene_pos: self._on_plot_hovered(scene_pos, plot))
        return plot

    def set_trace(self, trace, planned_steps: int | None = None, lanes: int = 1) -> None:
        """Show `trace`. planned_steps: a run that will grow to that many records: the step axis is
        fixed at its length from the start (the curve grows into it, like a progress bar), so the
        axes are not laid out again as the run starts and grows (that cost the window ~15 ms at
        every Generate). lanes: how many images a grid's trace interleaves."""
        if lanes != self.lanes:  # only then: a title lays the plot out again
            self.plot.setTitle(f"mean of the {lanes} images at each step" if lanes > 1 else None, size="8pt")
        self.trace, self.lanes = trace, lanes
        if planned_steps:
            planned_steps //= lanes
        if not len(trace):
            self.position_label.setText("no steps")
            self.cursor.setPos(0)  # not over the last run's end
        view = self.plot.getPlotItem().vb  # the stacked plots follow its step axis
        if planned_steps or not len(trace):  # no steps: an axis from 0, not an auto range around nothing (-0.4..0.4)
            view.enableAutoRange(x=False)
            self.plot.setXRange(0, (planned_steps or 1) + 1, padding=0.01)
        else:
            view.enableAutoRange(x=True)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Redraw every measure shown over every step so far (at the panel's rate while streaming)."""
        n = 0 if self.trace is None else len(self.trace)
        steps = n // self.lanes  # a grid's steps so far in every image; one image has one lane
        self.main.show_measure(self.measure_box.currentText())
        x = np.arange(1, steps + 1)
        for plot in (self.main, *self.stacked.values()):
            plot.draw(x, self._measured(plot.measure, steps) if steps else None)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.blockSignals(False)

    def _measured(self, name: str, steps: int) -> np.ndarray:
        """Measure `name` at each of the first `steps` steps: a grid's images' mean."""

        def column(field):
            return self.trace.column(field)[: steps * self.lanes].reshape(steps, self.lanes)

        return np.asarray(MEASURES[name].of(column), dtype=np.float64).mean(axis=1)

    def add_measure(self, name: str) -> None:
        """Show measure `name` too, in a plot stacked under the others, on the same steps."""
        if name in self.stacked:
            return
        plot = self._new_plot(STACKED_HEIGHT)
        # The first plot's step axis, followed in data coordinates (same axis width, same steps under
        # the same pixels); pyqtgraph's setXLink maps by screen geometry, which a plot not laid
        # out yet lacks, and then sent the first plot a collapsed range.
        plot.widget.setMouseEnabled(x=False, y=False)
        plot.follow = lambda _view, x_range: plot.item.vb.setXRange(*x_range, padding=0)
        main_view = self.plot.getPlotItem().vb
        main_view.sigXRangeChanged.connect(plot.follow)
        plot.follow(main_view, main_view.viewRange()[0])
        plot.show_measure(name)
        plot.cursor.setPos(self.cursor.value())
        self.stacked[name] = plot
        self.plots.addWidget(plot.widget)
        self._number_the_bottom_plot()
        self._check_menu(name, True)
        self.refresh()

    def remove_measure(self, name: str) -> None:
        """Take away the stacked plot of measure `name`."""
        plot = self.stacked.pop(name, None)
        if plot is not None:
            self.plot.getPlotItem().vb.sigXRangeChanged.disconnect(plot.follow)
            self.plots.removeWidget(plot.widget)
            plot.widget.deleteLater()
            self._number_the_bottom_plot()
        self._check_menu(name, False)

    def _number_the_bottom_plot(self) -> None:
        """Step numbers under the bottom plot only: the stacked plots share them."""
        plots = [self.main, *self.stacked.values()]
        for plot in plots:
            plot.item.getAxis("bottom").setStyle(showValues=plot is plots[-1])

    def _check_menu(self, name: str, on: bool) -> None:
        action = next(a for a in self.add_menu.actions() if a.text() == name)
        action.blockSignals(True)
        action.setChecked(on)
        action.blockSignals(False)

    def shown_measures(self) -> list[str]:
        """The measures plotted, top to bottom."""
        return [self.main.measure, *self.stacked]

    def axis_label(self, name: str | None = None) -> str:
        """The y axis label of measure `name`'s plot (the first plot's by default)."""
        plot = self.main if name is None else self.stacked[name]
        return plot.label.text

    def show_position(self, index: int) -> None:
        """Move the cursor to step `index` (0-based; a grid's record) without announcing it."""
        for plot in (self.main, *self.stacked.values()):
            plot.cursor.setPos(index // self.lanes + 1)
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        n = 0 if self.trace is None else len(self.trace)
        if not n:  # a run stopped before its first step
            self.position_label.setText("no steps")
        elif self.lanes > 1:
            self.position_label.setText(f"step {index // self.lanes + 1} of {n // self.lanes}, image {index % self.lanes + 1}")
        else:
            self.position_label.setText(f"step {index + 1} of {n}")

    @Slot(bool)
    def _on_play_toggled(self, playing: bool) -> None:
        steps = 0 if self.trace is None else len(self.trace) // self.lanes
        if playing and steps:
            self.play_button.setText(PAUSE)
            start = self.slider.value()
            self._play_lane = start % self.lanes  # a grid plays the image shown, step by step
            start //= self.lanes
            self._play_position = 0.0 if start >= steps - 1 else float(start)  # from the start once at the end
            self.scrubbed.emit(int(self._play_position) * self.lanes + self._play_lane)
            self.play_timer.start()
        else:
            self.play_timer.stop()
            self.play_button.setChecked(False)
            self.play_button.setText(PLAY)

    def playing(self) -> bool:
        return self.play_timer.isActive()

    @Slot()
    def _advance(self) -> None:
        steps = len(self.trace) // self.lanes
        self._play_position += self.display_speed.currentData() * FRAME_MS / 1000
        step = min(int(self._play_position), steps - 1)
        index = step * self.lanes + self._play_lane
        if index != self.slider.value():
            self.scrubbed.emit(index)
        if step >= steps - 1:
            self.play_button.setChecked(False)

    def values(self, name: str | None = None) -> np.ndarray:
        """The plotted measure (the first plot's, or stacked measure `name`'s), for tests and checks."""
        plot = self.main if name is None else self.stacked[name]
        y = plot.curve.getData()[1]
        return np.zeros(0) if y is None else np.asarray(y)

    @Slot(int)
    def _on_slider(self, index: int) -> None:
        if self.trace is not None and 0 <= index < len(self.trace):
            self.scrubbed.emit(index)

    def show_measure(self, name: str) -> None:
        """Plot measure `name` (one of MEASURES) in the first plot."""
        self.measure_box.setCurrentIndex(self.measure_box.findText(name))

    def index_at(self, scene_pos, plot: MeasurePlot | None = None) -> int:
        """The step under a point of a plot (a grid: that step of the image shown), -1 off the steps."""
        x = (plot or self.main).item.vb.mapSceneToView(scene_pos).x()
        index = (int(round(x)) - 1) * self.lanes + self.slider.value() % self.lanes
        return index if self.trace is not None and 0 <= index < len(self.trace) else -1

    def _on_plot_clicked(self, event, plot: MeasurePlot) -> None:
        index = self.index_at(event.scenePos(), plot)
        if index >= 0:
            self.scrubbed.emit(index)

    def _on_plot_hovered(self, scene_pos, plot: MeasurePlot) -> None:
        self.hovered.emit(self.index_at(scene_pos, plot))
