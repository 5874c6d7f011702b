"""A worker never runs more than MAX_BATCHES_IN_FLIGHT batches ahead of the window: when the GUI
thread is slow, the worker waits and sends what it made since in its next batch, instead of
queueing batches the window would take late."""

import time

from PySide6.QtCore import Qt

from arplayground import catalog
from arplayground.core.sampling import SamplerSettings
from arplayground.gui import worker as worker_module
from arplayground.gui.worker import MAX_BATCHES_IN_FLIGHT, GenerationRunner, RunControls, RunRequest


def test_a_slow_window_gets_fewer_bigger_batches_never_a_queue(qtbot, tiny_models, monkeypatch):
    stepper = catalog.load_stepper(catalog.discover(tiny_models)[0])
    prefix = tuple(stepper.vocab.encode("to be"))
    sent, taken, most_ahead = [0], [0], [0]

    original_init = worker_module.GenerationWorker.__init__

    def counting_init(self, *args):
        original_init(self, *args)
        self.batch_ready.connect(lambda _: sent.__setitem__(0, sent[0] + 1), type=Qt.ConnectionType.DirectConnection)

    monkeypatch.setattr(worker_module.GenerationWorker, "__init__", counting_init)
    runner = GenerationRunner()
    steps, outcomes = [], []

    def slow_window(batch):  # a GUI thread busier than a frame per batch
        taken[0] += 1
        most_ahead[0] = max(most_ahead[0], sent[0] - taken[0] + 1)
        steps.extend(block.position + i for block in batch.blocks for i in range(block.positions))
        time.sleep(0.03)

    runner.batch.connect(slow_window)
    runner.finished.connect(outcomes.append)
    runner.start(RunRequest(load=lambda: stepper, prefix=prefix, n_steps=400, seed=3), RunControls(SamplerSettings()))
    qtbot.waitUntil(lambda: bool(outcomes), timeout=30_000)
    assert outcomes == ["done"] and steps == list(range(len(prefix), len(prefix) + 400))  # nothing lost
    assert most_ahead[0] == MAX_BATCHES_IN_FLIGHT == 1, most_ahead  # the queue never grew
    runner.wait_for_all()
