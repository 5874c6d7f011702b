"""GUI event-loop latency on the real main window (offscreen) while a mode generates at full speed.

A 10 ms QTimer runs on the application's own event loop; its lateness is what a person feels as lag.
"""

from __future__ import annotations

import numpy as np


def measure(mode: str, model_name: str, seconds: float, generate: bool, setup=None, until_done: bool = False,
            again: bool = False):
    """(p50, p99, max lateness in ms, seconds into the run of the max, steps generated, p99 between
    runs in ms or None).

    again: when a run is done, Generate again at once (runs shorter than the measurement: an image
    takes a twentieth of a second, too few timer ticks for a p99 of their own). A run's end and the
    next one's start lay out and repaint much of the window; "p99 between runs" leaves out the
    ticks from 20 ms before to 150 ms after each (None when fewer than 100 ticks are left)."""
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from arplayground.gui.app import freeze_startup_objects
    from arplayground.gui.collector import collect_on_gui_thread
    from arplayground.gui.main_window import SPEEDS, MainWindow

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does
    window = MainWindow(None)
    window.show()
    window.mode_box.setCurrentIndex(window.mode_box.findData(mode))
    index = next(i for i in range(window.model_box.count()) if window.model_box.itemData(i).name == model_name)
    window.model_box.setCurrentIndex(index)
    window.speed_slider.setValue(SPEEDS.index(0))
    if setup:
        setup(window)
    freeze_startup_objects()  # as the app does once its window is up
    lateness, when = [], []
    done_steps = [0]  # steps of the runs already finished (again=True)
    run_ends = [0.0]  # seconds into the measurement: the first Generate, then each run's end
    measuring = [True]
    clock = QElapsedTimer()
    interval_ms = 10
    timer = QTimer()
    timer.setInterval(interval_ms)
    last = [None]

    def tick():
        now = clock.nsecsElapsed() / 1e6
        if last[0] is not None:
            lateness.append(max(0.0, now - last[0] - interval_ms))
            when.append(now / 1000)
        last[0] = now

    timer.timeout.connect(tick)
    if generate:
        window.generate_button.click()
        if until_done:
            window.runner.finished.connect(lambda _: app.quit())
        if again:
            def next_run(outcome):
                run_ends.append(clock.nsecsElapsed() / 1e9)
                if outcome == "done":
                    done_steps[0] += len(window.trace)
                    # Not once the measurement is over: the window is deleted by the time it would run.
                    QTimer.singleShot(0, lambda: measuring[0] and window.generate_button.click())
            window.runner.finished.connect(next_run)
    clock.start()
    timer.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()  # the application's real event loop, measured by its own timer
    measuring[0] = False
    timer.stop()
    window.runner.stop()
    steps = done_steps[0] + len(window.trace)
    window.close()
    window.deleteLater()  # destroyed now, while the application exists
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    lat, at, ends = np.array(lateness), np.array(when), np.array(run_ends)
    worst_at = at[int(np.argmax(lat))]
    away = ~((at[:, None] - ends[None, :] >= -0.02) & (at[:, None] - ends[None, :] < 0.15)).any(axis=1)
    between = float(np.percentile(lat[away], 99)) if away.sum() >= 100 else None
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), float(lat.max()), worst_at, steps, between


def print_table(mode: str, model_name: str, seconds: float, unit: str, busy: str, setup=None, until_done=False,
                again=False) -> None:
    """The idle and the generating row side by side, as a markdown table."""
    print(f"| GUI event loop (10 ms timer, real window, offscreen) | p50 late (ms) | p99 late (ms) | max (ms), at (s) "
          f"| p99 between runs (ms) | {unit} generated |")
    print("|---|---:|---:|---:|---:|---:|")
    for generate in (False, True):
        measured = measure(mode, model_name, seconds, generate, setup=setup, until_done=until_done and generate, again=again)
        print_row(busy if generate else "idle", measured)


def print_row(what: str, measured) -> None:
    """One row of print_table's table, from measure()'s result."""
    p50, p99, worst, worst_at, steps, between = measured
    between = "-" if between is None else f"{between:.2f}"
    print(f"| {what} | {p50:.2f} | {p99:.2f} | {worst:.1f} at {worst_at:.2f} | {between} | {steps:,} |", flush=True)
