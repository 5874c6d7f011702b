"""The older helpers GUI tests used, kept for any test still written with them: each does what
the WindowDriver (tests/gui/driver.py) does, which new tests use instead."""

from arplayground.gui.main_window import MainWindow
from tests.gui.driver import LEFT, WindowDriver, pixel_centre, write_tone

__all__ = ["click", "force_value", "generate_and_wait", "open_window", "pixel_centre", "set_run_length",
           "step_times", "write_tone"]


def open_window(qtbot, folder, mode: str | None = None) -> MainWindow:
    """The real window on the models in folder, shown, in `mode` (default: the first one listed)."""
    return WindowDriver.open(qtbot, folder, mode).window


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, LEFT)


def generate_and_wait(qtbot, w, timeout: int = 60_000) -> None:
    WindowDriver(qtbot, w).generate_and_wait(timeout)


def step_times(qtbot, w, n: int) -> None:
    """Click Step n times, each time until the step has arrived."""
    WindowDriver(qtbot, w).step_times(n)


def set_run_length(w, mode: str, text_steps: int, audio_samples: int) -> None:
    """Make the next run short: text from the prompt "to be", audio at 8 kHz; an image is 784 pixels."""
    d = WindowDriver(None, w)
    if mode == "text":
        d.set_prompt("to be")
        d.set_length(text_steps)
    if mode == "audio":
        d.set_seconds(audio_samples / 8000)


def force_value(qtbot, w, index: int, value: int) -> None:
    """Branch as a person does: show step `index`, click the bar of `value`, wait for the forced step."""
    WindowDriver(qtbot, w).force_value(index, value)
