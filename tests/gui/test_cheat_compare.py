"""Mask on/off in the window (issue 22): the real model and the cheat side by side on the same text,
as a person sees them; the picker never starts with the cheat; the comparison runs while a run is
paused and leaves it paused; refusals say why."""

import re
import shutil
from pathlib import Path

from tests.core.test_cheat import PASSAGE, write_tiny_cheat
from tests.gui.driver import WindowDriver

MODELS = Path(__file__).parents[2] / "models"


def bits(text: str) -> list[float]:
    """The bits/char figures a line states, in order."""
    return [float(x) for x in re.findall(r"([0-9]+\.[0-9]+) bits/char", text)]


def test_the_two_columns_show_the_cheat_reading_for_free_and_writing_garbage(qtbot):
    d = WindowDriver.open(qtbot, MODELS, "text")
    assert d.models() == ["shakespeare-char-gpt", "shakespeare-char-draft (the draft for speculative decoding)",
                          "shakespeare-char-cheat (the cheat: no causal mask)"]
    assert d.model_entry().name == "shakespeare-char-gpt"  # the real model is Text mode's default
    assert d.offers_mask_comparison()
    d.set_prompt(PASSAGE)
    d.set_seed(3)
    d.compare_masks()
    said = d.mask_comparison()
    assert said["shown"] and said["status"].startswith("Compared in")
    real, cheat = said["real"], said["cheat"]
    assert real["title"] == "shakespeare-char-gpt: causal mask on" and cheat["title"] == "shakespeare-char-cheat: no causal mask"
    assert f"{len(PASSAGE)} characters" in said["heading"] and "seed 3" in said["heading"]
    (real_on_text,), (cheat_on_text,) = bits(real["text"]), bits(cheat["text"])
    assert cheat_on_text < 0.3 and real_on_text > 1.0 and cheat_on_text < real_on_text / 5
    assert len(real["sample"]) == len(cheat["sample"]) == 300
    (real_sample,), (cheat_sample, cheat_own) = bits(real["read"]), bits(cheat["read"])
    assert "The real model reads this sample at" in cheat["read"] and "by its own reckoning" in cheat["read"]
    assert cheat_sample > real_sample + 1.0 and cheat_own > 0, (cheat_sample, real_sample)
    assert "each position saw the character it had to predict" in said["why"]
    assert "there is no future to copy" in said["why"]
    d.choose_mode("image")  # Mask on/off is Text mode's
    assert not d.offers_mask_comparison()
    d.close()


def test_the_comparison_runs_beside_a_paused_run_which_stays_paused_and_resumes(qtbot, tiny_models):
    write_tiny_cheat(tiny_models)
    d = WindowDriver.open(qtbot, tiny_models, "text")
    assert d.model_entry().name == "tiny-gpt" and d.models()[-1] == "aa-cheat (the cheat: no causal mask)"
    d.set_prompt("To be")
    d.set_length(12)
    d.step_times(3)
    assert d.paused() and d.steps() == 3
    d.compare_masks()  # the paused run holds the chosen model: the comparison has its own copy
    said = d.mask_comparison()
    assert said["status"].startswith("Compared in"), said["status"]
    assert said["heading"].startswith("The same 8 characters")  # the run shown, prompt included
    assert len(bits(said["real"]["text"])) == 1 and len(bits(said["cheat"]["text"])) == 1
    assert d.paused() and d.can_resume() and d.steps() == 3
    d.resume_to_the_end()
    assert d.steps() == 12
    d.set_prompt("Not this")  # a new text: compared again, from the prompt box now
    d.compare_masks_again()
    assert d.mask_comparison()["heading"].startswith("The same 8 characters")
    d.close()


def test_the_comparison_refuses_with_the_reason_when_a_model_is_missing_or_broken(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("To be")
    d.compare_masks()
    said = d.mask_comparison()
    assert said["heading"].startswith("No cheat model") and said["status"] == "Not compared"
    assert said["real"]["sample"] == said["cheat"]["sample"] == "" and said["why"] == ""
    d.close()

    write_tiny_cheat(tiny_models)
    (tiny_models / "aa-cheat.safetensors").write_bytes(b"\x00" * 4)
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("To be")
    d.compare_masks()
    assert d.mask_comparison()["heading"].startswith("The cheat model cannot be used: aa-cheat.json: ")
    d.close()


def test_with_only_the_cheat_there_is_no_real_model_to_compare_with(qtbot, tmp_path):
    folder = tmp_path / "models"
    write_tiny_cheat(folder)
    d = WindowDriver.open(qtbot, folder, "text")
    assert d.model_entry().name == "aa-cheat"  # nothing else runs in Text mode: still labelled as the cheat
    assert d.model_info().startswith("The cheat: no causal mask, a demonstration")
    d.set_prompt("To be")
    d.compare_masks()
    assert d.mask_comparison()["heading"].startswith("No real text model (one trained with its causal mask)")
    d.close()


def test_text_the_models_cannot_read_is_refused_before_anything_runs(qtbot, tiny_models):
    write_tiny_cheat(tiny_models)
    shutil.copy(tiny_models / "tiny-gpt.json", tiny_models / "copy.json")  # a second real card: harmless
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_prompt("To be 1")  # the tiny vocabulary has no digits
    d.compare_masks()
    said = d.mask_comparison()
    assert "has never seen '1'" in said["heading"] and said["status"] == "Not compared"
    d.close()
