"""`arplayground score FILE`: totals printed, a trace the app opens, refusals with a reason."""

import json

import numpy as np
import pytest

from arplayground.core.lab import load_trace
from arplayground.gui.app import main
from tests.gui.helpers import write_tone


def test_a_text_file_is_scored_and_its_trace_opens_with_the_same_total(all_models, tmp_path, capsys):
    text = tmp_path / "line.txt"
    text.write_text("To be, or not to be.")
    out = tmp_path / "line.json"
    assert main(["score", str(text), "--models", str(all_models), "--trace", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "20 chars" in printed and "bits/char" in printed
    total = float(printed.split("-log2 p(x) = ")[1].split(" bits")[0].replace(",", ""))
    branch, meta = load_trace(out)
    assert meta["mode"] == "text" and branch.scored_steps == 20 and len(branch.forced) == 20
    assert total == pytest.approx(-np.log2(branch.trace.column("prob").astype(np.float64)).sum(), abs=0.01)


def test_a_wav_is_scored_under_a_digit_and_speaker_with_the_classifier(all_models, tmp_path, capsys):
    wav = write_tone(tmp_path / "tone.wav", 0.1)
    assert main(["score", wav, "--models", str(all_models), "--digit", "3", "--speaker", "bob"]) == 0
    printed = capsys.readouterr().out
    assert "800 samples" in printed and "most likely digit" in printed and "digit 3's share" in printed


@pytest.mark.parametrize("content, args, reason", [
    ("Zebra ~ quagga", [], "does not know: '~'"),
    ("", [], "is empty"),
    ("abc", ["--digit", "3"], "takes no digit"),
    ("abc", ["--mode", "audio", "--speaker", "zed"], "--speaker must be one of"),
])
def test_refusals_say_why_and_write_nothing(all_models, tmp_path, capsys, content, args, reason):
    text = tmp_path / "in.txt"
    text.write_text(content)
    out = tmp_path / "out.json"
    assert main(["score", str(text), "--models", str(all_models), "--trace", str(out), *args]) == 2
    assert reason in capsys.readouterr().err
    assert not out.exists()


def test_a_file_whose_mode_cannot_be_told_is_refused(all_models, tmp_path, capsys):
    odd = tmp_path / "notes.dat"
    odd.write_bytes(b"\x00\x01")
    assert main(["score", str(odd), "--models", str(all_models)]) == 2
    assert "--mode" in capsys.readouterr().err
    not_wav = tmp_path / "fake.wav"
    not_wav.write_text("hello")
    assert main(["score", str(not_wav), "--models", str(all_models)]) == 2
    assert "fake.wav" in capsys.readouterr().err


def test_a_png_is_read_as_open_png_reads_it_and_scored_under_its_digit(all_models, tmp_path, capsys):
    from arplayground.core.lab import load_trace
    from arplayground.gui.image_files import write_png

    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a one
    png = tmp_path / "one.png"
    write_png(str(png), digit)
    out = tmp_path / "one.json"
    assert main(["score", str(png), "--models", str(all_models), "--digit", "1", "--trace", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "784 dims" in printed and "bits/dim" in printed and "digit 1's share" in printed
    branch, meta = load_trace(out)
    assert meta["mode"] == "image" and branch.condition == 1
    np.testing.assert_array_equal(branch.trace.values, digit.reshape(-1))
