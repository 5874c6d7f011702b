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
import gui_latency  # noqa: E402  (benchmarks/gui_latency.py, beside this script)

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
    gui_latency.print_lab_table(beam_rows(entry.name, args.gui_seconds, width=8), "search steps")


def beam_rows(entry_name: str, seconds: float, width: int):
    """The idle and the searching row: the Beam search tab open, then searching at `width`."""
    def prepare(tab):
        tab.width_spin.setValue(width)
        tab.length_spin.setValue(tab.length_spin.maximum())

    for search in (False, True):
        what = f"Beam search tab searching at width {width} for {seconds:g} s" if search else "idle, the tab open"
        yield what, gui_latency.lab_tab(entry_name, "Beam search", seconds, search, prepare,
                                        start=lambda tab: tab.start_button.click(),
                                        progress=lambda tab: len(tab.tree.steps))


if __name__ == "__main__":
    main()
