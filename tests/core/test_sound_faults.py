"""A sound device that never answers, and a sound system that crashes or hangs when loaded: no
Player call returns late for it, and the sound check reports it instead of taking the process down.

"Returns" is checked with a generous bound (a call run on a helper thread must end within 5 s),
never with a timing: a hang is forever, so the bound only decides how long a failing test takes.
"""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

from arplayground.audio import playback
from arplayground.audio.playback import Player, SoundCheck, run_check

HANG_BOUND = 5.0
NULL_ALSA_CONF = Path(__file__).resolve().parents[1] / "alsa-null.conf"


def returns(call, *args) -> bool:
    """Whether call(*args) returns (or raises) within HANG_BOUND; a hung call is left on its daemon thread."""
    finished = threading.Event()

    def run():
        try:
            call(*args)
        finally:
            finished.set()

    threading.Thread(target=run, daemon=True).start()
    return finished.wait(HANG_BOUND)


class StuckDevice:
    """A fake sounddevice whose chosen stream calls ('open', 'start', 'stop', 'abort', 'close')
    block until `release` is set (at the end of the test): a device that never answers."""

    def __init__(self, *stuck: str):
        self.stuck = set(stuck)
        self.release = threading.Event()
        self.entered = {name: threading.Event() for name in ("open", "start", "stop", "abort", "close")}
        self.streams = []
        device = self

        class Stream:
            latency = 0.05

            def __init__(self, **kwargs):
                device._call("open")
                self.kwargs = kwargs
                device.streams.append(self)

            def start(self):
                device._call("start")

            def stop(self):
                device._call("stop")

            def abort(self):
                device._call("abort")

            def close(self):
                device._call("close")

        self.module = types.ModuleType("sounddevice")
        self.module.OutputStream = Stream
        self.module.default = types.SimpleNamespace(device=[0, 0])
        self.module.query_devices = lambda device=None, kind=None: [{"name": "stuck", "max_output_channels": 2}]
        self.module.check_output_settings = lambda **kwargs: None

    def _call(self, name: str) -> None:
        self.entered[name].set()
        if name in self.stuck:
            self.release.wait()


@pytest.fixture
def stuck_device(monkeypatch):
    devices = []

    def make(*stuck):
        device = StuckDevice(*stuck)
        monkeypatch.setitem(sys.modules, "sounddevice", device.module)
        devices.append(device)
        return device

    yield make
    for device in devices:  # let the stuck sound threads go, so they end with the test
        device.release.set()
    # ... while this fake is still sounddevice: one that imported it after monkeypatch put the
    # real module back would load PortAudio, and finishing that import could replace the next test's fake.
    for thread in list(playback._sound_threads):
        thread.join(HANG_BOUND)


def every_gui_call_returns(player: Player) -> None:
    """Each call a window makes on a Player, in the order a person's clicks make them."""
    clip = np.zeros(800, np.float32)
    assert returns(player.start), "start() waited on the device"
    assert returns(player.feed, clip), "feed() waited on the device"
    assert returns(player.finish), "finish() waited on the device"
    for name in ("active", "played", "buffered", "underruns", "output_latency", "stream_running",
                 "device_open", "opening", "problem", "captured"):
        assert returns(getattr, player, name), f"reading {name} waited on the device"
    assert returns(player.stop), "stop() waited on the device"
    assert not player.active  # stopped at once, whatever the device is doing
    assert returns(player.play, clip), "play() waited on the device"
    assert returns(player.stop)
    assert returns(player.open_in_background)
    assert returns(player.close), "close() waited on the device"


def test_an_open_that_never_returns_holds_up_no_player_call(stuck_device):
    device = stuck_device("open")
    player = Player()
    assert returns(player.start)
    assert device.entered["open"].wait(HANG_BOUND)  # the sound thread is inside the open now
    assert player.opening and not player.device_open
    every_gui_call_returns(player)


def test_a_start_that_never_returns_holds_up_no_player_call(stuck_device):
    device = stuck_device("start")
    player = Player(prebuffer_seconds=0.01)
    assert returns(player.play, np.zeros(800, np.float32))
    assert device.entered["start"].wait(HANG_BOUND)
    every_gui_call_returns(player)


@pytest.mark.parametrize("stuck", ["abort", "close"])
def test_a_stop_or_close_that_never_returns_holds_up_no_player_call(stuck_device, stuck):
    device = stuck_device("stop", "abort", "close") if stuck == "abort" else stuck_device("close")
    player = Player(prebuffer_seconds=0.01)
    assert returns(player.play, np.zeros(800, np.float32))
    assert device.entered["start"].wait(HANG_BOUND)
    assert returns(player.stop)  # the sound thread now aborts the stream: stuck there (first case)
    if stuck == "abort":
        assert device.entered["abort"].wait(HANG_BOUND)
    every_gui_call_returns(player)
    if stuck == "close":
        assert device.entered["close"].wait(HANG_BOUND)  # the sound thread is stuck closing, the caller is not


def test_a_second_player_waits_for_a_stuck_device_on_its_own_sound_thread_only(stuck_device):
    """PortAudio calls are serialised across Players (PortAudio is not thread-safe); the A/B
    window's two sides and the main window each have a Player, and none of their callers waits."""
    device = stuck_device("open")
    first, second = Player(), Player()
    assert returns(first.start)
    assert device.entered["open"].wait(HANG_BOUND)
    every_gui_call_returns(second)
    every_gui_call_returns(first)


def test_a_stuck_open_that_returns_after_close_closes_its_stream(stuck_device):
    device = stuck_device("open")
    player = Player()
    assert returns(player.start)
    assert device.entered["open"].wait(HANG_BOUND)
    assert returns(player.close)
    sound_thread = player._sound_thread
    assert sound_thread.is_alive()  # left behind, stuck in the open
    device.release.set()  # the device answers at last
    sound_thread.join(HANG_BOUND)
    assert not sound_thread.is_alive() and device.entered["close"].is_set()  # and nothing stays open


# --- the sound check: in a child process, so that a crash or a hang there is only an answer --------


def test_a_sound_system_that_aborts_the_process_is_a_reason():
    reason = run_check([sys.executable, "-c", "import os; os.abort()"])
    assert reason.startswith("the sound system crashed while starting (SIGABRT")


def test_a_sound_system_that_hangs_is_a_reason_after_the_timeout():
    started = time.monotonic()
    reason = run_check([sys.executable, "-c", "import time; time.sleep(600)"], timeout=1.0)
    assert reason == "the sound system did not answer within 1 s (a check in a separate process hung)"
    assert time.monotonic() - started < 60  # the child was killed, not waited for


def test_a_check_that_fails_says_how():
    assert run_check([sys.executable, "-c", "raise SystemExit('no luck')"]) == \
        "the sound check failed (exit status 1: no luck)"
    assert run_check(["/nonexistent/python"]).startswith("cannot run the sound check")


def test_the_real_check_plays_on_alsas_null_device_and_says_why_it_cannot(tmp_path, monkeypatch):
    """The default command: this interpreter and the real sounddevice on ALSA's null device; then
    fake sounddevice modules (first on PYTHONPATH) that abort, or fail to load PortAudio."""
    monkeypatch.setenv("ALSA_CONFIG_PATH", str(NULL_ALSA_CONF))
    reason = run_check(timeout=30)
    if reason is not None and reason.startswith(("PortAudio library not found", "the sounddevice package")):
        pytest.skip(reason)
    assert reason is None, reason
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    (tmp_path / "sounddevice.py").write_text("import os\nos.abort()\n")  # as PortAudio aborts in Pa_Initialize
    assert run_check(timeout=30).startswith("the sound system crashed while starting (SIGABRT")
    (tmp_path / "sounddevice.py").write_text("raise OSError('cannot load library libportaudio.so.2')\n")
    reason = run_check(timeout=30)
    assert reason.startswith("PortAudio library not found") and "libportaudio2" in reason


def test_a_broken_alsa_configuration_is_a_reason(tmp_path, monkeypatch):
    """Real ALSA configurations that break PortAudio's start: an empty file aborts the process
    (measured: exit 134), a syntax error makes Pa_Initialize fail."""
    for name, text in (("empty.conf", ""), ("syntax.conf", "pcm.!default { type foo")):
        (tmp_path / name).write_text(text)
        monkeypatch.setenv("ALSA_CONFIG_PATH", str(tmp_path / name))
        reason = run_check(timeout=30)
        if reason is not None and reason.startswith(("PortAudio library not found", "the sounddevice package")):
            pytest.skip(reason)
        assert reason is not None, f"{name}: the check found sound"
        assert reason.startswith(("the sound system crashed", "the sound system failed to start",
                                  "no audio output device")), reason


def test_sound_check_answers_on_its_own_thread_once():
    check = SoundCheck([sys.executable, "-c", "import time; time.sleep(600)"], timeout=1.0)
    assert returns(check.start) and returns(getattr, check, "done")
    assert check.start() is check  # a second start is the same check
    assert check.wait(30) and check.reason.startswith("the sound system did not answer")
