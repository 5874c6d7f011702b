"""Image mode speed, on the bundled PixelCNN, in one process, on one core:

1. one whole 28 x 28 sample with the cached fast path (as the app runs it: compiled chunks of
   pixels, sampling included; and through the per-step loop) vs naive re-running of the network
   for every pixel; same seed, so the images must be identical;
2. GUI event-loop latency (p50 / p99) on the real window (offscreen) while Image mode generates at
   full speed, beside the same window idle: single images back to back (a run starts and ends
   every fraction of a second), and ten-digit grids back to back (ten times longer runs).

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/image_speed.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/image_speed.py --guidance 2   # guided: two images a sample

With --guidance G every path draws with guidance G (the digit's image and its "any digit" copy),
and the window's single images ask for digit 3 (guidance needs a digit).

Machines here are shared and noisy: times are medians over repeats, ratios taken within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH
import gui_latency  # noqa: E402  (benchmarks/gui_latency.py, beside this script)


def sample_seconds(stepper, seed: int, digit, settings, per_step: bool = False) -> tuple[float, list[int]]:
    """One 28 x 28 sample as the app makes it (run_steps: compiled chunks where the stepper has
    them), or through the per-step loop."""
    from arplayground.core.generate import generate, run_steps

    start = time.perf_counter()
    made = (generate if per_step else run_steps)(stepper, [], 784, lambda: settings, seed, condition=digit)
    values = [v for block in made for v in block.values.tolist()]
    return time.perf_counter() - start, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gui-seconds", type=float, default=8.0)
    parser.add_argument("--guidance", type=float, default=1.0, help="draw with this guidance (1 = off)")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, variant=None if args.guidance == 1 else f"guidance-{args.guidance:g}", gui=True):
        measure(args)


def measure(args) -> None:
    import torch

    from arplayground import catalog
    from arplayground.core.sampling import SamplerSettings
    from arplayground.gui.app import configure_runtime
    from arplayground.gui.views.image import GRIDS
    from arplayground.nets.baselines import NaivePixelCNNStepper

    configure_runtime()  # the app's process settings: 1 torch thread, short GIL switch interval
    entries = [e for e in catalog.discover() if e.available and e.mode == "image"]
    entry = next(e for e in entries if e.name == args.model) if args.model else entries[0]
    fast = catalog.load_stepper(entry)
    naive = NaivePixelCNNStepper(fast.model, fast.vocab)
    compiling = fast.needs_compiling()
    started = time.perf_counter()
    fast.warm_up()  # compile the kernels (or load them from numba's cache) outside the timings, as the app does
    print(f"model {entry.name}: {entry.card['parameters']:,} parameters; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread; kernels {'compiled' if compiling else 'loaded from the cache'} "
          f"in {time.perf_counter() - started:.2f} s; guidance {args.guidance:g}")
    settings = SamplerSettings(guidance=args.guidance)
    print()
    print("| digit | seed | fast path: compiled chunks (s/image) | fast path: per-step loop (s/image) | naive (s/image) "
          "| ratio (chunks vs naive) | identical |")
    print("|---:|---:|---:|---:|---:|---:|:---:|")
    ratios = []
    for i in range(args.repeats):
        seed, digit = 100 + i, i % 10
        t_fast, v_fast = sample_seconds(fast, seed, digit, settings)
        t_step, v_step = sample_seconds(fast, seed, digit, settings, per_step=True)
        t_naive, v_naive = sample_seconds(naive, seed, digit, settings)
        ratios.append(t_naive / t_fast)
        print(f"| {digit} | {seed} | {t_fast:.3f} | {t_step:.3f} | {t_naive:.2f} | {t_naive / t_fast:.1f}x | "
              f"{'yes' if v_fast == v_step == v_naive else 'NO'} |", flush=True)
    print(f"\nmedian ratio {statistics.median(ratios):.1f}x")
    print()

    def guided(window) -> None:
        window.guidance.setValue(args.guidance)
        if settings.guided:
            window.views["image"].digit_box.setCurrentIndex(window.views["image"].digit_box.findData(3))

    gui_latency.print_table(
        "image", entry.name, args.gui_seconds, "pixels",
        f"generating images back to back at full speed for {args.gui_seconds:g} s", again=True, setup=guided,
    )
    # Longer runs: the grid of ten digits, 7,840 pixels in one batch, so run starts and ends (which
    # repaint much of the window) come less often than in the row above.
    ten = next(i for i, (_, shape) in enumerate(GRIDS) if shape[2] is not None)
    gui_latency.print_row(
        f"generating ten-digit grids back to back at full speed for {args.gui_seconds:g} s",
        gui_latency.measure("image", entry.name, args.gui_seconds, True, again=True,
                            setup=lambda window: (guided(window), window.views["image"].grid_box.setCurrentIndex(ten))),
    )


if __name__ == "__main__":
    main()
