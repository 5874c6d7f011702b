"""The timeline under the view: one measure of every step of the run, and a cursor to scrub with.

Scrubbing shows the step under the cursor in the panel and highlights its value in place (the
character, the pixel, the audio sample). The curves are made once and only fed new arrays;
long audio runs are drawn with peak downsampling and clipped to the visible range.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

DISPLAY_SPEEDS = (1, 2, 5, 10, 20, 50, 100, 500, 2000)  # steps per second when the timeline plays
FRAME_MS = 16

def surprisal(trace) -> np.ndarray:
    """-log p of each drawn value under the model, nats."""
    return -np.log(np.maximum(trace.column("prob").astype(np.float64), 1e-30))


def running_nll(trace) -> np.ndarray:
    return np.cumsum(surprisal(trace)) / np.arange(1, len(trace) + 1)


# (label, how to compute it from the trace) per measure; all per step, nats where it applies
MEASURES = {
    "entropy (nats)": lambda t: t.column("entropy"),
    "surprisal of the drawn value (nats)": surprisal,
    "rank of the drawn value (0 = most likely)": lambda t: t.column("rank"),
    "values kept by the sampler": lambda t: t.column("kept"),
    "running NLL (nats per step)": running_nll,
    "running perplexity": lambda t: np.exp(running_nll(t)),
}


class Timeline(QWidget):
    scrubbed = Signal(int)  # step index chosen with the slider or by a click on the plot

    def __init__(self, parent=None):
        super().__init__(parent)
        self.trace = None
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
        self._play_position = 0.0
        self.plot = pg.PlotWidget(background="w")
        self.plot.setFixedHeight(120)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.curve = self.plot.plot(pen=pg.mkPen((40, 90, 160), width=1))
        self.curve.setDownsampling(auto=True, method="peak")
        self.curve.setClipToView(True)
        self.cursor = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((214, 40, 40), width=2))
        self.plot.addItem(self.cursor)
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
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

    def set_trace(self, trace, planned_steps: int | None = None) -> None:
        """Show `trace`. planned_steps: a run that will grow to that many steps: the step axis is
        fixed at its length from the start (the curve grows into it, like a progress bar), so the
        axes are not laid out again as the run starts and grows (that cost the window ~15 ms at
        every Generate)."""
        self.trace = trace
        if not len(trace):
            self.position_label.setText("no steps")
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
            y = np.asarray(MEASURES[self.measure_box.currentText()](self.trace), dtype=np.float64)
            self.curve.setData(np.arange(1, n + 1), y)
            if not view.autoRangeEnabled()[1]:
                view.enableAutoRange(y=True)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(0, n - 1))
        self.slider.blockSignals(False)

    def show_position(self, index: int) -> None:
        """Move the cursor to step `index` (0-based) without announcing it."""
        self.cursor.setPos(index + 1)
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        n = 0 if self.trace is None else len(self.trace)
        self.position_label.setText(f"step {index + 1} of {n}")

    @Slot(bool)
    def _on_play_toggled(self, playing: bool) -> None:
        n = 0 if self.trace is None else len(self.trace)
        if playing and n:
            start = self.slider.value()
            self._play_position = 0.0 if start >= n - 1 else float(start)  # from the start once at the end
            self.scrubbed.emit(int(self._play_position))
            self.play_timer.start()
        else:
            self.play_timer.stop()
            self.play_button.setChecked(False)

    @Slot()
    def _advance(self) -> None:
        n = 0 if self.trace is None else len(self.trace)
        self._play_position += self.display_speed.currentData() * FRAME_MS / 1000
        index = min(int(self._play_position), n - 1)
        if index != self.slider.value():
            self.scrubbed.emit(index)
        if index >= n - 1:
            self.play_button.setChecked(False)

    def values(self) -> np.ndarray:
        """The plotted measure, for tests and checks."""
        return np.asarray(self.curve.getData()[1])

    @Slot(int)
    def _on_slider(self, index: int) -> None:
        if self.trace is not None and 0 <= index < len(self.trace):
            self.scrubbed.emit(index)

    def _on_plot_clicked(self, event) -> None:
        x = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos()).x()
        index = int(round(x)) - 1
        if self.trace is not None and 0 <= index < len(self.trace):
            self.scrubbed.emit(index)
