"""Real-time playback of audio that a generation thread produces faster than real time.

One output stream is opened once (when Audio mode is chosen, on a helper thread, or at the first
clip) and kept open until the Player is closed: opening and closing a PortAudio stream takes a
tenth of a second or more (measured here under JACK: 0.17 s to open, 0.24 s to abort and close),
which a stream per clip would cost the GUI at every Generate, Play and Stop. The feeder thread
starts it when a clip's pre-buffer is in and stops it when no clip is playing (a running stream
with nothing to play still calls back: on a device without a clock, such as ALSA's null device,
back to back, measured at 77% of a core), so no call on the GUI thread waits for the device.

Three threads meet here. The producer (the generation worker) calls Player.feed() at whatever pace
it runs; a small feeder thread moves what it fed into the current clip's fixed-size ring;
PortAudio's callback thread copies from that ring to the sound card. The callback is the only part
with a deadline: it never allocates buffers, logs, touches Qt or takes a lock, so a busy producer
can only ever make it play silence (an underrun, counted), never glitch the stream or hang it.

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
    """One clip: its own ring (so a stopped clip's leftovers can never be played into the next), its
    queue of samples waiting for ring space, its counters and flags.

    Each counter and flag is assigned by one thread only, named beside it; the others read it.
    """

    def __init__(self, *, ring_capacity: int, prebuffer: int, capture):
        self.ring = RingBuffer(ring_capacity)
        self.prebuffer = min(prebuffer, ring_capacity)
        self.capture = capture
        self.pending: collections.deque[np.ndarray] = collections.deque()  # guarded by Player._wake
        self.played = 0  # callback
        self.underruns = 0  # callback
        self.played_out = False  # callback: the last sample has been handed to the device
        self.producer_done = False  # finish(): no more samples will come
        self.stopping = False  # stop(): drop everything now
        self.started = False  # feeder: the pre-buffer is in the ring (or all there is): play it
        self.all_queued = False  # feeder: the last sample is in the ring
        self.ended = threading.Event()  # feeder or stop(): the clip is over

    @property
    def buffered(self) -> int:
        return sum(len(chunk) for chunk in tuple(self.pending)) + self.ring.available()


class Player:
    """Plays one 8 kHz mono clip at a time while it is still being generated.

    start(), then feed() as samples arrive (from any one producer thread, never blocking), then
    finish(): the clip ends by itself after its last sample. stop() ends it at once from any thread
    (what the device already holds, at most its output latency, still sounds). One stream serves
    every clip and stays open until close(). `played` is the playhead in samples handed to the
    device (the audible sound lags it by `output_latency` seconds), `underruns` counts callbacks
    that ran dry before the clip was finished.

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
        self._clip: _Clip | None = None  # rebound (atomically) by start(); read by the callback
        self._stream = None  # opened once, closed by close()
        self._running = False  # feeder (and close): the stream is started
        self._stream_ended = threading.Event()  # PortAudio ended a running stream (device gone, error)
        self._stream_lock = threading.Lock()  # the stream's start, stop, abort and close
        self._feeder: threading.Thread | None = None
        self._closing = False  # tells the feeder to end
        self._closed = False  # close() was called (and no start() since)
        self._wake = threading.Condition()  # the feeder sleeps on it; guards pending queues and flags
        self._lock = threading.Lock()  # serialises start/stop/close between GUI and worker threads

    @staticmethod
    def probe(device=None, rate: int = SAMPLE_RATE) -> str | None:
        """None when playback can work, else the reason it cannot, as a sentence for the user."""
        sd, reason = _import_sounddevice()
        if sd is None:
            return reason
        return _device_problem(sd, device, rate)

    # --- the controlling threads (GUI, worker) ------------------------------------------------------

    def start(self) -> None:
        """A new clip (stopping any clip still playing); opens the stream the first time, or again
        after the device ended it. Raises PlaybackError when there is no way to play."""
        sd, reason = _import_sounddevice()
        if sd is None:
            raise PlaybackError(reason)
        with self._lock:
            self._closed = False
            self._stop_locked()
            self._open_stream_locked(sd)
            if self._capture is not None:
                self._capture[:] = 0.0
            clip = _Clip(ring_capacity=self.ring_capacity, prebuffer=self.prebuffer, capture=self._capture)
            with self._wake:
                self._clip = clip
                self._wake.notify_all()

    def open_in_background(self) -> threading.Thread:
        """Open the stream now on a short-lived helper thread, so that the first start() finds it
        open instead of blocking its caller (the GUI) while PortAudio opens it. A failure is left
        for start() to try again and report."""
        def open_quietly():
            sd, _ = _import_sounddevice()
            if sd is None:
                return
            with self._lock:
                if self._closed:  # closed while sounddevice was still loading: open nothing
                    return
                try:
                    self._open_stream_locked(sd)
                except PlaybackError:
                    pass

        opener = threading.Thread(target=open_quietly, name="audio-open", daemon=True)
        opener.start()
        return opener

    def feed(self, samples) -> None:
        """Queue samples (float, [-1, 1]); returns at once. Ignored when no clip is playing."""
        clip = self._clip
        if clip is None:
            return
        samples = np.array(samples, dtype=np.float32).reshape(-1)  # a copy: the caller may reuse its array
        if not len(samples):
            return
        with self._wake:
            if clip.producer_done or clip.stopping:
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
        """Block until the clip has finished playing or was stopped; False on timeout."""
        clip = self._clip
        return True if clip is None else clip.ended.wait(timeout)

    def stop(self) -> None:
        """Silence the clip now (the feeder then stops the stream, off this thread); safe from any
        thread, twice, or when nothing plays."""
        with self._lock:
            self._stop_locked()

    def close(self, join_timeout: float = 1.0) -> None:
        """End the clip, the feeder thread and the stream: nothing of the Player outlives this."""
        with self._lock:
            self._closed = True
            self._stop_locked()
            with self._wake:
                self._closing = True
                self._wake.notify_all()
            if self._feeder is not None and self._feeder is not threading.current_thread():
                self._feeder.join(join_timeout)
            if self._feeder is not None and not self._feeder.is_alive():
                self._feeder = None  # (one still inside a slow stop() is kept, so none is started beside it)
            self._close_stream()

    def __enter__(self) -> "Player":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _stop_locked(self) -> None:
        clip = self._clip
        if clip is not None:  # the clip object stays, so played/underruns remain readable
            with self._wake:
                clip.stopping = True
                clip.pending.clear()
                self._wake.notify_all()
            clip.ended.set()

    def _open_stream_locked(self, sd) -> None:
        """Open the stream (not started: the feeder starts it for a clip) and the feeder thread,
        unless they are open already; after the device ended the stream, open a new one."""
        if self._stream is not None and not self._stream_ended.is_set():
            return
        self._close_stream()
        self._closing = False
        self._stream_ended.clear()
        try:
            self._stream = sd.OutputStream(
                samplerate=self.rate, channels=1, dtype="float32", device=self.device, latency=self.latency,
                callback=self._callback, finished_callback=self._on_stream_end,
            )
        except Exception as err:  # noqa: BLE001 - PortAudioError, ValueError (bad device), ...
            problem = _device_problem(sd, self.device, self.rate)
            raise PlaybackError(problem or f"cannot open the audio output ({err})") from err
        if self._feeder is None or not self._feeder.is_alive():
            self._feeder = threading.Thread(target=self._feed_loop, name="audio-feeder", daemon=True)
            self._feeder.start()

    def _close_stream(self) -> None:
        with self._stream_lock:
            stream, self._stream, self._running = self._stream, None, False
            if stream is None:
                return
            try:
                stream.abort()  # immediate, unlike stop(), which waits for buffers to play out
            except Exception:  # noqa: BLE001 - the device may already be gone; closing is what matters
                pass
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass

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
                clip.played_out = True  # the feeder sees it and ends the clip
            else:
                clip.underruns += 1

    def _on_stream_end(self) -> None:
        """PortAudio says the stream stopped. The feeder's own stops clear `_running` first; when it
        is still set, the device ended the stream (unplugged, an error): wake the feeder."""
        if not self._running:
            return
        self._running = False
        self._stream_ended.set()
        with self._wake:
            self._wake.notify_all()

    # --- the feeder thread --------------------------------------------------------------------------

    def _feed_loop(self) -> None:
        """Moves the current clip's queued samples into its ring as space frees up, starts the stream
        once the pre-buffer is in, and stops it when the clip has played out or was stopped."""
        while True:
            with self._wake:
                while True:
                    if self._closing:
                        return
                    clip = self._clip
                    live = clip is not None and not clip.ended.is_set()
                    if live and (self._stream_ended.is_set() or clip.pending or clip.producer_done):
                        break
                    if not live and self._running:
                        break  # the clip was stopped: stop the stream too
                    self._wake.wait()
                chunk = clip.pending[0] if live and clip.pending else None
            if not live:
                self._halt(abort=True)
                continue
            if self._stream_ended.is_set():
                clip.ended.set()  # nothing will play it: the next start() opens a new stream
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

    def _play(self, clip: _Clip) -> None:
        """The clip may play: mark it started, and start the stream if it is not running."""
        clip.started = True
        with self._stream_lock:
            if self._running or self._stream is None:
                return
            self._running = True  # before start(): a device that dies at once must not be ignored
            try:
                self._stream.start()
            except Exception:  # noqa: BLE001 - the device vanished since the stream was opened
                self._running = False
                self._stream_ended.set()
                clip.ended.set()

    def _halt(self, abort: bool) -> None:
        """Stop the stream: abort drops what the device holds (a stopped clip); stop plays it out."""
        with self._stream_lock:
            if not self._running or self._stream is None:
                return
            self._running = False  # first, so that the finished callback knows it was us
            try:
                (self._stream.abort if abort else self._stream.stop)()
            except Exception:  # noqa: BLE001 - a device gone meanwhile: nothing left to stop
                pass

    def _wait_for(self, condition) -> None:
        """Poll until condition() holds or the Player closes (the callback cannot signal)."""
        with self._wake:
            while not condition() and not self._closing:
                self._wake.wait(self.poll_seconds)

    # --- state --------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True from start() until the clip has played out or was stopped."""
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
        stream = self._stream
        return 0.0 if stream is None else float(stream.latency)

    @property
    def stream_running(self) -> bool:
        """Whether the stream is started (only while a clip plays); for tests and diagnostics."""
        return self._running

    @property
    def captured(self) -> np.ndarray | None:
        """The capture=n test hook's array: played samples in order, zeros after `played`."""
        return self._capture
