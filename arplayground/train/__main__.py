"""`arplayground-train MODE ...`: one training command per bundled model."""

from __future__ import annotations

import argparse
import os
import sys

DATA_PARALLEL = ("image", "audio")  # the commands that run under torchrun (train.common.Processes)


def main(argv: list[str] | None = None) -> int:
    from arplayground.train import audio, cheat, image, text
    from arplayground.train.common import command_line

    parser = argparse.ArgumentParser(prog="arplayground-train", description=__doc__)
    modes = parser.add_subparsers(dest="mode", required=True)
    text.add_arguments(modes.add_parser("text", help="character GPT on Tiny Shakespeare"))
    image.add_arguments(modes.add_parser("image", help="gated PixelCNN on MNIST digits"))
    audio.add_arguments(modes.add_parser("audio", help="WaveNet on spoken digits (FSDD)"))
    audio.add_lengths_arguments(modes.add_parser("audio-lengths", help="add the training clips' typical lengths to an "
                                                 "audio model's card written without them"))
    cheat.add_arguments(modes.add_parser("cheat-figures", help="the cheat's card figures: the model trained without "
                                         "its causal mask beside the real one, teacher-forced and generating"))
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and args.mode not in DATA_PARALLEL:
        # Each process would train a model of its own and all write the same card.
        raise SystemExit(f"arplayground-train {args.mode} runs as one process; under torchrun, only "
                         f"{' and '.join(DATA_PARALLEL)} trains data-parallel (docs/training.md)")
    args.command_line = command_line(argv)
    return {"text": text.main, "image": image.main, "audio": audio.main, "audio-lengths": audio.lengths_main,
            "cheat-figures": cheat.main}[args.mode](args)


if __name__ == "__main__":
    sys.exit(main())
