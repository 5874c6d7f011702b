"""The Decoding lab's Speculative tab: the draft proposes k characters, the target checks them in one
pass, and each round is shown: the proposals with q (draft) and p (target), each test
u < min(1, p/q) with its u, the first rejection with the residual max(0, p - q) it draws from, and
the text coloured by what happened to every character. Live: the acceptance rate, characters per
target pass, and the speed-up over plain decoding, timed in this tab on this machine.

The rounds run on the tab's own thread with its own copies of the target and the draft
(core.speculative.SpeculativeDecoder); the GUI thread only draws. The thread hands rounds over in
an outbox and signals once per batch, so a run at full speed never floods the event loop.
"""

from __future__ import annotations

import html
import threading
import traceback
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPalette, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from arplayground import catalog
from arplayground.core.sampling import SamplerSettings
from arplayground.core.speculative import K_MAX, SpeculativeDecoder, plain_decode
from arplayground.gui.theme import ink_on, style_plot

ACCEPTED = QColor(196, 236, 196)  # a proposal the target kept
REJECTED = QColor(246, 190, 190)  # the first proposal it refused (shown struck through)
REPLACEMENT = QColor(255, 221, 150)  # drawn from the residual in its place
BONUS = QColor(200, 218, 255)  # all k kept: one more from the target
PROMPT_SHOWN = 400  # characters of the prompt the pane shows (its end)
SPEEDS = {"2 rounds/s": 2.0, "10 rounds/s": 10.0, "50 rounds/s": 50.0, "As fast as it computes": 0.0}
RENDER_MS = 16  # at most one redraw a display frame, however fast the rounds come
BAR_VALUES = 12  # values the residual's bar plot shows


@dataclass(frozen=True)
class Plan:
    """What a run was started with (read on the GUI thread at Start)."""

    target: catalog.ModelEntry
    draft: catalog.ModelEntry
    prefix: tuple
    prompt: str
    length: int
    seed: int
    settings: SamplerSettings


class Controls:
    """The GUI's commands to the run's thread, under one condition: pause, one round, take one
    back, stop, k and the pace (both read before every round)."""

    def __init__(self, k: int, speed: float, paused: bool):
        self._cond = threading.Condition()
        self.k, self.speed, self.paused = k, speed, paused
        self._steps = self._backs = 0
        self.stopped = False
        self.commands = 0  # pauses, resumes, steps and backs given so far: what "idle" answers to

    def _set(self, **changes) -> None:
        with self._cond:
            for name, value in changes.items():
                setattr(self, name, value)
            self._cond.notify_all()

    def set_k(self, k: int) -> None:
        self._set(k=k)

    def set_speed(self, speed: float) -> None:
        self._set(speed=speed)

    def set_paused(self, paused: bool) -> None:
        self._set(paused=paused, commands=self.commands + 1)

    def step(self) -> None:
        with self._cond:
            self._steps += 1
            self.commands += 1
            self._cond.notify_all()

    def back(self) -> None:
        with self._cond:
            self._backs += 1
            self.commands += 1
            self._cond.notify_all()

    def stop(self) -> None:
        self._set(stopped=True)

    def next_command(self, can_round: bool, on_idle=None) -> str:
        """Block until there is something to do: "stop", "back" or "round" (a round only while it
        can_round, i.e. before the run's length is reached). on_idle(commands) is called once
        before waiting: the run has done all it was asked to (paused, or at its end), every
        command up to that count included."""
        idle_said = False
        with self._cond:
            while True:
                if self.stopped:
                    return "stop"
                if self._backs:
                    self._backs -= 1
                    return "back"
                if can_round and (not self.paused or self._steps):
                    if self.paused:
                        self._steps -= 1
                    return "round"
                if not can_round:
                    self._steps = 0  # a step at the end has nothing to do
                if on_idle is not None and not idle_said:
                    idle_said = True
                    on_idle(self.commands)
                self._cond.wait()

    def pace(self) -> None:
        """Slow motion between rounds; a command wakes it at once."""
        with self._cond:
            if self.speed > 0 and not self.paused and not self.stopped and not self._backs:
                self._cond.wait(1.0 / self.speed)


class SpeculativeRun(QObject):
    """One run's thread: loads its models, runs the rounds the controls ask for, times plain
    decoding of the same length once the run's length is reached, and posts what happened."""

    posted = Signal()  # the outbox has news (emitted on the run's thread, received on the GUI's)

    def __init__(self, plan: Plan, controls: Controls, steppers, parent=None):
        super().__init__(parent)
        self.plan, self.controls, self.steppers = plan, controls, steppers
        self._lock = threading.Lock()
        self._outbox: list[tuple] = []
        self.thread = threading.Thread(target=self._run, name="speculative run", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def take(self) -> list[tuple]:
        with self._lock:
            items, self._outbox = self._outbox, []
        return items

    def _post(self, *item) -> None:
        with self._lock:
            first = not self._outbox
            self._outbox.append(item)
        if first:
            self.posted.emit()

    def _run(self) -> None:
        plan, controls = self.plan, self.controls
        try:
            target, draft = self.steppers(plan.target), self.steppers(plan.draft)
            decoder = SpeculativeDecoder(target, draft, plan.prefix, plan.seed)
            self._post("ready", None)
            timed = False
            while True:
                remaining = plan.length - len(decoder.generated)
                command = controls.next_command(remaining > 0, on_idle=lambda commands: self._post("idle", commands))
                if command == "stop":
                    break
                if command == "back":
                    if decoder.back() is not None:
                        self._post("back", None)
                    continue
                self._post("round", decoder.step(controls.k, plan.settings, limit=remaining))
                if len(decoder.generated) >= plan.length and not timed:
                    timed = True
                    self._post("timing", None)
                    values, seconds = plain_decode(target, decoder.start, plan.length, plan.settings, plan.seed)
                    decoder.reprime()  # plain decoding moved the target: back to the text shown
                    self._post("plain", (values, seconds))
                else:
                    controls.pace()
        except MemoryError:
            self._post("failed", "there is not enough memory for this")
        except Exception as exc:  # the run's own fault: said in the tab, never raised into Qt
            traceback.print_exc()
            self._post("failed", f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        self._post("ended", None)


def char_shown(vocab, value: int) -> str:
    """A character as the text pane shows it: itself, a newline as a newline."""
    return vocab.label(value) if vocab.label(value) not in ("␣", "⏎") else {"␣": " ", "⏎": "\n"}[vocab.label(value)]


class SpeculativeTab(QWidget):
    """The tab: its controls, the coloured text, the round shown, the live figures."""

    title = "Speculative"

    def __init__(self, window):
        super().__init__()
        self.window = window
        self.run: SpeculativeRun | None = None
        self.controls: Controls | None = None
        self.plan: Plan | None = None
        self.rounds: list = []  # the run's rounds as received (Back pops)
        # Running sums after each round (characters, proposals, accepted, compute seconds): the
        # status and figures are redrawn with every batch, and summing every round each time would
        # grow with the run until the GUI thread spent most of its time on it.
        self._totals: list[tuple[int, int, int, float]] = []
        self.plain: tuple | None = None  # (values, seconds) of the plain run of the same length
        self.vocab = None
        self.running = False  # the run's thread is alive
        self.ready = False  # its models are loaded
        self._timing = False  # plain decoding is being timed
        self._failure = ""  # why the run failed, if it did
        self._idle_at = -1  # the command count the run last said it had done all of, and waits
        self._rendered = 0  # rounds drawn in the pane
        self._old_runs: list[SpeculativeRun] = []
        self._steppers = catalog.StepperCache(one_per_mode=False)  # its own copies, apart from the window's
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.timeout.connect(self.render)
        self._build()

    # ------------------------------------------------------------------ layout

    def _build(self) -> None:
        self.k_spin = QSpinBox()
        self.k_spin.setRange(1, K_MAX)
        self.k_spin.setValue(4)
        self.k_spin.setPrefix("k = ")
        self.k_spin.setToolTip("Characters the draft proposes each round (1-16); a change applies from the next round")
        self.length_spin = QSpinBox()
        self.length_spin.setRange(10, 5000)
        self.length_spin.setValue(300)
        self.length_spin.setSuffix(" characters")
        self.speed_box = QComboBox()
        for name, speed in SPEEDS.items():
            self.speed_box.addItem(name, speed)
        self.speed_box.setCurrentIndex(1)
        self.start_button = QPushButton("Start")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.step_button = QPushButton("Step")
        self.step_button.setToolTip("One round: the draft proposes, the target checks")
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("Take the last round back (running it again draws the same)")
        self.stop_button = QPushButton("Stop")
        controls = QHBoxLayout()
        for widget in (self.k_spin, self.length_spin, self.speed_box, self.start_button, self.pause_button,
                       self.step_button, self.back_button, self.stop_button):
            controls.addWidget(widget)
        controls.addStretch(1)

        self.status = QLabel("Start runs the text model chosen in the main window, with its draft, from its prompt, seed and settings.")
        self.status.setWordWrap(True)
        self.status.setObjectName("speculativeStatus")
        self.pane = QPlainTextEdit()
        self.pane.setReadOnly(True)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(12)
        self.pane.setFont(font)
        self.legend = QLabel(
            f"<span style='background:{ACCEPTED.name()}; color:#1e1e20'>&nbsp;accepted&nbsp;</span> "
            f"<span style='background:{REJECTED.name()}; color:#1e1e20'>&nbsp;<s>rejected</s>&nbsp;</span> "
            f"<span style='background:{REPLACEMENT.name()}; color:#1e1e20'>&nbsp;drawn from the residual&nbsp;</span> "
            f"<span style='background:{BONUS.name()}; color:#1e1e20'>&nbsp;bonus (all k accepted)&nbsp;</span> "
            "· a rejected proposal is shown struck through, before the character drawn in its place")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.figures = QLabel("")
        self.figures.setObjectName("speculativeFigures")
        self.figures.setWordWrap(True)
        self.figures.setTextFormat(Qt.TextFormat.RichText)

        self.round_spin = QSpinBox()
        self.round_spin.setRange(0, 0)
        self.round_spin.setPrefix("Round ")
        self.round_spin.setToolTip("The round shown below; at the last one it follows the run")
        self.round_heading = QLabel("No round yet")
        self.round_heading.setWordWrap(True)
        self.table = QTableWidget(0, 7)
        self.table.setHorizontalHeaderLabels(["#", "Proposed", "q (draft)", "p (target)", "min(1, p/q)", "u", "u < min(1, p/q)?"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.draw_label = QLabel("")
        self.draw_label.setWordWrap(True)
        self.draw_label.setTextFormat(Qt.TextFormat.RichText)
        self.plot = pg.PlotWidget()
        style_plot(self.plot)  # the theme's background and ink, as every plot
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMinimumHeight(170)
        item = self.plot.getPlotItem()
        item.setLabel("left", "probability")
        item.getAxis("left").enableAutoSIPrefix(False)  # probabilities, not "x0.001" of them
        item.addLegend(offset=(-10, 10))
        self.p_bars = pg.BarGraphItem(x=[], height=[], width=0.28, brush=(120, 144, 176), pen=None, name="p (target)")
        self.q_bars = pg.BarGraphItem(x=[], height=[], width=0.28, brush=(236, 150, 40), pen=None, name="q (draft)")
        self.residual_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=(150, 200, 150, 150), pen=None,
                                             name="drawn from")
        self.drawn_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=None, pen=pg.mkPen((214, 40, 40), width=3),
                                         name="the value drawn")
        for bars in (self.residual_bars, self.p_bars, self.q_bars, self.drawn_bars):
            item.addItem(bars)

        round_box = QWidget()
        round_layout = QVBoxLayout(round_box)
        round_layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(self.round_spin)
        top.addWidget(self.round_heading, 1)
        round_layout.addLayout(top)
        round_layout.addWidget(self.table, 2)
        round_layout.addWidget(self.draw_label)
        round_layout.addWidget(self.plot, 2)
        text_box = QWidget()
        text_layout = QVBoxLayout(text_box)
        text_layout.setContentsMargins(0, 0, 0, 0)
        text_layout.addWidget(self.pane, 1)
        text_layout.addWidget(self.legend)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(text_box)
        split.addWidget(round_box)
        split.setSizes([500, 600])
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.status)
        layout.addWidget(self.figures)
        layout.addWidget(split, 1)

        self.start_button.clicked.connect(self.start)
        self.pause_button.toggled.connect(self.set_paused)
        self.step_button.clicked.connect(self.step)
        self.back_button.clicked.connect(self.back)
        self.stop_button.clicked.connect(self.stop)
        self.k_spin.valueChanged.connect(lambda k: self.controls and self.controls.set_k(k))
        self.speed_box.currentIndexChanged.connect(
            lambda _: self.controls and self.controls.set_speed(self.speed_box.currentData()))
        self.round_spin.valueChanged.connect(lambda _: self.show_round())
        self._update_buttons()

    # ------------------------------------------------------------------ what a run is given

    def models(self):
        """(target, draft) entries, or why there are none: the target is the text model chosen in
        the main window (a causal one), the draft the first bundled draft of its vocabulary."""
        w = self.window
        current = w.current_entry()
        if current is None or current.mode != "text" or not current.available:
            return "Choose a text model that runs in the main window (Text mode)."
        if current.demonstration:
            return f"{current.name} is a demonstration ({catalog.DEMONSTRATIONS[current.demonstration]}): choose a real text model."
        vocab = catalog.vocabulary(current)
        drafts = [e for e in w.entries if e.mode == "text" and e.role == catalog.DRAFT]
        usable = [e for e in drafts if e.available and list(catalog.vocabulary(e).chars) == list(vocab.chars)]
        if not usable:
            if drafts and not any(e.available for e in drafts):
                return f"The draft model cannot be used: {drafts[0].card_path.name}: {drafts[0].error}"
            return (f"No draft model for {current.name}: models/ holds no text model whose card says "
                    f"\"role\": \"{catalog.DRAFT}\" with its vocabulary (docs/models.md says how to train one).")
        return current, usable[0]

    def _stepper(self, entry):
        """This tab's own loaded copy of entry's model (loaded on the run's thread)."""
        return self._steppers.get(entry)

    # ------------------------------------------------------------------ commands

    @Slot()
    def start(self, paused: bool = False) -> None:
        """A new run from the main window's prompt, seed and settings (the old one stops)."""
        self.stop()
        found = self.models()
        if isinstance(found, str):
            self.status.setText(found)
            return
        target, draft = found
        vocab = catalog.vocabulary(target)
        prompt = self.window.prompt_edit.toPlainText() or vocab.text(vocab.default_start)
        unknown = vocab.unknown(prompt)
        if unknown:
            self.status.setText(f"{target.name} has never seen {' '.join(repr(c) for c in unknown[:8])}: "
                                "remove or replace them in the prompt.")
            return
        self._steppers.keep_only([target, draft])  # a model no longer used is let go
        self.vocab = vocab
        self.plan = Plan(target, draft, tuple(vocab.encode(prompt)), prompt, self.length_spin.value(),
                         self.window.seed_spin.value(), self.window.settings())
        self.rounds, self.plain, self._rendered, self.ready, self._idle_at = [], None, 0, False, -1
        self._totals = []
        self._timing, self._failure = False, ""
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self.controls = Controls(self.k_spin.value(), self.speed_box.currentData(), paused)
        self.run = SpeculativeRun(self.plan, self.controls, self._stepper, self)
        self.run.posted.connect(self._take)
        self.running = True
        self.status.setText(self._state_text())
        self.render()
        self.run.start()
        self._update_buttons()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        if self.controls is not None:
            self.controls.set_paused(paused)
        self.status.setText(self._state_text())
        self._update_buttons()

    @Slot()
    def step(self) -> None:
        """One round; before any run, a paused run is started and takes its first round."""
        if not self.running:
            self.start(paused=True)
        if self.controls is not None and self.running:
            self.pause_button.setChecked(True)
            self.controls.step()

    @Slot()
    def back(self) -> None:
        if self.controls is not None and self.running and self.rounds:
            self.pause_button.setChecked(True)  # going back is for looking: the run waits
            self.controls.back()

    @Slot()
    def stop(self) -> None:
        """End the run's thread; what it made stays shown."""
        if self.run is not None:
            self.controls.stop()
            self._old_runs = [r for r in self._old_runs if r.thread.is_alive()] + [self.run]
            self.run.posted.disconnect(self._take)
            self._take(self.run)  # what it posted before the stop is still shown
            self.run = None
        self.running, self._timing = False, False
        self.status.setText(self._state_text())
        self._update_buttons()

    def shutdown(self) -> None:
        self.stop()
        for run in self._old_runs:
            run.thread.join(5.0)  # a round takes milliseconds; plain timing of 5,000 characters a few seconds

    def is_running(self) -> bool:
        return self.running

    @property
    def idle(self) -> bool:
        """The run has done every command given so far and waits (paused, or at its end)."""
        return self.running and self.controls is not None and self._idle_at == self.controls.commands

    # ------------------------------------------------------------------ what the run says

    @Slot()
    def _take(self, run: SpeculativeRun | None = None) -> None:
        """Everything the run posted since the last call, in order; then a redraw is due."""
        run = run or self.run
        if run is None:
            return
        for kind, payload in run.take():
            if kind == "ready":
                self.ready = True
            elif kind == "idle" and run is self.run:
                self._idle_at = payload
            elif kind == "round":
                n, proposed, accepted, seconds = self._tally()
                self.rounds.append(payload)
                self._totals.append((n + len(payload.values), proposed + payload.k, accepted + payload.accepted,
                                     seconds + payload.seconds))
            elif kind == "back":
                self.rounds.pop()
                self._totals.pop()
            elif kind == "timing":
                self._timing = True
            elif kind == "plain":
                self.plain, self._timing = payload, False
            elif kind == "failed":
                self._failure = payload
            elif kind == "ended" and run is self.run:
                self.running, self.run = False, None
        self.status.setText(self._state_text())
        self._update_buttons()
        if not self._render_timer.isActive():
            self._render_timer.start(RENDER_MS)

    def _tally(self) -> tuple[int, int, int, float]:
        """(characters, proposals, accepted, compute seconds) of the rounds received."""
        return self._totals[-1] if self._totals else (0, 0, 0, 0.0)

    def _generated_count(self) -> int:
        return self._tally()[0]

    def _state_text(self) -> str:
        """The status line: what the run is doing, how far it is."""
        if self.plan is None:
            return ""
        if self._failure:
            return f"Failed: {self._failure}"
        if not self.ready and self.running:
            return f"Loading {self.plan.target.name} and its draft {self.plan.draft.name}…"
        n, length = self._generated_count(), self.plan.length
        where = (f"{n:,} of {length:,} characters in {len(self.rounds):,} rounds, "
                 f"{self.plan.target.name} checking {self.plan.draft.name}")
        if self._timing:
            return (f"{where}; timing plain decoding of the same {length:,} characters "
                    "(same seed and settings, this machine)…")
        if not self.running:
            return f"Stopped: {where}"
        if n >= length:
            return f"Done: {where}"
        return f"{'Paused' if self.pause_button.isChecked() else 'Running'}: {where}"

    # ------------------------------------------------------------------ drawing

    @Slot()
    def render(self) -> None:
        """Bring the pane, the figures and the round shown up to date with the rounds received."""
        if self.plan is None:
            return
        if self._rendered > len(self.rounds) or self._rendered == 0:
            self._restart_pane()
        cursor = self.pane.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        for r in self.rounds[self._rendered :]:
            self._append_round(cursor, r)
        self._rendered = len(self.rounds)
        self.pane.setTextCursor(cursor)
        self.pane.ensureCursorVisible()
        following = self.round_spin.value() >= self.round_spin.maximum()
        self.round_spin.blockSignals(True)
        self.round_spin.setRange(min(1, len(self.rounds)), len(self.rounds))
        if following:
            self.round_spin.setValue(len(self.rounds))
        self.round_spin.blockSignals(False)
        self.show_round()
        self.figures.setText(self.figures_text())

    def _restart_pane(self) -> None:
        self.pane.clear()
        prompt = self.plan.prompt
        shown = prompt if len(prompt) <= PROMPT_SHOWN else "…" + prompt[-PROMPT_SHOWN:]
        cursor = self.pane.textCursor()
        plain = QTextCharFormat()
        plain.setForeground(self.pane.palette().color(QPalette.ColorRole.PlaceholderText))  # the prompt, greyed
        cursor.insertText(shown, plain)
        self._rendered = 0

    def _append_round(self, cursor: QTextCursor, r) -> None:
        def put(value: int, colour: QColor, struck: bool = False, bold: bool = False) -> None:
            fmt = QTextCharFormat()
            fmt.setBackground(colour)
            fmt.setForeground(ink_on(colour))  # pale shading: the dark ink, in a dark theme too
            fmt.setFontStrikeOut(struck)
            if bold:
                fmt.setFontWeight(QFont.Weight.Bold)
            text = char_shown(self.vocab, value)
            cursor.insertText(self.vocab.label(value) if struck and text in (" ", "\n") else text, fmt)

        for x in r.proposals[: r.accepted]:
            put(int(x), ACCEPTED)
        if r.rejected:
            put(int(r.proposals[r.accepted]), REJECTED, struck=True)
            put(r.drawn, REPLACEMENT, bold=True)
        else:
            put(r.drawn, BONUS)

    def figures_text(self) -> str:
        if not self.rounds:
            return ""
        n, proposed, accepted, seconds = self._tally()
        rate = f"{100 * accepted / proposed:.0f}% ({accepted:,} of {proposed:,} proposals)" if proposed else "no proposals yet"
        parts = [f"Acceptance rate <b>{rate}</b>",
                 f"<b>{n / len(self.rounds):.2f}</b> characters per target pass",
                 f"speculative {n / seconds:,.0f} characters/s (compute time)" if seconds > 0 else ""]
        if self.plain is not None:
            values, plain_seconds = self.plain
            plain_rate, spec_rate = len(values) / plain_seconds, n / seconds
            parts.append(f"plain {plain_rate:,.0f} characters/s: <b>speed-up {spec_rate / plain_rate:.2f}×</b> "
                         f"({len(values):,} characters, the same seed and settings, this machine)")
            if self.plan.settings.greedy and n == self.plan.length:
                ours = [v for r in self.rounds for v in r.values]
                same = ours == list(values)
                parts.append("greedy: the same text as plain decoding" if same else
                             f"greedy: differs from plain decoding at character {next(i for i, (a, b) in enumerate(zip(ours, values)) if a != b) + 1}")
        else:
            parts.append("speed-up: plain decoding of the same length is timed when the run reaches its length")
        return " · ".join(p for p in parts if p)

    def show_round(self) -> None:
        """The round chosen in the spin box: its proposals and tests, and the draw that ended it."""
        index = self.round_spin.value() - 1
        if not 0 <= index < len(self.rounds):
            self.round_heading.setText("No round yet")
            self.table.setRowCount(0)
            self.draw_label.clear()
            for bars in (self.residual_bars, self.p_bars, self.q_bars, self.drawn_bars):
                bars.setOpts(x=[], height=[])
            return
        r, label = self.rounds[index], self.vocab.label
        first = r.position - len(self.plan.prefix) + 1
        ended = (f"proposal {r.accepted + 1} rejected" if r.rejected else f"all {r.k} accepted" if r.k else "no proposals (the run's last character)")
        self.round_heading.setText(f"of {len(self.rounds):,} · characters from {first:,} · {r.k} proposed, "
                                   f"{r.accepted} accepted, {ended} · one target pass")
        self.table.setRowCount(r.k)
        for i, x in enumerate(r.proposals):
            x = int(x)
            if i < r.accepted:
                verdict, colour = "yes: accepted", ACCEPTED
            elif i == r.accepted:
                verdict, colour = "no: rejected", REJECTED
            else:
                verdict, colour = "not tested (after the rejection)", QColor(235, 235, 235)
            cells = [str(i + 1), label(x), f"{r.q[i, x]:.3f}", f"{r.p[i, x]:.3f}", f"{r.ratios[i]:.3f}",
                     f"{r.u_accept[i]:.3f}", verdict]
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                cell.setBackground(colour)
                self.table.setItem(i, column, cell)
        if r.rejected:
            at = r.accepted
            shown = r.residual
            self.draw_label.setText(
                f"At proposal {at + 1} the residual max(0, p − q), normalised, keeps what the draft under-proposed: "
                f"drawn with u = {r.u_draw:.3f}: <b>{html.escape(label(r.drawn))}</b> "
                f"(residual {shown[r.drawn]:.3f}, p {r.p[at, r.drawn]:.3f}, q {r.q[at, r.drawn]:.3f})")
            p, q = r.p[at], r.q[at]
        else:
            shown = p = r.p[r.k]
            q = None
            self.draw_label.setText(
                (f"All {r.k} accepted: one bonus character from the target's distribution after them"
                 if r.k else "The target's own distribution") +
                f", drawn with u = {r.u_draw:.3f}: <b>{html.escape(label(r.drawn))}</b> (p {p[r.drawn]:.3f})")
        self._plot(shown, p, q, r.drawn)

    def _plot(self, shown: np.ndarray, p: np.ndarray, q: np.ndarray | None, drawn: int) -> None:
        """Bars of the most likely values of the distribution drawn from, p and q beside each."""
        weight = shown + p + (q if q is not None else 0)
        values = list(np.argsort(-weight, kind="stable")[:BAR_VALUES])
        if drawn not in values:
            values[-1] = drawn
        x = np.arange(len(values))
        self.residual_bars.setOpts(x=x, height=shown[values])
        self.p_bars.setOpts(x=x - 0.15, height=p[values])
        self.q_bars.setOpts(x=x + 0.15, height=q[values] if q is not None else np.zeros(len(values)))
        self.drawn_bars.setOpts(x=[values.index(drawn)], height=[shown[drawn]])
        self.plot.getPlotItem().getAxis("bottom").setTicks([[(i, self.vocab.label(int(v))) for i, v in enumerate(values)]])
        self.plot.getPlotItem().setYRange(0, max(0.05, float(max(shown[values].max(), p[values].max(),
                                                               q[values].max() if q is not None else 0))) * 1.1)
        self.plot.getPlotItem().setXRange(-0.6, len(values) - 0.4, padding=0)

    def _update_buttons(self) -> None:
        alive = self.running
        self.pause_button.setEnabled(alive)
        self.back_button.setEnabled(alive and bool(self.rounds))
        self.stop_button.setEnabled(alive)
