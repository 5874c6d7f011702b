"""`arplayground-train MODE ...`: one training command per bundled model."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from arplayground.train import image, text

    parser = argparse.ArgumentParser(prog="arplayground-train", description=__doc__)
    modes = parser.add_subparsers(dest="mode", required=True)
    text.add_arguments(modes.add_parser("text", help="character GPT on Tiny Shakespeare"))
    image.add_arguments(modes.add_parser("image", help="gated PixelCNN on MNIST digits"))
    args = parser.parse_args(argv)
    return {"text": text.main, "image": image.main}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
