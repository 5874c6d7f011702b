"""What a new window starts with: in Image and Audio a digit (and, with the bundled model, a speaker)
and the guidance the project's own benchmarks measured as reading best, with those figures in the
slider's tooltip; `arplayground sample` takes the same defaults."""

import re
from pathlib import Path

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.sampling import SamplerSettings
from arplayground.gui import sample_command
from arplayground.gui.sampler_controls import MODE_GUIDANCE, default_settings
from arplayground.gui.views import audio as audio_view
from arplayground.gui.views import image as image_view
from tests.gui.driver import WindowDriver

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "models"


def measured(section: str) -> dict[float, tuple[str, ...]]:
    """The summary rows of a benchmark's section of docs/benchmarks.md, by guidance: how many were
    read right (image: of how many; audio: also the clip loudness)."""
    docs = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    body = docs.split(f"<!-- bench:{section} -->")[1].split(f"<!-- /bench:{section} -->")[0]
    if section == "image_digits":  # | guidance | 96/100 (96%) | 0.942 |
        rows = re.findall(r"^\| ([\d.]+) \| (\d+)/(\d+) \(", body, re.M)
        return {float(g): (right, f"{right} of {n}") for g, right, n in rows}
    # | model | card | length | temperature | top-p | guidance | clean | hiss-tolerant | RMS | chance |
    rows = re.findall(r"^\| fsdd-wavenet \| [^|]+ \| typical \| 1\.0 \| 1\.0 \| ([\d.]+) \| (\d+) of (\d+) \| \d+ of \d+ \| "
                      r"([\d.]+) \|", body, re.M)
    return {float(g): (right, f"{right} of {n}", rms) for g, right, n, rms in rows}


def test_each_mode_starts_with_its_measured_guidance_a_digit_and_the_best_read_speaker(qtbot):
    d = WindowDriver.open(qtbot, BUNDLED, "text", show=False)
    try:
        assert d.settings() == default_settings("text") == SamplerSettings()  # text: every stage off
        assert not d.window.guidance.isEnabled()

        d.choose_mode("image")
        assert d.settings() == default_settings("image") and d.settings().guidance == MODE_GUIDANCE["image"] > 1
        assert d.digit() == image_view.DEFAULT_DIGIT is not None
        assert d.view().digit_box.findData(None) == 0  # "any digit" is still there to choose

        d.choose_mode("audio")
        assert d.settings() == default_settings("audio") and d.settings().guidance == MODE_GUIDANCE["audio"] > 1
        assert d.digit() == audio_view.DEFAULT_DIGIT is not None
        assert d.speaker() == audio_view.DEFAULT_SPEAKER  # the bundled model has the speaker
        assert d.view().speaker_box.findText("any speaker") == 0
    finally:
        d.close()


def test_a_speaker_the_model_does_not_have_leaves_any_speaker(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "audio", show=False)  # the tiny model's speakers: ann, bob, cy
    try:
        assert d.speaker() == "any speaker" and d.digit() == audio_view.DEFAULT_DIGIT
    finally:
        d.close()


def test_each_mode_keeps_its_own_guidance_and_text_leaves_the_slider_where_it_was(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image", show=False)
    try:
        d.set_guidance(2.5)
        d.choose_mode("audio")
        assert d.slider("guidance") == MODE_GUIDANCE["audio"]  # audio's own start, not the image's 2.5
        d.set_guidance(1.0)
        d.choose_mode("text")
        assert d.slider("guidance") == 1.0 and d.settings().guidance == 1.0  # disabled, in its place
        d.choose_mode("image")
        assert d.slider("guidance") == 2.5
        d.choose_mode("audio")
        assert d.slider("guidance") == 1.0
    finally:
        d.close()


@pytest.mark.parametrize("mode, section", [("image", "image_digits"), ("audio", "audio_digits")])
def test_the_guidance_tooltip_says_what_it_means_and_gives_the_benchmarks_figures(qtbot, all_models, mode, section):
    d = WindowDriver.open(qtbot, all_models, mode, show=False)
    try:
        tip = d.guidance_tip()
        assert "how hard each step leans on the digit" in tip and "At 1 it is off" in tip and "any digit" in tip
        figures = measured(section)  # as benchmarks/*_digits.py --write-docs last wrote them
        best = MODE_GUIDANCE[mode]
        assert best in figures and 1.0 in figures
        assert f"guidance {best:g}: {figures[best][1]}" in tip and f"against {figures[1.0][0]} at 1" in tip
        if mode == "audio":  # and how loud, beside the unguided clips'
            assert f"RMS {figures[best][2]} against {figures[1.0][2]} at 1" in tip
        assert f"benchmarks/{section}.py" in tip
        d.choose_mode("text")
        assert "has none" in d.guidance_tip()
    finally:
        d.close()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_the_sample_command_without_options_takes_the_windows_defaults(qtbot, mode):
    d = WindowDriver.open(qtbot, BUNDLED, mode, show=False)
    try:
        entry = catalog.default_entry(catalog.discover(BUNDLED), mode)
        args = sample_command.parse_args(["--mode", mode, "--out", "x" + sample_command.SUFFIXES[mode]])
        vocab_size = len(catalog.vocabulary(entry))
        assert sample_command.sampler_settings(args, mode, vocab_size) == d.settings()
        if mode == "image":
            _, condition, _, _ = sample_command.image_run(args, entry)
            assert condition == d.digit()
        if mode == "audio":
            _, condition, _ = sample_command.audio_run(args, entry)
            assert condition == (d.digit(), d.view().speaker_box.currentData())
        if mode != "text":  # --guidance still overrides, and "any" is one option away
            given = sample_command.parse_args(["--mode", mode, "--out", "x", "--guidance", "1", "--digit", "any"])
            assert sample_command.sampler_settings(given, mode, vocab_size).guidance == 1.0
            assert sample_command.chosen_digit(given, mode) is None
    finally:
        d.close()


def test_the_first_clip_of_audio_mode_is_as_loud_as_speech_not_near_silence(tmp_path):
    """The bundled WaveNet at the defaults (the window's; the command takes them): the clip the
    listeners read right at RMS 0.046, where unguided clips are often near-silent (median 0.026)."""
    from arplayground.audio.wav import read_wav
    from arplayground.gui.app import main as app_main

    out = tmp_path / "first.wav"
    assert app_main(["sample", "--mode", "audio", "--models", str(BUNDLED), "--out", str(out)]) == 0
    audio, _ = read_wav(str(out))
    rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
    assert 0.04 < rms < 0.1 and np.abs(audio).max() < 0.99  # speech-loud (unguided, this clip: 0.031), not clipped
