"""What every training command shares: progress lines, hardware description, model cards."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def md5(path: Path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


# CPU features that decide how fast training runs: bfloat16 autocast is fast only with native bf16
# instructions. Measured here on an AVX2-only AMD EPYC: the audio command ran 5.3x slower under
# --bf16 than in float32 (0.13 against 0.69 steps a second, one thread).
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_description(cpuinfo: Path = Path("/proc/cpuinfo")) -> tuple[str, list[str]]:
    """(the CPU's model name, which of SPEED_FLAGS it has)."""
    found: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            found.setdefault(key.strip(), value.strip())  # every core repeats its block: the first is enough
    except OSError:
        pass
    name = found.get("model name") or platform.processor() or platform.machine()
    flags = set(found.get("flags", "").split())
    return name, [f for f in SPEED_FLAGS if f in flags]


def hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return f"{torch.cuda.get_device_name(torch.device(device))} (CUDA), torch {torch.__version__}"
    name, flags = cpu_description()
    return f"{torch.get_num_threads()} CPU threads ({name}; {', '.join(flags) or 'no avx2'}), torch {torch.__version__}"


def slow_bf16_warning(bf16: bool, device: str, cpuinfo: Path = Path("/proc/cpuinfo")) -> str | None:
    """A line to print when --bf16 asks for bfloat16 on a CPU that has no bf16 instructions."""
    if not bf16 or not device.startswith("cpu"):
        return None
    name, flags = cpu_description(cpuinfo)
    if any(f in flags for f in BF16_FLAGS):
        return None
    return (f"warning: --bf16 on a CPU without {' or '.join(BF16_FLAGS)} ({name}): bfloat16 is emulated there, "
            "and was measured 5.3x slower than float32 on such a machine; leave --bf16 out here")


def command_line(argv: list[str]) -> str:
    """The command as typed, so the card can be pasted back into a shell."""
    return " ".join(shlex.quote(a) for a in ["arplayground-train", *argv])


class Progress:
    """A one-line progress bar on a terminal; a plain line every `every` steps in a log file.
    Not `shown`: silent (the other processes of a data-parallel run, which rank 0 speaks for)."""

    def __init__(self, total: int, every: int = 50, shown: bool = True):
        self.total, self.every, self.shown = total, every, shown
        self.start = time.time()
        self.tty = sys.stderr.isatty()
        self.steps_before = 0  # a resumed run's rate counts only the steps taken since it started

    def update(self, step: int, **figures) -> None:
        if not self.shown or (not self.tty and step % self.every and step != self.total):
            return
        elapsed = time.time() - self.start
        rate = (step - self.steps_before) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        filled = int(30 * step / self.total)
        shown = " ".join(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in figures.items())
        line = f"[{'#' * filled}{'.' * (30 - filled)}] {step}/{self.total} {shown} {rate:.2f} it/s eta {eta / 60:.1f} min"
        print(("\r" + line) if self.tty else line, end="" if self.tty else "\n", file=sys.stderr, flush=True)

    def message(self, text: str) -> None:
        if not self.shown:
            return
        print(("\n" if self.tty else "") + text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- data-parallel runs (torchrun)


@dataclass(frozen=True)
class Processes:
    """This process's place in a data-parallel run: `torchrun --nproc_per_node N -m
    arplayground.train ...` starts N copies of the command, each with a replica of the model. Every
    copy makes the same global batch (the same seeds, the same generators), takes its own share of
    it, and DDP averages the gradients, so each optimiser step is the single-process step on the
    global batch and the replicas stay identical. Rank 0 alone speaks, saves and writes the card."""

    rank: int = 0
    world: int = 1
    device: str = "cpu"  # this process's own: cuda:LOCAL_RANK on a GPU box
    backend: str | None = None  # gloo (CPU) or nccl (CUDA); None: one process, no group

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def device_type(self) -> str:
        return self.device.split(":")[0]  # what torch.autocast takes

    def share(self, n: int) -> slice:
        """This process's contiguous part of n items (parts differ by at most one)."""
        return slice(n * self.rank // self.world, n * (self.rank + 1) // self.world)

    def total(self, value: float) -> float:
        """The sum of `value` over the processes (every process gets it); the value itself alone."""
        if self.backend is None:
            return value
        import torch
        import torch.distributed as dist

        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item())

    def gather(self, value) -> list:
        """`value` from every process, by rank (every process gets the list)."""
        if self.backend is None:
            return [value]
        import torch.distributed as dist

        values = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def end(self) -> None:
        """Leave the group once every process is done (rank 0 may still be writing the card)."""
        if self.backend is not None:
            import torch.distributed as dist

            dist.barrier()
            dist.destroy_process_group()


def join_processes(device: str) -> Processes:
    """The process group torchrun set up (its WORLD_SIZE, RANK, LOCAL_RANK and rendezvous in the
    environment): gloo on the CPU, NCCL on CUDA with each process on its own card, cuda:LOCAL_RANK.
    Started any other way: one process, no group, as before."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return Processes(device=device)
    import torch
    import torch.distributed as dist

    world, rank, local = (int(os.environ[k]) for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"))
    if device.startswith("cuda"):
        device, backend = f"cuda:{local}", "nccl"
        torch.cuda.set_device(local)
    else:
        backend = "gloo"
    dist.init_process_group(backend)
    return Processes(rank, world, device, backend)


def check_shares(processes: Processes, train: int, batch: int, validation: int, what: str) -> None:
    """Refuse a data-parallel run in which a process would get nothing of some batch (an epoch's
    last batch may be short) or of the validation set: DDP needs every process in every step."""
    smallest = train % batch or batch
    if min(smallest, validation) < processes.world:
        raise SystemExit(f"{processes.world} processes need at least {processes.world} {what} in every batch "
                         f"(the smallest has {smallest}) and in the validation set ({validation})")


def replicas_section(processes: Processes, model) -> dict:
    """The card's training.processes, once the run is done: how many processes, each one's device,
    and each one's digest of its final weights. SystemExit, and no card, if the replicas differ."""
    digests = processes.gather(weights_digest(model))
    if len(set(digests)) != 1:
        raise SystemExit(f"the {processes.world} processes ended with different weights: {digests}")
    return {**processes_section(processes), "weights_sha256_per_process": digests}


def data_parallel_loss(model, processes: Processes, unused_parameters: bool = False):
    """model.loss(x, y) through DistributedDataParallel. DDP averages the gradients in the backward
    pass of what its own forward() computed, so the loss is the forward of a module holding the
    model (the model's parameters, the model's own state dict). `unused_parameters`: the model has
    parameters the loss never reaches, which DDP must then look for (they keep no gradient, as in
    one process)."""
    import torch
    from torch.nn.parallel import DistributedDataParallel

    class Loss(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *batch):
            return self.model.loss(*batch)

    ids = [torch.device(processes.device).index] if processes.backend == "nccl" else None
    return DistributedDataParallel(Loss(model), device_ids=ids, find_unused_parameters=unused_parameters)


def processes_section(processes: Processes) -> dict:
    """What the card says of the processes that trained it: how many, and each one's device."""
    import socket

    devices = processes.gather(f"{processes.device} on {socket.gethostname()}: {hardware(processes.device)}")
    return {"world_size": processes.world, "backend": processes.backend, "devices": devices}


def weights_digest(model) -> str:
    """sha256 of the model's weights, in order: the same in every process while the replicas agree."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def write_card(path: Path, card: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def cosine_lr(peak: float, step: int, total: int, warmup: int = 0) -> float:
    """Cosine decay from peak at step 1 to peak/20 at the last step; with `warmup`, a linear rise to
    peak over the first that many steps comes first (the decay is unchanged)."""
    rise = min(1.0, step / warmup) if warmup else 1.0
    return rise * peak * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * (step - 1) / total)))


def optimise(model, opt, loss_fn, lr: float, bf16: bool, device: str):
    """One optimiser step at learning rate lr (loss under bfloat16 autocast if asked, gradients
    clipped to norm 1); returns the loss."""
    import torch

    for group in opt.param_groups:
        group["lr"] = lr
    with torch.autocast(device, dtype=torch.bfloat16, enabled=bf16):
        loss = loss_fn()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss


def update_average(average, model, step: int, decay: float) -> None:
    """Move the moving average of the weights towards them. Warm-up: early on the average follows
    the weights closely (decay step / (step + 10) until that reaches `decay`)."""
    import torch

    with torch.no_grad():
        d = min(decay, step / (step + 10))
        for a, w in zip(average.parameters(), model.parameters()):
            a.lerp_(w, 1 - d)


def better_weights(model, average, evaluate, decay: float):
    """(model, its figure, which weights) of the final weights and their moving average (if any),
    whichever evaluates lower."""
    figure, used = evaluate(model), "final"
    if average is not None:
        figure_average = evaluate(average)
        if figure_average < figure:
            model, figure, used = average, figure_average, f"moving average (decay {decay})"
    return model, figure, used


def add_init_argument(parser) -> None:
    parser.add_argument("--init-from", type=Path, default=None, help="start from the weights of this model card "
                        "(same architecture and size) instead of random ones, with a fresh learning-rate schedule: "
                        "a finished run goes on; the new card records the run it started from")
    parser.add_argument("--warmup", type=int, default=0, help="raise the learning rate linearly over this many "
                        "steps first: a fresh optimiser's first steps are full-size whatever the gradient, which "
                        "knocks trained weights (from --init-from) far off")


def init_from_card(path: Path, model, config) -> dict:
    """Load the weights of the model card at `path` into `model`, whose config (a dataclass with
    to_dict) must equal the card's; options a card predates count as their defaults.
    Returns what the new card keeps about the starting point, so the chain of commands that made the
    weights stays reproducible after the starting card is replaced."""
    from safetensors.torch import load_model

    from arplayground.catalog import read_entry

    entry = read_entry(path)
    if entry.error:
        raise SystemExit(f"--init-from {path}: {entry.error}")
    theirs, config = type(config)(**entry.card["config"]).to_dict(), config.to_dict()
    if theirs != config:
        differ = "; ".join(f"{k} {theirs.get(k)} there, {config.get(k)} here"
                           for k in sorted(set(config) | set(theirs)) if config.get(k) != theirs.get(k))
        raise SystemExit(f"--init-from {path}: the card's architecture differs from this command's ({differ})")
    load_model(model, str(entry.weights_path))
    training = entry.card.get("training", {})
    return {"card": str(path), "name": entry.name, "validation": entry.card.get("validation"),
            "command": training.get("command"), "wall_time_s": training.get("wall_time_s"),
            "hardware": training.get("hardware"), "initialised_from": training.get("initialised_from")}


def start_from_card(args, model, config) -> dict | None:
    """init_from_card for --init-from, unless the run resumes from its checkpoint: then the weights
    come from there, and the starting card (which may have been replaced since) is not read."""
    if not args.init_from or (args.checkpoint and Path(args.checkpoint).exists()):
        return None
    return init_from_card(args.init_from, model, config)


def chain_wall_time(start: dict | None) -> float:
    """Seconds spent on the runs this one started from, following --init-from back to random weights."""
    total = 0.0
    while start:
        total += start.get("wall_time_s") or 0.0
        start = start.get("initialised_from")
    return total


def training_section(args, wall: float, history: list, device: str, start: dict | None = None) -> dict:
    """The card's "training" part for the image and audio commands, which share these options.
    `start`: init_from_card's record when the run began from another card's weights."""
    chain = {"initialised_from": start, "wall_time_s_with_earlier_runs": round(wall + chain_wall_time(start), 1)} if start else {}
    return {
        "command": args.command_line,
        "epochs": args.epochs,
        "batch": args.batch,
        "learning_rate": args.lr,
        "warmup_steps": args.warmup,
        "label_dropout": args.label_dropout,
        "ema": args.ema,
        "bf16_autocast": args.bf16,
        "seed": args.seed,
        "wall_time_s": round(wall, 1),
        "hardware": hardware(device),
        "history": history,
        **chain,
    }


# A checkpoint is one safetensors file: the tensors (weights, optimiser moments, torch's generator
# state, numpy arrays) as tensors, and everything else as JSON in the file's metadata under this
# key, naming its tensors. Loading it runs no code from the file, unlike the torch.save pickle
# this replaced: a checkpoint can come from anywhere (a shared drive, a colleague's run).
CHECKPOINT_KEY = "arplayground-train checkpoint"
CHECKPOINT_FORMAT = 1
_TAGS = ("dict", "tuple", "tensor", "ndarray")
# What training_state writes and resume_if_saved reads before handing the state to torch.
_STATE_KINDS = {"command_line": str, "step": int, "wall_time_s": (float, int), "history": list,
                "model": dict, "optimiser": dict, "numpy_rng": dict}


def _describe(value, name: str, tensors: dict):
    """`value` as JSON, its tensors and arrays moved into `tensors` under names derived from `name`.
    Every JSON object in the result is a one-key tag, so nothing in the data can be mistaken for
    one: dicts are lists of [key, value] pairs (the optimiser's state is keyed by int), and tuples
    stay tuples."""
    import numpy as np
    import torch

    def place(tensor) -> str:
        key = name if name not in tensors else f"{name}#{len(tensors)}"
        # A copy of its own: safetensors refuses tensors that share memory or are not contiguous.
        tensors[key] = tensor.detach().cpu().clone(memory_format=torch.contiguous_format)
        return key

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return {"tensor": place(value)}
    if isinstance(value, np.ndarray):
        return {"ndarray": place(torch.from_numpy(np.ascontiguousarray(value)))}
    if isinstance(value, (list, tuple)):
        items = [_describe(v, f"{name}/{i}", tensors) for i, v in enumerate(value)]
        return {"tuple": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        if not all(isinstance(k, (str, int)) and not isinstance(k, bool) for k in value):
            raise TypeError(f"a checkpoint keeps dicts keyed by str or int only, not {list(value)[:3]}")
        return {"dict": [[k, _describe(v, f"{name}/{k}", tensors)] for k, v in value.items()]}
    raise TypeError(f"{name}: a {type(value).__name__} cannot go into a checkpoint")


def _rebuild(described, tensors: dict):
    """The inverse of _describe. Raises ValueError on anything _describe does not write."""
    if described is None or isinstance(described, (bool, int, float, str)):
        return described
    if isinstance(described, list):
        return [_rebuild(v, tensors) for v in described]
    if not (isinstance(described, dict) and len(described) == 1 and next(iter(described)) in _TAGS):
        raise ValueError(f"an entry that is none of {', '.join(_TAGS)}")
    (tag, inner), = described.items()
    if tag in ("tensor", "ndarray"):
        if not isinstance(inner, str) or inner not in tensors:
            raise ValueError(f"it names a tensor {str(inner)[:60]!r} the file does not hold")
        return tensors[inner] if tag == "tensor" else tensors[inner].numpy()
    if not isinstance(inner, list):
        raise ValueError(f"a {tag} that is not a list")
    if tag == "tuple":
        return tuple(_rebuild(v, tensors) for v in inner)
    if not all(isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int)) for pair in inner):
        raise ValueError("a dict entry that is not a [key, value] pair")
    return {k: _rebuild(v, tensors) for k, v in inner}


def save_checkpoint(path: Path, state: dict) -> None:
    """Write a resumable training state (weights, optimiser, random generators, history) atomically,
    so a run killed mid-write still resumes from the previous epoch."""
    from safetensors.torch import save_file

    from arplayground.core.files import replacing

    tensors: dict = {}
    described = _describe(state, "state", tensors)
    metadata = {CHECKPOINT_KEY: json.dumps({"format": CHECKPOINT_FORMAT, "state": described})}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path) as temporary:
        save_file(tensors, temporary, metadata=metadata)


def _pickle_kind(head: bytes) -> str | None:
    """What a file that starts with `head` is, when it is one of the pickle formats."""
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive, as torch.save writes (a pickle inside)"
    if head[:1] == b"\x80":  # the PROTO opcode that starts every pickle since protocol 2
        return "a Python pickle"
    return None


def read_checkpoint(path: Path) -> dict:
    """The state in a checkpoint file, or SystemExit saying why the file is not one. Nothing in the
    file is run: pickles (torch.save's format, arplayground-train's own before it wrote safetensors)
    are refused unopened, as unpickling can run any code a file holds; torch's weights_only loader
    is not used either, as it has been bypassed before (CVE-2025-32434)."""
    from safetensors import safe_open

    path = Path(path)

    def refuse(why: str):
        raise SystemExit(f"--checkpoint {path}: {why}; delete it (the run then starts afresh) or give another path")

    try:
        with open(path, "rb") as f:
            head = f.read(16)
        size = path.stat().st_size
    except OSError as e:
        refuse(f"cannot be read ({e.strerror or e})")
    if kind := _pickle_kind(head):
        refuse(f"is {kind}, not a safetensors checkpoint: it is not opened, because unpickling a file can run "
               "any code in it (arplayground-train wrote such checkpoints before; it now writes safetensors)")
    # safetensors: an 8-byte little-endian header length, the JSON header, then the tensors' bytes.
    header_length = int.from_bytes(head[:8], "little") if len(head) >= 8 else None
    if header_length is None or header_length > size - 8 or head[8:9] != b"{":
        refuse("is not a safetensors checkpoint (too short, or not one at all: a truncated file?)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            if CHECKPOINT_KEY not in metadata:
                refuse("is a safetensors file without a training state (model weights? --init-from takes "
                       "a model card)")
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except SystemExit:
        raise
    except Exception as e:  # safetensors' own error for a damaged or truncated file
        refuse(f"is a damaged or truncated safetensors file ({str(e)[:200]})")
    try:
        saved = json.loads(metadata[CHECKPOINT_KEY])
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not format {CHECKPOINT_FORMAT}, the one this version reads")
        state = _rebuild(saved["state"], tensors)
        if not isinstance(state, dict):
            raise ValueError("the state is not a dict")
        for key, kind in _STATE_KINDS.items():
            if not isinstance(state.get(key), kind) or isinstance(state.get(key), bool):
                raise ValueError(f"{key} is missing or of the wrong type")
    except (ValueError, KeyError, TypeError, RecursionError) as e:
        refuse(f"holds a training state that is damaged ({e})")
    return state


def load_checkpoint(path: Path, command_line: str) -> dict | None:
    """The state saved by save_checkpoint, or None when there is none yet. Refuses a checkpoint
    written by a different command: resuming it would train something the card does not describe."""
    path = Path(path)
    if not path.exists():
        return None
    state = read_checkpoint(path)
    if state.get("command_line") != command_line:
        raise SystemExit(f"{path} was written by `{state.get('command_line')}`, not this command; "
                         "delete it or rerun that command")
    return state


def training_state(command_line: str, step: int, model, average, opt, rng, history: list, wall_s: float, **extra) -> dict:
    """Everything a stopped run needs to go on exactly where it was: for save_checkpoint."""
    import torch

    return {"command_line": command_line, "step": step, "model": model.state_dict(),
            "average": average.state_dict() if average is not None else None, "optimiser": opt.state_dict(),
            "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "history": history,
            "wall_time_s": wall_s, **extra}


def restore_training_state(state: dict, model, average, opt, rng) -> None:
    """Put a training_state back into the model, its average, the optimiser and the generators."""
    import torch

    model.load_state_dict(state["model"])
    if average is not None:
        average.load_state_dict(state["average"])
    opt.load_state_dict(state["optimiser"])
    rng.bit_generator.state = state["numpy_rng"]
    torch.set_rng_state(state["torch_rng"])


def add_checkpoint_argument(parser) -> None:
    parser.add_argument("--checkpoint", type=Path, default=None, help="save a resumable state here after every "
                        "epoch and resume from it when it exists (the same command continues a run that was stopped)")


def resume_if_saved(args, progress, model, average, opt, rng) -> dict | None:
    """Put a run saved at args.checkpoint back in place (model, average, optimiser, generators,
    progress) and return its state, for the caller's own extras; None for a fresh start."""
    state = load_checkpoint(args.checkpoint, args.command_line) if args.checkpoint else None
    if state is not None:
        try:
            restore_training_state(state, model, average, opt, rng)
        except (KeyError, RuntimeError, ValueError, TypeError) as e:  # shapes or entries that do not fit
            raise SystemExit(f"--checkpoint {args.checkpoint}: does not fit this command's model ({str(e)[:300]})") from None
        progress.steps_before = state["step"]
        progress.message(f"resumed from {args.checkpoint} at step {state['step']} ({state['wall_time_s'] / 60:.1f} min so far)")
    return state
