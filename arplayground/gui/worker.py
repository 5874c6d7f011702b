"""Generation's threading: a worker on a QThread runs the generation loop and streams batches.
(Sound has its own threads, in audio/playback.py.)

The GUI thread never runs the model. It writes settings and commands into RunControls (under a
lock, as immutable snapshots); the worker reads them before every step. Batches reach the GUI
at most ~60 times a second, each immutable: the StepBlocks made since the last one.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from dataclasses import dataclass, replace
from typing import Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from arplayground.core.generate import NonFiniteLogits, run_steps, uses_chunks
from arplayground.core.sampling import SamplerSettings

FRAME_SECONDS = 1 / 60  # batch at most this often: one repaint per display frame
CHUNK_STEPS = 256  # positions per compiled chunk at full speed (audio: 32 ms of sound); a grid stops sooner (CHUNK_VALUES)
# Batches sent but not yet taken by the GUI thread. A worker further ahead waits (without the GIL):
# what it made would only queue up and reach the screen late, while its Python held the GIL the GUI
# thread needs to catch up. Measured on a ten-image grid: GUI p99 40-50 ms against 57-75 ms.
MAX_BATCHES_IN_FLIGHT = 1
COMPILING = "Compiling this model's fast kernels: the first run after installing takes up to a minute…"
WAITING = "Waiting for the stopped run to let go of this model (it may be compiling its kernels)…"
WAITING_AFTER_S = 0.3  # shorter waits (a stopped run finishing its chunk) pass unannounced

_IN_USE_GUARD = threading.Lock()
_IN_USE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # stepper -> the lock its run holds
_WARMED: weakref.WeakSet = weakref.WeakSet()  # steppers whose compiled kernels are loaded


def run_lock(stepper) -> threading.Lock:
    """One run at a time per stepper: a stopped run still loading or priming (which it cannot
    interrupt) finishes that before the next run resets the same cached stepper."""
    with _IN_USE_GUARD:
        return _IN_USE.setdefault(stepper, threading.Lock())


class RunControls:
    """Settings and commands shared by the GUI thread (writer) and the worker (reader)."""

    def __init__(self, settings: SamplerSettings, speed: float = 0.0, paused: bool = False):
        self._cond = threading.Condition()
        self._settings = settings
        self._speed = speed  # steps per second; 0 = as fast as it computes
        self._paused = paused
        self._step_credit = 0  # single steps granted while paused
        self._stopped = False

    def settings(self) -> SamplerSettings:
        with self._cond:
            return self._settings

    def set_settings(self, settings: SamplerSettings) -> None:
        with self._cond:
            self._settings = settings

    @property
    def speed(self) -> float:
        with self._cond:
            return self._speed

    def set_speed(self, steps_per_second: float) -> None:
        with self._cond:
            self._speed = max(0.0, steps_per_second)
            self._cond.notify_all()

    @property
    def paused(self) -> bool:
        with self._cond:
            return self._paused

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def step_once(self) -> None:
        with self._cond:
            self._step_credit += 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        with self._cond:
            return self._stopped

    def wait_turn(self) -> bool:
        """Block while paused (unless a single step was granted). False once stopped."""
        with self._cond:
            while self._paused and self._step_credit == 0 and not self._stopped:
                self._cond.wait()
            if self._stopped:
                return False
            if self._paused:
                self._step_credit -= 1
            return True

    def sleep(self, seconds: float) -> None:
        """Slow-motion pacing that wakes at once on stop, pause or a speed change."""
        with self._cond:
            if seconds > 0 and not self._stopped:
                self._cond.wait(seconds)


@dataclass(frozen=True)
class Batch:
    run_id: int
    blocks: tuple  # core.generate.StepBlocks, oldest first: every step's record and full distributions
    steps_done: int
    steps_per_second: float  # compute rate so far (pauses excluded)
    receipt: object = None  # the sender's semaphore of batches in flight: released once the GUI has it

    def record_into(self, trace) -> None:
        """Append this batch's steps to a trace."""
        for block in self.blocks:
            trace.extend(block)

    @property
    def steps(self) -> int:
        return sum(len(block) for block in self.blocks)


@dataclass(frozen=True)
class RunRequest:
    load: Callable[[], object]  # returns the stepper; called on the worker thread (loading takes time)
    prefix: tuple
    n_steps: int
    seed: int
    condition: object = None
    forced: dict | None = None  # position -> value taken instead of drawn (a branch)
    card_path: Path | None = None  # the model's card: its kernels are compiled from it in another process


def start_compiler(card_path: Path) -> subprocess.Popen:
    """The child process that compiles a model's kernels into numba's cache (arplayground.warm_kernels)."""
    return subprocess.Popen([sys.executable, "-m", "arplayground.warm_kernels", str(card_path)],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class GenerationWorker(QObject):
    batch_ready = Signal(object)  # Batch
    status = Signal(int, str)  # run id, what the run is busy with before its first step ("" = generating)
    finished = Signal(int, str)  # run id, "done" | "stopped" | "error: ..."

    def __init__(self, run_id: int, request: RunRequest, controls: RunControls):
        super().__init__()
        self.run_id, self.request, self.controls = run_id, request, controls
        self._in_flight = threading.Semaphore(MAX_BATCHES_IN_FLIGHT)

    @Slot()
    def run(self) -> None:
        outcome = "done"
        try:
            outcome = self._loop()
        except NonFiniteLogits as e:  # the window says which step and model went wrong
            outcome = f"nonfinite {e.position} {e.kind}"
        except Exception as e:  # a model failure ends this run, not the app
            outcome = f"error: {type(e).__name__}: {e}"
        finally:
            self.finished.emit(self.run_id, outcome)
            QThread.currentThread().quit()  # thread-safe; never needs the GUI thread

    def _loop(self) -> str:
        r, controls = self.request, self.controls
        stepper = r.load()
        lock = run_lock(stepper)
        since, announced = time.monotonic(), False
        while not lock.acquire(timeout=0.05):  # an earlier, stopped run is still busy with it
            if controls.stopped:
                return "stopped"
            if not announced and time.monotonic() - since >= WAITING_AFTER_S:
                self.status.emit(self.run_id, WAITING)
                announced = True
        if announced:
            self.status.emit(self.run_id, "")
        try:
            if not self._warm_up(stepper):
                return "stopped"
            return self._run(stepper)
        finally:
            lock.release()

    def _warm_up(self, stepper) -> bool:
        """Before a model's first run, compile its kernels or load them from numba's cache (under
        the run lock), saying so when that takes long: the first run after installing. Done here,
        no chunk's time includes it, so the real-time readout is generation's alone. A compile
        runs in another process (compile_elsewhere), so that a stop answers at once: False then."""
        if not hasattr(stepper, "warm_up") or stepper in _WARMED:
            return True
        compiling = stepper.needs_compiling()
        if compiling:
            from arplayground.kernels.cache import CACHE_NOTE  # imported by needs_compiling() already

            self.status.emit(self.run_id, COMPILING + (f" ({CACHE_NOTE})" if CACHE_NOTE else ""))
            if self.request.card_path is not None and not self._compile_elsewhere(self.request.card_path):
                return False
        stepper.warm_up()  # after compile_elsewhere: loaded from the cache it wrote
        _WARMED.add(stepper)
        if compiling:
            self.status.emit(self.run_id, "")
        return True

    def _compile_elsewhere(self, card_path: Path) -> bool:
        """Compile the model's kernels into numba's on-disk cache in a child process, polling for a
        stop; False (the child killed) once stopped. A child that fails leaves the compile to
        warm_up() in this process, which then cannot be interrupted but still works."""
        child = start_compiler(card_path)
        try:
            while child.poll() is None:
                if self.controls.stopped:
                    return False
                time.sleep(0.05)
            return True
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    def _run(self, stepper) -> str:
        r, controls = self.request, self.controls
        # A run reads the sliders before each step (an opened trace's replay is gui.trace_files' job).
        made = run_steps(stepper, r.prefix, r.n_steps, controls.settings, r.seed, r.condition, r.forced,
                         chunk_steps=self._chunk_steps)
        return self._stream(BlockFeed(made, chunked=uses_chunks(stepper)))

    def _chunk_steps(self) -> int:
        """Positions in the next compiled chunk (every image of a grid at each): one while paused, a
        frame's worth in slow motion (the display speed counts positions)."""
        if self.controls.paused:
            return 1
        speed = self.controls.speed
        return max(1, min(CHUNK_STEPS, int(speed * FRAME_SECONDS))) if speed else CHUNK_STEPS

    def _stream(self, feed) -> str:
        """The one loop: take a turn when the controls allow, send what was made at most once a frame
        (at once while paused or in slow motion), pace to the display speed, stop when told."""
        controls = self.controls
        done, compute_seconds = 0, 0.0
        last_emit = next_due = time.perf_counter()

        def flush():
            nonlocal last_emit
            rate = done / compute_seconds if compute_seconds > 0 else 0.0
            batch = replace(feed.batch(self.run_id, done, rate), receipt=self._in_flight)
            while not self._in_flight.acquire(timeout=0.02):  # the window is behind: let it catch up
                if controls.stopped:
                    return  # a stopped run's batches are dropped anyway
            self.batch_ready.emit(batch)
            last_emit = time.perf_counter()

        while True:
            if not controls.wait_turn():
                if feed.pending():
                    flush()
                return "stopped"
            try:
                taken = feed.take()
            except NonFiniteLogits:  # the steps made before it still reach the window
                if feed.pending():
                    flush()
                raise
            if taken is None:
                break
            steps, positions, seconds = taken
            done += steps
            compute_seconds += seconds
            now = time.perf_counter()
            speed = controls.speed
            if now - last_emit >= FRAME_SECONDS or controls.paused or feed.show_every_turn(speed):
                flush()
            if speed:  # slow motion: pace the positions, whatever the model could do
                next_due = max(next_due + positions / speed, now)
                controls.sleep(next_due - time.perf_counter())
        if feed.pending():
            flush()
        return "done"


class BlockFeed:
    """Turns of the generation loop: one StepBlock a turn (one position of every lane for the
    per-step loop; up to CHUNK_STEPS positions of a compiled stepper, fewer in slow motion, one
    while paused). The settings are read before each block."""

    def __init__(self, blocks, chunked: bool):
        self.blocks, self.chunked = blocks, chunked
        self.waiting = []

    def take(self):
        """(steps, positions, compute seconds) of one turn, or None when the run is complete."""
        block = next(self.blocks, None)
        if block is None:
            return None
        self.waiting.append(block.compact())  # float16, here: the GUI thread's trace only copies it
        # The block's own compute time: the rate shown is generation's, not the one-off loading
        # and priming before the first block.
        return len(block), block.positions, block.seconds

    def show_every_turn(self, speed: float) -> bool:
        # In slow motion a compiled chunk is already one frame's worth; single positions are shown
        # one by one when slow enough to follow.
        return bool(speed) and (self.chunked or speed <= 60)

    def pending(self) -> bool:
        return bool(self.waiting)

    def batch(self, run_id: int, done: int, rate: float) -> Batch:
        batch = Batch(run_id, tuple(self.waiting), done, rate)
        self.waiting = []
        return batch


class GenerationRunner(QObject):
    """Starts and stops runs; forwards only the current run's batches to the GUI."""

    batch = Signal(object)  # Batch of the current run
    status = Signal(str)  # what the current run is busy with before its first step ("" = generating)
    finished = Signal(str)  # outcome of the current run

    def __init__(self, parent=None):
        super().__init__(parent)
        self._run_id = 0
        self._thread: QThread | None = None
        self._worker: GenerationWorker | None = None
        self.controls: RunControls | None = None
        # Stopped runs whose thread outlived stop()'s wait: Qt aborts the process if a QThread is
        # destroyed while running, so they are kept here until they end.
        self._retired: list[tuple[QThread, GenerationWorker]] = []

    def is_running(self) -> bool:
        """True from start() until the run's last batch and its end have reached the GUI thread."""
        return self._thread is not None

    def start(self, request: RunRequest, controls: RunControls) -> int:
        self.stop()  # a new run cancels the old one; its late batches are ignored by run id
        self.controls = controls
        thread = QThread()
        thread.setObjectName(f"generation-{self._run_id}")
        worker = GenerationWorker(self._run_id, request, controls)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.batch_ready.connect(self._on_batch)
        worker.status.connect(self._on_status)
        worker.finished.connect(self._on_finished)
        self._thread, self._worker = thread, worker
        thread.start()
        return self._run_id

    def stop(self, timeout_ms: int = 2_000) -> None:
        """Stop the current run and wait a little for its thread (a step takes milliseconds).

        What the run still had in flight is dropped: after Stop the view no longer changes. A run
        still loading its model or priming a long prefix answers only after that; it is not
        waited for beyond timeout_ms (the window stays responsive) but kept until it ends.
        """
        self._run_id += 1
        if self.controls is not None:
            self.controls.stop()
        if self._thread is not None:
            thread, worker = self._thread, self._worker
            thread.quit()
            if not thread.wait(timeout_ms):
                self._retired.append((thread, worker))
                thread.finished.connect(self._release_retired)
            self._thread = None
            self._worker = None

    @Slot()
    def _release_retired(self) -> None:
        self._retired = [(t, w) for t, w in self._retired if not t.wait(100)]

    def wait_for_all(self) -> None:
        """Stop and wait for every thread, retired ones too: nothing may outlive the window."""
        self.stop()
        for thread, _ in self._retired:
            thread.wait()
        self._retired = []

    @Slot(object)
    def _on_batch(self, batch: Batch) -> None:
        try:
            if batch.run_id == self._run_id:
                self.batch.emit(batch)
        finally:
            if batch.receipt is not None:
                batch.receipt.release()  # handled (or dropped): the worker may send another

    @Slot(int, str)
    def _on_status(self, run_id: int, text: str) -> None:
        if run_id == self._run_id:
            self.status.emit(text)

    @Slot(int, str)
    def _on_finished(self, run_id: int, outcome: str) -> None:
        if run_id != self._run_id:
            return
        if self._thread is not None:
            self._thread.wait()  # the worker has returned; its thread ends within microseconds
            self._thread = self._worker = None
        self.finished.emit(outcome)
