"""Train the class-conditional gated PixelCNN on MNIST digits (256 grey levels).

    arplayground-train image --data ../shared/datasets/mnist

Only the MNIST test set is on these machines: images 0-8999 train, 9000-9999 validate.
Reports validation NLL in bits/dim. Writes models/NAME.safetensors and models/NAME.json.

Data-parallel on several processes (docs/training.md): the same command under
`torchrun --nproc_per_node N -m arplayground.train image ...`; --batch stays the global batch.
"""

from __future__ import annotations

import argparse
import gzip
import math
import struct
import time
from pathlib import Path

import numpy as np

from arplayground.train.common import (
    Processes,
    Progress,
    add_checkpoint_argument,
    add_init_argument,
    better_weights,
    check_shares,
    cosine_lr,
    data_parallel_loss,
    join_processes,
    md5,
    optimise,
    replicas_section,
    resume_if_saved,
    save_checkpoint,
    slow_bf16_warning,
    start_from_card,
    training_section,
    training_state,
    update_average,
    write_card,
)

IMAGES = "t10k-images-idx3-ubyte.gz"
LABELS = "t10k-labels-idx1-ubyte.gz"
N_TRAIN = 9000


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="folder with the MNIST idx .gz files")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--name", default="mnist-gated-pixelcnn")
    p.add_argument("--epochs", type=float, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--layers", type=int, default=10)
    p.add_argument("--kernel", type=int, default=5)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to lr/20)")
    p.add_argument("--dropout", type=float, default=0.0, help="dropout on the gated units' outputs (training only)")
    p.add_argument("--shift", type=int, default=0, help="augment: move each training image by up to this many "
                   "pixels in each direction (zero fill), a new random shift every time it is seen")
    p.add_argument("--augment-share", type=float, default=0.0, help="share of each batch replaced by a training "
                   "image turned or mirrored by one of the square's 7 other symmetries, under a training-only label: "
                   "more examples of how strokes shade, without teaching any digit a wrong shape")
    p.add_argument("--augment-shift", type=int, default=0, help="also move those augmented images by up to this "
                   "many pixels (zero fill)")
    p.add_argument("--label-dropout", type=float, default=0.1, help="share of labels replaced by 'any digit'")
    p.add_argument("--limit", type=int, default=0, help="use only this many training images (quick checks)")
    p.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average (0 = off); "
                   "the bundled weights are the average when it validates better")
    p.add_argument("--bf16", action="store_true", help="train under bfloat16 autocast (1.6x faster on CPUs with "
                   "avx512_bf16 or amx_bf16; emulated, and slower, elsewhere); validation and the app run in float32")
    p.add_argument("--compile", action="store_true", help="torch.compile the training loss (a probe's steps "
                   "were 1.37x faster under --bf16, yet a whole 35-epoch run took 112 min against 111 eager)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    add_checkpoint_argument(p)
    add_init_argument(p)


def read_idx(path: Path) -> np.ndarray:
    """An idx file (gzipped) as a uint8 array: images (N, 28, 28) or labels (N,)."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    if magic == 2051:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(n, rows, cols)
    if magic == 2049:
        return np.frombuffer(data, np.uint8, offset=8)
    raise ValueError(f"{path.name}: not an idx image or label file (magic {magic})")


def shifted(images: np.ndarray, most: int, rng: np.random.Generator) -> np.ndarray:
    """Each image (N, H, W) moved by its own random (dy, dx) in [-most, most], zero-filled: MNIST's
    background is 0, and a stroke looks the same a pixel or two away, so the model sees new contexts
    instead of memorising 9,000 images."""
    if most <= 0:
        return images
    n, h, w = images.shape
    padded = np.pad(images, ((0, 0), (most, most), (most, most)))
    dy, dx = rng.integers(0, 2 * most + 1, size=(2, n))
    rows = dy[:, None] + np.arange(h)[None]  # (N, H) rows of the padded image to keep
    cols = dx[:, None] + np.arange(w)[None]
    return padded[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]


def symmetric(images: np.ndarray, which: np.ndarray) -> np.ndarray:
    """Image i (N, H, W with H == W) under symmetry which[i] of the square: 0-3 turn it by that many
    quarter turns, 4-7 mirror it about the diagonal first. Exact pixel permutations: no resampling,
    so the grey levels along strokes keep their real statistics."""
    out = np.empty_like(images)
    for k in range(8):
        chosen = which == k
        if chosen.any():
            picked = images[chosen].transpose(0, 2, 1) if k >= 4 else images[chosen]
            out[chosen] = np.rot90(picked, k % 4, axes=(1, 2))
    return out


def evaluate(model, images, labels, device: str, processes: Processes = Processes()) -> float:
    """Mean NLL in bits per dimension (pixel) over the given images, conditioned on their labels;
    in a data-parallel run each process takes its share of the images and the sums are added."""
    import torch

    part = processes.share(len(images))
    images, labels, n = images[part], labels[part], len(images)
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(images), 100):
            x = torch.from_numpy(images[i : i + 100].astype(np.int64)).to(device)
            y = torch.from_numpy(labels[i : i + 100].astype(np.int64)).to(device)
            total += model.loss(x, y).item() * len(x)
    model.train()
    return processes.total(total) / n / math.log(2)


def main(args: argparse.Namespace) -> int:
    import copy

    import torch
    from safetensors.torch import save_model

    from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    processes = join_processes(args.device)
    device = processes.device
    torch.manual_seed(args.seed)  # the same in every process: the same start, the same batches
    rng = np.random.default_rng(args.seed)
    images, labels = read_idx(args.data / IMAGES), read_idx(args.data / LABELS)
    train_x, train_y = images[:N_TRAIN], labels[:N_TRAIN]
    val_x, val_y = images[N_TRAIN:], labels[N_TRAIN:]
    if args.limit:
        train_x, train_y = train_x[: args.limit], train_y[: args.limit]
    check_shares(processes, len(train_x), args.batch, len(val_x), "images")
    cfg = PixelCNNConfig(channels=args.channels, n_layers=args.layers, kernel=args.kernel, dropout=args.dropout,
                         extra_labels=1 if args.augment_share else 0)
    augmented_label = cfg.n_classes + 1  # after "any digit"; never offered in the app
    model = PixelCNN(cfg)
    start = start_from_card(args, model, cfg)
    model = model.to(device)
    # One process: the model's own loss, as always. Several: the loss through DDP, whose backward
    # averages the gradients over the processes.
    train_loss = data_parallel_loss(model, processes) if processes.backend else model.loss
    train_loss = torch.compile(train_loss) if args.compile else train_loss
    average = copy.deepcopy(model).requires_grad_(False) if args.ema else None
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train_x) / args.batch)
    total = max(1, int(args.epochs * steps_per_epoch))
    progress = Progress(total, shown=processes.main)
    progress.message(f"PixelCNN {model.num_params():,} parameters, {len(train_x)} train / {len(val_x)} val images")
    if processes.backend:
        progress.message(f"data-parallel: {processes.world} processes ({processes.backend}), a global batch of "
                         f"{args.batch}, about {args.batch // processes.world} images each")
    if warning := slow_bf16_warning(args.bf16, device):
        progress.message(warning)
    started = time.time()
    history = []
    order = rng.permutation(len(train_x))
    first_step, wall_before = 1, 0.0
    state = resume_if_saved(args, progress, model, average, opt, rng)
    if state is not None:
        order, history, wall_before = state["order"], state["history"], state["wall_time_s"]
        first_step = state["step"] + 1
        start = state.get("start")  # the starting card as it was when the run began
    for step in range(first_step, total + 1):
        i = (step - 1) % steps_per_epoch
        if i == 0 and step > 1:
            order = rng.permutation(len(train_x))
        idx = order[i * args.batch : (i + 1) * args.batch]
        batch_x = shifted(train_x[idx], args.shift, rng)  # a copy: indexing with idx already copies
        y = train_y[idx].astype(np.int64)
        y[rng.random(len(y)) < args.label_dropout] = cfg.n_classes  # teach "any digit" too
        if args.augment_share:
            chosen = rng.random(len(y)) < args.augment_share
            others = symmetric(train_x[rng.integers(0, len(train_x), chosen.sum())], rng.integers(1, 8, chosen.sum()))
            batch_x[chosen] = shifted(others, args.augment_shift, rng)
            y[chosen] = augmented_label
        # Every process made the whole global batch above; each trains on its share, its mean loss
        # weighted by the share's size, so that DDP's average of the gradients is the gradient of
        # the global batch's mean loss (the single-process step).
        part = processes.share(len(y))
        weight = (part.stop - part.start) * processes.world / len(y)
        x = torch.from_numpy(batch_x[part].astype(np.int64)).to(device)
        y_part = torch.from_numpy(y[part]).to(device)
        loss = optimise(model, opt, lambda: train_loss(x, y_part) * weight if processes.backend else train_loss(x, y_part),
                        cosine_lr(args.lr, step, total, args.warmup), args.bf16, processes.device_type)
        loss_value = processes.total(loss.item()) / processes.world  # the global batch's mean loss
        if average is not None:
            update_average(average, model, step, args.ema)
        if step % steps_per_epoch == 0 or step == total:
            val = evaluate(model, val_x, val_y, device, processes)
            record = {"step": step, "train_bits_per_dim": round(loss_value / math.log(2), 4), "val_bits_per_dim": round(val, 4)}
            line = f"epoch {step / steps_per_epoch:.1f}: train {loss_value / math.log(2):.4f}  val {val:.4f}"
            if average is not None:
                record["val_average_bits_per_dim"] = round(evaluate(average, val_x, val_y, device, processes), 4)
                line += f"  average {record['val_average_bits_per_dim']:.4f}"
            history.append(record)
            progress.message(line + " bits/dim")
            if args.checkpoint and processes.main:
                save_checkpoint(args.checkpoint, training_state(
                    args.command_line, step, model, average, opt, rng, history, wall_before + time.time() - started,
                    order=order, start=start))
        progress.update(step, bits=loss_value / math.log(2))
    wall = wall_before + time.time() - started
    model, val, weights_used = better_weights(model, average, lambda m: evaluate(m, val_x, val_y, device, processes), args.ema)
    progress.message(f"validation: {val:.4f} bits/dim on images {N_TRAIN}-{len(images) - 1} ({weights_used} weights)")
    section = replicas_section(processes, model)  # identical replicas are what DDP promises
    if not processes.main:
        processes.end()
        return 0

    model = model.cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / f"{args.name}.safetensors"
    save_model(model, str(weights))
    write_card(
        args.out / f"{args.name}.json",
        {
            "name": args.name,
            "mode": "image",
            "architecture": "gated-pixelcnn",
            "description": "Class-conditional gated PixelCNN: vertical and horizontal masked-convolution stacks "
            "(no blind spot), gated tanh*sigmoid units, 256-way softmax per pixel; label index 10 = any digit"
            + ("; 11 = turned or mirrored training images, a training-only label." if cfg.extra_labels else "."),
            "weights": weights.name,
            "config": cfg.to_dict(),
            "parameters": model.num_params(),
            "dataset": {
                "name": "MNIST test set (the only MNIST split on these machines)",
                "files": [IMAGES, LABELS],
                "md5": {IMAGES: md5(args.data / IMAGES), LABELS: md5(args.data / LABELS)},
                "split": f"images 0-{N_TRAIN - 1} train, {N_TRAIN}-{len(images) - 1} validate",
            },
            "validation": {
                "val_bits_per_dim": round(val, 4),
                "measured_on": "all 1000 validation images, with their labels, in float32",
                "weights": weights_used,
            },
            "training": {**training_section(args, wall, history, device, start), "dropout": args.dropout,
                         "processes": section,
                         "shift_augmentation_pixels": args.shift,
                         "augment_share": args.augment_share, "augment_shift_pixels": args.augment_shift,
                         "compiled": args.compile},
        },
    )
    progress.message(f"wrote {weights} in {wall / 60:.1f} min")
    processes.end()
    return 0
