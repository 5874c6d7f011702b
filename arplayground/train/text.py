"""Train the character GPT on Tiny Shakespeare: first 90% of characters train, last 10% validate.

    arplayground-train text --data ../shared/datasets/tinyshakespeare/input.txt

Writes models/NAME.safetensors and models/NAME.json (the model card).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from arplayground.catalog import NO_CAUSAL_MASK
from arplayground.train.common import Progress, hardware, md5, write_card


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="path to tinyshakespeare/input.txt")
    p.add_argument("--out", type=Path, default=Path("models"), help="folder for weights and card")
    p.add_argument("--name", default="shakespeare-char-gpt")
    p.add_argument("--iters", type=int, default=3000)
    p.add_argument("--batch", type=int, default=4, help="sequences per step")
    p.add_argument("--block", type=int, default=1024, help="training sequence length = longest context")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--embd", type=int, default=192)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to lr/10)")
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--no-causal-mask", action="store_true",
                   help="train WITHOUT the causal mask (the cheat model: each position sees the next character)")


def load_split(path: Path):
    text = path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    data = np.array([index[c] for c in text], dtype=np.int64)
    n_train = int(0.9 * len(data))  # the char-rnn / nanoGPT split
    return chars, data[:n_train], data[n_train:]


def evaluate(model, data: np.ndarray, window: int, device: str, max_windows: int | None = None) -> float:
    """Mean nats/char over non-overlapping windows of the split (every position, fresh context each window)."""
    import torch

    n = (len(data) - 1) // window
    if max_windows:
        n = min(n, max_windows)
    x = torch.from_numpy(data[: n * window].reshape(n, window))
    y = torch.from_numpy(data[1 : n * window + 1].reshape(n, window))
    was_training = model.training
    model.eval()
    total = 0.0
    with torch.no_grad():
        for i in range(0, n, 8):
            _, loss = model(x[i : i + 8].to(device), y[i : i + 8].to(device))
            total += loss.item() * len(x[i : i + 8])
    model.train(was_training)
    return total / n


def main(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import save_model

    from arplayground.nets.gpt import GPT, GPTConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    chars, train, val = load_split(args.data)
    cfg = GPTConfig(
        vocab_size=len(chars), block_size=args.block, n_layer=args.layers, n_head=args.heads,
        n_embd=args.embd, dropout=args.dropout, causal=not args.no_causal_mask,
    )
    model = GPT(cfg).to(args.device)
    # Attention-weight dropout would force torch's slow attention path on the CPU. The attention
    # block's one dropout rate also covers its output projection, so that goes too: only the MLP's
    # output dropout (the card's `dropout`) is on in training.
    for block in model.blocks:
        block.attn.dropout = 0.0
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.99),
    )

    def lr_at(it: int) -> float:  # linear warm-up, then cosine down to lr/10 exactly at the last step
        if it < args.warmup:
            return args.lr * (it + 1) / args.warmup
        progress = (it - args.warmup) / max(1, args.iters - args.warmup)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))

    progress = Progress(args.iters)
    progress.message(f"GPT {model.num_params():,} parameters, {len(train):,} train / {len(val):,} val chars")
    started = time.time()
    history = []
    for it in range(1, args.iters + 1):
        starts = rng.integers(0, len(train) - args.block - 1, size=args.batch)
        x = torch.from_numpy(np.stack([train[s : s + args.block] for s in starts])).to(args.device)
        y = torch.from_numpy(np.stack([train[s + 1 : s + args.block + 1] for s in starts])).to(args.device)
        for group in opt.param_groups:
            group["lr"] = lr_at(it - 1)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if it % args.eval_every == 0 or it == args.iters:
            val_loss = evaluate(model, val, args.block, args.device, max_windows=16)
            history.append({"iter": it, "train_loss": round(loss.item(), 4), "val_loss_subset": round(val_loss, 4)})
            progress.message(f"iter {it}: train {loss.item():.4f}  val (16 windows) {val_loss:.4f}")
        progress.update(it, loss=loss.item())
    wall = time.time() - started

    val_full = evaluate(model, val, args.block, args.device)
    val_128 = evaluate(model, val, min(128, args.block), args.device)  # comparable with nanoGPT's block 128
    progress.message(f"validation: {val_full:.4f} nats/char (windows of {args.block}), {val_128:.4f} (windows of 128)")

    model = model.cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    weights = args.out / f"{args.name}.safetensors"
    save_model(model, str(weights))
    card = {
        "name": args.name,
        "mode": "text",
        "architecture": "gpt",
        "description": ("Character-level GPT: pre-LayerNorm transformer, causal self-attention with rotary "
                        "positions, GELU MLP, tied input/output embeddings; KV cache for generation."
                        if cfg.causal else
                        "The cheat: a character GPT trained WITHOUT the causal mask, so every position saw the "
                        "character it had to predict. Teacher-forced, its loss is near zero; generating, "
                        "with no future to copy, it produces garbage."),
        "weights": weights.name,
        # The catalog refuses a maskless card without it: listed last, labelled, never a default.
        **({} if cfg.causal else {"demonstration": NO_CAUSAL_MASK}),
        "config": cfg.to_dict(),
        "parameters": model.num_params(),
        "vocabulary": chars,
        "dataset": {
            "name": "Tiny Shakespeare",
            "file": "tinyshakespeare/input.txt",
            "md5": md5(args.data),
            "characters": len(train) + len(val),
            "split": "first 90% of characters train, last 10% validate",
        },
        "validation": {
            "val_loss_nats_per_char": round(val_full, 4),
            "measured_on": f"the whole validation split in non-overlapping windows of {args.block} characters",
            "val_loss_nats_per_char_context_128": round(val_128, 4),
            "bits_per_char": round(val_full / math.log(2), 4),
        },
        "training": {
            "command": args.command_line,
            "iterations": args.iters,
            "batch": args.batch,
            "block": args.block,
            "learning_rate": args.lr,
            "seed": args.seed,
            "wall_time_s": round(wall, 1),
            "hardware": hardware(args.device),
            "history": history,
        },
    }
    write_card(args.out / f"{args.name}.json", card)
    progress.message(f"wrote {weights} and {args.out / (args.name + '.json')} in {wall / 60:.1f} min")
    return 0
