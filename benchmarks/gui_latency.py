"""GUI event-loop latency on the real main window (offscreen) while a mode generates at full speed.

A 10 ms QTimer runs on the application's own event loop; its lateness is what a person feels as lag.
"""

from __future__ import annotations

import sys

import numpy as np


INTERVAL_MS = 10  # the timer's period: each tick's lateness is how much longer than this it took


def open_window(mode: str, model_name: str, setup=None):
    """(app, window): the real main window, shown, in `mode` with `model_name` chosen, setup(window)
    applied, and the process settled as the app settles it once its window is up."""
    from PySide6.QtWidgets import QApplication

    from arplayground.gui.app import freeze_startup_objects
    from arplayground.gui.collector import collect_on_gui_thread
    from arplayground.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does
    window = MainWindow(None)
    window.show()
    window.mode_box.setCurrentIndex(window.mode_box.findData(mode))
    index = next(i for i in range(window.model_box.count()) if window.model_box.itemData(i).name == model_name)
    window.model_box.setCurrentIndex(index)
    if setup:
        setup(window)
    freeze_startup_objects()  # as the app does once its window is up
    return app, window


def time_event_loop(app, seconds: float, start=None) -> tuple[np.ndarray, np.ndarray]:
    """(lateness of each tick in ms, seconds into the measurement it came at) of a 10 ms timer on
    the application's real event loop, run for `seconds`. start(now), if given, is called just
    before the clock starts; now() is then the seconds into the measurement."""
    from PySide6.QtCore import QElapsedTimer, QTimer

    lateness, when = [], []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(INTERVAL_MS)
    last = [None]

    def tick():
        now = clock.nsecsElapsed() / 1e6
        if last[0] is not None:
            lateness.append(max(0.0, now - last[0] - INTERVAL_MS))
            when.append(now / 1000)
        last[0] = now

    timer.timeout.connect(tick)
    if start:
        start(lambda: clock.nsecsElapsed() / 1e9)
    clock.start()
    timer.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()  # the application's real event loop, measured by its own timer
    timer.stop()
    return np.array(lateness), np.array(when)


def close_window(window) -> None:
    """Close the window (which waits for its threads) and destroy it now, while the application exists."""
    from PySide6.QtCore import QCoreApplication, QEvent

    window.close()
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def measure(mode: str, model_name: str, seconds: float, generate: bool, setup=None, until_done: bool = False,
            again: bool = False):
    """(p50, p99, max lateness in ms, seconds into the run of the max, steps generated, p99 between
    runs in ms or None).

    again: when a run is done, Generate again at once (runs shorter than the measurement: an image
    takes a twentieth of a second, too few timer ticks for a p99 of their own). A run's end and the
    next one's start lay out and repaint much of the window; "p99 between runs" leaves out the
    ticks from 20 ms before to 150 ms after each (None when fewer than 100 ticks are left)."""
    from PySide6.QtCore import QTimer

    from arplayground.gui.main_window import SPEEDS

    def full_speed(window):
        window.speed_slider.setValue(SPEEDS.index(0))
        if setup:
            setup(window)

    app, window = open_window(mode, model_name, full_speed)
    done_steps = [0]  # steps of the runs already finished (again=True)
    run_ends = [0.0]  # seconds into the measurement: the first Generate, then each run's end
    measuring = [True]

    def start(now):
        if not generate:
            return
        window.generate_button.click()
        if until_done:
            window.runner.finished.connect(lambda _: app.quit())
        if again:
            def next_run(outcome):
                run_ends.append(now())
                if outcome == "done":
                    done_steps[0] += len(window.trace)
                    # Not once the measurement is over: the window is deleted by the time it would run.
                    QTimer.singleShot(0, lambda: measuring[0] and window.generate_button.click())
            window.runner.finished.connect(next_run)

    lat, at = time_event_loop(app, seconds, start)
    measuring[0] = False
    window.runner.stop()
    steps = done_steps[0] + len(window.trace)
    close_window(window)
    ends = np.array(run_ends)
    worst_at = at[int(np.argmax(lat))]
    away = ~((at[:, None] - ends[None, :] >= -0.02) & (at[:, None] - ends[None, :] < 0.15)).any(axis=1)
    between = float(np.percentile(lat[away], 99)) if away.sum() >= 100 else None
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), float(lat.max()), worst_at, steps, between


def lab_tab(model_name: str, page: str, seconds: float, busy: bool, prepare, start, progress):
    """(p50, p99, max lateness in ms, progress) of the 10 ms timer on the real window's event loop
    with the Decoding lab's `page` tab open on text from "ROMEO:": prepare(tab) sets it up, start(tab)
    sets it going (only when busy), progress(tab) says how far it got. The ticks the p99 is made of
    go to stderr with when they came, to tell a steady load from a few stalls."""
    tabs = []

    def open_tab(window):
        window.prompt_edit.setPlainText("ROMEO:")
        lab = window.open_decoding_lab()
        lab.show_page(page)
        tabs.append(lab.page(page))
        prepare(tabs[0])

    app, window = open_window("text", model_name, open_tab)
    tab = tabs[0]
    lat, when = time_event_loop(app, seconds, (lambda _now: start(tab)) if busy else None)
    done = progress(tab)
    close_window(window)  # closes the lab, which waits for the tab's thread
    late = np.argsort(-lat)[: max(1, len(lat) // 100)]
    print(f"{len(lat)} ticks; late ticks (s, ms):", [(round(float(when[i]), 2), round(float(lat[i]), 1)) for i in sorted(late)],
          file=sys.stderr)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), float(lat.max()), done


def print_lab_table(rows, unit: str) -> None:
    """The lab tab's rows (what, lab_tab's result) as a markdown table."""
    print("| GUI event loop (10 ms timer, real window, offscreen) | p50 late (ms) | p99 late (ms) | max (ms) "
          f"| {unit} |")
    print("|---|---:|---:|---:|---:|")
    for what, (p50, p99, worst, done) in rows:
        print(f"| {what} | {p50:.2f} | {p99:.2f} | {worst:.1f} | {done:,} |", flush=True)


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
