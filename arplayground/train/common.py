"""What every training command shares: progress lines, hardware description, model cards."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(0)} (CUDA), torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{torch.get_num_threads()} CPU threads ({cpu}), torch {torch.__version__}"


def command_line(argv: list[str]) -> str:
    """The command as typed, so the card can be pasted back into a shell."""
    return " ".join(shlex.quote(a) for a in ["arplayground-train", *argv])


class Progress:
    """A one-line progress bar on a terminal; a plain line every `every` steps in a log file."""

    def __init__(self, total: int, every: int = 50):
        self.total, self.every = total, every
        self.start = time.time()
        self.tty = sys.stderr.isatty()

    def update(self, step: int, **figures) -> None:
        if not self.tty and step % self.every and step != self.total:
            return
        elapsed = time.time() - self.start
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        filled = int(30 * step / self.total)
        shown = " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {step}/{self.total} {shown} {rate:.2f} it/s eta {eta / 60:.1f} min"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        print(("\n" if self.tty else "") + text, file=sys.stderr, flush=True)


def write_card(path: Path, card: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
