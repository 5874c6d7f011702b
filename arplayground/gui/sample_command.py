"""`arplayground sample --mode MODE --out FILE`: generate one sample and write it, no window.

The run is the window's own for the same settings and seed: the model the mode starts with, the
sampler stages the sliders offer (every row of gui.sampler_controls.STAGES is a flag here, clamped
and rounded as the sliders clamp and round it), the window's defaults for what is not given, and
the generation loop its worker drives (core.generate.run_steps). The sample is written as Save
writes it (text, a grey PNG, a WAV), atomically; --trace writes the run as Export trace does (a grid too; --compact-trace in base64). It
lives in gui/ because a PNG is encoded and the defaults are read as the window has them; no window
is opened and no QApplication made.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from arplayground import catalog
from arplayground.core.files import replacing, write_text_atomically
from arplayground.core.generate import NonFiniteLogits, run_steps
from arplayground.core.lab import export_trace, too_long_for_plain
from arplayground.core.mulaw import SAMPLE_RATE, decode
from arplayground.core.sampling import SamplerSettings
from arplayground.core.session import Session
from arplayground.gui.runtime import Refused, command_main, finite_number, whole_number
from arplayground.gui.sampler_controls import STAGES
from arplayground.gui.views.image import GAP_PIXELS
from arplayground.gui.views.image import GRIDS as GRID_LINES
from arplayground.gui.views.text import PROMPT_MAX
from arplayground.gui.worker import CHUNK_STEPS

# What the window's boxes start with and hold, set where they are built
# (tests/gui/test_sample_like_the_window.py checks these against a new window).
DEFAULT_SEED = 1234  # the seed box
TEXT_LENGTH = 500  # Text mode's Length, in characters
TEXT_LENGTH_MAX = 100_000  # the most Text mode's Length box holds
AUDIO_SECONDS = 0.8  # Audio mode's Length, when the card has no typical length for the word
AUDIO_SECONDS_RANGE = (0.05, 4.0)  # Audio mode's Length box
AUDIO_DECIMALS = 3  # the Length box keeps milliseconds
# --grid NAME: the Grid box's line of that name, whose (rows, cols, digits or None = every image
# the chosen digit) it takes
GRIDS = {name: dict(GRID_LINES)[line] for name, line in
         (("1", "1 image"), ("2x2", "2 x 2"), ("3x3", "3 x 3"), ("4x4", "4 x 4"), ("digits", "digits 0-9, one each"))}
SUFFIXES = {"text": ".txt", "image": ".png", "audio": ".wav"}
UNITS = {"text": "characters", "image": "pixels", "audio": "samples"}


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="arplayground sample", description="Generate one sample with a model and write it, no window.",
                                epilog="Values past a slider's range are clamped into it, with a note, as in the window.")
    p.add_argument("--mode", choices=("text", "image", "audio"), required=True)
    p.add_argument("--out", type=Path, required=True, help="where the sample goes: FILE.txt, FILE.png or FILE.wav")
    p.add_argument("--model", default=None, help="the model's name (default: the one the mode starts with)")
    p.add_argument("--models", type=Path, default=None, help="folder of model cards and weights (default: the bundled models)")
    p.add_argument("--prompt", default=None, help="text: the start (default: a new line, as in the window)")
    p.add_argument("--digit", type=whole_number("digit", 0, 9), default=None, help="image, audio: the digit (default: any)")
    p.add_argument("--speaker", default=None, help="audio: a speaker's name from the card (default: any)")
    p.add_argument("--grid", choices=tuple(GRIDS), default=None,
                   help="image: several images as one batch, image i with seed + i; 'digits' draws 0-9 once each")
    for stage in STAGES:  # the sliders: a stage added there is a flag here
        if stage.decimals is None:
            kind = whole_number(stage.key.replace("_", "-"), int(stage.low), meaning=f" ({stage.off:g}: off)" if stage.off == stage.low else "")
        else:
            kind = finite_number(stage.key.replace("_", "-"))
        p.add_argument(flag(stage.key), dest=stage.key, type=kind, default=None,
                       help=stage_help(stage))
    p.add_argument("--seed", type=whole_number("seed", 0), default=DEFAULT_SEED, help=f"default {DEFAULT_SEED}, as in the window")
    p.add_argument("--length", type=finite_number("length"), default=None,
                   help=f"text: characters (default {TEXT_LENGTH}); audio: seconds (default: as long as the word "
                        f"usually is, else {AUDIO_SECONDS}); an image is always whole")
    p.add_argument("--trace", type=Path, default=None,
                   help="also write the run as a trace (readable JSON; a grid's every image), for Open trace in the app")
    p.add_argument("--compact-trace", action="store_true", help="the trace's columns as base64: a third of the size")
    return p.parse_args(argv)


def stage_help(stage) -> str:
    high = "the vocabulary's size" if stage.key == "top_k" else f"{stage.high:g}"
    what = " (image, audio: guidance needs a digit)" if stage.key == "guidance" else f": {stage.tip}" if stage.tip else ""
    return f"{stage.low:g} to {high}, default {stage.off:g}{what}"


class Progress:
    """A bar on stderr while the run goes, only where stderr is a terminal (never in a pipe or a log)."""

    WIDTH = 30

    def __init__(self, total: int, unit: str, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.total, self.unit = total, unit
        self.shown = self.stream.isatty()
        self.last = 0.0

    def update(self, done: int, final: bool = False) -> None:
        now = time.monotonic()
        if not self.shown or (not final and now - self.last < 0.1):
            return
        self.last = now
        filled = self.WIDTH * done // max(self.total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.WIDTH - filled)}] {done:,}/{self.total:,} {self.unit}")
        if final:
            self.stream.write("\n")
        self.stream.flush()


def note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def choose_entry(args) -> catalog.ModelEntry:
    entries = catalog.discover(args.models)
    if args.model is None:
        entry = catalog.default_entry(entries, args.mode)
    else:
        entry = next((e for e in entries if e.mode == args.mode and e.name == args.model and e.available), None)
    if entry is None:
        raise Refused(f"no {args.mode} model" + (f" called {args.model}" if args.model else "") + " found")
    return entry


def sampler_settings(args, mode: str, vocab_size: int) -> SamplerSettings:
    """The settings the sliders would show after these flags: each clamped into its slider's
    range (top-k's reaches the vocabulary), with the window's note, and rounded as the sliders read."""
    values = {}
    for stage in STAGES:
        value = getattr(args, stage.key)
        if value is not None and stage.key == "guidance" and mode not in catalog.CONDITIONAL_MODES:
            raise Refused("guidance needs a condition (a digit): the text model has none")
        if value is None:
            value = stage.off
        high = vocab_size if stage.key == "top_k" else stage.high
        clamped = min(max(value, stage.low), high)
        if clamped != value:
            note(f"{stage.key.replace('_', '-')} {value:g} is out of range: using {clamped:g}")
        values[stage.key] = int(clamped) if stage.decimals is None else round(float(clamped), 4)
    return SamplerSettings(**values)


def text_run(args, vocab) -> tuple[tuple, None, int, str]:
    """(prefix, condition, steps, prompt) as Text mode's prepare() gives them."""
    if args.digit is not None or args.speaker is not None or args.grid is not None:
        raise Refused("a text model takes no --digit, --speaker or --grid")
    prompt = args.prompt or vocab.text(vocab.default_start)  # an empty prompt starts from a new line
    if len(prompt) > PROMPT_MAX:
        raise Refused(f"the prompt is {len(prompt):,} characters; at most {PROMPT_MAX:,}")
    unknown = vocab.unknown(prompt)
    if unknown:
        raise Refused(f"the model has never seen {' '.join(repr(c) for c in unknown[:8])}: remove or replace them")
    length = TEXT_LENGTH if args.length is None else args.length
    if length != int(length) or length < 1:
        raise Refused(f"--length for text is a whole number of characters from 1, not {args.length:g}")
    if length > TEXT_LENGTH_MAX:
        note(f"length {length:g} is more than the window's {TEXT_LENGTH_MAX:,}: using {TEXT_LENGTH_MAX:,}")
        length = TEXT_LENGTH_MAX
    return tuple(vocab.encode(prompt)), None, int(length), prompt


def image_run(args, entry) -> tuple[tuple, object, int, int]:
    """(prefix, condition, steps, lanes) as Image mode's prepare() gives them (nothing kept)."""
    if args.prompt is not None or args.speaker is not None or args.length is not None:
        raise Refused("an image model takes no --prompt, --speaker or --length (an image is always whole)")
    rows, cols, digits = GRIDS[args.grid or "1"]
    if digits is not None and args.digit is not None:
        raise Refused("--grid digits draws each digit once: give no --digit")
    lanes = rows * cols
    digits = digits or (args.digit,) * lanes
    config = entry.card["config"]
    condition = digits[0] if lanes == 1 else list(digits)
    return (), condition, config["height"] * config["width"], lanes


def audio_run(args, entry) -> tuple[tuple, tuple, int]:
    """(prefix, condition, steps) as Audio mode's prepare() gives them (nothing kept)."""
    if args.prompt is not None or args.grid is not None:
        raise Refused("an audio model takes no --prompt or --grid")
    speakers = list(entry.card.get("speakers", []))
    speaker = None
    if args.speaker is not None:
        if args.speaker not in speakers:
            raise Refused(f"--speaker must be one of {', '.join(speakers) or '(none: this model has no speakers)'}")
        speaker = speakers.index(args.speaker)
    if args.length is None:  # "as long as this word usually is", ticked by default
        typical = catalog.typical_seconds(entry.card, args.digit, speaker)
        seconds = AUDIO_SECONDS if typical is None else typical
    else:
        seconds = args.length
    low, high = AUDIO_SECONDS_RANGE
    clamped = min(max(seconds, low), high)
    if clamped != seconds and args.length is not None:
        note(f"length {seconds:g} s is out of range: using {clamped:g} s")
    seconds = round(clamped, AUDIO_DECIMALS)
    return (), (args.digit, speaker), int(round(seconds * SAMPLE_RATE))


def check_target(path: Path, suffix: str, kind: str, what: str) -> None:
    """A file of this kind can be written at `path` (checked before the run, not after it)."""
    if path.suffix.lower() != suffix:
        raise Refused(f"{what} must name a {suffix} file for {kind}, not {path.name}")
    if path.is_dir():
        raise Refused(f"{what} {path} is a folder")
    if not path.parent.is_dir():
        raise Refused(f"{what}: the folder {path.parent} does not exist")


def mosaic(values: np.ndarray, lanes: int, rows: int, cols: int, height: int, width: int) -> np.ndarray:
    """The images of a run (values position-major, image i = lane i) as the window saves them:
    one grey mosaic with GAP_PIXELS of mid grey between grid cells; one image alone."""
    images = np.asarray(values, np.uint8).reshape(-1, lanes).T.reshape(lanes, height, width)
    gap = GAP_PIXELS if lanes > 1 else 0
    out = np.full((rows * (height + gap) - gap, cols * (width + gap) - gap), 128, np.uint8)
    for image in range(lanes):
        r, c = divmod(image, cols)
        out[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = images[image]
    return out


def write_sample(path: Path, mode: str, entry, vocab, prefix, values: np.ndarray, lanes: int, prompt: str | None, grid) -> None:
    """The sample as the window's Save writes it; a failed write leaves a file it replaces whole."""
    if mode == "text":
        write_text_atomically(path, prompt + vocab.decode(values.tolist()))
    elif mode == "image":
        from arplayground.gui.image_files import write_png

        rows, cols, _ = GRIDS[grid or "1"]
        config = entry.card["config"]
        write_png(str(path), mosaic(values, lanes, rows, cols, config["height"], config["width"]))
    else:
        from arplayground.audio.wav import write_wav

        with replacing(path) as temporary:
            write_wav(temporary, decode(np.concatenate([np.asarray(prefix, np.uint8), values.astype(np.uint8)])))


def warm_up(stepper) -> None:
    """Compile the model's kernels (or load them from numba's cache) before the first step, saying so."""
    if not hasattr(stepper, "warm_up"):
        return
    if stepper.needs_compiling():
        print("Compiling the model's kernels (the first run after installing)…", file=sys.stderr)
    stepper.warm_up()


def run(args) -> int:
    mode = args.mode
    check_target(args.out, SUFFIXES[mode], mode, "--out")
    if args.trace is not None:
        check_target(args.trace, ".json", "a trace", "--trace")
    elif args.compact_trace:
        raise Refused("--compact-trace says how to write --trace: give --trace FILE.json too")
    entry = choose_entry(args)
    try:
        catalog.check(entry)
        vocab = catalog.vocabulary(entry)
    except catalog.ModelError as e:
        raise Refused(f"the model {entry.name} cannot be used: {e}") from None
    lanes, prompt = 1, None
    if mode == "text":
        prefix, condition, n_steps, prompt = text_run(args, vocab)
    elif mode == "image":
        prefix, condition, n_steps, lanes = image_run(args, entry)
    else:
        prefix, condition, n_steps = audio_run(args, entry)
    settings = sampler_settings(args, mode, len(vocab))
    try:
        stepper = catalog.load_stepper(entry)
    except catalog.ModelError as e:
        raise Refused(f"the model {entry.name} cannot be used: {e}") from None
    warm_up(stepper)
    session = Session()
    branch = session.start(prefix, condition, args.seed, n_steps, lanes)
    progress = Progress(n_steps * lanes, UNITS[mode])
    started = time.perf_counter()
    try:
        for block in run_steps(stepper, prefix, n_steps, lambda: settings, args.seed, condition, chunk_steps=CHUNK_STEPS):
            branch.trace.extend(block.compact())  # as the worker sends it to the window's trace
            progress.update(len(branch.trace))
    except NonFiniteLogits as e:
        print(f"arplayground sample: {entry.name} failed: {e}", file=sys.stderr)
        return 1
    progress.update(len(branch.trace), final=True)
    seconds = time.perf_counter() - started
    write_sample(args.out, mode, entry, vocab, prefix, branch.trace.values, lanes, prompt, args.grid)
    print(f"{args.out}: {len(branch.trace):,} {UNITS[mode]} from {entry.name}, seed {args.seed}, "
          f"{settings_text(settings)}, in {seconds:.2f} s")
    if args.trace is not None:
        too_long = None if args.compact_trace else too_long_for_plain(branch)
        export_trace(args.trace, branch, entry.name, entry.card, mode, lanes, compact=args.compact_trace or bool(too_long))
        compact = " (compact)" if args.compact_trace else f" (compact: {too_long})" if too_long else ""
        print(f"  trace written to {args.trace}{compact}")
    return 0


def settings_text(settings: SamplerSettings) -> str:
    """The settings as the summary line says them: numbers as numbers, the stages' order as a list."""
    def shown(v) -> str:
        return ",".join(str(x) for x in v) if isinstance(v, (list, tuple)) else f"{v:g}"

    return ", ".join(f"{k.replace('_', '-')} {shown(v)}" for k, v in settings.to_dict().items())


def main(argv=None) -> int:
    return command_main("sample", parse_args, run, argv)
