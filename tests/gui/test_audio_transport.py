"""gui.audio_transport: Play, Stop sound, play live, the playhead and the underruns of one clip, on
its own and on an A/B side (the same transport as Audio mode's). Sound goes to ALSA's null device."""

import re
import sys

import numpy as np
import pytest

from arplayground.audio import playback
from arplayground.core.mulaw import encode
from arplayground.gui.audio_transport import CHECKING_SOUND, CHECKING_SOUND_STATUS, AudioTransport
from tests.gui.helpers import click, generate_and_wait, open_window

SOUND_OK = [sys.executable, "-c", "print('SOUND-CHECK null')"]  # a check that finds sound working
NO_DEVICE = [sys.executable, "-c", "print('SOUND-CHECK \"no audio output device found\"')"]


class Clip:
    """What an owner hands its transport: the clip as it is now."""

    def __init__(self, levels=()):
        self.levels = np.asarray(levels, np.uint8)

    def __call__(self) -> np.ndarray:
        return self.levels


def played_line(text: str) -> tuple[str, int]:
    """(seconds played, underruns) from the playback line at a clip's end, "Played 0.30 s at 1.0x
    real time · 0 underruns" (no rate where the clip played within RATE_AFTER_S)."""
    match = re.fullmatch(r"Played (\d+\.\d\d) s(?: at [\d.]+x real time)? · ([\d,]+) underruns?", text)
    assert match, text
    return match[1], int(match[2].replace(",", ""))


def tone(samples: int) -> np.ndarray:
    return encode(0.3 * np.sin(2 * np.pi * 200 * np.arange(samples) / 8000))


@pytest.fixture
def transport(qtbot, monkeypatch):
    """make(clip, check): a transport whose sound check (`check`, a child command) has answered."""
    made = []

    def make(clip, check=SOUND_OK):
        monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(check))
        t = AudioTransport(clip)
        made.append(t)
        t.check_sound()
        qtbot.waitUntil(lambda: t.reason != CHECKING_SOUND, timeout=30_000)
        return t

    yield make
    for t in made:
        t.shutdown()


def test_play_waits_for_the_sound_check_a_clip_and_the_end_of_the_run(qtbot, monkeypatch):
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(SOUND_OK))
    clip = Clip()
    t = AudioTransport(clip)
    assert t.reason == CHECKING_SOUND and t.sound_check is None  # no check before the owner asks
    assert not t.play_button.isEnabled() and t.status.text() == CHECKING_SOUND_STATUS
    t.check_sound()
    qtbot.waitUntil(lambda: t.reason is None, timeout=30_000)
    assert t.status.text() == "" and t.stop_button.isEnabled() and t.play_live.toolTip() == ""
    assert not t.play_button.isEnabled()  # nothing to play yet
    clip.levels = tone(800)
    t.refresh()
    assert t.play_button.isEnabled()
    t.set_running(True)
    assert not t.play_button.isEnabled()  # a run is writing the clip
    t.set_running(False)
    assert t.play_button.isEnabled() and t.player is None  # no PortAudio before a clip plays
    t.shutdown()


def test_without_sound_play_does_nothing_and_says_why(qtbot, transport):
    t = transport(Clip(tone(800)), NO_DEVICE)
    assert t.reason == "no audio output device found"
    assert not t.play_button.isEnabled() and not t.stop_button.isEnabled()
    assert t.play_button.toolTip() == "No sound: no audio output device found"
    assert t.status.text() == "No sound: no audio output device found. Generating, the waveform and Save WAV still work."
    assert t.play_live.toolTip() == "no audio output device found"
    t.play()
    t.start_live(from_sample=0)
    assert t.player is None and t.underruns is None


def test_play_plays_the_whole_clip_then_says_what_was_played_and_the_underruns(qtbot, transport):
    t = transport(Clip(tone(2400)))
    t.play()
    assert t.player is not None and t.playhead.isVisible() and t.playhead_timer.isActive()
    qtbot.waitUntil(lambda: t.status.text().startswith("Played"), timeout=10_000)
    assert t.player.played == 2400 and not t.playhead.isVisible()
    assert played_line(t.status.text()) == ("0.30", t.underruns)
    assert t.underruns == t.player.underruns


def test_live_play_is_fed_by_the_run_and_plays_out_at_its_end(qtbot, transport):
    clip = Clip(tone(1600))
    t = transport(clip)
    t.play_live.setChecked(False)
    t.start_live(from_sample=800)
    assert t.player is None  # not asked to play while generating
    t.play_live.setChecked(True)
    t.set_running(True)
    t.start_live(from_sample=800)  # 800 samples kept; the run generates the next 800
    assert t.player.active and t.playing_from == 800
    for start in range(800, 1600, 200):
        t.feed(clip.levels[start : start + 200])
    t.set_running(False)  # the run ended: what it generated plays out
    qtbot.waitUntil(lambda: not t.player.active, timeout=10_000)
    assert t.player.played == 800
    t.move_playhead()
    assert played_line(t.status.text())[0] == "0.10"


def test_stop_sound_ends_the_clip_and_hides_the_playhead(qtbot, transport):
    t = transport(Clip(tone(8000 * 4)))
    t.play()
    click(qtbot, t.stop_button)
    assert not t.playhead.isVisible() and not t.playhead_timer.isActive()
    qtbot.waitUntil(lambda: not t.player.active, timeout=10_000)


def test_an_ab_side_plays_and_stops_with_audio_modes_own_transport(qtbot, tiny_audio_models, monkeypatch):
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(SOUND_OK))
    w = open_window(qtbot, tiny_audio_models, "audio")
    view = w.views["audio"]
    qtbot.waitUntil(lambda: view.playback_reason is None, timeout=30_000)
    view.play_live.setChecked(False)
    view.length_spin.setValue(0.05)
    generate_and_wait(qtbot, w)
    click(qtbot, w.ab_button)
    ab = w.ab_window
    for name, side in (("A", ab.a), ("B", ab.b)):
        transport = side.view.transport
        assert side.play_button is transport.play_button and transport.play_button.text() == f"Play {name}"
        for widget in (transport.play_button, transport.stop_button, transport.status):
            assert widget.parent() is side and widget.isVisibleTo(ab)  # the side's own row, not its hidden controls
        assert not transport.play_button.isEnabled()  # no clip before Run A/B
    click(qtbot, ab.run_button)
    qtbot.waitUntil(lambda: not ab.is_running() and ab.run_button.isEnabled(), timeout=30_000)
    a = ab.a.view
    assert ab.a.play_button.isEnabled() and ab.b.play_button.isEnabled()
    click(qtbot, ab.a.play_button)
    qtbot.waitUntil(lambda: a.transport.status.text().startswith("Played"), timeout=10_000)
    assert a.player.played == a.generated_until == 400  # the side's whole clip, kept start included
    assert played_line(a.transport.status.text()) == ("0.05", a.player.underruns)
    assert ab.b.view.player is None  # each side has its own player
    w.close()
