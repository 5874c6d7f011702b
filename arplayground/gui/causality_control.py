"""What it sees, in the window: the field of the output shown, computed off the GUI thread.

While "What it sees" is on, every output shown (a click on a character, a pixel, a sample, or the
timeline) has its field computed on a job thread (gui/jobs.py): the structure from the
architecture and the gradient of that step's log-probability (or entropy) with respect to every
input, by autograd over the whole real network (the steppers' sees(), nets/). The view draws it
in place and the What-it-sees pane beside it (gui/causality_panel.py).

The job uses its own copy of the model (a StepperCache of its own), never the one a run
generates with: a field can be asked for while a run streams or is paused, no lock is waited for,
and the run's cache and random numbers are untouched.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Slot

from arplayground import catalog
from arplayground.core.causality import wavenet_tree_edges
from arplayground.core.mulaw import SAMPLE_RATE
from arplayground.gui.causality_panel import INFLUENCE
from arplayground.gui.jobs import JobRunner
from arplayground.nets.pixelcnn_plain import build_plain_pixelcnn

PLAIN_SEED = 0  # the plain PixelCNN's seeded weights: structure decides its field, not training


class CausalityControl(QObject):
    def __init__(self, window, panel, button):
        super().__init__(window)
        self.window, self.panel, self.button = window, panel, button
        self.jobs = JobRunner(self)
        self.jobs.done.connect(self._on_done)
        self.jobs.failed.connect(self._on_failed)
        self.models = catalog.StepperCache()  # its own copies: a run's model is never shared
        self._plain = {}  # card path -> the plain PixelCNN of that card's shape
        self.measure = "log-prob"
        self.field = None  # the field shown, and what it was computed for
        self._asked = None  # (view, entry, labels, image) of the job running
        button.toggled.connect(self._on_toggled)
        panel.measure_chosen.connect(self._on_measure)
        panel.shading_chosen.connect(self._on_shading)
        panel.closed.connect(lambda: button.setChecked(False))

    def on(self) -> bool:
        return self.button.isChecked()

    @Slot(bool)
    def _on_toggled(self, on: bool) -> None:
        if on:
            self.show_shown()
        else:
            self.clear()

    def _on_measure(self, measure: str) -> None:
        self.measure = measure
        self.show_shown()

    def _on_shading(self, layer: int, head: int) -> None:
        if self.field is not None and self._asked is not None:
            view = self._asked[0]
            view.show_field(self.field, None if (layer, head) == INFLUENCE else (layer, head))

    def clear(self) -> None:
        """Hide the field (the switch off, the run forgotten or replaced)."""
        self.jobs.cancel()
        if self._asked is not None:
            self._asked[0].show_field(None)
        self.field, self._asked = None, None
        self.panel.hide()

    def step_shown(self) -> None:
        """The window shows another step: its field follows while the switch is on."""
        if self.on():
            self.show_shown()

    def show_shown(self) -> None:
        """Compute the field of the output the window shows (its shown step, else the last)."""
        w = self.window
        entry, view, branch = w.running_entry, w.running_view, w.branch  # the run shown, and its model
        if branch is None or len(branch.trace) == 0 or view is None:
            return self._say("Generate or score something, then click an output to see what it sees.")
        if entry is None or not entry.available:
            return self._say("No usable model in this mode")
        if w.session.lanes > 1:
            return self._say("What it sees works on one image: set the grid to 1 x 1.")
        index = w.shown_index if w.shown_index is not None else len(branch.trace) - 1
        index = min(index, len(branch.trace) - 1)
        values = branch.history(len(branch.trace))
        position = len(branch.prefix) + index
        condition, measure = branch.condition, self.measure
        vocab = catalog.vocabulary(entry)
        labels = [vocab.label(int(v)) for v in values] if entry.mode == "text" else None
        image = None
        if entry.mode == "image":
            cfg = entry.card["config"]
            image = np.full(cfg.get("height", 28) * cfg.get("width", 28), np.nan)
            image[: len(values)] = values
        models, plains = self.models, self._plain

        def work(cancelled):
            stepper = models.get(entry)
            field = stepper.sees(values, position, condition, measure)
            plain = None
            if entry.mode == "audio":  # the tree's connections, drawn in the pane
                plain = wavenet_tree_edges(position, stepper.model.cfg.dilations)
            if entry.mode == "image" and not cancelled():
                key = str(entry.card_path)
                if key not in plains:
                    plains[key] = build_plain_pixelcnn(stepper.model.cfg, seed=PLAIN_SEED)
                plain = plains[key].sees(values, position, condition, measure)
            return field, plain

        self._asked = (view, entry, labels, image)
        self.jobs.start("sees", work)
        self.panel.set_measure(measure)
        self.panel.working(f"Measuring what {view.unit} {position + 1:,} sees: one backward pass through the network…")

    def _say(self, text: str) -> None:
        self.panel.working(text)

    def _on_done(self, name: str, result) -> None:
        field, plain = result  # plain: the plain PixelCNN's field (image), the tree's edges (audio)
        view, entry, labels, image = self._asked
        self.field = field
        view.show_field(field)
        if entry.mode == "text":
            self.panel.show_text(field, labels, entry.card.get("config", {}).get("causal", True))
        elif entry.mode == "image":
            cfg = entry.card["config"]
            self.panel.show_image(field, plain, image, cfg.get("height", 28), cfg.get("width", 28))
        else:
            self.panel.show_audio(field, SAMPLE_RATE, plain)

    def _on_failed(self, name: str, why: str) -> None:
        self.panel.working(f"Could not measure the field: {why}")
