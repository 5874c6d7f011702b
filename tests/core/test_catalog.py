"""Model cards and weights: good ones load, broken ones are listed with a reason."""

import json
import pickle
import struct

import numpy as np
import pytest

from arplayground import catalog
from tests.conftest import write_tiny_gpt


def entry_named(folder, name):
    return {e.name: e for e in catalog.discover(folder)}[name]


def test_good_model_loads_and_steps(tiny_models):
    entry = entry_named(tiny_models, "tiny-gpt")
    assert entry.available, entry.error
    stepper = catalog.load_stepper(entry)
    stepper.reset(stepper.vocab.encode("ROMEO:"))
    assert stepper.logits().shape == (len(stepper.vocab),)


def test_missing_weights(tiny_models):
    (tiny_models / "tiny-gpt.safetensors").unlink()
    assert "missing" in entry_named(tiny_models, "tiny-gpt").error


def test_truncated_weights(tiny_models):
    path = tiny_models / "tiny-gpt.safetensors"
    path.write_bytes(path.read_bytes()[:-1000])
    assert "truncated" in entry_named(tiny_models, "tiny-gpt").error


def test_pickle_is_not_safetensors(tiny_models):
    (tiny_models / "tiny-gpt.safetensors").write_bytes(pickle.dumps({"w": np.zeros(3)}))
    entry = entry_named(tiny_models, "tiny-gpt")
    assert "not a safetensors file" in entry.error
    with pytest.raises(catalog.ModelError):
        catalog.load_stepper(entry)


def test_card_that_does_not_match_its_weights(tiny_models):
    card_path = tiny_models / "tiny-gpt.json"
    card = json.loads(card_path.read_text())
    card["config"]["n_embd"] = 48
    card_path.write_text(json.dumps(card))
    assert "do not match the card" in entry_named(tiny_models, "tiny-gpt").error


def test_broken_card_json_and_other_models_still_listed(tiny_models):
    (tiny_models / "zz-broken.json").write_text("{ not json")
    write_tiny_gpt(tiny_models, name="second", seed=1)
    entries = {e.name: e for e in catalog.discover(tiny_models)}
    assert "not valid JSON" in entries["zz-broken"].error
    assert entries["tiny-gpt"].available and entries["second"].available


def damage_card(path, change):
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


@pytest.mark.parametrize("damage, reason", [
    (lambda card: card.update(weights=None), "not a file name"),
    (lambda card: card["config"].update(n_head=5), "cannot be used"),  # 5 heads do not divide the width
    (lambda card: card["config"].update(n_embd=-8), "cannot be used"),
    (lambda card: card.update(config=[1, 2]), "'config' is not a JSON object"),
])
def test_card_with_values_nothing_expects_is_unavailable_and_the_rest_listed(tiny_models, damage, reason):
    write_tiny_gpt(tiny_models, name="second", seed=1)
    damage_card(tiny_models / "tiny-gpt.json", damage)
    entries = {e.name: e for e in catalog.discover(tiny_models)}
    assert reason in entries["tiny-gpt"].error
    assert entries["second"].available
    with pytest.raises(catalog.ModelError):
        catalog.load_stepper(entries["tiny-gpt"])


def test_card_that_is_not_utf8(tiny_models):
    (tiny_models / "latin.json").write_bytes(b'{"name": "caf\xe9"}')
    assert "not UTF-8" in entry_named(tiny_models, "latin").error


def test_safetensors_table_without_shapes(tiny_models):
    path = tiny_models / "tiny-gpt.safetensors"
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    table = json.loads(data[8 : 8 + n])
    for name, tensor in table.items():
        if name != "__metadata__":
            del tensor["shape"]
    header = json.dumps(table).encode().ljust(n)  # same length, so the offsets still hold
    path.write_bytes(data[:8] + header + data[8 + n :])
    assert "bad tensor table" in entry_named(tiny_models, "tiny-gpt").error


def test_bundled_models_are_all_available():
    entries = catalog.discover()
    assert entries, "models/ holds no model card"
    for entry in entries:
        assert entry.available, f"{entry.name}: {entry.error}"
        card = entry.card
        for key in ("architecture", "dataset", "validation", "parameters", "training"):
            assert key in card, f"{entry.name} card lacks {key}"
        assert card["training"]["command"].startswith("arplayground-train")
        assert entry.weights_path.stat().st_size < 50_000_000


def test_typical_seconds_looks_up_the_digit_and_speaker_and_falls_back_to_any():
    card = {"speakers": ["ann", "bob"],
            "dataset": {"typical_seconds": {"3": {"any": 0.4, "ann": 0.3}, "any": {"any": 0.42, "bob": 0.5}}}}
    assert catalog.typical_seconds(card, 3, 0) == 0.3
    assert catalog.typical_seconds(card, 3, 1) == 0.4  # no figure for bob saying 3: any speaker's
    assert catalog.typical_seconds(card, None, 1) == 0.5 and catalog.typical_seconds(card, None, None) == 0.42
    assert catalog.typical_seconds(card, 5, None) is None  # a digit the card does not know
    assert catalog.typical_seconds({"speakers": ["ann"]}, 3, 0) is None  # a card written without them
    assert catalog.typical_seconds({"dataset": {"typical_seconds": {"any": {"any": "long"}}}}, None, None) is None


def test_the_bundled_audio_card_says_how_long_its_words_usually_are():
    entry = next(e for e in catalog.discover() if e.mode == "audio")
    assert 0.3 < catalog.typical_seconds(entry.card, None, None) < 0.6  # FSDD's median recording: 0.42 s
    assert all(0.2 < catalog.typical_seconds(entry.card, d, s) < 0.8 for d in range(10) for s in range(6))
