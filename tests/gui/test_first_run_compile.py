"""A model with compiled kernels: before its first run the worker compiles them (or loads them from
numba's cache), and says so in the status bar when it compiles, the first run after installing."""

import threading

from arplayground import catalog
from tests.gui.helpers import generate_and_wait, open_window


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


def test_the_status_says_compiling_until_the_kernels_are_ready_and_only_once(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    compiling = CompilingStepper(catalog.load_stepper(w.current_entry()))
    w.steppers.put(w.current_entry(), compiling)  # what the worker's load returns
    w.generate_button.click()
    qtbot.waitUntil(compiling.warming.is_set, timeout=5_000)
    qtbot.waitUntil(lambda: "Compiling" in w.state_label.text(), timeout=5_000)
    assert "first run after installing" in w.state_label.text()
    assert len(w.trace) == 0  # nothing is generated before the kernels are ready
    compiling.may_finish.set()
    qtbot.waitUntil(lambda: not w.is_running(), timeout=30_000)
    assert len(w.trace) == 784 and w.state_label.text() == "Done: 784 steps"
    generate_and_wait(qtbot, w)  # the next run finds them ready
    assert compiling.warm_ups == 1 and w.state_label.text() == "Done: 784 steps"


def test_pausing_while_compiling_shows_paused_once_the_kernels_are_ready(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    compiling = CompilingStepper(catalog.load_stepper(w.current_entry()))
    w.steppers.put(w.current_entry(), compiling)
    w.generate_button.click()
    qtbot.waitUntil(lambda: "Compiling" in w.state_label.text(), timeout=5_000)
    w.pause_button.click()
    assert "Compiling" in w.state_label.text()  # still what the run is busy with
    compiling.may_finish.set()
    qtbot.waitUntil(lambda: w.state_label.text() == "Paused", timeout=10_000)
    w.pause_button.click()  # resume
    qtbot.waitUntil(lambda: not w.is_running(), timeout=30_000)
    assert w.state_label.text() == "Done: 784 steps"


def test_a_run_started_while_a_stopped_one_still_compiles_says_it_waits(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    compiling = CompilingStepper(catalog.load_stepper(w.current_entry()))
    w.steppers.put(w.current_entry(), compiling)
    w.generate_button.click()
    qtbot.waitUntil(compiling.warming.is_set, timeout=5_000)
    w.stop_button.click()  # the compile cannot be interrupted: that run keeps the model a while
    w.generate_button.click()
    qtbot.waitUntil(lambda: "Waiting for the stopped run" in w.state_label.text(), timeout=5_000)
    assert len(w.trace) == 0
    compiling.may_finish.set()
    qtbot.waitUntil(lambda: not w.is_running(), timeout=30_000)
    assert len(w.trace) == 784 and w.state_label.text() == "Done: 784 steps"
    assert compiling.warm_ups == 1
