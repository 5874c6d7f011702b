"""Garbage holding a Qt object is freed on the GUI thread, however much a worker allocates.

The fault this guards: a run's thread allocating enough to start Python's cyclic collector, which
freed a cycle holding a widget there; its destructor then waited for the GIL under a Qt lock the
GUI thread was waiting for (a teardown hung in ~QAction)."""

import gc
import threading

from PySide6.QtCore import QObject

from arplayground.gui.collector import collect_on_gui_thread


class Witness:
    """Says which thread freed the cycle it is part of."""

    freed_on: list[int] = []

    def __del__(self):
        Witness.freed_on.append(threading.get_ident())


def make_cycle_with_a_qt_object() -> None:
    holder = {"qt": QObject(), "witness": Witness()}
    holder["self"] = holder  # only the cyclic collector can free this


def test_worker_allocations_never_collect_there(qtbot, qapp):
    collector = collect_on_gui_thread(qapp)
    assert not gc.isenabled()
    Witness.freed_on.clear()
    make_cycle_with_a_qt_object()

    kept = []

    def allocate():  # far past the young generation's threshold: automatic gc would run here
        kept.extend((i, [i]) for i in range(5_000))

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert Witness.freed_on == []  # nothing was collected on the worker
    qtbot.waitUntil(lambda: bool(Witness.freed_on), timeout=5_000)  # the GUI thread's timer did it
    assert Witness.freed_on == [threading.get_ident()]
    collector.collect_if_due()  # harmless when nothing is due


def test_one_collector_per_application(qapp):
    assert collect_on_gui_thread(qapp) is collect_on_gui_thread(qapp)
