"""How GUI tests drive the real window: what a person does there (choose, type, click) and what a
person sees (the status, the text, the panel's bars, the branch list, the timeline).

Tests say what happens; this file knows how the window is built, and may reach into it to do so
(that is its job). When a refactor moves something inside the window, this file changes and the
tests do not. Where it reaches past what a person could see or do, the method says so.
"""

from __future__ import annotations

import wave
from contextlib import contextmanager
from unittest import mock

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QTextCursor, QTextDocument
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from arplayground.gui.main_window import COMPACT_TRACES, SPEEDS, MainWindow

LEFT, RIGHT = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton
SHIFT = Qt.KeyboardModifier.ShiftModifier
SAMPLE_RATE = 8000  # the audio views' clip rate (mu-law at 8 kHz)


def pixel_centre(canvas, index, image=0) -> QPoint:
    """Where to click on the image canvas for pixel `index` (raster order) of grid image `image`."""
    left, top, cell = canvas.image_origin(image)
    r, c = divmod(index, canvas.W)
    return QPoint(left + c * cell + cell // 2, top + r * cell + cell // 2)


def write_tone(path, seconds: float, peak: float = 0.3) -> str:
    """A 200 Hz tone as a 16-bit 8 kHz mono WAV at `path`, `peak` of full scale; returns the path."""
    t = np.arange(int(seconds * 8000)) / 8000
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(8000)
        f.writeframes((peak * np.sin(2 * np.pi * 200 * t) * 32767).astype(np.int16).tobytes())
    return str(path)


def view_shows(view, vocab, whole: bool = False) -> list[int]:
    """What a mode view shows, read from its widgets: the generated values, or with `whole` the
    kept start as well (an A/B side shows both)."""
    if view.mode == "text":
        return list(vocab.encode(view.pane.toPlainText() if whole else view.pane.generated_text()))
    if view.mode == "image":
        start = 0 if whole else view.prefix_len
        return view.canvas.image.reshape(-1)[start : view.canvas.known].tolist()
    start = 0 if whole else view.prefix_len
    return view.levels[start : view.generated_until].tolist()


def plot_point(plot, x: float, y: float | None = None) -> QPoint:
    """The widget pixel of plot coordinate (x, y) on a pyqtgraph PlotWidget (y: low on the plot)."""
    vb = plot.getPlotItem().vb
    if y is None:
        low, high = vb.viewRange()[1]
        y = low + (high - low) * 0.3  # low on the plot: clear of the legend and the drawn marker
    return plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))


def character_point(pane, step: int) -> QPoint:
    """Where in the text pane's viewport the generated character of `step` is (scrolled into view)."""
    cursor = QTextCursor(pane.document())
    cursor.setPosition(pane.prompt_length + step)
    if not pane.viewport().rect().contains(pane.cursorRect(cursor).center()):
        pane.setTextCursor(cursor)
        pane.ensureCursorVisible()
    rect = pane.cursorRect(cursor)
    return QPoint(rect.x() + 3, rect.center().y())


def click_character(qtbot, pane, step: int) -> None:
    """A real click on the generated character of `step` in a text pane."""
    qtbot.mouseClick(pane.viewport(), LEFT, pos=character_point(pane, step))


def click_pixel(qtbot, canvas, index: int, image: int = 0, button=LEFT, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A real click on pixel `index` (raster order) of grid image `image` on an image canvas."""
    qtbot.mouseClick(canvas, button, modifiers, pixel_centre(canvas, index, image))


def click_sample(qtbot, view, sample: int) -> None:
    """A real click on an audio view's waveform at clip sample `sample`. Where the plot is too
    narrow for a pixel a sample, it is zoomed around the sample first (as a person would) and the
    zoom put back after."""
    plot, vb = view.plot, view.plot.getPlotItem().vb
    y = int(plot.mapFromScene(vb.sceneBoundingRect().center()).y())

    def pixel_of(target):
        for px in range(plot.viewport().width()):  # the view's own mapping, pixel by pixel
            if int(round(vb.mapSceneToView(plot.mapToScene(QPoint(px, y))).x() * SAMPLE_RATE)) == target:
                return px
        return None

    px = pixel_of(sample)
    if px is not None:
        qtbot.mouseClick(plot.viewport(), LEFT, pos=QPoint(px, y))
        return
    x_range = vb.viewRange()[0]
    vb.setXRange((sample - 40) / SAMPLE_RATE, (sample + 40) / SAMPLE_RATE, padding=0)
    px = pixel_of(sample)
    assert px is not None, f"sample {sample} is not on the waveform"
    qtbot.mouseClick(plot.viewport(), LEFT, pos=QPoint(px, y))
    vb.setXRange(*x_range, padding=0)


def click_view_step(qtbot, view, step: int) -> None:
    """A real click on step `step` of the run a mode view shows (its character, pixel or sample),
    in the main window or on an A/B side."""
    if view.mode == "text":
        click_character(qtbot, view.pane, step)
    elif view.mode == "image":
        click_pixel(qtbot, view.canvas, view.prefix_len + step)
    else:
        click_sample(qtbot, view, view.prefix_len + step)


def _plain(rich: str) -> str:
    """A rich-text label as a person reads it."""
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", rich.replace("<br>", "\n")))
def shown_text(label) -> str:
    """A label's text as a person reads it: rich text rendered to plain (no tags, no entities)."""
    if label.textFormat() != Qt.TextFormat.RichText:
        return label.text()
    document = QTextDocument()
    document.setHtml(label.text())
    return document.toPlainText()


class WindowDriver:
    """The main window as a person uses it. `window` is there for what a test checks on a widget
    itself (a tooltip, a view's own control); everything a test does goes through here."""

    # The window's buttons by the action they do, as a person names them.
    BUTTONS = {"generate": "generate_button", "step": "step_button", "pause": "pause_button",
               "back": "back_button", "stop": "stop_button", "export": "export_trace_button",
               "open": "open_trace_button", "ab": "ab_button", "rename": "rename_button", "score": "score_button",
               "masks": "cheat_button"}

    def __init__(self, qtbot, window: MainWindow):
        self.qtbot, self.window = qtbot, window

    @classmethod
    def open(cls, qtbot, folder, mode: str | None = None, initial: dict | None = None, show: bool = True) -> WindowDriver:
        """The real window on the models in folder (shown, unless not `show`), in `mode` (default:
        the first one listed), with command-line `initial` settings."""
        w = MainWindow(folder, initial)
        qtbot.addWidget(w)
        if show:
            w.show()
        driver = cls(qtbot, w)
        if mode is not None:
            driver.choose_mode(mode)
        return driver

    def close(self) -> None:
        self.window.close()

    def halt(self) -> None:
        """End whatever run is going, without closing the window (what a fixture does after a test)."""
        self.window.runner.stop()

    # ------------------------------------------------------------------ choosing and setting

    @property
    def mode(self) -> str:
        return self.window.mode_box.currentData()

    def modes(self) -> list[str]:
        box = self.window.mode_box
        return [box.itemData(i) for i in range(box.count())]

    def mode_lines(self) -> list[str]:
        """The mode picker's lines, as listed."""
        box = self.window.mode_box
        return [box.itemText(i) for i in range(box.count())]

    def choose_mode(self, mode: str) -> None:
        self.window.mode_box.setCurrentIndex(self.window.mode_box.findData(mode))

    def display_shown(self):
        """The display widget on show (the text pane, the canvas, the waveform)."""
        return self.window.displays.currentWidget()

    def view(self, mode: str | None = None):
        """The mode's view (its own controls and display), the current mode's by default."""
        return self.window.views[mode or self.mode]

    def models(self) -> list[str]:
        """The model picker's lines, as listed."""
        box = self.window.model_box
        return [box.itemText(i) for i in range(box.count())]

    def model_entries(self) -> list:
        """The catalog entries behind the picker's lines, in order."""
        box = self.window.model_box
        return [box.itemData(i) for i in range(box.count())]

    def model_selectable(self, line: str) -> bool:
        box = self.window.model_box
        return box.model().item(self.models().index(line)).isEnabled()

    def model_tooltip(self, line: str) -> str:
        box = self.window.model_box
        return box.itemData(self.models().index(line), Qt.ItemDataRole.ToolTipRole)

    def model(self) -> str:
        """The chosen model's line in the picker."""
        return self.window.model_box.currentText()

    def model_entry(self):
        """The chosen model's catalog entry (what tests load the same model from)."""
        return self.window.current_entry()

    def model_info(self) -> str:
        return shown_text(self.window.model_info)

    def choose_model(self, line: str) -> None:
        """Choose the model listed as `line` in the picker."""
        self.window.model_box.setCurrentIndex(self.models().index(line))

    def choose_model_named(self, name: str) -> None:
        """Choose the model whose card is called `name` (two may share a line's label)."""
        box = self.window.model_box
        self.window.model_box.setCurrentIndex(next(i for i in range(box.count()) if box.itemData(i).name == name))

    def set_prompt(self, text: str) -> None:
        self.window.prompt_edit.setPlainText(text)

    def type_prompt(self, text: str) -> None:
        self.qtbot.keyClicks(self.window.prompt_edit, text)

    def paste_prompt(self, text: str) -> None:
        """Paste `text` into the prompt at its cursor (QTest cannot type beyond Latin-1)."""
        data = QMimeData()
        data.setText(text)
        self.window.prompt_edit.insertFromMimeData(data)  # what Ctrl+V hands the prompt

    def prompt(self) -> str:
        return self.window.prompt_edit.toPlainText()

    def prompt_message(self) -> str | None:
        """The inline message under the prompt, None while it says nothing."""
        message = self.window.prompt_message
        return message.text() if message.isVisible() and message.text() else None

    def set_length(self, steps: int) -> None:
        """Text mode's length, in characters."""
        self.window.length_spin.setValue(steps)

    def set_seconds(self, seconds: float) -> None:
        """Audio mode's length, in seconds."""
        self.window.views["audio"].length_spin.setValue(seconds)

    def set_run_length(self, text_steps: int = 0, audio_samples: int = 0) -> None:
        """Make the next run short: text from the prompt "to be", audio at 8 kHz; an image is 784
        pixels. Acts on the current mode."""
        if self.mode == "text":
            self.set_prompt("to be")
            self.set_length(text_steps)
        if self.mode == "audio":
            self.set_seconds(audio_samples / SAMPLE_RATE)

    def set_seed(self, seed: int) -> None:
        self.window.seed_spin.setValue(seed)

    def seed(self) -> int:
        return self.window.seed_spin.value()

    def set_speed(self, steps_per_second: int) -> None:
        """The compute speed slider, at `steps_per_second` (0: as fast as it goes)."""
        self.window.speed_slider.setValue(SPEEDS.index(steps_per_second))

    def set_temperature(self, t: float) -> None:
        self.window.temperature.setValue(t)

    def set_top_k(self, k: int) -> None:
        self.window.top_k.setValue(k)

    def set_top_p(self, p: float) -> None:
        self.window.top_p.setValue(p)

    def set_guidance(self, g: float) -> None:
        self.window.guidance.setValue(g)

    def open_more_stages(self) -> None:
        """Click "More stages": the newer stages' sliders and the order list show."""
        sampler = self.window.sampler
        if not sampler.more_button.isChecked():
            self.click(sampler.more_button)
        assert sampler.order_list.isVisible()

    def set_sampler(self, name: str, value: float) -> None:
        """Move the sampler slider `name` (min_p, typical_p, top_n_sigma, repetition_penalty,
        penalty_window, or any other) to `value`."""
        self.window.sampler.sliders[name].setValue(value)

    def sampler_enabled(self, name: str) -> bool:
        return self.window.sampler.sliders[name].isEnabled()

    def drag_stage(self, name: str, row: int) -> None:
        """Move stage `name` to `row` of the order list as a drop does: the list's own model moves
        the row (what InternalMove does on a drop), and the list announces it."""
        from PySide6.QtCore import QModelIndex

        sampler = self.window.sampler
        order = sampler.order()
        source = order.index(name)
        destination = row + 1 if row > source else row  # moveRow's index is "before this row"
        assert sampler.order_list.model().moveRow(QModelIndex(), source, QModelIndex(), destination)
        assert sampler.order()[row] == name

    def sampler_order(self) -> tuple:
        """The stages as the order list shows them, first at the top."""
        return self.window.sampler.order()

    def stage_titles(self) -> list[str]:
        """The panel's stage strip, cell by cell: "top-k 12" (its stage and the values it keeps);
        [] while it is hidden (a run streaming)."""
        strip = self.window.panel.stage_strip
        return strip.titles() if strip.isVisible() else []

    def settings(self):
        """The sampler settings the next step is drawn with (the sliders', clamped to the model)."""
        return self.window.settings()

    def sampler_note(self) -> str | None:
        """The note under the sliders (a value clamped into range), None while it is hidden."""
        note = self.window.settings_note
        return None if note.isHidden() else note.text()

    def slider(self, name: str) -> float:
        """Where the sampler slider `name` (temperature, top_k, top_p, guidance) stands."""
        return getattr(self.window, name).value()

    # Image and audio controls every test of those modes uses.

    def choose_digit(self, digit: int | None) -> None:
        box = self.view().digit_box
        box.setCurrentIndex(box.findData(digit))

    def choose_speaker(self, name: str) -> None:
        box = self.window.views["audio"].speaker_box
        box.setCurrentIndex(box.findText(name))

    def choose_grid(self, text: str) -> None:
        """The image grid, by its line ("2 x 2", "digits 0-9, one each"; "one image")."""
        box = self.window.views["image"].grid_box
        box.setCurrentIndex(0 if text == "one image" else box.findText(text))

    def keep_rows(self, rows: int) -> None:
        self.window.views["image"].keep_rows.setValue(rows)

    def keep_seconds(self, seconds: float) -> None:
        self.window.views["audio"].keep_spin.setValue(seconds)

    def wait_for_sound_check(self, timeout: int = 30_000) -> None:
        """Audio mode checks the sound system in a child process, off the GUI thread, when first
        chosen: until it has answered."""
        from arplayground.gui.views.audio import CHECKING_SOUND

        view = self.window.views["audio"]
        self.wait_until(lambda: view.playback_reason != CHECKING_SOUND, timeout=timeout)

    # ------------------------------------------------------------------ buttons and waiting

    def button(self, action: str):
        return getattr(self.window, self.BUTTONS[action])

    def can(self, action: str) -> bool:
        """Is the button for `action` (generate, step, pause, back, stop, export, open, ab, rename) enabled?"""
        return self.button(action).isEnabled()

    def tooltip(self, action: str) -> str:
        return self.button(action).toolTip()

    def click(self, widget, button=LEFT, modifiers=Qt.KeyboardModifier.NoModifier, pos: QPoint | None = None) -> None:
        """A real mouse click on any widget (a view's own button too)."""
        if pos is None:
            self.qtbot.mouseClick(widget, button, modifiers)
        else:
            self.qtbot.mouseClick(widget, button, modifiers, pos)

    def press(self, action: str) -> None:
        """Click the button for `action`, whether or not it is enabled (a disabled one does nothing)."""
        self.click(self.button(action))

    def click_generate(self) -> None:
        self.press("generate")

    def click_step(self) -> None:
        self.press("step")

    def click_pause(self) -> None:
        """Pause, or Resume where the button says so."""
        self.press("pause")

    def click_resume(self) -> None:
        assert self.pause_label() == "Resume", f"the button says {self.pause_label()!r}"
        self.press("pause")

    def click_back(self, times: int = 1) -> None:
        for _ in range(times):
            self.press("back")

    def click_stop(self) -> None:
        self.press("stop")

    def pause_label(self) -> str:
        return self.window.pause_button.text()

    def paused(self) -> bool:
        return self.window.pause_button.isChecked()

    def can_resume(self) -> bool:
        """One click on Resume continues the run shown."""
        return self.can("pause") and self.pause_label() == "Resume"

    def running(self) -> bool:
        return self.window.is_running()

    def wait_until(self, condition, timeout: int = 10_000) -> None:
        self.qtbot.waitUntil(condition, timeout=timeout)

    def wait_until_done(self, timeout: int = 60_000) -> None:
        """Until the run has ended and Generate can start another."""
        self.wait_until(lambda: not self.running() and self.can("generate"), timeout=timeout)

    def wait_until_stopped(self, timeout: int = 20_000) -> None:
        """Until the run has ended (whether or not Generate is possible now)."""
        self.wait_until(lambda: not self.running(), timeout=timeout)

    def generate_and_wait(self, timeout: int = 60_000) -> None:
        self.click_generate()
        self.wait_until_done(timeout)

    def wait_for_steps(self, n: int, timeout: int = 10_000) -> None:
        """Until the run shown has exactly n steps."""
        self.wait_until(lambda: self.steps() == n, timeout=timeout)

    def wait_for_at_least(self, n: int, timeout: int = 30_000) -> None:
        self.wait_until(lambda: self.steps() >= n, timeout=timeout)

    def step_times(self, n: int) -> None:
        """Click Step n times, each time until the step has arrived."""
        start = self.steps() if self.running() else 0
        for k in range(start + 1, start + n + 1):
            self.click_step()
            self.wait_for_steps(k)

    def resume_to_the_end(self, timeout: int = 20_000) -> None:
        """Click Resume and wait until the branch shown has all its planned steps."""
        self.click_resume()
        self.wait_until(lambda: not self.running() and self.steps() == self.planned_steps(), timeout=timeout)

    def start_paused_run(self) -> None:
        """A new run started paused, with no step yet: what Step leaves while its first step has
        not come (or Stop beats it). Not a click: the window's own generate(paused=True)."""
        self.window.generate(paused=True)

    # ------------------------------------------------------------------ what the window says

    def status(self) -> str:
        """The status line (Ready, Generating…, Done: N steps, what went wrong)."""
        return self.window.state_label.text()

    def figures(self) -> str:
        """The status bar's figures: step n / N, speed, NLL, perplexity ("" with no step)."""
        return self.window.stats_label.text()

    # ------------------------------------------------------------------ the run shown

    # The run's record: what the panel, the timeline and the view are drawn from. Tests compare
    # what they show against it; it is the shown branch's trace inside the window.

    def _trace(self):
        return self.window.trace

    def steps(self) -> int:
        """Steps made so far in the branch shown (a grid: in all its images together)."""
        return len(self._trace())

    def values(self) -> np.ndarray:
        """Every value drawn (or forced) so far in the branch shown, a copy."""
        return self._trace().values.copy()

    def record(self, index: int):
        """Step `index`'s record (its value, probability, rank, settings, uniform number, candidates)."""
        return self._trace()[index]

    def nll(self) -> float:
        return self._trace().nll()

    def column(self, name: str) -> np.ndarray:
        """One field of every step (entropy, prob, rank, u, kept, ...)."""
        return self._trace().column(name).copy()

    def distributions(self, index: int):
        """(raw, sampled, unconditional) of step `index`, or None where only its top candidates are kept."""
        return self._trace().distributions(index)

    def full_column(self, name: str) -> np.ndarray:
        """Every step's full distribution `name` ("raw", "unconditional"), one row a step."""
        return self._trace().full_column(name, 0, self.steps())

    def planned_steps(self) -> int:
        """How many steps the run shown is to have."""
        return self.window.n_steps

    def prefix(self) -> tuple:
        """What the run started from (the prompt, kept rows or samples), as the model's values."""
        return tuple(self.window.branch.prefix)

    def has_run(self) -> bool:
        """Is there a run shown, to inspect, branch or export?"""
        return self.window.branch is not None

    def shown_values(self) -> list[int]:
        """What the current mode's view shows of the run: the generated values, read from its widgets."""
        return view_shows(self.view(), self.window.vocab)

    def label(self, value: int) -> str:
        """How the run's vocabulary names `value` (a character, a grey level, a mu-law level)."""
        return self.window.vocab.label(value)

    def encode(self, text: str) -> list[int]:
        return list(self.window.vocab.encode(text))

    def text_shown(self) -> str:
        """The text pane, the prompt (or its end) included."""
        return self.window.text_pane.toPlainText()

    def generated_text(self) -> str:
        """The text pane's generated characters."""
        return self.window.text_pane.generated_text()

    def highlighted_character(self) -> int | None:
        """The step whose character the text pane outlines."""
        return self.window.text_pane.highlighted

    # ------------------------------------------------------------------ the panel

    @property
    def panel(self):
        return self.window.panel

    def panel_title(self) -> str:
        return self.window.panel.title.text()

    def bar_heights(self) -> tuple[np.ndarray, np.ndarray]:
        """(raw, after-sampler) heights of the candidate bars drawn."""
        return self.window.panel.bar_heights()

    def bar_labels(self) -> list[str]:
        """The candidates' labels under their bars ([] where all the levels are plotted)."""
        return self.window.panel.tick_labels()

    def bar_values(self) -> list[int]:
        """The values of the candidate bars, left to right (best first)."""
        panel = self.window.panel
        return [int(v) for v in panel.data.values[: min(panel.max_bars, len(panel.data.values))]]

    def levels(self):
        """(raw, sampled, drawn) of the step shown where every level is plotted (image, audio)."""
        return self.window.panel.levels

    def shows_levels(self) -> bool:
        """Does the panel plot every level (rather than the top candidates)?"""
        return self.window.panel.level_bars.isVisible()

    def shows_unconditional(self) -> bool:
        """Is the distribution without the digit drawn (a guided step)?"""
        return self.window.panel.unconditional_line.isVisible()

    def unconditional_shown(self) -> np.ndarray:
        return np.asarray(self.window.panel.unconditional_line.getData()[1])

    def legend(self) -> list[str]:
        return [label.text for _, label in self.window.panel.legend.items]

    def what_if_text(self) -> str:
        return self.window.panel.what_if_label.text()

    def what_if_shown(self) -> bool:
        return self.window.panel.what_if_label.isVisible()

    def what_if(self):
        """The sampler's stages of the step shown under the current settings, as the panel draws
        them (None while streaming, or where the step keeps only its top candidates)."""
        return self.window.panel.what_if

    def would_draw(self) -> int:
        """The value the panel marks as what the step's uniform number picks now."""
        return int(self.window.panel.would_line.value())

    def click_bar(self, value: int) -> None:
        """A real click on the panel's bar for `value` (a candidate shown, or any level)."""
        panel = self.window.panel
        if self.shows_levels():
            x = value
        else:
            shown = self.bar_values()
            assert value in shown, f"no bar for {value} among {shown}"
            x = shown.index(value)
        self.click(panel.plot.viewport(), pos=plot_point(panel.plot, x))

    def force_value(self, index: int, value: int) -> None:
        """Branch as a person does: show step `index`, click the bar of `value`, wait for the forced step."""
        self.show_step(index)
        self.click_bar(value)
        self.wait_for_steps(index + 1)

    # ------------------------------------------------------------------ choosing a step

    def show_step(self, index: int) -> None:
        """Scrub the timeline to step `index` (a grid: its record), so that the panel shows it."""
        slider = self.window.timeline.slider
        if slider.value() == index and slider.maximum() > 0:  # moved to where it is, a slider does nothing: nudge it first
            slider.setValue(index + 1 if index < slider.maximum() else index - 1)
        if slider.value() != index:
            slider.setValue(index)
        else:  # a run of one step: the slider cannot move; click the step on the timeline's plot
            timeline = self.window.timeline
            self.click(timeline.plot.viewport(), pos=plot_point(timeline.plot, index // timeline.lanes + 1))

    def shown_step(self) -> int | None:
        """The step the panel shows (a grid: its record), None when none is."""
        return self.window.shown_index

    def click_character(self, step: int) -> None:
        """A real click on the generated character of `step` in the text pane."""
        click_character(self.qtbot, self.window.text_pane, step)

    def character_point(self, step: int) -> QPoint:
        """Where the generated character of `step` is in the text pane's viewport."""
        return character_point(self.window.text_pane, step)

    def click_pixel(self, index: int, image: int = 0, button=LEFT, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
        """A real click on pixel `index` (raster order) of grid image `image` on the canvas."""
        click_pixel(self.qtbot, self.window.views["image"].canvas, index, image, button, modifiers)

    def draw_pixel(self, index: int, image: int = 0) -> None:
        """Shift+click: the brush draws at the pixel."""
        self.click_pixel(index, image, modifiers=SHIFT)

    def erase_pixel(self, index: int) -> None:
        """Right click: erase around the pixel."""
        self.click_pixel(index, button=RIGHT)

    def click_sample(self, sample: int) -> None:
        """A real click on the waveform at clip sample `sample`."""
        click_sample(self.qtbot, self.window.views["audio"], sample)

    # ------------------------------------------------------------------ branches

    def branch_name(self) -> str | None:
        """The name of the branch shown (None: no run). The window's own, not the list's line: a
        list that showed a choice the window did not make must not pass for it."""
        branch = self.window.branch
        return None if branch is None else branch.name

    def branch_names(self) -> list[str]:
        box = self.window.branch_box
        return [box.itemData(i) for i in range(box.count())]

    def branch_lines(self) -> list[str]:
        """The branch list's lines: where each forked, what it forced, its length and NLL."""
        box = self.window.branch_box
        return [box.itemText(i) for i in range(box.count())]

    def branch_line(self) -> str:
        """The shown branch's line in the list."""
        return self.window.branch_box.currentText()

    def choose_branch(self, name: str) -> None:
        """Pick the branch `name` from the branch list, with a real click on its line."""
        self._choose_line(self.window.branch_box, name)

    def _choose_line(self, box, data) -> None:
        """A real click on the line of a combo box's popup whose data is `data`."""
        row = box.findData(data)
        assert row >= 0, f"no line {data!r} in the list"
        box.showPopup()
        list_view = box.view()
        rect = list_view.visualRect(box.model().index(row, 0))
        self.click(list_view.viewport(), pos=rect.center())
        if list_view.isVisible():  # the popup closes on a click; never leave it open over the window
            box.hidePopup()

    def branch_family(self, name: str | None = None) -> tuple[str | None, int]:
        """(the branch it forked from, the step index it forked at) of branch `name` (the shown
        one by default). The list says this too, in words; here as the session keeps it."""
        branch = self.window.branches[name or self.branch_name()]
        return branch.parent, branch.fork_step

    def rename_branch(self, name: str) -> bool:
        """Rename… with the dialog answering `name`; did the shown branch take that name?"""
        before = self.branch_name()
        with mock.patch.object(QInputDialog, "getText", staticmethod(lambda *a, **k: (name, True))):
            self.press("rename")
        return self.branch_name() != before

    # ------------------------------------------------------------------ files

    def export_trace(self, path) -> bool:
        """Export trace… with the file dialog answering `path`; did the window write it?"""
        with self._dialog("getSaveFileName", path):
            self.press("export")
        return self.status().startswith("Exported ")

    def open_trace(self, path) -> bool:
        """Open trace… with the file dialog answering `path`; did the window take it (and show
        its run)?"""
        with self._dialog("getOpenFileName", path):
            self.press("open")
        return self.status().startswith("Opened ")

    def replay(self, path, timeout: int = 30_000) -> None:
        """Open the trace at `path`, then Verify replay, and wait until the verification has ended."""
        assert self.open_trace(path), self.status()
        self.verify_replay(timeout)

    def open_picture(self, path) -> None:
        """Image mode's Open PNG…, the file dialog answering `path`."""
        with self._dialog("getOpenFileName", path):
            self.click(self.window.views["image"].open_button)

    @staticmethod
    @contextmanager
    def _dialog(which: str, path):
        with mock.patch.object(QFileDialog, which, staticmethod(lambda *a, **k: (str(path), ""))):
            yield

    def open_wav(self, path, timeout: int = 20_000) -> None:
        """Audio mode's Open WAV…, the file dialog answering `path`; waits for its conversion."""
        view = self.window.views["audio"]
        with self._dialog("getOpenFileName", path):
            self.click(view.open_button)
        self.wait_until(lambda: view.conversion is None, timeout)

    # ------------------------------------------------------------------ Score

    def score(self, timeout: int = 60_000) -> None:
        """Click Score and wait until its pass has ended (scored, or refused with a reason)."""
        self.press("score")
        self.wait_until(lambda: not self.window.score.busy(), timeout)
        self.qtbot.wait(20)  # the Score pane just appeared: its layout is laid out before anything clicks in it

    @property
    def score_panel(self):
        return self.window.score_panel

    def score_shown(self) -> bool:
        return self.score_panel.isVisible()

    def score_text(self) -> str:
        """Everything the Score panel says, one line per part."""
        p = self.score_panel
        return "\n".join(label.text() for label in (p.heading, p.totals_label, p.term_label, p.class_label,
                                                    p.split_label, p.timing_label, p.compare_label) if label.text())

    def score_total_bits(self) -> float:
        """The total the panel states: -log2 p(x) = ... = N bits."""
        text = self.score_panel.totals_label.text()
        return float(text.split("<b>")[1].split(" bits")[0].replace(",", ""))

    def click_time_sequential(self, timeout: int = 120_000) -> None:
        """Time one at a time, and wait for both measurements (cached, then naive)."""
        self.click(self.score_panel.time_button)
        self.wait_until(lambda: self.score_panel.time_button.isEnabled() and not self.window.score.busy(), timeout)

    def click_free_run(self) -> None:
        self.click(self.score_panel.free_run_button)

    def compare_with(self, name: str) -> None:
        self._choose_line(self.score_panel.compare_box, name)

    def hover_timeline(self, index: int) -> None:
        """Move the mouse over the timeline's plot at step `index` (1-based x)."""
        plot = self.window.timeline.plot
        vb = plot.getPlotItem().vb
        scene = vb.mapViewToScene(QPointF(index + 1, 0))
        self.qtbot.mouseMove(plot.viewport(), plot.mapFromScene(scene))
        self.qtbot.wait(50)

    # ------------------------------------------------------------------ Mask on/off: the cheat

    def offers_mask_comparison(self) -> bool:
        """Is the Mask on/off… button there (Text mode) and enabled?"""
        button = self.button("masks")
        return button.isVisibleTo(self.window) and button.isEnabled()

    def compare_masks(self, timeout: int = 120_000) -> None:
        """Click Mask on/off… and wait until the comparison has ended (shown, or refused with a reason)."""
        self.press("masks")
        self.wait_until(lambda: self.window.cheat.dialog is not None and not self.window.cheat.busy(), timeout)

    def compare_masks_again(self, timeout: int = 120_000) -> None:
        """Click the comparison window's Compare again and wait until it has ended."""
        self.click(self.window.cheat.dialog.again_button)
        self.wait_until(lambda: not self.window.cheat.busy(), timeout)

    def mask_comparison(self) -> dict:
        """What the comparison window says: its heading, the sentence why, its status, and each
        column ("real", "cheat") as title, text (how it reads the text), sample and read (how the
        real model reads the sample)."""
        dialog = self.window.cheat.dialog
        said = {"heading": shown_text(dialog.heading), "why": shown_text(dialog.why_label),
                "status": shown_text(dialog.status_label), "shown": dialog.isVisible()}
        for name, column in (("real", dialog.real_column), ("cheat", dialog.cheat_column)):
            said[name] = {"title": column.title(), "text": shown_text(column.text_label),
                          "sample": column.sample_pane.toPlainText(), "read": shown_text(column.read_label)}
        return said

    # ------------------------------------------------------------------ the Decoding lab: beam search

    def open_beam_search(self) -> BeamDriver:
        """Click Decoding lab… and choose its Beam search tab."""
        self.click(self.window.decoding_button)
        lab = self.window.decoding_lab
        lab.show_page("Beam search")
        return BeamDriver(self.qtbot, lab)

    # ------------------------------------------------------------------ A/B

    def open_ab(self) -> ABDriver | None:
        """Click A/B…; the comparison window it opened (None if it did not)."""
        self.press("ab")
        ab = self.window.ab_window
        return None if ab is None else ABDriver(self.qtbot, ab, self.window.vocab)

    def ab_window(self):
        """The A/B window open now (the window itself, to tell one from another), or None."""
        return self.window.ab_window

    # ------------------------------------------------------------------ the timeline

    @property
    def timeline(self):
        return self.window.timeline

    def choose_timeline_measure(self, label: str) -> None:
        box = self.window.timeline.measure_box
        box.setCurrentIndex(box.findText(label))

    def set_cache(self, on: bool) -> None:
        """Tick or clear the Cache switch, as a person does."""
        if self.window.cache_box.isChecked() != on:
            self.click(self.window.cache_box)

    def timeline_values(self) -> np.ndarray:
        """The measure plotted, one point a step."""
        return self.window.timeline.values()

    def timeline_position(self) -> str:
        """What the timeline says of the step under its cursor ("step 11 of 40", "no steps")."""
        return self.window.timeline.position_label.text()

    def timeline_cursor(self) -> float:
        return self.window.timeline.cursor.value()

    def timeline_x_range(self) -> list[float]:
        return self.window.timeline.plot.getPlotItem().vb.viewRange()[0]

    def choose_measure(self, text: str) -> None:
        self.window.timeline.measure_box.setCurrentText(text)

    def play_timeline(self, steps_per_second: int | None = None, timeout: int = 10_000) -> None:
        """Click the timeline's Play (at `steps_per_second`, default its fastest) and wait until it
        has played to the end."""
        timeline = self.window.timeline
        speeds = timeline.display_speed
        speeds.setCurrentIndex(speeds.count() - 1 if steps_per_second is None else speeds.findData(steps_per_second))
        self.click(timeline.play_button)
        self.wait_until(lambda: not timeline.play_button.isChecked(), timeout=timeout)


    # ------------------------------------------------------------------ What it sees

    def click_output(self, step: int) -> None:
        """A real click on step `step` of the run shown (its character, pixel or sample)."""
        click_view_step(self.qtbot, self.window.current_view(), step)

    def show_what_it_sees(self, on: bool = True) -> None:
        """Switch What it sees on (or off) with its button, as a person does."""
        if self.window.sees_button.isChecked() != on:
            self.click(self.window.sees_button)

    def wait_for_field(self, timeout: int = 60_000) -> None:
        """Until the field asked for is drawn (the job done and its heading shown)."""
        c = self.window.causality
        self.wait_until(lambda: c.field is not None and not c.jobs.busy(), timeout=timeout)

    def field(self):
        """The field drawn (reaches past what a person sees: the figures behind the colours)."""
        return self.window.causality.field

    def sees_panel_shown(self) -> bool:
        return self.window.causality_panel.isVisible()

    def sees_heading(self) -> str:
        return _plain(self.window.causality_panel.heading.text())

    def sees_detail(self) -> str:
        return _plain(self.window.causality_panel.detail.text())

    def choose_sees_measure(self, measure: str) -> None:
        box = self.window.causality_panel.measure_box
        box.setCurrentIndex(box.findData(measure))
        box.activated.emit(box.currentIndex())

    def text_shading(self) -> list:
        """The background colour (QColor or None) What it sees gives each character of the text pane."""
        pane = self.window.text_pane
        colours = [None] * (pane.document().characterCount() - 1)
        for selection in pane.extraSelections():
            brush = selection.format.background()
            if brush.style() == Qt.BrushStyle.NoBrush:
                continue  # the shown step's underline
            cursor = selection.cursor
            for i in range(cursor.selectionStart(), cursor.selectionEnd()):
                colours[i] = brush.color()
        return colours

    def click_attention_cell(self, layer: int, head: int) -> None:
        grid = self.window.causality_panel.attention_grid
        self.click(grid, pos=grid._cell(layer, head).center().toPoint())

    def canvas_colours(self) -> np.ndarray:
        """The image on screen, (H, W, 3): what the canvas paints."""
        return self.window.views["image"].canvas.rgb()

    def field_region_seconds(self):
        """The span of the waveform What it sees shades, in seconds, or None when none is shown."""
        region = self.window.views["audio"].field_region
        return tuple(region.getRegion()) if region.isVisible() else None

    # ------------------------------------------------------------------ menus, keys, settings

    def menu_action(self, name: str):
        """The menu bar's action `name` (gui/menus.py: open_trace, export, save, open_file, play, step,
        back, stop, generate, sees, mode_text, about_model, shortcuts, about, reset, quit)."""
        return self.window.menus.actions[name]

    def menu_enabled(self, name: str) -> bool:
        return self.menu_action(name).isEnabled()

    def choose_menu(self, name: str) -> None:
        """Choose the menu item, as a click on it does (a greyed-out one cannot be chosen)."""
        action = self.menu_action(name)
        assert action.isEnabled(), f"{name} is greyed out"
        action.trigger()

    def menus(self) -> list[str]:
        return [a.text().replace("&", "") for a in self.window.menuBar().actions()]

    def menu_items(self, menu: str) -> list[str]:
        """The items of one menu of the bar, as listed (separators left out)."""
        bar = next(a for a in self.window.menuBar().actions() if a.text().replace("&", "") == menu)
        return [a.text() for a in bar.menu().actions() if not a.isSeparator()]

    def focus(self, widget) -> None:
        """Give `widget` the keyboard focus, the window active, as a click into it would."""
        self.window.activateWindow()
        self.qtbot.waitUntil(self.window.isActiveWindow)
        widget.setFocus()
        self.qtbot.waitUntil(widget.hasFocus)

    def press_key(self, key, modifiers=Qt.KeyboardModifier.NoModifier, widget=None) -> None:
        """A key pressed with the focus where it is now (or on `widget`): shortcuts fire as in the app."""
        if widget is not None:
            self.focus(widget)
        target = self.window.focusWidget() or self.window
        self.qtbot.keyClick(target, key, modifiers)

    def save_with_key(self, path) -> None:
        """Ctrl+S, the save dialog answering `path`."""
        with self._dialog("getSaveFileName", path):
            self.press_key(Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)

    def export_with_key(self, path) -> None:
        """Ctrl+E, the export dialog answering `path`."""
        with self._dialog("getSaveFileName", path):
            self.press_key(Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)

    def dialog_asked_in(self, which: str, action, answer="") -> str:
        """Where a file dialog opened by `action()` (a callable) starts: its directory or file argument."""
        asked = []

        def dialog(parent, title, start="", filters="", *rest, **kw):
            asked.append(start)
            return str(answer), ""

        with mock.patch.object(QFileDialog, which, staticmethod(dialog)):
            action()
        return asked[0]

    def recent_files(self) -> list[tuple[str, bool]]:
        """File > Recent files: each line and whether it can be chosen."""
        menu = self.window.menus.recent_menu
        menu.aboutToShow.emit()
        return [(a.text(), a.isEnabled()) for a in menu.actions() if a.data()]

    def open_recent(self, line_starts: str) -> None:
        menu = self.window.menus.recent_menu
        menu.aboutToShow.emit()
        action = next(a for a in menu.actions() if a.data() and a.text().startswith(line_starts))
        assert action.isEnabled(), f"{action.text()} is greyed out"
        action.trigger()

    def dialog(self, name: str):
        """The dialog the menus show now: "card" (About this model), "shortcuts", "about"."""
        return self.window.menus.dialogs.get(name)

    def click_about_link(self) -> None:
        """The About… link in the model's line (reaches past the mouse: QLabel's link is not a widget)."""
        self.window.model_info.linkActivated.emit("about-model")

    def speed_notch(self) -> int:
        return self.window.speed_slider.value()

    def set_speed_notch(self, notch: int) -> None:
        self.window.speed_slider.setValue(notch)

    def cache_on(self) -> bool:
        return self.window.cache_box.isChecked()

    def set_cache(self, on: bool) -> None:
        self.window.cache_box.setChecked(on)

    # ------------------------------------------------------------------ readouts: timeline, speeds, sound

    def timeline_axis_label(self, measure: str | None = None) -> str:
        """The y axis label of the timeline's first plot (or of stacked measure `measure`'s)."""
        return self.window.timeline.axis_label(measure)

    def add_timeline_measure(self, measure: str) -> None:
        """Tick `measure` in the timeline's "+ measure" list: a plot of it stacked under the others."""
        self._measure_action(measure, True)

    def remove_timeline_measure(self, measure: str) -> None:
        self._measure_action(measure, False)

    def _measure_action(self, measure: str, on: bool) -> None:
        action = next(a for a in self.window.timeline.add_menu.actions() if a.text() == measure)
        if action.isChecked() != on:
            action.trigger()  # what a click on the menu's line does

    def timeline_measures(self) -> list[str]:
        """The measures the timeline plots, top to bottom."""
        return self.window.timeline.shown_measures()

    def timeline_values_of(self, measure: str) -> np.ndarray:
        """Stacked measure `measure`'s plotted values, one a step."""
        return self.window.timeline.values(measure)

    def timeline_cursors(self) -> list[float]:
        """Where each of the timeline's plots draws the position line (x: step, 1-based)."""
        timeline = self.window.timeline
        return [plot.cursor.value() for plot in (timeline.main, *timeline.stacked.values())]

    def click_stacked_plot(self, measure: str, step: int) -> None:
        """A real click on stacked measure `measure`'s plot at step `step` (0-based)."""
        widget = self.window.timeline.stacked[measure].widget
        self.click(widget.viewport(), pos=plot_point(widget, step + 1))

    def timeline_hint(self) -> str | None:
        """The empty timeline's hint (None when its plot shows steps)."""
        hint = self.window.timeline.main.hint
        return hint.textItem.toPlainText() if hint.isVisible() else None

    def timeline_tick_numbers_shown(self) -> bool:
        """Whether the timeline's first plot writes numbers on its y axis."""
        return bool(self.window.timeline.plot.getPlotItem().getAxis("left").style["showValues"])

    def timeline_play_button(self) -> tuple[str, bool]:
        """The timeline's Play button: (its text, whether it looks pressed)."""
        button = self.window.timeline.play_button
        return button.text(), button.isChecked()

    def audio_readout(self) -> str:
        """Audio mode's line under the waveform: seconds generated and generation's speed."""
        return self.window.views["audio"].readout.text()

    def playback_line(self) -> str:
        """Audio mode's playback line: how the clip plays or played, and its underruns."""
        return self.window.views["audio"].audio_status.text()

    # ------------------------------------------------------------------ trace files (opened at once, verified)

    def verify_replay(self, timeout: int = 30_000) -> str:
        """Click Verify replay and wait until the window says how the replay compares; what it says."""
        assert self.window.verify_button.isEnabled(), self.status()
        self.click(self.window.verify_button)
        self.wait_until(lambda: self.status().startswith(("Verified ", "Could not verify")), timeout)
        return self.status()

    def can_verify(self) -> bool:
        return self.window.verify_button.isEnabled()

    def export_compact_trace(self, path) -> bool:
        """Export trace… choosing "Compact trace, base64" in the dialog; did the window write it?"""
        with mock.patch.object(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(path), COMPACT_TRACES))):
            self.press("export")
        return self.status().startswith("Exported ")

    def export_enabled(self) -> bool:
        return self.window.export_trace_button.isEnabled()

    def digit(self):
        """The digit the current mode's Digit box asks for (None: "any digit")."""
        return self.view().digit_box.currentData()

    def speaker(self) -> str:
        """The line the Speaker box shows ("any speaker" or a name)."""
        return self.window.views["audio"].speaker_box.currentText()

    def guidance_tip(self) -> str:
        return self.window.guidance.toolTip()


class ABDriver:
    """The A/B window as a person uses it: two sides, A and B, each with its sliders, its view and
    its NLL; Run A/B; the summary; a click on a step of either side."""

    def __init__(self, qtbot, window, vocab):
        self.qtbot, self.window, self.vocab = qtbot, window, vocab

    def side(self, name: str):
        """Side "A" or "B" (its sliders, its view)."""
        return {"A": self.window.a, "B": self.window.b}[name]

    def start_step(self) -> int:
        """The run's step the comparison starts at (1-based)."""
        return self.window.start_spin.value()

    def set_start_step(self, step: int) -> None:
        self.window.start_spin.setValue(step)

    def settings(self, name: str):
        return self.side(name).settings()

    def set_settings(self, name: str, settings) -> None:
        self.side(name).set_settings(settings)

    def set_temperature(self, name: str, t: float) -> None:
        self.side(name).temperature.setValue(t)

    def running(self) -> bool:
        return self.window.is_running()

    def can_run(self) -> bool:
        return self.window.run_button.isEnabled()

    def run_and_wait(self, timeout: int = 30_000) -> None:
        """Click Run A/B and wait until both sides have ended."""
        self.qtbot.mouseClick(self.window.run_button, LEFT)
        self.qtbot.waitUntil(lambda: not self.running() and self.can_run(), timeout=timeout)

    # Each side's run: what its view and NLL are drawn from.

    def steps(self, name: str) -> int:
        return len(self.side(name).trace)

    def values(self, name: str) -> np.ndarray:
        return self.side(name).trace.values.copy()

    def column(self, name: str, field: str) -> np.ndarray:
        return self.side(name).trace.column(field)

    def record(self, name: str, index: int):
        return self.side(name).trace[index]

    def nll(self, name: str) -> float:
        return self.side(name).trace.nll()

    def nll_text(self, name: str) -> str:
        return self.side(name).nll_label.text()

    def summary(self) -> str:
        return self.window.summary.text()

    def step_text(self) -> str:
        """What the window says of the step last clicked on either side."""
        return self.window.step_label.text()

    def shows(self, name: str) -> list[int]:
        """What one side's view shows: the whole sequence, kept start and continuation, from its widgets."""
        return view_shows(self.side(name).view, self.vocab, whole=True)

    def click_step(self, name: str, step: int) -> None:
        """A real click on step `step` of one side's continuation (its character, pixel or sample)."""
        click_view_step(self.qtbot, self.side(name).view, step)

    def close(self) -> None:
        self.window.close()


class SpeculativeDriver:
    """The Decoding lab's Speculative tab as a person uses it: k, the length and the pace; Start,
    Pause, Step, Back, Stop; the coloured text, the round shown (its table of proposals and tests,
    the draw that ended it, the residual's bars) and the live figures."""

    def __init__(self, qtbot, tab):
        self.qtbot, self.tab = qtbot, tab

    @classmethod
    def open(cls, window_driver: WindowDriver) -> SpeculativeDriver:
        """Click the main window's Decoding lab… button and choose the Speculative tab."""
        w = window_driver.window
        window_driver.qtbot.mouseClick(w.decoding_button, LEFT)
        lab = w.decoding_lab
        window_driver.qtbot.waitUntil(lab.isVisible)
        lab.show_page("Speculative")
        return cls(window_driver.qtbot, lab.page("Speculative"))

    def set_k(self, k: int) -> None:
        self.tab.k_spin.setValue(k)

    def set_length(self, characters: int) -> None:
        self.tab.length_spin.setValue(characters)

    def set_pace(self, line: str) -> None:
        """The pace box's line: "2 rounds/s", "10 rounds/s", "50 rounds/s" or "As fast as it computes"."""
        self.tab.speed_box.setCurrentIndex(self.tab.speed_box.findText(line))

    def click(self, name: str) -> None:
        """Click "start", "pause", "step", "back" or "stop"."""
        self.qtbot.mouseClick(getattr(self.tab, f"{name}_button"), LEFT)

    def can(self, name: str) -> bool:
        return getattr(self.tab, f"{name}_button").isEnabled()

    def paused(self) -> bool:
        return self.tab.pause_button.isChecked()

    def running(self) -> bool:
        return self.tab.is_running()

    # What the tab shows.

    def rounds(self) -> int:
        """Rounds received and shown."""
        return len(self.tab.rounds)

    def round(self, index: int = -1):
        """A round's record as the tab holds it (reaches past the screen: what tests compare with)."""
        return self.tab.rounds[index]

    def wait_for_rounds(self, n: int, timeout: int = 30_000) -> None:
        self.qtbot.waitUntil(lambda: self.rounds() >= n, timeout=timeout)

    def pause(self) -> None:
        """Click Pause and wait until the run has finished the round it was in and waits."""
        self.click("pause")
        self.wait_until_idle()

    def wait_until_idle(self, timeout: int = 30_000) -> None:
        """Until the run has done all it was asked (paused or at its end) and it is all drawn."""
        self.qtbot.waitUntil(lambda: self.tab.idle, timeout=timeout)
        self.wait_until_shown()

    def wait_for_speed_up(self, timeout: int = 60_000) -> None:
        """Until the run has reached its length and plain decoding has been timed."""
        self.qtbot.waitUntil(lambda: "speed-up" in self.figures() and "×" in self.figures(), timeout=timeout)

    def wait_until_shown(self) -> None:
        """Until the last redraw is done (they come at most one a frame)."""
        self.qtbot.waitUntil(lambda: not self.tab._render_timer.isActive() and self.tab._rendered == self.rounds())

    def status(self) -> str:
        return self.tab.status.text()

    def figures(self) -> str:
        return shown_text(self.tab.figures)

    def round_shown(self) -> int:
        return self.tab.round_spin.value()

    def show_round(self, number: int) -> None:
        self.tab.round_spin.setValue(number)

    def round_heading(self) -> str:
        return self.tab.round_heading.text()

    def table(self) -> list[list[str]]:
        """The round's table, row by row: #, proposed, q, p, min(1, p/q), u, the test's verdict."""
        t = self.tab.table
        return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]

    def draw_text(self) -> str:
        return shown_text(self.tab.draw_label)

    def bars(self) -> dict:
        """The residual plot: the labels under the bars and each series' heights."""
        axis = self.tab.plot.getPlotItem().getAxis("bottom")
        labels = [label for _, label in axis._tickLevels[0]] if axis._tickLevels else []
        heights = {name: list(getattr(self.tab, f"{name}_bars").opts["height"]) for name in ("residual", "p", "q", "drawn")}
        return {"labels": labels, **heights}

    def text(self) -> str:
        return self.tab.pane.toPlainText()

    def marks(self) -> list[str]:
        """Every character after the prompt by its colour: "accepted", "rejected", "replacement" or "bonus"."""
        from arplayground.gui.speculative_tab import ACCEPTED, BONUS, REJECTED, REPLACEMENT

        names = {ACCEPTED.name(): "accepted", REJECTED.name(): "rejected", REPLACEMENT.name(): "replacement",
                 BONUS.name(): "bonus"}
        out, block = [], self.tab.pane.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                name = names.get(fragment.charFormat().background().color().name())
                if name and fragment.charFormat().background().style() != Qt.BrushStyle.NoBrush:
                    out += [name] * fragment.length()
                it += 1
            block = block.next()
        return out
class BeamDriver:
    """The Decoding lab's Beam search tab as a person uses it: its settings, its buttons, the tree
    it draws (read from the tree widget: its columns, the fate of each candidate, the path drawn
    highlighted) and the two texts with their NLLs."""

    BUTTONS = {"start": "start_button", "pause": "pause_button", "step": "step_button", "back": "back_button",
               "stop": "stop_button"}

    def __init__(self, qtbot, lab):
        self.qtbot, self.lab = qtbot, lab
        self.tab = lab.page("Beam search")

    def shown(self) -> bool:
        return self.lab.isVisible() and self.lab.tabs.currentWidget() is self.tab

    def set_width(self, width: int) -> None:
        self.tab.width_spin.setValue(width)

    def set_length(self, n: int) -> None:
        self.tab.length_spin.setValue(n)

    def set_normalise(self, on: bool) -> None:
        self.tab.normalise_box.setChecked(on)

    def set_end(self, starts: str) -> None:
        """Choose the end whose line starts with `starts` ("never", "at a newline", "at a full stop")."""
        box = self.tab.end_box
        box.setCurrentIndex(next(i for i in range(box.count()) if box.itemText(i).startswith(starts)))

    def can(self, action: str) -> bool:
        return getattr(self.tab, self.BUTTONS[action]).isEnabled()

    def press(self, action: str) -> None:
        button = getattr(self.tab, self.BUTTONS[action])
        assert button.isEnabled(), f"{action} is greyed out"
        self.qtbot.mouseClick(button, LEFT)

    def state(self) -> str:
        return self.tab.state_label.text()

    def steps(self) -> int:
        """Columns of the tree drawn."""
        return len(self.tab.tree.steps)

    def wait_until(self, condition, timeout: int = 20_000) -> None:
        self.qtbot.waitUntil(condition, timeout=timeout)

    def wait_for_steps(self, n: int) -> None:
        self.wait_until(lambda: self.steps() == n)

    def wait_until_paused(self) -> None:
        """Until the search says it waits, paused (the steps it made before the Pause have arrived)."""
        self.wait_until(lambda: self.state().startswith("Paused after"))

    def wait_until_done(self, timeout: int = 60_000) -> None:
        """Until the search has ended and both texts are shown with their NLLs."""
        self.wait_until(lambda: self.state().startswith("Done") and bool(self.sample_text()), timeout)

    def click_step(self) -> None:
        """Step, until that step has arrived."""
        n = self.steps()
        self.press("step")
        self.wait_for_steps(n + 1)

    def click_back(self) -> None:
        """Back, until the tree has forgotten its newest step."""
        n = self.steps()
        self.press("back")
        self.wait_for_steps(n - 1)

    def column(self, step: int) -> list[tuple[str, str, float]]:
        """Step `step`'s candidates as drawn: (character, fate, cumulative log p)."""
        tree = self.tab.tree
        return [(tree.label(n.value), n.fate, n.total) for n in tree.steps[step].nodes]

    def counts(self, step: int) -> dict:
        fates = [fate for _, fate, _ in self.column(step)]
        return {fate: fates.count(fate) for fate in ("kept", "finished", "pruned")}

    def highlighted(self) -> list[str]:
        """The characters of the path drawn highlighted, first step first."""
        tree = self.tab.tree
        return [tree.label(tree.nodes[i].value) for i in sorted(tree.best_path)]

    def highlighted_in_colour(self) -> bool:
        """The tree's painting holds the highlight's orange (what a person sees as the best path)."""
        from arplayground.gui.beam_tree import BEST

        image = self.tab.tree.grab().toImage()
        near = lambda c: max(abs(c.red() - BEST.red()), abs(c.green() - BEST.green()), abs(c.blue() - BEST.blue())) < 24  # noqa: E731
        return any(near(image.pixelColor(x, y)) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2))

    def beam_text(self) -> str:
        return self.tab.beam_pane.toPlainText()

    def sample_text(self) -> str:
        return self.tab.sample_pane.toPlainText()

    def beam_nll(self) -> str:
        return shown_text(self.tab.beam_nll)

    def sample_nll(self) -> str:
        return shown_text(self.tab.sample_nll)

    def titles(self) -> tuple[str, str]:
        return self.tab.beam_box.title(), self.tab.sample_box.title()

    def close(self) -> None:
        self.lab.close()


# ---------------------------------------------------------------------- what a person sees cut off


def cut_off(window) -> list[str]:
    """Every visible label, button and plot of `window` that a person would see cut off: a part of
    it outside the window or outside a widget it sits in (inside a scroll area, only across: up and
    down it scrolls), a label or button narrower than its text, a wrapped label shorter than its
    lines, a plot squashed flat. One line per widget, naming it and what is wrong."""
    import pyqtgraph as pg
    from PySide6.QtWidgets import QAbstractButton, QCheckBox, QLabel, QScrollArea

    from arplayground.gui.note_line import NoteLine

    found = []
    for w in window.findChildren(QWidget):
        if not isinstance(w, (QLabel, QAbstractButton, pg.PlotWidget)) or not w.isVisibleTo(window) or w.width() <= 0:
            continue
        text = getattr(w, "text", lambda: "")()
        name = f"{type(w).__name__} {w.objectName() or text[:40]!r}"
        child, parent = w, w.parentWidget()
        while child is not window and parent is not None:
            box = child.geometry()
            scrolled = isinstance(parent.parentWidget(), QScrollArea) and parent is parent.parentWidget().viewport()
            if box.left() < 0 or box.right() > parent.width() - 1 or (
                    not scrolled and (box.top() < 0 or box.bottom() > parent.height() - 1)):
                if not scrolled or box.width() > parent.width():  # a scroll area's page is as wide as its view
                    found.append(f"{name}: outside {type(parent).__name__} ({box} in {parent.width()}x{parent.height()})")
                    break
            child, parent = parent, parent.parentWidget()
        if isinstance(w, pg.PlotWidget):
            if w.getPlotItem().vb.height() < 30:
                found.append(f"{name}: plot squashed to {w.getPlotItem().vb.height():.0f} px")
            left = w.getPlotItem().getAxis("left")
            if left.isVisible() and left.label.isVisible():  # the title, turned on its side, within the plot
                title = left.label.mapRectToScene(left.label.boundingRect())
                margin = left.label.document().documentMargin()  # blank around the text itself
                if title.top() + margin < 0 or title.bottom() - margin > w.viewport().height():
                    found.append(f"{name}: its axis title {left.labelText!r} is cut off ({title.top():.0f} to "
                                 f"{title.bottom():.0f} of {w.viewport().height()} px)")
        elif isinstance(w, NoteLine):
            continue  # elides what does not fit, the whole note in its tooltip
        elif isinstance(w, QLabel) and w.wordWrap():
            if text and w.height() < w.heightForWidth(w.width()) - 1:
                found.append(f"{name}: {w.height()} px high, its lines need {w.heightForWidth(w.width())}")
        elif text:
            need = w.sizeHint().width() if isinstance(w, (QLabel, QCheckBox)) else \
                w.fontMetrics().horizontalAdvance(text.replace("&", "")) + 8
            if w.width() < need - 1:
                found.append(f"{name}: {w.width()} px wide, its text needs {need}")
    return found


def position_in(window, widget) -> tuple[int, int]:
    """Where `widget` sits in `window`, in pixels from its top left (what a pointer aims at)."""
    point = widget.mapTo(window, QPoint(0, 0))
    return point.x(), point.y()


def shaded_characters(pane) -> list[tuple]:
    """(ink, shading) colours of every character a text pane shades, as painted: the run's
    probability shading, then What it sees' over it; ink without a colour of its own is the pane's."""
    from PySide6.QtGui import QPalette

    plain_ink = pane.palette().color(QPalette.ColorRole.Text)
    painted = []

    def colours(fmt):
        ink = fmt.foreground().color() if fmt.foreground().style() != Qt.BrushStyle.NoBrush else plain_ink
        return ink, fmt.background().color()

    block = pane.document().begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            if fragment.charFormat().background().style() != Qt.BrushStyle.NoBrush:
                painted += [colours(fragment.charFormat())] * fragment.length()
            it += 1
        block = block.next()
    for selection in pane.extraSelections():
        if selection.format.background().style() != Qt.BrushStyle.NoBrush:
            cursor = selection.cursor
            painted += [colours(selection.format)] * (cursor.selectionEnd() - cursor.selectionStart())
    return painted
