"""Audio mode through the real window: the clip grows, plays (ALSA's null device), and can be saved,
opened, continued, stepped and inspected; without a sound device everything but Play still works.
What a person reads: the readout (generated seconds apart from the kept recording, the priming
note), and readable candidate levels for samples inside a chunk and after a replay."""

import json
import re
import sys
import wave
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtGui import QFontMetricsF

from arplayground import catalog
from arplayground.audio import playback
from arplayground.audio.wav import read_wav
from arplayground.core.generate import generate_chunks
from arplayground.core.mulaw import decode, encode
from arplayground.gui.distribution_panel import PanelData
from tests.gui.driver import WindowDriver, write_tone


@pytest.fixture
def d(qtbot, tiny_audio_models):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    yield d
    d.close()


def spy_on_batches(view):
    """The readout as it stood when each batch arrived (before the batch rewrote it): the view's
    append, wrapped (no widget shows the moment between Generate and the first batch)."""
    seen, append = [], view.append

    def spy(batch, trace=None):
        seen.append(view.readout.text())
        append(batch, trace)

    view.append = spy
    return seen


def painted_labels_fit(labels_row) -> list[str]:
    """Paint the candidate row as on screen; check no label runs into another; the texts drawn."""
    labels_row.grab()  # runs paintEvent
    metrics = QFontMetricsF(labels_row.painted_font)
    rects = [rect for _, rect in labels_row.painted]
    for text, rect in labels_row.painted:
        assert metrics.horizontalAdvance(text) <= rect.width() + 0.5, (text, rect.width())
    for left, right in zip(rects, rects[1:]):
        assert left.right() <= right.left(), "neighbouring labels overlap"
    return [text for text, _ in labels_row.painted]


def test_the_clip_grows_plays_and_is_the_seeded_sample_of_its_digit_and_speaker(qtbot, d):
    view = d.view()
    assert d.display_shown() is view.display
    assert [view.speaker_box.itemText(i) for i in range(view.speaker_box.count())] == ["any speaker", "ann", "bob", "cy"]
    d.wait_for_sound_check()
    assert view.playback_reason is None, view.playback_reason  # the null device is a real output
    assert view.player is None  # no PortAudio in this process before a clip plays
    d.choose_digit(4)
    d.choose_speaker("bob")
    d.set_seconds(0.3)
    d.generate_and_wait()
    assert d.steps() == 2400 and view.generated_until == 2400
    np.testing.assert_array_equal(view.levels, d.values())
    settings = d.settings()
    expected = np.concatenate([c.values for c in generate_chunks(
        catalog.load_stepper(d.model_entry()), [], 2400, lambda: settings, d.seed(), (4, 1))])
    np.testing.assert_array_equal(view.levels, expected)
    x, y = view.curve.getData()
    assert len(x) == 2400 and x[-1] == pytest.approx(2399 / 8000)
    np.testing.assert_array_equal(y, decode(expected))  # decoded batch by batch, as the clip grew
    assert re.search(r"  ·  generates at [\d.]+x real time$", view.readout.text()), view.readout.text()
    # The panel shows the newest sample's full distribution over the 256 levels.
    assert "drew level" in d.panel_title() and "amplitude" in d.panel_title()
    raw, sampled, drawn = d.levels()
    assert len(raw) == 256 and drawn == d.record(2399).value
    # Everything generated was played, in order, through the real PortAudio stream.
    qtbot.waitUntil(lambda: not view.player.active, timeout=10_000)
    assert view.player.played == 2400
    stream = view.player._stream  # opened on the player's sound thread for that first clip
    assert view.play_button.isEnabled() and stream is not None
    d.click(view.play_button)  # replay the finished clip, on the stream that stayed open
    qtbot.waitUntil(lambda: not view.player.active, timeout=10_000)
    assert view.player.played == 2400 and view.player._stream is stream


def test_clicking_the_waveform_shows_that_sample_and_save_writes_the_clip(qtbot, d, tmp_path):
    view = d.view()
    d.set_seconds(0.1)
    d.generate_and_wait()
    d.click_sample(100)
    assert d.panel_title().startswith("sample 100 (0.013 s), step 101: drew level ")
    assert d.levels()[2] == d.record(100).value  # a sample inside a chunk: all its 256 levels
    path = tmp_path / "clip.wav"
    assert view.save_wav(str(path))
    samples, notes = read_wav(path)
    assert notes == [] and len(samples) == 800
    np.testing.assert_array_equal(encode(samples), view.levels)  # 16-bit PCM keeps every mu-law level


def test_a_recording_is_converted_and_continued(qtbot, d, tmp_path):
    view = d.view()
    rate, t = 16000, np.arange(8000) / 16000  # 0.5 s of a 300 Hz tone, stereo, at 16 kHz
    tone = (0.3 * np.sin(2 * np.pi * 300 * t) * 32767).astype(np.int16)
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(rate)
        f.writeframes(np.stack([tone, tone], axis=1).tobytes())
    assert view.open_wav(str(path))
    assert "stereo mixed to mono" in view.note.text() and "resampled from 16000 Hz to 8000 Hz" in view.note.text()
    opened = view.levels.copy()
    assert len(opened) == 4000
    d.keep_seconds(0.1)
    d.set_seconds(0.1)
    d.generate_and_wait()
    assert d.record(0).position == 800 and d.steps() == 800
    np.testing.assert_array_equal(view.levels[:800], opened[:800])
    assert len(view.levels) == 1600


def test_a_file_that_is_not_a_wav_changes_nothing(qtbot, d, tmp_path):
    view = d.view()
    d.set_seconds(0.05)
    d.generate_and_wait()
    before = view.levels.copy()
    bad = tmp_path / "notes.wav"
    bad.write_text("not a recording")
    assert not view.open_wav(str(bad))
    assert "Could not open it" in view.note.text() and "Nothing changed" in view.note.text()
    np.testing.assert_array_equal(view.levels, before)


def test_the_amplitude_axis_fits_the_loudest_sample_in_steps(qtbot, d, tmp_path):
    view = d.view()

    def shown_half_height():
        low, high = view.plot.getPlotItem().vb.viewRange()[1]
        return (high - low) / 2 / 1.02  # setYRange's padding

    assert shown_half_height() == pytest.approx(1.0, rel=0.03)  # nothing shown yet: full scale
    assert view.open_wav(write_tone(tmp_path / "quiet.wav", 0.5, 0.04))  # a quiet speaker fills the plot, not 4% of it
    assert shown_half_height() == pytest.approx(0.05, rel=0.03)
    assert view.plot.getAxis("left").labelString().count("x0.0") == 0  # ticks in amplitude, no SI multiplier
    assert view.open_wav(write_tone(tmp_path / "loud.wav", 0.5, 0.3))
    assert shown_half_height() == pytest.approx(0.5, rel=0.03)
    # A generated clip: the axis holds every sample shown, at the smallest step that does.
    d.keep_seconds(0.0)
    d.set_seconds(0.2)
    d.generate_and_wait()
    peak = float(np.abs(view.curve.getData()[1]).max())
    fitted = next(s for s in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if peak <= s)
    assert shown_half_height() == pytest.approx(fitted, rel=0.03)


def test_single_steps_and_a_setting_changed_while_paused_applies_to_the_next_sample(qtbot, d):
    d.set_seconds(0.1)
    for n in (1, 2, 3):
        d.click_step()
        d.wait_for_steps(n)
    assert d.running() and d.paused()
    d.set_temperature(0.0)  # greedy from the next sample on
    d.click_step()
    d.wait_for_steps(4)
    assert d.record(2).settings.temperature == 1.0 and d.record(3).settings.greedy
    assert d.record(3).rank == 0
    d.click_stop()
    assert not d.running()


def test_without_a_sound_device_play_is_disabled_with_the_reason_and_the_rest_works(qtbot, tiny_audio_models, monkeypatch, tmp_path):
    answer = "print('SOUND-CHECK \"no audio output device found\"')"  # what the check's child says then
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck([sys.executable, "-c", answer]))
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.wait_for_sound_check()
    d.set_seconds(0.05)
    d.generate_and_wait()
    assert d.steps() == 400 and view.player is None
    assert not view.play_button.isEnabled() and "no audio output device found" in view.audio_status.text()
    assert view.save_wav(str(tmp_path / "quiet.wav"))
    d.close()


def test_closing_the_window_mid_generation_and_playback_leaves_no_audio_thread(qtbot, tiny_audio_models):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.wait_for_sound_check()
    d.set_seconds(3.0)
    d.set_speed(200)  # slow enough to be mid-run when closed
    d.click_generate()
    d.wait_until(lambda: d.steps() > 0 and view.player is not None and view.player.active, timeout=10_000)
    player = view.player
    sound_thread = player._sound_thread  # this player's own thread (other tests' fakes may leave theirs)
    d.close()
    assert not d.running() and not player.active
    qtbot.waitUntil(lambda: not sound_thread.is_alive(), timeout=5_000)  # it closed the stream by itself
    assert player._stream is None  # the one stream is closed with the window


def test_a_clip_lasts_as_long_as_its_word_usually_does_unless_the_box_is_unticked(qtbot, tiny_audio_models):
    card_path = tiny_audio_models / "tiny-wavenet.json"
    card = json.loads(card_path.read_text())
    card["dataset"] = {"typical_seconds": {"4": {"any": 0.15, "bob": 0.1}, "any": {"any": 0.2, "cy": 0.267}}}
    card_path.write_text(json.dumps(card))
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    assert view.typical_check.isEnabled() and view.typical_check.isChecked()  # the default
    assert view.length_spin.value() == pytest.approx(0.2) and not view.length_spin.isEnabled()
    d.choose_speaker("cy")
    assert view.length_spin.value() == pytest.approx(0.267)  # to the sample: 2,136, not 0.27 s
    d.choose_digit(4)
    assert view.length_spin.value() == pytest.approx(0.15)  # no figure for cy saying 4: any speaker's
    d.choose_speaker("bob")
    assert view.length_spin.value() == pytest.approx(0.1) and "the digit 4 by bob did (median 0.100 s)" in view.typical_check.toolTip()
    assert "Follows the digit and speaker" in view.length_spin.toolTip()
    d.generate_and_wait()
    assert d.steps() == 800 and len(view.levels) == 800
    d.choose_digit(None)
    d.choose_speaker("cy")
    d.keep_seconds(0.06)  # continuing: the whole clip, the kept start with it, is the word's length
    assert view.length_spin.value() == pytest.approx(0.207)
    d.generate_and_wait()
    assert len(view.levels) == 2136 and view.prefix_len == 480
    d.keep_seconds(0.266)  # kept about all of it: the shortest continuation
    assert view.length_spin.value() == pytest.approx(0.05)
    d.keep_seconds(0.0)
    d.choose_digit(4)
    d.choose_speaker("bob")
    view.typical_check.setChecked(False)  # any length again
    assert view.length_spin.isEnabled() and view.length_spin.value() == pytest.approx(0.1)
    d.set_seconds(0.05)
    d.choose_digit(None)
    assert view.length_spin.value() == pytest.approx(0.05)  # unticked, the digit no longer sets it
    d.generate_and_wait()
    assert d.steps() == 400
    d.close()


def test_a_card_without_typical_lengths_leaves_the_length_to_the_user(qtbot, d):
    view = d.view()
    assert not view.typical_check.isEnabled() and "no typical lengths" in view.typical_check.toolTip()
    assert not view.typical_check.isChecked()  # grey and ticked would read as "in effect"
    assert view.length_spin.isEnabled() and view.length_spin.value() == pytest.approx(0.8)


def test_the_typical_length_box_keeps_the_users_choice_across_a_model_without_lengths(qtbot, tiny_audio_models):
    from tests.conftest import write_tiny_wavenet

    card_path = tiny_audio_models / "tiny-wavenet.json"
    card = json.loads(card_path.read_text())
    card["dataset"] = {"typical_seconds": {"any": {"any": 0.2}}}
    card_path.write_text(json.dumps(card))
    write_tiny_wavenet(tiny_audio_models, name="without-lengths")
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    for wanted in (True, False):
        d.choose_model_named("tiny-wavenet")
        view.typical_check.setChecked(wanted)
        d.choose_model_named("without-lengths")
        assert not view.typical_check.isEnabled() and not view.typical_check.isChecked() and view.length_spin.isEnabled()
        d.choose_model_named("tiny-wavenet")
        assert view.typical_check.isChecked() == wanted and view.length_spin.isEnabled() != wanted
    d.close()


# ---------------------------------------------------------------- the readout


def test_readout_counts_generated_seconds_apart_from_the_kept_recording_and_says_it_is_priming(qtbot, d, tmp_path):
    view = d.view()
    d.set_seconds(0.05)
    d.generate_and_wait()
    d.click_sample(10)
    assert view.cursor_line.isVisible() and "s generated" in view.readout.text()
    assert view.open_wav(write_tone(tmp_path / "tone.wav", 0.5))
    # The opened recording replaces that run: no stale readout or inspected-sample line.
    assert view.readout.text() == "Pick a digit and a speaker, then Generate." and not view.cursor_line.isVisible()
    d.keep_seconds(0.3)
    d.set_seconds(0.1)
    seen = spy_on_batches(view)
    d.generate_and_wait()
    # Between Generate and the first batch the kept recording is being fed to the model.
    assert seen[0] == "Reading the 0.30 s kept into the model's queues…"
    text = view.readout.text()
    assert text.startswith("0.10 s generated after 0.30 s kept  ·  "), text  # was "0.40 s generated"
    assert "0.40 s" not in text
    # The speed is generated samples over their compute time, against real time.
    assert re.fullmatch(r"0\.10 s generated after 0\.30 s kept  ·  generates at [\d.]+x real time", text), text


def test_a_slow_run_reads_as_a_fraction_of_real_time(qtbot, d):
    view = d.view()
    d.set_seconds(0.05)
    batches, append = [], view.append
    view.append = lambda batch, trace=None: (batches.append(batch), append(batch, trace))
    d.generate_and_wait()
    assert view.readout.text().startswith("0.05 s generated  ·  ")  # nothing kept: no "after"
    whole_chunk = next(b for b in batches if b.blocks and len(b.blocks[0]) >= 64)
    view.append(replace(whole_chunk, steps_per_second=1600.0))  # the same samples, timed 5x slower (fed to the view directly)
    assert view.readout.text().endswith("  ·  generates at 0.20x real time")  # once "0.2x faster than real time"
    assert "underrun" not in view.readout.text()  # the underruns have one place: the playback line


def test_single_steps_show_no_speed(qtbot, d):
    view = d.view()
    d.set_seconds(0.05)
    for _ in range(3):  # Step from idle: one sample at a time, each timing a few Python calls
        d.click_step()
        d.wait_for_at_least(1, timeout=10_000)
    text = view.readout.text()
    assert "generated" in text and "real time" not in text, text
    d.click_stop()


def test_stopping_before_the_first_sample_replaces_the_reading_note(qtbot, d, tmp_path):
    view = d.view()
    assert view.open_wav(write_tone(tmp_path / "tone.wav", 0.5))
    d.keep_seconds(0.3)
    d.start_paused_run()  # started paused: primed, nothing generated yet
    assert view.readout.text().startswith("Reading the 0.30 s kept")
    d.click_stop()
    assert view.readout.text() == "Stopped before the first sample: Generate starts again."


def test_leaving_audio_mode_drops_the_runs_readout_and_inspected_sample(qtbot, d):
    view = d.view()
    d.set_seconds(0.05)
    d.generate_and_wait()
    d.click_sample(10)
    assert view.cursor_line.isVisible() and "generated" in view.readout.text()
    d.choose_mode("text")
    d.choose_mode("audio")
    assert not view.cursor_line.isVisible()
    assert view.readout.text() == "Pick a digit and a speaker, then Generate."


# ---------------------------------------------------------------- samples inside a chunk, and after a replay


def test_a_sample_past_the_full_distribution_bound_shows_distinct_levels_that_fit_its_time_and_a_true_hint(
        qtbot, d, monkeypatch):
    from arplayground.core import trace as trace_module

    monkeypatch.setattr(trace_module, "FULL_STEPS", 256)  # the trace keeps the newest 256 samples' in full
    d.set_seconds(0.1)
    d.generate_and_wait()
    qtbot.wait(50)  # let the layout settle at the window's 1280 x 900
    d.click_sample(100)
    rec, panel = d.record(100), d.panel
    assert d.distributions(100) is None  # older than the bound: only its top candidates are kept
    title = d.panel_title()
    assert title.startswith(f"sample 100 (0.013 s), step 101: drew level {rec.value} (amplitude "), title
    assert "e-0" not in title
    labels = d.bar_labels()
    n = min(panel.max_bars, len(rec.top_values))
    assert labels == [str(int(v)) for v in rec.top_values[:n]]  # mu-law levels, not "2.6e-04"
    assert len(set(labels)) == len(labels) == 16  # every bar told apart (was several "-0.001")
    drawn = painted_labels_fit(panel.candidate_labels)
    assert drawn == labels  # at full width every bar is named, without running into the next
    hint = d.what_if_text()
    assert "keeps every sample's full distribution for its last" in hint and "top 16 candidates" in hint
    assert "Pause, or let the run finish" not in hint
    # A narrow window: labels shrink, or every other one is skipped, but never overlap.
    d.window.resize(760, 900)
    qtbot.wait(50)
    drawn = painted_labels_fit(panel.candidate_labels)
    assert drawn and all(t in labels or t.endswith("…") for t in drawn)
    # A sample within the bound shows all 256 levels, without that hint.
    for index in (d.steps() - 1, d.steps() - 200):
        d.show_step(index)
        assert d.panel_title().startswith(f"sample {index} ({index / 8000:.3f} s), step {index + 1}: drew level")
        assert "keeps every sample's" not in d.what_if_text() and d.bar_labels() == []


def test_mu_law_ticks_and_titles_read_in_plain_decimals(qtbot, d):
    d.set_seconds(0.05)
    d.generate_and_wait()
    d.show_step(d.steps() - 1)  # a chunk's last sample: the 256-level plot
    ticks = dict(d.panel.axis._tickLevels[0])
    assert ticks[128] == "0"  # silence's level, was "+8.6e-05"
    assert ticks[96] == "-0.012" and ticks[160] == "+0.012" and ticks[255] == "+1.0"
    assert not any("e" in label for label in ticks.values())
    assert "e-0" not in d.panel_title()


def test_an_opened_trace_shows_each_sample_with_its_full_distribution_at_once(qtbot, tiny_audio_models, tmp_path):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    d.set_seconds(0.05)  # its smallest: 400 samples
    d.generate_and_wait()
    n = d.steps()
    path = tmp_path / "clip.trace.json"
    assert d.export_trace(path)
    d.close()
    other = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = other.view()
    seen = spy_on_batches(view)
    assert other.open_trace(path)
    assert other.steps() == n and not other.running() and seen == []  # shown whole, nothing streamed
    assert view.readout.text() == "0.05 s"
    for index in (5, n - 1):  # every step, the last one too
        other.show_step(index)
        assert other.panel_title().startswith(f"sample {index} (")
        raw, _, _ = other.distributions(index)  # every replayed step keeps its 256 levels
        assert raw.shape == (256,) and raw.sum() == pytest.approx(1.0, abs=0.02)
        assert other.bar_labels() == []  # the 256-level plot, not the top candidates
        hint = other.what_if_text()
        assert "top candidates" not in hint and "Pause" not in hint
    other.close()


def test_the_candidate_row_elides_or_skips_what_does_not_fit(qtbot, d):
    """Labels too wide even at the smallest font: every k-th bar is named, each within its room."""
    panel = d.panel
    panel.show_step(  # the panel fed directly: no model has candidates named like these
        PanelData(
            step=1, labels=tuple(f"label-{i:02d}-long" for i in range(16)), values=tuple(range(16)),
            raw=np.full(16, 1 / 16), sampled=np.full(16, 1 / 16), drawn=0, drawn_label="x", drawn_prob=0.06,
            entropy=2.7, settings_text="T 1.00"),
    )
    qtbot.wait(50)
    drawn = painted_labels_fit(panel.candidate_labels)
    assert 0 < len(drawn) < 16  # some skipped, none overlapping
