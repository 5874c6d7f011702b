"""Fuzzing the card reader: a few hundred random and mutated cards (seeded, a few seconds) fed to
catalog.read_entry. Each is accepted or refused with a reason; nothing raises out of read_entry;
reading one allocates at most PEAK_BYTES on the Python side; no network is built to check one,
and an accepted one loads and steps."""

import copy
import json
import math
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from arplayground import catalog
from tests.conftest import write_tiny_gpt, write_tiny_pixelcnn, write_tiny_wavenet

SEED = 19
CARDS = 400
PEAK_BYTES = 40_000_000  # per card read: 1 MB of JSON (the card bound) parses to at most ~30 MB of objects
BUNDLED = sorted((Path(__file__).parents[2] / "models").glob("*.json"))

STRINGS = ["", " ", "..", "../x.safetensors", "/etc/passwd", "\ud800", "\x00", "a\nb", "x" * 300, "€", "text",
           "image", "audio", "?", "gpt", "gated-pixelcnn", "wavenet", "tiny-gpt.safetensors", "any", "3"]
NUMBERS = [0, -1, 1, 2, 3, 5, 7, 10, 28, 64, 256, 8000, 65535, 10**9, 10**30, 2**63, -(2**63), 0.5, -0.0, 1e308,
           float("nan"), float("inf"), float("-inf"), 1.5, True, False]


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.random()
    if depth > 3 or kind < 0.35:
        return rng.choice(NUMBERS)
    if kind < 0.6:
        return rng.choice(STRINGS)
    if kind < 0.7:
        return None
    if kind < 0.85:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {rng.choice(STRINGS + ["name", "config", "n_layer"]): random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def dicts_in(value, found=None) -> list:
    found = [] if found is None else found
    if isinstance(value, dict):
        found.append(value)
        for v in value.values():
            dicts_in(v, found)
    elif isinstance(value, list):
        for v in value:
            dicts_in(v, found)
    return found


def mutate(rng: random.Random, card: dict):
    """One mutation of a good card: a value of another type or size, a key gone or added, a list
    entry repeated, or the card replaced by random JSON."""
    card = copy.deepcopy(card)
    where = rng.choice([card, card["config"]] * 3 + dicts_in(card))
    keys = list(where)
    how = rng.randrange(9)
    if how == 0 and keys:
        where[rng.choice(keys)] = random_json(rng)
    elif how == 1 and keys:
        del where[rng.choice(keys)]
    elif how == 2:
        where[rng.choice(STRINGS)] = random_json(rng)
    elif how == 3:  # a size scaled, nudged past a bound, or of another sign
        key = rng.choice(list(card["config"]))
        value = card["config"][key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            card["config"][key] = rng.choice([value * 10 ** rng.randrange(1, 12), value + 1, value - 1, -value, 0,
                                              float(value), value // 2 if isinstance(value, int) else value / 2])
    elif how == 4:  # the list the GUI reads names from
        for key in ("vocabulary", "speakers"):
            if isinstance(card.get(key), list) and card[key]:
                values = card[key]
                i = rng.randrange(len(values))
                values[i] = rng.choice([values[0], values[-1], random_json(rng), "ab", ""])
                if rng.random() < 0.3:
                    values.append(rng.choice(values))
    elif how == 5:
        return random_json(rng)
    elif how == 6:  # harmless changes: these cards must still be accepted
        card["description"] = rng.choice(STRINGS[5:])
        card.setdefault("validation", {})["fuzz"] = rng.random()
        if "dropout" in card["config"]:
            card["config"]["dropout"] = rng.choice([0.0, 0.25, 0.5])
    elif how == 7:
        card[rng.choice(["name", "mode", "architecture", "weights"])] = random_json(rng)
    else:
        card["config"] = random_json(rng) if rng.random() < 0.5 else {}
    return card


def as_bytes(rng: random.Random, card) -> bytes:
    """The card's file: mostly its JSON, sometimes cut short, with bytes flipped, or nested deep."""
    data = json.dumps(card).encode("utf-8", "surrogatepass")
    roll = rng.random()
    if roll < 0.05:
        return data[: rng.randrange(len(data) + 1)]
    if roll < 0.1:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if roll < 0.12:
        return b"[" * rng.randrange(1, 200_000)
    if roll < 0.14 and isinstance(card, dict):  # as large as a card may be, or one byte more
        bare = json.dumps({**card, "description": ""}).encode("utf-8", "surrogatepass")
        padded = {**card, "description": "x" * (catalog.MAX_CARD_BYTES - len(bare) + rng.choice([0, 1]))}
        return json.dumps(padded).encode("utf-8", "surrogatepass")
    if roll < 0.16:
        return json.dumps([[]] * 150_000).encode()  # many small objects, under the byte bound
    return data


@pytest.fixture
def fuzz_folder(tmp_path):
    """The tiny models (real weights) and the bundled cards with small dummy weights beside them."""
    from safetensors.numpy import save_file

    folder = tmp_path / "models"
    write_tiny_gpt(folder)
    write_tiny_pixelcnn(folder)
    write_tiny_wavenet(folder)
    for path in BUNDLED:
        card = json.loads(path.read_text())
        save_file({"w": np.zeros(4, np.float32)}, str(folder / card["weights"]))
        (folder / path.name).write_text(json.dumps(card))
    return folder


def test_random_and_mutated_cards_are_accepted_or_refused_with_a_reason(fuzz_folder, monkeypatch):
    from arplayground.nets import gpt, pixelcnn, wavenet

    seeds = [json.loads(p.read_text()) for p in sorted(fuzz_folder.glob("*.json"))]
    built = []  # every network a card made anyone build while it was being read
    for module, name in ((gpt, "GPT"), (pixelcnn, "PixelCNN"), (wavenet, "WaveNet")):
        cls = getattr(module, name)
        original = cls.__init__

        def recording(self, cfg, original=original):
            built.append(cfg)
            original(self, cfg)

        monkeypatch.setattr(cls, "__init__", recording)
    rng = random.Random(SEED)
    accepted, refused, worst_peak = [], [], 0
    path = fuzz_folder / "fuzz.json"
    tracemalloc.start()
    try:
        for i in range(CARDS):
            card = mutate(rng, rng.choice(seeds)) if i >= len(seeds) else seeds[i]
            path.write_bytes(as_bytes(rng, card))
            tracemalloc.reset_peak()
            entry = catalog.read_entry(path)  # must never raise
            worst_peak = max(worst_peak, tracemalloc.get_traced_memory()[1])
            assert isinstance(entry.name, str) and entry.mode in (*catalog.MODES, "?")
            assert isinstance(entry.summary(), str)
            if entry.available:
                accepted.append(entry)
            else:
                assert isinstance(entry.error, str) and entry.error.strip(), card
                assert len(entry.error) < 400
                refused.append(entry.error)
    finally:
        tracemalloc.stop()
    assert built == [], "reading a card built a network"
    assert worst_peak < PEAK_BYTES, f"reading one card allocated {worst_peak:,} bytes"
    assert len(accepted) >= 20 and len(refused) >= CARDS / 2, (len(accepted), len(refused))
    assert len(set(refused)) >= 40  # many different reasons: the fuzz reaches many checks
    for entry in accepted:
        check_usable(entry)
    for entry in accepted[:: max(1, len(accepted) // 12)]:  # a dozen of them all the way to a step
        check_runs(entry)


def check_usable(entry):
    """What the GUI reads from an accepted card, none of which may raise."""
    config = entry.card["config"]
    size = len(catalog.vocabulary(entry))
    assert size == config.get("vocab_size", config.get("levels"))
    assert 0 < entry.parameters <= catalog.MAX_PARAMETERS
    assert entry.weights_path.parent == entry.card_path.parent
    for digit in (None, 0, 9):
        for speaker in (None, 0, 5):
            seconds = catalog.typical_seconds(entry.card, digit, speaker)
            assert seconds is None or (math.isfinite(seconds) and seconds > 0)
    for name in entry.card.get("speakers", []):
        assert isinstance(name, str)


def check_runs(entry):
    stepper = catalog.load_stepper(entry)
    stepper.reset([], None)
    logits = stepper.logits()
    assert logits.shape == (len(stepper.vocab),) and np.isfinite(logits).all()
