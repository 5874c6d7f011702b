"""`arplayground`: open the window with the models in models/."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path


def parse_args(argv):
    p = argparse.ArgumentParser(prog="arplayground", description="Watch autoregressive models sample, step by step.")
    p.add_argument("--models", type=Path, default=None, help="folder of model cards and weights (default: models/)")
    p.add_argument("--mode", choices=("text", "image", "audio"), default=None, help="the mode to open in")
    p.add_argument("--prompt", default=None)
    p.add_argument("--temperature", type=float, default=None, help="0 (greedy) to 2; clamped into range")
    p.add_argument("--top-k", type=int, default=None, help="0 = off; clamped to the vocabulary")
    p.add_argument("--top-p", type=float, default=None, help="0 to 1; clamped into range")
    p.add_argument("--guidance", type=float, default=None, help="0 to 4, 1 = off (Image and Audio); clamped into range")
    p.add_argument("--length", type=int, default=None, help="characters to generate (Text mode)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--generate", action="store_true", help="start generating as soon as the window opens")
    return p.parse_args(argv)


def configure_runtime() -> None:
    """Process-wide settings that keep generation quick beside a live GUI thread."""
    import torch

    # Generation runs one position at a time: intra-op threads only add synchronisation there
    # (measured with the other core busy: 0.56 ms per character on 1 thread, 32 ms on 2).
    torch.set_num_threads(1)
    # The worker gives the GIL back between torch ops; a shorter switch interval hands it back to
    # the worker sooner after the GUI thread's Python work (measured: ~35% more characters/s).
    sys.setswitchinterval(0.0005)


def freeze_startup_objects() -> None:
    """Move everything alive after start-up (torch, Qt, pyqtgraph: ~10^6 objects) out of the
    cyclic garbage collector's sight. Otherwise a full collection walks them all while holding
    the GIL, freezing the window for ~100 ms now and then (seen in benchmarks/text_speed.py)."""
    import gc

    gc.collect()
    gc.freeze()


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QCoreApplication, QEvent, QTimer
    from PySide6.QtWidgets import QApplication

    from arplayground.gui.main_window import MainWindow

    configure_runtime()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("arplayground")
    initial = {k: getattr(args, k) for k in ("mode", "prompt", "temperature", "top_k", "top_p", "guidance", "length", "seed")}
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
