"""The cheat's card figures: how a model trained without its causal mask reads and writes text.

    arplayground-train cheat-figures --data ../shared/datasets/tinyshakespeare/input.txt

Reads the cheat's card (models/shakespeare-char-cheat.json) and the real model's
(models/shakespeare-char-gpt.json), and writes into the cheat's card, under "figures":

- both models' teacher-forced loss on the validation split, in the same non-overlapping windows
  (128 characters: the real card's context-128 figure, and a window both models can take);
- N samples of L characters from each, temperature 1 and nothing cut, seeds 0 .. N-1, the same
  prompt, and the real model's loss on each model's samples (the cheat's far above its own);
- the beginning of the cheat's first sample, and of the real model's, to read.

The card is written to a temporary file and renamed over the old one. CPU only, deterministic.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from arplayground import catalog
from arplayground.core.cheat import encoded, nats_per_char, sample
from arplayground.core.files import write_text_atomically
from arplayground.core.sampling import SamplerSettings
from arplayground.train.common import hardware, md5
from arplayground.train.text import evaluate, load_split

# The opening of Tiny Shakespeare: a prompt in the data's own form (a speaker, a line, a new speech).
PROMPT = "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
SNIPPET_CHARS = 200


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="path to tinyshakespeare/input.txt (its validation split)")
    p.add_argument("--cheat", type=Path, default=Path("models/shakespeare-char-cheat.json"),
                   help="the card of the model trained with --no-causal-mask; the figures are written into it")
    p.add_argument("--real", type=Path, default=Path("models/shakespeare-char-gpt.json"),
                   help="the card of the model trained with its mask")
    p.add_argument("--samples", type=int, default=8, help="samples from each model (seeds 0 .. samples - 1)")
    p.add_argument("--length", type=int, default=300, help="characters in each sample")
    p.add_argument("--prompt", default=PROMPT, help="what every sample follows")
    p.add_argument("--window", type=int, default=128, help="validation windows, characters")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")


def checked_entry(path: Path, demonstration: str | None) -> catalog.ModelEntry:
    entry = catalog.read_entry(path)
    if entry.error:
        raise SystemExit(f"{path}: {entry.error}")
    if entry.card["architecture"] != "gpt":
        raise SystemExit(f"{path}: {entry.name} is not a character GPT")
    if entry.demonstration != demonstration:
        raise SystemExit(f"{path}: {entry.name} is " + ("not the cheat (its card has no "
                         f"\"demonstration\": \"{catalog.NO_CAUSAL_MASK}\")" if demonstration else "a demonstration, "
                         "not a model trained with its causal mask"))
    return entry


def main(args: argparse.Namespace) -> int:
    import torch

    if args.samples < 1 or args.length < 1 or not 2 <= args.window:
        raise SystemExit("--samples and --length must be at least 1, --window at least 2")
    torch.set_num_threads(args.threads)
    cheat_entry, real_entry = checked_entry(args.cheat, catalog.NO_CAUSAL_MASK), checked_entry(args.real, None)
    cheat, real = catalog.load_stepper(cheat_entry), catalog.load_stepper(real_entry)
    longest = min(e.card["config"]["block_size"] for e in (cheat_entry, real_entry))
    if args.window > longest:
        raise SystemExit(f"--window {args.window} is longer than a model's context ({longest})")
    chars, _, val = load_split(args.data)
    for entry in (cheat_entry, real_entry):
        if entry.card["vocabulary"] != chars:
            raise SystemExit(f"{entry.name}'s vocabulary is not the one of {args.data}: not the data it was trained on")
    started = time.time()
    val_nats = {name: evaluate(stepper.model, val, args.window, "cpu")
                for name, stepper in (("cheat", cheat), ("real", real))}
    seeds = list(range(args.samples))
    prompt_real = encoded(real.vocab, args.prompt, real_entry.name)
    prompt_cheat = encoded(cheat.vocab, args.prompt, cheat_entry.name)
    read = {"cheat": [], "real": []}  # the real model's nats/char of each sample
    drawn = {"cheat": [], "real": []}  # each model's own nats/char of its samples, as it drew them
    snippets = {}
    for seed in seeds:
        for name, stepper, prompt in (("cheat", cheat, prompt_cheat), ("real", real, prompt_real)):
            values, own = sample(stepper, prompt, args.length, seed, SamplerSettings())
            written = stepper.vocab.decode(values)
            read[name].append(nats_per_char(real, prompt_real, encoded(real.vocab, written, real_entry.name)))
            drawn[name].append(own)
            snippets.setdefault(name, written[:SNIPPET_CHARS])
    wall = time.time() - started

    def mean(xs):
        return round(float(np.mean(xs)), 4)

    card = cheat_entry.card
    figures = {
        "command": args.command_line,
        "real_model": real_entry.name,
        "real_model_weights_md5": md5(real_entry.weights_path),
        "validation": f"the validation split of {args.data.name} (md5 {md5(args.data)}), non-overlapping windows of "
                      f"{args.window} characters, every position",
        "val_loss_nats_per_char": round(val_nats["cheat"], 4),
        "real_model_val_loss_nats_per_char": round(val_nats["real"], 4),
        "samples": args.samples,
        "sample_chars": args.length,
        "seeds": seeds,
        "temperature": 1.0,
        "prompt": args.prompt,
        "real_model_nll_of_cheat_samples_nats_per_char": mean(read["cheat"]),
        "real_model_nll_of_its_own_samples_nats_per_char": mean(read["real"]),
        "real_model_nll_of_each_cheat_sample": [round(x, 4) for x in read["cheat"]],
        "real_model_nll_of_each_own_sample": [round(x, 4) for x in read["real"]],
        "cheat_nll_of_its_samples_as_drawn_nats_per_char": mean(drawn["cheat"]),
        "cheat_sample": snippets["cheat"],
        "real_model_sample": snippets["real"],
        "wall_time_s": round(wall, 1),
        "hardware": hardware("cpu"),
    }
    card = {**card, "figures": figures}
    catalog.validate_card(card)  # what is written must still read as the cheat's card
    write_text_atomically(args.cheat, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if not k.startswith(("cheat_sample", "real_model_sample"))},
                     indent=1, ensure_ascii=False))
    return 0
