"""Hostile files and broken models against the real window: it refuses with a reason, keeps what it
showed, never crashes, and closing never waits on a compile (issue: faults)."""

import json
import subprocess

import numpy as np
import pytest
from safetensors.torch import load_file, save_file

from arplayground.gui import worker
from tests.core.test_faults import CORRUPTIONS, DiskFullAfter, corrupt
from tests.gui.driver import WindowDriver


def text_run(qtbot, folder):
    """The window in Text mode after a short run: what a bad file must leave as it was."""
    d = WindowDriver.open(qtbot, folder, "text")
    d.set_run_length(text_steps=30)
    d.generate_and_wait()
    assert d.status() == "Done: 30 steps"
    return d


def audio_trace(qtbot, folder, tmp_path):
    """A real trace exported from an audio run, compact (the corruptions edit base64 columns), as a
    document to corrupt."""
    d = WindowDriver.open(qtbot, folder, "audio")
    d.set_run_length(audio_samples=300)
    d.generate_and_wait()
    path = tmp_path / "audio.trace.json"
    assert d.export_compact_trace(path)
    d.close()
    return path, json.loads(path.read_text())


def unchanged(d, text_before):
    assert d.mode == "text" and d.text_shown() == text_before
    assert d.steps() == 30 and not d.running()


@pytest.mark.parametrize("forced", [10**9, 256, -3])
def test_an_audio_trace_forcing_a_wild_level_is_refused_and_the_window_is_as_it_was(qtbot, all_models, tmp_path, forced):
    path, doc = audio_trace(qtbot, all_models, tmp_path)
    doc["forced"] = {"100": forced}  # the old app indexed the compiled embedding with it: a segfault
    path.write_text(json.dumps(doc))
    d = text_run(qtbot, all_models)
    before = d.text_shown()
    assert not d.open_trace(path)
    label = d.status()
    assert label.startswith("audio.trace.json")
    assert ("cannot be replayed with tiny-wavenet" in label and "outside the model's 256 values" in label) or (
        forced < 0 and f"a forced value must be a whole number from 0 to 2,147,483,647, not {forced}" in label)
    unchanged(d, before)
    d.close()


@pytest.mark.parametrize("name", ["prefix of strings", "seed beyond the seed box", "steps huge", "column shape changed", "settings with nan",
                                  "condition a dict", "forced key not a number", "branch a list", "mode a number"])
def test_a_malformed_trace_is_refused_with_a_reason_before_anything_changes(qtbot, all_models, tmp_path, name):
    path, doc = audio_trace(qtbot, all_models, tmp_path)
    path.write_text(json.dumps(corrupt(doc, CORRUPTIONS[name])))
    d = text_run(qtbot, all_models)
    before = d.text_shown()
    assert not d.open_trace(path)
    assert "audio.trace.json" in d.status()
    unchanged(d, before)
    d.close()


def test_a_trace_with_a_speaker_the_model_lacks_is_refused(qtbot, all_models, tmp_path):
    path, doc = audio_trace(qtbot, all_models, tmp_path)
    doc["condition"] = [2, 40]
    path.write_text(json.dumps(doc))
    d = text_run(qtbot, all_models)
    assert not d.open_trace(path)
    assert "label this model does not have" in d.status()
    d.close()


def test_the_good_trace_still_replays_identically(qtbot, all_models, tmp_path):
    path, _ = audio_trace(qtbot, all_models, tmp_path)
    d = text_run(qtbot, all_models)
    d.replay(path, timeout=20_000)
    assert d.mode == "audio" and "identical to the trace" in d.status()
    d.close()


def poison(card_path, tensor_name):
    """Write NaN into one tensor of the model's weights (shapes stay right: the catalog accepts it)."""
    weights = card_path.with_suffix(".safetensors")
    tensors = load_file(str(weights))
    tensors[tensor_name][..., 0] = float("nan")
    save_file(tensors, str(weights))


def test_a_model_that_outputs_nan_stops_and_says_at_which_step(qtbot, tiny_models):
    card = tiny_models / "tiny-gpt.json"
    poison(card, "transformer.ln_f.weight" if "transformer.ln_f.weight" in load_file(str(card.with_suffix(".safetensors")))
           else next(k for k in load_file(str(card.with_suffix(".safetensors"))) if k.endswith("ln_f.weight")))
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_run_length(text_steps=30)
    d.generate_and_wait()
    label = d.status()
    assert "tiny-gpt went wrong at step 1:" in label and "not finite numbers (NaN)" in label
    assert not label.startswith("Done") and d.steps() == 0
    d.close()


def test_an_audio_model_that_outputs_nan_stops_in_the_compiled_path(qtbot, tiny_audio_models):
    card = tiny_audio_models / "tiny-wavenet.json"
    name = next(k for k in load_file(str(card.with_suffix(".safetensors"))) if "head" in k and k.endswith("bias"))
    poison(card, name)
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    d.set_run_length(audio_samples=2000)
    d.generate_and_wait()
    assert "tiny-wavenet went wrong at step 1:" in d.status()
    assert not np.isnan(d.column("prob")).any()
    d.close()


def test_saves_and_exports_that_run_out_of_disk_keep_the_old_file(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_run_length(text_steps=400)
    d.generate_and_wait()
    old_trace, old_text = tmp_path / "run.trace.json", tmp_path / "run.txt"
    old_trace.write_bytes(b"x" * 5000)
    old_text.write_text("y" * 200)
    with DiskFullAfter(4096):
        assert not d.export_trace(old_trace)
        exported = d.status()
    with DiskFullAfter(100):
        assert not d.view("text").save_text(str(old_text))
    assert exported.startswith("Could not write") and "Could not save" in d.view("text").note.text()
    assert old_trace.read_bytes() == b"x" * 5000 and old_text.read_text() == "y" * 200
    d.choose_mode("image")
    d.generate_and_wait()
    png = tmp_path / "digit.png"
    png.write_bytes(b"z" * 3000)
    with DiskFullAfter(64):
        assert not d.view("image").save_png(str(png))
    assert png.read_bytes() == b"z" * 3000 and "Could not save" in d.view("image").note.text()
    assert not [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert d.view("image").save_png(str(png)) and png.read_bytes()[:4] == b"\x89PNG"  # and with room, it saves
    d.close()


class NeverReadyStepper:
    """The real stepper, whose kernels always need compiling; an in-process compile would block for good."""

    def __init__(self, stepper):
        self.stepper, self.warm_ups = stepper, 0

    def needs_compiling(self):
        return True

    def warm_up(self):
        self.warm_ups += 1
        raise AssertionError("the compile ran in the window's process")

    def __getattr__(self, name):
        return getattr(self.stepper, name)


def test_closing_the_window_during_the_first_compile_kills_the_compiler_and_waits_for_nothing(
        qtbot, tiny_image_models, monkeypatch):
    from arplayground import catalog

    children = []

    def slow_compiler(card_path):  # a compile that would take a minute
        child = subprocess.Popen(["sleep", "60"])
        children.append((card_path, child))
        return child

    monkeypatch.setattr(worker, "start_compiler", slow_compiler)
    d = WindowDriver.open(qtbot, tiny_image_models, "image")
    stepper = NeverReadyStepper(catalog.load_stepper(d.model_entry()))
    monkeypatch.setattr(d.window.steppers, "get", lambda entry: stepper)  # what the worker's load returns
    d.click_generate()
    d.wait_until(lambda: "Compiling" in d.status(), timeout=10_000)
    d.wait_until(lambda: len(children) == 1, timeout=10_000)
    card_path, child = children[0]
    assert card_path == d.model_entry().card_path
    d.close()  # returns once the worker has ended: it kills the compiler rather than wait for it
    assert not d.running() and child.poll() is not None  # killed, not left behind
    assert stepper.warm_ups == 0


def test_the_compiler_process_warms_a_model_from_its_card_and_refuses_a_broken_one(tiny_audio_models, tmp_path):
    from arplayground.kernels import wavenet as wavenet_kernels
    from arplayground.kernels.cache import compiled_on_disk

    assert worker.start_compiler(tiny_audio_models / "tiny-wavenet.json").wait(timeout=300) == 0
    assert compiled_on_disk(wavenet_kernels.network_step, wavenet_kernels.run_chunk)  # what the next run loads
    (tmp_path / "broken.json").write_text("[]")
    assert worker.start_compiler(tmp_path / "broken.json").wait(timeout=300) == 1


def test_an_ab_side_whose_model_turns_nan_says_where_it_stopped(qtbot, tiny_models):
    import torch

    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_run_length(text_steps=30)
    d.generate_and_wait()
    d.show_step(9)
    ab = d.open_ab()
    ab.run_and_wait()
    assert "NLL" in ab.nll_text("B")
    with torch.no_grad():  # side B's own model breaks: its next run meets NaN at once
        ab.side("B").steppers.held(d.model_entry()).model.lm_head.weight[3] = float("nan")
    ab.run_and_wait()
    assert ab.nll_text("B") == "Stopped at step 1 of this side: the model's output is not finite numbers (NaN)"
    assert "NLL" in ab.nll_text("A")
    d.close()


def test_the_steps_made_before_a_nan_reach_the_window_and_the_status_counts_them(qtbot, tiny_audio_models):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    d.view().play_live.setChecked(False)
    d.set_run_length(audio_samples=400)
    d.set_speed(1000)  # chunks of 16 samples
    d.generate_and_wait()
    assert d.status() == "Done: 400 steps"
    stepper = d.window.steppers.held(d.model_entry())  # the model the window holds, broken in place
    for weights in stepper._exported.values():  # the time condition's third knot: NaN from sample 100 on
        weights["t_gate"][:, 2:] = np.nan
    d.generate_and_wait()
    assert d.status().startswith("tiny-wavenet went wrong at step 101:")
    assert d.steps() == 96 and d.status().endswith("The run stopped; 96 steps before it are kept.")
    d.close()


def test_a_paste_or_a_trace_that_would_make_the_prompt_too_long_for_qt_is_refused(qtbot, tiny_models, tmp_path):
    from arplayground.gui.views.text import PROMPT_MAX

    d = text_run(qtbot, tiny_models)
    d.paste_prompt("a" * (PROMPT_MAX + 1))  # one line of 65,536+ characters froze Qt's layout for minutes
    assert d.prompt() == "to be" and d.prompt_message() is not None
    assert d.prompt_message().startswith("Not pasted: a prompt is at most 50,000 characters")
    d.paste_prompt(" and not")  # at the cursor: the start
    assert d.prompt() == " and notto be"
    path = tmp_path / "long.trace.json"
    assert d.export_trace(path)
    doc = json.loads(path.read_text())
    doc["prefix"] = [1] * (PROMPT_MAX + 1)
    path.write_text(json.dumps(doc))
    before = d.text_shown()
    assert not d.open_trace(path)
    assert "this model takes at most 50,000" in d.status()
    unchanged(d, before)
    d.close()


def test_a_long_prompt_is_read_whole_and_shown_by_its_end(qtbot, tiny_models, tmp_path):
    from arplayground.gui.views.text import PROMPT_SHOWN

    d = WindowDriver.open(qtbot, tiny_models, "text")
    prompt = "to be or not " * 1_000  # 13,000 characters
    d.set_prompt(prompt)
    d.set_run_length(text_steps=20)
    d.set_prompt(prompt)
    d.generate_and_wait()
    assert len(d.prefix()) == len(prompt)  # the model reads all of it
    assert d.text_shown().startswith("…" + prompt[-PROMPT_SHOWN:]) and len(d.generated_text()) == 20
    path = tmp_path / "out.txt"
    assert d.view("text").save_text(str(path)) and path.read_text() == prompt + d.generated_text()
    d.close()


def test_a_prompt_too_long_for_qt_on_the_command_line_is_not_used_and_says_so(qtbot, tiny_models):
    from arplayground.gui.views.text import PROMPT_MAX

    d = WindowDriver.open(qtbot, tiny_models, initial={"prompt": "a" * (PROMPT_MAX + 1), "temperature": 7.5}, show=False)
    note = d.sampler_note()
    assert "the prompt is 50,001 characters, more than 50,000: not used" in note and "temperature 7.5" in note
    assert d.prompt() == ""
    d.close()
