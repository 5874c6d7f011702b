"""`arplayground score FILE`: Score from the command line, no window.

Reads a text, PNG or WAV file as the app's Score does (the same conversions, the same checks),
scores it with the bundled model of its mode in one teacher-forced pass, prints the chain rule's
totals (and, for a conditional model, the model as a classifier), and with --trace writes a
trace the app opens (Open trace…). It lives in gui/ because a PNG is read with Qt's image
reader, as the window reads it; no window is opened.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from arplayground import catalog
from arplayground.core.lab import export_trace
from arplayground.core.score import classify, score
from arplayground.gui.runtime import Refused, command_main, whole_number

MODES = {".txt": "text", ".png": "image", ".jpg": "image", ".bmp": "image", ".wav": "audio"}
MAX_TEXT_BYTES = 4_000_000  # 4 MB of text: Tiny Shakespeare is 1.1 MB


def parse_args(argv):
    p = argparse.ArgumentParser(prog="arplayground score", description=__doc__.split("\n\n")[0])
    p.add_argument("file", type=Path, help="a text (.txt), image (.png) or WAV (.wav) file")
    p.add_argument("--mode", choices=("text", "image", "audio"), default=None, help="default: from the file's extension")
    p.add_argument("--model", default=None, help="the model's name (default: the first of the mode)")
    p.add_argument("--models", type=Path, default=None, help="folder of model cards and weights (default: models/)")
    p.add_argument("--digit", type=whole_number("digit", 0, 9), default=None, help="the digit to score under (image, audio)")
    p.add_argument("--speaker", default=None, help="the speaker to score under (audio): a name from the card")
    p.add_argument("--trace", type=Path, default=None, help="write the scored trace here (JSON), for Open trace in the app")
    return p.parse_args(argv)


def read_text(path: Path, vocab) -> tuple[tuple, np.ndarray, None]:
    try:
        data = catalog.read_regular_file(path, MAX_TEXT_BYTES, path.name)
    except catalog.ModelError as e:
        raise Refused(str(e)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused(f"{path.name} is not UTF-8 text (byte {e.start:,})") from None
    missing = vocab.unknown(text)
    if missing:
        shown = ", ".join(repr(c) for c in missing[:8]) + (" …" if len(missing) > 8 else "")
        raise Refused(f"{path.name} holds characters this model does not know: {shown}")
    if not text:
        raise Refused(f"{path.name} is empty")
    return (), np.array(vocab.encode(text), np.int64), None


def read_image(path: Path, digit) -> tuple[tuple, np.ndarray, object]:
    from arplayground.gui.image_files import ImageFileError, read_digit  # Qt's reader, as Open PNG does

    try:
        opened = read_digit(str(path))
    except ImageFileError as e:
        raise Refused(str(e)) from None
    for note in opened.notes:
        print(f"note: {note}")
    return (), opened.pixels.reshape(-1).astype(np.int64), digit


def read_audio(path: Path, digit, speaker) -> tuple[tuple, np.ndarray, object]:
    from arplayground.audio.wav import WavError, read_wav
    from arplayground.core.mulaw import encode

    try:
        samples, notes = read_wav(path)
    except WavError as e:
        raise Refused(str(e)) from None
    for note in notes:
        print(f"note: {note}")
    if not len(samples):
        raise Refused(f"{path.name} holds no samples")
    return (), np.asarray(encode(samples), np.int64), (digit, speaker)


def run(args) -> int:
    mode = args.mode or MODES.get(args.file.suffix.lower())
    if mode is None:
        raise Refused(f"cannot tell the mode of {args.file.name} from its name: give --mode text, image or audio")
    entries = [e for e in catalog.discover(args.models) if e.mode == mode and e.available]
    if args.model is not None:
        entries = [e for e in entries if e.name == args.model]
    if not entries:
        raise Refused(f"no {mode} model" + (f" called {args.model}" if args.model else "") + " found")
    entry = entries[0]
    try:
        catalog.check(entry)
        stepper = catalog.load_stepper(entry)
    except catalog.ModelError as e:
        raise Refused(f"the model {entry.name} cannot be used: {e}") from None
    speakers = list(entry.card.get("speakers", []))
    speaker = None
    if args.speaker is not None:
        if mode != "audio" or args.speaker not in speakers:
            raise Refused(f"--speaker must be one of {', '.join(speakers) or '(none: not an audio model)'}")
        speaker = speakers.index(args.speaker)
    if args.digit is not None and mode == "text":
        raise Refused("a text model takes no digit")
    if mode == "text":
        prefix, values, condition = read_text(args.file, stepper.vocab)
    elif mode == "image":
        prefix, values, condition = read_image(args.file, args.digit)
    else:
        prefix, values, condition = read_audio(args.file, args.digit, speaker)
    scored = score(stepper, prefix, values, condition)
    totals = scored.totals
    unit = {"text": "char", "image": "dim", "audio": "sample"}[mode]
    print(f"{args.file.name}: {totals.steps:,} {unit}s under {entry.name}, one teacher-forced pass in {scored.seconds:.3f} s")
    print(f"  -log2 p(x) = {totals.total_bits:,.2f} bits")
    print(f"  {totals.bits_per_step:.4f} bits/{unit}")
    print(f"  perplexity {totals.perplexity:,.3f}")
    if mode == "text" and len(values) > 0:
        print("  (the model reads a newline before the first character, as a prompt-less run starts)")
    if mode in ("image", "audio"):
        digits = list(range(10))
        if mode == "image":
            c = classify(stepper, prefix, values, digits, None)
        else:
            c = classify(stepper, prefix, values, [(d, speaker) for d in digits], (None, speaker))
        best = c.best if mode == "image" else c.best[0]
        print(f"  most likely digit (Bayes' rule over the ten conditionals): {best} (p = {c.posterior.max():.3f})")
        if args.digit is not None:
            asked = args.digit if mode == "image" else (args.digit, speaker)
            print(f"  digit {args.digit}'s share: log2 p(x | {args.digit}) - log2 p(x | any) = {c.share_bits(asked):+,.2f} bits")
    if args.trace is not None:
        export_trace(args.trace, scored.branch, entry.name, entry.card, mode)
        print(f"  trace written to {args.trace}")
    return 0


def main(argv=None) -> int:
    return command_main("score", parse_args, run, argv)
