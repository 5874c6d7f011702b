"""The bundled models: find the cards in models/, check each against its weights, build steppers.

A model whose files are missing, truncated, not safetensors, or do not match the card is listed
with the reason instead of being dropped, so the GUI can show it as unavailable and carry on.
No Qt here.
"""

from __future__ import annotations

import json
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("text", "image", "audio")
CONDITIONAL_MODES = ("image", "audio")  # models with a digit to condition on, so guidance applies


class ModelError(Exception):
    """A model that cannot be used, with a reason a person can act on."""


@dataclass
class ModelEntry:
    card_path: Path
    card: dict = field(default_factory=dict)
    error: str | None = None

    @property
    def name(self) -> str:
        return self.card.get("name") or self.card_path.stem

    @property
    def mode(self) -> str:
        return self.card.get("mode", "?")

    @property
    def available(self) -> bool:
        return self.error is None

    @property
    def weights_path(self) -> Path:
        return self.card_path.parent / self.card.get("weights", "")

    def summary(self) -> str:
        """One line for the picker's tooltip."""
        if self.error:
            return f"unavailable: {self.error}"
        c = self.card
        val = c.get("validation", {})
        figure = ", ".join(f"{k} {v}" for k, v in val.items() if isinstance(v, (int, float)))
        return f"{c.get('architecture', '?')}, {c.get('parameters', 0):,} parameters; {figure}"


def typical_seconds(card: dict, digit: int | None, speaker: int | None) -> float | None:
    """How long the training recordings of `digit` by speaker number `speaker` usually are (None:
    any), from an audio card's dataset.typical_seconds; None when the card has no such figure."""
    table = card.get("dataset", {}).get("typical_seconds")
    speakers = card.get("speakers", [])
    if not isinstance(table, dict):
        return None
    row = table.get("any" if digit is None else str(digit))
    name = speakers[speaker] if speaker is not None and 0 <= speaker < len(speakers) else "any"
    seconds = row.get(name, row.get("any")) if isinstance(row, dict) else None
    return float(seconds) if isinstance(seconds, (int, float)) and seconds > 0 else None


def default_models_dir() -> Path:
    """$ARPLAYGROUND_MODELS, else models/ beside the package (a source checkout), else ./models."""
    if os.environ.get("ARPLAYGROUND_MODELS"):
        return Path(os.environ["ARPLAYGROUND_MODELS"])
    beside = Path(__file__).resolve().parent.parent / "models"
    return beside if beside.is_dir() else Path("models")


def discover(models_dir: Path | None = None) -> list[ModelEntry]:
    models_dir = Path(models_dir) if models_dir else default_models_dir()
    return [read_entry(card_path) for card_path in sorted(models_dir.glob("*.json"))]


def read_entry(card_path: Path) -> ModelEntry:
    """The model a card describes, checked against its weights; unusable ones carry the reason in .error."""
    entry = ModelEntry(Path(card_path))
    try:
        entry.card = json.loads(entry.card_path.read_text(encoding="utf-8"))
        if not isinstance(entry.card, dict):
            raise ModelError("the card is not a JSON object")
        if not isinstance(entry.card.get("weights", ""), str):
            raise ModelError("the card's 'weights' is not a file name")
        if not isinstance(entry.card.get("config", {}), dict):
            raise ModelError("the card's 'config' is not a JSON object")
        check(entry)
    except json.JSONDecodeError as e:
        entry.error = f"the card is not valid JSON ({e.msg}, line {e.lineno})"
    except UnicodeDecodeError:
        entry.error = "the card is not UTF-8 text"
    except (ModelError, OSError) as e:
        entry.error = str(e)
    except Exception as e:  # a card valid as JSON can still hold values nothing expects (null, -1, ...)
        entry.error = f"the card cannot be used ({type(e).__name__}: {e})"
    return entry


def read_safetensors_header(path: Path) -> dict:
    """The tensor table of a safetensors file, checked for truncation, without loading any tensor."""
    if not path.is_file():
        raise ModelError(f"weights file {path.name} is missing")
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelError(f"{path.name} is not a safetensors file (only {size} bytes)")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > 100_000_000:
            raise ModelError(f"{path.name} is not a safetensors file (bad header length)")
        if header_len > size - 8:
            raise ModelError(f"{path.name} is truncated: {size:,} bytes, its header alone needs {header_len + 8:,}")
        try:
            header = json.loads(f.read(header_len))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelError(f"{path.name} is not a safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} is not a safetensors file")
    header.pop("__metadata__", None)
    try:
        data_end = max((t["data_offsets"][1] for t in header.values()), default=0)
        if not all(isinstance(t["shape"], list) and all(isinstance(n, int) for n in t["shape"]) for t in header.values()):
            raise TypeError
    except (TypeError, KeyError, IndexError):
        raise ModelError(f"{path.name} is not a safetensors file (bad tensor table)") from None
    if 8 + header_len + data_end > size:
        raise ModelError(f"{path.name} is truncated: {size:,} bytes of {8 + header_len + data_end:,}")
    return header


def check(entry: ModelEntry) -> None:
    """Raise ModelError unless the card is complete and its weights have exactly the shapes it implies."""
    card = entry.card
    for key in ("name", "mode", "architecture", "weights", "config"):
        if key not in card:
            raise ModelError(f"the card has no '{key}'")
    if card["mode"] not in MODES:
        raise ModelError(f"mode '{card['mode']}' is not supported by this version")
    header = read_safetensors_header(entry.weights_path)
    found = {name: tuple(t["shape"]) for name, t in header.items()}
    problems, known = [], set()
    for names, shape in expected_tensors(card):
        known.update(names)
        present = [n for n in names if n in found]
        if not present:
            problems.append(f"missing {names[0]}")
        elif found[present[0]] != shape:
            problems.append(f"{present[0]} is {list(found[present[0]])}, the card implies {list(shape)}")
    problems += [f"unexpected {n}" for n in sorted(set(found) - known)]
    if problems:
        raise ModelError("the weights do not match the card: " + "; ".join(problems[:3]))


def build_network(card: dict):
    """The torch module a card describes, with untrained weights."""
    if card["architecture"] == "gpt":
        from arplayground.nets.gpt import GPT, GPTConfig

        vocab = card.get("vocabulary")
        if not isinstance(vocab, list) or len(vocab) != card["config"].get("vocab_size"):
            raise ModelError("the card's vocabulary does not match its vocab_size")
        try:
            return GPT(GPTConfig(**card["config"]))
        except TypeError as e:
            raise ModelError(f"the card's config is not a GPT config ({e})") from None
    if card["architecture"] == "gated-pixelcnn":
        from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig

        try:
            return PixelCNN(PixelCNNConfig(**card["config"]))
        except TypeError as e:
            raise ModelError(f"the card's config is not a PixelCNN config ({e})") from None
    if card["architecture"] == "wavenet":
        from arplayground.nets.wavenet import WaveNet, WaveNetConfig

        speakers = card.get("speakers")
        if not isinstance(speakers, list) or len(speakers) != card["config"].get("n_speakers"):
            raise ModelError("the card's speaker names do not match its n_speakers")
        try:
            return WaveNet(WaveNetConfig(**card["config"]))
        except TypeError as e:
            raise ModelError(f"the card's config is not a WaveNet config ({e})") from None
    raise ModelError(f"unknown architecture '{card['architecture']}'")


def expected_tensors(card: dict) -> list[tuple[tuple[str, ...], tuple[int, ...]]]:
    """(names, shape) for each distinct tensor; tied parameters share one entry with all their names,
    since a safetensors file stores a shared tensor once, under any one of them."""
    net = build_network(card)  # small models: building one costs milliseconds
    groups: dict[int, tuple[list[str], tuple]] = {}
    for name, p in net.state_dict(keep_vars=True).items():
        groups.setdefault(id(p), ([], tuple(p.shape)))[0].append(name)
    return [(tuple(names), shape) for names, shape in groups.values()]


def load_stepper(entry: ModelEntry):
    """Build the model's stepper with its trained weights (raises ModelError with a reason)."""
    if entry.error:
        raise ModelError(entry.error)
    from safetensors.torch import load_model

    net = build_network(entry.card)
    try:
        load_model(net, str(entry.weights_path), strict=False)  # names and shapes were checked already
    except Exception as e:  # safetensors raises several kinds on damaged files
        raise ModelError(f"could not read {entry.weights_path.name}: {e}") from None
    if entry.card["architecture"] == "gpt":
        from arplayground.nets.gpt import GPTStepper

        return GPTStepper(net, vocabulary(entry))
    if entry.card["architecture"] == "gated-pixelcnn":
        from arplayground.nets.pixelcnn import PixelCNNStepper

        return PixelCNNStepper(net, vocabulary(entry))
    if entry.card["architecture"] == "wavenet":
        from arplayground.nets.wavenet import FastWaveNetStepper

        return FastWaveNetStepper(net, vocabulary(entry))
    raise ModelError(f"unknown architecture '{entry.card['architecture']}'")


def vocabulary(entry: ModelEntry):
    """The model's vocabulary from its card alone (no weights loaded): for checking prompts."""
    from arplayground.core.vocab import GreyLevels, MuLawLevels, Vocabulary

    if entry.card["architecture"] == "gated-pixelcnn":
        return GreyLevels(entry.card["config"].get("levels", 256))
    if entry.card["architecture"] == "wavenet":
        return MuLawLevels()
    return Vocabulary(entry.card["vocabulary"])


class StepperCache:
    """Loaded steppers by model name. Thread-safe: the worker thread loads, so the GUI never waits."""

    def __init__(self):
        self._lock = threading.Lock()
        self.loaded: dict[str, object] = {}

    def get(self, entry: ModelEntry):
        with self._lock:
            if entry.name not in self.loaded:
                self.loaded[entry.name] = load_stepper(entry)
            return self.loaded[entry.name]
