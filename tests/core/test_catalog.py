"""Model cards and weights: good ones load, broken ones are listed with a reason."""

import json
import pickle

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
