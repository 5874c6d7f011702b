"""The step-through lab's costs, on the bundled models, in one process, on one core:

1. a rewind of 1,000 steps in each mode: forget the steps, re-prime the model on what is kept with
   one teacher-forced pass (Stepper.reset), and draw the next step; the regenerated values must
   equal the ones forgotten (same seed, same settings);
2. what the trace of 60 s of audio (480,000 steps) weighs in memory and as an exported file.

    .venv/bin/python benchmarks/lab_rewind.py [--repeats N] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH


def rewind_seconds(entry, total: int, back: int, repeats: int):
    from arplayground import catalog
    from arplayground.core.lab import Branch
    from arplayground.core.sampling import SamplerSettings

    stepper = catalog.load_stepper(entry)
    condition = {"text": None, "image": 3, "audio": (3, 1)}[entry.mode]
    prefix = (stepper.vocab.default_start,) if entry.mode == "text" else ()  # as the app starts a text
    branch = Branch("main", prefix, condition, seed=5)
    for item in branch.continuation(stepper, total, lambda: SamplerSettings()):
        branch.record_into_trace(item)
    original = branch.values.copy()
    times = []
    for _ in range(repeats):
        branch.rewind(total - back)
        started = time.perf_counter()
        first = next(iter(branch.continuation(stepper, back, lambda: SamplerSettings(), chunk_steps=1)))
        times.append(time.perf_counter() - started)  # re-prime on the kept steps + one step
        branch.record_into_trace(first)
        for item in branch.continuation(stepper, back - 1, lambda: SamplerSettings()):
            branch.record_into_trace(item)
    same = np.array_equal(branch.values, original)
    return statistics.median(times), same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="rewinds timed per mode (the median is shown)")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs):
        measure(args)


def measure(args) -> None:
    import torch

    from arplayground import catalog
    from arplayground.core.generate import StepBlock
    from arplayground.core.lab import Branch, export_trace
    from arplayground.core.sampling import SamplerSettings
    from arplayground.core.trace import TOP_CANDIDATES, Trace
    from arplayground.gui.app import configure_runtime

    configure_runtime()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread\n")
    print("| mode | model | steps generated | rewound by | re-prime + next step (median ms) | regenerated identically |")
    print("|---|---|---:|---:|---:|:---:|")
    for mode, total in (("text", 2000), ("image", 784), ("audio", 8000)):  # text: past cache re-primes
        entries = [e for e in catalog.discover() if e.available and e.mode == mode]
        if not entries:
            print(f"| {mode} | (no model) | | | | |")
            continue
        back = min(1000, total)
        seconds, same = rewind_seconds(entries[0], total, back, args.repeats)
        print(f"| {mode} | {entries[0].name} | {total:,} | {back:,} | {seconds * 1000:.1f} | {'yes' if same else 'NO'} |", flush=True)

    # 60 s of audio: 480,000 steps, as the compiled chunks hand them to the trace.
    n, k = 480_000, TOP_CANDIDATES
    rng = np.random.default_rng(0)
    trace = Trace()
    settings = SamplerSettings()
    for start in range(0, n, 256):
        m = min(256, n - start)
        columns = {
            "value": rng.integers(0, 256, m).astype(np.int32), "prob": rng.random(m).astype(np.float32),
            "sampled_prob": rng.random(m).astype(np.float32), "rank": rng.integers(0, 256, m).astype(np.int32),
            "entropy": rng.random(m).astype(np.float32), "kept": np.full(m, 256, np.int32),
            "top_values": rng.integers(0, 256, (m, k)).astype(np.int32),
            "top_raw": rng.random((m, k)).astype(np.float32), "top_sampled": rng.random((m, k)).astype(np.float32),
        }
        columns["raw"] = columns["sampled"] = np.full((m, 256), 1 / 256, np.float32)
        trace.extend(StepBlock(start, columns, rng.random(m), settings, 0.01))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "audio.trace.json")
        started = time.perf_counter()
        # compact: as the window writes a run this long (core.lab.too_long_for_plain)
        export_trace(path, Branch("main", (), (3, 1), 5, trace), "fsdd-wavenet", {}, "audio", compact=True)
        export_seconds = time.perf_counter() - started
        size = os.path.getsize(path)
    print(f"\ntrace of 60 s of audio ({n:,} steps, top {k} candidates in float16): "
          f"{trace.nbytes() / 2**20:.1f} MiB in memory ({trace.nbytes() / n:.0f} bytes a step), "
          f"{size / 2**20:.1f} MiB exported as compact JSON (base64) in {export_seconds:.1f} s")


if __name__ == "__main__":
    main()
