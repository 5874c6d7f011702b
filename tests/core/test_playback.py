"""Playback: the lock-free ring, the Player's logic against a hand-pumped fake stream, the real
PortAudio path on ALSA's null device (in a subprocess), and the no-device reasons.

The null device has no clock: PortAudio calls the callback back to back as fast as the CPU allows,
so these tests check order and counts, never timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from arplayground.audio.playback import Player, RingBuffer

NULL_ALSA_CONF = Path(__file__).resolve().parents[1] / "alsa-null.conf"
REPO = Path(__file__).resolve().parents[2]


def wait_until(condition, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


# --- RingBuffer ----------------------------------------------------------------------------------


def test_ring_empty_full_and_partial():
    ring = RingBuffer(8)
    out = np.full(5, -1.0, np.float32)
    assert (ring.available(), ring.space()) == (0, 8)
    assert ring.read_into(out) == 0 and np.all(out == -1)  # nothing read, nothing touched
    assert ring.write(np.arange(10, dtype=np.float32)) == 8  # only what fits
    assert ring.write(np.ones(3, np.float32)) == 0  # full: unread data is never overwritten
    assert (ring.available(), ring.space()) == (8, 0)
    assert ring.read_into(out) == 5 and out.tolist() == [0, 1, 2, 3, 4]
    assert (ring.available(), ring.space()) == (3, 5)
    with pytest.raises(ValueError):
        RingBuffer(0)


def test_ring_wraps_around_in_order():
    ring = RingBuffer(7)
    out = np.zeros(4, np.float32)
    got, value = [], 0
    for step in range(50):  # writes and reads of sizes that straddle the end of the buffer
        n = ring.write(np.arange(value, value + 1 + step % 5, dtype=np.float32))
        value += n
        count = ring.read_into(out[: 1 + step % 4])
        got.extend(out[:count].tolist())
    while (count := ring.read_into(out)):
        got.extend(out[:count].tolist())
    assert got == list(range(value)) and value > 50


def test_ring_one_producer_one_consumer_thread_keep_order():
    total = 60_000  # float32 holds these integers exactly
    source = np.arange(total, dtype=np.float32)
    received = np.full(total, -1.0, np.float32)
    ring = RingBuffer(257)

    def produce():
        rng = np.random.default_rng(0)
        pos = 0
        while pos < total:
            pos += ring.write(source[pos : pos + int(rng.integers(1, 300))])
            if ring.space() == 0:
                time.sleep(0)  # let the consumer have the GIL

    def consume():
        out = np.empty(100, np.float32)  # preallocated, as in the audio callback
        pos = 0
        while pos < total:
            count = ring.read_into(out[: 1 + pos % 100])
            received[pos : pos + count] = out[:count]
            pos += count
            if count == 0:
                time.sleep(0)

    threads = [threading.Thread(target=produce), threading.Thread(target=consume)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)
    assert np.array_equal(received, source)


# --- Player against a fake sounddevice -----------------------------------------------------------


class FakeStream:
    """Stands in for sounddevice.OutputStream; the test plays PortAudio's thread by calling pump()."""

    def __init__(self, fake_sd, **kwargs):
        self.kwargs = kwargs
        self.callback = kwargs["callback"]
        self.finished_callback = kwargs["finished_callback"]
        self.latency = 0.05
        self.started = threading.Event()
        self.finished = False
        self.closed = False
        self._stop_class = fake_sd.CallbackStop
        fake_sd.streams.append(self)

    def start(self):
        self.started.set()
        self.running = True
        self.starts = getattr(self, "starts", 0) + 1

    def stop(self):  # PortAudio plays out what it holds, then calls finished_callback
        self.abort()

    def abort(self):
        if getattr(self, "running", False):
            self.running = False
            self.finished = True
            self.finished_callback()

    def close(self):
        self.closed = True

    def pump(self, frames: int) -> np.ndarray:
        out = np.full((frames, 1), np.nan, np.float32)  # NaN shows anything the callback left unset
        try:
            self.callback(out, frames, None, None)
        except self._stop_class:
            self.abort()
        return out[:, 0]


def fake_sounddevice(*, devices=({"name": "fake", "max_output_channels": 2},), default=(0, 0),
                     refuse=None, open_error=None):
    sd = types.ModuleType("sounddevice")
    sd.streams = []
    sd.CallbackStop = type("CallbackStop", (Exception,), {})
    sd.default = types.SimpleNamespace(device=list(default))
    sd.query_devices = lambda device=None, kind=None: list(devices) if device is None else devices[device]

    def check_output_settings(**kwargs):
        if refuse:
            raise ValueError(refuse)

    def output_stream(**kwargs):
        if open_error:
            raise RuntimeError(open_error)
        if kwargs.get("device") is None and sd.default.device[1] < 0:  # as PortAudio does
            raise RuntimeError("Error querying device -1")
        return FakeStream(sd, **kwargs)

    sd.check_output_settings = check_output_settings
    sd.OutputStream = output_stream
    return sd


def opened(fake_sd, count=1) -> FakeStream:
    """The stream the sound thread opened (it opens off the caller's thread), the count-th so far."""
    assert wait_until(lambda: len(fake_sd.streams) >= count), "no stream was opened"
    return fake_sd.streams[count - 1]


@pytest.fixture
def fake_sd(monkeypatch):
    sd = fake_sounddevice()
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    return sd


def test_player_prebuffers_then_plays_every_sample_once_in_order(fake_sd):
    clip = np.arange(1, 2001, dtype=np.float32) / 2001
    player = Player(buffer_seconds=0.05, prebuffer_seconds=0.02, capture=len(clip))  # ring 400, pre 160
    assert Player.probe() is None
    player.start()
    stream = opened(fake_sd)
    assert stream.kwargs["samplerate"] == 8000 and stream.kwargs["channels"] == 1
    assert stream.kwargs["dtype"] == "float32"
    player.feed(clip[:100])
    assert wait_until(lambda: player.buffered == 100)
    assert not player.stream_running  # below the pre-buffer the stream waits
    assert np.all(stream.pump(64) == 0) and player.played == 0  # and would play silence, no underrun
    assert player.active and player.underruns == 0
    player.feed(clip[100:])  # far more than the ring holds: the rest waits in the pending queue
    assert wait_until(lambda: player._clip.started and player.stream_running)
    player.finish()
    played = []
    while player.active:
        # Pump only what the ring holds, as a steady device would find it; the feeder refills it.
        assert wait_until(lambda: player._clip.ring.available() >= 64 or player._clip.all_queued)
        played.append(stream.pump(64).copy())
    played = np.concatenate(played)
    assert np.array_equal(played[: len(clip)], clip) and np.all(played[len(clip) :] == 0)
    assert player.played == len(clip) and player.underruns == 0
    assert np.array_equal(player.captured, clip)
    assert wait_until(lambda: not player.stream_running)  # stopped after the clip played out
    assert not stream.closed and player._sound_thread.is_alive()  # open, and both wait for the next clip
    player.close()
    assert wait_until(lambda: not player._sound_thread.is_alive())
    assert stream.closed and len(fake_sd.streams) == 1


def test_underrun_is_counted_and_zero_filled(fake_sd):
    player = Player(buffer_seconds=0.1, prebuffer_seconds=0.01)  # pre-buffer 80
    player.start()
    stream = opened(fake_sd)
    player.feed(np.full(100, 0.5, np.float32))
    assert wait_until(lambda: player._clip.started and player._clip.ring.available() == 100)
    out = stream.pump(150)  # the producer is behind: 50 samples of silence
    assert np.all(out[:100] == 0.5) and np.all(out[100:] == 0)
    assert (player.played, player.underruns, player.active) == (100, 1, True)
    player.finish()
    assert wait_until(lambda: player._clip.all_queued)
    out = stream.pump(150)  # running dry after finish() ends the clip; that is no underrun
    assert np.all(out == 0) and player.underruns == 1
    assert player.wait(5) and not player.active
    player.close()


def test_finish_without_samples_ends_at_once(fake_sd):
    player = Player()
    player.start()
    player.finish()
    stream = opened(fake_sd)
    assert wait_until(lambda: player._clip.all_queued)
    stream.pump(32)
    assert player.wait(5) and not player.active and player.played == 0
    player.close()


def test_stop_while_the_feeder_waits_for_space(fake_sd):
    player = Player(buffer_seconds=0.01, prebuffer_seconds=0.005)  # ring of 80 samples
    player.start()
    stream = opened(fake_sd)
    player.feed(np.ones(8000, np.float32))  # 100 rings' worth, nobody draining
    assert wait_until(lambda: player._clip.started and player._clip.ring.space() == 0)
    started = time.monotonic()
    player.stop()
    assert time.monotonic() - started < 2.0  # generous: "promptly" on a loaded machine
    assert not player.active and player.buffered == 80  # the queue is dropped (the old ring goes with the clip)
    assert np.all(stream.pump(64) == 0)  # silence from the next callback on
    assert wait_until(lambda: not player.stream_running)  # the feeder stopped the stream
    assert not stream.closed  # and kept it for the next clip
    player.feed(np.ones(10, np.float32))  # a producer that has not noticed yet: ignored, no error
    player.finish()
    player.stop()  # twice is fine
    sound_thread = player._sound_thread
    player.close()
    assert wait_until(lambda: not sound_thread.is_alive()) and stream.closed
    Player().stop()  # and so is stopping a player that never played
    Player().close()


def test_a_stream_that_ends_by_itself_ends_the_clip_and_the_next_clip_opens_a_new_one(fake_sd):
    player = Player(buffer_seconds=0.01, prebuffer_seconds=0.005)
    player.start()
    stream = opened(fake_sd)
    player.feed(np.ones(8000, np.float32))
    assert wait_until(lambda: player._clip.started)
    stream.abort()  # what PortAudio does when the device goes away mid-clip
    assert player.wait(5) and not player.active
    player.play(np.full(50, 0.25, np.float32))
    opened(fake_sd, 2)
    assert wait_until(lambda: stream.closed)
    assert wait_until(lambda: fake_sd.streams[-1].started.is_set())
    player.close()


def test_play_replays_a_clip_and_restart_stops_the_previous_one_on_the_same_stream(fake_sd):
    player = Player(capture=100, prebuffer_seconds=0.001)
    player.play(np.full(100, 0.25, np.float32))
    stream = opened(fake_sd)
    assert wait_until(lambda: player._clip.all_queued)
    assert np.all(stream.pump(40) == 0.25)
    first = player._clip
    player.start()  # a new clip before the first was played out
    assert first.ended.is_set() and player.active and player.played == 0
    assert len(fake_sd.streams) == 1 and not stream.closed  # no stream opened or closed in between
    assert stream.starts == 1  # nor stopped: it ran on from one clip into the next
    player.feed(np.full(30, -0.5, np.float32))
    player.finish()
    assert wait_until(lambda: player._clip.all_queued)
    out = stream.pump(40)  # the new clip only: none of the first clip's 60 unplayed samples
    assert np.all(out[:30] == -0.5) and np.all(out[30:] == 0)
    player.close()  # no feeder thread may outlive the test
    assert stream.closed


def unplayable_clip_problem() -> str | None:
    """A clip on a device that cannot open ends by itself (start() does not wait to find out), and
    the Player says why."""
    player = Player()
    player.start()
    assert player.wait(5) and not player.active
    problem = player.problem
    player.close()
    return problem


def test_no_device_reasons(monkeypatch):
    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(devices=(), default=(-1, -1)))
    reason = Player.probe()
    assert reason.startswith("no audio output device found")
    assert unplayable_clip_problem().startswith("no audio output device found")

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(default=(-1, -1)))
    assert Player.probe().startswith("no default audio output device")

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(refuse="Invalid sample rate"))
    assert Player.probe() == "the audio output refuses 8000 Hz mono float32 playback (Invalid sample rate)"

    monkeypatch.setitem(sys.modules, "sounddevice", fake_sounddevice(open_error="Device unavailable"))
    assert Player.probe() is None
    assert unplayable_clip_problem() == "cannot open the audio output (Device unavailable)"

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # the package itself is missing
    assert "sounddevice package is not installed" in Player.probe()


def test_missing_portaudio_library_is_a_reason_not_a_crash(tmp_path):
    """What sounddevice does without libportaudio: its import raises OSError."""
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    code = (
        "import numpy as np\n"
        "from arplayground.audio.playback import Player\n"
        "print(Player.probe())\n"
        "p = Player()\n"
        "p.start()\n"
        "print('ended', p.wait(5), p.problem)\n"
        "p.feed(np.zeros(10)); p.finish(); p.stop(); p.close()\n"
        "print(p.active, p.played, p.underruns)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=30)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("PortAudio library not found (PortAudio library not found)")
    assert "libportaudio2" in lines[0]
    assert lines[1].startswith("ended True PortAudio library not found")
    assert lines[2] == "False 0 0"


# --- the real PortAudio path on ALSA's null device -----------------------------------------------

NULL_DEVICE_SCRIPT = r"""
import json, os, threading, time
import numpy as np
from arplayground.audio.playback import Player

def tasks():  # OS threads of this process, PortAudio's included
    return len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task") else 0

result = {"probe": Player.probe()}
if result["probe"] is not None:
    print("RESULT " + json.dumps(result))
    raise SystemExit(0)
baseline = tasks()
rng = np.random.default_rng(0)
clip = rng.uniform(-1, 1, 12000).astype(np.float32)  # distinct values: any reordering shows

player = Player(buffer_seconds=0.25, prebuffer_seconds=0.2, capture=len(clip))  # ring 2000 < clip
player.start()
def produce():  # the generation worker: one big burst past the ring, then many small pieces
    player.feed(clip[:5000])
    pos = 5000
    while pos < len(clip):
        step = int(rng.integers(1, 400))
        player.feed(clip[pos : pos + step])
        pos += step
    player.finish()
producer = threading.Thread(target=produce)
producer.start()
producer.join(10)
result["finished"] = player.wait(10)
result["in_order"] = bool(np.array_equal(player.captured, clip))
result["played"] = player.played
result["active_after"] = player.active
deadline = time.monotonic() + 5
while player.stream_running and time.monotonic() < deadline:  # the feeder stops it after the clip
    time.sleep(0.001)
result["running_between_clips"] = player.stream_running

player.play(clip[:3000])  # replay on the same stream
result["replayed"] = player.wait(10) and bool(np.array_equal(player.captured[:3000], clip[:3000]))

# stop mid-clip: the producer never calls finish(), so the clip is unfinished whatever the pace
endless = Player(buffer_seconds=0.1, prebuffer_seconds=0.05)
endless.start()
halt = threading.Event()
def produce_forever():
    while not halt.is_set():
        endless.feed(np.full(200, 0.1, np.float32))
        time.sleep(0.001)
producer = threading.Thread(target=produce_forever)
producer.start()
deadline = time.monotonic() + 10
while endless.played == 0 and time.monotonic() < deadline:
    time.sleep(0.001)
result["playing_before_stop"] = endless.active and endless.played > 0
t0 = time.monotonic()
endless.stop()
result["stop_seconds"] = time.monotonic() - t0
result["active_after_stop"] = endless.active
endless.stop()
halt.set()
producer.join(5)
player.close()
endless.close()
deadline = time.monotonic() + 5  # close() leaves the sound threads to finish closing by themselves
while any(t is not threading.main_thread() for t in threading.enumerate()) and time.monotonic() < deadline:
    time.sleep(0.01)
time.sleep(0.05)
result["python_threads"] = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
result["extra_os_threads"] = tasks() - baseline
print("RESULT " + json.dumps(result))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ALSA's null device is Linux only")
def test_real_portaudio_stream_on_the_alsa_null_device():
    """Runs in a fresh interpreter: ALSA reads ALSA_CONFIG_PATH once, when PortAudio first loads."""
    env = {**os.environ, "ALSA_CONFIG_PATH": str(NULL_ALSA_CONF), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-c", NULL_DEVICE_SCRIPT], capture_output=True, text=True,
                         env=env, timeout=60)
    assert run.returncode == 0, run.stderr
    result = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("RESULT "))[7:])
    if result["probe"] and result["probe"].startswith(("PortAudio library not found", "the sounddevice package")):
        pytest.skip(result["probe"])
    assert result["probe"] is None, result["probe"]
    assert result["finished"] and not result["active_after"]
    assert not result["running_between_clips"]  # open but stopped: no callbacks spinning on the null device
    assert result["in_order"], "the callback lost, repeated or reordered samples"
    assert result["played"] == 12000
    assert result["replayed"]
    assert result["playing_before_stop"]
    assert result["stop_seconds"] < 2.0 and not result["active_after_stop"]
    assert result["python_threads"] == []  # sound threads ended with close()
    assert result["extra_os_threads"] <= 0  # PortAudio's callback thread ended too


def test_open_in_background_opens_the_stream_that_start_then_uses(fake_sd):
    player = Player()
    player.open_in_background()
    assert wait_until(lambda: player.device_open)
    assert len(fake_sd.streams) == 1 and not player.stream_running
    player.play(np.zeros(10, np.float32))
    assert wait_until(lambda: fake_sd.streams[0].started.is_set())  # the sound thread started it
    assert len(fake_sd.streams) == 1  # the clip found it open
    player.close()
    assert wait_until(lambda: fake_sd.streams[0].closed)


def test_a_failed_background_open_is_kept_as_the_problem_and_tried_again_by_start(monkeypatch):
    sd = fake_sounddevice(open_error="Device unavailable")
    monkeypatch.setitem(sys.modules, "sounddevice", sd)
    player = Player()
    player.open_in_background()  # fails quietly
    assert wait_until(lambda: player.problem == "cannot open the audio output (Device unavailable)")
    assert not player.active
    sd.OutputStream = lambda **kwargs: FakeStream(sd, **kwargs)  # the device is back
    player.start()
    assert wait_until(lambda: player.device_open) and player.problem is None and player.active
    player.close()


def test_close_during_a_background_open_leaves_nothing_open(fake_sd, monkeypatch):
    import arplayground.audio.playback as playback

    loading = threading.Event()
    release = threading.Event()
    real_import = playback._import_sounddevice

    def slow_import():  # sounddevice still loading PortAudio when the window closes
        loading.set()
        release.wait(5)
        return real_import()

    monkeypatch.setattr(playback, "_import_sounddevice", slow_import)
    player = Player()
    player.open_in_background()
    assert loading.wait(5)
    player.close()  # returns while the import is still going on
    sound_thread = player._sound_thread
    assert sound_thread.is_alive()
    release.set()
    sound_thread.join(5)
    assert not sound_thread.is_alive() and fake_sd.streams == []  # no stream after close()
