"""Mask on / mask off: Text mode's real model beside the cheat, the model trained without its causal
mask, on the same text: each one's teacher-forced bits/char on it, and a sample each writes from
the same prompt with the same seed and settings, read by the real model (core/cheat.py).

The passes run on a job thread (gui/jobs.py), never on the GUI thread. The comparison loads its
own copy of each model, once, held under that model's run lock while a job drives it: a run shown
in the window (paused or not) keeps its model, and a superseded job still finishing never shares
one with the next.
"""

from __future__ import annotations

import html
import time

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import (
    QDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
)

from arplayground import catalog
from arplayground.core.cheat import WHY, compare_masks
from arplayground.gui.jobs import JobRunner
from arplayground.gui.worker import run_lock

SAMPLE_CHARS = 300


def settings_text(settings) -> str:
    top_k = f"top-k {settings.top_k}" if settings.top_k else "top-k off"
    top_p = f"top-p {settings.top_p:g}" if settings.top_p < 1 else "top-p off"
    return f"temperature {settings.temperature:g}, {top_k}, {top_p}"


def rich_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class ModelColumn(QGroupBox):
    """One model's side: how it reads the text, what it writes, how the real model reads that."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.text_label = rich_label()
        self.sample_heading = rich_label()
        self.sample_pane = QPlainTextEdit()
        self.sample_pane.setReadOnly(True)
        self.sample_pane.setMinimumHeight(150)
        font = self.sample_pane.font()
        font.setFamily("DejaVu Sans Mono")
        self.sample_pane.setFont(font)
        self.read_label = rich_label()
        layout = QVBoxLayout(self)
        for widget in (self.text_label, self.sample_heading, self.sample_pane, self.read_label):
            layout.addWidget(widget)

    def clear(self) -> None:
        for label in (self.text_label, self.sample_heading, self.read_label):
            label.clear()
        self.sample_pane.clear()

    def show_side(self, side, mask: str, text_chars: int, sample_chars: int, own_note: bool) -> None:
        self.setTitle(f"{side.name}: {mask}")
        self.text_label.setText(f"Reading the text ({text_chars:,} characters, teacher-forced): "
                                f"<b>{side.text_bits:.3f} bits/char</b>")
        self.sample_heading.setText(f"Writing {sample_chars:,} characters after the prompt:")
        self.sample_pane.setPlainText(side.sample)
        note = f" (it drew them at {side.sample_bits_own:.3f} bits/char by its own reckoning)" if own_note else ""
        self.read_label.setText(f"The real model reads this sample at <b>{side.sample_bits_real:.3f} bits/char</b>{note}")


class CheatDialog(QDialog):
    """The comparison's window: a heading, the two columns, the sentence saying why, a status."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Mask on / mask off: the real model and the cheat")
        self.heading = rich_label()
        self.real_column, self.cheat_column = ModelColumn(), ModelColumn()
        columns = QHBoxLayout()
        columns.addWidget(self.real_column, 1)
        columns.addWidget(self.cheat_column, 1)
        self.why_label = rich_label()
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.again_button = QPushButton("Compare again")
        self.again_button.setToolTip("Read the text shown now (or the prompt box's) with the seed and settings set now")
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_label, 1)
        buttons.addWidget(self.again_button)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(columns, 1)
        layout.addWidget(self.why_label)
        layout.addLayout(buttons)
        self.resize(980, 560)

    def show_busy(self, text: str) -> None:
        self.status_label.setText(text)
        self.again_button.setEnabled(False)

    def show_refusal(self, why: str) -> None:
        """Nothing compared: the reason in the heading, the columns empty."""
        self.heading.setText(html.escape(why))
        self.real_column.setTitle("")
        self.cheat_column.setTitle("")
        self.real_column.clear()
        self.cheat_column.clear()
        self.why_label.clear()
        self.status_label.setText("Not compared")
        self.again_button.setEnabled(True)

    def show_failure(self, why: str) -> None:
        self.status_label.setText(f"Could not compare: {why}")
        self.again_button.setEnabled(True)

    def show_comparison(self, c, seconds: float) -> None:
        shown_prompt = (c.prompt if len(c.prompt) <= 60 else "…" + c.prompt[-59:]).replace("\n", "⏎")
        self.heading.setText(
            f"The same {c.text_chars:,} characters read by both models, then {c.sample_chars:,} characters written by "
            f"each after the prompt “<code>{html.escape(shown_prompt)}</code>”, with seed {c.seed} and "
            f"{settings_text(c.settings)}: the same random numbers for both.")
        self.real_column.show_side(c.real, "causal mask on", c.text_chars, c.sample_chars, own_note=False)
        self.cheat_column.show_side(c.cheat, "no causal mask", c.text_chars, c.sample_chars, own_note=True)
        self.why_label.setText(f"<b>{html.escape(WHY)}</b>")
        self.status_label.setText(f"Compared in {seconds:.1f} s")
        self.again_button.setEnabled(True)


class CheatCompare(QObject):
    """The window's "Mask on / off…" button: finds the two models, reads the input on the GUI
    thread, runs the comparison as a job and shows it in the dialog."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.dialog: CheatDialog | None = None
        self.jobs = JobRunner(self)
        self.jobs.done.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self._steppers = catalog.StepperCache(one_per_mode=False)  # its own copies, apart from the window's
        window.mode_box.currentIndexChanged.connect(self._follow_mode)
        self._follow_mode()

    @Slot()
    def _follow_mode(self) -> None:
        self.window.cheat_button.setVisible(self.window.mode_box.currentData() == "text")

    def busy(self) -> bool:
        return self.jobs.busy()

    def models(self):
        """(real, cheat) entries to compare, or the reason there are none. The model chosen now is
        used where it is one of the two kinds; else the catalog's default and the first cheat."""
        entries, current = self.window.entries, self.window.current_entry()
        cheats = [e for e in entries if e.mode == "text" and e.demonstration == catalog.NO_CAUSAL_MASK]
        if not cheats:
            return (f"No cheat model: models/ holds no text model whose card says \"demonstration\": "
                    f"\"{catalog.NO_CAUSAL_MASK}\" (docs/models.md says how to train one).")
        cheat = next((e for e in cheats if e is current and e.available), next((e for e in cheats if e.available), None))
        if cheat is None:
            return f"The cheat model cannot be used: {cheats[0].card_path.name}: {cheats[0].error}"
        real = current if (current is not None and current.available and current.mode == "text"
                           and current.demonstration is None) else catalog.default_entry(entries, "text")
        if real is None or real.demonstration is not None:
            broken = [e for e in entries if e.mode == "text" and e.demonstration is None and not e.available]
            reason = f": {broken[0].card_path.name}: {broken[0].error}" if broken else ""
            return f"No real text model (one trained with its causal mask) to compare the cheat with{reason}"
        return real, cheat

    @Slot()
    def open(self) -> None:
        """Show the comparison's window and compare what is shown now."""
        if self.dialog is None:
            self.dialog = CheatDialog(self.window)
            self.dialog.again_button.clicked.connect(self.compare)
        self.dialog.show()
        self.dialog.raise_()
        self.compare()

    @Slot()
    def compare(self) -> None:
        w, dialog = self.window, self.dialog
        self.jobs.cancel()  # whatever this click comes to replaces what an earlier one still computes
        if w.mode_box.currentData() != "text":
            dialog.show_refusal("Mask on / off compares text models: choose Text mode.")
            return
        found = self.models()
        if isinstance(found, str):
            dialog.show_refusal(found)
            return
        real, cheat = found
        text, prompt = w.views["text"].text_to_read(), w.prompt_edit.toPlainText()  # as Score reads it
        if not text:
            dialog.show_refusal("Type or paste text in the prompt box, or generate some, to compare the models on it.")
            return
        for entry in (real, cheat):  # two cards may name different characters: refused here, not half-way
            unknown = catalog.vocabulary(entry).unknown(text + prompt)
            if unknown:
                dialog.show_refusal(f"{entry.name} has never seen {' '.join(repr(c) for c in unknown[:8])}: "
                                    "remove or replace them to compare.")
                return
        self._steppers.keep_only([real, cheat])  # a model no longer used is let go
        seed, settings = w.seed_spin.value(), w.settings()
        names = (real.name, cheat.name)

        def work(cancelled):
            started = time.perf_counter()
            real_stepper, cheat_stepper = self._stepper(real), self._stepper(cheat)
            with run_lock(real_stepper), run_lock(cheat_stepper):  # always in this order: no deadlock
                compared = compare_masks(real_stepper, cheat_stepper, names, text, prompt, SAMPLE_CHARS, seed,
                                         settings, cancelled)
            return compared, time.perf_counter() - started

        self.jobs.start("compare", work)
        dialog.show_busy(f"Comparing: both models read {len(text):,} characters, then each writes {SAMPLE_CHARS}…")

    def _stepper(self, entry):
        """This comparison's own loaded copy of entry's model (loaded on the job's thread)."""
        return self._steppers.get(entry)

    def _on_done(self, name: str, result) -> None:
        compared, seconds = result
        if compared is not None and self.dialog is not None:
            self.dialog.show_comparison(compared, seconds)

    def _on_failed(self, name: str, why: str) -> None:
        if self.dialog is not None:
            self.dialog.show_failure(why)

    def cancel(self) -> None:
        self.jobs.cancel()
