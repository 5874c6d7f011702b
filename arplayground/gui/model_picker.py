"""The Mode and Model boxes and the note under them: which modes and models are listed, the model
each mode chose last (chosen again when the mode comes back), and which models stay loaded. The
note says in words what the chosen model is, with an About… link to its card (gui/menus.py opens
it: gui/model_card_dialog.py)."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel

from arplayground import catalog
from arplayground.gui.model_card_dialog import headline

MODE_TITLES = {"text": "Text", "image": "Image", "audio": "Audio"}
ABOUT_LINK = "about-model"  # the note's link to the chosen model's card


def describe(entry: catalog.ModelEntry) -> str:
    """The chosen model in a few words: "GPT, 2.67 M parameters · 1.47 nats/char on validation",
    after what it is for where it is not meant for use alone (the cheat, the draft)."""
    line = headline(entry.card) or entry.summary()
    if entry.demonstration:
        return f"{catalog.DEMONSTRATIONS[entry.demonstration].capitalize()}, a demonstration · {line}"
    return f"{catalog.ROLES[entry.role].capitalize()} · {line}" if entry.role else line


class ModelPicker:
    """Fills the window's mode and model boxes and says what was chosen; the window reacts to
    their signals (a view told its model, the sampler its vocabulary)."""

    def __init__(self, mode_box: QComboBox, model_box: QComboBox, info: QLabel, entries: list[catalog.ModelEntry],
                 steppers: catalog.StepperCache):
        self.mode_box, self.model_box, self.info = mode_box, model_box, info
        self.entries, self.steppers = entries, steppers
        info.setTextFormat(Qt.TextFormat.RichText)  # for the About… link; every line else is escaped
        self.chosen_models: dict[str, Path] = {}  # mode -> card of the model last chosen in it
        modes_with_models = {e.mode for e in entries}
        for mode in catalog.MODES:  # a mode appears once models/ holds a model for it
            if mode in modes_with_models or mode == "text":
                mode_box.addItem(MODE_TITLES[mode], mode)

    def mode(self) -> str:
        return self.mode_box.currentData()

    def lists_mode(self, mode: str) -> bool:
        return self.mode_box.findData(mode) >= 0

    def current_entry(self) -> catalog.ModelEntry | None:
        entry = self.model_box.currentData()
        return entry if isinstance(entry, catalog.ModelEntry) else None

    def fill(self) -> None:
        """List the current mode's models, without a signal: the window then calls chosen()."""
        mode = self.mode()
        self.model_box.blockSignals(True)
        self.model_box.clear()
        chosen = -1
        # A card too broken to name its mode shows in every mode; a draft after the models meant for
        # use, demonstrations (the cheat) last.
        listed = sorted((e for e in self.entries if e.mode == mode or e.mode not in catalog.MODES),
                        key=lambda e: e.listed_after)
        default = catalog.default_entry(listed, mode)
        for entry, label in zip(listed, catalog.distinct_labels(listed)):  # two cards may share a name
            if entry.demonstration:
                label = f"{label} ({catalog.DEMONSTRATIONS[entry.demonstration]})"
            elif entry.role:
                label = f"{label} ({catalog.ROLES[entry.role]})"
            self.model_box.addItem(label if entry.available else f"{label} (unavailable)", entry)
            index = self.model_box.count() - 1
            self.model_box.setItemData(index, entry.summary(), Qt.ItemDataRole.ToolTipRole)
            if not entry.available:
                self.model_box.model().item(index).setEnabled(False)
            elif entry.card_path == self.chosen_models.get(mode) or (chosen < 0 and entry is default):
                chosen = index
        # The model last chosen in this mode, as long as it can run; else the mode's default.
        self.model_box.setCurrentIndex(max(chosen, 0))
        self.model_box.blockSignals(False)

    def select(self, mode: str, entry: catalog.ModelEntry) -> None:
        """Show `mode` and choose `entry` among its models (both signal, as a person's choice does)."""
        self.mode_box.setCurrentIndex(self.mode_box.findData(mode))
        self.model_box.setCurrentIndex(next(i for i in range(self.model_box.count()) if self.model_box.itemData(i) is entry))

    def chosen(self) -> catalog.ModelEntry | None:
        """The model now chosen (None when the mode has none): remembered for its mode, the only
        ones kept loaded, and described in the note with the cards that are broken."""
        entry = self.current_entry()
        if entry is not None:
            self.chosen_models[self.mode()] = entry.card_path
        # Only the models chosen now (one per mode) stay loaded: ~20 MB each. A run keeps its own.
        self.steppers.keep_only([e for e in self.entries if e.available and self.chosen_models.get(e.mode) == e.card_path])
        notes = [html.escape(f"⚠ {e.card_path.name}: {e.error}") for e in self.entries if not e.available]
        if entry is None:
            lines = ["No model found in models/."]
        elif entry.available:
            lines = [f'{html.escape(describe(entry))} · <a href="{ABOUT_LINK}">About…</a>']
        else:
            lines = []
        self.info.setText("<br>".join(lines + notes))
        return entry
