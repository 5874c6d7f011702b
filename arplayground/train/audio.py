"""Train the digit- and speaker-conditioned WaveNet on the Free Spoken Digit Dataset (8 kHz, mu-law 256).

    arplayground-train audio --data ../shared/datasets/fsdd

Recordings with index 0-4 of every digit and speaker are the test split, 5-49 train (the split
the dataset's README recommends). Every clip is trained whole from its first sample, with silence
before it as the input, which is exactly how the app generates from nothing; the padding that
evens out a batch is masked out of the loss, so the model never learns "silence follows silence"
from padding. Reports test NLL in bits/sample beside the per-sample-marginal baseline (the entropy
of the test split's mu-law histogram). Writes models/NAME.safetensors and models/NAME.json.

Data-parallel on several processes (docs/training.md): the same command under
`torchrun --nproc_per_node N -m arplayground.train audio ...`; --batch stays the global batch.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import re
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

TEST_INDICES = range(0, 5)
NAME = re.compile(r"^(\d)_([a-z]+)_(\d+)\.wav$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="the fsdd folder (recordings/, speakers.json)")
    p.add_argument("--out", type=Path, default=Path("models"))
    p.add_argument("--name", default="fsdd-wavenet")
    p.add_argument("--residual", type=int, default=32)
    p.add_argument("--skip", type=int, default=64)
    p.add_argument("--cycle", type=int, default=10, help="dilations 1 .. 2**(cycle-1)")
    p.add_argument("--cycles", type=int, default=2, help="how many times the dilations repeat")
    p.add_argument("--time-knots", type=int, default=0,
                   help="a local condition too: a learned template per (digit, speaker) over the time since the "
                   "clip's start, this many knots (0 = off)")
    p.add_argument("--time-spacing", type=int, default=400, help="samples between the template's knots (400 = 50 ms)")
    p.add_argument("--time-features", type=int, default=16, help="numbers at each knot of a template")
    p.add_argument("--epochs", type=float, default=20)
    p.add_argument("--batch", type=int, default=8, help="clips per batch (of similar length, so little padding)")
    p.add_argument("--max-seconds", type=float, default=1.0, help="longer clips (1%% of them) are cut")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (cosine decay to lr/20)")
    p.add_argument("--label-dropout", type=float, default=0.1, help="share of digits (and, separately, speakers) replaced by 'any'")
    p.add_argument("--ema", type=float, default=0.999, help="decay of the weights' moving average (0 = off)")
    p.add_argument("--bf16", action="store_true", help="train under bfloat16 autocast (faster only on CPUs with avx512_bf16 or amx_bf16; emulated, and slower, elsewhere); test and app run float32")
    p.add_argument("--limit", type=int, default=0, help="use only this many training clips (quick checks)")
    p.add_argument("--eval-clips", type=int, default=100, help="test clips for the per-epoch history (all of them at the end)")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    add_checkpoint_argument(p)
    add_init_argument(p)


def load_fsdd(folder: Path, max_samples: int):
    """Clips as mu-law levels with digit, speaker and index, and the speaker names (sorted)."""
    from arplayground.core.mulaw import encode
    from arplayground.audio.wav import read_wav

    files = sorted(p for p in (folder / "recordings").glob("*.wav") if NAME.match(p.name))
    if not files:
        raise SystemExit(f"no recordings named DIGIT_SPEAKER_INDEX.wav in {folder / 'recordings'}")
    speakers = sorted({NAME.match(p.name).group(2) for p in files})
    clips = []
    for p in files:
        digit, speaker, index = NAME.match(p.name).groups()
        samples, notes = read_wav(p)
        if notes:
            raise SystemExit(f"{p.name}: expected 8 kHz mono PCM like the rest of FSDD, got: {'; '.join(notes)}")
        clips.append((encode(samples[:max_samples]), int(digit), speakers.index(speaker), int(index)))
    return clips, speakers


def median_lengths_table(clips, speakers: list[str]) -> dict:
    """The median length in seconds of `clips` (the training split), by digit ("any": all digits) and
    by speaker ("any": all speakers). The recordings are trimmed to the word and the model is never
    shown what follows one, so it does not end a word: it speaks on. The app stops it at the length
    of that digit by that speaker here (with generated clips cut there, the listeners in
    benchmarks/audio_digits.py read far more of them as the asked digit than at a fixed 0.8 s)."""
    from arplayground.core.mulaw import SAMPLE_RATE

    table = {}
    for digit in [*sorted({c[1] for c in clips}), None]:
        row = {}
        for speaker in [None, *range(len(speakers))]:
            lengths = [len(c[0]) for c in clips if digit in (None, c[1]) and speaker in (None, c[2])]
            if lengths:
                row["any" if speaker is None else speakers[speaker]] = round(float(np.median(lengths)) / SAMPLE_RATE, 3)
        table["any" if digit is None else str(digit)] = row
    return table


def batches_by_length(clips, batch: int, rng) -> list[list[int]]:
    """Clips of similar length together (little padding), the batches in random order."""
    order = sorted(range(len(clips)), key=lambda i: (len(clips[i][0]), rng.random()))
    groups = [order[i : i + batch] for i in range(0, len(order), batch)]
    rng.shuffle(groups)
    return groups


def collate(clips, members, silence: int):
    """(levels (B, T) padded with silence, mask (B, T) true on real samples, digits, speakers)."""
    longest = max(len(clips[i][0]) for i in members)
    levels = np.full((len(members), longest), silence, np.int64)
    mask = np.zeros((len(members), longest), np.float32)
    for row, i in enumerate(members):
        n = len(clips[i][0])
        levels[row, :n], mask[row, :n] = clips[i][0], 1.0
    digits = np.array([clips[i][1] for i in members])
    speakers = np.array([clips[i][2] for i in members])
    return levels, mask, digits, speakers


def evaluate(model, clips, device: str, silence: int, processes: Processes = Processes()) -> float:
    """Mean NLL in bits per sample over every sample of the clips, with their digit and speaker; in
    a data-parallel run each process takes its share of the clips and the sums are added (padding
    is masked out and the model is causal, so how clips are grouped does not change the sums)."""
    import torch

    model.eval()
    total, count = 0.0, 0.0
    order = sorted(range(len(clips)), key=lambda i: len(clips[i][0]))[processes.share(len(clips))]
    with torch.no_grad():
        for start in range(0, len(order), 16):
            levels, mask, digits, speakers = collate(clips, order[start : start + 16], silence)
            x, m = torch.from_numpy(levels).to(device), torch.from_numpy(mask).to(device)
            loss = model.loss(x, torch.from_numpy(digits).to(device), torch.from_numpy(speakers).to(device), m)
            total += loss.item() * m.sum().item()
            count += m.sum().item()
    model.train()
    return processes.total(total) / processes.total(count) / math.log(2)


def histogram_entropy_bits(clips) -> float:
    """The per-sample-marginal baseline: entropy of the split's mu-law level histogram, in bits."""
    counts = np.bincount(np.concatenate([c[0] for c in clips]), minlength=256).astype(np.float64)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log2(p)).sum())


def main(args: argparse.Namespace) -> int:
    import torch
    from safetensors.torch import save_model

    from arplayground.core.mulaw import SAMPLE_RATE, SILENCE
    from arplayground.nets.wavenet import WaveNet, WaveNetConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    processes = join_processes(args.device)
    device = processes.device
    torch.manual_seed(args.seed)  # the same in every process: the same start, the same batches
    rng = np.random.default_rng(args.seed)
    clips, speakers = load_fsdd(args.data, int(args.max_seconds * SAMPLE_RATE))
    train = [c for c in clips if c[3] not in TEST_INDICES]
    test = [c for c in clips if c[3] in TEST_INDICES]
    if args.limit:
        train = train[:: max(1, len(train) // args.limit)][: args.limit]
    check_shares(processes, len(train), args.batch, min(len(test), args.eval_clips), "clips")
    cfg = WaveNetConfig(residual=args.residual, skip=args.skip, cycle=args.cycle, n_cycles=args.cycles, n_speakers=len(speakers),
                        time_knots=args.time_knots, time_spacing=args.time_spacing,
                        time_features=args.time_features)
    model = WaveNet(cfg)
    start = start_from_card(args, model, cfg)
    model = model.to(device)
    # One process: the model's own loss, as always. Several: the loss through DDP, whose backward
    # averages the gradients over the processes.
    # The last layer's residual output feeds nothing (only its skip output reaches the head).
    train_loss = data_parallel_loss(model, processes, unused_parameters=True) if processes.backend else model.loss
    average = copy.deepcopy(model).requires_grad_(False) if args.ema else None
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    total = max(1, int(args.epochs * steps_per_epoch))
    baseline = histogram_entropy_bits(test)
    progress = Progress(total, shown=processes.main)
    progress.message(
        f"WaveNet {model.num_params():,} parameters, receptive field {cfg.receptive_field} samples; "
        f"{len(train)} train / {len(test)} test clips; test histogram baseline {baseline:.4f} bits/sample"
    )
    if processes.backend:
        progress.message(f"data-parallel: {processes.world} processes ({processes.backend}), a global batch of "
                         f"{args.batch}, about {args.batch // processes.world} clips each")
    if warning := slow_bf16_warning(args.bf16, device):
        progress.message(warning)
    some = test[:: max(1, len(test) // args.eval_clips)][: args.eval_clips]  # per-epoch figure: every digit and speaker
    started = time.time()
    history: list[dict] = []
    groups: list[list[int]] = []
    first_step, wall_before = 1, 0.0
    state = resume_if_saved(args, progress, model, average, opt, rng)
    if state is not None:
        groups, history, wall_before = state["groups"], state["history"], state["wall_time_s"]
        first_step = state["step"] + 1
        start = state.get("start")  # the starting card as it was when the run began
    for step in range(first_step, total + 1):
        if not groups:
            groups = batches_by_length(train, args.batch, rng)
        levels, mask, digits, speaker_ids = collate(train, groups.pop(), SILENCE)
        digits[rng.random(len(digits)) < args.label_dropout] = cfg.n_digits  # teach "any digit"
        speaker_ids[rng.random(len(speaker_ids)) < args.label_dropout] = cfg.n_speakers  # and "any speaker"
        # Every process made the whole global batch above; each trains on its share of the clips
        # (padded as in the whole batch), its mean loss weighted by its share of the real samples,
        # so that DDP's average of the gradients is the gradient of the global batch's mean loss.
        part = processes.share(len(digits))
        weight = float(mask[part].sum()) * processes.world / float(mask.sum())
        batch = [torch.from_numpy(a[part]).to(device) for a in (levels, digits, speaker_ids, mask)]
        loss = optimise(model, opt, lambda: train_loss(*batch) * weight if processes.backend else train_loss(*batch),
                        cosine_lr(args.lr, step, total, args.warmup), args.bf16, processes.device_type)
        loss_value = processes.total(loss.item()) / processes.world  # the global batch's mean loss
        if average is not None:
            update_average(average, model, step, args.ema)
        if step % steps_per_epoch == 0 or step == total:
            record = {"step": step, f"test_{len(some)}_clips_bits_per_sample": round(evaluate(model, some, device, SILENCE, processes), 4)}
            if average is not None:
                record[f"test_{len(some)}_clips_average_bits_per_sample"] = round(evaluate(average, some, device, SILENCE, processes), 4)
            history.append(record)
            progress.message(f"epoch {step / steps_per_epoch:.1f}: " + json.dumps(record))
            if args.checkpoint and processes.main:
                save_checkpoint(args.checkpoint, training_state(
                    args.command_line, step, model, average, opt, rng, history, wall_before + time.time() - started,
                    groups=groups, start=start))
        progress.update(step, bits=loss_value / math.log(2))
    wall = wall_before + time.time() - started
    model, test_bits, weights_used = better_weights(model, average, lambda m: evaluate(m, test, device, SILENCE, processes), args.ema)
    progress.message(f"test: {test_bits:.4f} bits/sample ({weights_used} weights); histogram baseline {baseline:.4f}")
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
            "mode": "audio",
            "architecture": "wavenet",
            "description": "WaveNet: dilated causal convolutions (kernel 2), gated tanh*sigmoid units, residual and "
            "skip connections, 256-way softmax over mu-law levels at 8 kHz; digit and speaker embeddings added to "
            f"every gate (index {cfg.n_digits} = any digit, {cfg.n_speakers} = any speaker)"
            + (f"; a local condition: a learned template per (digit, speaker) pair over the time since the clip's start "
               f"({cfg.time_knots} knots {cfg.time_spacing} samples apart, {cfg.time_features} numbers each, linearly "
               "interpolated), mapped into every gate." if cfg.time_knots else "."),
            "weights": weights.name,
            "config": cfg.to_dict(),
            "speakers": speakers,
            "parameters": model.num_params(),
            "receptive_field_samples": cfg.receptive_field,
            "dataset": {
                "name": "Free Spoken Digit Dataset (recordings/*.wav, 8 kHz mono)",
                "split": "recordings with index 0-4 of every digit and speaker test, 5-49 train",
                "clips": {"train": len(train), "test": len(test)},
                "max_seconds": args.max_seconds,
                "typical_seconds": median_lengths_table(train, speakers),
            },
            "validation": {
                "test_bits_per_sample": round(test_bits, 4),
                "histogram_baseline_bits_per_sample": round(baseline, 4),
                "measured_on": f"every sample of the {len(test)} test clips, with their digit and speaker, in float32",
                "weights": weights_used,
            },
            "training": {**training_section(args, wall, history, device, start), "processes": section},
        },
    )
    progress.message(f"wrote {weights} in {wall / 60:.1f} min")
    processes.end()
    return 0


def add_lengths_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True, help="the fsdd folder the model was trained on")
    p.add_argument("--card", type=Path, required=True, help="an audio model's card (.json), changed in place")
    p.add_argument("--max-seconds", type=float, default=1.0, help="as the model was trained with")


def lengths_main(args: argparse.Namespace) -> int:
    """Write dataset.typical_seconds into a card written before the audio command wrote them (the
    weights are untouched); the same figures the audio command now writes itself."""
    from arplayground.core.mulaw import SAMPLE_RATE

    card = json.loads(args.card.read_text(encoding="utf-8"))
    clips, speakers = load_fsdd(args.data, int(args.max_seconds * SAMPLE_RATE))
    if card.get("speakers") != speakers:
        raise SystemExit(f"{args.card} names the speakers {card.get('speakers')}, {args.data} holds {speakers}")
    card.setdefault("dataset", {})["typical_seconds"] = median_lengths_table([c for c in clips if c[3] not in TEST_INDICES], speakers)
    card["dataset"]["typical_seconds_command"] = args.command_line
    write_card(args.card, card)
    print(f"wrote dataset.typical_seconds into {args.card}: any digit, any speaker {card['dataset']['typical_seconds']['any']['any']} s")
    return 0
