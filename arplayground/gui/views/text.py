"""Text mode's view: characters appear as sampled, each shaded by the probability it was drawn with.

Hovering a generated character shows its probability and the top alternatives; clicking it shows
its step in the distribution panel. Run alone for quick work on it:

    python -m arplayground.gui.views.text
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTextEdit,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from arplayground.catalog import vocabulary
from arplayground.core.files import write_text_atomically
from arplayground.core.trace import StepRecord
from arplayground.gui.causality_panel import cool_colour, influence_levels
from arplayground.gui.distribution_panel import panel_data
from arplayground.gui.note_line import NoteLine, WarningLine
from arplayground.gui.theme import ink_on
from arplayground.gui.settings_store import ask_save_path
from arplayground.gui.views.base import ModeView

PROBABILITY_BANDS = 10  # colour steps: few enough to merge runs of characters into one insert
PROMPT_SHOWN = 2_000  # characters of a long prompt the pane shows: its end, after "…"
# Qt lays out a line of more than 65,536 characters very slowly (a line of 80,000 froze the window
# for minutes in setPlainText): a prompt stays below, pasted or from a trace. The model reads 1,024.
PROMPT_MAX = 50_000
FIELD_TINT_TEXT = QColor(236, 240, 250)  # allowed by the mask, no measured influence


class PromptEdit(QPlainTextEdit):
    """The prompt box: a paste that would make the prompt longer than PROMPT_MAX is refused, with
    the reason in `refused` (a person's typing never gets there)."""

    refused = Signal(str)

    def insertFromMimeData(self, source) -> None:
        pasted = source.text() if source.hasText() else ""
        selected = len(self.textCursor().selectedText())
        if len(self.toPlainText()) - selected + len(pasted) > PROMPT_MAX:
            self.refused.emit(f"Not pasted: a prompt is at most {PROMPT_MAX:,} characters, and that would make it "
                              f"{len(self.toPlainText()) - selected + len(pasted):,}.")
            return
        super().insertFromMimeData(source)


def probability_colour(p: float) -> QColor:
    """Red for unlikely draws fading to pale green for near-certain ones."""
    band = min(PROBABILITY_BANDS - 1, int(p * PROBABILITY_BANDS))
    t = band / (PROBABILITY_BANDS - 1)
    red, green = (250, 130, 110), (200, 240, 200)
    return QColor(*(int(r + (g - r) * t) for r, g in zip(red, green)))


class SampledTextPane(QPlainTextEdit):
    """Read-only text: the prompt plain, then one character per step with its probability shading."""

    step_clicked = Signal(int)  # index of the clicked generated character in the run

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setMouseTracking(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        font = QFont("DejaVu Sans Mono")
        font.setStyleHint(QFont.StyleHint.Monospace)
        font.setPointSize(12)
        self.setFont(font)
        self.vocab = None
        self.trace = None  # the run's steps (the session's branch), for the hover tooltip
        self.shown = 0  # generated characters shown
        self.prompt, self.prompt_length = "", 0  # the prompt, and the characters of it shown
        self.highlighted: int | None = None
        self._formats = {}
        self._field_selections: list = []  # What it sees: the inputs shaded by influence
        self._highlight_selection = None  # the shown step's underline, drawn over the shading

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # light or dark: the shading's ink is the new palette's
            self._formats.clear()

    def start(self, prompt: str, vocab) -> None:
        """Show the prompt (its end, when it is long) and forget the previous run."""
        self.vocab = vocab
        self.trace, self.shown = None, 0
        self.clear()
        self.prompt = prompt
        # Qt lays a paragraph out again at every insert: after a prompt that is one line of 100,000
        # characters each step took a second. The model reads the whole prompt; the pane shows its end.
        shown = prompt if len(prompt) <= PROMPT_SHOWN else "…" + prompt[-PROMPT_SHOWN:]
        self.prompt_length = len(shown)
        fmt = QTextCharFormat()
        fmt.setFontWeight(QFont.Weight.Bold)
        cursor = self.textCursor()
        cursor.insertText(shown, fmt)

    def _format(self, p: float) -> QTextCharFormat:
        band = min(PROBABILITY_BANDS - 1, int(p * PROBABILITY_BANDS))
        if band not in self._formats:
            fmt = QTextCharFormat()
            fmt.setBackground(probability_colour(p))
            fmt.setForeground(ink_on(probability_colour(p)))  # the pale shading takes dark ink, light theme or dark
            self._formats[band] = fmt
        return self._formats[band]

    def append_steps(self, values, probs, trace=None) -> None:
        """Insert a batch of characters (their values and drawn probabilities), one insert per run
        of equal shading; trace: the run's steps, which the tooltip reads."""
        if trace is not None:
            self.trace = trace
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        run_text, run_band = [], None
        for value, prob in zip(np.asarray(values).tolist(), np.asarray(probs).tolist()):
            band = min(PROBABILITY_BANDS - 1, int(prob * PROBABILITY_BANDS))
            if band != run_band and run_text:
                cursor.insertText("".join(run_text), self._format(run_band / PROBABILITY_BANDS))
                run_text = []
            run_band = band
            run_text.append(self.vocab.text(value))
        if run_text:
            cursor.insertText("".join(run_text), self._format(run_band / PROBABILITY_BANDS))
        cursor.endEditBlock()
        self.shown += len(values)
        bar = self.verticalScrollBar()
        bar.setValue(bar.maximum())

    def truncate(self, steps: int) -> None:
        """Keep the prompt and the first `steps` generated characters (step back)."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(self.prompt_length + steps)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self.shown = min(self.shown, steps)

    def highlight(self, step: int) -> None:
        """Outline the character of `step` (the step the panel shows)."""
        selection = QTextEdit.ExtraSelection()
        fmt = QTextCharFormat()
        fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
        fmt.setUnderlineColor(QColor(214, 40, 40))
        fmt.setFontWeight(QFont.Weight.Bold)
        selection.format = fmt
        cursor = QTextCursor(self.document())
        cursor.setPosition(self.prompt_length + step)
        cursor.movePosition(QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        self._highlight_selection = selection
        self.setExtraSelections(self._field_selections + [selection])
        self.highlighted = step

    def shade_field(self, colours: list | None) -> None:
        """Shade the pane's characters (What it sees): colours[i] for pane character i, None for
        none; runs of one colour make one selection. None clears the shading."""
        self._field_selections = []
        runs = []  # (start, end, colour)
        for i, colour in enumerate(colours or []):
            if colour is None:
                continue
            if runs and runs[-1][1] == i and runs[-1][2] == colour:
                runs[-1] = (runs[-1][0], i + 1, colour)
            else:
                runs.append((i, i + 1, colour))
        end_of_text = self.document().characterCount() - 1
        for start, end, colour in runs:
            if start >= end_of_text:
                break
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setBackground(colour)
            fmt.setForeground(ink_on(colour))
            selection.format = fmt
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            cursor.setPosition(min(end, end_of_text), QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor
            self._field_selections.append(selection)
        highlight = [self._highlight_selection] if self._highlight_selection is not None and self.highlighted is not None else []
        self.setExtraSelections(self._field_selections + highlight)

    def pane_index(self, sequence_index: int) -> int | None:
        """Where a character of the whole text (prompt included) is in the pane, or None where the
        pane shows only the end of a long prompt."""
        hidden = len(self.prompt) - PROMPT_SHOWN if len(self.prompt) > PROMPT_SHOWN else 0
        if sequence_index < hidden:
            return None
        return sequence_index - hidden + (1 if hidden else 0)  # after the "…"

    def generated_text(self) -> str:
        return self.toPlainText()[self.prompt_length :]

    def whole_text(self) -> str:
        """The whole prompt and the generated text (the pane may show only the prompt's end)."""
        return self.prompt + self.generated_text()

    def step_at(self, pos) -> int | None:
        """The generated character under a viewport point, as an index into the run's steps."""
        cursor = self.cursorForPosition(pos)
        index = cursor.position()
        # cursorForPosition snaps to the nearest gap; pick the character whose box holds the point.
        rect = self.cursorRect(cursor)
        if pos.x() < rect.x() and index > 0:
            index -= 1
        if abs(pos.y() - rect.center().y()) > rect.height():
            return None
        step = index - self.prompt_length
        return step if 0 <= step < self.shown else None

    def describe(self, step: int) -> str:
        rec = self.trace[step]
        label = self.vocab.label
        alternatives = "  ".join(
            f"{label(int(v))} {p:.3f}" for v, p in zip(rec.top_values[:6], rec.top_raw[:6])
        )
        return (
            f"step {step + 1}: {label(rec.value)}  p = {rec.prob:.3f} (rank {rec.rank + 1})\n"
            f"top: {alternatives}\nentropy {rec.entropy:.2f} nats"
        )

    def mouseMoveEvent(self, event):
        step = self.step_at(event.position().toPoint())
        if step is not None:
            QToolTip.showText(event.globalPosition().toPoint(), self.describe(step), self)
        else:
            QToolTip.hideText()
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event):
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            step = self.step_at(event.position().toPoint())
            if step is not None:
                self.step_clicked.emit(step)


class TextModeView(ModeView):
    """Text mode: its controls (prompt, length) and its pane; the main window supplies the rest."""

    mode = "text"
    unit = "char"

    def __init__(self):
        super().__init__()
        self.controls = QWidget()
        form = QFormLayout(self.controls)
        form.setContentsMargins(0, 0, 0, 0)
        self.prompt_edit = PromptEdit()
        self.prompt_edit.setPlaceholderText("Prompt (may be empty)")
        self.prompt_edit.setFixedHeight(70)
        form.addRow("Prompt", self.prompt_edit)
        self.prompt_message = WarningLine(lines=2)  # always there, empty or not: Length and the sampler stay put
        self.prompt_message.setObjectName("promptMessage")
        self.prompt_edit.refused.connect(self.prompt_message.setText)
        form.addRow(self.prompt_message)
        self.length_spin = QSpinBox()
        self.length_spin.setRange(1, 100_000)
        self.length_spin.setValue(500)
        self.length_spin.setSuffix(" steps")
        self.length_spin.valueChanged.connect(lambda n: self.length_spin.setSuffix(" step" if n == 1 else " steps"))
        form.addRow("Length", self.length_spin)
        self.save_button = QPushButton("Save text…")
        self.save_button.clicked.connect(self.save_dialog)
        self.note = NoteLine()  # room kept for two lines: a note never moves the controls under it
        form.addRow(self.save_button)
        form.addRow(self.note)

        self.pane = SampledTextPane()
        self.step_clicked = self.pane.step_clicked
        self.display = QWidget()
        layout = QVBoxLayout(self.display)
        layout.setContentsMargins(0, 0, 0, 0)
        legend = QLabel(
            "Each generated character is shaded by the probability it was drawn with: "
            "<span style='background:#fa826e; color:#1e1e20'>&nbsp;unlikely&nbsp;</span> … "  # the pane's ink on them
            "<span style='background:#c8f0c8; color:#1e1e20'>&nbsp;near certain&nbsp;</span>. "
            "Hover for its alternatives, click to inspect its step."
        )
        legend.setWordWrap(True)
        layout.addWidget(legend)
        layout.addWidget(self.pane, 1)

    def check(self, entry) -> bool:
        """Inline message naming characters the model cannot read; True when the prompt is usable."""
        unknown = vocabulary(entry).unknown(self.prompt_edit.toPlainText())
        shown = " ".join(repr(c) for c in unknown)
        self.prompt_message.setText(f"The model has never seen {shown}: remove or replace them to generate." if unknown else "")
        return not unknown

    def prepare(self, vocab):
        """(prefix, condition, steps) for a new run; the pane starts over with the prompt."""
        # An empty prompt starts from a new line, given explicitly, so that a rewind re-primes on
        # exactly the context the run had.
        prompt = self.prompt_edit.toPlainText() or vocab.text(vocab.default_start)
        self.clear_note()
        self.pane.start(prompt, vocab)
        return tuple(vocab.encode(prompt)), None, self.length_spin.value()

    def text_to_read(self) -> str:
        """What Score (and Mask on/off) reads: the text shown where it continues the prompt box's
        (the run or branch shown, prompt included), else the prompt box's own text."""
        prompt = self.prompt_edit.toPlainText()
        shown = self.pane.whole_text() if self.pane.trace is not None else ""
        return shown if shown and shown.startswith(prompt) else prompt

    def score_input(self, vocab):
        """The text to score: the text shown where it continues the prompt box's (the run or branch
        shown, prompt included), else the prompt box's own text, typed or pasted. (prefix, values,
        condition), or why not. Nothing is given as a prefix: the model reads a newline first, as a
        run with no prompt starts, and every character is scored."""
        text = self.text_to_read()
        if not text:
            return "Type or paste text in the prompt box, or generate some, to score it."
        unknown = vocab.unknown(text)
        if unknown:
            return f"The model has never seen {' '.join(repr(c) for c in unknown[:8])}: remove or replace them to score."
        return (), tuple(vocab.encode(text)), None

    def start_display(self, vocab, prefix, condition, n_steps: int) -> None:
        self.clear_note()
        self.pane.start(vocab.decode(prefix), vocab)

    def save_dialog(self) -> None:
        path = ask_save_path(self.controls, "text", "Save text", "sample.txt", "Text (*.txt)")
        if path:
            self.save_text(path)

    def save_text(self, path: str) -> bool:
        """The prompt and the generated text, as plain UTF-8."""
        try:
            write_text_atomically(path, self.pane.whole_text())  # a failed write leaves the old file whole
        except OSError as e:
            self.note.setText(f"Could not save {path}: {e.strerror or e}")
            return False
        self.note.setText(f"Saved {path}")
        return True

    def prepare_replay(self, vocab, prefix, condition, n_steps: int):
        """Like prepare(), for a trace being replayed: its prompt and length."""
        self.prompt_edit.setPlainText(vocab.decode(prefix))
        self.length_spin.setValue(n_steps)
        # The trace's own prefix, as it is: a scored text has none (the model reads its newline first).
        self.clear_note()
        self.pane.start(vocab.decode(prefix), vocab)
        return tuple(prefix), None, n_steps

    def append(self, batch, trace) -> None:
        """New characters from the batch's blocks (trace: the run's steps, these included)."""
        if batch.blocks:  # one insert per run of equal shading across the whole batch
            self.pane.append_steps(np.concatenate([block.values for block in batch.blocks]),
                                   np.concatenate([block.columns["prob"] for block in batch.blocks]), trace)

    def rewind(self, steps: int) -> None:
        self.pane.truncate(steps)

    def render(self, trace) -> None:
        """Show `trace` (a chosen branch): the prompt, then its characters."""
        self.pane.truncate(0)
        self.pane.append_steps(trace.column("value"), trace.column("prob"), trace)

    def set_running(self, running: bool) -> None:
        pass  # the prompt stays editable: it is read when Generate is clicked

    def show_field(self, field, head=None) -> None:
        """What it sees: shade each character by its measured influence on the output (or by one
        attention head's weight, head = (layer, head)); None clears the shading."""
        if field is None:
            self.pane.shade_field(None)
            return
        if head is not None and field.attention is not None:
            weights = field.attention[head[0], head[1]]
            top = float(weights.max()) or 1.0
            levels = weights / top
        else:
            levels = influence_levels(field.measured)
        bands = 12  # few colours: runs of one colour merge into one selection
        colours: list = [None] * (self.pane.document().characterCount())
        for i in range(field.length):
            j = self.pane.pane_index(i)
            if j is None or j >= len(colours):
                continue
            if levels[i] > 0:  # squared: the pale end for the many weak inputs, deep blue for the few strong
                colours[j] = cool_colour(round(levels[i] ** 2 * bands) / bands)
            elif field.structural[i]:
                colours[j] = FIELD_TINT_TEXT
        self.pane.shade_field(colours)
        output = self.pane.pane_index(field.position)
        if output is not None and output < len(colours):  # the output in sight: the field is around it
            cursor = QTextCursor(self.pane.document())
            cursor.setPosition(output)
            self.pane.setTextCursor(cursor)
            self.pane.ensureCursorVisible()

    def show_in_panel(self, panel, trace, index: int, vocab, what_if=None) -> None:
        rec = trace[index]
        self.pane.highlight(index)
        data = panel_data(rec, index + 1, vocab)
        if what_if is None:
            panel.show_step(data)
            panel.hide_what_if()
            return
        panel.show_step(replace(data, sampled=what_if.final[rec.top_values]))
        panel.show_what_if(what_if, rec.u, rec.value, vocab.label)


def main() -> int:
    """Run the text pane alone with a fake run, for quick work on its look."""
    from PySide6.QtWidgets import QApplication

    from arplayground.core.generate import StepBlock
    from arplayground.core.sampling import Sample, SamplerSettings
    from arplayground.core.trace import Trace
    from arplayground.core.vocab import Vocabulary

    app = QApplication([])
    vocab = Vocabulary(list("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"))
    rng = np.random.default_rng(0)
    pane = SampledTextPane()
    pane.start("ROMEO:", vocab)
    trace = Trace()
    for i, ch in enumerate("\nBut soft, what light through yonder window breaks?"):
        raw = rng.dirichlet(np.ones(len(vocab)) * 0.3)
        v = vocab.encode(ch)[0]
        trace.extend(StepBlock.of_samples(6 + i, [Sample(raw, raw, v, 0.5)], SamplerSettings(), 0.0))
    pane.append_steps(trace.column("value"), trace.column("prob"), trace)
    pane.resize(600, 300)
    pane.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
