"""Real held-out data against the model's own samples, in bits per step, with core.score (the code
the app's Score mode runs): issue 21's closing figures, for each bundled model.

- text: the validation split of Tiny Shakespeare (the last 10% of characters, train/text.py's split)
  scored as one sequence (score() re-primes its context windows exactly as generation does), and
  N characters the model generated itself (from a newline, temperature 1, seeds 0..);
- image: MNIST validation images (9000-9999) under their own digit and under "any digit", the model
  as a classifier by Bayes' rule over the ten digits, and generated images under their digit;
- audio: the FSDD test split (index 0-4 of every digit and speaker) read as the app's Open WAV
  reads it (audio.wav.read_wav, then core.mulaw.encode), whole, under its (digit, speaker); the
  classifier over digits with the speaker given; and generated clips of the typical length.

Every generated sequence is also checked against its own generation records: scored in parallel,
it must give the probabilities the sequential loop recorded as it drew it.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/score_data.py --data ../shared/datasets
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/score_data.py --data ../shared/datasets \\
        --image-images 200 --image-classify 100 --audio-classify 60   # quicker

Sizes are options; the table says which were used. The defaults (everything: the whole text split,
all 1000 validation images scored and classified, all 300 test clips scored and classified) took
9.7 minutes on 2 CPU cores shared with other work.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from arplayground.core.generate import run_steps  # noqa: E402
from arplayground.core.sampling import SamplerSettings  # noqa: E402
from arplayground.core.score import chain_rule, classify, score  # noqa: E402

LOG2 = np.log(2.0)


@dataclass
class Figures:
    """One row of the table."""

    mode: str
    real_data: str  # what the real data was, with its size
    real_bits: float  # bits per step, pooled over every scored step
    own_data: str
    own_bits: float
    accuracy: str = "-"
    card: str = "-"  # the card's own validation figure, in bits per step
    seconds: float = 0.0
    notes: tuple = ()


def generated(stepper, prefix, n_steps: int, seed: int, condition=None):
    """(values, bits the generation loop recorded for them) of one run with the app's defaults."""
    blocks = list(run_steps(stepper, list(prefix), n_steps, SamplerSettings, seed, condition))
    values = np.concatenate([b.values for b in blocks]).astype(np.int64)
    probs = np.concatenate([b.columns["prob"] for b in blocks]).astype(np.float64)
    return values, float(-np.log2(probs).sum())


class OwnSamples:
    """Generated sequences scored back: pooled bits per step, and how far the parallel score lies
    from the probabilities the sequential loop recorded while drawing (relative, worst sequence)."""

    def __init__(self):
        self.bits = 0.0
        self.steps = 0
        self.worst_gap = 0.0

    def add(self, stepper, prefix, n_steps: int, seed: int, condition=None) -> None:
        values, recorded = generated(stepper, prefix, n_steps, seed, condition)
        totals = score(stepper, prefix, values, condition).totals
        self.bits += totals.total_bits
        self.steps += totals.steps
        self.worst_gap = max(self.worst_gap, abs(totals.total_bits - recorded) / max(recorded, 1e-12))

    @property
    def bits_per_step(self) -> float:
        return self.bits / self.steps


# -- text ------------------------------------------------------------------------------------------

def text_validation(path: Path, vocab) -> list[int]:
    """The validation split of train/text.py, in the model's own values."""
    from arplayground.train.text import load_split

    chars, _, val = load_split(path)
    return vocab.encode("".join(chars[i] for i in val))


def text_figures(stepper, card: dict, val: list[int], samples: int, sample_chars: int) -> Figures:
    started = time.perf_counter()
    # The first character is given, not scored: the card's windows predict data[1:] the same way.
    real = score(stepper, val[:1], val[1:]).totals
    own = OwnSamples()
    newline = stepper.vocab.encode("\n")
    for seed in range(samples):
        own.add(stepper, newline, sample_chars, seed)
    validation = card.get("validation", {})
    nats = validation.get("val_loss_nats_per_char")
    card_text = f"{nats / LOG2:.4f} ({nats} nats; {validation.get('measured_on', '?')})" if nats else "-"
    own_text = f"{samples} x {sample_chars:,} chars (seeds 0-{max(samples - 1, 0)}, from a newline)"
    note = f"text: own samples scored in parallel vs the loop's records: worst relative gap {own.worst_gap:.1e}"
    return Figures("text", f"validation split, {real.steps:,} chars as one sequence", real.bits_per_step,
                   own_text, own.bits_per_step, card=card_text, seconds=time.perf_counter() - started, notes=(note,))


# -- image -----------------------------------------------------------------------------------------

def mnist_validation(folder: Path, first: int, count: int):
    """(images (count, 784) uint8 in raster order, labels (count,)) from index `first`."""
    from arplayground.train.image import IMAGES, LABELS, read_idx

    images = read_idx(folder / IMAGES)[first : first + count]
    labels = read_idx(folder / LABELS)[first : first + count]
    return images.reshape(len(images), -1), labels.astype(np.int64)


def image_figures(stepper, card: dict, images: np.ndarray, labels: np.ndarray, n_classify: int,
                  per_digit: int, first_index: int = 9000) -> tuple[Figures, Figures]:
    """(under its own digit, under any digit)."""
    started = time.perf_counter()
    own_bits = any_bits = 0.0
    steps = 0
    for pixels, digit in zip(images, labels):
        own_totals = score(stepper, [], pixels, int(digit)).totals
        any_totals = score(stepper, [], pixels, None).totals
        own_bits += own_totals.total_bits
        any_bits += any_totals.total_bits
        steps += own_totals.steps
    n_classify = min(n_classify, len(images))
    correct = sum(classify(stepper, [], images[i], range(10), with_any=False).best == int(labels[i])
                  for i in range(n_classify))
    digits = 10
    pixels = len(images[0])
    under_digit, under_any = OwnSamples(), OwnSamples()
    for digit in range(digits):
        for k in range(per_digit):
            seed = digit * per_digit + k
            under_digit.add(stepper, [], pixels, seed, digit)
            under_any.add(stepper, [], pixels, seed, None)  # drawn under "any digit", scored under it
    count = f"images {first_index}-{first_index + len(images) - 1} ({len(images):,})"
    card_bits = card.get("validation", {}).get("val_bits_per_dim")
    sample_text = f"{digits} digits x {per_digit} (seeds 0-{digits * per_digit - 1})"
    last = first_index + n_classify - 1
    accuracy = f"{correct / n_classify:.1%} ({correct}/{n_classify}: images {first_index}-{last})" if n_classify else "-"
    seconds = time.perf_counter() - started
    note = (f"image: own samples scored in parallel vs the loop's records: worst relative gap "
            f"{max(under_digit.worst_gap, under_any.worst_gap):.1e}")
    return (Figures("image, own digit", count, own_bits / steps, sample_text, under_digit.bits_per_step, accuracy,
                    f"{card_bits} (all 1000, their digit)" if card_bits else "-", seconds, (note,)),
            Figures("image, any digit", count, any_bits / steps, sample_text + ", drawn under any",
                    under_any.bits_per_step))


# -- audio -----------------------------------------------------------------------------------------

def fsdd_test(folder: Path, speakers: list[str]):
    """[(levels, digit, speaker index, index)] of the test split, levels as the app's Open WAV makes
    them; speaker indices are the card's (train/audio.py: the sorted names)."""
    from arplayground.audio.wav import read_wav
    from arplayground.core.mulaw import encode
    from arplayground.train.audio import NAME, TEST_INDICES

    clips = []
    for path in sorted((folder / "recordings").glob("*.wav")):
        match = NAME.match(path.name)
        if not match or int(match.group(3)) not in TEST_INDICES:
            continue
        digit, speaker, index = match.groups()
        if speaker not in speakers:
            raise SystemExit(f"{path.name}: speaker {speaker!r} is not one the card names ({speakers})")
        samples, notes = read_wav(path)
        if notes:
            raise SystemExit(f"{path.name}: expected 8 kHz mono PCM like the rest of FSDD, got: {'; '.join(notes)}")
        clips.append((encode(samples).astype(np.int64), int(digit), speakers.index(speaker), int(index)))
    return clips


def audio_figures(stepper, card: dict, clips, n_classify: int, n_samples: int) -> Figures:
    from arplayground.catalog import typical_seconds

    started = time.perf_counter()
    config = card.get("config", {})
    rate = int(config.get("sample_rate", 8000))
    cut = int(card.get("dataset", {}).get("max_seconds", 1.0) * rate)
    bits = steps = cut_bits = cut_steps = 0.0
    for levels, digit, speaker, _ in clips:
        scored = score(stepper, [], levels, (digit, speaker))
        totals = scored.totals
        bits += totals.total_bits
        steps += totals.steps
        first = chain_rule(scored.branch.trace, 0, cut)  # the card's figure cuts clips at max_seconds
        cut_bits += first.total_bits
        cut_steps += first.steps
    # Every digit and speaker alike: a stride through the sorted clips, not the first few speakers.
    stride = max(1, len(clips) // max(1, n_classify))
    chosen = clips[::stride][:n_classify]
    correct = 0
    for levels, digit, speaker, _ in chosen:
        guess = classify(stepper, [], levels, [(d, speaker) for d in range(10)], with_any=False).best
        correct += guess[0] == digit
    n_speakers = len(card.get("speakers", [])) or 1
    own = OwnSamples()
    lengths = []
    for i in range(n_samples):
        # With six speakers, i % 10 and i % 6 run through 30 different (digit, speaker) pairs.
        digit, speaker = i % 10, i % n_speakers
        # The length the app gives a new clip of that pair; half a second where the card has none.
        n = max(1, round((typical_seconds(card, digit, speaker) or 0.5) * rate))
        lengths.append(n)
        own.add(stepper, [], n, i, (digit, speaker))
    card_bits = card.get("validation", {}).get("test_bits_per_sample")
    longer = sum(len(c[0]) > cut for c in clips)
    return Figures(
        "audio, (digit, speaker)", f"test split, {len(clips)} clips whole ({int(steps):,} samples)", bits / steps,
        f"{n_samples} clips (seeds 0-{n_samples - 1}, typical lengths "
        f"{min(lengths) / rate:.2f}-{max(lengths) / rate:.2f} s)",
        own.bits_per_step,
        f"{correct / len(chosen):.1%} ({correct}/{len(chosen)} clips, speaker given)" if chosen else "-",
        f"{card_bits} (clips cut at {cut / rate:g} s)" if card_bits else "-", time.perf_counter() - started,
        (f"audio: the same clips cut at {cut / rate:g} s as the card measured ({longer} of {len(clips)} are longer): "
         f"{cut_bits / cut_steps:.4f} bits/sample",
         f"audio: own samples scored in parallel vs the loop's records: worst relative gap {own.worst_gap:.1e}"))


# -- report ----------------------------------------------------------------------------------------

def cpu_description() -> str:
    """The CPU model and the flags that decide bf16 and wide-vector speed (from /proc/cpuinfo)."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return "CPU: /proc/cpuinfo unreadable"
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "?")
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    wanted = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"]
    shown = ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in wanted)
    return f"CPU: {model}; {shown}"


def table(rows: list[Figures]) -> str:
    lines = ["| mode | real data (count) | bits/step, real | own samples (count) | bits/step, own samples | "
             "classifier accuracy | card's figure, bits/step | wall time |",
             "|---|---|---:|---|---:|---|---|---:|"]
    for r in rows:
        wall = f"{r.seconds:.0f} s" if r.seconds else "(above)"
        lines.append(f"| {r.mode} | {r.real_data} | {r.real_bits:.4f} | {r.own_data} | {r.own_bits:.4f} | "
                     f"{r.accuracy} | {r.card} | {wall} |")
    return "\n".join(lines)


def load(name: str):
    from arplayground import catalog

    entry = next(e for e in catalog.discover() if e.name == name)
    stepper = catalog.load_stepper(entry)
    if hasattr(stepper, "warm_up"):
        stepper.warm_up()  # compile (or load) the kernels outside the timings
    return stepper, entry.card


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--text-samples", type=int, default=5)
    parser.add_argument("--text-sample-chars", type=int, default=1000)
    parser.add_argument("--image-images", type=int, default=1000, help="validation images scored (from 9000)")
    parser.add_argument("--image-classify", type=int, default=1000, help="of those, classified over the ten digits")
    parser.add_argument("--image-per-digit", type=int, default=5)
    parser.add_argument("--audio-classify", type=int, default=300, help="test clips classified (a stride through all)")
    parser.add_argument("--audio-samples", type=int, default=30)
    args = parser.parse_args()

    import torch

    from arplayground.gui.app import configure_runtime

    configure_runtime()  # the app's process settings: 1 torch thread
    started = time.perf_counter()
    rows: list[Figures] = []

    stepper, card = load("shakespeare-char-gpt")
    val = text_validation(args.data / "tinyshakespeare" / "input.txt", stepper.vocab)
    rows.append(text_figures(stepper, card, val, args.text_samples, args.text_sample_chars))
    print(f"text done, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    stepper, card = load("mnist-gated-pixelcnn")
    images, labels = mnist_validation(args.data / "mnist", 9000, args.image_images)
    rows.extend(image_figures(stepper, card, images, labels, args.image_classify, args.image_per_digit))
    print(f"image done, {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    stepper, card = load("fsdd-wavenet")
    clips = fsdd_test(args.data / "fsdd", card["speakers"])
    rows.append(audio_figures(stepper, card, clips, args.audio_classify, args.audio_samples))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); {cpu_description()}")
    print()
    print(table(rows))
    print()
    for row in rows:
        for note in row.notes:
            print(f"- {note}")
    print(f"- total wall time {time.perf_counter() - started:.0f} s (model loading and data reading included)")


if __name__ == "__main__":
    main()
