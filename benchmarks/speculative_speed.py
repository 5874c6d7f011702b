"""Speculative decoding against plain decoding, on the bundled text model and its draft, in one
process, on one core: for k = 2, 4, 8 proposals a round, the acceptance rate, the characters each
target pass gives, and the speed-up (plain decoding's compute time over speculative decoding's)
for the same characters, prompts and seeds, greedy and sampled at temperature 1. Plain and
speculative runs alternate, so a change in the machine's load reaches both; the ratio is that of
the summed times. Greedy speculative text must be the plain greedy text (checked on every run).

Then what one round costs, which decides the speed-up: one target step, one draft step, and one
target pass over a block of k + 1 characters (the fastest of 300 each).

Last, GUI event-loop latency (p50 / p99) on the real window (offscreen) while the Decoding lab's
Speculative tab runs at k = 4 as fast as it computes, beside the same window idle with the tab open.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/speculative_speed.py [--chars N] [--seeds N] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH
import gui_latency  # noqa: E402  (benchmarks/gui_latency.py, beside this script)

# Written for this benchmark in the manner of the data (a speaker's name, a line begun); not from it.
PROMPTS = ("KING HENRY:\nGood morrow, cousin; what news from the north?\n",
           "ROMEO:\n",
           "First Citizen:\nBefore we proceed any further, hear me ")
KS = (2, 4, 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chars", type=int, default=300, help="characters generated per run")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per prompt (0, 1, ...)")
    parser.add_argument("--gui-seconds", type=float, default=8.0)
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, gui=True):
        measure(args)


def step_costs(target, draft, prefix, repeats: int = 300):
    """(target step ms, draft step ms, {k: target block of k + 1 ms}): the fastest of `repeats`,
    which other work on a shared machine can only slow down (a median moved with the load)."""
    def fastest_ms(work) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            work()
            times.append(time.perf_counter() - started)
        return min(times) * 1000

    def push_and_take_back(stepper):
        stepper.push(prefix[-1])
        stepper.rollback(1)

    target.reset(prefix)
    draft.reset(prefix)
    blocks = {}
    for k in KS:
        blocks[k] = fastest_ms(lambda k=k: (target.score_block(prefix[-(k + 1):]), target.rollback(k + 1)))
    return fastest_ms(lambda: push_and_take_back(target)), fastest_ms(lambda: push_and_take_back(draft)), blocks


def measure(args) -> None:
    import torch

    from arplayground import catalog
    from arplayground.core.sampling import SamplerSettings
    from arplayground.core.speculative import plain_decode, speculative_decode
    from arplayground.gui.app import configure_runtime

    configure_runtime()
    entries = {e.name: e for e in catalog.discover() if e.available and e.mode == "text"}
    target_entry = catalog.default_entry(list(entries.values()), "text")
    draft_entry = next(e for e in entries.values() if e.role == catalog.DRAFT)
    target, draft = catalog.load_stepper(target_entry), catalog.load_stepper(draft_entry)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread; target {target_entry.name} "
          f"({target_entry.parameters:,} parameters), draft {draft_entry.name} ({draft_entry.parameters:,} parameters)\n")
    warm = tuple(target.vocab.encode(PROMPTS[0]))  # torch's first passes of each shape are slower: not timed
    plain_decode(target, warm, 50, SamplerSettings(), 0)
    for k in KS:
        speculative_decode(target, draft, warm, 50, SamplerSettings(), 0, k)
    runs = [(prompt, seed) for prompt in PROMPTS for seed in range(args.seeds)]
    print(f"{args.chars} characters after each of {len(PROMPTS)} prompts x {args.seeds} seeds "
          f"({len(runs) * args.chars:,} characters per row)\n")
    print("| sampling | k | acceptance rate | characters per target pass | plain characters/s | speculative characters/s "
          "| speed-up | greedy text = plain |")
    print("|---|---:|---:|---:|---:|---:|---:|:---:|")
    for name, settings in (("greedy", SamplerSettings(temperature=0.0)), ("temperature 1", SamplerSettings())):
        for k in KS:
            plain_s = spec_s = 0.0
            accepted = proposed = rounds = chars = 0
            same = True
            for prompt, seed in runs:
                prefix = tuple(target.vocab.encode(prompt))
                values, seconds = plain_decode(target, prefix, args.chars, settings, seed)
                plain_s += seconds
                decoder = speculative_decode(target, draft, prefix, args.chars, settings, seed, k)
                spec_s += decoder.seconds()
                accepted, proposed = accepted + decoder.accepted, proposed + decoder.proposed
                rounds, chars = rounds + len(decoder.rounds), chars + len(decoder.generated)
                same = same and decoder.generated == values
            check = ("yes" if same else "NO") if settings.greedy else "n/a"
            print(f"| {name} | {k} | {100 * accepted / proposed:.1f}% | {chars / rounds:.2f} | {chars / plain_s:,.0f} "
                  f"| {chars / spec_s:,.0f} | {plain_s / spec_s:.2f}x | {check} |", flush=True)

    prefix = tuple(target.vocab.encode(PROMPTS[0]))
    target_ms, draft_ms, blocks = step_costs(target, draft, prefix)
    print(f"\nfastest of 300: one target step {target_ms:.3f} ms, one draft step {draft_ms:.3f} ms "
          f"({draft_ms / target_ms:.2f} of a target step); one target pass over k + 1 characters: "
          + ", ".join(f"k = {k}: {ms:.3f} ms ({ms / target_ms:.2f} steps)" for k, ms in blocks.items()))
    print()
    gui_latency.print_lab_table(tab_rows(target_entry.name, args.gui_seconds, k=4), "characters")


def tab_rows(target_name: str, seconds: float, k: int):
    """The idle and the running row: the Speculative tab open, then running at `k` as fast as it
    computes, towards the longest length it allows (the main window's model is the target)."""
    from arplayground.gui.speculative_tab import SPEEDS

    def prepare(tab):
        tab.k_spin.setValue(k)
        tab.length_spin.setValue(tab.length_spin.maximum())
        tab.speed_box.setCurrentIndex(list(SPEEDS.values()).index(0.0))

    for running in (False, True):
        what = f"Speculative tab running at k = {k} for {seconds:g} s" if running else "idle, the tab open"
        yield what, gui_latency.lab_tab(target_name, "Speculative", seconds, running, prepare,
                                        start=lambda tab: tab.start_button.click(),
                                        progress=lambda tab: sum(len(r.values) for r in tab.rounds))


if __name__ == "__main__":
    main()
