"""Real-time playback of audio that a generation thread produces faster than real time.

Three threads meet here. The producer (the generation worker) calls Player.feed() at whatever pace
it runs; a small feeder thread moves what it fed into a fixed-size ring; PortAudio's callback thread
copies from the ring to the sound card. The callback is the only part with a deadline: it never
allocates buffers, logs, touches Qt or takes a lock, so a busy producer can only ever make it play
silence (an underrun, counted), never glitch the stream or hang it.

sounddevice is imported lazily: importing it loads the PortAudio shared library and raises OSError
where that is missing, and a missing sound system must cost the app its Play button, not its start.
"""

from __future__ import annotations

import collections
import threading

import numpy as np

from arplayground.audio.mulaw import SAMPLE_RATE

INSTALL_HINT = "install PortAudio (e.g. `sudo apt install libportaudio2`) and restart"


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


def _import_sounddevice():
    """(module, None), or (None, reason) where PortAudio or the package is missing."""
    try:
        import sounddevice
    except OSError as err:  # sounddevice raises this when libportaudio cannot be loaded
        return None, f"PortAudio library not found ({err}); {INSTALL_HINT}"
    except ImportError as err:
        return None, f"the sounddevice package is not installed ({err}); run `pip install sounddevice`"
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


class _Clip:
    """One clip's playback: its ring, its stream and its feeder thread. A Player holds at most one.

    Counters are plain ints each assigned by one thread only: `played` and `underruns` by the
    callback, the flags by the threads named beside them.
    """

    def __init__(self, sd, *, rate, ring_capacity, prebuffer, capture, device, latency, poll):
        self.ring = RingBuffer(ring_capacity)
        self.prebuffer = min(prebuffer, ring_capacity)
        self.capture = capture
        self.poll = poll
        self.played = 0
        self.underruns = 0
        self.pending: collections.deque[np.ndarray] = collections.deque()
        self.wake = threading.Condition()  # guards pending / producer_done / stopping for the feeder
        self.producer_done = False  # feed() thread: finish() was called
        self.stopping = False  # stop() thread: drop everything now
        self.all_queued = False  # feeder: the last sample is in the ring; the callback may end the clip
        self.ended = threading.Event()  # PortAudio: the stream has finished or was aborted
        self.stream_lock = threading.Lock()  # start/abort/close of the stream; never taken by the callback
        self.stream_closed = False
        self._callback_stop = sd.CallbackStop
        self.stream = sd.OutputStream(
            samplerate=rate, channels=1, dtype="float32", device=device, latency=latency,
            callback=self._callback, finished_callback=self.ended.set,
        )
        self.latency = float(self.stream.latency)
        self.feeder = threading.Thread(target=self._feed_loop, name="audio-feeder", daemon=True)
        self.feeder.start()

    # --- PortAudio's thread -------------------------------------------------------------------------

    def _callback(self, outdata, frames, time_info, status):
        # Only copies and integer arithmetic: no buffers allocated, no locks, no logging.
        done = self.all_queued  # read before the ring: if set, every sample is already in the ring
        out = outdata[:, 0]
        count = self.ring.read_into(out)
        if count:
            capture = self.capture
            if capture is not None and self.played < len(capture):
                kept = min(count, len(capture) - self.played)
                capture[self.played : self.played + kept] = out[:kept]
            self.played += count
        if count < frames:
            out[count:] = 0.0
            if done:
                raise self._callback_stop  # PortAudio plays what it holds, then calls finished_callback
            self.underruns += 1

    # --- the feeder thread --------------------------------------------------------------------------

    def _feed_loop(self):
        started = False
        while True:
            with self.wake:
                while not self.pending and not self.producer_done and not self.stopping:
                    self.wake.wait()
                if self.stopping:
                    return
                chunk = self.pending[0] if self.pending else None
            if started and self.ended.is_set():
                break  # PortAudio ended the stream itself (device error, unplugged): nothing to feed
            if chunk is None:  # the producer is done and everything it fed is in the ring
                self.all_queued = True
                if not started:
                    started = self._start_stream()
                break
            accepted = self.ring.write(chunk)
            with self.wake:
                if accepted == len(chunk):
                    self.pending.popleft()
                else:
                    self.pending[0] = chunk[accepted:]
            if not started and self.ring.available() >= self.prebuffer:
                started = self._start_stream()
                if not started:
                    return
            if accepted < len(chunk):
                # The ring is full: let the callback drain some. Polling (a few ms, a fraction of the
                # ring's duration) keeps the callback free of any signalling. Wakes early on stop.
                with self.wake:
                    if not self.stopping:
                        self.wake.wait(self.poll)
        # Natural end: once PortAudio has played the tail, give the device back. (stop() sets
        # `ended` too, so this never outlives the clip.)
        self.ended.wait()
        self.close_stream()

    def _start_stream(self) -> bool:
        with self.stream_lock:
            if self.stream_closed or self.stopping:
                return False
            try:
                self.stream.start()
            except Exception:  # noqa: BLE001 - device vanished between open and start
                self.ended.set()
                return False
        return True

    # --- any thread ---------------------------------------------------------------------------------

    def feed(self, samples: np.ndarray):
        with self.wake:
            if self.producer_done or self.stopping:
                return
            self.pending.append(samples)
            self.wake.notify()

    def finish(self):
        with self.wake:
            self.producer_done = True
            self.wake.notify()

    def stop(self, join_timeout: float):
        with self.wake:
            self.stopping = True
            self.pending.clear()
            self.wake.notify()
        self.close_stream()
        if self.feeder is not threading.current_thread():
            self.feeder.join(join_timeout)

    def close_stream(self):
        with self.stream_lock:
            if self.stream_closed:
                return
            self.stream_closed = True
            try:
                self.stream.abort()  # immediate, unlike stop(), which waits for buffers to play out
            except Exception:  # noqa: BLE001 - the device may already be gone; closing is what matters
                pass
            try:
                self.stream.close()
            except Exception:  # noqa: BLE001
                pass
        self.ended.set()

    @property
    def active(self) -> bool:
        return not self.ended.is_set()

    @property
    def buffered(self) -> int:
        with self.wake:
            pending = sum(len(chunk) for chunk in self.pending)
        return pending + self.ring.available()


class Player:
    """Plays one 8 kHz mono clip at a time while it is still being generated.

    start(), then feed() as samples arrive (from any one producer thread, never blocking), then
    finish(): the stream stops by itself after the last queued sample. stop() ends it at once from
    any thread. `played` is the playhead in samples handed to the device (the audible sound lags it
    by `latency` seconds), `underruns` counts callbacks that ran dry before the clip was finished.

    capture=n is a test hook: every played sample is also copied into a preallocated array of n
    samples (`captured`), which shows exactly what reached the device, in order.
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
        self._capture = np.zeros(capture, dtype=np.float32) if capture else None
        self._clip: _Clip | None = None
        self._lock = threading.Lock()  # serialises start/stop/close between GUI and worker threads

    @staticmethod
    def probe(device=None, rate: int = SAMPLE_RATE) -> str | None:
        """None when playback can work, else the reason it cannot, as a sentence for the user."""
        sd, reason = _import_sounddevice()
        if sd is None:
            return reason
        return _device_problem(sd, device, rate)

    def start(self) -> None:
        """Open the output for a new clip (stopping any clip still playing); raises PlaybackError."""
        sd, reason = _import_sounddevice()
        if sd is None:
            raise PlaybackError(reason)
        with self._lock:
            self._stop_locked()
            if self._capture is not None:
                self._capture[:] = 0.0
            try:
                self._clip = _Clip(
                    sd, rate=self.rate, ring_capacity=self.ring_capacity, prebuffer=self.prebuffer,
                    capture=self._capture, device=self.device, latency=self.latency, poll=self.poll_seconds,
                )
            except Exception as err:  # noqa: BLE001 - PortAudioError, ValueError (bad device), ...
                problem = _device_problem(sd, self.device, self.rate)
                raise PlaybackError(problem or f"cannot open the audio output ({err})") from err

    def feed(self, samples) -> None:
        """Queue samples (float, [-1, 1]); returns at once. Ignored when no clip is playing."""
        clip = self._clip
        if clip is None:
            return
        samples = np.array(samples, dtype=np.float32).reshape(-1)  # a copy: the caller may reuse its array
        if len(samples):
            clip.feed(samples)

    def finish(self) -> None:
        """No more samples for this clip: play out what is queued, then stop."""
        clip = self._clip
        if clip is not None:
            clip.finish()

    def play(self, clip) -> None:
        """Replay a finished clip from the start."""
        self.start()
        self.feed(clip)
        self.finish()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the clip has finished playing or was stopped; False on timeout."""
        clip = self._clip
        return True if clip is None else clip.ended.wait(timeout)

    def stop(self, join_timeout: float = 1.0) -> None:
        """Silence now; safe from any thread, twice, or when nothing plays."""
        with self._lock:
            self._stop_locked(join_timeout)

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "Player":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stop_locked(self, join_timeout: float = 1.0) -> None:
        clip = self._clip
        if clip is not None:
            clip.stop(join_timeout)  # the clip object stays, so played/underruns remain readable

    @property
    def active(self) -> bool:
        """True from start() until the clip has played out or was stopped."""
        clip = self._clip
        return clip is not None and clip.active

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
        clip = self._clip
        return 0.0 if clip is None else clip.latency

    @property
    def captured(self) -> np.ndarray | None:
        """The capture=n test hook's array: played samples in order, zeros after `played`."""
        return self._capture
