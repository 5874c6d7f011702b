"""Open WAV in the background: a recording read and converted to mu-law levels on a Python thread
(a long one takes seconds), with a progress bar and Cancel, so the window keeps answering.

Nothing the owner shows changes until a conversion has succeeded: it then gets `opened`. What to
tell the user (opening, cancelled, failed) comes as `said`; `ended` says Open WAV may be offered
again.
"""

from __future__ import annotations

import os
import threading

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QProgressBar, QPushButton

from arplayground.audio.wav import WavCancelled, WavError, read_wav
from arplayground.core.mulaw import encode

CLOSE_WAIT_SECONDS = 0.5  # closing the window waits at most this for a conversion to notice Cancel


class WavConversion(QObject):
    """Open WAV's reading and conversion, on a Python thread; its progress and outcome come back
    by queued signal."""

    progressed = Signal(int)  # percent converted
    converted = Signal(object)  # (mu-law levels, notes)
    failed = Signal(str)  # what went wrong, for the user; "" when cancelled

    def __init__(self, path: str):
        super().__init__()
        self.path = path
        self.cancel = threading.Event()
        self._percent = -1
        self.thread = threading.Thread(target=self._run, name="wav-open", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _progress(self, fraction: float) -> None:
        percent = int(100 * fraction)
        if percent != self._percent:  # at most 101 signals, however many blocks
            self._percent = percent
            self.progressed.emit(percent)

    def _run(self) -> None:
        try:
            samples, notes = read_wav(self.path, progress=self._progress, cancel=self.cancel)
            levels = encode(samples)
        except WavCancelled:
            self.failed.emit("")
        except WavError as e:
            self.failed.emit(str(e))
        except Exception as e:  # noqa: BLE001 - MemoryError, a bug: a message, never a dead thread
            self.failed.emit(f"{os.path.basename(self.path)}: {type(e).__name__}: {e}")
        else:
            self.converted.emit((levels, notes))


class WavOpener(QObject):
    """At most one conversion at a time, its progress bar and its Cancel button (the owner places
    both; they show only while a recording is being opened)."""

    opened = Signal(str, object, object)  # path, mu-law levels, notes on what was converted
    said = Signal(str)  # a line for the user
    ended = Signal()  # the opening is over, whichever way

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.conversion: WavConversion | None = None  # the one still converting
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setFormat("converting %p%")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop opening the recording; nothing changes")
        self.progress.hide()
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel)

    def start(self, path: str) -> WavConversion:
        """Open `path` in the background; one being opened already is cancelled."""
        if self.conversion is not None:
            self.cancel(why="another file was chosen")
        conversion = self.conversion = WavConversion(path)
        conversion.progressed.connect(self._on_progress)
        conversion.converted.connect(self._on_converted)
        conversion.failed.connect(self._on_failed)
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()
        self.said.emit(f"Opening {os.path.basename(path)}…")
        conversion.start()
        return conversion

    @Slot()
    def cancel(self, why: str = "") -> None:
        """Abandon the conversion in progress; the owner stays as it was."""
        conversion, self.conversion = self.conversion, None
        if conversion is None:
            return
        conversion.cancel.set()  # its thread stops at the next block; what it sends now is ignored
        self._end()
        reason = f" ({why})" if why else ""
        self.said.emit(f"Opening {os.path.basename(conversion.path)} cancelled{reason}. Nothing changed.")

    def shutdown(self) -> None:
        """The window is closing: a conversion in progress is cancelled, which it notices within
        a block; this waits at most CLOSE_WAIT_SECONDS for it."""
        conversion, self.conversion = self.conversion, None
        if conversion is not None:
            conversion.cancel.set()
            conversion.thread.join(CLOSE_WAIT_SECONDS)

    def _end(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.ended.emit()

    def _current(self) -> WavConversion | None:
        """The conversion that sent the signal being handled, if it is still the one wanted."""
        sender = self.sender()
        return sender if sender is not None and sender is self.conversion else None

    @Slot(int)
    def _on_progress(self, percent: int) -> None:
        if self._current() is not None:
            self.progress.setValue(percent)

    @Slot(object)
    def _on_converted(self, result) -> None:
        conversion = self._current()
        if conversion is None:
            return  # cancelled meanwhile: nothing changes
        self.conversion = None
        self._end()
        levels, notes = result
        self.opened.emit(conversion.path, levels, notes)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if self._current() is None:
            return
        self.conversion = None
        self._end()
        if message:
            self.said.emit(f"Could not open it: {message}. Nothing changed.")
