"""What the window and the command-line tools (gui/app.py, gui/score_command.py) share: the
process settings and the command line's number checks."""

from __future__ import annotations

import argparse
import math
import sys

# The largest whole number a Qt spin box or slider holds (a C int).
WIDGET_INT_MAX = 2**31 - 1


def finite_number(name: str):
    """An argparse type: a float that is a number. float() takes "nan", "inf" and "1e400" (inf);
    none of them can be clamped into a slider's range with a meaning (-inf temperature would
    become the highest, the most random), so they are refused here, before the window is built."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, not {text[:30]!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, not {text[:30]}")
        return value

    return parse


def whole_number(name: str, low: int, high: int = WIDGET_INT_MAX, meaning: str = ""):
    """An argparse type: an int from low to high. Below low the option has no meaning (clamping a
    negative top-k to 0 would turn the filter off, the opposite of asking for few values); above
    high no widget can hold it. Values inside, but past a widget's own maximum, are clamped with
    a note by the window, which alone knows that maximum (the vocabulary's size, say)."""
    def parse(text: str) -> int:
        shown = text if len(text) <= 30 else text[:27] + "..."
        out_of_range = f"{name} must be a whole number from {low}{meaning} to {high}, not {shown}"
        try:
            value = int(text)
        except ValueError:
            if text.strip().lstrip("+-").isdigit():  # digits past int()'s length limit: a huge number
                raise argparse.ArgumentTypeError(out_of_range) from None
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, not {shown!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(out_of_range)
        return value

    return parse


def sampler_order(text: str) -> tuple:
    """An argparse type: the sampler's stage order, "a,b,c" (core.sampling.parse_order: stages not
    named keep their default places after the named ones). An unknown or repeated stage is
    refused: an order quietly put back to the default would draw from another distribution."""
    from arplayground.core.sampling import parse_order

    try:
        return parse_order(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)[:200]) from None


def configure_runtime() -> None:
    """Process-wide settings that keep generation quick beside a live GUI thread."""
    import torch

    # Generation runs one position at a time: intra-op threads only add synchronisation there
    # (measured with the other core busy: 0.56 ms per character on 1 thread, 32 ms on 2).
    torch.set_num_threads(1)
    # The worker gives the GIL back between torch ops; a shorter switch interval hands it back to
    # the worker sooner after the GUI thread's Python work (measured: ~35% more characters/s).
    sys.setswitchinterval(0.0005)


class Refused(Exception):
    """A command's file or options cannot be used; str() says why."""


def command_main(name: str, parse_args, run, argv=None) -> int:
    """A window-less command (`arplayground score`, `arplayground sample`): its arguments parsed,
    the process set as the app sets it, and a refusal said in one line with exit status 2."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure_runtime()
    try:
        return run(args)
    except (Refused, ValueError, OSError) as e:
        print(f"arplayground {name}: {e}", file=sys.stderr)
        return 2
