"""A/B: two continuations of the same prefix, with two sampler settings and the same random numbers.

Each side is a fresh view of the current mode (the same rendering the main window uses) fed by its
own run of the one generation loop (worker.GenerationRunner) on its own stepper. Both runs use the
run's seed, so step i meets the same uniform number on both sides: where the two settings keep the
same distribution, both sides draw the same value, and every difference is the settings' doing.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from arplayground import catalog
from arplayground.core.sampling import SamplerSettings
from arplayground.core.trace import Trace
from arplayground.gui.sampler_controls import SamplerControls
from arplayground.gui.worker import GenerationRunner, RunControls, RunRequest


class ABSide(QWidget):
    """One side: its settings, its view of the continuation, its NLL."""

    finished = Signal()

    def __init__(self, title: str, view_class, entry, settings: SamplerSettings, vocab_size: int):
        super().__init__()
        self.entry = entry
        self.view = view_class()
        # The view and its unused controls belong to this side, so they die with the window; left
        # parentless, they outlived it and Qt deleted them twice at exit (a segfault after the tests).
        self.view.setParent(self)
        self.view.controls.setParent(self)
        self.view.controls.hide()
        self.view.set_entry(entry)
        self.view.become_side()  # audio: not the main window's "Pick a digit…, then Generate"
        self.steppers = catalog.StepperCache()  # its own stepper: the two sides run at once
        self.runner = GenerationRunner(self)
        self.runner.batch.connect(self._on_batch)
        self.runner.finished.connect(self._on_finished)
        self.trace = Trace()
        self.outcome = ""

        self.sampler = SamplerControls()
        self.sampler.set_vocabulary_size(vocab_size)
        self.sampler.set_guidable(entry.mode in catalog.CONDITIONAL_MODES, hide=True)  # only with a digit to guide by
        self.sampler.set_penalisable(entry.mode == "text", hide=True)  # text only: the per-step loop's
        self.temperature, self.top_k = self.sampler.temperature, self.sampler.top_k
        self.top_p, self.guidance = self.sampler.top_p, self.sampler.guidance
        self.set_settings(settings)

        self.title = QLabel(f"<b>{title}</b>")
        self.nll_label = QLabel("Not run yet")
        self.nll_label.setObjectName("abNll")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.sampler)
        layout.addWidget(self.view.display, 1)
        layout.addWidget(self.nll_label)
        if self.view.can_play:  # audio: hear each side on its own, with Audio mode's own transport
            transport = self.view.transport  # its widgets leave the side's hidden controls for this row
            self.play_button = transport.play_button
            self.play_button.setText(f"Play {title}")
            sound = QHBoxLayout()
            sound.addWidget(self.play_button)
            sound.addWidget(transport.stop_button)
            sound.addStretch(1)
            layout.addLayout(sound)
            layout.addWidget(transport.status)

    def set_settings(self, s: SamplerSettings) -> None:
        self.sampler.set_settings(s)

    def settings(self) -> SamplerSettings:
        # Without a digit the guidance row is hidden and off (and the loop records guidance 1 for a
        # run with nothing to guide by, whatever it is given).
        return self.sampler.settings()

    def start(self, vocab, prefix, condition, seed: int, n_steps: int, forced: dict | None = None) -> None:
        self.runner.stop()
        self.trace, self.outcome = Trace(), ""
        prefix, condition, n_steps = self.view.prepare_replay(vocab, prefix, condition, n_steps)
        self.prefix_len = len(prefix)  # steps are counted from where this side starts
        steppers, entry = self.steppers, self.entry
        request = RunRequest(load=lambda: steppers.get(entry), prefix=prefix, n_steps=n_steps, seed=seed,
                             condition=condition, forced=forced or {},
                             card_path=entry.card_path)
        self.runner.start(request, RunControls(self.settings()))  # as fast as it computes: it is for comparing
        self.nll_label.setText("Generating…")

    @Slot(object)
    def _on_batch(self, batch) -> None:
        batch.record_into(self.trace)
        self.view.append(batch, self.trace)
        self._show_nll()

    def _show_nll(self) -> None:
        if len(self.trace):
            nll = self.trace.nll()
            self.nll_label.setText(f"{len(self.trace)} steps · NLL {nll:.3f} nats/{self.view.unit} · "
                                   f"perplexity {np.exp(nll):.2f}")

    @Slot(str)
    def _on_finished(self, outcome: str) -> None:
        self.outcome = outcome
        if outcome.startswith("nonfinite "):  # broken weights or an overflow (core.generate.NonFiniteLogits)
            _, position, kind = outcome.split(" ", 2)
            self.nll_label.setText(f"Stopped at step {int(position) - self.prefix_len + 1:,} of this side: the model's "
                                   f"output is not finite numbers ({kind})")
        elif outcome.startswith("error"):
            self.nll_label.setText(f"Failed: {outcome}")
        else:
            self._show_nll()
        self.finished.emit()

    def is_running(self) -> bool:
        return self.runner.is_running()

    def shutdown(self) -> None:
        self.runner.wait_for_all()
        self.view.shutdown()


class ABWindow(QWidget):
    """The comparison window for one run: the kept prefix, two settings, two continuations."""

    def __init__(self, mode_view, entry, vocab, branch, n_steps: int, start_step: int,
                 settings_a: SamplerSettings, settings_b: SamplerSettings | None = None, parent=None):
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(f"A/B · {entry.name} · {branch.name}")
        self.vocab, self.branch, self.n_steps = vocab, branch, n_steps
        self.kept = 0
        size = len(vocab)
        if settings_b is None or settings_b == settings_a:  # nothing else to compare with: another temperature
            settings_b = replace(settings_a, temperature=0.6 if settings_a.temperature != 0.6 else 1.0)
        self.a = ABSide("A", type(mode_view), entry, settings_a, size)
        self.b = ABSide("B", type(mode_view), entry, settings_b, size)

        self.start_spin = QSpinBox()
        self.start_spin.setRange(1, max(1, n_steps))
        self.start_spin.setPrefix("from step ")
        self.start_spin.setToolTip("Both sides keep the run's steps before this one and draw the rest")
        self.start_spin.setValue(min(max(1, start_step), n_steps))
        self.run_button = QPushButton("Run A/B")
        self.run_button.setDefault(True)
        self.summary = QLabel("Both sides use the run's seed: the same random number at every step.")
        self.summary.setObjectName("abSummary")
        self.summary.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(QLabel(f"Seed {branch.seed} · {branch.name}"))
        top.addWidget(self.start_spin)
        top.addWidget(self.run_button)
        top.addStretch(1)
        grid = QGridLayout(self)
        grid.addLayout(top, 0, 0, 1, 2)
        grid.addWidget(self.a, 1, 0)
        grid.addWidget(self.b, 1, 1)
        grid.addWidget(self.summary, 2, 0, 1, 2)
        grid.setRowStretch(1, 1)
        self.run_button.clicked.connect(self.run)
        self.a.finished.connect(self._on_side_finished)
        self.b.finished.connect(self._on_side_finished)
        for side in (self.a, self.b):  # a click on a character, pixel or sample compares that step
            side.view.step_clicked.connect(self.compare_step)
        self.step_label = QLabel("Click a character, pixel or sample on either side to compare that step.")
        self.step_label.setObjectName("abStep")
        grid.addWidget(self.step_label, 3, 0, 1, 2)
        self.resize(1100, 600)

    def prefix_for_run(self) -> tuple[tuple, int]:
        """(prefix, steps to draw): the branch's start plus its steps before the chosen one."""
        kept = min(self.start_spin.value() - 1, len(self.branch.trace))
        return self.branch.history(kept), self.n_steps - kept

    @Slot()
    def run(self) -> None:
        prefix, n = self.prefix_for_run()
        self.kept = len(prefix) - len(self.branch.prefix)  # run steps both sides share
        self.summary.setText(f"Running: {n} steps on each side after {len(prefix)} kept values…")
        # The branch's forced values after the start apply on both sides: side A is the branch itself.
        forced = {p: v for p, v in self.branch.forced.items() if p >= len(prefix)}
        for side in (self.a, self.b):
            side.start(self.vocab, prefix, self.branch.condition, self.branch.seed, n, forced)
        self.run_button.setEnabled(False)

    def is_running(self) -> bool:
        return self.a.is_running() or self.b.is_running()

    @Slot()
    def _on_side_finished(self) -> None:
        if self.is_running():
            return
        self.run_button.setEnabled(True)
        self.a.view.align_with(self.b.view)  # audio: one amplitude axis, so the waveforms compare
        a, b = self.a.trace.values, self.b.trace.values
        n = min(len(a), len(b))
        if not n:
            self.summary.setText("Nothing was generated")
            return
        differ = np.flatnonzero(a[:n] != b[:n])
        delta = self.b.trace.nll() - self.a.trace.nll()
        if not len(differ):
            where = f"A and B drew the same {n} values"
        else:
            share = f"{len(differ)} of {n} steps ({100 * len(differ) / n:.0f}%)"
            where = f"A and B diverge at step {self.kept + differ[0] + 1} of the run; they differ at {share}"
        self.summary.setText(f"{where}. NLL under the model: A {self.a.trace.nll():.3f}, B {self.b.trace.nll():.3f} "
                             f"nats/{self.a.view.unit} (B − A = {delta:+.3f}).")

    @Slot(int)
    def compare_step(self, index: int) -> None:
        """What each side drew at its step `index`, with the probability the model gave it."""
        parts = []
        for name, side in (("A", self.a), ("B", self.b)):
            if 0 <= index < len(side.trace):
                rec = side.trace[index]
                parts.append(f"{name} drew {self.vocab.label(rec.value)} (p = {rec.prob:.3f}, rank {rec.rank + 1})")
        if parts:
            self.step_label.setText(f"Step {self.kept + index + 1} of the run: " + ";  ".join(parts) + ".")

    def closeEvent(self, event) -> None:
        for side in (self.a, self.b):
            side.shutdown()  # no thread or sound outlives the window
        super().closeEvent(event)
