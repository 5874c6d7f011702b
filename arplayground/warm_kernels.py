"""`python -m arplayground.warm_kernels CARD`: compile one model's kernels into numba's on-disk cache.

The first run of a model with compiled kernels (Image, Audio) compiles them: tens of seconds that
no thread can interrupt. The worker runs this in a process of its own instead, and loads the
result from the cache in well under a second; Stop, a mode switch or closing the window kill the
process and answer at once, where they would otherwise wait for the compile to finish.
"""

from __future__ import annotations

import sys
from pathlib import Path


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m arplayground.warm_kernels CARD.json", file=sys.stderr)
        return 2
    from arplayground import catalog

    entry = catalog.read_entry(Path(args[0]))
    if entry.error:
        print(f"{args[0]}: {entry.error}", file=sys.stderr)
        return 1
    stepper = catalog.load_stepper(entry)
    if hasattr(stepper, "warm_up"):
        stepper.warm_up()
    return 0


if __name__ == "__main__":
    sys.exit(main())
