"""Training is parallel, generation is sequential: measured on the bundled weights, in one process.

For each mode, the same length three ways:
1. one teacher-forced pass (core.score.score): every conditional of a known sequence at once,
   records included, as the app's Score does it;
2. generating that many values one at a time with the app's cached path (KV cache, row caches and
   compiled columns, WaveNet queues: core.score.generation_seconds);
3. generating them with the naive baseline (nets.baselines: the whole network for every value).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/score_speed.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/score_speed.py --audio-naive-seconds 0.25   # quicker

The naive WaveNet runs the whole network over the whole clip for every sample (quadratic); by
default it runs for a quarter of the clip's length and says so, never scaled up.
Times are medians over --repeats (the naive path once), ratios taken within this run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load(name: str):
    from arplayground import catalog

    entry = next(e for e in catalog.discover() if e.name == name)
    return entry, catalog.load_stepper(entry)


def cases(args):
    """(mode, model, unit, prefix, values, condition, naive steps) per row."""
    from arplayground.core.mulaw import encode

    rng = np.random.default_rng(0)
    text_entry, text = load("shakespeare-char-gpt")
    data = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    sample = "\n".join(f"Line {i}: to be, or not to be, that is the question." for i in range(40))
    tiny = data / "tinyshakespeare" / "input.txt"
    if tiny.exists():
        sample = tiny.read_text()[-args.chars - 1 :]
    ids = text.vocab.encode(sample[-args.chars - 1 :])
    yield "text", text_entry.name, "chars", ids[:1], ids[1:], None, args.chars
    image_entry, image = load("mnist-gated-pixelcnn")
    yield "image", image_entry.name, "pixels", [], rng.integers(0, 256, 784), 3, 784
    audio_entry, audio = load("fsdd-wavenet")
    n = int(args.audio_seconds * 8000)
    t = np.arange(n) / 8000
    levels = encode(0.3 * np.sin(2 * np.pi * 200 * t))
    yield "audio", audio_entry.name, "samples", [], levels, (3, 0), int(args.audio_naive_seconds * 8000)


def gui_latency_while_scoring(seconds: float) -> tuple[float, float, float, float]:
    """(p50, p99, max timer lateness in ms, the pass's seconds) on the real window (offscreen)
    while Score reads `seconds` of real speech (FSDD clips end to end, opened as Open WAV does)."""
    import tempfile

    from PySide6.QtCore import QElapsedTimer, QTimer
    from PySide6.QtWidgets import QApplication

    from arplayground.audio.wav import read_wav, write_wav
    from arplayground.gui.app import freeze_startup_objects
    from arplayground.gui.collector import collect_on_gui_thread
    from arplayground.gui.main_window import MainWindow

    clips = sorted((Path(__file__).resolve().parents[2] / "shared" / "datasets" / "fsdd" / "recordings").glob("*_0.wav"))
    speech, total = [], 0
    for clip in clips:
        samples, _ = read_wav(clip)
        speech.append(samples)
        total += len(samples)
        if total >= seconds * 8000:
            break
    path = Path(tempfile.mkdtemp()) / "speech.wav"
    write_wav(path, np.concatenate(speech)[: int(seconds * 8000)])
    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does
    window = MainWindow(None)
    window.show()
    window.mode_box.setCurrentIndex(window.mode_box.findData("audio"))
    view = window.current_view()
    view.open_wav(str(path))
    while view.conversion is not None:
        app.processEvents()
    for _ in range(2):  # the first loads the model; the second is measured
        late, clock, last = [], QElapsedTimer(), [0]

        def tick():
            now = clock.elapsed()
            late.append(max(0, now - last[0] - 10))
            last[0] = now

        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(tick)
        freeze_startup_objects()
        clock.start()
        timer.start()
        window.score_button.click()
        while window.score.busy():
            app.processEvents()
        timer.stop()
    passed = window.score.infos[-1].seconds
    window.close()
    late = np.array(late[1:], np.float64)
    return float(np.percentile(late, 50)), float(np.percentile(late, 99)), float(late.max()), passed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=1000)
    parser.add_argument("--audio-seconds", type=float, default=1.0)
    parser.add_argument("--audio-naive-seconds", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gui-seconds", type=float, default=30.0, help="seconds of speech scored in the window (0: skip)")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, gui=True):
        measure(args)


def measure(args) -> None:

    import torch

    from arplayground.core.score import generation_seconds, score
    from arplayground.gui.app import configure_runtime
    from arplayground.nets.baselines import naive_stepper

    configure_runtime()  # the app's process settings: 1 torch thread
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print()
    print("| mode | values | one parallel pass | cached, one at a time | naive, one at a time | cached / pass | naive / pass |")
    print("|------|-------:|------------------:|----------------------:|---------------------:|--------------:|-------------:|")
    from arplayground import catalog

    for mode, name, unit, prefix, values, condition, naive_n in cases(args):
        entry = next(e for e in catalog.discover() if e.name == name)
        stepper = catalog.load_stepper(entry)
        if hasattr(stepper, "warm_up"):
            stepper.warm_up()
        n = len(values)
        parallel = median_seconds(lambda: score(stepper, prefix, values, condition), args.repeats)
        cached = median_seconds(lambda: generation_seconds(stepper, prefix, n, condition), args.repeats)
        naive = generation_seconds(naive_stepper(stepper), prefix, naive_n, condition)
        naive_text = f"{naive:.2f} s" + ("" if naive_n == n else f" for {naive_n:,} {unit}")
        naive_ratio = f"{naive / parallel:,.0f}x" + ("" if naive_n == n else f" ({naive_n:,} vs {n:,})")
        print(f"| {mode} | {n:,} {unit} | {parallel * 1000:.1f} ms | {cached:.3f} s | {naive_text} | "
              f"{cached / parallel:,.1f}x | {naive_ratio} |", flush=True)
    if args.gui_seconds:
        p50, p99, worst, passed = gui_latency_while_scoring(args.gui_seconds)
        print()
        print(f"GUI event loop while Score reads {args.gui_seconds:g} s of speech in the window ({passed:.2f} s for "
              f"the pass and its records; the classifier reads clips up to 10 s): p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
              f"max {worst:.1f} ms of a 10 ms timer's lateness")


if __name__ == "__main__":
    main()
