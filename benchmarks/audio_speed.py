"""Audio mode speed, on the bundled WaveNet, in one process, on one core:

1. samples per second and real-time factor at 8 kHz for the compiled chunks (numba, nogil), the
   compiled step called once per sample from the Python loop, torch eager with queues, and naive
   full recompute; same seed, so every path must draw the same samples;
2. GUI event-loop latency (p50 / p99) on the real window (offscreen) while Audio mode generates a
   clip at full speed and plays it, beside the same window idle.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/audio_speed.py
    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/audio_speed.py --guidance 2   # guided: two networks a sample

For playback with a real 8 kHz clock start `jackd -d dummy -r 8000` first (apt: jackd2); with no
output device the GUI row measures generation alone and says so. Machines here are shared and
noisy: times are medians over repeats, ratios taken within one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402  (benchmarks/report.py, beside this script)

report.use_checkout()  # arplayground from the working folder or PYTHONPATH
import gui_latency  # noqa: E402  (benchmarks/gui_latency.py, beside this script)

RATE = 8000


def per_step(stepper, n: int, seed: int, condition, settings):
    from arplayground.core.generate import generate, each_step

    start = time.perf_counter()
    values = [s.record.value for s in each_step(generate(stepper, [], n, lambda: settings, seed, condition))]
    return time.perf_counter() - start, values


def chunked(stepper, n: int, seed: int, condition, settings):
    import numpy as np

    from arplayground.core.generate import generate_chunks

    start = time.perf_counter()
    values = np.concatenate([c.values for c in generate_chunks(stepper, [], n, lambda: settings, seed, condition)])
    return time.perf_counter() - start, values.tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gui-seconds", type=float, default=3.0, help="length of the clip generated and played")
    parser.add_argument("--guidance", type=float, default=1.0, help="draw with this guidance (1 = off; the window asks for digit 3)")
    report.add_argument(parser)
    args = parser.parse_args()
    with report.docs_section(__file__, args.write_docs, variant=None if args.guidance == 1 else f"guidance-{args.guidance:g}", gui=True):
        measure(args)


def measure(args) -> None:
    import torch

    from arplayground import catalog
    from arplayground.audio.playback import Player
    from arplayground.core.sampling import SamplerSettings
    from arplayground.gui.app import configure_runtime
    from arplayground.nets.baselines import NaiveWaveNetStepper, TorchWaveNetStepper
    from arplayground.nets.wavenet import FastWaveNetStepper

    configure_runtime()  # the app's process settings: 1 torch thread, short GIL switch interval
    entries = [e for e in catalog.discover() if e.available and e.mode == "audio"]
    if not entries:
        raise SystemExit("no audio model in models/: train one with arplayground-train audio")
    entry = next(e for e in entries if e.name == args.model) if args.model else entries[0]
    fast = catalog.load_stepper(entry)
    model, vocab = fast.model, fast.vocab
    cfg = model.cfg
    print(f"model {entry.name}: {entry.card['parameters']:,} parameters, residual {cfg.residual}, skip {cfg.skip}, "
          f"{len(cfg.dilations)} layers, receptive field {cfg.receptive_field}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread; guidance {args.guidance:g}")
    settings = SamplerSettings(guidance=args.guidance)
    fast.warm_up()  # compile (or load the compiled cache) outside the timings, as the app does
    paths = [  # (name, run, samples per repeat)
        ("compiled chunks (numba, nogil)", lambda s, c: chunked(fast, 8000, s, c, settings), 8000),
        ("compiled step per Python call", lambda s, c: per_step(FastWaveNetStepper(model, vocab), 4000, s, c, settings), 4000),
        ("torch eager, queues", lambda s, c: per_step(TorchWaveNetStepper(model, vocab), 1000, s, c, settings), 1000),
        ("naive full recompute (first 400)", lambda s, c: per_step(NaiveWaveNetStepper(model, vocab), 400, s, c, settings), 400),
    ]
    rows, firsts = [], {}
    for name, run, n in paths:
        times = []
        for i in range(args.repeats):
            seconds, values = run(100 + i, (i % 10, i % cfg.n_speakers))
            times.append(seconds / n)
            firsts.setdefault(i, []).append(values[:400])
        rows.append((name, statistics.median(times)))
    fastest = rows[0][1]
    print()
    print("| path | us/sample (median) | samples/s | real-time factor at 8 kHz | slower than chunks |")
    print("|---|---:|---:|---:|---:|")
    for name, t in rows:
        print(f"| {name} | {t * 1e6:,.1f} | {1 / t:,.0f} | {1 / (t * RATE):.2f} | {t / fastest:.1f}x |")
    same = all(all(v == runs[0] for v in runs) for runs in firsts.values())
    print(f"\nsame seed, same first 400 samples on every path: {'yes' if same else 'NO'}")
    print()

    reason = Player.probe()
    device = "no output device: generation only" if reason else "playing on the default output"

    def setup(window):
        view = window.views["audio"]
        view.typical_check.setChecked(False)  # a fixed length, not the word's usual one
        view.length_spin.setValue(args.gui_seconds)
        view.play_live.setChecked(reason is None)
        window.guidance.setValue(args.guidance)
        if settings.guided:
            view.digit_box.setCurrentIndex(view.digit_box.findData(3))
        # Choosing Audio mode opens the sound stream on a helper thread; a person clicks Generate
        # later than the 0.1-0.3 s that takes, so the measured run starts once it is open.
        deadline = time.monotonic() + 10
        while reason is None and view.player is not None and view.player._stream is None and time.monotonic() < deadline:
            time.sleep(0.01)

    gui_latency.print_table(
        "audio", entry.name, args.gui_seconds + 1.0, "samples",
        f"generating a {args.gui_seconds:.0f} s clip at full speed ({device})", setup=setup,
    )
    if reason:
        print(f"\n(no sound: {reason})")


if __name__ == "__main__":
    main()
