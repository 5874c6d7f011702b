"""One-off work off the GUI thread (a teacher-forced pass, timing the sequential paths): a job is a
function run on a Python thread, its result or error delivered back on the GUI thread.

Generation has its own worker (worker.py) because it streams steps under pacing controls; a job
runs once and returns. The model work inside (torch ops, numpy on big arrays) releases the GIL,
so the window keeps painting. A job that is cancelled or superseded is left to finish on its own
(a teacher-forced pass cannot be interrupted) and its result is dropped: only the newest job of a
runner reports.
"""

from __future__ import annotations

import threading
import traceback
from typing import Callable

from PySide6.QtCore import QObject, Signal

from arplayground.gui.worker import run_lock


class JobRunner(QObject):
    """Runs one job at a time for one purpose; a new start() supersedes the one before."""

    done = Signal(str, object)  # job name, its result
    failed = Signal(str, str)  # job name, why (one line for the status)
    _report = Signal(int, str, object, str)  # job id, name, result, error: from the job's thread

    def __init__(self, parent=None):
        super().__init__(parent)
        self._id = 0
        self._threads: list[threading.Thread] = []
        self._cancelled = threading.Event()
        self._pending = False  # the newest job has not reported yet
        self._report.connect(self._on_report)  # queued: emitted on the job's thread, received here

    def start(self, name: str, work: Callable, stepper=None) -> None:
        """Run work(cancelled) on a thread; cancelled() turns true once the job is cancelled or
        superseded. With a stepper, the job waits for (and holds) its run lock: the generation
        worker and a job never drive one model at once."""
        self.cancel()
        self._id += 1
        job, cancelled = self._id, threading.Event()
        self._cancelled, self._pending = cancelled, True

        def run():
            try:
                if stepper is None:
                    result = work(cancelled.is_set)
                else:
                    with run_lock(stepper):
                        result = None if cancelled.is_set() else work(cancelled.is_set)
                self._report.emit(job, name, result, "")
            except MemoryError:
                self._report.emit(job, name, None, "there is not enough memory for this")
            except Exception as exc:  # the job's own fault: reported, never raised into Qt
                traceback.print_exc()
                self._report.emit(job, name, None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

        thread = threading.Thread(target=run, name=f"job {name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def busy(self) -> bool:
        """Whether the newest job is yet to report (its result reaches done or failed)."""
        return self._pending

    def cancel(self) -> None:
        """The running job's result will be dropped; its cancelled() turns true."""
        self._cancelled.set()
        self._id += 1
        self._pending = False

    def wait(self, seconds: float = 5.0) -> None:
        """Wait a while for jobs still running (closing, tests); daemon threads never hold up exit."""
        for t in self._threads:
            t.join(seconds)

    def _on_report(self, job: int, name: str, result, error: str) -> None:
        if job != self._id:
            return  # superseded or cancelled
        self._cancelled.set()
        self._pending = False
        if error:
            self.failed.emit(name, error)
        else:
            self.done.emit(name, result)
