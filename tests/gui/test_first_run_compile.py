"""A model with compiled kernels: before its first run the worker compiles them (or loads them from
numba's cache), and says so in the status bar when it compiles, the first run after installing."""

import threading

from arplayground import catalog
from tests.gui.driver import WindowDriver


class CompilingStepper:
    """The real image stepper, whose warm-up waits until the test lets it finish, as a first
    compile takes tens of seconds."""

    def __init__(self, stepper):
        self.stepper = stepper
        self.warming, self.may_finish = threading.Event(), threading.Event()
        self.warm_ups = 0

    def needs_compiling(self):
        return True

    def warm_up(self):
        self.warm_ups += 1
        self.warming.set()
        self.may_finish.wait(10)
        self.stepper.warm_up()

    def __getattr__(self, name):
        return getattr(self.stepper, name)


def compiling_window(qtbot, folder):
    """The window in Image mode, its model's kernels in need of a (slow) compile."""
    d = WindowDriver.open(qtbot, folder, "image")
    compiling = CompilingStepper(catalog.load_stepper(d.model_entry()))
    d.window.steppers.put(d.model_entry(), compiling)  # what the worker's load returns
    return d, compiling


def test_the_status_says_compiling_until_the_kernels_are_ready_and_only_once(qtbot, tiny_image_models):
    d, compiling = compiling_window(qtbot, tiny_image_models)
    d.click_generate()
    d.wait_until(compiling.warming.is_set, timeout=30_000)  # a loaded CI machine starts the compile child slowly
    d.wait_until(lambda: "Compiling" in d.status(), timeout=30_000)  # a loaded CI machine starts the compile child slowly
    assert "first run after installing" in d.status()
    assert d.steps() == 0  # nothing is generated before the kernels are ready
    compiling.may_finish.set()
    d.wait_until_stopped(timeout=30_000)
    assert d.steps() == 784 and d.status() == "Done: 784 steps"
    d.generate_and_wait()  # the next run finds them ready
    assert compiling.warm_ups == 1 and d.status() == "Done: 784 steps"


def test_pausing_while_compiling_shows_paused_once_the_kernels_are_ready(qtbot, tiny_image_models):
    d, compiling = compiling_window(qtbot, tiny_image_models)
    d.click_generate()
    d.wait_until(lambda: "Compiling" in d.status(), timeout=30_000)  # a loaded CI machine starts the compile child slowly
    d.click_pause()
    assert "Compiling" in d.status()  # still what the run is busy with
    compiling.may_finish.set()
    d.wait_until(lambda: d.status() == "Paused", timeout=30_000)  # the real compile follows: slow on a loaded machine
    d.click_resume()
    d.wait_until_stopped(timeout=30_000)
    assert d.status() == "Done: 784 steps"


def test_a_run_started_while_a_stopped_one_still_compiles_says_it_waits(qtbot, tiny_image_models):
    d, compiling = compiling_window(qtbot, tiny_image_models)
    d.click_generate()
    d.wait_until(compiling.warming.is_set, timeout=30_000)  # a loaded CI machine starts the compile child slowly
    d.click_stop()  # the compile cannot be interrupted: that run keeps the model a while
    d.click_generate()
    d.wait_until(lambda: "Waiting for the stopped run" in d.status(), timeout=30_000)  # a loaded CI machine starts the compile child slowly
    assert d.steps() == 0
    compiling.may_finish.set()
    d.wait_until_stopped(timeout=30_000)
    assert d.steps() == 784 and d.status() == "Done: 784 steps"
    assert compiling.warm_ups == 1
