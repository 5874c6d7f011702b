"""Stopping a run that cannot answer yet (its model is priming a long prefix): the window does not
wait for it, Qt does not destroy its running thread, and the next run on the same model waits
until the stopped one has let go of it."""

import threading
import time

from arplayground import catalog
from arplayground.core.generate import generate, each_step
from arplayground.core.sampling import SamplerSettings
from arplayground.gui.worker import GenerationRunner, RunControls, RunRequest


class SlowToPrime:
    """A stepper whose first reset takes a while before it writes the caches, as priming a long
    recording does; everything else is the real stepper's."""

    def __init__(self, stepper, seconds: float):
        self.stepper, self.seconds = stepper, seconds
        self.priming = threading.Event()

    def reset(self, prefix, condition=None):
        if not self.priming.is_set():
            self.priming.set()
            time.sleep(self.seconds)
        self.stepper.reset(prefix, condition)

    def __getattr__(self, name):
        return getattr(self.stepper, name)


def test_a_run_stopped_while_priming_finishes_alone_and_the_next_run_waits_for_its_model(qtbot, tiny_models):
    stepper = catalog.load_stepper(catalog.discover(tiny_models)[0])
    prefix, settings = tuple(stepper.vocab.encode("to be")), SamplerSettings(temperature=1.0)
    expected = [s.record.value for s in each_step(generate(stepper, prefix, 120, lambda: settings, 7))]

    slow = SlowToPrime(stepper, seconds=0.8)
    runner = GenerationRunner()
    values, outcomes = [], []
    runner.batch.connect(lambda batch: values.extend(v for block in batch.blocks for v in block.values.tolist()))
    runner.finished.connect(outcomes.append)

    def request():
        return RunRequest(load=lambda: slow, prefix=prefix, n_steps=120, seed=7)

    runner.start(request(), RunControls(settings))
    qtbot.waitUntil(slow.priming.is_set, timeout=5_000)
    started = time.perf_counter()
    runner.stop(timeout_ms=50)  # the worker is inside reset and cannot answer yet
    assert time.perf_counter() - started < 0.5  # not waited for: the window stays responsive
    assert len(runner._retired) == 1 and runner._retired[0][0].isRunning()
    # The same cached model, while the old run still holds it; paced at 100 steps/s, so this run
    # would still be going when the old one's reset lands, if it did not wait for it.
    runner.start(request(), RunControls(settings, speed=100))
    qtbot.waitUntil(lambda: bool(outcomes), timeout=10_000)
    assert outcomes == ["done"]
    assert values == expected  # the stopped run's late reset did not land in the middle of this one
    qtbot.waitUntil(lambda: not runner._retired, timeout=5_000)
    runner.wait_for_all()
