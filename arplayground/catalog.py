"""The bundled models: find the cards in models/, check each against its weights, build steppers.

A card is data from a stranger. Each is read as a regular file of bounded size (never blocking on a
FIFO), checked against a schema (one table per architecture: types, ranges, and sizes bounded
before anything is allocated), and only then are its weights' shapes compared with the shapes the
config implies, worked out arithmetically: discovery never builds a network. A model whose card or
files are wrong is listed with the reason instead of being dropped, so the GUI can show it as
unavailable and carry on with the others. No Qt here.
"""

from __future__ import annotations

import json
import math
import os
import stat
import struct
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

MODES = ("text", "image", "audio")
CONDITIONAL_MODES = ("image", "audio")  # models with a digit to condition on, so guidance applies

# Bounds on what a card may ask for. The bundled models sit far inside them (at most 2.7 M
# parameters, 12 M floats of caches); a card beyond them is refused before anything is allocated.
MAX_CARD_BYTES = 1_000_000  # the bundled cards are under 10 kB; parsed, 1 MB of JSON is at most ~30 MB of objects
MAX_HEADER_BYTES = 4_000_000  # a safetensors tensor table; the largest config allowed needs ~300 kB
MAX_PARAMETERS = 50_000_000  # 200 MB of float32 weights
MAX_WORKING_FLOATS = 64_000_000  # 256 MB: the caches and buffers a stepper allocates from its config
MAX_NAME_CHARS = 100
MAX_SPEAKER_CHARS = 100
MAX_TYPICAL_SECONDS = 600.0
IMAGE_LANES = 32  # the largest grid (4 x 4) and its "any digit" copies for guidance, run as one batch

# Models bundled to show a failure, not to be used: a card says which with "demonstration". The
# picker lists them after the others, labelled, and no mode ever chooses one by default. Each
# value, with what the picker calls it.
NO_CAUSAL_MASK = "no causal mask"
DEMONSTRATIONS = {NO_CAUSAL_MASK: "the cheat: no causal mask"}
# Models bundled to help another one, not to be used alone: a card says which with "role". The
# picker lists them after the models meant for use, labelled, and a mode starts with one only
# where no such model runs. Each value, with what the picker calls it.
DRAFT = "draft"
ROLES = {DRAFT: "the draft for speculative decoding"}


class ModelError(Exception):
    """A model that cannot be used, with a reason a person can act on."""


# ---------------------------------------------------------------- the schema


class Bound(NamedTuple):
    """One config field: its JSON type (int, float or bool), inclusive range, and the default a card
    written before the field existed gets (the config dataclass's; a test keeps them equal)."""

    kind: type
    lowest: float
    highest: float
    default: object
    why: str = ""  # said when a value is out of range, where the range is not just "generous"


# The image and audio views draw 28 x 28 grey images and 8 kHz mu-law audio, and offer the
# digits 0-9: a model of another shape could not be shown, so it is refused with that reason.
GPT_CONFIG = {
    "vocab_size": Bound(int, 2, 16_384, 65),
    "block_size": Bound(int, 8, 8_192, 1024),
    "n_layer": Bound(int, 1, 64, 6),
    "n_head": Bound(int, 1, 64, 6),
    "n_embd": Bound(int, 2, 4_096, 192),
    "dropout": Bound(float, 0.0, 0.99, 0.1),
    "rope_base": Bound(float, 2.0, 1e9, 10000.0),
    "causal": Bound(bool, False, True, True),  # False: the cheat model, attention without its mask
}
PIXELCNN_CONFIG = {
    "channels": Bound(int, 1, 1_024, 64),
    "n_layers": Bound(int, 1, 64, 10),
    "kernel": Bound(int, 3, 15, 5),
    "first_kernel": Bound(int, 3, 15, 7),
    "dropout": Bound(float, 0.0, 0.99, 0.0),
    "n_classes": Bound(int, 10, 10, 10, "the image view offers the digits 0-9"),
    "extra_labels": Bound(int, 0, 1_000, 0),
    "levels": Bound(int, 256, 256, 256, "the image view shows 256 grey levels"),
    "height": Bound(int, 28, 28, 28, "the image view draws 28 x 28 images"),
    "width": Bound(int, 28, 28, 28, "the image view draws 28 x 28 images"),
}
WAVENET_CONFIG = {
    "residual": Bound(int, 1, 1_024, 32),
    "skip": Bound(int, 1, 2_048, 64),
    "cycle": Bound(int, 1, 16, 10),
    "n_cycles": Bound(int, 1, 16, 2),
    "n_digits": Bound(int, 10, 10, 10, "the audio view offers the digits 0-9"),
    "n_speakers": Bound(int, 1, 1_000, 6),
    "levels": Bound(int, 256, 256, 256, "audio is 256 mu-law levels"),
    "sample_rate": Bound(int, 8000, 8000, 8000, "the audio view plays 8 kHz"),
    # A prompt of n samples mixes n x time_knots weights: bounded so a long prompt stays affordable.
    "time_knots": Bound(int, 0, 256, 0),
    "time_spacing": Bound(int, 1, 10_000_000, 400),
    "time_features": Bound(int, 1, 4_096, 16),
}

Tensors = list[tuple[tuple[str, ...], tuple[int, ...]]]  # (names, shape); tied parameters share one entry


def _tensor(name: str, *shape: int):
    return (name,), tuple(shape)


def gpt_tensors(c: dict) -> Tensors:
    """GPT's state_dict names and shapes (nets/gpt.py), from its config."""
    V, E = c["vocab_size"], c["n_embd"]
    table = [(("wte.weight", "lm_head.weight"), (V, E))]  # tied: the output layer is the embedding
    for i in range(c["n_layer"]):
        b = f"blocks.{i}."
        table += [_tensor(b + "ln_1.weight", E), _tensor(b + "ln_1.bias", E),
                  _tensor(b + "attn.qkv.weight", 3 * E, E), _tensor(b + "attn.proj.weight", E, E),
                  _tensor(b + "ln_2.weight", E), _tensor(b + "ln_2.bias", E),
                  _tensor(b + "mlp.fc.weight", 4 * E, E), _tensor(b + "mlp.proj.weight", E, 4 * E)]
    return table + [_tensor("ln_f.weight", E), _tensor("ln_f.bias", E)]


def pixelcnn_tensors(c: dict) -> Tensors:
    """Gated PixelCNN's state_dict names and shapes (nets/pixelcnn.py), from its config. Masked
    convolutions store their whole k x k (vertical) or 1 x k (horizontal) kernel."""
    C, k, k0 = c["channels"], c["kernel"], c["first_kernel"]
    labels = c["n_classes"] + 1 + c["extra_labels"]
    table = [_tensor("v_first.weight", C, 1, k0, k0), _tensor("v_first.bias", C),
             _tensor("h_first.weight", C, 1, 1, k0), _tensor("h_first.bias", C)]
    for i in range(c["n_layers"]):
        b = f"layers.{i}."
        table += [_tensor(b + "v_conv.weight", 2 * C, C, k, k), _tensor(b + "v_conv.bias", 2 * C),
                  _tensor(b + "h_conv.weight", 2 * C, C, 1, k), _tensor(b + "h_conv.bias", 2 * C),
                  _tensor(b + "v_to_h.weight", 2 * C, 2 * C, 1, 1), _tensor(b + "v_to_h.bias", 2 * C),
                  _tensor(b + "h_out.weight", C, C, 1, 1), _tensor(b + "h_out.bias", C),
                  _tensor(b + "cond.weight", labels, 4 * C)]
    return table + [_tensor("head.1.weight", 2 * C, C, 1, 1), _tensor("head.1.bias", 2 * C),
                    _tensor("head.3.weight", c["levels"], 2 * C, 1, 1), _tensor("head.3.bias", c["levels"])]


def wavenet_tensors(c: dict) -> Tensors:
    """WaveNet's state_dict names and shapes (nets/wavenet.py), from its config."""
    R, S, L = c["residual"], c["skip"], c["levels"]
    knots, features = c["time_knots"], c["time_features"]
    table = [_tensor("embed.weight", L, R)]
    for i in range(c["cycle"] * c["n_cycles"]):
        b = f"layers.{i}."
        table += [_tensor(b + "conv.weight", 2 * R, R, 2), _tensor(b + "conv.bias", 2 * R),
                  _tensor(b + "digit.weight", c["n_digits"] + 1, 2 * R),
                  _tensor(b + "speaker.weight", c["n_speakers"] + 1, 2 * R)]
        if knots:
            table.append(_tensor(b + "time.weight", 2 * R, features))
        table += [_tensor(b + "res.weight", R, R, 1), _tensor(b + "res.bias", R),
                  _tensor(b + "skip.weight", S, R, 1), _tensor(b + "skip.bias", S)]
    if knots:
        table.append(_tensor("templates.weight", (c["n_digits"] + 1) * (c["n_speakers"] + 1), knots * features))
    return table + [_tensor("head1.weight", S, S, 1), _tensor("head1.bias", S),
                    _tensor("head2.weight", L, S, 1), _tensor("head2.bias", L)]


def gpt_working_floats(c: dict) -> int:
    """The KV cache (keys and values of every layer, block_size long) and the rotary tables."""
    return 2 * c["n_layer"] * c["block_size"] * c["n_embd"] + c["block_size"] * (c["n_embd"] // c["n_head"])


def pixelcnn_working_floats(c: dict) -> int:
    """Per image of the largest batch: the padded vertical-stack caches of every layer, the row
    caches, and the activations of one full pass over the image."""
    C, H, W, n = c["channels"], c["height"], c["width"], c["n_layers"]
    per_lane = (n + 1) * C * (H + 2 * (c["kernel"] // 2)) * W + n * W * 3 * C + 4 * C * H * W
    return IMAGE_LANES * per_lane


def wavenet_working_floats(c: dict) -> int:
    """The compiled path's queues: every layer keeps as many past activations as the longest dilation."""
    return c["cycle"] * c["n_cycles"] * 2 ** (c["cycle"] - 1) * c["residual"]


def gpt_rules(card: dict, c: dict) -> str | None:
    if c["n_embd"] % c["n_head"]:
        return f"config.n_embd {c['n_embd']} is not a multiple of n_head {c['n_head']}"
    if (c["n_embd"] // c["n_head"]) % 2:
        return "config.n_embd / n_head must be even (rotary positions turn pairs of channels)"
    vocab = card.get("vocabulary")
    if not isinstance(vocab, list):
        return "the card has no 'vocabulary' list"
    if len(vocab) != c["vocab_size"]:
        return f"the card's vocabulary has {len(vocab)} entries, its vocab_size is {c['vocab_size']}"
    for i, ch in enumerate(vocab):
        if not isinstance(ch, str) or len(ch) != 1 or _is_surrogate(ch):
            return f"vocabulary entry {i} ({_shown(ch)}) is not one character"
    if len(set(vocab)) != len(vocab):
        repeated = next(ch for i, ch in enumerate(vocab) if ch in vocab[:i])
        return f"the vocabulary holds {repeated!r} more than once"
    return None


def pixelcnn_rules(card: dict, c: dict) -> str | None:
    for key in ("kernel", "first_kernel"):
        if c[key] % 2 == 0:
            return f"config.{key} {c[key]} is even: a masked kernel has a centre, so it is odd"
    return None


def wavenet_rules(card: dict, c: dict) -> str | None:
    speakers = card.get("speakers")
    if not isinstance(speakers, list):
        return "the card has no 'speakers' list"
    if len(speakers) != c["n_speakers"]:
        return f"the card names {len(speakers)} speakers, its n_speakers is {c['n_speakers']}"
    for i, name in enumerate(speakers):
        problem = _text_problem(name, MAX_SPEAKER_CHARS)
        if problem:
            return f"speaker {i} ({_shown(name)}) {problem}"
    return None


def demonstration_problem(card: dict, config: dict) -> str | None:
    """A card's "demonstration" must be one this version knows and say what the config is: a GPT
    without its causal mask must be marked, so it can never pass as a working model."""
    demonstration = card.get("demonstration")
    if "demonstration" in card and (not isinstance(demonstration, str) or demonstration not in DEMONSTRATIONS):
        known = ", ".join(repr(d) for d in DEMONSTRATIONS)
        return f"the card's 'demonstration' ({_shown(demonstration)}) is not one this version knows ({known})"
    unmasked = card["architecture"] == "gpt" and config["causal"] is False
    if unmasked and demonstration != NO_CAUSAL_MASK:
        return f"config.causal is false (no causal mask), so the card must say \"demonstration\": \"{NO_CAUSAL_MASK}\""
    if demonstration == NO_CAUSAL_MASK and not unmasked:
        return f"the card says \"demonstration\": \"{NO_CAUSAL_MASK}\", but its model is not a GPT with causal false"
    return None


def role_problem(card: dict, config: dict) -> str | None:
    """A card's "role" must be one this version knows; a draft is a causal GPT (speculative decoding
    proposes text left to right, so a draft without its mask could not propose anything)."""
    role = card.get("role")
    if "role" in card and (not isinstance(role, str) or role not in ROLES):
        known = ", ".join(repr(r) for r in ROLES)
        return f"the card's 'role' ({_shown(role)}) is not one this version knows ({known})"
    if role == DRAFT and not (card["architecture"] == "gpt" and config["causal"] is True):
        return f"the card says \"role\": \"{DRAFT}\", but its model is not a GPT with its causal mask"
    if role is not None and "demonstration" in card:
        return "the card has both a 'role' and a 'demonstration': a model is one or the other"
    return None


@dataclass(frozen=True)
class Architecture:
    mode: str
    config: dict[str, Bound]
    rules: Callable[[dict, dict], str | None]  # card-level checks the ranges alone cannot say
    tensors: Callable[[dict], Tensors]
    working_floats: Callable[[dict], int]


ARCHITECTURES = {
    "gpt": Architecture("text", GPT_CONFIG, gpt_rules, gpt_tensors, gpt_working_floats),
    "gated-pixelcnn": Architecture("image", PIXELCNN_CONFIG, pixelcnn_rules, pixelcnn_tensors, pixelcnn_working_floats),
    "wavenet": Architecture("audio", WAVENET_CONFIG, wavenet_rules, wavenet_tensors, wavenet_working_floats),
}


def _shown(value, limit: int = 40) -> str:
    """A value as a reason quotes it: short, whatever a stranger put there."""
    if isinstance(value, (dict, list)):
        return f"a JSON {'object' if isinstance(value, dict) else 'array'}"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_surrogate(ch: str) -> bool:
    return "\ud800" <= ch <= "\udfff"  # JSON can spell half a UTF-16 pair, which no file can store


def _text_problem(value, limit: int) -> str | None:
    """Why a string the GUI shows (a name, a speaker) cannot be one; None when it can."""
    if not isinstance(value, str):
        return "is not a string"
    if not value.strip():
        return "is empty"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    # Cf: format characters such as U+202E, which reverses the text shown after it
    if any(_is_surrogate(ch) or unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        return "holds a control or format character, or half a UTF-16 pair"
    return None


def _plain_file_name(value) -> bool:
    """A file name alone: no folder part, no parent, nothing a path would resolve elsewhere."""
    return (isinstance(value, str) and value not in ("", ".", "..") and len(value) <= 255
            and not any(ch in "/\\:" or _is_surrogate(ch) or unicodedata.category(ch) == "Cc" for ch in value))


def checked_config(architecture: Architecture, config: dict) -> dict:
    """The config with defaults filled in, every field of the right type and in range."""
    unknown = sorted(set(config) - set(architecture.config))
    if unknown:
        named = ", ".join(_shown(k) for k in unknown[:3])
        raise ModelError(f"the card's config has fields this version does not know: {named}")
    full = {}
    for key, bound in architecture.config.items():
        value = config.get(key, bound.default)
        if bound.kind is bool:
            if not isinstance(value, bool):
                raise ModelError(f"config.{key} is {_shown(value)}, not true or false")
            full[key] = value
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelError(f"config.{key} is {_shown(value)}, not a number")
        if bound.kind is int and not isinstance(value, int):
            raise ModelError(f"config.{key} is {_shown(value)}, not a whole number")
        if not (bound.lowest <= value <= bound.highest):  # NaN fails this too
            allowed = f"{bound.lowest:g}" if bound.lowest == bound.highest else f"{bound.lowest:g} to {bound.highest:g}"
            raise ModelError(f"config.{key} is {_shown(value)}; this version takes {allowed}"
                             + (f" ({bound.why})" if bound.why else ""))
        full[key] = float(value) if bound.kind is float else value
    return full


def validate_card(card) -> tuple[Architecture, dict, Tensors]:
    """Check a parsed card against the schema, allocating nothing its sizes ask for: returns its
    architecture, its full config and the tensors its weights must hold. Raises ModelError."""
    if not isinstance(card, dict):
        raise ModelError("the card is not a JSON object")
    for key in ("name", "mode", "architecture", "weights", "config"):
        if key not in card:
            raise ModelError(f"the card has no '{key}'")
    problem = _text_problem(card["name"], MAX_NAME_CHARS)
    if problem:
        raise ModelError(f"the card's name {problem}")
    if not isinstance(card["mode"], str) or card["mode"] not in MODES:
        raise ModelError(f"the card's mode ({_shown(card['mode'])}) is not one this version has ({', '.join(MODES)})")
    if not isinstance(card["architecture"], str) or card["architecture"] not in ARCHITECTURES:
        raise ModelError(f"the card's architecture ({_shown(card['architecture'])}) is not one this version has "
                         f"({', '.join(ARCHITECTURES)})")
    architecture = ARCHITECTURES[card["architecture"]]
    if card["mode"] != architecture.mode:
        raise ModelError(f"the card's mode is {card['mode']}, but {card['architecture']} models are {architecture.mode} models")
    if not _plain_file_name(card["weights"]):
        raise ModelError(f"the card's 'weights' ({_shown(card['weights'])}) is not a file name in the models folder")
    if not isinstance(card["config"], dict):
        raise ModelError("the card's 'config' is not a JSON object")
    for key in ("validation", "dataset", "training", "figures"):
        if key in card and not isinstance(card[key], dict):
            raise ModelError(f"the card's '{key}' is not a JSON object")
    if "description" in card and not isinstance(card["description"], str):
        raise ModelError("the card's 'description' is not text")
    parameters = card.get("parameters", 0)
    if isinstance(parameters, bool) or not isinstance(parameters, int) or not 0 <= parameters <= 10 * MAX_PARAMETERS:
        raise ModelError(f"the card's 'parameters' ({_shown(parameters)}) is not a count")
    config = checked_config(architecture, card["config"])
    problem = architecture.rules(card, config) or role_problem(card, config) or demonstration_problem(card, config)
    if problem:
        raise ModelError(problem)
    # Sizes, from arithmetic alone: the fields are bounded now, so these loops are short.
    working = architecture.working_floats(config)
    if working > MAX_WORKING_FLOATS:
        raise ModelError(f"the model would need {working * 4 / 1e6:,.0f} MB of caches; this version allows "
                         f"{MAX_WORKING_FLOATS * 4 / 1e6:,.0f} MB")
    tensors = architecture.tensors(config)
    count = sum(math.prod(shape) for _, shape in tensors)
    if count > MAX_PARAMETERS:
        raise ModelError(f"the config makes {count:,} parameters; this version loads at most {MAX_PARAMETERS:,}")
    return architecture, config, tensors


# ---------------------------------------------------------------- entries


@dataclass
class ModelEntry:
    card_path: Path
    card: dict = field(default_factory=dict)  # as read; trusted only once `available`
    error: str | None = None
    parameters: int = 0  # counted from the config, once the card has passed the schema

    # name, mode and weights_path hold for a refused card too, whatever it holds: the GUI lists those.
    @property
    def name(self) -> str:
        name = self.card.get("name")
        return name if _text_problem(name, MAX_NAME_CHARS) is None else self.card_path.stem

    @property
    def mode(self) -> str:
        mode = self.card.get("mode")
        return mode if isinstance(mode, str) and mode in MODES else "?"

    @property
    def available(self) -> bool:
        return self.error is None

    @property
    def demonstration(self) -> str | None:
        """What the model is bundled to show (DEMONSTRATIONS), None for a model meant for use. Read
        for a refused card too, so a broken cheat still sorts and reads as the cheat."""
        value = self.card.get("demonstration")
        return value if isinstance(value, str) and value in DEMONSTRATIONS else None

    @property
    def role(self) -> str | None:
        """What other model it serves (ROLES), None for a model meant for use alone. Read for a
        refused card too, so a broken draft still sorts and reads as the draft."""
        value = self.card.get("role")
        return value if isinstance(value, str) and value in ROLES else None

    @property
    def listed_after(self) -> int:
        """Where it sorts among its mode's models: 0 meant for use, 1 a helper (a draft), 2 a demonstration."""
        return 2 if self.demonstration else 1 if self.role else 0

    @property
    def weights_path(self) -> Path:
        weights = self.card.get("weights")
        return self.card_path.parent / (weights if _plain_file_name(weights) else f"{self.card_path.stem}.safetensors")

    def summary(self) -> str:
        """One line for the picker's tooltip."""
        if self.error:
            return f"unavailable: {self.error}"
        validation = self.card.get("validation", {})
        figures = [f"{k} {v}" for k, v in validation.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        line = f"{self.card['architecture']}, {self.parameters:,} parameters; {', '.join(figures[:6])}"
        if self.demonstration:
            return f"{DEMONSTRATIONS[self.demonstration].capitalize()}, a demonstration: {line}"
        return f"{ROLES[self.role].capitalize()}: {line}" if self.role else line


def typical_seconds(card: dict, digit: int | None, speaker: int | None) -> float | None:
    """How long the training recordings of `digit` by speaker number `speaker` usually are (None:
    any), from an audio card's dataset.typical_seconds; None when the card has no such usable figure."""
    dataset = card.get("dataset") if isinstance(card, dict) else None
    table = dataset.get("typical_seconds") if isinstance(dataset, dict) else None
    if not isinstance(table, dict):
        return None
    speakers = card.get("speakers")
    speakers = speakers if isinstance(speakers, list) else []
    row = table.get("any" if digit is None else str(digit))
    name = speakers[speaker] if isinstance(speaker, int) and 0 <= speaker < len(speakers) else "any"
    seconds = (row.get(name, row.get("any")) if isinstance(name, str) else row.get("any")) if isinstance(row, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return None
    seconds = float(seconds) if abs(seconds) < 1e300 else math.inf  # float() of a 400-digit int raises
    return seconds if 0 < seconds <= MAX_TYPICAL_SECONDS else None


def default_models_dir() -> Path:
    """$ARPLAYGROUND_MODELS; else the models installed with the package (a wheel or `pip install .`
    puts the top-level models/ there as arplayground/models/); else models/ beside the package (a
    source checkout or an editable install); else ./models. The installed copy comes first: beside
    an installed package is site-packages, where another distribution's models/ could be."""
    if os.environ.get("ARPLAYGROUND_MODELS"):
        return Path(os.environ["ARPLAYGROUND_MODELS"])
    package = Path(__file__).resolve().parent
    for folder in (package / "models", package.parent / "models"):
        if folder.is_dir():
            return folder
    return Path("models")


def discover(models_dir: Path | None = None) -> list[ModelEntry]:
    models_dir = Path(models_dir) if models_dir else default_models_dir()
    try:
        card_paths = sorted(models_dir.glob("*.json"))
    except OSError:  # an unreadable folder: no models, and the window says so
        return []
    # By file name, helpers (a draft) after the models meant for use and demonstrations last:
    # whatever takes a mode's first model gets one meant for use.
    return sorted((read_entry(card_path) for card_path in card_paths), key=lambda e: e.listed_after)


def default_entry(entries: list[ModelEntry], mode: str) -> ModelEntry | None:
    """The model a mode starts with: its first available one meant for use alone; a helper (the
    draft) only when the mode has no such model that runs, a demonstration only when it has
    nothing else that runs; None when nothing runs."""
    runnable = sorted((e for e in entries if e.available and e.mode == mode), key=lambda e: e.listed_after)
    return runnable[0] if runnable else None


def read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """At most `limit` bytes of a regular file. Checked before and after opening, and opened
    non-blocking, so a FIFO, a device or a folder under that name is refused and never waited on."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise ModelError(f"{what} is not a regular file")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as e:
        raise ModelError(f"{what} cannot be read ({e.strerror or e})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # swapped in after the check above
            raise ModelError(f"{what} is not a regular file")
        if info.st_size > limit:
            raise ModelError(f"{what} is {info.st_size:,} bytes; at most {limit:,} are read")
        chunks, size = [], 0
        while size <= limit:  # a file that grows (or lies about its size, as /proc does) stops here
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as e:
        raise ModelError(f"{what} cannot be read ({e.strerror or e})") from None
    finally:
        os.close(fd)
    if size > limit:
        raise ModelError(f"{what} is more than {limit:,} bytes")
    return b"".join(chunks)


def read_entry(card_path: Path) -> ModelEntry:
    """The model a card describes, checked against its weights; unusable ones carry the reason in
    .error. Never raises: whatever the file holds, the one model is refused, not the app."""
    entry = ModelEntry(Path(card_path))
    try:
        card = json.loads(read_regular_file(entry.card_path, MAX_CARD_BYTES, "the card").decode("utf-8"))
        if not isinstance(card, dict):
            raise ModelError("the card is not a JSON object")
        entry.card = card
        check(entry)
    except json.JSONDecodeError as e:
        entry.error = f"the card is not valid JSON ({e.msg}, line {e.lineno})"
    except UnicodeDecodeError:
        entry.error = "the card is not UTF-8 text"
    except RecursionError:
        entry.error = "the card is nested too deeply"
    except ModelError as e:
        entry.error = str(e)
    except ValueError as e:  # json's own limits, e.g. an integer of more than 4,300 digits
        entry.error = f"the card cannot be read ({e})"
    except Exception as e:  # a last resort: one card must never stop the app
        entry.error = f"the card cannot be used ({type(e).__name__}: {e})"
    return entry


FLOAT_BYTES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}  # safetensors dtypes a model's weights may have


def read_safetensors_header(path: Path) -> dict:
    """The tensor table of a safetensors file, checked for truncation, without loading any tensor."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ModelError(f"weights file {path.name} is missing") from None
    except OSError as e:
        raise ModelError(f"weights file {path.name} cannot be read ({e.strerror or e})") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO would block the read below
        raise ModelError(f"weights file {path.name} is not a regular file")
    size = info.st_size
    if size < 8:
        raise ModelError(f"{path.name} is not a safetensors file (only {size} bytes)")
    fd = None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped in after the check above
            raise ModelError(f"weights file {path.name} is not a regular file")
        with os.fdopen(fd, "rb") as f:
            fd = None  # the file object closes it now
            (header_len,) = struct.unpack("<Q", f.read(8))
            if header_len > MAX_HEADER_BYTES:
                raise ModelError(f"{path.name} is not a safetensors file (bad header length)")
            if header_len > size - 8:
                raise ModelError(f"{path.name} is truncated: {size:,} bytes, its header alone needs {header_len + 8:,}")
            raw = f.read(header_len)
    except OSError as e:
        raise ModelError(f"weights file {path.name} cannot be read ({e.strerror or e})") from None
    finally:
        if fd is not None:
            os.close(fd)
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ModelError(f"{path.name} is not a safetensors file (unreadable header)") from None
    if not isinstance(header, dict):
        raise ModelError(f"{path.name} is not a safetensors file")
    header.pop("__metadata__", None)

    def whole(n):
        return isinstance(n, int) and not isinstance(n, bool) and n >= 0

    try:
        if not all(isinstance(t["shape"], list) and all(whole(n) for n in t["shape"])
                   and len(t["data_offsets"]) == 2 and all(whole(n) for n in t["data_offsets"]) for t in header.values()):
            raise TypeError
        data_end = max((t["data_offsets"][1] for t in header.values()), default=0)
    except (TypeError, KeyError, IndexError):
        raise ModelError(f"{path.name} is not a safetensors file (bad tensor table)") from None
    for name, t in header.items():  # weights are floats, each tensor exactly as long as its shape says
        itemsize = FLOAT_BYTES.get(t.get("dtype"))
        if itemsize is None:
            raise ModelError(f"{path.name}: tensor {_shown(name)} is {_shown(t.get('dtype'))}, not floating point")
        start, end = t["data_offsets"]
        if end - start != math.prod(t["shape"]) * itemsize:
            raise ModelError(f"{path.name}: tensor {_shown(name)}'s bytes do not match its shape")
    if 8 + header_len + data_end > size:
        raise ModelError(f"{path.name} is truncated: {size:,} bytes of {8 + header_len + data_end:,}")
    return header


def check_weights_location(entry: ModelEntry) -> None:
    """The weights must be a file in the card's own folder, also once links are followed."""
    try:
        folder = entry.card_path.parent.resolve()
        resolved = entry.weights_path.resolve()
    except (OSError, RuntimeError):  # a loop of links
        raise ModelError(f"the weights path {entry.weights_path.name} cannot be resolved") from None
    if resolved.parent != folder:
        raise ModelError(f"weights file {entry.weights_path.name} is a link to outside the models folder")


def check(entry: ModelEntry) -> None:
    """Raise ModelError unless the card passes the schema and its weights have exactly the shapes it
    implies. A card that passes holds its whole config from then on, defaults filled in, so whatever
    reads card["config"][field] finds it."""
    _, config, tensors = validate_card(entry.card)
    entry.card = {**entry.card, "config": config}
    entry.parameters = sum(math.prod(shape) for _, shape in tensors)
    check_weights_location(entry)
    header = read_safetensors_header(entry.weights_path)
    found = {name: tuple(t["shape"]) for name, t in header.items()}
    problems, known = [], set()
    for names, shape in tensors:
        known.update(names)
        present = [n for n in names if n in found]
        if not present:
            problems.append(f"missing {names[0]}")
        elif found[present[0]] != shape:
            problems.append(f"{present[0]} is {list(found[present[0]])}, the card implies {list(shape)}")
    problems += [f"unexpected {_shown(n)}" for n in sorted(set(found) - known)]
    if problems:
        raise ModelError("the weights do not match the card: " + "; ".join(problems[:3]))


def expected_tensors(card: dict) -> Tensors:
    """(names, shape) for each distinct tensor; tied parameters share one entry with all their names,
    since a safetensors file stores a shared tensor once, under any one of them. Raises ModelError."""
    return validate_card(card)[2]


def build_network(card: dict):
    """The torch module a card describes, with untrained weights: only for a card that passed the
    schema, so its size is bounded and its config fits the dataclass."""
    architecture, config, _ = validate_card(card)
    if card["architecture"] == "gpt":
        from arplayground.nets.gpt import GPT, GPTConfig

        return GPT(GPTConfig(**config))
    if card["architecture"] == "gated-pixelcnn":
        from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig

        return PixelCNN(PixelCNNConfig(**config))
    from arplayground.nets.wavenet import WaveNet, WaveNetConfig

    return WaveNet(WaveNetConfig(**config))


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
    from arplayground.nets.wavenet import FastWaveNetStepper

    return FastWaveNetStepper(net, vocabulary(entry))


def vocabulary(entry: ModelEntry):
    """The model's vocabulary from its card alone (no weights loaded): for checking prompts.
    Only for an available entry, whose card passed the schema (the vocabulary is distinct characters)."""
    from arplayground.core.vocab import GreyLevels, MuLawLevels, Vocabulary

    if entry.error:
        raise ModelError(entry.error)
    if entry.card["architecture"] == "gated-pixelcnn":
        return GreyLevels(entry.card["config"].get("levels", 256))
    if entry.card["architecture"] == "wavenet":
        return MuLawLevels()
    return Vocabulary(entry.card["vocabulary"])


def distinct_labels(entries: list[ModelEntry]) -> list[str]:
    """What a picker shows for each entry: its name, and for the second and later cards of one
    name, the card's file too, so a retrained copy saved under the same name is told apart."""
    seen: set[str] = set()
    labels = []
    for entry in entries:
        labels.append(f"{entry.name} ({entry.card_path.name})" if entry.name in seen else entry.name)
        seen.add(entry.name)
    return labels


def entry_for_trace(entries: list[ModelEntry], mode: str, model_name: str, card) -> ModelEntry | None:
    """The available model a trace was made with: one of that mode and name, preferably the one
    whose card is the trace's own (two cards may share a name); None when there is none."""
    candidates = [e for e in entries if e.available and e.mode == mode and e.name == model_name]
    return next((e for e in candidates if e.card == card), candidates[0] if candidates else None)


# ---------------------------------------------------------------- loaded steppers


def stepper_key(entry: ModelEntry) -> tuple:
    """What makes two entries the same model: the card's file and the weights file's identity
    (path, size, modification time), never the name, which two cards may share."""
    try:
        card, weights = entry.card_path.resolve(), entry.weights_path.resolve()
        info = weights.stat()
        return card, weights, info.st_size, info.st_mtime_ns
    except (OSError, RuntimeError):  # gone or looped since discovery: loading says so
        return entry.card_path.absolute(), entry.weights_path.absolute(), None, None


class StepperCache:
    """Loaded steppers, at most one per mode: the model last used in it. Keyed by the card's path
    and the weights file's identity, so two cards of one name never share a model. A run holds its
    own reference, so dropping a stepper here never breaks a run in progress. Thread-safe: the
    worker thread loads, so the GUI never waits.

    With one_per_mode=False it holds several models of a mode at once, until keep_only() lets them
    go: a window's own copies (Mask on/off's real model and cheat, the speculative target and draft)."""

    def __init__(self, one_per_mode: bool = True):
        self._lock = threading.Lock()
        self.loaded: dict[tuple, object] = {}
        self._modes: dict[tuple, str] = {}
        self.one_per_mode = one_per_mode

    def get(self, entry: ModelEntry):
        key = stepper_key(entry)
        with self._lock:
            stepper = self.loaded.get(key)
        if stepper is None:
            stepper = load_stepper(entry)  # outside the lock: the GUI thread's keep_only never waits on a load
            with self._lock:
                if key not in self.loaded:  # else a run started alongside loaded it first: share that one
                    if self.one_per_mode:  # ~20 MB each: the last one in this mode goes
                        self._drop(lambda k: self._modes[k] == entry.mode)
                    self.loaded[key], self._modes[key] = stepper, entry.mode
                stepper = self.loaded[key]
        return stepper

    def put(self, entry: ModelEntry, stepper) -> None:
        """Hold `stepper` as entry's model (tests hand in instrumented ones)."""
        key = stepper_key(entry)
        with self._lock:
            if self.one_per_mode:
                self._drop(lambda k: self._modes[k] == entry.mode and k != key)
            self.loaded[key], self._modes[key] = stepper, entry.mode

    def held(self, entry: ModelEntry):
        """entry's loaded stepper, or None."""
        with self._lock:
            return self.loaded.get(stepper_key(entry))

    def keep_only(self, entries) -> None:
        """Drop every stepper but those of `entries` (the models chosen now, one per mode)."""
        keep = {stepper_key(e) for e in entries}
        with self._lock:
            self._drop(lambda k: k not in keep)

    def _drop(self, doomed: Callable[[tuple], bool]) -> None:
        for key in [k for k in self.loaded if doomed(k)]:
            del self.loaded[key], self._modes[key]
