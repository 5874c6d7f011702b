"""Audio mode through the real window: the clip grows, plays (ALSA's null device), and can be saved,
opened, continued, stepped and inspected; without a sound device everything but Play still works."""

import json
import sys
import wave

import numpy as np
import pytest
from PySide6.QtCore import Qt

from arplayground import catalog
from arplayground.audio import playback
from arplayground.audio.wav import read_wav
from arplayground.core.mulaw import decode, encode
from arplayground.core.generate import generate_chunks
from arplayground.gui.views.audio import CHECKING_SOUND
from tests.gui.helpers import generate_and_wait, open_window, write_tone


def wait_for_sound_check(qtbot, view) -> None:
    """Audio mode checks the sound system in a child process, off the GUI thread, when first chosen."""
    qtbot.waitUntil(lambda: view.playback_reason != CHECKING_SOUND, timeout=30_000)


@pytest.fixture
def window(qtbot, tiny_audio_models):
    w = open_window(qtbot, tiny_audio_models, "audio")
    yield w
    w.close()



def test_the_clip_grows_plays_and_is_the_seeded_sample_of_its_digit_and_speaker(qtbot, window):
    view = window.views["audio"]
    assert window.displays.currentWidget() is view.display
    assert [view.speaker_box.itemText(i) for i in range(view.speaker_box.count())] == ["any speaker", "ann", "bob", "cy"]
    wait_for_sound_check(qtbot, view)
    assert view.playback_reason is None, view.playback_reason  # the null device is a real output
    assert view.player is None  # no PortAudio in this process before a clip plays
    view.digit_box.setCurrentIndex(view.digit_box.findData(4))
    view.speaker_box.setCurrentIndex(view.speaker_box.findText("bob"))
    view.length_spin.setValue(0.3)
    generate_and_wait(qtbot, window)
    assert len(window.trace) == 2400 and view.generated_until == 2400
    np.testing.assert_array_equal(view.levels, window.trace.values)
    settings = window.settings()
    expected = np.concatenate([c.values for c in generate_chunks(
        catalog.load_stepper(window.current_entry()), [], 2400, lambda: settings, window.seed_spin.value(), (4, 1))])
    np.testing.assert_array_equal(view.levels, expected)
    x, y = view.curve.getData()
    assert len(x) == 2400 and x[-1] == pytest.approx(2399 / 8000)
    np.testing.assert_array_equal(y, decode(expected))  # decoded batch by batch, as the clip grew
    assert "x faster than real time" in view.readout.text()
    # The panel shows the newest sample's full distribution over the 256 levels.
    assert "drew level" in window.panel.title.text() and "amplitude" in window.panel.title.text()
    raw, sampled, drawn = window.panel.levels
    assert len(raw) == 256 and drawn == window.trace[2399].value
    # Everything generated was played, in order, through the real PortAudio stream.
    qtbot.waitUntil(lambda: not view.player.active, timeout=10_000)
    assert view.player.played == 2400
    stream = view.player._stream  # opened on the player's sound thread for that first clip
    assert view.play_button.isEnabled() and stream is not None
    view.play()  # replay the finished clip, on the stream that stayed open
    qtbot.waitUntil(lambda: not view.player.active, timeout=10_000)
    assert view.player.played == 2400 and view.player._stream is stream


def test_clicking_the_waveform_shows_that_sample_and_save_writes_the_clip(qtbot, window, tmp_path):
    view = window.views["audio"]
    view.length_spin.setValue(0.1)
    generate_and_wait(qtbot, window)
    view.select_sample(100)
    assert window.panel.title.text().startswith("sample 100 (0.013 s), step 101: drew level ")
    assert window.panel.levels[2] == window.trace[100].value  # a sample inside a chunk: all its 256 levels
    path = tmp_path / "clip.wav"
    assert view.save_wav(str(path))
    samples, notes = read_wav(path)
    assert notes == [] and len(samples) == 800
    np.testing.assert_array_equal(encode(samples), view.levels)  # 16-bit PCM keeps every mu-law level


def test_a_recording_is_converted_and_continued(qtbot, window, tmp_path):
    view = window.views["audio"]
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
    view.keep_spin.setValue(0.1)
    view.length_spin.setValue(0.1)
    generate_and_wait(qtbot, window)
    assert window.trace[0].position == 800 and len(window.trace) == 800
    np.testing.assert_array_equal(view.levels[:800], opened[:800])
    assert len(view.levels) == 1600


def test_a_file_that_is_not_a_wav_changes_nothing(qtbot, window, tmp_path):
    view = window.views["audio"]
    view.length_spin.setValue(0.05)
    generate_and_wait(qtbot, window)
    before = view.levels.copy()
    bad = tmp_path / "notes.wav"
    bad.write_text("not a recording")
    assert not view.open_wav(str(bad))
    assert "Could not open it" in view.note.text() and "Nothing changed" in view.note.text()
    np.testing.assert_array_equal(view.levels, before)


def test_the_amplitude_axis_fits_the_loudest_sample_in_steps(qtbot, window, tmp_path):
    view = window.views["audio"]

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
    view.keep_spin.setValue(0.0)
    view.length_spin.setValue(0.2)
    generate_and_wait(qtbot, window)
    peak = float(np.abs(view.curve.getData()[1]).max())
    fitted = next(s for s in (0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if peak <= s)
    assert shown_half_height() == pytest.approx(fitted, rel=0.03)


def test_single_steps_and_a_setting_changed_while_paused_applies_to_the_next_sample(qtbot, window):
    view = window.views["audio"]
    view.length_spin.setValue(0.1)
    for n in (1, 2, 3):
        qtbot.mouseClick(window.step_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(window.trace) == n, timeout=10_000)
    assert window.is_running() and window.pause_button.isChecked()
    window.temperature.setValue(0.0)  # greedy from the next sample on
    qtbot.mouseClick(window.step_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(window.trace) == 4, timeout=10_000)
    assert window.trace[2].settings.temperature == 1.0 and window.trace[3].settings.greedy
    assert window.trace[3].rank == 0
    qtbot.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)
    assert not window.is_running()


def test_without_a_sound_device_play_is_disabled_with_the_reason_and_the_rest_works(qtbot, tiny_audio_models, monkeypatch, tmp_path):
    answer = "print('SOUND-CHECK \"no audio output device found\"')"  # what the check's child says then
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck([sys.executable, "-c", answer]))
    w = open_window(qtbot, tiny_audio_models, "audio")
    view = w.views["audio"]
    wait_for_sound_check(qtbot, view)
    view.length_spin.setValue(0.05)
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 400 and view.player is None
    assert not view.play_button.isEnabled() and "no audio output device found" in view.audio_status.text()
    assert view.save_wav(str(tmp_path / "quiet.wav"))
    w.close()


def test_closing_the_window_mid_generation_and_playback_leaves_no_audio_thread(qtbot, tiny_audio_models):
    w = open_window(qtbot, tiny_audio_models, "audio")
    view = w.views["audio"]
    wait_for_sound_check(qtbot, view)
    view.length_spin.setValue(3.0)
    w.speed_slider.setValue(w.speed_slider.minimum() + 7)  # slow enough to be mid-run when closed
    qtbot.mouseClick(w.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(w.trace) > 0 and view.player is not None and view.player.active, timeout=10_000)
    player = view.player
    sound_thread = player._sound_thread  # this player's own thread (other tests' fakes may leave theirs)
    w.close()
    assert not w.is_running() and not player.active
    qtbot.waitUntil(lambda: not sound_thread.is_alive(), timeout=5_000)  # it closed the stream by itself
    assert player._stream is None  # the one stream is closed with the window


def test_a_clip_lasts_as_long_as_its_word_usually_does_unless_the_box_is_unticked(qtbot, tiny_audio_models):
    card_path = tiny_audio_models / "tiny-wavenet.json"
    card = json.loads(card_path.read_text())
    card["dataset"] = {"typical_seconds": {"4": {"any": 0.15, "bob": 0.1}, "any": {"any": 0.2, "cy": 0.267}}}
    card_path.write_text(json.dumps(card))
    w = open_window(qtbot, tiny_audio_models, "audio")
    view = w.views["audio"]
    assert view.typical_check.isEnabled() and view.typical_check.isChecked()  # the default
    assert view.length_spin.value() == pytest.approx(0.2) and not view.length_spin.isEnabled()
    view.speaker_box.setCurrentIndex(view.speaker_box.findText("cy"))
    assert view.length_spin.value() == pytest.approx(0.267)  # to the sample: 2,136, not 0.27 s
    view.digit_box.setCurrentIndex(view.digit_box.findData(4))
    assert view.length_spin.value() == pytest.approx(0.15)  # no figure for cy saying 4: any speaker's
    view.speaker_box.setCurrentIndex(view.speaker_box.findText("bob"))
    assert view.length_spin.value() == pytest.approx(0.1) and "the digit 4 by bob did (median 0.100 s)" in view.typical_check.toolTip()
    assert "Follows the digit and speaker" in view.length_spin.toolTip()
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 800 and len(view.levels) == 800
    view.digit_box.setCurrentIndex(view.digit_box.findData(None))
    view.speaker_box.setCurrentIndex(view.speaker_box.findText("cy"))
    view.keep_spin.setValue(0.06)  # continuing: the whole clip, the kept start with it, is the word's length
    assert view.length_spin.value() == pytest.approx(0.207)
    generate_and_wait(qtbot, w)
    assert len(view.levels) == 2136 and view.prefix_len == 480
    view.keep_spin.setValue(0.266)  # kept about all of it: the shortest continuation
    assert view.length_spin.value() == pytest.approx(0.05)
    view.keep_spin.setValue(0.0)
    view.digit_box.setCurrentIndex(view.digit_box.findData(4))
    view.speaker_box.setCurrentIndex(view.speaker_box.findText("bob"))
    view.typical_check.setChecked(False)  # any length again
    assert view.length_spin.isEnabled() and view.length_spin.value() == pytest.approx(0.1)
    view.length_spin.setValue(0.05)
    view.digit_box.setCurrentIndex(view.digit_box.findData(None))
    assert view.length_spin.value() == pytest.approx(0.05)  # unticked, the digit no longer sets it
    generate_and_wait(qtbot, w)
    assert len(w.trace) == 400
    w.close()


def test_a_card_without_typical_lengths_leaves_the_length_to_the_user(qtbot, window):
    view = window.views["audio"]
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
    w = open_window(qtbot, tiny_audio_models, "audio")
    view = w.views["audio"]

    def choose(name):
        w.model_box.setCurrentIndex(next(i for i in range(w.model_box.count()) if w.model_box.itemData(i).name == name))

    for wanted in (True, False):
        choose("tiny-wavenet")
        view.typical_check.setChecked(wanted)
        choose("without-lengths")
        assert not view.typical_check.isEnabled() and not view.typical_check.isChecked() and view.length_spin.isEnabled()
        choose("tiny-wavenet")
        assert view.typical_check.isChecked() == wanted and view.length_spin.isEnabled() != wanted
    w.close()
