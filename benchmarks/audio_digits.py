"""Are the bundled WaveNet's clips recognisable as the requested digit?

A small CNN on log-mel spectrograms is trained on the FSDD training split (recordings with index
5-49) and checked on the test split (index 0-4); then it classifies clips the WaveNet generates at
temperature 1 for every digit (any speaker, and each speaker in turn). Also prints each generated
clip's loudness, so near-silence is seen at once.

A clip is as long as the app makes it by default: the median length of that digit by that speaker
in the training split (the card's dataset.typical_seconds). The model never heard where a word
ends, so it speaks on; `--seconds 0.8` also scores the same clips run on to 0.8 s (a shorter clip
is exactly the start of a longer one with the same seed).

Two listeners. "clean" has only heard the recordings. Sampling a broad distribution at every step
adds hiss, and a listener that never heard hiss calls every hissy clip "six" (its /s/), whatever
lies under it. So "hiss-tolerant" is the same CNN trained on the recordings plus copies with
Gaussian jitter added in the mu-law domain (a random 0-16 levels per copy; what drawing from a
right-centred but broad distribution does), and its accuracy on jittered real test clips is shown.

    .venv/bin/python benchmarks/audio_digits.py --data ../shared/datasets/fsdd
    .venv/bin/python benchmarks/audio_digits.py --model fsdd-wavenet --model path/to/other.json  # side by side
    .venv/bin/python benchmarks/audio_digits.py --temperature 1 --temperature 0.9   # settings side by side
    .venv/bin/python benchmarks/audio_digits.py --top-p 1 --top-p 0.9
    .venv/bin/python benchmarks/audio_digits.py --guidance 1 --guidance 1.5          # guidance (speaker kept, digit "any")
    .venv/bin/python benchmarks/audio_digits.py --seconds typical --seconds 0.8       # lengths side by side
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

RATE, FRAME, HOP, MELS, SECONDS = 8000, 256, 80, 32, 1.0
FRAMES = int(SECONDS * RATE) // HOP + 1


def mel_filters(n_fft: int = FRAME, n_mels: int = MELS, rate: int = RATE) -> np.ndarray:
    """Triangular filters evenly spaced on the mel scale, (n_mels, n_fft // 2 + 1)."""
    mel = lambda f: 2595 * np.log10(1 + f / 700)  # noqa: E731
    hz = lambda m: 700 * (10 ** (m / 2595) - 1)  # noqa: E731
    edges = hz(np.linspace(mel(60), mel(rate / 2), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1 / rate)
    out = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        lo, mid, hi = edges[i : i + 3]
        out[i] = np.clip(np.minimum((bins - lo) / (mid - lo), (hi - bins) / (hi - mid)), 0, None)
    return out


FILTERS = mel_filters()


def features(samples: np.ndarray) -> np.ndarray:
    """Log-mel spectrogram of the first second, (MELS, FRAMES), padded with silence."""
    x = np.zeros(int(SECONDS * RATE) + FRAME, np.float32)
    n = min(len(samples), int(SECONDS * RATE))
    x[:n] = samples[:n]
    frames = np.lib.stride_tricks.sliding_window_view(x, FRAME)[::HOP][:FRAMES] * np.hanning(FRAME)
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    logmel = np.log(FILTERS @ power.T + 1e-6)
    return (logmel - logmel.mean(axis=1, keepdims=True)).astype(np.float32)  # per-clip band means off: loudness and channel vary


def classifier():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        nn.Dropout(0.3), nn.Linear(64, 10),
    )


def jittered(levels: np.ndarray, sigma: float, rng) -> np.ndarray:
    """Mu-law levels with Gaussian jitter of sigma levels: a sample drawn around each true value."""
    return np.clip(np.round(levels + rng.normal(0, sigma, len(levels))), 0, 255).astype(np.int64)


def train_classifier(train_x, train_y, test_x, test_y, epochs: int, seed: int = 0):
    import torch

    torch.manual_seed(seed)
    net = classifier()
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    x, y = torch.from_numpy(train_x)[:, None], torch.from_numpy(train_y)
    mean, std = x.mean(), x.std()
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        net.train()
        for idx in np.array_split(rng.permutation(len(x)), len(x) // 32):
            loss = torch.nn.functional.cross_entropy(net((x[idx] - mean) / std), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    net.eval()

    def predict(feats: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return net((torch.from_numpy(feats)[:, None] - mean) / std).argmax(1).numpy()

    accuracy = float((predict(test_x) == test_y).mean())
    return predict, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/fsdd"))
    parser.add_argument("--model", action="append", default=[],
                        help="a model's name in models/ or the path of its card (.json); repeat to compare (default: the first audio model)")
    parser.add_argument("--per-digit", type=int, default=6, help="clips generated per digit")
    parser.add_argument("--seconds", action="append", default=[],
                        help="clip length in seconds, or 'typical' (the card's median training length of the digit by "
                        "the speaker, as the app does by default); repeat to compare on the same clips (default typical)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--temperature", type=float, action="append", default=[],
                        help="repeat to compare temperatures with the same listeners and seeds (default 1)")
    parser.add_argument("--top-k", type=int, default=0)
    parser.add_argument("--top-p", type=float, action="append", default=[],
                        help="repeat to compare top-p values (with every temperature) on the same listeners and seeds (default 1)")
    parser.add_argument("--guidance", type=float, action="append", default=[],
                        help="repeat to compare guidance values (with every temperature and top-p) on the same listeners and seeds (default 1: off)")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, gui=False):
        measure(args)


def measure(args) -> None:
    import torch

    from arplayground import catalog
    from arplayground.core.mulaw import decode
    from arplayground.core.generate import generate_chunks
    from arplayground.core.sampling import SamplerSettings
    from arplayground.train.audio import TEST_INDICES, load_fsdd

    torch.set_num_threads(1)
    started = time.time()
    clips, speakers = load_fsdd(args.data, int(SECONDS * RATE))
    split = {"train": [c for c in clips if c[3] not in TEST_INDICES], "test": [c for c in clips if c[3] in TEST_INDICES]}
    feats = {k: np.stack([features(decode(c[0])) for c in v]) for k, v in split.items()}
    labels = {k: np.array([c[1] for c in v]) for k, v in split.items()}
    predict, accuracy = train_classifier(feats["train"], labels["train"], feats["test"], labels["test"], args.epochs)
    print(f"clean listener (log-mel CNN) trained on {len(labels['train'])} FSDD training clips: "
          f"{accuracy:.1%} on the {len(labels['test'])} test clips ({time.time() - started:.0f} s)")
    rng = np.random.default_rng(0)
    copies = [c for c in split["train"] for _ in range(2)]
    noisy_x = np.stack([features(decode(jittered(c[0], rng.uniform(0, 16), rng))) for c in copies])
    tolerant, _ = train_classifier(np.concatenate([feats["train"], noisy_x]),
                                   np.concatenate([labels["train"], [c[1] for c in copies]]),
                                   feats["test"], labels["test"], args.epochs)

    def accuracy_on_jittered_test(listener, sigma: float) -> float:
        heard = listener(np.stack([features(decode(jittered(c[0], sigma, rng))) for c in split["test"]]))
        return float((heard == labels["test"]).mean())

    tolerant_accuracy = {sigma: accuracy_on_jittered_test(tolerant, sigma) for sigma in (0, 8, 16)}
    print("hiss-tolerant listener (the same CNN, plus 2 jittered copies of every training clip): on the test clips "
          + ", ".join(f"{a:.1%} with jitter {s}" for s, a in tolerant_accuracy.items())
          + f"; the clean listener: {accuracy_on_jittered_test(predict, 8):.1%} with jitter 8 ({time.time() - started:.0f} s)")

    def find(name_or_card: str):
        path = Path(name_or_card)
        folder, name = (path.parent, path.stem) if path.suffix == ".json" else (None, name_or_card)
        return next(e for e in catalog.discover(folder) if e.available and e.mode == "audio" and e.name == name)

    entries = [find(m) for m in args.model] or [next(e for e in catalog.discover() if e.available and e.mode == "audio")]
    lengths = args.seconds or ["typical"]

    def card(entry) -> str:
        """The card's path as given from the working folder (the tables go into docs)."""
        path = Path(entry.card_path).resolve()
        return str(path.relative_to(Path.cwd().resolve())) if path.is_relative_to(Path.cwd().resolve()) else str(path)

    def clip_samples(entry, seconds: str, digit: int, speaker: int | None) -> int:
        if seconds != "typical":
            return int(float(seconds) * RATE)
        typical = catalog.typical_seconds(entry.card, digit, speaker)
        if typical is None:
            raise SystemExit(f"{entry.card_path} has no typical lengths: add them with `arplayground-train audio-lengths`")
        return int(round(typical * RATE))

    summary = []
    runs = [(e, t, p, g) for e in entries for t in args.temperature or [1.0] for p in args.top_p or [1.0] for g in args.guidance or [1.0]]
    for entry, temperature, top_p, guidance in runs:
        settings = SamplerSettings(temperature=temperature, top_k=args.top_k, top_p=top_p, guidance=guidance)
        stepper = catalog.load_stepper(entry)
        tables = {seconds: [] for seconds in lengths}  # each length's rows, all from the same clips
        totals = {seconds: [0, 0, []] for seconds in lengths}  # right (clean), right (tolerant), RMS of every clip
        for digit in range(10):
            heard = {seconds: ([], [], []) for seconds in lengths}  # clean, tolerant, RMS
            for k in range(args.per_digit):
                speaker = None if k == 0 else (k - 1) % len(speakers)
                n = {seconds: clip_samples(entry, seconds, digit, speaker) for seconds in lengths}
                values = np.concatenate([c.values for c in generate_chunks(
                    stepper, [], max(n.values()), lambda: settings, 1000 + k, (digit, speaker))])
                for seconds in lengths:
                    audio = decode(values[: n[seconds]])  # the start of the longest clip: the same samples
                    by_clean, by_tolerant, rms = heard[seconds]
                    rms.append(float(np.sqrt(np.mean(audio**2))))
                    by_clean.append(int(predict(features(audio)[None])[0]))
                    by_tolerant.append(int(tolerant(features(audio)[None])[0]))
            for seconds in lengths:
                by_clean, by_tolerant, rms = heard[seconds]
                right, right_tolerant = sum(h == digit for h in by_clean), sum(h == digit for h in by_tolerant)
                totals[seconds][0] += right
                totals[seconds][1] += right_tolerant
                totals[seconds][2].extend(rms)
                tables[seconds].append(f"| {digit} | {right}/{args.per_digit} | {' '.join(map(str, by_clean))} | {right_tolerant}/{args.per_digit} | "
                                       f"{' '.join(map(str, by_tolerant))} | {statistics.median(rms):.3f} |")
        for seconds in lengths:
            length = "the typical length of the digit by the speaker" if seconds == "typical" else f"{seconds} s"
            print(f"\nmodel {entry.name} ({card(entry)}): {args.per_digit} clips per digit, {length}, at "
                  f"temperature {temperature}, top-k {args.top_k or 'off'}, top-p {top_p}, guidance {guidance}, "
                  f"speaker: any, then each in turn\n")
            print("| digit | clean listener: right | read as | hiss-tolerant: right | read as | RMS (median) |")
            print("|---:|---:|---|---:|---|---:|")
            print("\n".join(tables[seconds]), flush=True)
            total, total_tolerant, rms = totals[seconds]
            summary.append((entry, seconds, temperature, top_p, guidance, total, total_tolerant, statistics.median(rms)))
    real_rms = statistics.median(float(np.sqrt(np.mean(decode(c[0]) ** 2))) for c in split["test"])
    print(f"\nreal test clips: median RMS {real_rms:.3f}\n")
    print("| model | card | clip length | temperature | top-p | guidance | read as the requested digit: clean listener "
          "| hiss-tolerant listener | clip RMS (median) | chance |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for entry, seconds, temperature, top_p, guidance, total, total_tolerant, rms in summary:
        length = "typical" if seconds == "typical" else f"{seconds} s"
        print(f"| {entry.name} | {card(entry)} | {length} | {temperature} | {top_p} | {guidance} | {total} of {10 * args.per_digit} | "
              f"{total_tolerant} of {10 * args.per_digit} | {rms:.3f} | {args.per_digit} |")


if __name__ == "__main__":
    main()
