"""What redrawing the distribution panel every frame costs generation, per mode.

While a run streams, the panel redraws at most PANEL_HZ times a second (60: one a frame, so it
never lags the view). Each redraw holds the GIL on the GUI thread, which the worker needs between
its torch ops. This runs each mode at full speed in the real window (offscreen) with the panel
at 20 and at 60 redraws a second, alternating, on the bundled models, and prints the steps made
in the same time side by side.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/panel_rate.py
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH
import gui_latency  # noqa: E402  (benchmarks/gui_latency.py, beside this script)


def long_text(window) -> None:
    window.length_spin.setValue(window.length_spin.maximum())
    window.prompt_edit.setPlainText("ROMEO:")


def silent_clip(window) -> None:
    window.views["audio"].play_live.setChecked(False)  # the cost of the panel, not of the sound


MODES = (
    ("text", "shakespeare-char-gpt", "chars", dict(setup=long_text)),
    ("image", "mnist-gated-pixelcnn", "pixels", dict(again=True)),
    ("audio", "fsdd-wavenet", "samples", dict(setup=silent_clip, again=True)),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", default="text,image,audio")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, gui=True):
        measure(args)


def measure(args) -> None:
    import torch

    import arplayground.gui.main_window as main_window

    torch.set_num_threads(1)  # as the app runs
    print(f"{args.repeats} runs of {args.seconds:g} s per mode and rate, alternating; medians\n")
    print("| mode | steps at 20 redraws/s | steps at 60 redraws/s | 60 vs 20 | GUI p99 at 20 (ms) | GUI p99 at 60 (ms) |")
    print("|---|---:|---:|---:|---:|---:|")
    saved = main_window.PANEL_HZ
    for mode, model, unit, options in MODES:
        if mode not in args.modes.split(","):
            continue
        steps = {20: [], 60: []}
        p99 = {20: [], 60: []}
        for _ in range(args.repeats):
            for hz in (20, 60):
                main_window.PANEL_HZ = hz
                _, late99, _, _, made, _ = gui_latency.measure(mode, model, args.seconds, True, **options)
                steps[hz].append(made)
                p99[hz].append(late99)
        s20, s60 = statistics.median(steps[20]), statistics.median(steps[60])
        print(f"| {mode} | {s20:,.0f} {unit} | {s60:,.0f} {unit} | {100 * (s60 / s20 - 1):+.1f}% | "
              f"{statistics.median(p99[20]):.2f} | {statistics.median(p99[60]):.2f} |", flush=True)
    main_window.PANEL_HZ = saved


if __name__ == "__main__":
    main()
