"""The timeline under the view: one measure of every step of the run, and a cursor to scrub with.
A grid's curve is its images' mean at each step; the cursor and Play follow one image.

Scrubbing shows the step under the cursor in the panel and highlights its value in place (the
character, the pixel, the audio sample). The curves are made once and only fed new arrays;
long audio runs are drawn with peak downsampling and clipped to the visible range.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from arplayground.gui.theme import style_plot

DISPLAY_SPEEDS = (1, 2, 5, 10, 20, 50, 100, 500, 2000)  # steps per second when the timeline plays
FRAME_MS = 16

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

# (label, how to compute it from column(name), a trace column as (steps, images)) per measure; all
# per step, nats where it applies
MEASURES = {
    "entropy (nats)": lambda column: column("entropy"),
    "surprisal of the drawn value (nats)": surprisal,
    "rank of the drawn value (0 = most likely)": lambda column: column("rank"),
    "values kept by the sampler": lambda column: column("kept"),
    "running NLL (nats per step)": running_nll,
    "running perplexity": lambda column: np.exp(running_nll(column)),
    CHAIN_RULE: running_bits,
    # Per-step latency: flat with the cache, rising with the position without it (a chunk's steps
    # share its time evenly: the compiled paths time blocks, not single values).
    LATENCY: lambda column: column("seconds") * 1000.0,
}


class Timeline(QWidget):
    scrubbed = Signal(int)  # step index chosen with the slider or by a click on the plot
    hovered = Signal(int)  # step index under the mouse on the plot (-1: off the steps)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trace = None
        # A grid's trace interleaves its images, step-major (record i: image i % lanes, step
        # i // lanes): the x axis counts steps per image and the curve is the images' mean.
        self.lanes = 1
        self.measure_box = QComboBox()
        self.measure_box.addItems(list(MEASURES))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setToolTip("Scrub to any step: the panel shows it and the view highlights it")
        self.position_label = QLabel("no steps")
        # Display speed, separate from compute speed: replay the steps already generated (however
        # fast they were computed) at a pace a person can follow.
        self.play_button = QPushButton("▶ Play")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Walk the cursor through the steps already generated, at the display speed")
        self.display_speed = QComboBox()
        for rate in DISPLAY_SPEEDS:
            self.display_speed.addItem(f"{rate} steps/s", rate)
        self.display_speed.setCurrentIndex(DISPLAY_SPEEDS.index(10))
        self.play_timer = QTimer(self)
        self.play_timer.setInterval(FRAME_MS)
        self.play_timer.timeout.connect(self._advance)
        self._play_position, self._play_lane = 0.0, 0
        self.plot = pg.PlotWidget()  # its colours: the palette's (gui/theme.py)
        self.plot.setFixedHeight(120)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.curve = self.plot.plot(pen=pg.mkPen((70, 130, 220), width=1))  # a mid blue: it reads on light and dark
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((214, 40, 40), width=2))
        self.plot.addItem(self.cursor)
        style_plot(self.plot)
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        self.plot.scene().sigMouseMoved.connect(self._on_plot_hovered)
        top = QHBoxLayout()
        top.addWidget(QLabel("Timeline"))
        top.addWidget(self.measure_box, 1)
        top.addWidget(self.play_button)
        top.addWidget(self.display_speed)
        top.addWidget(self.position_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.plot)
        layout.addWidget(self.slider)
        self.measure_box.currentIndexChanged.connect(self.refresh)
        self.slider.valueChanged.connect(self._on_slider)
        self.play_button.toggled.connect(self._on_play_toggled)

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
        view = self.plot.getPlotItem().vb
        if planned_steps or not len(trace):  # no steps: an axis from 0, not an auto range around nothing (-0.4..0.4)
            view.enableAutoRange(x=False)
            self.plot.setXRange(0, (planned_steps or 1) + 1, padding=0.01)
        else:
            view.enableAutoRange(x=True)
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Redraw the measure over every step so far (called at most at the panel's rate)."""
        n = 0 if self.trace is None else len(self.trace)
        view = self.plot.getPlotItem().vb
        if n == 0:
            view.enableAutoRange(y=False)  # an empty run keeps the last y range: no relayout until it has steps
            self.curve.setData([], [])
        else:
            steps = n // self.lanes  # a grid's steps so far in every image; one image has one lane

            def column(name):
                return self.trace.column(name)[: steps * self.lanes].reshape(steps, self.lanes)

            y = np.asarray(MEASURES[self.measure_box.currentText()](column), dtype=np.float64)
            self.curve.setData(np.arange(1, steps + 1), y.mean(axis=1))
            if not view.autoRangeEnabled()[1]:
                view.enableAutoRange(y=True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.blockSignals(False)

    def show_position(self, index: int) -> None:
        """Move the cursor to step `index` (0-based; a grid's record) without announcing it."""
        self.cursor.setPos(index // self.lanes + 1)
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
            start = self.slider.value()
            self._play_lane = start % self.lanes  # a grid plays the image shown, step by step
            start //= self.lanes
            self._play_position = 0.0 if start >= steps - 1 else float(start)  # from the start once at the end
            self.scrubbed.emit(int(self._play_position) * self.lanes + self._play_lane)
            self.play_timer.start()
        else:
            self.play_timer.stop()
            self.play_button.setChecked(False)

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

    def values(self) -> np.ndarray:
        """The plotted measure, for tests and checks."""
        return np.asarray(self.curve.getData()[1])

    @Slot(int)
    def _on_slider(self, index: int) -> None:
        if self.trace is not None and 0 <= index < len(self.trace):
            self.scrubbed.emit(index)

    def show_measure(self, name: str) -> None:
        """Plot measure `name` (one of MEASURES)."""
        self.measure_box.setCurrentIndex(self.measure_box.findText(name))

    def index_at(self, scene_pos) -> int:
        """The step under a point of the plot (a grid: that step of the image shown), -1 off the steps."""
        x = self.plot.getPlotItem().vb.mapSceneToView(scene_pos).x()
        index = (int(round(x)) - 1) * self.lanes + self.slider.value() % self.lanes
        return index if self.trace is not None and 0 <= index < len(self.trace) else -1

    def _on_plot_clicked(self, event) -> None:
        index = self.index_at(event.scenePos())
        if index >= 0:
            self.scrubbed.emit(index)

    def _on_plot_hovered(self, scene_pos) -> None:
        self.hovered.emit(self.index_at(scene_pos))
