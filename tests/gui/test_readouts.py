"""What the window reads out while and after it runs: the speeds (computed and shown, labelled),
audio's real-time factors and its one underrun count, the branch list's lengths, rank counted
from 1. Through the real window (pytest-qt, tests/gui/driver.py); sound goes to ALSA's null device."""

import re
import sys

import numpy as np
import pytest

from arplayground.audio import playback
from arplayground.gui.run_control import SHOWN_OVER_S, ShownRate
from arplayground.gui.timeline import RANK
from tests.gui.driver import WindowDriver

SOUND_OK = [sys.executable, "-c", "print('SOUND-CHECK null')"]  # a check that finds sound working


class Clock:
    """A clock a test moves: `step` seconds later at every reading."""

    def __init__(self, step: float):
        self.now, self.step = 100.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.fixture
def text(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    yield d
    d.close()


def test_the_shown_rate_counts_what_arrived_over_the_last_seconds_and_starts_again_after_a_reset():
    clock = Clock(0.05)
    rate = ShownRate(clock)
    assert rate.per_second() is None
    rate.arrived(1)
    assert rate.per_second() is None  # one batch: no span yet
    for _ in range(100):  # 5 s of single steps 50 ms apart
        rate.arrived(1)
    assert rate.per_second() == pytest.approx(20.0)
    clock.step = 0.01  # faster: the old arrivals leave the count within SHOWN_OVER_S
    for _ in range(int(SHOWN_OVER_S / 0.01) + 2):
        rate.arrived(1)
    assert rate.per_second() == pytest.approx(100.0)
    rate.reset()
    rate.arrived(5)
    assert rate.per_second() is None


def test_a_paced_run_says_what_it_computes_and_what_it_shows_each_labelled(qtbot, text):
    text.set_length(40)
    text.set_speed(20)
    text.window.run_control.shown_rate.clock = Clock(0.05)  # each batch (one step) 50 ms after the last
    text.generate_and_wait()
    figures = text.figures()
    match = re.match(r"step 40 / 40  ·  computes ([\d,]+) chars/s · shown at 20 chars/s  ·  NLL ", figures)
    assert match, figures  # was "step 40 / 40  ·  220 steps/s": the compute rate, unlabelled
    assert int(match[1].replace(",", "")) > 20  # the model computes faster than the slider shows
    text.set_speed(0)  # max: shown as fast as computed, one rate
    text.generate_and_wait()
    assert re.match(r"step 40 / 40  ·  computes [\d,]+ chars/s  ·  NLL ", text.figures()), text.figures()


def test_the_branch_list_keeps_each_branchs_length_through_steps_stop_and_a_branch(qtbot, text):
    text.set_length(12)
    text.step_times(3)
    assert text.branch_line().startswith("main · 3 steps · NLL "), text.branch_line()  # was "main"
    text.click_stop()
    assert text.branch_line().startswith("main · 3 steps · NLL ")
    text.show_step(1)
    text.force_value(1, text.bar_values()[1])  # branch 1, forced at step 2
    text.wait_for_steps(2)
    assert " · 2 steps · NLL " in text.branch_line()
    text.step_times(2)
    assert " · 4 steps · NLL " in text.branch_line(), text.branch_line()
    text.set_speed(10)
    text.click_resume()
    text.wait_for_at_least(6)
    text.click_stop()  # mid-stream: no on_finished to refresh it
    assert f" · {text.steps()} steps · NLL " in text.branch_line(), (text.steps(), text.branch_line())
    lines = text.branch_lines()
    assert lines[0].startswith("main · 3 steps · NLL ")


def test_rank_counts_the_most_likely_value_as_1_everywhere(qtbot, text):
    text.set_length(20)
    text.set_temperature(0.0)  # greedy: every drawn value is the most likely
    text.generate_and_wait()
    assert (text.column("rank") == 0).all()  # the trace keeps 0-based ranks
    text.choose_timeline_measure(RANK)
    assert text.timeline_values().tolist() == [1.0] * 20
    assert text.timeline_axis_label() == "rank (1 = most likely)"
    assert "(rank 1)" in text.window.views["text"].pane.describe(4)  # the hover tooltip


class PlayingPlayer:
    """A player whose device has played `played` samples: what the transport reads of one."""

    def __init__(self):
        self.played, self.underruns, self.active, self.device_open, self.problem = 0, 0, True, True, None

    def stop(self):
        self.active = False

    def close(self, join_timeout=0.0):
        pass


def test_the_playback_line_gives_the_rate_the_device_played_at_and_the_underruns(qtbot):
    from arplayground.gui.audio_transport import AudioTransport

    t = AudioTransport(lambda: np.zeros(0, np.uint8))
    t.reason = None  # sound works
    t.player, now = PlayingPlayer(), [0.0]
    t.clock = lambda: now[0]
    t.player.played = 1600  # the device took its first buffer at once: counted from here
    t.move_playhead()
    assert t.status.text() == "Playing · 0 underruns"  # no rate before RATE_AFTER_S
    now[0], t.player.played, t.player.underruns = 2.0, 1600 + 4000, 7  # fed at half real time
    t.move_playhead()
    assert t.status.text() == "Playing at 0.25x real time · 7 underruns"
    now[0], t.player.played, t.player.active = 4.0, 1600 + 8000, False
    t.move_playhead()
    assert t.status.text() == "Played 1.20 s at 0.25x real time · 7 underruns"
    t.stop()  # Stop sound, a new run, a branch shown: no figures of a clip not shown
    assert t.status.text() == ""
    t.shutdown()


def test_audio_reads_generations_speed_once_and_the_underruns_once_with_no_stale_count(qtbot, tiny_audio_models, monkeypatch):
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(SOUND_OK))
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.wait_for_sound_check()
    d.set_seconds(0.3)
    d.generate_and_wait()  # played while generating, on the null device
    assert re.fullmatch(r"0\.30 s generated  ·  generates at [\d.]+x real time", d.audio_readout()), d.audio_readout()
    d.wait_until(lambda: d.playback_line().startswith("Played"))
    match = re.fullmatch(r"Played 0\.30 s(?: at [\d.]+x real time)? · ([\d,]+) underruns?", d.playback_line())
    assert match, d.playback_line()
    assert int(match[1].replace(",", "")) == view.player.underruns  # the one count, the player's for this clip
    assert "underrun" not in d.audio_readout() and "underrun" not in d.figures()  # said in one place only
    assert re.search(r"computes [\d,]+ samples/s  ·  NLL", d.figures()), d.figures()
    view.play_live.setChecked(False)
    d.generate_and_wait()  # a new run, not played: the last clip's count is gone with it
    assert d.playback_line() == ""
    d.click(view.play_button)
    d.wait_until(lambda: d.playback_line().startswith("Played 0.30 s"))
    d.click_back()  # a rewound branch: the clip played is not the one shown any more
    assert d.playback_line() == ""
    d.close()
