"""Beam search speed on the bundled text model, in one process:

1. search steps per second for widths 1, 4 and 8 (core/beam.py over nets/gpt_beams.py: every beam
   in one batched forward a step), at contexts 64, 256 and 1000, against plain greedy decoding
   (GPTStepper, one character a step) on the same weights: the ratios say what a wider beam costs;
2. GUI event-loop latency (p50 / p99) on the real window (offscreen) while the Decoding lab's Beam
   search tab searches at width 8, beside the same window idle.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/beam_speed.py [--model NAME] [--threads N]

Machines here are shared and noisy: every figure is a median over repeats, and ratios are taken
within one run on the same weights.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH

WIDTHS = (1, 4, 8)
CONTEXTS = (64, 256, 1000)


def load(name: str | None):
    from arplayground import catalog

    entries = [e for e in catalog.discover() if e.available and e.mode == "text" and e.demonstration is None]
    entry = next((e for e in entries if e.name == name), entries[0]) if name else entries[0]
    return entry, catalog.load_stepper(entry)


def greedy_steps_per_second(stepper, prefix, steps: int) -> float:
    stepper.reset(prefix)
    start = time.perf_counter()
    for _ in range(steps):
        stepper.push(int(np.argmax(stepper.logits())))
    return steps / (time.perf_counter() - start)


def beam_steps_per_second(stepper, prefix, width: int, steps: int) -> tuple[float, list[int]]:
    """Steps/s after the first step (which primes the beams on the prefix), and the width-1 text."""
    from arplayground.core.beam import BeamSearch
    from arplayground.nets.gpt_beams import GPTBeams

    search = BeamSearch(GPTBeams.of(stepper, width), prefix, width, steps + 1)
    search.step()
    start = time.perf_counter()
    for _ in range(steps):
        search.step()
    return steps / (time.perf_counter() - start), list(search.best().values)


def speed_table(stepper, steps: int, repeats: int) -> None:
    print("| context | greedy decoding (chars/s) | " + " | ".join(f"width {w} (steps/s)" for w in WIDTHS)
          + " | " + " | ".join(f"width {w} / greedy" for w in WIDTHS[1:]) + " |")
    print("|--------:|---:|" + "---:|" * len(WIDTHS) + "---:|" * (len(WIDTHS) - 1))
    rng = np.random.default_rng(0)
    for context in CONTEXTS:
        prefix = [int(v) for v in rng.integers(0, len(stepper.vocab), context)]
        greedy, beams = [], {w: [] for w in WIDTHS}
        for _ in range(repeats):
            greedy.append(greedy_steps_per_second(stepper, prefix, steps))
            greedy_text = stepper.tokens[context:]
            for width in WIDTHS:
                rate, text = beam_steps_per_second(stepper, prefix, width, steps)
                beams[width].append(rate)
                if width == 1:
                    assert text[:steps] == greedy_text, "width 1 must be greedy decoding exactly"
        g = statistics.median(greedy)
        b = {w: statistics.median(r) for w, r in beams.items()}
        print(f"| {context} | {g:,.0f} | " + " | ".join(f"{b[w]:,.0f}" for w in WIDTHS) + " | "
              + " | ".join(f"{b[w] / g:.2f}x" for w in WIDTHS[1:]) + " |", flush=True)


def gui_latency(entry_name: str, seconds: float, search: bool, width: int):
    """(p50, p99, max lateness in ms, search steps made) of a 10 ms timer on the real window's event
    loop, with the Beam search tab open, searching at `width` (or idle)."""
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from arplayground.gui.app import freeze_startup_objects
    from arplayground.gui.collector import collect_on_gui_thread
    from arplayground.gui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does
    window = MainWindow(None)
    window.show()
    window.mode_box.setCurrentIndex(window.mode_box.findData("text"))
    index = next(i for i in range(window.model_box.count()) if window.model_box.itemData(i).name == entry_name)
    window.model_box.setCurrentIndex(index)
    window.prompt_edit.setPlainText("ROMEO:")
    lab = window.open_decoding_lab()
    lab.show_page("Beam search")
    tab = lab.page("Beam search")
    tab.width_spin.setValue(width)
    tab.length_spin.setValue(tab.length_spin.maximum())
    freeze_startup_objects()
    lateness, when, last = [], [], [None]
    clock, timer = QElapsedTimer(), QTimer()
    timer.setInterval(10)

    def tick():
        now = clock.nsecsElapsed() / 1e6
        if last[0] is not None:
            lateness.append(max(0.0, now - last[0] - 10))
            when.append(now / 1000)
        last[0] = now

    timer.timeout.connect(tick)
    if search:
        tab.start_button.click()
    clock.start()
    timer.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    timer.stop()
    steps = len(tab.tree.steps)
    window.close()  # closes the lab, which waits for the search's thread
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    lat = np.array(lateness)
    late = np.argsort(-lat)[: max(1, len(lat) // 100)]  # the ticks the p99 is made of: when they came
    print(f"{len(lat)} ticks; late ticks (s, ms):", [(round(when[i], 2), round(float(lat[i]), 1)) for i in sorted(late)], file=sys.stderr)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 99)), float(lat.max()), steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--steps", type=int, default=20, help="steps per measurement (1000 + 20 fits the 1024 context)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gui-seconds", type=float, default=8.0)
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, gui=True):
        measure(args)


def measure(args) -> None:
    import torch

    from arplayground.gui.app import configure_runtime

    configure_runtime()  # the app's process settings: 1 torch thread, short GIL switch interval
    torch.set_num_threads(args.threads)
    entry, stepper = load(args.model)
    print(f"model {entry.name}: {entry.card['parameters']:,} parameters, block {stepper.model.cfg.block_size}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads; {args.steps} steps a measurement, "
          f"median of {args.repeats}")
    print()
    with torch.inference_mode():
        speed_table(stepper, args.steps, args.repeats)
    print()
    print("| GUI event loop (10 ms timer, real window, offscreen) | p50 late (ms) | p99 late (ms) | max (ms) "
          "| search steps |")
    print("|---|---:|---:|---:|---:|")
    for search in (False, True):
        p50, p99, worst, steps = gui_latency(entry.name, args.gui_seconds, search, width=8)
        what = f"Beam search tab searching at width 8 for {args.gui_seconds:g} s" if search else "idle, the tab open"
        print(f"| {what} | {p50:.2f} | {p99:.2f} | {worst:.1f} | {steps:,} |", flush=True)


if __name__ == "__main__":
    main()
