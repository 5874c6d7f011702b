"""`arplayground`: open the window with the models in models/; `arplayground score|sample ...`: the
commands without a window (SUBCOMMANDS)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


from arplayground.gui.runtime import (  # noqa: F401  (also imported from here)
    WIDGET_INT_MAX, configure_runtime, finite_number, sampler_order, whole_number)

# The sampler's options, as the window's initial settings take them (SamplerControls.apply).
SAMPLER_KEYS = ("temperature", "top_k", "top_p", "guidance", "min_p", "typical_p", "top_n_sigma",
                "repetition_penalty", "penalty_window", "order")


def parse_args(argv):
    p = argparse.ArgumentParser(prog="arplayground", description="Watch autoregressive models sample, step by step.",
                                epilog=subcommands_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=None, help="folder of model cards and weights (default: models/)")
    p.add_argument("--mode", choices=("text", "image", "audio"), default=None, help="the mode to open in")
    p.add_argument("--prompt", default=None)
    p.add_argument("--temperature", type=finite_number("temperature"), default=None,
                   help="0 (greedy) to 2; clamped into range")
    p.add_argument("--top-k", type=whole_number("top-k", 0, meaning=" (off)"), default=None,
                   help="0 = off; clamped to the vocabulary")
    p.add_argument("--top-p", type=finite_number("top-p"), default=None, help="0 to 1; clamped into range")
    p.add_argument("--guidance", type=finite_number("guidance"), default=None,
                   help="0 to 4, 1 = off (Image and Audio); clamped into range")
    p.add_argument("--min-p", type=finite_number("min-p"), default=None,
                   help="0 (off) to 1: keep values at least this fraction as likely as the top; clamped into range")
    p.add_argument("--typical-p", type=finite_number("typical-p"), default=None,
                   help="0 to 1, 1 = off: locally typical sampling; clamped into range")
    p.add_argument("--top-n-sigma", type=finite_number("top-n-sigma"), default=None,
                   help="0 (off) to 5: keep logits within n standard deviations of the top; clamped into range")
    p.add_argument("--repetition-penalty", type=finite_number("repetition-penalty"), default=None,
                   help="1 (off) to 3, Text mode only: recent values made this many times less likely; clamped into range")
    p.add_argument("--penalty-window", type=whole_number("penalty-window", 1), default=None,
                   help="values back the repetition penalty looks (1 to 1024, default 64); clamped into range")
    p.add_argument("--sampler-order", dest="order", type=sampler_order, default=None, metavar="STAGE,STAGE,...",
                   help="the order the stages act in, from penalties, temperature, top_k, typical_p, top_p, "
                        "min_p, top_n_sigma (default that order); stages left out follow in their default order")
    p.add_argument("--length", type=whole_number("length", 1), default=None,
                   help="characters to generate (Text mode); clamped to the most the window offers")
    # A seed names a run: one changed to fit would repeat a different run, so it is refused instead.
    p.add_argument("--seed", type=whole_number("seed", 0), default=None, help=f"0 to {WIDGET_INT_MAX}")
    p.add_argument("--generate", action="store_true", help="start generating as soon as the window opens")
    return p.parse_args(argv)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (torch, Qt, pyqtgraph: ~10^6 objects) out of the
    cyclic garbage collector's sight. Otherwise a full collection walks them all while holding
    the GIL, freezing the window for ~100 ms now and then (seen in benchmarks/text_speed.py)."""
    import gc

    gc.collect()
    gc.freeze()


# `arplayground NAME ...`: a command that runs without a window (module, what it does)
SUBCOMMANDS = {
    "score": ("arplayground.gui.score_command", "score a text, PNG or WAV file with the bundled model of its mode"),
    "sample": ("arplayground.gui.sample_command", "generate one sample and write it (.txt, .png, .wav), no window"),
}


def subcommands_help() -> str:
    lines = [f"  arplayground {name:<7} {what}" for name, (_, what) in SUBCOMMANDS.items()]
    return "commands (each with its own --help):\n" + "\n".join(lines) + "\nwithout one, the window opens."


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] and argv[0] in SUBCOMMANDS:  # no window: the command's own main()
        import importlib

        return importlib.import_module(SUBCOMMANDS[argv[0]][0]).main(argv[1:])
    args = parse_args(argv)
    from PySide6.QtCore import QCoreApplication, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from arplayground.gui.collector import collect_on_gui_thread
    from arplayground.gui.main_window import MainWindow
    from arplayground.gui.theme import apply_theme

    configure_runtime()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("arplayground")
    apply_theme(app, "system")  # light or dark as the system is, and as it changes (a View menu may override)
    collect_on_gui_thread(app)  # no Qt object may die on a worker thread
    initial = {k: getattr(args, k) for k in ("mode", "prompt", *SAMPLER_KEYS, "length", "seed")}
    window = MainWindow(args.models, initial)
    window.show()
    freeze_startup_objects()
    if args.generate:
        QTimer.singleShot(0, window.generate)
    # Ctrl+C or a TERM signal closes the window properly (stopping the worker first). Python runs
    # signal handlers only between bytecodes, so a timer wakes the interpreter now and then.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    signal.signal(signal.SIGTERM, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    rc = app.exec()
    window.close()  # stops a run still going (closeEvent) if the loop ended another way
    # Destroy the window while QApplication still exists (left to interpreter shutdown, Qt
    # objects can be destroyed after the application and crash on exit).
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return rc


if __name__ == "__main__":
    sys.exit(main())
