"""Are the bundled PixelCNN's samples the digit that was asked for?

Trains a small convolutional digit classifier on the same training images (MNIST test set images
0-8999), reports its accuracy on the validation images (9000-9999), then generates N samples per
digit with the bundled model (temperature 1, seeds 0..N-1) and reports how many the classifier
reads as the requested digit.

    .venv/bin/python benchmarks/image_digits.py --data ../shared/datasets/mnist [--per-digit 10]
    .venv/bin/python benchmarks/image_digits.py --data ../shared/datasets/mnist --guidance 1 --guidance 2  # side by side
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH

from arplayground import catalog  # noqa: E402
from arplayground.core.generate import generate, each_step  # noqa: E402
from arplayground.core.sampling import SamplerSettings  # noqa: E402
from arplayground.train.image import IMAGES, LABELS, N_TRAIN, read_idx  # noqa: E402


def classifier() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10),
    )


def as_input(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0)[:, None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--per-digit", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--guidance", type=float, action="append", default=[],
                        help="repeat to compare guidance values on the same classifier and seeds (default 1: off)")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, gui=False):
        measure(args)


def measure(args) -> None:
    torch.manual_seed(0)
    images, labels = read_idx(args.data / IMAGES), read_idx(args.data / LABELS).astype(np.int64)
    x, y = as_input(images[:N_TRAIN]), torch.from_numpy(labels[:N_TRAIN])
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    for _ in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x), 64):
            idx = order[i : i + 64]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()
    with torch.no_grad():
        val_pred = net(as_input(images[N_TRAIN:])).argmax(1).numpy()
    print(f"classifier accuracy on validation images {N_TRAIN}-{len(images) - 1}: {np.mean(val_pred == labels[N_TRAIN:]):.3f}")

    entry = next(e for e in catalog.discover() if e.available and e.mode == "image")
    stepper = catalog.load_stepper(entry)
    summary = []
    for guidance in args.guidance or [1.0]:
        settings = SamplerSettings(guidance=guidance)
        start = time.perf_counter()
        print(f"\nsamples of {entry.name}, temperature 1, guidance {guidance:g}, seeds 0-{args.per_digit - 1}\n")
        print("| digit | read as that digit | most common misreading | classifier's mean p(digit) |")
        print("|---:|---:|---|---:|")
        total, confidence = 0, []
        for digit in range(10):
            samples = []
            for seed in range(args.per_digit):
                values = [s.record.value for s in each_step(generate(stepper, [], 784, lambda: settings, seed, condition=digit))]
                samples.append(np.array(values, np.uint8).reshape(28, 28))
            with torch.no_grad():
                p = net(as_input(np.stack(samples))).softmax(1).numpy()
            pred = p.argmax(1)
            hits = int(np.sum(pred == digit))
            total += hits
            confidence.extend(p[:, digit])
            wrong = pred[pred != digit]
            misread = f"{np.bincount(wrong).argmax()} ({np.bincount(wrong).max()})" if len(wrong) else "-"
            print(f"| {digit} | {hits}/{args.per_digit} | {misread} | {p[:, digit].mean():.3f} |", flush=True)
        n = 10 * args.per_digit
        print(f"\nall digits: {total}/{n} = {total / n:.0%} read as the requested digit "
              f"({time.perf_counter() - start:.0f} s to generate {n} images)")
        summary.append((guidance, total, n, float(np.mean(confidence))))
    if len(summary) > 1:
        print("\n| guidance | read as the requested digit | classifier's mean p(digit) |\n|---:|---:|---:|")
        for guidance, total, n, conf in summary:
            print(f"| {guidance:g} | {total}/{n} ({total / n:.0%}) | {conf:.3f} |")


if __name__ == "__main__":
    main()
