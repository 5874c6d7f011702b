"""The Decoding lab's Beam search tab: beam search (core/beam.py) on the main window's text model
and prompt, step by step, its tree of beams growing (gui/beam_tree.py), and the winner beside a
sample drawn with the main window's seed and sampler settings, both read by the model.

The search runs on a thread of its own with the tab's own copy of the model (never the main
window's, which a paused run may hold), taking commands (run, pause, step, back, stop) from
BeamControls; every step reaches the GUI thread as an immutable BeamStep by queued signal.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from arplayground import catalog
from arplayground.core.beam import FINISHED, KEPT, PRUNED, WIDTH_MAX, BeamSearch, beside_a_sample
from arplayground.core.sampling import SamplerSettings
from arplayground.gui.beam_tree import BeamTree
from arplayground.gui.cheat_compare import settings_text
from arplayground.gui.worker import run_lock
from arplayground.nets.gpt_beams import GPTBeams

LENGTH_MAX = 2000
REFRESH_MS = 50  # the tree and texts redrawn at most this often while a search streams
ENDS = (("never: the length only", None), ("at a newline", "\n"), ("at a full stop", "."))


class BeamControls:
    """Commands from the GUI thread (writer) to the search's thread (reader), under one condition."""

    def __init__(self, paused: bool):
        self._cond = threading.Condition()
        self._paused, self._steps, self._backs, self._stopped = paused, 0, 0, False

    def set_paused(self, paused: bool) -> None:
        with self._cond:
            self._paused = paused
            self._cond.notify_all()

    def step_once(self) -> None:
        with self._cond:
            self._steps += 1
            self._cond.notify_all()

    def back_once(self) -> None:
        with self._cond:
            self._backs += 1
            self._steps = 0  # a step asked for before Back is not taken after it
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def next(self, done: bool, waiting) -> str:
        """'stop', 'back' or 'step': what the search does next, waiting while paused or done;
        waiting() is called once before it waits (the tab says so)."""
        told = False
        with self._cond:
            while True:
                if self._stopped:
                    return "stop"
                if self._backs:
                    self._backs -= 1
                    return "back"
                if self._steps and not done:
                    self._steps -= 1
                    return "step"
                self._steps = 0 if done else self._steps
                if not self._paused and not done:
                    return "step"
                if not told:
                    waiting()
                    told = True
                self._cond.wait()


@dataclass(frozen=True)
class BeamRequest:
    entry: object
    prompt: tuple
    width: int
    length: int
    normalise: bool
    end: int | None
    seed: int
    settings: SamplerSettings


class BeamRunner(QObject):
    """Runs one search at a time on a Python thread; only the newest run's reports reach the tab."""

    stepped = Signal(object)  # BeamStep
    went_back = Signal(int)  # steps left
    waiting = Signal(int)  # steps so far: paused, or done
    compared = Signal(object)  # core.beam.BesideASample
    failed = Signal(str)
    _report = Signal(int, str, object)  # run id, kind, payload: from the search's thread

    def __init__(self, parent=None):
        super().__init__(parent)
        self._run = 0
        self.controls: BeamControls | None = None
        self._threads: list[threading.Thread] = []
        self._steppers: dict[tuple, object] = {}  # stepper_key -> this tab's own copy of the model
        self._steppers_lock = threading.Lock()
        self._report.connect(self._on_report)  # queued: emitted on the search's thread

    def start(self, request: BeamRequest, paused: bool) -> None:
        self.stop()
        self._run += 1
        controls = self.controls = BeamControls(paused)
        thread = threading.Thread(target=self._work, args=(self._run, request, controls),
                                  name=f"beam search {self._run}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def is_running(self) -> bool:
        return self.controls is not None

    def stop(self) -> None:
        """The running search ends at its next command; what it still sends is dropped."""
        if self.controls is not None:
            self.controls.stop()
        self.controls = None
        self._run += 1

    def wait(self, seconds: float = 10.0) -> None:
        """Wait for the searches' threads (closing, tests): a step takes milliseconds, a load a second."""
        self.stop()
        for thread in self._threads:
            thread.join(seconds)
        self._threads = [t for t in self._threads if t.is_alive()]

    def _stepper(self, entry):
        key = catalog.stepper_key(entry)
        with self._steppers_lock:
            stepper = self._steppers.get(key)
        if stepper is None:
            stepper = catalog.load_stepper(entry)  # on the search's thread: the GUI never waits for it
            with self._steppers_lock:
                self._steppers = {key: self._steppers.get(key, stepper)}  # one model kept: the one in use
                stepper = self._steppers[key]
        return stepper

    def _work(self, run: int, r: BeamRequest, controls: BeamControls) -> None:
        report = lambda kind, payload=None: self._report.emit(run, kind, payload)  # noqa: E731
        try:
            stepper = self._stepper(r.entry)
            with run_lock(stepper):  # a stopped search still finishing its step keeps the model to itself
                search = BeamSearch(GPTBeams.of(stepper, r.width), r.prompt, r.width, r.length, r.normalise, r.end)
                compared_at = None
                while True:
                    command = controls.next(search.done, lambda: report("waiting", len(search.steps)))
                    if command == "stop":
                        return
                    if command == "back":
                        if search.back():
                            report("back", len(search.steps))
                        continue
                    step = search.step()
                    if step is not None:
                        report("step", step)
                    if search.done and compared_at != len(search.steps):
                        compared_at = len(search.steps)
                        report("compared", beside_a_sample(stepper, r.prompt, search.best().values, r.seed, r.settings))
        except MemoryError:
            report("failed", "there is not enough memory for this")
        except Exception as exc:  # the search's own fault: said in the tab, never raised into Qt
            traceback.print_exc()
            report("failed", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)

    @Slot(int, str, object)
    def _on_report(self, run: int, kind: str, payload) -> None:
        if run != self._run:
            return  # a stopped or replaced search
        {"step": self.stepped, "back": self.went_back, "waiting": self.waiting, "compared": self.compared,
         "failed": self.failed}[kind].emit(payload)
        if kind == "failed":
            self.controls = None


def text_pane() -> QPlainTextEdit:
    pane = QPlainTextEdit()
    pane.setReadOnly(True)
    font = pane.font()
    font.setFamily("DejaVu Sans Mono")
    pane.setFont(font)
    pane.setMinimumHeight(90)
    return pane


class BeamTab(QWidget):
    title = "Beam search"

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.vocab = None
        self.request: BeamRequest | None = None
        self.steps_done = 0
        self.done = False
        self.runner = BeamRunner(self)
        self.refresh = QTimer(self)
        self.refresh.setSingleShot(True)
        self.refresh.setInterval(REFRESH_MS)
        self.refresh.timeout.connect(self._show_steps)
        self.runner.stepped.connect(self._on_step)
        self.runner.went_back.connect(self._on_back)
        self.runner.waiting.connect(self._on_waiting)
        self.runner.compared.connect(self._on_compared)
        self.runner.failed.connect(self._on_failed)

        self.width_spin = QSpinBox()
        self.width_spin.setRange(1, WIDTH_MAX)
        self.width_spin.setValue(4)
        self.width_spin.setToolTip("Hypotheses kept at every step (1: greedy decoding)")
        self.normalise_box = QCheckBox("Length normalisation")
        self.normalise_box.setToolTip("Compare hypotheses by sum log p / length (the mean log p per character) "
                                      "instead of sum log p: it matters where hypotheses of different lengths "
                                      "compete, that is with an end")
        self.end_box = QComboBox()
        for text, char in ENDS:
            self.end_box.addItem(text, char)
        self.end_box.setToolTip("A hypothesis that draws this character is finished; the search ends once "
                                "as many have finished as the width, or at the length")
        self.length_spin = QSpinBox()
        self.length_spin.setRange(1, LENGTH_MAX)
        self.length_spin.setValue(80)
        self.length_spin.setSuffix(" characters")
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One step of the search (starts one, paused, when none is going)")
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("Forget the newest step of the tree")
        self.stop_button = QPushButton("Stop")
        self.state_label = QLabel("Beam search from the main window's prompt with its text model.")
        self.state_label.setWordWrap(True)
        self.state_label.setTextFormat(Qt.TextFormat.PlainText)  # a failure's reason is shown as it is

        self.tree = BeamTree()
        self.scroll = QScrollArea()
        self.scroll.setWidget(self.tree)
        self.scroll.setWidgetResizable(False)
        self.scroll.setMinimumHeight(260)

        self.beam_pane, self.sample_pane = text_pane(), text_pane()
        self.beam_nll, self.sample_nll = QLabel(), QLabel()
        for label in (self.beam_nll, self.sample_nll):
            label.setWordWrap(True)
            label.setTextFormat(Qt.TextFormat.RichText)
        self.beam_box, self.sample_box = QGroupBox("Beam search"), QGroupBox("Sampled")
        for box, pane, label in ((self.beam_box, self.beam_pane, self.beam_nll),
                                 (self.sample_box, self.sample_pane, self.sample_nll)):
            column = QVBoxLayout(box)
            column.addWidget(pane, 1)
            column.addWidget(label)

        settings = QHBoxLayout()
        for widget in (QLabel("Width"), self.width_spin, self.normalise_box, QLabel("Ends"), self.end_box,
                       QLabel("Length"), self.length_spin):
            settings.addWidget(widget)
        settings.addStretch(1)
        buttons = QHBoxLayout()
        for button in (self.start_button, self.pause_button, self.step_button, self.back_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addWidget(self.state_label, 1)
        # The tree is drawn on white in either theme: its colours are shown here on white too.
        chip = "<span style='background:#ffffff; color:{}'>&nbsp;{}&nbsp;</span>"
        legend = QLabel("Columns are steps, each node a character with the cumulative log p of its hypothesis "
                        f"on its branch: {chip.format('#202020', '<b>kept</b>')}, {chip.format('#1b7a2a', 'finished')}, "
                        f"{chip.format('#808080', 'pruned')}, {chip.format('#c25e00', 'the best hypothesis')}.")
        legend.setWordWrap(True)
        texts = QGridLayout()
        texts.addWidget(self.beam_box, 0, 0)
        texts.addWidget(self.sample_box, 0, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(settings)
        layout.addLayout(buttons)
        layout.addWidget(legend)
        layout.addWidget(self.scroll, 5)
        layout.addLayout(texts, 2)

        self.start_button.clicked.connect(lambda: self.start(paused=False))
        self.pause_button.toggled.connect(self.pause)
        self.step_button.clicked.connect(self.step)
        self.back_button.clicked.connect(self.back)
        self.stop_button.clicked.connect(self.stop)
        self._update_buttons()

    # ------------------------------------------------------------------ what the main window gives

    def _request(self) -> BeamRequest | str:
        """The search to run from the main window's model, prompt, seed and settings, or why not."""
        w = self.window
        entry = w.current_entry()
        if w.mode_box.currentData() != "text" or entry is None or entry.mode != "text":
            return "Beam search runs on a text model: choose Text mode in the main window."
        if not entry.available:
            return f"{entry.name} cannot be used: {entry.error}"
        vocab = catalog.vocabulary(entry)
        prompt = w.prompt_edit.toPlainText() or vocab.text(vocab.default_start)
        unknown = vocab.unknown(prompt)
        if unknown:
            return f"The model has never seen {' '.join(repr(c) for c in unknown[:8])}: remove or replace them."
        end_char = self.end_box.currentData()
        if end_char is not None and vocab.unknown(end_char):
            return f"{entry.name} has no {end_char!r} to end at: choose another end."
        self.vocab = vocab
        return BeamRequest(entry, tuple(vocab.encode(prompt)), self.width_spin.value(), self.length_spin.value(),
                           self.normalise_box.isChecked(), None if end_char is None else vocab.encode(end_char)[0],
                           w.seed_spin.value(), w.settings())

    # ------------------------------------------------------------------ commands

    @Slot()
    def start(self, paused: bool = False) -> None:
        request = self._request()
        if isinstance(request, str):
            self.state_label.setText(request)
            return
        self.refresh.stop()
        self.request, self.steps_done, self.done = request, 0, False
        self.tree.clear(self.vocab.label)
        self.beam_pane.setPlainText(self.vocab.decode(request.prompt))
        self.sample_pane.clear()
        self.beam_nll.clear()
        self.sample_nll.clear()
        self.beam_box.setTitle(f"Beam search: width {request.width}, "
                               f"{'length-normalised' if request.normalise else 'sum of log p'}")
        self.sample_box.setTitle(f"Sampled: seed {request.seed}, {settings_text(request.settings)}")
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self.runner.start(request, paused)
        self.state_label.setText(f"Loading {request.entry.name}…")
        self._update_buttons()

    @Slot(bool)
    def pause(self, paused: bool) -> None:
        if self.runner.controls is not None:
            self.runner.controls.set_paused(paused)
        self._update_buttons()

    @Slot()
    def step(self) -> None:
        if not self.runner.is_running():
            self.start(paused=True)
        elif not self.pause_button.isChecked():
            self.pause_button.setChecked(True)
        if self.runner.controls is not None:
            self.runner.controls.step_once()

    @Slot()
    def back(self) -> None:
        if self.runner.controls is None or not self.steps_done:
            return
        if not self.pause_button.isChecked():
            self.pause_button.setChecked(True)
        self.runner.controls.back_once()

    @Slot()
    def stop(self) -> None:
        self.runner.stop()
        self._flush()
        if self.request is not None:
            self.state_label.setText(f"Stopped after {self.steps_done} steps")
        self._update_buttons()

    def shutdown(self) -> None:
        self.runner.wait()

    # ------------------------------------------------------------------ what the search reports

    @Slot(object)
    def _on_step(self, step) -> None:
        self.steps_done = step.step + 1
        self.tree.add_step(step, show=False)
        if not self.refresh.isActive():  # streaming: the tree and texts redrawn at most REFRESH_MS apart
            self.refresh.start()

    @Slot()
    def _show_steps(self) -> None:
        self.refresh.stop()
        self.tree.show_steps()
        self._show_best()
        self.tree.adjustSize()
        bar = self.scroll.horizontalScrollBar()
        bar.setValue(bar.maximum())  # the newest column in view
        self._say(f"Step {self.steps_done} of at most {self.request.length}")

    @Slot(int)
    def _on_back(self, steps: int) -> None:
        self._flush()
        self.steps_done, self.done = steps, False
        self.tree.back()
        self._show_best()
        self.sample_pane.clear()
        self.sample_nll.clear()
        self.beam_nll.clear()
        self._say(f"Back to step {steps}")

    @Slot(int)
    def _on_waiting(self, steps: int) -> None:
        self._flush()
        if steps < len(self.tree.steps):
            return  # a Back still on its way
        self._say(("Paused after " if self.pause_button.isChecked() and not self.done else "Done: ")
                  + f"{steps} steps")

    @Slot(object)
    def _on_compared(self, beside) -> None:
        self._flush()
        self.done = True
        vocab, prompt = self.vocab, self.vocab.decode(self.request.prompt)
        self.beam_pane.setPlainText(prompt + vocab.decode(beside.beam_values))
        self.sample_pane.setPlainText(prompt + vocab.decode(beside.sample_values))
        n = len(beside.beam_values)
        self.beam_nll.setText(f"{n} characters · NLL under the model <b>{beside.beam_bits:.3f} bits/char</b>")
        self.sample_nll.setText(f"{len(beside.sample_values)} characters · NLL under the model "
                                f"<b>{beside.sample_bits:.3f} bits/char</b>")
        self._say(f"Done: {self.steps_done} steps")

    @Slot(str)
    def _on_failed(self, why: str) -> None:
        self.state_label.setText(f"Beam search failed: {why}")
        self._update_buttons()

    def _flush(self) -> None:
        """Steps still waiting for the refresh are shown first: what follows reads the tree."""
        if self.refresh.isActive():
            self._show_steps()

    def _show_best(self) -> None:
        values = self.tree.best_values()
        self.beam_pane.setPlainText(self.vocab.decode(self.request.prompt) + self.vocab.decode(values))

    def _say(self, what: str) -> None:
        step = self.tree.steps[-1] if self.tree.steps else None
        if step is not None:
            counts = f"{step.count(KEPT)} kept, {step.count(FINISHED)} finished, {step.count(PRUNED)} pruned"
            best = self.tree.nodes[step.best]
            what += f" · newest step: {counts} · best: sum log p {best.total:.3f} over {best.step + 1} characters"
        self.state_label.setText(what)
        self._update_buttons()

    def _update_buttons(self) -> None:
        running = self.runner.is_running()
        self.pause_button.setEnabled(running and not self.done)
        self.back_button.setEnabled(running and self.steps_done > 0 and (self.pause_button.isChecked() or self.done))
        self.step_button.setEnabled(not (running and self.done))
        self.stop_button.setEnabled(running)
