"""Audio mode against hostile conditions: a sound device that never answers, a sound system that
crashes or hangs when loaded, a long recording, a disk that fills up while saving.

The hang tests drive the real window in a child process: a window whose GUI thread hangs cannot be
driven by the test that hangs with it, so the child runs the clicks and the test only checks that
it got through them (a generous bound: a hang is forever) and where it stopped if not.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from arplayground.audio import playback
from arplayground.audio.wav import read_wav
from arplayground.core.mulaw import encode
from arplayground.gui.views.audio import CHECKING_SOUND
from tests.gui.driver import WindowDriver, write_tone

REPO = Path(__file__).resolve().parents[2]
CHILD_BOUND = 180  # seconds for a whole child scenario (torch import and a few tiny runs: ~10 s)
SOUND_OK = [sys.executable, "-c", "print('SOUND-CHECK null')"]  # a check that finds sound working


def run_child(script: str, *args, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", **(env or {})}
    try:
        return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, text=True,
                              env=env, timeout=CHILD_BOUND, cwd=REPO)
    except subprocess.TimeoutExpired as hung:
        out = hung.stdout.decode() if isinstance(hung.stdout, bytes) else (hung.stdout or "")
        err = hung.stderr.decode() if isinstance(hung.stderr, bytes) else (hung.stderr or "")
        pytest.fail(f"the window hung; steps done:\n{out}\n{err[-4000:]}")


# --- 2: a sound device that never answers ---------------------------------------------------------

STUCK_DEVICE_SCRIPT = r"""
import faulthandler, sys, threading, time, types
faulthandler.dump_traceback_later(150, exit=True)  # where it hung, if it does
stuck = set(sys.argv[2].split(","))
release = threading.Event()  # never set: the device never answers

class Stream:
    latency = 0.05
    def __init__(self, **kwargs):
        self._call("open")
    def _call(self, name):
        print(f"device {name}", flush=True)  # one string: sound threads print too
        if name in stuck:
            release.wait()
    def start(self): self._call("start")
    def stop(self): self._call("stop")
    def abort(self): self._call("abort")
    def close(self): self._call("close")

sd = types.ModuleType("sounddevice")
sd.OutputStream = Stream
sd.default = types.SimpleNamespace(device=[0, 0])
sd.query_devices = lambda device=None, kind=None: [{"name": "stuck", "max_output_channels": 2}]
sd.check_output_settings = lambda **kwargs: None
sys.modules["sounddevice"] = sd

from PySide6.QtWidgets import QApplication
app = QApplication([])
from arplayground.audio import playback
playback._shared_check = playback.SoundCheck([sys.executable, "-c", "print('SOUND-CHECK null')"])
from arplayground.gui.main_window import MainWindow

def step(name):
    print(f"step {name}", flush=True)

def until(condition, seconds=60):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting ({seconds} s)")
        app.processEvents()
        time.sleep(0.002)

w = MainWindow(sys.argv[1]); w.show()
w.mode_box.setCurrentIndex(w.mode_box.findData("audio"))
view = w.views["audio"]
until(lambda: view.playback_reason is None)
view.length_spin.setValue(0.05)
w.generate(); until(lambda: not w.is_running()); step("generated, playing live")
until(lambda: "open" in stuck or view.player._stream is not None)  # (stuck in open: never)
view.play(); step("Play")
view.stop_sound(); step("Stop sound")
view.play(); step("Play again")
w.generate(); until(lambda: not w.is_running()); step("generated again")
ab = w.open_ab(); step("A/B opened")
ab.run(); until(lambda: not ab.is_running()); step("A/B run")
ab.a.view.play(); ab.b.view.play(); step("Play A, Play B")
ab.a.view.stop_sound(); step("Stop A")
w.open_ab(); step("A/B reopened (the first one closed)")
for _ in range(5):
    app.processEvents()
    view._move_playhead()  # what the view reads from its player on each frame
step("views read their players")
w.close(); step("window closed")
print("DONE", flush=True)
"""


@pytest.mark.parametrize("stuck", ["open", "start", "stop,abort,close", "close"])
def test_play_stop_ab_and_closing_answer_whatever_the_sound_device_does(tiny_audio_models, stuck):
    """Issue 19.2: under JACK the GUI thread waited in Player.stop for a lock that a thread stuck in
    PortAudio's open held; here each device call in turn never returns."""
    done = run_child(STUCK_DEVICE_SCRIPT, tiny_audio_models, stuck)
    assert done.returncode == 0 and "DONE" in done.stdout, done.stdout + done.stderr[-4000:]
    reached = done.stdout.splitlines()
    assert any(f"device {call}" in reached for call in stuck.split(",")), done.stdout  # the device got stuck


# --- 4: a sound system that crashes or hangs the process that loads it ----------------------------

BROKEN_SOUND_SCRIPT = r"""
import sys, time
from PySide6.QtWidgets import QApplication
app = QApplication([])
from arplayground.gui.main_window import MainWindow
w = MainWindow(sys.argv[1]); w.show()
print("built in text mode; sounddevice loaded:", "sounddevice" in sys.modules, flush=True)
w.mode_box.setCurrentIndex(w.mode_box.findData("audio"))
view = w.views["audio"]
deadline = time.monotonic() + 60
while view.playback_reason == "checking the sound output…" and time.monotonic() < deadline:
    app.processEvents(); time.sleep(0.01)
view.length_spin.setValue(0.05)
w.generate()
while w.is_running() and time.monotonic() < deadline:
    app.processEvents(); time.sleep(0.01)
print("generated", len(w.trace), flush=True)
print("play enabled", view.play_button.isEnabled(), flush=True)
print("reason", view.playback_reason, flush=True)
print("status", view.audio_status.text(), flush=True)
print("sounddevice loaded:", "sounddevice" in sys.modules, flush=True)
w.close()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA is Linux only")
def test_a_broken_alsa_configuration_costs_play_not_the_app(tiny_audio_models, tmp_path):
    """Issue 19.4: with an empty ALSA configuration file PortAudio's start aborts the process (exit
    134), and the window used to start it while being built, in every mode."""
    conf = tmp_path / "empty.conf"
    conf.write_text("")
    done = run_child(BROKEN_SOUND_SCRIPT, tiny_audio_models, env={"ALSA_CONFIG_PATH": str(conf)})
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert "built in text mode; sounddevice loaded: False" in lines
    assert "generated 400" in lines and "play enabled False" in lines
    reason = next(line for line in lines if line.startswith("reason "))
    if "PortAudio library not found" in reason or "sounddevice package" in reason:
        pytest.skip(reason)
    assert reason.startswith("reason the sound system crashed while starting (SIGABRT"), reason
    assert any(line.startswith("status No sound: the sound system crashed") for line in lines)
    assert "sounddevice loaded: False" in lines  # never loaded in the app's process


@pytest.mark.parametrize("command, timeout, expected", [
    ([sys.executable, "-c", "import os; os.abort()"], 30, "the sound system crashed while starting (SIGABRT"),
    ([sys.executable, "-c", "import time; time.sleep(600)"], 1.0, "the sound system did not answer within 1 s"),
    ([sys.executable, "-c", "import sys; sys.exit(3)"], 30, "the sound check failed (exit status 3"),
])
def test_a_sound_check_that_crashes_hangs_or_fails_disables_play_with_its_reason(qtbot, tiny_audio_models, monkeypatch,
                                                                                 command, timeout, expected):
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(command, timeout=timeout))
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    assert view.playback_reason == CHECKING_SOUND and not view.play_button.isEnabled()
    assert view.audio_status.text() == "Checking the sound output…"
    d.wait_for_sound_check()
    assert view.playback_reason.startswith(expected), view.playback_reason
    d.set_seconds(0.05)
    d.generate_and_wait()  # the rest of Audio mode works
    assert d.steps() == 400 and view.player is None
    assert not view.play_button.isEnabled() and view.play_button.toolTip().startswith("No sound: " + expected)
    assert view.audio_status.text().startswith("No sound: " + expected)
    view.play()  # (a click that slipped through the disabled button, called directly: nothing)
    assert view.player is None
    d.close()


def test_a_good_sound_check_enables_play_and_text_mode_never_checks(qtbot, tiny_audio_models, monkeypatch):
    monkeypatch.setattr(playback, "_shared_check", None)
    d = WindowDriver.open(qtbot, tiny_audio_models, "text")
    assert playback._shared_check is None and d.view("audio").sound_check is None  # nothing started for Text
    d.close()
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(SOUND_OK))
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.wait_for_sound_check()
    assert view.playback_reason is None
    view.play_live.setChecked(False)
    d.set_seconds(0.05)
    d.generate_and_wait()
    assert view.play_button.isEnabled() and view.audio_status.text() == ""
    d.close()


def test_a_clip_the_device_cannot_open_disables_play_with_the_devices_reason(qtbot, tiny_audio_models, monkeypatch):
    """The check passed, but by the first clip the device refuses to open (unplugged meanwhile)."""
    from tests.core.test_playback import fake_sounddevice

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(open_error="Device unavailable"))
    monkeypatch.setattr(playback, "_shared_check", playback.SoundCheck(SOUND_OK))
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.wait_for_sound_check()
    d.set_seconds(0.05)
    d.generate_and_wait()
    qtbot.waitUntil(lambda: view.playback_reason is not None, timeout=10_000)
    assert view.playback_reason == "cannot open the audio output (Device unavailable)"
    assert not view.play_button.isEnabled() and "Device unavailable" in view.audio_status.text()
    sound_thread = view.player._sound_thread
    d.close()
    sound_thread.join(10)  # done with the fake before monkeypatch puts the real sounddevice back


# --- 8: a long recording opens off the GUI thread ------------------------------------------------


def write_long_stereo(path: Path, seconds: float, rate: int = 44100) -> Path:
    """A 44.1 kHz stereo 16-bit WAV: a slow sweep left, noise right; written in pieces."""
    rng = np.random.default_rng(0)
    with wave.open(str(path), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(rate)
        total = int(seconds * rate)
        for start in range(0, total, rate * 10):
            t = np.arange(start, min(start + rate * 10, total)) / rate
            left = 0.3 * np.sin(2 * np.pi * (200 + 5 * t) * t)
            right = rng.normal(0, 0.05, len(t))
            f.writeframes((np.stack([left, right], axis=1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def long_recording(tmp_path_factory) -> Path:
    return write_long_stereo(tmp_path_factory.mktemp("wav") / "long.wav", 150)  # 2.5 minutes, 26 MB


def test_a_long_recording_opens_while_the_window_keeps_answering(qtbot, tiny_audio_models, long_recording):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.set_seconds(0.05)
    d.generate_and_wait()
    before = view.levels.copy()
    ticks_while_converting = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks_while_converting.append(view.conversion is not None))
    timer.start(5)
    progress = []
    conversion = view.start_opening(str(long_recording))
    conversion.progressed.connect(progress.append)
    assert view.open_progress.isVisible() and view.cancel_open_button.isVisible()
    assert not view.open_button.isEnabled() and view.note.text() == "Opening long.wav…"
    np.testing.assert_array_equal(view.levels, before)  # nothing changes until it has succeeded
    assert d.steps() == 400  # the run shown is still there
    qtbot.waitUntil(lambda: view.conversion is None, timeout=120_000)
    timer.stop()
    assert sum(ticks_while_converting) >= 3, "the event loop did not run during the conversion"
    assert len(set(progress)) >= 3 and progress == sorted(progress) and progress[-1] == 100
    samples, notes = read_wav(long_recording)  # the same conversion, on this thread
    np.testing.assert_array_equal(view.levels, encode(samples))
    assert len(view.levels) == 150 * 8000 and view.generated_until == len(view.levels)
    assert view.note.text().startswith(f"Opened {long_recording} (150.00 s; stereo mixed to mono; "
                                       "resampled from 44100 Hz to 8000 Hz)")
    assert not view.open_progress.isVisible() and view.open_button.isEnabled()
    assert d.steps() == 0  # the recording replaced the run, as a synchronous open does
    d.close()


def test_cancel_leaves_everything_as_it_was(qtbot, tiny_audio_models, long_recording, tmp_path):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    assert view.open_wav(write_tone(tmp_path / "tone.wav", 0.5))
    before, note_before = view.levels.copy(), view.note.text()
    conversion = view.start_opening(str(long_recording))
    d.click(view.cancel_open_button)
    assert view.note.text() == "Opening long.wav cancelled. Nothing changed."
    assert view.conversion is None and not view.open_progress.isVisible() and view.open_button.isEnabled()
    conversion.thread.join(30)  # it noticed within a block
    assert not conversion.thread.is_alive()
    qtbot.wait(50)  # anything it sent has arrived, and was ignored
    np.testing.assert_array_equal(view.levels, before)
    assert view.note.text() == "Opening long.wav cancelled. Nothing changed." and note_before.startswith("Opened")
    # A run that starts while a file converts cancels it too: the recording would overwrite the run.
    conversion = view.start_opening(str(long_recording))
    d.keep_seconds(0.0)
    d.set_seconds(0.05)
    d.generate_and_wait()
    assert view.note.text() == "Opening long.wav cancelled (a run started). Nothing changed."
    conversion.thread.join(30)
    qtbot.wait(50)
    assert len(view.levels) == 400 and d.steps() == 400
    d.close()


def test_a_bad_file_opened_in_the_background_changes_nothing(qtbot, tiny_audio_models, tmp_path):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    d.set_seconds(0.05)
    d.generate_and_wait()
    before = view.levels.copy()
    bad = tmp_path / "notes.wav"
    bad.write_text("not a recording")
    view.start_opening(str(bad))
    qtbot.waitUntil(lambda: view.conversion is None, timeout=30_000)
    assert view.note.text() == "Could not open it: notes.wav is not a WAV file (no RIFF/WAVE header). Nothing changed."
    np.testing.assert_array_equal(view.levels, before)
    assert d.steps() == 400 and view.open_button.isEnabled() and not view.open_progress.isVisible()
    d.close()


def test_closing_the_window_while_a_recording_converts(qtbot, tiny_audio_models, long_recording):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    conversion = d.view().start_opening(str(long_recording))
    d.close()
    assert not conversion.thread.is_alive() and conversion.cancel.is_set()


# --- 9: a full disk while saving ------------------------------------------------------------------


def test_a_save_that_fails_half_way_leaves_the_old_file_as_it_was(qtbot, tiny_audio_models, tmp_path, monkeypatch):
    d = WindowDriver.open(qtbot, tiny_audio_models, "audio")
    view = d.view()
    view.play_live.setChecked(False)
    d.set_seconds(0.5)
    d.generate_and_wait()
    folder = tmp_path / "clips"
    folder.mkdir()
    path = folder / "digit.wav"
    write_tone(path, 1.0)
    old = path.read_bytes()
    real_write = wave.Wave_write.writeframesraw

    def disk_full_half_way(self, data):
        real_write(self, bytes(data)[: len(data) // 2])  # some bytes reach the disk, then it is full
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(wave.Wave_write, "writeframesraw", disk_full_half_way)
    assert not view.save_wav(str(path))
    assert view.note.text() == f"Could not save {path}: No space left on device"
    assert path.read_bytes() == old  # byte for byte
    assert [p.name for p in folder.iterdir()] == ["digit.wav"]  # and no temporary file left behind
    monkeypatch.undo()
    assert view.save_wav(str(path))  # with room on the disk, the clip replaces it
    samples, _ = read_wav(path)
    np.testing.assert_array_equal(encode(samples), view.levels)
    assert [p.name for p in folder.iterdir()] == ["digit.wav"]
    d.close()
