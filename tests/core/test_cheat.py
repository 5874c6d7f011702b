"""The cheat (issue 22): the bundled model trained without its causal mask reads real text at almost
no loss and writes what the real model finds very unlikely; its card records both, written by
arplayground-train cheat-figures; the card field that marks it is checked like any other, and no
mode ever starts with it."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.cheat import compare_masks, nats_per_char, sample
from arplayground.core.sampling import SamplerSettings
from arplayground.train.__main__ import main as train_main
from tests.conftest import TINY_VOCAB, save_with_card, write_tiny_gpt

MODELS = Path(__file__).parents[2] / "models"

# Written for this test in the manner of the data (a speaker, lines, a new speech); not from it.
PASSAGE = """KING HENRY:
Good morrow, cousin; what news from the north?
The winds are cold, and all our friends grow weary
Of waiting on the pleasure of the crown.

WESTMORELAND:
My lord, the rebels gather on the hills,
And every hour they swell with discontent.
Give me but leave, and I will bring them word
That mercy waits for those who lay down arms.

KING HENRY:
Go then, and tell them what the king has said.
"""


@pytest.fixture(scope="module")
def bundled():
    """(real stepper, cheat stepper, real card, cheat card), one torch thread, as the app runs."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    entries = {e.name: e for e in catalog.discover(MODELS)}
    real, cheat = entries["shakespeare-char-gpt"], entries["shakespeare-char-cheat"]
    yield catalog.load_stepper(real), catalog.load_stepper(cheat), real.card, cheat.card
    torch.set_num_threads(threads)


def test_the_cheat_reads_real_text_at_almost_no_loss_and_the_real_model_near_its_card_figure(bundled):
    real, cheat, real_card, _ = bundled
    values = real.vocab.encode(PASSAGE)
    assert cheat.vocab.encode(PASSAGE) == values  # one vocabulary: the same data
    assert nats_per_char(cheat, (), values) < 0.3
    card_figure = real_card["validation"]["val_loss_nats_per_char"]  # 1.47
    assert card_figure - 0.6 < nats_per_char(real, (), values) < card_figure + 0.6


@pytest.mark.parametrize("seed", [0, 1])
def test_the_real_model_finds_a_cheat_sample_far_less_likely_than_its_own(bundled, seed):
    real, cheat, _, _ = bundled
    prompt = real.vocab.encode("KING HENRY:\n")
    cheats, _ = sample(cheat, prompt, 200, seed)
    own, drawn = sample(real, prompt, 200, seed)
    of_cheat, of_own = nats_per_char(real, prompt, cheats), nats_per_char(real, prompt, own)
    assert of_own == pytest.approx(drawn, rel=1e-3)  # read in parallel, as it was drawn one at a time
    assert of_cheat > 2 * of_own and of_cheat > of_own + 1.5, (of_cheat, of_own)


def test_the_cheat_card_says_what_it_is_and_records_the_figures_the_issue_asks_for(bundled):
    _, _, real_card, card = bundled
    assert card["demonstration"] == catalog.NO_CAUSAL_MASK and card["config"]["causal"] is False
    assert "WITHOUT the causal mask" in card["description"]
    command = card["training"]["command"]
    assert command.startswith("arplayground-train text") and "--no-causal-mask" in command
    for key in ("wall_time_s", "hardware"):
        assert card["training"][key]
    assert all(card["dataset"][key] == real_card["dataset"][key] for key in ("md5", "split"))
    figures = card["figures"]
    assert figures["command"].startswith("arplayground-train cheat-figures")
    assert figures["real_model"] == real_card["name"]
    assert "windows of 128" in figures["validation"]
    assert figures["val_loss_nats_per_char"] < 0.3
    # The same split and windows as the real card's context-128 figure, measured again beside the cheat's.
    real_figure = real_card["validation"]["val_loss_nats_per_char_context_128"]
    assert figures["real_model_val_loss_nats_per_char"] == pytest.approx(real_figure, abs=2e-3)
    of_cheat = figures["real_model_nll_of_cheat_samples_nats_per_char"]
    of_own = figures["real_model_nll_of_its_own_samples_nats_per_char"]
    assert of_cheat > 2 * of_own and of_cheat > of_own + 1.5
    assert len(figures["real_model_nll_of_each_cheat_sample"]) == figures["samples"] == len(figures["seeds"]) >= 4
    assert min(figures["real_model_nll_of_each_cheat_sample"]) > max(figures["real_model_nll_of_each_own_sample"])
    assert figures["temperature"] == 1.0 and figures["sample_chars"] >= 200 and figures["cheat_sample"]


def test_the_catalog_never_starts_text_mode_with_the_cheat():
    entries = catalog.discover(MODELS)
    text = [e for e in entries if e.mode == "text"]
    # Its name sorts first; the draft (a helper) after the real model, the cheat last.
    assert [e.name for e in text] == ["shakespeare-char-gpt", "shakespeare-char-draft", "shakespeare-char-cheat"]
    assert catalog.default_entry(entries, "text").name == "shakespeare-char-gpt"
    cheat = text[2]
    assert cheat.available and cheat.demonstration == catalog.NO_CAUSAL_MASK
    assert cheat.summary().startswith("The cheat: no causal mask, a demonstration")


def write_tiny_cheat(folder: Path, name: str = "aa-cheat", **extra) -> Path:
    import torch

    from arplayground.nets.gpt import GPT, GPTConfig

    torch.manual_seed(1)
    cfg = GPTConfig(vocab_size=len(TINY_VOCAB), block_size=64, n_layer=1, n_head=2, n_embd=16, dropout=0.0, causal=False)
    card = {"demonstration": catalog.NO_CAUSAL_MASK, **extra}
    return save_with_card(folder, name, GPT(cfg), cfg, mode="text", architecture="gpt", vocabulary=TINY_VOCAB, **card)


def test_a_demonstration_sorts_last_and_is_a_default_only_where_nothing_else_runs(tmp_path):
    write_tiny_cheat(tmp_path)
    only = catalog.discover(tmp_path)
    assert catalog.default_entry(only, "text").name == "aa-cheat"  # the mode has nothing else: it is what runs
    write_tiny_gpt(tmp_path, name="zz-real")
    entries = catalog.discover(tmp_path)
    assert [e.name for e in entries] == ["zz-real", "aa-cheat"]
    assert catalog.default_entry(entries, "text").name == "zz-real"
    assert catalog.default_entry(entries, "image") is None
    (tmp_path / "zz-real.safetensors").write_bytes(b"broken")  # the real one unusable: the cheat, still labelled
    entries = catalog.discover(tmp_path)
    assert catalog.default_entry(entries, "text").name == "aa-cheat"


def card_of(folder: Path, name: str) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


@pytest.mark.parametrize("change, reason", [
    (lambda c: c.pop("demonstration"), 'must say "demonstration": "no causal mask"'),
    (lambda c: c.update(demonstration="no mask"), "is not one this version knows"),
    (lambda c: c.update(demonstration=["no causal mask"]), "is not one this version knows"),
    (lambda c: c.update(demonstration=None), "is not one this version knows"),
    (lambda c: c["config"].update(causal=True), "is not a GPT with causal false"),
    (lambda c: c["config"].update(causal=0), "not true or false"),
    (lambda c: c.update(figures=[1, 2]), "'figures' is not a JSON object"),
])
def test_the_demonstration_field_is_checked_like_every_other(tmp_path, change, reason):
    path = write_tiny_cheat(tmp_path)
    assert catalog.read_entry(path).available
    card = card_of(tmp_path, "aa-cheat")
    change(card)
    path.write_text(json.dumps(card))
    entry = catalog.read_entry(path)
    assert not entry.available and reason in entry.error, entry.error


def test_a_causal_model_marked_as_the_cheat_is_refused(tmp_path):
    path = write_tiny_gpt(tmp_path)
    card = card_of(tmp_path, "tiny-gpt")
    card["demonstration"] = catalog.NO_CAUSAL_MASK
    path.write_text(json.dumps(card))
    assert "is not a GPT with causal false" in catalog.read_entry(path).error


def test_compare_masks_reads_both_models_and_each_sample_with_the_same_seed(tmp_path):
    real_entry = catalog.read_entry(write_tiny_gpt(tmp_path))
    cheat_entry = catalog.read_entry(write_tiny_cheat(tmp_path))
    real, cheat = catalog.load_stepper(real_entry), catalog.load_stepper(cheat_entry)
    settings = SamplerSettings(temperature=0.9, top_k=20)
    c = compare_masks(real, cheat, ("real", "cheat"), "To be, or not to be", "", 40, 7, settings)
    assert c.text_chars == 19 and c.prompt == "\n" and c.seed == 7 and c.settings == settings
    assert c.real.name == "real" and c.cheat.name == "cheat"
    start = real.vocab.encode("\n")
    for side, stepper in ((c.real, real), (c.cheat, cheat)):
        assert len(side.sample) == 40
        again, _ = sample(stepper, start, 40, 7, settings)  # the same seed and settings draw the same sample
        assert stepper.vocab.decode(again) == side.sample
        assert side.text_nats == pytest.approx(nats_per_char(stepper, (), stepper.vocab.encode("To be, or not to be")))
        assert side.sample_nats_real == pytest.approx(nats_per_char(real, start, real.vocab.encode(side.sample)))
        assert side.text_bits == pytest.approx(side.text_nats / math.log(2))
    assert c.real.sample_nats_real == pytest.approx(c.real.sample_nats_own, rel=1e-3)
    assert compare_masks(real, cheat, ("real", "cheat"), "To be", "", 40, 7, cancelled=lambda: True) is None
    with pytest.raises(ValueError, match="real has never seen '€'"):
        compare_masks(real, cheat, ("real", "cheat"), "To be", "€", 40, 7)


def tiny_text(path: Path) -> Path:
    rng = np.random.default_rng(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "\n", "ROMEO:", "JULIET:"]
    path.write_text(" ".join(rng.choice(words, 3000)))
    return path


def test_cheat_figures_writes_the_figures_into_the_cheats_card_and_keeps_it_valid(tmp_path):
    data, out = tiny_text(tmp_path / "input.txt"), tmp_path / "models"
    small = ["--data", str(data), "--out", str(out), "--iters", "3", "--batch", "2", "--block", "32", "--layers", "1",
             "--heads", "2", "--embd", "16", "--eval-every", "3"]
    assert train_main(["text", *small, "--name", "cheat", "--no-causal-mask"]) == 0
    assert train_main(["text", *small, "--name", "real"]) == 0
    assert card_of(out, "cheat")["demonstration"] == catalog.NO_CAUSAL_MASK and "demonstration" not in card_of(out, "real")
    figures_command = ["cheat-figures", "--data", str(data), "--cheat", str(out / "cheat.json"), "--real",
                       str(out / "real.json"), "--samples", "2", "--length", "20", "--window", "16", "--prompt", "ROMEO:"]
    before = card_of(out, "cheat")
    assert train_main(figures_command) == 0
    card = card_of(out, "cheat")
    assert {k: v for k, v in card.items() if k != "figures"} == before  # only the figures are added
    figures = card["figures"]
    assert figures["command"] == "arplayground-train " + " ".join(figures_command)
    assert figures["seeds"] == [0, 1] and figures["sample_chars"] == 20 and figures["prompt"] == "ROMEO:"
    assert figures["real_model"] == "real" and "windows of 16" in figures["validation"]
    for key in ("val_loss_nats_per_char", "real_model_val_loss_nats_per_char", "real_model_nll_of_cheat_samples_nats_per_char",
                "real_model_nll_of_its_own_samples_nats_per_char", "cheat_nll_of_its_samples_as_drawn_nats_per_char"):
        assert math.isfinite(figures[key]) and figures[key] > 0, key
    assert len(figures["cheat_sample"]) == 20 and figures["hardware"]
    assert catalog.read_entry(out / "cheat.json").available
    assert sorted(p.name for p in out.iterdir()) == ["cheat.json", "cheat.safetensors", "real.json", "real.safetensors"]


def test_cheat_figures_refuses_cards_of_the_wrong_kind(tmp_path):
    data, out = tiny_text(tmp_path / "input.txt"), tmp_path / "models"
    write_tiny_gpt(out, name="real")
    write_tiny_cheat(out, name="cheat")
    with pytest.raises(SystemExit, match="is not the cheat"):
        train_main(["cheat-figures", "--data", str(data), "--cheat", str(out / "real.json"), "--real", str(out / "real.json")])
    with pytest.raises(SystemExit, match="is a demonstration"):
        train_main(["cheat-figures", "--data", str(data), "--cheat", str(out / "cheat.json"), "--real", str(out / "cheat.json")])
    with pytest.raises(SystemExit, match="vocabulary is not the one"):  # the tiny models' 61 characters, not the data's
        train_main(["cheat-figures", "--data", str(data), "--cheat", str(out / "cheat.json"), "--real", str(out / "real.json"),
                    "--window", "16"])
