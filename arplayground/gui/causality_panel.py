"""The "What it sees" pane: the field of the output shown, beside the figures that explain it.

It renders Fields (core/causality.py) the window's CausalityControl computed off the GUI thread:

- text: the causal mask's row for the output and the attention weights of every layer and head, a
  layers x heads grid of small heat strips over the characters before it (a click on a cell shades
  the text by that head; "Influence" shades it by the measured gradient again);
- image: the gated PixelCNN's field beside a plain masked-convolution PixelCNN's of the same depth,
  the blind spot drawn as measured;
- audio: the dilation tree over the field, layers by time, every connection that reaches the sample.

The view (text pane, canvas, waveform) draws the same field in place; this pane holds no run.
"""

from __future__ import annotations

import html

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QComboBox, QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QSplitter, QStackedWidget,
    QVBoxLayout, QWidget,
)

MEASURE_CHOICES = (("log-prob", "log-probability of its value"), ("entropy", "entropy of its distribution"))
INFLUENCE = (-1, -1)  # the shading choice "measured influence", as opposed to one (layer, head)


def influence_levels(measured: np.ndarray) -> np.ndarray:
    """Measured gradient magnitudes as 0..1 for colouring: log-scaled over four decades below the
    largest, since influence falls off by orders of magnitude with distance; exactly 0 stays 0."""
    m = np.asarray(measured, np.float64)
    top = float(m.max()) if m.size else 0.0
    out = np.zeros(m.shape, np.float64)
    if top <= 0:
        return out
    live = m > 0
    out[live] = np.clip(1.0 + np.log10(m[live] / top) / 4.0, 0.02, 1.0)
    return out


def heat_colour(level: float, alpha: int = 255) -> QColor:
    """Pale yellow (little) to deep orange-red (most): one scale for every mode."""
    t = float(np.clip(level, 0.0, 1.0))
    low, high = (255, 244, 190), (214, 60, 20)
    return QColor(*(int(a + (b - a) * t) for a, b in zip(low, high)), alpha)


def cool_colour(level: float) -> QColor:
    """Pale to deep blue: text's influence, apart from the red-to-green probability shading."""
    t = float(np.clip(level, 0.0, 1.0))
    low, high = (228, 236, 255), (110, 140, 240)  # its darkest still takes dark text at 4.5:1
    return QColor(*(int(a + (b - a) * t) for a, b in zip(low, high)))


FIELD_TINT = QColor(120, 160, 230, 110)  # what the structure allows, where nothing was measured
OUTPUT_PEN = QColor(214, 40, 40)


class AttentionGrid(QWidget):
    """The causal mask's row for the query, then layers x heads cells: each a strip of the query's
    attention weights over the keys around the output (the same keys in every strip)."""

    cell_clicked = Signal(int, int)  # layer, head

    KEYS = 48  # keys drawn per strip: the nearest ones before the output, where most weight is ...
    AFTER = 6  # ... and a few after it, where a model without its mask looks
    MASK_ROW = 20.0  # pixels for the mask's row above the grid
    LABEL_W = 64.0

    def __init__(self, parent=None):
        super().__init__(parent)
        self.attention: np.ndarray | None = None  # (layers, heads, length)
        self.allowed: np.ndarray | None = None  # (length,): the keys the mask lets the query see
        self.position = 0
        self.chosen = INFLUENCE
        self.labels: list[str] = []  # the characters, to name the most attended one
        self.setMinimumHeight(60)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_attention(self, attention: np.ndarray, allowed: np.ndarray, position: int, labels: list[str]) -> None:
        self.attention, self.allowed, self.position, self.labels = attention, allowed, position, labels
        self.chosen = INFLUENCE
        self.setMinimumHeight(int(self.MASK_ROW + attention.shape[0] * 15 + 4))
        self.update()

    def choose(self, layer: int, head: int) -> None:
        self.chosen = (layer, head)
        self.update()

    def _keys(self) -> tuple[int, int]:
        """[first, last) of the keys every strip draws."""
        last = min(self.attention.shape[2], self.position + 1 + self.AFTER)
        return max(0, last - self.KEYS), last

    def _cell(self, layer: int, head: int) -> QRectF:
        layers, heads = self.attention.shape[:2]
        w = self.width() / heads
        h = max(14.0, min(26.0, (self.height() - self.MASK_ROW) / layers))  # every layer in sight
        return QRectF(head * w + 2, self.MASK_ROW + layer * h + 2, w - 4, h - 4)

    def cell_at(self, point) -> tuple[int, int] | None:
        if self.attention is None:
            return None
        layers, heads = self.attention.shape[:2]
        for layer in range(layers):
            for head in range(heads):
                if self._cell(layer, head).contains(QPointF(point)):
                    return layer, head
        return None

    def mousePressEvent(self, event) -> None:
        cell = self.cell_at(event.position())
        if cell is not None:
            self.choose(*cell)
            self.cell_clicked.emit(*cell)

    def _strip(self, painter: QPainter, rect: QRectF, levels: np.ndarray, colour) -> None:
        """One strip: a box per key of _keys(), the output's key marked below in red."""
        first, last = self._keys()
        strip = QRectF(rect.left() + self.LABEL_W, rect.top() + 2, rect.width() - self.LABEL_W, rect.height() - 4)
        step = strip.width() / self.KEYS
        for k in range(first, last):
            x = strip.left() + (k - first) * step
            painter.fillRect(QRectF(x, strip.top(), step + 0.5, strip.height()), colour(levels[k - first]))
        if first <= self.position < last:  # the character being predicted
            x = strip.left() + (self.position - first) * step
            painter.fillRect(QRectF(x, strip.bottom() - 2, step, 2), OUTPUT_PEN)

    def paintEvent(self, event) -> None:
        if self.attention is None:
            return
        painter = QPainter(self)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, small.pointSizeF() - 2.5))
        painter.setFont(small)
        layers, heads, _ = self.attention.shape
        first, last = self._keys()
        mask = QRectF(2, 2, self.width() / heads * 2 - 4, self.MASK_ROW - 4)  # as wide as two cells
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        painter.drawText(QRectF(mask.left(), mask.top(), self.LABEL_W, mask.height()), Qt.AlignmentFlag.AlignVCenter, "mask row")
        allowed = self.allowed[first:last].astype(float)
        self._strip(painter, mask, allowed, lambda a: QColor(70, 90, 140) if a else QColor(225, 225, 225))
        for layer in range(layers):
            for head in range(heads):
                rect = self._cell(layer, head)
                weights = self.attention[layer, head, first:last]
                top = float(weights.max()) if weights.size else 0.0
                self._strip(painter, rect, weights / top if top > 0 else weights, cool_colour)
                whole = self.attention[layer, head]
                most = int(np.argmax(whole)) if whole.size else 0
                name = self.labels[most] if most < len(self.labels) else "?"
                painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
                painter.drawText(QRectF(rect.left(), rect.top(), self.LABEL_W, rect.height()),
                                 Qt.AlignmentFlag.AlignVCenter, f"L{layer + 1} H{head + 1} {name}")
                if (layer, head) == self.chosen:
                    painter.setPen(QPen(OUTPUT_PEN, 2))
                    painter.drawRect(rect)
        painter.end()


class FieldMap(QWidget):
    """One image's field for one output pixel: the image dimmed, the structural field tinted, the
    measured influence on top, the output outlined."""

    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.title = title
        self.field = None
        self.image: np.ndarray | None = None  # (H, W) grey levels known, NaN where not drawn yet
        self.height_, self.width_ = 28, 28
        self.setMinimumSize(180, 200)

    def show_field(self, field, image: np.ndarray, height: int, width: int) -> None:
        self.field, self.image, self.height_, self.width_ = field, image, height, width
        self.update()

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawText(QRectF(0, 0, self.width(), 16), Qt.AlignmentFlag.AlignHCenter, self.title)
        if self.field is None:
            painter.end()
            return
        H, W = self.height_, self.width_
        cell = max(1.0, min((self.width() - 4) / W, (self.height() - 22) / H))
        x0, y0 = (self.width() - cell * W) / 2, 20.0
        levels = influence_levels(self.field.measured)
        known = self.image.reshape(-1) if self.image is not None else np.full(H * W, np.nan)
        for i in range(H * W):
            r, c = divmod(i, W)
            rect = QRectF(x0 + c * cell, y0 + r * cell, cell, cell)
            grey = known[i]
            base = 235 if not np.isfinite(grey) else int(60 + 0.6 * grey)  # dim: the field is the subject
            painter.fillRect(rect, QColor(base, base, base))
            if levels[i] > 0:
                painter.fillRect(rect, heat_colour(levels[i], 230))
            elif self.field.structural[i]:
                painter.fillRect(rect, FIELD_TINT)
            if self.field.blind_spot is not None and self.field.blind_spot[i]:
                painter.setPen(QPen(QColor(90, 90, 90), 1))
                painter.drawLine(rect.bottomLeft(), rect.topRight())  # hatched: in the cone, never seen
        r, c = divmod(self.field.position, W)
        painter.setPen(QPen(OUTPUT_PEN, 2))
        painter.drawRect(QRectF(x0 + c * cell, y0 + r * cell, cell, cell))
        painter.end()


class DilationTree(QWidget):
    """The WaveNet's dilation tree for one sample: layers by time, the output at the top, the
    connections that reach it drawn down to the inputs."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.field, self.edges = None, None
        self.setMinimumHeight(120)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def show_field(self, field, edges) -> None:
        self.field, self.edges = field, edges
        self.update()

    def paintEvent(self, event) -> None:
        if self.field is None or not self.field.layers:
            return
        painter = QPainter(self)
        layers = self.field.layers  # from the output down to the input
        last = self.field.position
        back = max(1, int(max(last - int(l.min()) for l in layers if len(l))))
        margin, top, bottom = 8.0, 8.0, self.height() - 18.0
        row = (bottom - top) / max(1, len(layers) - 1)
        scale = np.log2(1 + back)

        def x(t: int) -> float:
            """Samples back on a log scale: each layer doubles the reach, so each gets its own
            stretch of the axis (linear, the last ten layers would share a few pixels)."""
            return margin + (1 - np.log2(1 + last - t) / scale) * (self.width() - 2 * margin)

        painter.setPen(QPen(QColor(120, 150, 210, 110), 1))
        for depth, pairs in enumerate(self.edges or []):  # (lower, upper) per kernel tap that reaches the output
            y_up, y_low = top + depth * row, top + (depth + 1) * row
            for lower, upper in pairs.tolist():
                painter.drawLine(QPointF(x(upper), y_up), QPointF(x(lower), y_low))
        painter.setPen(QPen(QColor(70, 130, 220), 3))  # a mid blue: it reads on light and dark
        for depth, nodes in enumerate(layers):
            y = top + depth * row
            for t in np.asarray(nodes).tolist():
                painter.drawPoint(QPointF(x(t), y))
        painter.setPen(QPen(OUTPUT_PEN, 7))
        painter.drawPoint(QPointF(x(last), top))
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        ticks = [2**k for k in range(2, int(scale) + 1, 2) if 2**k < back * 0.8] + [back]
        for b in ticks:
            xb = x(last - b)
            painter.drawText(QRectF(min(max(0.0, xb - 30), self.width() - 60), bottom + 2, 60, 14), Qt.AlignmentFlag.AlignHCenter, f"{b:,}")
        painter.drawText(QRectF(0, bottom + 2, self.width(), 14), Qt.AlignmentFlag.AlignRight, "samples back ")
        painter.end()


class CausalityPanel(QFrame):
    """The field of the output shown; hidden until a person asks what an output sees."""

    measure_chosen = Signal(str)  # "log-prob" | "entropy": compute again with this measure
    shading_chosen = Signal(int, int)  # (layer, head) to shade the text by, or INFLUENCE
    closed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("causality_panel")
        self.heading = QLabel()
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.measure_box = QComboBox()
        for key, text in MEASURE_CHOICES:
            self.measure_box.addItem(f"Gradient of the {text}", key)
        self.measure_box.setToolTip("What the measured influence is the gradient of, with respect to each input")
        self.measure_box.activated.connect(lambda row: self.measure_chosen.emit(self.measure_box.itemData(row)))
        self.influence_button = QPushButton("Shade by influence")
        self.influence_button.setToolTip("Shade the text by the measured influence again (after choosing a head)")
        self.influence_button.clicked.connect(self._back_to_influence)
        self.close_button = QPushButton("Hide")
        self.close_button.clicked.connect(self.closed)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.measure_box)
        row.addWidget(self.influence_button)
        row.addStretch(1)
        row.addWidget(self.close_button)

        self.attention_grid = AttentionGrid()
        self.attention_grid.cell_clicked.connect(self.shading_chosen)
        self.gated_map = FieldMap("Gated PixelCNN (this model)")
        self.plain_map = FieldMap("Plain masked PixelCNN, same depth (untrained)")
        pair = QWidget()
        pair_row = QHBoxLayout(pair)
        pair_row.setContentsMargins(0, 0, 0, 0)
        pair_row.addWidget(self.gated_map)
        pair_row.addWidget(self.plain_map)
        self.tree = DilationTree()
        self.pages = QStackedWidget()
        for page in (self.attention_grid, pair, self.tree):
            self.pages.addWidget(page)
        self.detail = QLabel()
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        # The field scrolls inside the pane when it is short (a 768-pixel screen): its grid, maps or
        # tree would otherwise set the window's smallest height past the screen's. The controls stay in sight.
        figures = QWidget()
        lines = QVBoxLayout(figures)
        lines.setContentsMargins(0, 0, 0, 0)
        lines.addWidget(self.heading)
        lines.addWidget(self.pages, 1)
        lines.addWidget(self.detail)
        scroll = QScrollArea()
        scroll.setWidget(figures)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Wide enough for the field and the scroll bar beside it: the bar must not cut the maps' right edge.
        scroll.setMinimumWidth(figures.minimumSizeHint().width() + scroll.verticalScrollBar().sizeHint().width())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addLayout(row)
        layout.addWidget(scroll, 1)
        self.hide()

    def _back_to_influence(self) -> None:
        self.attention_grid.choose(*INFLUENCE)
        self.shading_chosen.emit(*INFLUENCE)

    def make_room(self, height: int) -> None:
        """Grow this pane's row of the window's vertical splitter to `height` pixels where the rows
        under and over it can give them (each keeps its smallest height)."""
        row, splitter = self, self.parentWidget()
        while splitter is not None and not (isinstance(splitter, QSplitter) and splitter.orientation() == Qt.Orientation.Vertical):
            row, splitter = splitter, splitter.parentWidget()
        if splitter is None:
            return
        sizes = splitter.sizes()
        mine = splitter.indexOf(row)
        need = height - self.height()
        for other in range(len(sizes)):
            if other == mine or need <= 0:
                continue
            give = min(need, max(0, sizes[other] - splitter.widget(other).minimumSizeHint().height()))
            sizes[other] -= give
            sizes[mine] += give
            need -= give
        splitter.setSizes(sizes)

    def set_measure(self, measure: str) -> None:
        self.measure_box.setCurrentIndex(max(0, self.measure_box.findData(measure)))

    def working(self, what: str) -> None:
        self.heading.setText(html.escape(what))
        self.show()

    def show_text(self, field, labels: list[str], causal: bool) -> None:
        self.pages.setCurrentWidget(self.attention_grid)
        self.influence_button.show()
        if field.attention is not None:
            self.attention_grid.show_attention(field.attention, field.structural, field.position, labels)
        self.heading.setText(self._heading(field, "character", labels))
        start, end = field.window
        p = field.position
        if causal:
            row = (f"the causal mask's row lets it attend only to that character and those before it (window "
                   f"{start + 1:,}–{min(end, p):,})")
        else:
            row = ("this model has <b>no causal mask</b>: the query attends to the characters after it too, the one "
                   "it predicts among them, which is how it cheats in training")
        where = f"it sits on character {p:,}, the one before" if p else "it sits on the newline every text starts from"
        self.make_room(390)
        self.detail.setText(f"Attention of the query that predicts character {p + 1:,} ({where}) "
                            f"in every layer and head: {row}. Each strip shows the {AttentionGrid.KEYS} characters around character {p + 1:,}; "
                            f"the label names the character each head attends to most; the top row is the mask's (dark: allowed; the red mark: the character predicted). Click a cell to shade the text by it.")
        self.show()

    def show_image(self, gated, plain, image: np.ndarray, height: int, width: int) -> None:
        self.pages.setCurrentIndex(1)
        self.influence_button.hide()
        self.make_room(340)
        self.gated_map.show_field(gated, image, height, width)
        self.plain_map.show_field(plain, image, height, width)
        self.heading.setText(self._heading(gated, "pixel", None))
        blind = int(plain.blind_spot.sum()) if plain is not None and plain.blind_spot is not None else 0
        self.detail.setText(
            f"The gated model sees <b>{gated.seen:,}</b> pixels before this one: rows above within its reach and the "
            f"row's pixels to the left, no blind spot. The plain masked stack of the same depth sees "
            f"<b>{plain.seen:,}</b>: <b>{blind:,}</b> pixels of the cone above-right (hatched) never reach it, the blind "
            f"spot of stacked masked convolutions (its weights are untrained: the masks alone decide its field). "
            f"Tinted: allowed by the masks; yellow to red: measured influence (log scale); red box: the output.")
        self.show()

    def show_audio(self, field, rate: int, edges) -> None:
        self.pages.setCurrentWidget(self.tree)
        self.influence_button.hide()
        self.make_room(320)
        self.tree.show_field(field, edges)
        self.heading.setText(self._heading(field, "sample", None))
        self.detail.setText(
            f"Field: <b>{field.field_span:,} samples = {field.field_span / rate * 1000:.1f} ms</b> of sound before the "
            f"output, through {len(field.layers or []) - 1} causal dilated convolutions (each doubling the reach). "
            f"The waveform above shows the measured influence over the same span.")
        self.show()

    @staticmethod
    def _heading(field, unit: str, labels) -> str:
        what = "log p of its value" if field.measure == "log-prob" else "its entropy"
        name = ""
        if labels is not None and field.position < len(labels):
            name = f" ({html.escape(labels[field.position])})"
        after = "exactly 0" if field.after_output_is_zero() else "<b>not 0: it sees the future</b>"
        near = ", ".join(f"{int(i) + 1:,}" for i in field.strongest(3)) or "none"
        return (f"<b>What {unit} {field.position + 1:,}{name} sees.</b> Allowed by the architecture: {field.seen:,} "
                f"{unit}s. Measured on the real weights (the gradient of {what}): strongest {unit}s {near}; "
                f"the output itself and everything after it: {after}.<br>{html.escape(field.note)}")
