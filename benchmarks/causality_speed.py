"""What one output sees, timed: the wall time of one field (stepper.sees(): one pass of the whole
network with autograd, the gradient of one step's log-probability with respect to every input,
and for the GPT every layer's attention weights) on the bundled weights, in one process:

- text: a 1,000-character text, its last character (a window of 999 characters);
- image: a 28 x 28 image, its last pixel and its centre pixel, the gated PixelCNN and the plain
  masked-convolution one of the same depth (untrained);
- audio: a 3 s clip, the sample 2 s in (a window of one receptive field, 2,047 samples, and 256 after).

    .venv/bin/python benchmarks/causality_speed.py
    .venv/bin/python benchmarks/causality_speed.py --repeats 3

Each field is timed with one torch thread (as the app runs it, on a job thread) and with torch's
default threads on this machine; medians over --repeats after one untimed call.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH


def median_ms(fn, repeats: int) -> float:
    fn()  # untimed: the first call allocates
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def load(name: str):
    from arplayground import catalog

    entry = next(e for e in catalog.discover() if e.name == name)
    return catalog.load_stepper(entry)


def cases():
    """(model, output, inputs read, the call) per row."""
    from arplayground.core.mulaw import encode
    from arplayground.nets.pixelcnn_plain import build_plain_pixelcnn

    rng = np.random.default_rng(0)
    text = load("shakespeare-char-gpt")
    sample = "\n".join(f"Line {i}: to be, or not to be, that is the question." for i in range(40))
    tiny = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "tinyshakespeare" / "input.txt"
    if tiny.exists():
        sample = tiny.read_text()[-1000:]
    chars = text.vocab.encode(sample[-1000:])
    yield "shakespeare-char-gpt", "character 999 of 1,000", "999 characters", lambda: text.sees(chars, 999)
    gated = load("mnist-gated-pixelcnn")
    plain = build_plain_pixelcnn(gated.model.cfg)
    pixels = [int(v) for v in rng.integers(0, 256, 784)]
    for model, name in ((gated, "mnist-gated-pixelcnn"), (plain, "plain PixelCNN (untrained, same depth)")):
        for label, position in (("last pixel (27, 27)", 783), ("centre pixel (14, 14)", 14 * 28 + 14)):
            yield name, label, "784 pixels", lambda model=model, position=position: model.sees(pixels, position, 3)
    audio = load("fsdd-wavenet")
    t = np.arange(3 * 8000) / 8000
    levels = [int(v) for v in encode(0.3 * np.sin(2 * np.pi * 200 * t))]
    field = audio.sees(levels, 16_000, (3, 0))
    read = field.window[1] - field.window[0]
    yield "fsdd-wavenet", "sample 16,000 (2 s in) of 24,000", f"{read:,} samples", lambda: audio.sees(levels, 16_000, (3, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs):
        measure(args)


def measure(args) -> None:
    import torch

    default_threads = torch.get_num_threads()  # before anything sets it
    print(report.cpu_summary())
    print(f"torch {torch.__version__}; one thread (as the app) and the default {default_threads}; "
          f"median of {args.repeats} after one untimed call")
    print()
    print(f"| model | output | inputs read | 1 thread (ms) | {default_threads} threads (ms) |")
    print("|---|---|---:|---:|---:|")
    for model, output, inputs, call in cases():
        timed = []
        for threads in (1, default_threads):
            torch.set_num_threads(threads)
            timed.append(median_ms(call, args.repeats))
        print(f"| {model} | {output} | {inputs} | {timed[0]:.1f} | {timed[1]:.1f} |", flush=True)
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
