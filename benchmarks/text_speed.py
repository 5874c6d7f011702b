"""Text mode speed, on the bundled weights, in one process:

1. characters per second with the KV cache, through the compiled decode step (kernels/gpt.py, the
   app's path) and through torch op by op, vs full recompute (nanoGPT-style: the whole context
   through the network for every new character), at contexts 64, 256 and 1000, with the ratios;
2. GUI event-loop latency (p50 / p99) on the real window (offscreen) while text generates at full
   speed, beside the same window idle.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/text_speed.py [--model NAME] [--threads N]

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


def load(name: str | None):
    from arplayground import catalog

    entries = [e for e in catalog.discover() if e.available and e.mode == "text"]
    entry = next((e for e in entries if e.name == name), entries[0]) if name else entries[0]
    return entry, catalog.load_stepper(entry)


def tokens_per_second(stepper, context: int, steps: int, repeats: int) -> tuple[float, float, float]:
    """Median characters/s for (the compiled decode step, torch's cached step op by op, full
    recompute), starting at `context` characters; all three must write the same text."""
    import torch

    model = stepper.model
    rng = np.random.default_rng(0)
    prefix = [int(v) for v in rng.integers(0, len(stepper.vocab), context)]
    compiled, torch_cached, full = [], [], []

    def cached_run(use_kernel: bool, into: list) -> list[int]:
        stepper.compiled = use_kernel
        stepper.reset(prefix)
        start = time.perf_counter()
        for _ in range(steps):
            stepper.push(int(np.argmax(stepper.logits())))
        into.append(steps / (time.perf_counter() - start))
        return stepper.tokens[context:]

    with torch.inference_mode():
        for _ in range(repeats):
            text = cached_run(True, compiled)
            assert cached_run(False, torch_cached) == text, "the compiled step and torch's must write the same text"
            ids = list(prefix)
            start = time.perf_counter()
            for _ in range(steps):
                window = torch.tensor([ids[-model.cfg.block_size :]])
                logits, _ = model(window)
                ids.append(int(torch.argmax(logits[0, -1])))
            full.append(steps / (time.perf_counter() - start))
            assert ids[context:] == text, "both paths must produce the same text"
    stepper.compiled = True
    return statistics.median(compiled), statistics.median(torch_cached), statistics.median(full)


def long_text(window) -> None:
    window.length_spin.setValue(window.length_spin.maximum())
    window.prompt_edit.setPlainText("ROMEO:")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the app uses 1)")
    parser.add_argument("--steps", type=int, default=20, help="characters generated per measurement (1000 + 20 fits the 1024 context)")
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
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print()
    stepper.warm_up()  # the compiled decode step, compiled or loaded before anything is timed
    print("| context | compiled decode step (chars/s) | torch KV cache, op by op (chars/s) | full recompute (chars/s) "
          "| compiled / torch | cache / recompute |")
    print("|--------:|---------------:|---------------:|---------------:|------:|------:|")
    for context in (64, 256, 1000):
        compiled, cached, full = tokens_per_second(stepper, context, args.steps, args.repeats)
        print(f"| {context} | {compiled:,.0f} | {cached:,.0f} | {full:,.1f} | {compiled / cached:.2f}x "
              f"| {compiled / full:.1f}x |", flush=True)
    print()
    gui_latency.print_table(
        "text", entry.name, args.gui_seconds, "chars",
        f"generating at full speed for {args.gui_seconds:g} s", setup=long_text,
    )

if __name__ == "__main__":
    main()
