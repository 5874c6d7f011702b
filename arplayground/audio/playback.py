"""Real-time playback of audio that a generation thread produces faster than real time.

The promise: no call a controlling thread (the GUI, the generation worker) makes on a Player ever
waits on the sound device, whatever the device does. Under JACK a PortAudio open or start can take
a tenth of a second or more (measured: 0.25 s to open), and it can also never return: two streams
started at once from two threads hung there, with the GUI thread waiting behind them for a lock.
So every PortAudio call (loading the library, open, start, stop, abort, close) is made by the
Player's own sound thread, and the methods others call only change the Player's state under a lock
that no thread holds across a device call. A device call that never returns costs the sound, not
the app: stop() still silences the clip at once, and close() gives up waiting after a moment and
leaves the stuck daemon thread behind.

One output stream is opened at a Player's first clip (or earlier, by open_in_background) and kept
open until close(): opening and closing a stream per clip would cost every Generate, Play and Stop
that tenth of a second. The sound thread starts it when a clip's pre-buffer is in and stops it when
no clip is playing (a running stream with nothing to play still calls back: on a device without a
clock, such as ALSA's null device, back to back, measured at 77% of a core).

Three kinds of thread meet here. The producer calls Player.feed() at whatever pace it runs; the
sound thread moves what it fed into the current clip's fixed-size ring; PortAudio's callback thread
copies from that ring to the sound card. The callback is the only part with a deadline: it never
allocates buffers, logs, touches Qt or takes a lock, so a busy producer can only ever make it play
silence (an underrun, counted), never glitch the stream or hang it.

Loading sounddevice initialises PortAudio, and a broken sound configuration can abort the process
inside that (an empty ALSA configuration file: exit 134, measured), which no except clause catches.
So an app checks the sound system first in a short-lived child process (SoundCheck) and only then
lets a Player load sounddevice, on its sound thread.
"""

from __future__ import annotations

import atexit
import collections
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from arplayground.core.mulaw import SAMPLE_RATE

INSTALL_HINT = "install PortAudio (e.g. `sudo apt install libportaudio2`) and restart"
CHECK_TIMEOUT_SECONDS = 8.0  # the child's start, import, query and open: 0.5-1.5 s where sound works (JACK: 1.4 s)
CLOSE_WAIT_SECONDS = 0.1  # close() waits this long for the sound thread, then leaves it behind
EXIT_WAIT_SECONDS = 1.0  # at exit, how long sound threads get to finish their device calls


class PlaybackError(RuntimeError):
    """Playback cannot start; str() is the reason to show the user."""


class RingBuffer:
    """Single-producer single-consumer float32 ring; write and read never block or allocate.

    Thread safety without a lock: `_written` and `_read` count samples ever written and read. Each
    is assigned by one thread only (the writer and the reader respectively) and only ever grows, so
    the other thread can at worst see a stale, smaller value, which makes it see less data
    (reader) or less space (writer) than there is, never more. Each side copies its samples first
    and publishes the new count afterwards; rebinding an attribute is atomic under the GIL, and
    the GIL hand-over between the producer thread and PortAudio's callback thread orders memory,
    so a published count never covers samples that are not yet in the buffer. Python ints do not
    overflow, so the counters need no wrap-around handling; positions are counters mod capacity.
    """

    def __init__(self, capacity: int):
        if capacity <= 0:
            raise ValueError(f"ring capacity must be positive, got {capacity}")
        self.capacity = int(capacity)
        self._buffer = np.zeros(self.capacity, dtype=np.float32)
        self._written = 0  # assigned by the writer only
        self._read = 0  # assigned by the reader only

    def available(self) -> int:
        """Samples written and not yet read."""
        return self._written - self._read

    def space(self) -> int:
        """Samples that can be written without overwriting unread ones."""
        return self.capacity - (self._written - self._read)

    def write(self, samples) -> int:
        """Copy as many leading samples as fit; returns how many were accepted (0 when full)."""
        written = self._written
        count = min(len(samples), self.capacity - (written - self._read))
        if count <= 0:
            return 0
        start = written % self.capacity
        first = min(count, self.capacity - start)  # the part before the end of the buffer
        self._buffer[start : start + first] = samples[:first]
        self._buffer[: count - first] = samples[first:count]
        self._written = written + count  # publish only after the copy
        return count

    def read_into(self, out: np.ndarray) -> int:
        """Copy up to len(out) of the oldest samples into out (preallocated); returns the count."""
        read = self._read
        count = min(len(out), self._written - read)
        if count <= 0:
            return 0
        start = read % self.capacity
        first = min(count, self.capacity - start)
        out[:first] = self._buffer[start : start + first]
        out[first:count] = self._buffer[: count - first]
        self._read = read + count  # free the space only after the copy
        return count


# Every PortAudio call of every Player, one at a time: PortAudio is not thread-safe (measured under
# JACK: three streams opened at once from three threads, two failed with "Insufficient memory";
# two started at once, neither start returned). Only sound threads take it, and none of them holds
# a Player's state lock meanwhile, so a device call that never returns stalls sound threads only.
_device_lock = threading.Lock()
_sound_threads: "set[threading.Thread]" = set()  # live sound threads, for the exit handler
_exit_handler_registered = False


def _import_sounddevice():
    """(module, None), or (None, reason) where PortAudio or the package is missing or fails."""
    try:
        import sounddevice
    except OSError as err:  # sounddevice raises this when libportaudio cannot be loaded
        return None, f"PortAudio library not found ({err}); {INSTALL_HINT}"
    except ImportError as err:
        return None, f"the sounddevice package is not installed ({err}); run `pip install sounddevice`"
    except Exception as err:  # noqa: BLE001 - PortAudioError from Pa_Initialize (a broken sound configuration)
        return None, f"the sound system failed to start ({err})"
    return sounddevice, None


def _device_problem(sd, device, rate: int) -> str | None:
    """Why `device` (None: the default) cannot play rate Hz float32 mono, or None when it can."""
    try:
        if device is not None:
            try:
                sd.query_devices(device, kind="output")
            except Exception as err:  # noqa: BLE001 - ValueError for an unknown name, PortAudioError
                return f"audio output device {device!r} not found ({err})"
        else:
            default_output = sd.default.device[1]
            if default_output is None or default_output < 0:
                if not any(d["max_output_channels"] > 0 for d in sd.query_devices()):
                    return "no audio output device found (no sound card, or the sound server is not running)"
                return "no default audio output device; choose one in the system's sound settings"
        sd.check_output_settings(device=device, channels=1, dtype="float32", samplerate=rate)
    except Exception as err:  # noqa: BLE001 - PortAudioError, ValueError for unknown devices, ...
        return f"the audio output refuses {rate} Hz mono float32 playback ({err})"
    return None


def _wait_for_sound_threads_at_exit() -> None:
    """Registered after sounddevice's own exit handler, so it runs first (atexit is last in, first
    out). A sound thread still inside a device call after a moment is stuck: then PortAudio is not
    terminated, since Pa_Terminate would wait on the same device and the process would never end."""
    deadline = time.monotonic() + EXIT_WAIT_SECONDS
    for thread in list(_sound_threads):
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(t.is_alive() for t in _sound_threads):
        sd = sys.modules.get("sounddevice")
        if sd is not None and hasattr(sd, "_exit_handler"):
            atexit.unregister(sd._exit_handler)


# --- the sound system, checked where a crash cannot take the app down ------------------------------

_CHECK_MARK = "SOUND-CHECK "
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])  # the folder holding the arplayground package


def check_command() -> list[str]:
    """The child process that checks the sound system: this interpreter running check_here()."""
    code = (f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); "
            "from arplayground.audio.playback import check_here; check_here()")
    return [sys.executable, "-c", code]


def check_here(rate: int = SAMPLE_RATE) -> None:
    """In the check's child process: load PortAudio, find the default output, open, start and close
    a stream as a Player would; print the reason it cannot play (or null) after _CHECK_MARK."""
    reason = Player.probe(rate=rate)
    if reason is None:
        sd = sys.modules["sounddevice"]
        try:
            stream = sd.OutputStream(samplerate=rate, channels=1, dtype="float32", latency="high",
                                     callback=lambda outdata, *_: outdata.fill(0))
            stream.start()
            stream.abort()
            stream.close()
        except Exception as err:  # noqa: BLE001 - PortAudioError, ValueError, ...
            reason = f"cannot open the audio output ({err})"
    print(_CHECK_MARK + json.dumps(reason), flush=True)


def run_check(command: list[str] | None = None, timeout: float = CHECK_TIMEOUT_SECONDS) -> str | None:
    """Run the sound check's child process (blocking: call it off the GUI thread). None when sound
    can play, else the reason: the child's own, or how it crashed, failed or hung."""
    try:
        done = subprocess.run(command or check_command(), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:  # (run() has killed the child)
        return f"the sound system did not answer within {timeout:g} s (a check in a separate process hung)"
    except OSError as err:
        return f"cannot run the sound check ({err.strerror or err})"
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return (f"the sound system crashed while starting ({name}, in a separate check process); "
                "check the ALSA or sound-server configuration")
    lines = [line for line in done.stdout.splitlines() if line.startswith(_CHECK_MARK)]
    if done.returncode != 0 or not lines:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        return f"the sound check failed (exit status {done.returncode}: {last})"
    try:
        reason = json.loads(lines[-1][len(_CHECK_MARK):])
    except ValueError:
        return f"the sound check failed (unreadable answer {lines[-1]!r})"
    return None if reason is None else str(reason)


class SoundCheck:
    """run_check once, on a background thread; `done` and `reason` answer without waiting."""

    def __init__(self, command: list[str] | None = None, timeout: float = CHECK_TIMEOUT_SECONDS):
        self.command = command
        self.timeout = timeout
        self.reason: str | None = None  # why sound cannot play; valid once done
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> "SoundCheck":
        """Start checking (once; later calls do nothing)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sound-check", daemon=True)
                self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self.reason = run_check(self.command, self.timeout)
        except Exception as err:  # noqa: BLE001 - a bug here must still end as a reason, not a hung check
            self.reason = f"the sound check failed ({type(err).__name__}: {err})"
        self._done.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


_shared_check: SoundCheck | None = None


def shared_sound_check() -> SoundCheck:
    """The process's one sound check, started on first use: the answer holds for the session."""
    global _shared_check
    if _shared_check is None:
        _shared_check = SoundCheck()
    return _shared_check.start()


# --- playing ---------------------------------------------------------------------------------------


class _Clip:
    """One clip: its own ring (so a stopped clip's leftovers can never be played into the next), its
    queue of samples waiting for ring space, its counters and flags.

    Each counter and flag is assigned by one thread only, named beside it; the others read it.
    """

    def __init__(self, *, ring_capacity: int, prebuffer: int, capture: int):
        self.ring = RingBuffer(ring_capacity)
        self.prebuffer = min(prebuffer, ring_capacity)
        self.capture = np.zeros(capture, dtype=np.float32) if capture else None  # allocated here, not in the callback
        self.pending: collections.deque[np.ndarray] = collections.deque()  # guarded by Player._wake
        self.played = 0  # callback
        self.underruns = 0  # callback
        self.played_out = False  # callback: the last sample has been handed to the device
        self.producer_done = False  # finish(): no more samples will come
        self.stopping = False  # stop(): drop everything now
        self.started = False  # sound thread: the pre-buffer is in the ring (or all there is): play it
        self.all_queued = False  # sound thread: the last sample is in the ring
        self.ended = threading.Event()  # sound thread or stop(): the clip is over

    @property
    def buffered(self) -> int:
        return sum(len(chunk) for chunk in tuple(self.pending)) + self.ring.available()


class Player:
    """Plays one 8 kHz mono clip at a time while it is still being generated.

    start(), then feed() as samples arrive (from any one producer thread), then finish(): the clip
    ends by itself after its last sample. stop() ends it at once from any thread (what the device
    already holds, at most its output latency, still sounds). None of these waits on the device; a
    clip the device could not play ends by itself, and `problem` says why. One stream serves every
    clip and stays open until close(). `played` is the playhead in samples handed to the device
    (the audible sound lags it by `output_latency` seconds), `underruns` counts callbacks that ran
    dry before the clip was finished.

    capture=n is a test hook: every played sample of a clip is also copied into a preallocated
    array of n samples (`captured`), which shows exactly what reached the device, in order.
    """

    def __init__(self, *, rate: int = SAMPLE_RATE, buffer_seconds: float = 1.0,
                 prebuffer_seconds: float = 0.2, device=None, latency="high", capture: int = 0,
                 poll_seconds: float = 0.005):
        self.rate = int(rate)
        self.ring_capacity = max(1, round(buffer_seconds * rate))
        self.prebuffer = max(1, round(prebuffer_seconds * rate))
        self.device = device
        # "high" lets PortAudio buffer more: the callback needs the GIL, which a busy generation
        # thread can hold for milliseconds, and a late callback is an audible click.
        self.latency = latency
        self.poll_seconds = poll_seconds
        self._capture = int(capture)
        self._clip: _Clip | None = None  # rebound (atomically) by start(); read by the callback
        # The state below is guarded by _wake, a lock no thread holds across a device call.
        self._wake = threading.Condition()  # the sound thread sleeps on it
        self._closing = False  # close(): the sound thread closes the stream and ends
        self._open_wanted = False  # open_in_background(): open the stream before the first clip
        self._sound_thread: threading.Thread | None = None  # one per Player, started by the first need
        # Assigned by the sound thread only:
        self._stream = None  # opened once, closed at close()
        self._running = False  # the stream is started
        self._opening = False  # inside the device's open (which may never return)
        self._latency = 0.0  # the open stream's output latency, read once
        self._problem: str | None = None  # why the last open failed; None after one that worked
        self._stream_ended = threading.Event()  # PortAudio ended a running stream (device gone, error)

    @staticmethod
    def probe(device=None, rate: int = SAMPLE_RATE) -> str | None:
        """None when playback can work, else the reason it cannot, as a sentence for the user.
        This loads PortAudio in the calling process and queries the device there (so, for an app,
        in SoundCheck's child process; check_here calls it)."""
        sd, reason = _import_sounddevice()
        if sd is None:
            return reason
        return _device_problem(sd, device, rate)

    # --- the controlling threads (GUI, worker): state changes only, never a device call -------------

    def start(self) -> None:
        """A new clip, ending any clip still playing. Returns at once: the sound thread opens the
        stream if it is not open (the first time, or after the device ended it or refused to open).
        Raises PlaybackError only on a closed Player."""
        clip = _Clip(ring_capacity=self.ring_capacity, prebuffer=self.prebuffer, capture=self._capture)
        with self._wake:
            if self._closing:
                raise PlaybackError("this player is closed")
            self._end_locked(self._clip)
            self._clip = clip
            self._ensure_sound_thread_locked()
            self._wake.notify_all()

    def open_in_background(self) -> None:
        """Open the stream now, on the sound thread, so that the first clip need not wait for it.
        A failure is kept in `problem` and tried again at the next start()."""
        with self._wake:
            if self._closing:
                return
            self._open_wanted = True
            self._ensure_sound_thread_locked()
            self._wake.notify_all()

    def feed(self, samples) -> None:
        """Queue samples (float, [-1, 1]); returns at once. Ignored when no clip is playing."""
        clip = self._clip
        if clip is None:
            return
        samples = np.array(samples, dtype=np.float32).reshape(-1)  # a copy: the caller may reuse its array
        if not len(samples):
            return
        with self._wake:
            if clip.producer_done or clip.stopping or clip.ended.is_set():  # (ended: could not play)
                return
            clip.pending.append(samples)
            self._wake.notify_all()

    def finish(self) -> None:
        """No more samples for this clip: play out what is queued, then end it."""
        clip = self._clip
        if clip is not None:
            with self._wake:
                clip.producer_done = True
                self._wake.notify_all()

    def play(self, clip) -> None:
        """Replay a finished clip from the start."""
        self.start()
        self.feed(clip)
        self.finish()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the clip has finished playing or was stopped; False on timeout. (This one
        does wait on the device: for scripts and tests, not for the GUI.)"""
        clip = self._clip
        return True if clip is None else clip.ended.wait(timeout)

    def stop(self) -> None:
        """Silence the clip now (the sound thread then stops the stream); safe from any thread,
        twice, or when nothing plays."""
        with self._wake:
            self._end_locked(self._clip)

    def close(self, join_timeout: float = CLOSE_WAIT_SECONDS) -> None:
        """End the clip and the sound thread, which closes the stream. Waits at most join_timeout
        for it: a thread stuck in a device call is left behind (a daemon; it closes what it opened
        if the call ever returns), rather than the caller waiting with it."""
        with self._wake:
            self._closing = True
            self._end_locked(self._clip)
            thread = self._sound_thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(join_timeout)

    def __enter__(self) -> "Player":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _end_locked(self, clip: _Clip | None) -> None:
        if clip is not None:  # the clip object stays, so played/underruns remain readable
            clip.stopping = True
            clip.pending.clear()
            clip.ended.set()
            self._wake.notify_all()

    def _ensure_sound_thread_locked(self) -> None:
        if self._sound_thread is None:
            self._sound_thread = threading.Thread(target=self._sound_loop, name="audio-sound", daemon=True)
            _sound_threads.add(self._sound_thread)
            self._sound_thread.start()

    # --- PortAudio's threads ------------------------------------------------------------------------

    def _callback(self, outdata, frames, time_info, status):
        # Only copies and integer arithmetic: no buffers allocated, no locks, no logging.
        out = outdata[:, 0]
        clip = self._clip
        if clip is None or not clip.started or clip.played_out or clip.stopping:
            out[:] = 0.0  # between clips, or still pre-buffering
            return
        done = clip.all_queued  # read before the ring: if set, every sample is already in the ring
        count = clip.ring.read_into(out)
        if count:
            capture = clip.capture
            if capture is not None and clip.played < len(capture):
                kept = min(count, len(capture) - clip.played)
                capture[clip.played : clip.played + kept] = out[:kept]
            clip.played += count
        if count < frames:
            out[count:] = 0.0
            if done:
                clip.played_out = True  # the sound thread sees it and ends the clip
            else:
                clip.underruns += 1

    def _on_stream_end(self) -> None:
        """PortAudio says the stream stopped. The sound thread's own stops clear `_running` first;
        when it is still set, the device ended the stream (unplugged, an error): wake the thread."""
        if not self._running:
            return
        self._running = False
        self._stream_ended.set()
        with self._wake:
            self._wake.notify_all()

    # --- the sound thread: the only one that calls PortAudio (under _device_lock) --------------------

    def _sound_loop(self) -> None:
        try:
            with _device_lock:  # loading sounddevice initialises PortAudio
                sd, load_problem = _import_sounddevice()
            _register_exit_handler(sd)
            self._serve(sd, load_problem)
        finally:
            try:
                self._halt(abort=True)
                self._close_stream()
            finally:
                _sound_threads.discard(threading.current_thread())

    def _serve(self, sd, load_problem: str | None) -> None:
        """Opens the stream when a clip (or open_in_background) needs it, moves the current clip's
        queued samples into its ring as space frees up, starts the stream once the pre-buffer is in,
        and stops it when the clip has played out or was stopped; returns at close()."""
        while True:
            with self._wake:
                while True:
                    if self._closing:
                        return
                    clip = self._clip
                    live = clip is not None and not clip.ended.is_set()
                    no_stream = self._stream is None or self._stream_ended.is_set()
                    if live and (no_stream or clip.pending or clip.producer_done):
                        break
                    if self._open_wanted and no_stream:
                        break
                    if not live and self._running:
                        break  # the clip was stopped: stop the stream too
                    self._wake.wait()
                self._open_wanted = False
                chunk = clip.pending[0] if live and clip.pending else None
            if not live and not no_stream:
                self._halt(abort=True)
                continue
            if no_stream:
                if live and clip.started:  # the device ended the stream under this clip
                    clip.ended.set()  # nothing will play the rest: the next clip opens a new stream
                    continue
                if not self._open_stream(sd, load_problem) and live:
                    clip.ended.set()  # unplayable; `problem` says why
                continue
            if chunk is None:  # the producer is done and everything it fed is in the ring
                clip.all_queued = True
                self._play(clip)
                self._wait_for(lambda: clip.played_out or clip.stopping or self._stream_ended.is_set())
                if not clip.stopping and self._clip is clip:
                    self._halt(abort=False)  # returns once the device has played the tail
                clip.ended.set()
                continue
            accepted = clip.ring.write(chunk)
            with self._wake:
                if clip.pending and clip.pending[0] is chunk:  # stop() may have cleared the queue
                    if accepted == len(chunk):
                        clip.pending.popleft()
                    else:
                        clip.pending[0] = chunk[accepted:]
            if not clip.started and clip.ring.available() >= clip.prebuffer:
                self._play(clip)
            if accepted < len(chunk):
                # The ring is full: let the callback drain some. Polling (a few ms, a fraction of the
                # ring's duration) keeps the callback free of any signalling. Wakes early on stop.
                with self._wake:
                    if not clip.stopping and not self._closing:
                        self._wake.wait(self.poll_seconds)

    def _open_stream(self, sd, load_problem: str | None) -> bool:
        """Open the stream (not started: that waits for a clip's pre-buffer), closing one the device
        ended first. False, with `_problem` set, when it cannot be opened."""
        if sd is None:
            self._problem = load_problem
            return False
        self._close_stream()
        self._stream_ended.clear()
        self._opening = True
        try:
            with _device_lock:
                try:
                    stream = sd.OutputStream(
                        samplerate=self.rate, channels=1, dtype="float32", device=self.device, latency=self.latency,
                        callback=self._callback, finished_callback=self._on_stream_end,
                    )
                except Exception as err:  # noqa: BLE001 - PortAudioError, ValueError (bad device), ...
                    problem = _device_problem(sd, self.device, self.rate)
                    self._problem = problem or f"cannot open the audio output ({err})"
                    return False
        finally:
            self._opening = False
        try:
            self._latency = float(stream.latency)
        except (TypeError, ValueError):
            self._latency = 0.0
        self._stream, self._problem = stream, None
        return True

    def _close_stream(self) -> None:
        stream, self._stream, self._running = self._stream, None, False
        if stream is None:
            return
        with _device_lock:
            try:
                stream.abort()  # immediate, unlike stop(), which waits for buffers to play out
            except Exception:  # noqa: BLE001 - the device may already be gone; closing is what matters
                pass
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass

    def _play(self, clip: _Clip) -> None:
        """The clip may play: mark it started, and start the stream if it is not running."""
        clip.started = True
        if self._running or self._stream is None:
            return
        self._running = True  # before start(): a device that dies at once must not be ignored
        with _device_lock:
            try:
                self._stream.start()
            except Exception:  # noqa: BLE001 - the device vanished since the stream was opened
                self._running = False
                self._stream_ended.set()
                clip.ended.set()

    def _halt(self, abort: bool) -> None:
        """Stop the stream: abort drops what the device holds (a stopped clip); stop plays it out."""
        if not self._running or self._stream is None:
            return
        self._running = False  # first, so that the finished callback knows it was us
        with _device_lock:
            try:
                (self._stream.abort if abort else self._stream.stop)()
            except Exception:  # noqa: BLE001 - a device gone meanwhile: nothing left to stop
                pass

    def _wait_for(self, condition) -> None:
        """Poll until condition() holds or the Player closes (the callback cannot signal)."""
        with self._wake:
            while not condition() and not self._closing:
                self._wake.wait(self.poll_seconds)

    # --- state: plain reads, never a lock or a device call ------------------------------------------

    @property
    def active(self) -> bool:
        """True from start() until the clip has played out, was stopped or could not play."""
        clip = self._clip
        return clip is not None and not clip.ended.is_set()

    @property
    def played(self) -> int:
        clip = self._clip
        return 0 if clip is None else clip.played

    @property
    def buffered(self) -> int:
        """Samples fed and not yet handed to the device (ring plus pending queue)."""
        clip = self._clip
        return 0 if clip is None else clip.buffered

    @property
    def underruns(self) -> int:
        clip = self._clip
        return 0 if clip is None else clip.underruns

    @property
    def output_latency(self) -> float:
        """Seconds between a sample leaving the callback and being heard (0 when nothing is open)."""
        return self._latency if self._stream is not None else 0.0

    @property
    def stream_running(self) -> bool:
        """Whether the stream is started (only while a clip plays); for tests and diagnostics."""
        return self._running

    @property
    def device_open(self) -> bool:
        """Whether the stream is open (false before the first clip, and while an open is pending)."""
        return self._stream is not None and not self._stream_ended.is_set()

    @property
    def opening(self) -> bool:
        """Whether the sound thread is waiting for the device to open the stream."""
        return self._opening

    @property
    def problem(self) -> str | None:
        """Why the last attempt to open the stream failed (a sentence for the user); None after one
        that worked. A clip that ends without playing while this is set ended because of it."""
        return self._problem

    @property
    def captured(self) -> np.ndarray | None:
        """The capture=n test hook's array: the current clip's played samples in order, zeros after `played`."""
        clip = self._clip
        return None if clip is None else clip.capture


def _register_exit_handler(sd) -> None:
    global _exit_handler_registered
    if sd is not None and not _exit_handler_registered:
        _exit_handler_registered = True
        atexit.register(_wait_for_sound_threads_at_exit)
