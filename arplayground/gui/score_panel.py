"""The Score panel: the chain rule as arithmetic for the scored sequence shown.

It renders what core.score computed (the branch's chain rule, the classifier, the measured
times); it holds no run and computes nothing heavy. The window asks it to show a score, a step's
term, the times, and the split between real data and the model's own continuation.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from arplayground.core.score import chain_rule, surprisal_bits


PER = {"pixel": "dim"}  # bits per dimension: how image likelihoods are quoted (bits/dim)


def bits_text(bits: float) -> str:
    return f"{bits:,.1f} bits" if abs(bits) >= 10 else f"{bits:.3f} bits"


class ScorePanel(QFrame):
    """Figures of a scored sequence; hidden while the branch shown is not one."""

    time_requested = Signal()  # "Time the sequential paths"
    free_run_requested = Signal()  # "Free-run from the shown step"
    compare_chosen = Signal(str)  # the name of another scored branch to compare with ("" = none)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("score_panel")
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.totals_label = QLabel()
        self.totals_label.setWordWrap(True)
        self.totals_label.setToolTip("The chain rule: the log-likelihood of the whole is the sum of each step's "
                                     "log-probability given the steps before it")
        self.term_label = QLabel()
        self.term_label.setWordWrap(True)
        self.class_label = QLabel()
        self.class_label.setWordWrap(True)
        self.split_label = QLabel()
        self.split_label.setWordWrap(True)
        self.timing_label = QLabel()
        self.timing_label.setWordWrap(True)
        self.time_button = QPushButton("Time one at a time")
        self.time_button.setToolTip("Generate the same number of values one at a time, with the cache and "
                                    "naively (the whole network for every value), and compare with the pass")
        self.free_run_button = QPushButton("Free-run from the shown step")
        self.free_run_button.setToolTip("Keep the real data before the shown step and let the model go on "
                                        "with its own samples (the sampler's settings apply)")
        self.compare_box = QComboBox()
        self.compare_box.setToolTip("Compare with another scored sequence: bits per step, and where each is most surprising")
        self.compare_label = QLabel()
        self.compare_label.setWordWrap(True)
        self.time_button.clicked.connect(self.time_requested)
        self.free_run_button.clicked.connect(self.free_run_requested)
        self.compare_box.activated.connect(lambda row: self.compare_chosen.emit(self.compare_box.itemData(row) or ""))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.time_button)
        buttons.addWidget(self.free_run_button)
        buttons.addWidget(self.compare_box)
        buttons.addStretch(1)
        # The figures scroll inside the pane when it is short (a small screen); the buttons stay in sight.
        figures = QWidget()
        lines = QVBoxLayout(figures)
        lines.setContentsMargins(0, 0, 0, 0)
        lines.setSpacing(2)
        for w in (self.heading, self.totals_label, self.term_label, self.class_label, self.split_label,
                  self.timing_label, self.compare_label):
            w.setTextFormat(Qt.TextFormat.RichText)  # Qt's guess takes "<b>" after "−log₂ p(x)" for plain text
            lines.addWidget(w)
        lines.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(figures)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        layout.addWidget(scroll, 1)
        layout.addLayout(buttons)
        self.unit = "step"
        self.describe = str
        self.pass_seconds = None
        self.clear()

    # -- what the window asks -------------------------------------------------------------

    def clear(self) -> None:
        for w in (self.heading, self.totals_label, self.term_label, self.class_label, self.split_label,
                  self.timing_label, self.compare_label):
            w.clear()
        self.pass_seconds = None
        self.hide()

    def show_score(self, branch, unit: str, describe, pass_seconds: float | None, classification=None,
                   asked=None, label=str, note: str = "") -> None:
        """A scored branch is shown: its figures. `describe(value)` names a value ('e', 'grey 0');
        `label(condition)` a condition ('digit 3')."""
        self.unit, self.describe, self.pass_seconds = PER.get(unit, unit), describe, pass_seconds
        real = branch.scored_steps
        pass_text = f" in one teacher-forced pass, {pass_seconds:.3f} s" if pass_seconds is not None else ""
        self.heading.setText(f"<b>Score</b>: {real:,} {unit}s{pass_text}: every p(x<sub>t</sub> | x<sub>&lt;t</sub>) "
                             "at once, because the whole sequence is known." + (f" {note}" if note else ""))
        self.show_split(branch)
        self.class_label.setText(self._classification_text(classification, asked, label) if classification else "")
        self.class_label.setVisible(classification is not None)
        self.timing_label.clear()
        self.time_button.setEnabled(True)
        self.show()

    def show_split(self, branch) -> None:
        """The totals; once the model runs on its own after the real data, each part's."""
        trace, real = branch.trace, branch.scored_steps
        whole = chain_rule(trace, 0, real)
        self.totals_label.setText(
            f"−log₂ p(x) = Σ<sub>t</sub> −log₂ p(x<sub>t</sub> | x<sub>&lt;t</sub>) = <b>{bits_text(whole.total_bits)}</b> · "
            f"<b>{whole.bits_per_step:.3f} bits/{self.unit}</b> · perplexity {whole.perplexity:,.2f}")
        own = chain_rule(trace, real) if len(trace) > real else None
        if own is None or not own.steps:
            self.split_label.clear()
            self.split_label.hide()
            return
        self.split_label.setText(
            f"Real data, teacher-forced: steps 1–{real:,}, {whole.bits_per_step:.3f} bits/{self.unit}. "
            f"The model's own continuation: steps {real + 1:,}–{len(trace):,}, {own.bits_per_step:.3f} bits/{self.unit} "
            f"(its own samples, under its own distribution).")
        self.split_label.show()

    def show_term(self, trace, index: int, real: int) -> None:
        """Step index's term of the sum, and the sum so far."""
        if index is None or not 0 <= index < len(trace):
            self.term_label.clear()
            return
        bits = surprisal_bits(trace.column("prob")[: index + 1])
        term, so_far = float(bits[-1]), float(bits.sum())
        rec = trace[index]
        whose = "real" if index < real else "the model's own"
        self.term_label.setText(
            f"Step {index + 1:,} ({whose}): −log₂ p({html.escape(self.describe(rec.value))} | {index:,} before) = "
            f"<b>{term:.3f} bits</b> · rank {rec.rank + 1} · running sum {bits_text(so_far)}")

    def show_timing(self, n: int, cached: float | None, naive: float | None, naive_over: float | None = None,
                    naive_pending: float | None = None) -> None:
        """The measured sequential times beside the pass's. naive_over: the naive run was stopped
        after that many seconds (it would take longer); naive_pending: it runs now, for at most that long."""
        pass_s = self.pass_seconds
        parts = [f"{n:,} conditionals in one pass: {pass_s:.3f} s"]
        if cached is not None:
            parts.append(f"generating them one at a time: {cached:.3f} s cached ({cached / pass_s:,.1f}x the pass)")
        if naive is not None:
            parts.append(f"{naive:.2f} s naive ({naive / pass_s:,.0f}x)")
        elif naive_over is not None:
            parts.append(f"naive: more than {naive_over:.0f} s (stopped there; over {naive_over / pass_s:,.0f}x)")
        elif naive_pending is not None:
            self.timing_label.setText("; ".join(parts) + f"; now naively, the whole network for every value "
                                      f"(at most {naive_pending:.0f} s)…")
            self.time_button.setEnabled(False)
            return
        self.timing_label.setText("; ".join(parts) + ". Measured now, on this machine.")
        self.time_button.setEnabled(True)

    def set_compare_choices(self, names: list[str]) -> None:
        self.compare_box.blockSignals(True)
        self.compare_box.clear()
        self.compare_box.addItem("Compare with…", "")
        for name in names:
            self.compare_box.addItem(name, name)
        self.compare_box.blockSignals(False)
        self.compare_box.setVisible(bool(names))
        self.compare_label.clear()

    def show_comparison(self, text: str) -> None:
        self.compare_label.setText(text)

    def show_timing_busy(self, text: str) -> None:
        self.timing_label.setText(text)
        self.time_button.setEnabled(False)

    @staticmethod
    def _classification_text(c, asked, label) -> str:
        posterior = c.posterior
        best = c.best
        parts = [f"As a classifier (Bayes' rule over its {len(c.labels)} conditionals): most likely "
                 f"<b>{label(best)}</b> (p {posterior[c.labels.index(best)]:.3f})"]
        if asked is not None and asked in c.labels:
            parts.append(f"asked {label(asked)} (p {posterior[c.labels.index(asked)]:.3f})")
            share = c.share_bits(asked)
            if share is not None:
                parts.append(f"{label(asked)}'s share: log₂ p(x | {label(asked)}) − log₂ p(x | any) = {share:+,.1f} bits")
        return " · ".join(parts)
