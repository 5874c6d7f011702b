"""Model > About this model…: every bundled card in words and as a plot, the picker's short line
with its About… link, and broken cards (missing fields, wrong types, junk) shown for what they hold,
never raising."""

import copy
import json
import random
from pathlib import Path

import pytest

from arplayground.gui.model_card_dialog import ModelCardDialog, duration_text, headline, read_card
from tests.gui.driver import WindowDriver

MODELS = Path(__file__).resolve().parents[2] / "models"
CARDS = sorted(MODELS.glob("*.json"))


def card(name: str) -> dict:
    return json.loads((MODELS / f"{name}.json").read_text())


@pytest.mark.parametrize("path", CARDS, ids=[p.stem for p in CARDS])
def test_every_bundled_card_shows_whole(qtbot, path):
    raw = json.loads(path.read_text())
    dialog = ModelCardDialog(raw)
    qtbot.addWidget(dialog)
    facts = dialog.facts
    assert facts.missing == [] and not dialog.missing_label.isVisibleTo(dialog)
    assert facts.title == raw["name"]
    text = facts.text()
    for needed in ("Architecture: ", "Config: ", "Parameters: ", "Data: ", "Split: ", "How measured: ", "Command: ",
                   "Wall time: ", "Hardware: ", raw["training"]["hardware"], raw["dataset"]["split"]):
        assert needed in text, needed
    assert f"{raw['parameters']:,}" in text
    history = raw["training"]["history"]
    assert facts.curves and all(len(c.xs) == len(history) for c in facts.curves)
    item = dialog.plot.getPlotItem()
    assert item.getAxis("bottom").labelText == facts.x_label and item.getAxis("left").labelText == facts.y_label
    assert len(item.listDataItems()) == len(facts.curves)
    assert [name for _, name in [(s, s.name()) for s in item.listDataItems()]] == [c.name for c in facts.curves]


def test_the_text_models_figures_in_words():
    facts = read_card(card("shakespeare-char-gpt"))
    text = facts.text()
    assert "Validation loss: 1.4702 nats per character (2.121 bits)" in text
    assert "Wall time: 56 min" in text and "Parameters: 2,671,680 (2.67 M)" in text
    assert "Command: arplayground-train text --data ../shared/datasets/tinyshakespeare/input.txt --threads 2" in text
    assert facts.x_label == "training iteration" and facts.y_label == "nats per character"
    train, validation = facts.curves
    assert (train.name, validation.name) == ("train loss", "validation loss subset")
    assert train.xs[0] == 250 and train.ys[0] == 1.9617 and validation.ys[-1] == 1.3489


def test_the_image_and_audio_models_figures_in_words():
    image = read_card(card("mnist-gated-pixelcnn"))
    assert "Validation: 1.0059 bits per dimension" in image.text()
    assert image.y_label == "bits per dimension" and image.x_label == "optimiser step"
    assert [c.name for c in image.curves] == ["train", "validation", "validation average"]
    audio = read_card(card("fsdd-wavenet"))
    assert "Test: 3.8346 bits per sample" in audio.text() and "Histogram baseline: 7.1843 bits per sample" in audio.text()
    assert "Wall time: 1 h 45 min (7 h 03 min with the earlier runs)" in audio.text()
    assert "Earlier run 1: arplayground-train audio" in audio.text()  # the runs it was trained on before
    assert audio.y_label == "bits per sample"


def test_short_lines_and_durations():
    assert headline(card("shakespeare-char-gpt")) == "GPT, 2.67 M parameters · 1.47 nats/char on validation"
    assert headline(card("mnist-gated-pixelcnn")) == "Gated PixelCNN, 567 k parameters · 1.01 bits/dim on validation"
    assert headline(card("fsdd-wavenet")) == "WaveNet, 199 k parameters · 3.83 bits/sample on test"
    assert headline({}) == "" and headline(None) == "" and headline({"architecture": 5, "validation": []}) == ""
    assert [duration_text(s) for s in (12, 130.4, 3406.5, 3600, 25396)] == ["12 s", "2 min", "56 min", "1 h 00 min",
                                                                            "7 h 03 min"]


BROKEN = {
    "not a dict": (["a", "list"], ["the whole card"]),
    "empty": ({}, ["the name", "the architecture", "the config", "the number of parameters", "the data and its split",
                   "validation figures", "the training"]),
    "wrong types": ({"name": 5, "architecture": ["gpt"], "config": "big", "parameters": "many", "dataset": "mnist",
                     "validation": [1.0], "training": "yes"},
                    ["the name", "the architecture", "the config", "the number of parameters", "the data and its split",
                     "validation figures", "the training"]),
    "hostile numbers": ({"name": "x", "parameters": 10**400, "validation": {"val_bits_per_dim": float("nan")},
                         "training": {"wall_time_s": float("inf"), "history": [{"step": True, "val_bits_per_dim": 1}]}},
                        ["the number of parameters", "validation figures with a unit", "the wall time",
                         "the loss history's steps"]),
    "history of junk": ({"training": {"command": "go", "history": [1, "two", None, {"iter": "3", "loss": 4},
                                                                   {"iter": 1, "loss": "nan"}]}},
                        ["readable figures in the loss history", "the hardware"]),
}


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_card_shows_what_it_has_and_says_what_is_missing(qtbot, name):
    raw, missing = BROKEN[name]
    dialog = ModelCardDialog(raw)
    qtbot.addWidget(dialog)
    for what in missing:
        assert any(m.startswith(what) for m in dialog.facts.missing), (what, dialog.facts.missing)
    assert dialog.missing_label.text().startswith("Not in this card (or not readable): ")
    assert not dialog.facts.curves and not dialog.plot.isVisibleTo(dialog)


def test_a_card_missing_only_its_history_still_shows_the_rest(qtbot):
    raw = card("shakespeare-char-gpt")
    del raw["training"]["history"]
    raw["name"] = "<b>not bold</b>" + "x" * 5000  # markup and a novel: shown as text, cut
    dialog = ModelCardDialog(raw)
    qtbot.addWidget(dialog)
    assert dialog.facts.missing == ["the training loss history"]
    assert "1.4702 nats per character" in dialog.facts.text() and dialog.facts.title.startswith("<b>not bold</b>")
    assert len(dialog.facts.title) == 2001


JUNK = [None, True, -1, 0, 1e308, float("nan"), 10**400, "", "x" * 3000, [], [1, {"a": 1}], {}, {"iter": 5}]


def mutate(value, rng: random.Random):
    """The card with one value somewhere in it (a field, a field's field, a history entry) replaced by junk or removed."""
    if isinstance(value, dict) and value and rng.random() < 0.7:
        key = rng.choice(list(value))
        if rng.random() < 0.2:
            del value[key]
        else:
            value[key] = mutate(value[key], rng)
        return value
    if isinstance(value, list) and value and rng.random() < 0.7:
        i = rng.randrange(len(value))
        value[i] = mutate(value[i], rng)
        return value
    return copy.deepcopy(rng.choice(JUNK))


def test_three_hundred_mutated_cards_never_raise(qtbot):
    rng = random.Random(24)
    originals = [json.loads(p.read_text()) for p in CARDS]
    for _ in range(300):
        raw = copy.deepcopy(rng.choice(originals))
        for _ in range(rng.randint(1, 4)):
            raw = mutate(raw, rng)
        facts = read_card(raw)
        assert isinstance(facts.text(), str) and isinstance(headline(raw), str)
    dialog = ModelCardDialog(raw)  # the last one also laid out and plotted
    qtbot.addWidget(dialog)


def test_the_picker_says_the_model_in_words_and_about_opens_its_card(qtbot):
    d = WindowDriver.open(qtbot, MODELS, "text")
    assert d.model_info() == "GPT, 2.67 M parameters · 1.47 nats/char on validation · About…"
    d.click_about_link()
    shown = d.dialog("card")
    assert shown.isVisible() and shown.windowTitle() == "About shakespeare-char-gpt"
    d.choose_mode("audio")
    assert d.model_info().startswith("WaveNet, 199 k parameters · 3.83 bits/sample on test")
    d.choose_menu("about_model")  # Model > About this model…: the model chosen now
    assert d.dialog("card").facts.title == "fsdd-wavenet" and not shown.isVisible()
    d.choose_mode("text")
    d.choose_model_named("shakespeare-char-draft")
    assert d.model_info().startswith("The draft for speculative decoding · GPT, 103 k parameters")
    d.close()


def test_a_model_line_with_markup_in_a_broken_cards_reason_is_shown_as_text(qtbot, tiny_models):
    (tiny_models / "<b>odd&amp.json").write_text("{not json")
    d = WindowDriver.open(qtbot, tiny_models, "text")
    first, second = d.model_info().splitlines()
    assert first.startswith("GPT, ") and first.endswith(" · About…")
    assert second.startswith("⚠ <b>odd&amp.json: ")
    d.close()
