"""Python's cyclic garbage collector, run on the GUI thread only.

Automatic collection runs in whichever thread happens to allocate. When a worker thread (a run, a
Score job) starts a collection that frees a cycle holding a Qt object (a lambda's closure over a
widget, say), the object's C++ destructor runs on that worker: it takes Qt's signal-slot lock for
the object, then waits for the GIL (PySide asks Python whether disconnectNotify is overridden).
If the GUI thread holds the GIL meanwhile and destroys an object whose lock is the same (Qt shares
a small pool of them), neither moves: a test's teardown hung so, in ~QAction on the GUI thread,
with the worker in subtype_dealloc under gc_collect_main.

So automatic collection is off, and a timer on the GUI thread collects as often as Python's own
thresholds would have: every Qt object then dies on the thread that owns the window.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QCoreApplication, QObject, QTimer

CHECK_EVERY_MS = 100  # cycles wait at most this long; a young-generation pass takes microseconds


class GuiThreadCollector(QObject):
    def __init__(self, app: QCoreApplication):
        super().__init__(app)
        self._timer = QTimer(self)
        self._timer.setInterval(CHECK_EVERY_MS)
        self._timer.timeout.connect(self.collect_if_due)
        gc.disable()
        self._timer.start()

    def collect_if_due(self) -> None:
        """Collect the oldest generation whose count passed its threshold, as gc itself would."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        if counts[0] <= thresholds[0]:
            return
        generation = 2 if counts[2] > thresholds[2] else 1 if counts[1] > thresholds[1] else 0
        gc.collect(generation)

    def stop(self) -> None:
        """Back to automatic collection (tests end so, for the code that runs after them)."""
        self._timer.stop()
        gc.enable()


def collect_on_gui_thread(app: QCoreApplication) -> GuiThreadCollector:
    """Install the collector once per application (called from the GUI thread)."""
    existing = app.findChild(GuiThreadCollector)
    return existing if existing is not None else GuiThreadCollector(app)
