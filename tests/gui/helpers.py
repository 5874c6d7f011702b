"""What GUI tests do again and again: open the window in a mode, click, step, generate and wait."""

import wave

import numpy as np
from PySide6.QtCore import QPoint, Qt

from arplayground.gui.main_window import MainWindow


def open_window(qtbot, folder, mode: str | None = None) -> MainWindow:
    """The real window on the models in folder, shown, in `mode` (default: the first one listed)."""
    w = MainWindow(folder)
    qtbot.addWidget(w)
    w.show()
    if mode is not None:
        w.mode_box.setCurrentIndex(w.mode_box.findData(mode))
    return w


def pixel_centre(canvas, index, image=0) -> QPoint:
    """Where to click on the image canvas for pixel `index` (raster order) of grid image `image`."""
    left, top, cell = canvas.image_origin(image)
    r, c = divmod(index, canvas.W)
    return QPoint(left + c * cell + cell // 2, top + r * cell + cell // 2)


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def generate_and_wait(qtbot, w, timeout: int = 60_000) -> None:
    click(qtbot, w.generate_button)
    qtbot.waitUntil(lambda: not w.is_running() and w.generate_button.isEnabled(), timeout=timeout)


def step_times(qtbot, w, n: int) -> None:
    """Click Step n times, each time until the step has arrived."""
    start = len(w.trace) if w.is_running() else 0
    for k in range(start + 1, start + n + 1):
        click(qtbot, w.step_button)
        qtbot.waitUntil(lambda: len(w.trace) == k, timeout=10_000)


def set_run_length(w, mode: str, text_steps: int, audio_samples: int) -> None:
    """Make the next run short: text from the prompt "to be", audio at 8 kHz; an image is 784 pixels."""
    if mode == "text":
        w.prompt_edit.setPlainText("to be")
        w.length_spin.setValue(text_steps)
    if mode == "audio":
        w.views["audio"].length_spin.setValue(audio_samples / 8000)


def write_tone(path, seconds: float, peak: float = 0.3) -> str:
    """A 200 Hz tone as a 16-bit 8 kHz mono WAV at `path`, `peak` of full scale; returns the path."""
    t = np.arange(int(seconds * 8000)) / 8000
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes((peak * np.sin(2 * np.pi * 200 * t) * 32767).astype(np.int16).tobytes())
    return str(path)


def force_value(qtbot, w, index: int, value: int) -> None:
    """Branch as a person does: show step `index`, click the bar of `value`, wait for the forced step."""
    w.show_step(index)
    w.panel.value_clicked.emit(value)  # what a click on that bar emits
    qtbot.waitUntil(lambda: len(w.trace) == index + 1, timeout=10_000)
