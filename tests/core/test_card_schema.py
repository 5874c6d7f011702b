"""The card schema: its tables follow the nets' configs, its arithmetic shapes are the real
state_dicts', and every field of the wrong type or size is refused with its reason."""

import dataclasses
import json
import math
from pathlib import Path

import pytest

from arplayground import catalog
from arplayground.nets.gpt import GPT, GPTConfig
from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig
from arplayground.nets.wavenet import WaveNet, WaveNetConfig
from tests.conftest import TINY_SPEAKERS, TINY_VOCAB

BUNDLED = sorted((Path(__file__).parents[2] / "models").glob("*.json"))
NETS = {"gpt": (GPT, GPTConfig), "gated-pixelcnn": (PixelCNN, PixelCNNConfig), "wavenet": (WaveNet, WaveNetConfig)}


@pytest.mark.parametrize("architecture", sorted(NETS))
def test_each_table_names_every_config_field_with_the_dataclass_default(architecture):
    table = catalog.ARCHITECTURES[architecture].config
    fields = {f.name: f.default for f in dataclasses.fields(NETS[architecture][1])}
    assert {k: b.default for k, b in table.items()} == fields
    for key, bound in table.items():
        assert bound.lowest <= bound.default <= bound.highest, key
        assert isinstance(bound.default, bound.kind), key


def real_tensors(net) -> list:
    """What catalog did before: build the net, group its state_dict by shared tensor."""
    groups = {}
    for name, p in net.state_dict(keep_vars=True).items():
        groups.setdefault(id(p), ([], tuple(p.shape)))[0].append(name)
    return [(tuple(names), shape) for names, shape in groups.values()]


SMALL_CONFIGS = [
    ("gpt", {"vocab_size": 5, "block_size": 8, "n_layer": 2, "n_head": 2, "n_embd": 8}),
    ("gpt", {"vocab_size": 3, "block_size": 16, "n_layer": 1, "n_head": 1, "n_embd": 6}),
    ("gated-pixelcnn", {"channels": 4, "n_layers": 2, "kernel": 3, "first_kernel": 5, "extra_labels": 1}),
    ("gated-pixelcnn", {"channels": 3, "n_layers": 1, "kernel": 7, "first_kernel": 3}),
    ("wavenet", {"residual": 4, "skip": 6, "cycle": 2, "n_cycles": 1, "time_knots": 3, "time_features": 5}),
    ("wavenet", {"residual": 3, "skip": 5, "cycle": 3, "n_cycles": 2, "n_speakers": 2}),
]
BUNDLED_CONFIGS = [(c["architecture"], c["config"]) for c in (json.loads(p.read_text()) for p in BUNDLED)]


@pytest.mark.parametrize("architecture, config", BUNDLED_CONFIGS + SMALL_CONFIGS)
def test_the_arithmetic_shapes_are_the_real_state_dicts(architecture, config):
    net_class, config_class = NETS[architecture]
    net = net_class(config_class(**config))
    full = {k: b.default for k, b in catalog.ARCHITECTURES[architecture].config.items()} | config
    computed = catalog.ARCHITECTURES[architecture].tensors(full)
    assert computed == real_tensors(net)  # names, shapes, ties and order
    assert sum(math.prod(shape) for _, shape in computed) == net.num_params()


def test_the_bundled_cards_parameter_counts_match_the_arithmetic():
    for path in BUNDLED:
        entry = catalog.read_entry(path)
        assert entry.available, entry.error
        assert entry.parameters == entry.card["parameters"], path.name
        assert f"{entry.parameters:,} parameters" in entry.summary()


def test_the_bundled_models_sit_well_inside_every_bound():
    for path in BUNDLED:
        card = json.loads(path.read_text())
        architecture, config, tensors = catalog.validate_card(card)
        assert sum(math.prod(s) for _, s in tensors) < catalog.MAX_PARAMETERS / 10
        assert architecture.working_floats(config) < catalog.MAX_WORKING_FLOATS / 4
        assert path.stat().st_size < catalog.MAX_CARD_BYTES / 20


def tiny_card(architecture: str) -> dict:
    if architecture == "gpt":
        config = {"vocab_size": len(TINY_VOCAB), "block_size": 128, "n_layer": 2, "n_head": 2, "n_embd": 32}
        return {"name": "t", "mode": "text", "architecture": "gpt", "weights": "t.safetensors", "config": config,
                "vocabulary": list(TINY_VOCAB)}
    if architecture == "gated-pixelcnn":
        config = {"channels": 8, "n_layers": 2, "kernel": 3, "first_kernel": 3}
        return {"name": "p", "mode": "image", "architecture": "gated-pixelcnn", "weights": "p.safetensors", "config": config}
    config = {"residual": 8, "skip": 16, "cycle": 4, "n_cycles": 1, "n_speakers": 3}
    return {"name": "w", "mode": "audio", "architecture": "wavenet", "weights": "w.safetensors", "config": config,
            "speakers": list(TINY_SPEAKERS)}


@pytest.mark.parametrize("architecture", sorted(NETS))
def test_the_tiny_cards_pass(architecture):
    catalog.validate_card(tiny_card(architecture))


def with_config(**changes):
    return lambda card: card["config"].update(changes)


def with_card(**changes):
    return lambda card: card.update(changes)


REFUSED = [
    # (architecture, change, words of the reason)
    ("gpt", with_card(name=5), "name is not a string"),
    ("gpt", with_card(name=""), "name is empty"),
    ("gpt", with_card(name="x" * 101), "longer than 100"),
    ("gpt", with_card(name="a\nb"), "holds a control or format character"),
    ("gpt", with_card(name="evil\u202egpt"), "holds a control or format character"),
    ("gpt", with_card(name="\ud800"), "holds a control or format character"),
    ("gpt", with_card(mode=["text"]), "mode (a JSON array) is not one"),
    ("gpt", with_card(mode="image"), "mode is image, but gpt models are text models"),
    ("gpt", with_card(architecture="transformer-xl"), "architecture ('transformer-xl') is not one"),
    ("gpt", with_card(architecture=None), "architecture (None) is not one"),
    ("gpt", with_card(weights="../x.safetensors"), "not a file name in the models folder"),
    ("gpt", with_card(weights="/etc/passwd"), "not a file name in the models folder"),
    ("gpt", with_card(weights="sub/x.safetensors"), "not a file name"),
    ("gpt", with_card(weights="..\\x.safetensors"), "not a file name"),
    ("gpt", with_card(weights="C:x.safetensors"), "not a file name"),
    ("gpt", with_card(weights="x\x00.safetensors"), "not a file name"),
    ("gpt", with_card(weights=".."), "not a file name"),
    ("gpt", with_card(weights=""), "not a file name"),
    ("gpt", with_card(weights=7), "not a file name"),
    ("gpt", with_card(config=[]), "'config' is not a JSON object"),
    ("gpt", with_card(validation=[1]), "'validation' is not a JSON object"),
    ("gpt", with_card(dataset="mnist"), "'dataset' is not a JSON object"),
    ("gpt", with_card(training=None), "'training' is not a JSON object"),
    ("gpt", with_card(description=3), "'description' is not text"),
    ("gpt", with_card(parameters="many"), "'parameters' ('many') is not a count"),
    ("gpt", with_card(parameters=True), "not a count"),
    ("gpt", with_card(parameters=-1), "not a count"),
    ("gpt", with_config(n_layer=10**9), "n_layer is 1000000000; this version takes 1 to 64"),
    ("gpt", with_config(n_layer=0), "takes 1 to 64"),
    ("gpt", with_config(n_layer=2.0), "not a whole number"),
    ("gpt", with_config(n_layer=True), "not a number"),
    ("gpt", with_config(n_layer="2"), "not a number"),
    ("gpt", with_config(n_layer=None), "not a number"),
    ("gpt", with_config(dropout=float("nan")), "dropout is nan"),
    ("gpt", with_config(rope_base=float("inf")), "rope_base is inf"),
    ("gpt", with_config(rope_base=0), "takes 2 to 1e+09"),
    ("gpt", with_config(block_size=10**6), "block_size"),
    ("gpt", with_config(n_embd=33, n_head=3), "must be even"),
    ("gpt", with_config(n_head=5), "not a multiple of n_head"),
    ("gpt", with_config(flash=True), "fields this version does not know: 'flash'"),
    ("gpt", with_card(vocabulary=None), "no 'vocabulary' list"),
    ("gpt", with_card(vocabulary=list(TINY_VOCAB[:-1])), "vocabulary has 60 entries, its vocab_size is 61"),
    ("gpt", with_card(vocabulary=list(TINY_VOCAB[:-1]) + ["a"]), "holds 'a' more than once"),
    ("gpt", with_card(vocabulary=list(TINY_VOCAB[:-1]) + ["ab"]), "vocabulary entry 60 ('ab') is not one character"),
    ("gpt", with_card(vocabulary=list(TINY_VOCAB[:-1]) + [1]), "is not one character"),
    ("gpt", with_card(vocabulary=list(TINY_VOCAB[:-1]) + ["\udc00"]), "is not one character"),
    ("gpt", with_config(n_layer=64, block_size=8192, n_embd=512, n_head=8), "MB of caches"),
    ("gated-pixelcnn", with_config(kernel=4), "kernel 4 is even"),
    ("gated-pixelcnn", with_config(first_kernel=9.5), "not a whole number"),
    ("gated-pixelcnn", with_config(height=32), "height is 32; this version takes 28 (the image view draws 28 x 28 images)"),
    ("gated-pixelcnn", with_config(levels=16), "256 grey levels"),
    ("gated-pixelcnn", with_config(n_classes=100), "digits 0-9"),
    ("gated-pixelcnn", with_config(channels=1024, n_layers=64), "MB of caches"),
    ("gated-pixelcnn", with_card(mode="text"), "but gated-pixelcnn models are image models"),
    ("wavenet", with_config(sample_rate=16000), "plays 8 kHz"),
    ("wavenet", with_config(cycle=40), "cycle is 40; this version takes 1 to 16"),
    ("wavenet", with_config(cycle=16, n_cycles=16, residual=64), "MB of caches"),
    ("wavenet", with_config(residual=1024, skip=2048, n_cycles=16, cycle=1), "parameters; this version loads at most"),
    ("wavenet", with_config(time_knots=10**6), "time_knots"),
    ("wavenet", with_card(speakers=["ann", "bob"]), "names 2 speakers, its n_speakers is 3"),
    ("wavenet", with_card(speakers="ann bob cy"), "no 'speakers' list"),
    ("wavenet", with_card(speakers=["ann", 5, "cy"]), "speaker 1 (5) is not a string"),
    ("wavenet", with_card(speakers=["ann", "", "cy"]), "speaker 1 ('') is empty"),
]


@pytest.mark.parametrize("architecture, change, reason", REFUSED)
def test_a_field_of_the_wrong_type_or_size_is_refused_with_its_reason(architecture, change, reason):
    card = tiny_card(architecture)
    change(card)
    with pytest.raises(catalog.ModelError) as refused:
        catalog.validate_card(card)
    assert reason in str(refused.value)
    assert len(str(refused.value)) < 300  # a reason, not the value a stranger put there


@pytest.mark.parametrize("card", [[], 5, "card", None, [{"name": "x"}]])
def test_a_card_that_is_not_an_object_is_refused(card):
    with pytest.raises(catalog.ModelError, match="not a JSON object"):
        catalog.validate_card(card)


@pytest.mark.parametrize("missing", ["name", "mode", "architecture", "weights", "config"])
def test_a_card_without_a_required_field_is_refused(missing):
    card = tiny_card("gpt")
    del card[missing]
    with pytest.raises(catalog.ModelError, match=f"the card has no '{missing}'"):
        catalog.validate_card(card)


def test_a_config_that_omits_fields_gets_the_defaults():
    card = tiny_card("wavenet")
    _, config, _ = catalog.validate_card(card)
    assert config["time_knots"] == 0 and config["sample_rate"] == 8000
    assert dataclasses.asdict(WaveNetConfig(**config)) == config


def test_a_value_quoted_in_a_reason_is_cut_short():
    card = tiny_card("gpt")
    card["weights"] = "x" * 10_000
    with pytest.raises(catalog.ModelError) as refused:
        catalog.validate_card(card)
    assert len(str(refused.value)) < 200
