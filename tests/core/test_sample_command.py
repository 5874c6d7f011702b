"""`arplayground sample`: one sample written and the process done, with the values of the core loop
the window's worker drives (core.generate.run_steps) for the same settings and seed; refusals exit
2 with the reason. The window's own run is compared in tests/gui/test_sample_like_the_window.py."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from arplayground import catalog
from arplayground.audio.wav import write_wav
from arplayground.core.generate import run_steps
from arplayground.core.lab import load_trace
from arplayground.core.mulaw import decode
from arplayground.core.sampling import SamplerSettings
from arplayground.gui import sample_command
from arplayground.gui.app import main as app_main
from arplayground.gui.image_files import encode_png
from tests.conftest import write_tiny_pixelcnn, write_tiny_wavenet


@pytest.fixture
def models(tiny_models):
    write_tiny_pixelcnn(tiny_models)
    write_tiny_wavenet(tiny_models)
    return tiny_models


def core_values(folder, mode: str, prefix, n_steps: int, settings: SamplerSettings, seed: int, condition=None):
    """What the window's worker would draw: its loop, on the mode's first model, steps joined."""
    entry = catalog.default_entry(catalog.discover(folder), mode)
    stepper = catalog.load_stepper(entry)
    blocks = list(run_steps(stepper, prefix, n_steps, lambda: settings, seed, condition, chunk_steps=256))
    return np.concatenate([b.values for b in blocks]), entry


def sample(*argv) -> int:
    return app_main(["sample", *map(str, argv)])


def test_text_is_the_core_loops_run_prompt_included_and_its_trace_replays_the_same(models, tmp_path, capsys):
    out, trace = tmp_path / "s.txt", tmp_path / "s.json"
    rc = sample("--mode", "text", "--models", models, "--prompt", "to be", "--length", 40, "--seed", 7,
                "--temperature", 0.737, "--top-k", 9, "--top-p", 0.95, "--out", out, "--trace", trace)
    assert rc == 0
    entry = catalog.default_entry(catalog.discover(models), "text")
    vocab = catalog.vocabulary(entry)
    values, _ = core_values(models, "text", tuple(vocab.encode("to be")), 40, SamplerSettings(0.737, 9, 0.95, 1.0), 7)
    assert out.read_text(encoding="utf-8") == "to be" + vocab.decode(values.tolist())
    branch, meta = load_trace(trace)
    assert branch.trace.values.tolist() == values.tolist() and branch.seed == 7 and meta["mode"] == "text"
    assert branch.trace[0].settings == SamplerSettings(0.737, 9, 0.95, 1.0)
    said = capsys.readouterr()
    assert "40 characters from tiny-gpt, seed 7" in said.out and "[#" not in said.err  # no bar: not a terminal
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models", "s.json", "s.txt"]  # no temporary file left


def test_text_defaults_are_the_windows_a_new_line_and_500_characters(models, tmp_path):
    out = tmp_path / "s.txt"
    assert sample("--mode", "text", "--models", models, "--out", out) == 0
    entry = catalog.default_entry(catalog.discover(models), "text")
    vocab = catalog.vocabulary(entry)
    values, _ = core_values(models, "text", tuple(vocab.encode("\n")), 500, SamplerSettings(), 1234)
    assert out.read_text(encoding="utf-8") == "\n" + vocab.decode(values.tolist())


def test_an_image_with_guidance_is_the_core_loops_and_a_grid_puts_image_i_at_seed_plus_i(models, tmp_path):
    out = tmp_path / "seven.png"
    assert sample("--mode", "image", "--models", models, "--digit", 7, "--guidance", 1.5, "--seed", 3, "--out", out) == 0
    values, _ = core_values(models, "image", (), 784, SamplerSettings(guidance=1.5), 3, condition=7)
    assert out.read_bytes() == encode_png(values.astype(np.uint8).reshape(28, 28))

    grid = tmp_path / "grid.png"
    assert sample("--mode", "image", "--models", models, "--grid", "digits", "--seed", 3, "--top-k", 40, "--out", grid) == 0
    expected = np.full((2 * 30 - 2, 5 * 30 - 2), 128, np.uint8)
    for digit in range(10):  # each cell as a single run of its own would draw it
        cell, _ = core_values(models, "image", (), 784, SamplerSettings(top_k=40), 3 + digit, condition=digit)
        r, c = divmod(digit, 5)
        expected[r * 30 : r * 30 + 28, c * 30 : c * 30 + 28] = cell.reshape(28, 28)
    assert grid.read_bytes() == encode_png(expected)


def test_a_grid_is_written_as_one_trace_of_lanes_compact_on_request(models, tmp_path, capsys):
    out, trace = tmp_path / "grid.png", tmp_path / "grid.json"
    assert sample("--mode", "image", "--models", models, "--grid", "2x2", "--digit", 4, "--seed", 2, "--out", out,
                  "--trace", trace, "--compact-trace") == 0
    assert "trace written to" in capsys.readouterr().out
    branch, meta = load_trace(trace)
    doc = json.loads(trace.read_text())
    assert meta["lanes"] == 4 and branch.condition == [4, 4, 4, 4] and doc["trace"]["encoding"] == "base64"
    for image in range(4):  # image i of the grid is the single run with seed 2 + i
        cell, _ = core_values(models, "image", (), 784, SamplerSettings(), 2 + image, condition=4)
        assert branch.values[image::4].tolist() == cell.tolist()


def test_audio_is_the_core_loops_clip_under_a_digit_and_speaker(models, tmp_path):
    out = tmp_path / "four.wav"
    rc = sample("--mode", "audio", "--models", models, "--digit", 4, "--speaker", "bob", "--length", 0.05,
                "--guidance", 2, "--seed", 11, "--out", out)
    assert rc == 0
    values, _ = core_values(models, "audio", (), 400, SamplerSettings(guidance=2.0), 11, condition=(4, 1))
    write_wav(tmp_path / "expected.wav", decode(values))
    assert out.read_bytes() == (tmp_path / "expected.wav").read_bytes()


def test_audio_lasts_the_windows_default_without_a_typical_length_on_the_card(models, tmp_path, capsys):
    assert sample("--mode", "audio", "--models", models, "--out", tmp_path / "a.wav") == 0
    assert "6,400 samples" in capsys.readouterr().out  # 0.8 s at 8 kHz, the Length box's start


def test_values_past_a_sliders_range_are_clamped_with_the_windows_note(models, tmp_path, capsys):
    out = tmp_path / "s.txt"
    assert sample("--mode", "text", "--models", models, "--length", 5, "--top-k", 1000, "--temperature", 9,
                  "--out", out, "--trace", tmp_path / "t.json") == 0
    err = capsys.readouterr().err
    assert "top-k 1000 is out of range: using 61" in err and "temperature 9 is out of range: using 2" in err
    branch, _ = load_trace(tmp_path / "t.json")
    assert branch.trace[0].settings == SamplerSettings(2.0, 61, 1.0, 1.0)


@pytest.mark.parametrize("argv, reason", [
    (["--mode", "text", "--out", "x.png"], "--out must name a .txt file for text, not x.png"),
    (["--mode", "image", "--out", "x.txt"], "--out must name a .png file for image"),
    (["--mode", "text", "--digit", "3", "--out", "x.txt"], "a text model takes no --digit"),
    (["--mode", "text", "--guidance", "2", "--out", "x.txt"], "guidance needs a condition"),
    (["--mode", "text", "--prompt", "€uro", "--out", "x.txt"], "the model has never seen '€'"),
    (["--mode", "text", "--length", "2.5", "--out", "x.txt"], "a whole number of characters"),
    (["--mode", "image", "--length", "3", "--out", "x.png"], "an image is always whole"),
    (["--mode", "image", "--grid", "digits", "--digit", "1", "--out", "x.png"], "draws each digit once"),
    (["--mode", "text", "--compact-trace", "--out", "x.txt"], "give --trace FILE.json too"),
    (["--mode", "audio", "--speaker", "zed", "--out", "x.wav"], "--speaker must be one of ann, bob, cy"),
    (["--mode", "audio", "--trace", "t.txt", "--out", "x.wav"], "--trace must name a .json file"),
    (["--mode", "audio", "--model", "nope", "--out", "x.wav"], "no audio model called nope found"),
    (["--mode", "text", "--out", "missing/x.txt"], "the folder missing does not exist"),
])
def test_refusals_exit_2_with_the_reason_and_write_nothing(models, tmp_path, monkeypatch, capsys, argv, reason):
    monkeypatch.chdir(tmp_path)
    assert sample("--models", models, *argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("arplayground sample: ") and reason in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_an_unknown_option_or_a_bad_number_is_argparses_exit_2(capsys):
    for argv in (["--mode", "text"], ["--mode", "text", "--out", "x.txt", "--seed", "-1"], ["--mode", "music", "--out", "x"]):
        with pytest.raises(SystemExit) as stopped:
            sample(*argv)
        assert stopped.value.code == 2
    assert "usage: arplayground sample" in capsys.readouterr().err


def test_a_models_folder_without_the_mode_is_refused(tmp_path, capsys):
    assert sample("--mode", "image", "--models", tmp_path, "--out", tmp_path / "x.png") == 2
    assert "no image model found" in capsys.readouterr().err


def test_an_existing_file_is_replaced_whole(models, tmp_path):
    out = tmp_path / "s.txt"
    out.write_text("old " * 1000)
    assert sample("--mode", "text", "--models", models, "--length", 3, "--prompt", "a", "--out", out) == 0
    assert len(out.read_text()) == 4


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_the_progress_bar_draws_on_a_terminal_only():
    shown = Terminal()
    bar = sample_command.Progress(784, "pixels", shown)
    bar.update(392, final=False)
    bar.update(784, final=True)
    assert shown.getvalue().endswith("\r[" + "#" * 30 + "] 784/784 pixels\n")
    assert "[" + "#" * 15 + "." * 15 + "] 392/784 pixels" in shown.getvalue()
    piped = io.StringIO()
    sample_command.Progress(784, "pixels", piped).update(784, final=True)
    assert piped.getvalue() == ""


def test_the_help_lists_the_commands_and_the_window_stays_the_default(capsys):
    with pytest.raises(SystemExit) as stopped:
        app_main(["--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "arplayground score" in out and "arplayground sample" in out and "the window opens" in out
    with pytest.raises(SystemExit):
        app_main(["sample", "--help"])
    out = capsys.readouterr().out
    for option in ("--temperature", "--top-k", "--top-p", "--guidance", "--seed", "--length", "--grid", "--trace",
                   "--compact-trace"):
        assert option in out
