"""Model > About this model…: a model's card (models/*.json) in words. What the model is, its size,
the data and split it was trained and checked on, its validation figures with their units, how
they were measured, the training commands, wall time and hardware, and the training curves.

A card is a stranger's file: the dialog shows whatever it holds that it can read, and says what
is missing or unreadable; it never raises on a card, however broken."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from arplayground.gui.theme import style_plot

ARCHITECTURES = {"gpt": "GPT", "gated-pixelcnn": "Gated PixelCNN", "wavenet": "WaveNet"}
# What a figure measures, from its key: "val_loss_nats_per_char" is in nats per character.
UNIT = re.compile(r"(?:^|_)(nats|bits)_per_(char|dim|sample)(?:_|$)")
UNIT_WORDS = {"char": "character", "dim": "dimension", "sample": "sample"}
SHORT_UNITS = {"character": "char", "dimension": "dim", "sample": "sample"}  # for the picker's line
TEXT_MAX = 2_000  # characters of one card string shown (a card may hold a novel)
DEPTH_MAX = 8  # runs a card says it was continued from, followed back at most
POINTS_MAX = 100_000  # history entries plotted at most
CURVE_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def _number(value) -> float | None:
    """A finite number from the card, else None (a bool, a string, NaN, an int too big for a float)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        value = float(value)
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _text(value) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value if len(value) <= TEXT_MAX else value[:TEXT_MAX] + "…"


def _words(key: str) -> str:
    """A key as words: val_loss_subset -> validation loss subset."""
    return " ".join("validation" if w == "val" else w for w in key.split("_") if w)


def unit_of(key: str) -> tuple[str, str, str] | None:
    """(what, "nats" or "bits", per what) of a figure's key: ("validation loss", "nats", "character")."""
    match = UNIT.search(key)
    if match is None:
        return None
    rest = (key[:match.start()] + "_" + key[match.end():]).strip("_")
    return _words(rest), match.group(1), UNIT_WORDS[match.group(2)]


def parameters_text(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    return f"{n / 1e3:.0f} k" if n >= 1e3 else f"{n:.0f}"


def duration_text(seconds: float) -> str:
    """A wall time as a person says it: 48 s, 56 min, 1 h 45 min."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def figure_text(key: str, value: float) -> str:
    """1.4702 nats per character (2.121 bits); 1.0059 bits per dimension."""
    _, measure, per = unit_of(key)
    text = f"{value:.4f} {measure} per {per}"
    return text + f" ({value / math.log(2):.3f} bits)" if measure == "nats" else text


def headline(card) -> str:
    """The picker's short line: "GPT, 2.67 M parameters · 1.47 nats/char on validation"; what the
    card does not hold is left out."""
    card = card if isinstance(card, dict) else {}
    parts = []
    architecture = card.get("architecture")
    name = ARCHITECTURES.get(architecture) if isinstance(architecture, str) else None
    parameters = _number(card.get("parameters"))
    if name and parameters is not None:
        parts.append(f"{name}, {parameters_text(parameters)} parameters")
    elif name:
        parts.append(name)
    validation = card.get("validation")
    for key, value in (validation.items() if isinstance(validation, dict) else ()):
        unit = unit_of(key) if isinstance(key, str) else None
        if unit is not None and _number(value) is not None:
            what, measure, per = unit
            where = "test" if what.startswith("test") else "validation"
            parts.append(f"{_number(value):.3g} {measure}/{SHORT_UNITS[per]} on {where}")
            break
    return " · ".join(parts)


@dataclass
class Curve:
    name: str
    xs: list[float]
    ys: list[float]


@dataclass
class CardFacts:
    """What the dialog shows, read from a card: sections of (label, text) rows, the training
    curves with their axes, and what the card lacks."""

    title: str = "A model"
    sections: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    x_label: str = ""
    y_label: str = ""
    missing: list[str] = field(default_factory=list)

    def text(self) -> str:
        """Everything in words, as the dialog lays it out (the plot aside)."""
        lines = [self.title]
        for heading, rows in self.sections:
            lines += [heading] + [f"{label}: {text}" for label, text in rows]
        return "\n".join(lines + ([self.missing_line()] if self.missing else []))

    def missing_line(self) -> str:
        return "Not in this card (or not readable): " + "; ".join(self.missing) + "."


def read_card(card, counted_parameters: int = 0) -> CardFacts:
    """The facts of `card` (any value at all), and what it lacks. `counted_parameters` (counted
    from the config by the catalog) stands in for a card that does not say its size."""
    facts = CardFacts()
    if not isinstance(card, dict):
        facts.missing.append("the whole card (it is not a JSON object)")
        return facts
    need = facts.missing.append
    model, data, figures, training = [], [], [], []

    name = _text(card.get("name"))
    facts.title = name or "A model with no name"
    if name is None:
        need("the name")
    description = _text(card.get("description"))
    if description:
        model.append(("What it is", description))
    architecture = card.get("architecture")
    if isinstance(architecture, str) and _text(architecture):
        model.append(("Architecture", ARCHITECTURES.get(architecture, _text(architecture))))
    else:
        need("the architecture")
    config = card.get("config")
    if isinstance(config, dict) and config:
        shown = [f"{_words(str(k))} {v}" for k, v in list(config.items())[:40]
                 if _number(v) is not None or isinstance(v, (bool, str))]
        model.append(("Config", _text(", ".join(shown)) or "(nothing readable)"))
    else:
        need("the config")
    parameters = _number(card.get("parameters"))
    if parameters is not None:
        model.append(("Parameters", f"{parameters:,.0f} ({parameters_text(parameters)})"))
    elif counted_parameters:
        model.append(("Parameters", f"{counted_parameters:,} ({parameters_text(counted_parameters)}; counted from the "
                                    "config, the card does not say)"))
    else:
        need("the number of parameters")

    dataset = card.get("dataset")
    if isinstance(dataset, dict):
        for key, label in (("name", "Data"), ("split", "Split")):
            text = _text(dataset.get(key))
            if text:
                data.append((label, text))
            else:
                need(f"the data's {key}")
        for key in ("characters", "clips"):
            if _number(dataset.get(key)) is not None:
                data.append((key.capitalize(), f"{dataset[key]:,.0f}"))
            elif isinstance(dataset.get(key), dict):
                counts = [f"{k} {v:,.0f}" for k, v in dataset[key].items() if _number(v) is not None]
                data.append((key.capitalize(), ", ".join(counts)))
    else:
        need("the data and its split")

    validation = card.get("validation")
    if isinstance(validation, dict):
        units = {key: unit_of(key) for key in validation if isinstance(key, str)}
        nats = any(unit is not None and unit[1] == "nats" for unit in units.values())
        for key, value in validation.items():
            unit, number = units.get(key), _number(value)
            if unit is None or number is None:
                continue
            if nats and unit[1] == "bits" and unit[2] == "character" and not unit[0]:
                continue  # bits_per_char repeats the nats figure, which shows it in bits beside
            figures.append(((unit[0] or "figure").capitalize(), figure_text(key, number)))
        if not figures:
            need("validation figures with a unit")
        for key, label in (("measured_on", "How measured"), ("weights", "Weights")):
            text = _text(validation.get(key))
            if text:
                figures.append((label, text))
            elif key == "measured_on":
                need("how the figures were measured")
    else:
        need("validation figures")

    run = card.get("training")
    if isinstance(run, dict):
        training += _training_rows(run, need)
        facts.curves, facts.x_label, facts.y_label = _curves(run.get("history"), card.get("architecture"), need)
    else:
        need("the training (commands, wall time, hardware, loss history)")

    facts.sections = [(h, rows) for h, rows in (("Model", model), ("Data", data), ("Validation", figures),
                                                 ("Training", training)) if rows]
    return facts


def _training_rows(run: dict, need) -> list[tuple[str, str]]:
    rows = []
    commands, earlier = [], run
    for _ in range(DEPTH_MAX):  # this run's command, then those of the runs it continued from
        command = _text(earlier.get("command"))
        if command:
            commands.append(command)
        earlier = earlier.get("initialised_from")
        if not isinstance(earlier, dict):
            break
    if commands:
        rows.append(("Command", commands[0]))
        rows += [(f"Earlier run {i}", c) for i, c in enumerate(commands[1:], 1)]
    else:
        need("the training command")
    settings = [f"{_words(k)} {run[k]:g}" for k in ("iterations", "epochs", "batch", "learning_rate", "seed")
                if _number(run.get(k)) is not None]
    if settings:
        rows.append(("Settings", ", ".join(settings)))
    wall = _number(run.get("wall_time_s"))
    if wall is not None and wall >= 0:
        total = _number(run.get("wall_time_s_with_earlier_runs"))
        rows.append(("Wall time", duration_text(wall) + (f" ({duration_text(total)} with the earlier runs)"
                                                         if total is not None and total > wall else "")))
    else:
        need("the wall time")
    hardware = _text(run.get("hardware"))
    if hardware:
        rows.append(("Hardware", hardware))
    else:
        need("the hardware")
    return rows


def _curves(history, architecture, need) -> tuple[list[Curve], str, str]:
    """The history's series against its step (or iteration), each with its unit from its key; the
    GPT's plain "loss" is its cross-entropy, in nats per character."""
    if not isinstance(history, list) or not history:
        need("the training loss history")
        return [], "", ""
    entries = [h for h in history[:POINTS_MAX] if isinstance(h, dict)]
    x_key = next((k for k in ("iter", "step", "epoch") if any(_number(h.get(k)) is not None for h in entries)), None)
    if x_key is None:
        need("the loss history's steps")
        return [], "", ""
    keys = list(dict.fromkeys(k for h in entries for k in h if isinstance(k, str) and k != x_key))
    curves, units = [], set()
    for key in keys:
        points = [(_number(h.get(x_key)), _number(h.get(key))) for h in entries]
        points = [(x, y) for x, y in points if x is not None and y is not None]
        if not points:
            continue
        unit = unit_of(key)
        if unit is not None:
            name, units_of_key = unit[0], f"{unit[1]} per {unit[2]}"
        elif "loss" in key and architecture == "gpt":
            name, units_of_key = _words(key), "nats per character"
        else:
            name, units_of_key = _words(key), "loss"
        units.add(units_of_key)
        curves.append(Curve(name or "figure", [x for x, _ in points], [y for _, y in points]))
    if not curves:
        need("readable figures in the loss history")
    x_label = {"iter": "training iteration", "step": "optimiser step", "epoch": "epoch"}[x_key]
    y_label = units.pop() if len(units) == 1 else "figure (units differ per curve)"
    return curves, x_label, y_label


class ModelCardDialog(QDialog):
    """The card of one model, in words and with its training curves. `facts` is what it shows."""

    def __init__(self, card, parent=None, counted_parameters: int = 0):
        super().__init__(parent)
        self.facts = read_card(card, counted_parameters)
        self.setWindowTitle(f"About {self.facts.title}")
        body = QWidget()
        form = QFormLayout(body)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        title = QLabel(self.facts.title)
        title.setTextFormat(Qt.TextFormat.PlainText)
        title.setStyleSheet("font-size: 15pt; font-weight: bold;")
        form.addRow(title)
        for heading, rows in self.facts.sections:
            label = QLabel(heading)
            label.setStyleSheet("font-weight: bold; margin-top: 8px;")
            form.addRow(label)
            for name, text in rows:
                form.addRow(f"{name}:", self._plain(text))
        self.missing_label = self._plain(self.facts.missing_line() if self.facts.missing else "")
        self.missing_label.setStyleSheet("color: #8a5a00;")
        self.missing_label.setVisible(bool(self.facts.missing))
        form.addRow(self.missing_label)
        self.plot = pg.PlotWidget()
        self.plot.setMinimumHeight(220)
        style_plot(self.plot)
        item = self.plot.getPlotItem()
        item.setTitle("Training history")
        item.setLabel("bottom", self.facts.x_label)
        item.setLabel("left", self.facts.y_label)
        item.showGrid(x=True, y=True, alpha=0.2)
        legend = item.addLegend(offset=(-10, 10), labelTextColor="k")
        for i, curve in enumerate(self.facts.curves):
            pen = pg.mkPen(CURVE_COLOURS[i % len(CURVE_COLOURS)], width=2)
            item.plot(curve.xs, curve.ys, pen=pen, symbol="o", symbolSize=5,
                      symbolBrush=CURVE_COLOURS[i % len(CURVE_COLOURS)], name=curve.name)
        legend.setVisible(bool(self.facts.curves))
        self.plot.setVisible(bool(self.facts.curves))
        form.addRow(self.plot)
        scroll = QScrollArea()
        scroll.setWidget(body)
        scroll.setWidgetResizable(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll)
        layout.addWidget(buttons)
        screen = self.screen().availableGeometry()  # a laptop's 768 pixels: the dialog scrolls instead
        self.resize(min(720, screen.width() - 40), min(760, screen.height() - 60))

    @staticmethod
    def _plain(text: str) -> QLabel:
        label = QLabel(text)
        label.setTextFormat(Qt.TextFormat.PlainText)  # a card's text is never markup
        label.setWordWrap(True)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        return label
