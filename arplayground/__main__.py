"""`python -m arplayground` opens the window, like the `arplayground` command."""

import sys

from arplayground.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
