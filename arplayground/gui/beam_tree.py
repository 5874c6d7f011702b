"""The tree of beams, painted: one column per step, one node per candidate (its character), a branch
from the hypothesis it extends labelled with the cumulative log p; pruned branches grey, finished
ones green, the best hypothesis's path highlighted. Only the columns in view are painted, so a long
search costs no more to redraw than a short one."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, QSize, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from arplayground.core.beam import FINISHED, KEPT, PRUNED, ROOT

COLUMN = 92  # pixels per step
ROW = 22  # pixels per candidate
BOX = 20  # a node's square
LEFT, TOP = 56, 26  # room for the prompt's node and the step numbers
DRAWN_PER_PAINT = 3  # columns drawn afresh in one paint at most (each takes 2-5 ms)
CACHED_COLUMNS = 48  # columns kept drawn: about three screens' worth (a column of width 8 is ~0.6 MB)

INK = {KEPT: QColor("#202020"), FINISHED: QColor("#1b7a2a"), PRUNED: QColor("#b8b8b8")}
BEST = QColor("#e8730c")


class BeamTree(QWidget):
    """Fed BeamSteps (core.beam) one at a time by the tab; knows nothing of the model."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.label = str  # value -> the character shown (the vocabulary's label)
        self.steps: list = []
        self.nodes: list = []  # by id, as the search numbers them
        self.rows: list[int] = []  # by node id: its row in its column
        self.best_path: set[int] = set()
        self._pictures: dict[int, QPixmap] = {}  # step -> its column drawn (newest use last)
        self.font_small = QFont(self.font())
        self.font_small.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.75))
        self._resize()

    def clear(self, label=None) -> None:
        if label is not None:
            self.label = label
        self.steps, self.nodes, self.rows, self.best_path = [], [], [], set()
        self._pictures = {}
        self._resize()
        self.update()

    def add_step(self, step, show: bool = True) -> None:
        """One more column; with show=False it is drawn at the next show() (the tab shows at most
        a few times a frame's worth of steps while a search streams)."""
        self.steps.append(step)
        for row, node in enumerate(step.nodes):
            assert node.id == len(self.nodes), "steps arrive in order"
            self.nodes.append(node)
            self.rows.append(row)
        if show:
            self.show_steps()

    def show_steps(self) -> None:
        self._mark_best()
        self._resize()
        self.update()

    def back(self) -> None:
        """The newest step forgotten."""
        if not self.steps:
            return
        step = self.steps.pop()
        self._pictures.pop(len(self.steps), None)
        del self.nodes[len(self.nodes) - len(step.nodes):]
        del self.rows[len(self.rows) - len(step.nodes):]
        self._mark_best()
        self._resize()
        self.update()

    def _mark_best(self) -> None:
        self.best_path = set()
        node = self.steps[-1].best if self.steps else ROOT
        while node != ROOT:
            self.best_path.add(node)
            node = self.nodes[node].parent

    def best_values(self) -> list[int]:
        return [self.nodes[i].value for i in sorted(self.best_path)]

    def _resize(self) -> None:
        tallest = max((len(s.nodes) for s in self.steps), default=1)
        self.setMinimumSize(QSize(LEFT + (len(self.steps) + 1) * COLUMN, TOP + tallest * ROW + 8))
        self.updateGeometry()

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    # ------------------------------------------------------------------ geometry

    def node_point(self, node_id: int) -> QPointF:
        """The centre of a node's box (ROOT: the prompt's)."""
        if node_id == ROOT:
            return QPointF(LEFT - COLUMN / 2 + BOX, TOP + ROW / 2)
        node = self.nodes[node_id]
        return QPointF(LEFT + node.step * COLUMN + COLUMN - BOX / 2 - 6, TOP + self.rows[node_id] * ROW + ROW / 2)

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event) -> None:
        """The columns in view from their cached pictures, then the best path over them."""
        p = QPainter(self)
        exposed = event.rect()
        p.fillRect(exposed, QColor("white"))
        first = max(0, (exposed.left() - LEFT) // COLUMN - 1)
        last = min(len(self.steps), (exposed.right() - LEFT) // COLUMN + 2)
        # Columns not drawn yet cost a few ms each: at most DRAWN_PER_PAINT a paint, the newest
        # first, the rest in the next paint, so a search that streams never holds up the window.
        budget, behind = DRAWN_PER_PAINT, False
        for t in range(last - 1, first - 1, -1):
            if t not in self._pictures:
                if not budget:
                    behind = True
                    continue
                budget -= 1
            p.drawPixmap(LEFT + t * COLUMN - 4, 0, self._column(t))
        if behind:
            QTimer.singleShot(0, self.update)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        if first == 0:
            self._box(p, self.node_point(ROOT), "▶", QColor("#202020"), bool(self.steps))
        for t in range(first, last):
            node = next((n for n in self.steps[t].nodes if n.id in self.best_path), None)
            if node is not None:
                self._branch(p, node, clear=True)
                self._box(p, self.node_point(node.id), self.label(node.value), BEST, True)
        p.end()

    def _column(self, t: int) -> QPixmap:
        """Step t's branches, labels and nodes as drawn without the highlight (a step never changes
        once made; the best path may): kept for the columns drawn lately."""
        picture = self._pictures.pop(t, None)
        if picture is None:
            picture = self._draw_column(t)
        self._pictures[t] = picture  # the newest at the end
        while len(self._pictures) > CACHED_COLUMNS:
            self._pictures.pop(next(iter(self._pictures)))
        return picture

    def _draw_column(self, t: int) -> QPixmap:
        """In passes (the greyed branches under the others, every label, every box, every
        character), each with its pen and font set once: a column of width 8 is 72 candidates,
        and the per-call cost of setting pens and fonts was most of its drawing."""
        step = self.steps[t]
        ratio = self.devicePixelRatioF()
        picture = QPixmap(int(COLUMN * ratio), int((TOP + len(step.nodes) * ROW + 8) * ratio))
        picture.setDevicePixelRatio(ratio)
        picture.fill(QColor("white"))
        p = QPainter(picture)
        p.translate(-(LEFT + t * COLUMN - 4), 0)
        p.setPen(QColor("#707070"))
        p.setFont(self.font_small)
        p.drawText(QRectF(LEFT + t * COLUMN, 2, COLUMN - 6, TOP - 6),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"step {t + 1}")
        # Positions by plain arithmetic, sorted into one list per fate, then a few calls a fate:
        # a column of width 8 is 72 candidates, and Python per candidate was most of its cost.
        x = LEFT + t * COLUMN + COLUMN - BOX / 2 - 6  # every node's centre in this column
        parent_x = x - COLUMN if t else self.node_point(ROOT).x()
        lines = {fate: [] for fate in INK}
        labels = {fate: [] for fate in INK}
        boxes = {fate: [] for fate in INK}
        for row, n in enumerate(step.nodes):
            y = TOP + row * ROW + ROW / 2
            parent_y = TOP + ROW / 2 + (self.rows[n.parent] * ROW if n.parent != ROOT else 0)
            lines[n.fate].append(QLineF(parent_x + BOX / 2 + 2, parent_y, x - BOX / 2, y))
            labels[n.fate].append((QRectF(x - BOX / 2 - 48, y - ROW / 2 + 3, 46, ROW - 6), f"{n.total:.2f}"))
            boxes[n.fate].append((QRectF(x - BOX / 2, y - BOX / 2 + 1, BOX, BOX - 2), self.label(n.value)))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        centre = Qt.AlignmentFlag.AlignCenter
        for fate in (PRUNED, KEPT, FINISHED):  # plain 1-pixel lines: antialiased ones cost twice as much
            p.setPen(QPen(INK[fate], 1.0))
            p.drawLines(lines[fate])
        for fate in (PRUNED, KEPT, FINISHED):
            p.setPen(QColor("#a0a0a0") if fate == PRUNED else INK[fate])
            for rect, text in labels[fate]:
                p.drawText(rect, right, text)
        p.setFont(self.font())
        for fate in (PRUNED, KEPT, FINISHED):
            p.setPen(QPen(INK[fate], 2.0 if fate == FINISHED else 1.0))
            p.setBrush(QColor("#eaf6ea") if fate == FINISHED else QColor("white"))
            p.drawRects([rect for rect, _ in boxes[fate]])
            for rect, text in boxes[fate]:
                p.drawText(rect, centre, text)
        p.end()
        return picture

    def _branch(self, p: QPainter, node, clear: bool = False) -> None:
        """The branch into node with its cumulative log p; `clear`: highlighted, over the cached
        column (its label's place cleared first, so the two never blur into each other)."""
        start, end = self.node_point(node.parent), self.node_point(node.id)
        colour = BEST if clear else INK[node.fate]
        label = QRectF(end.x() - BOX / 2 - 48, end.y() - ROW / 2 + 3, 46, ROW - 6)
        if clear:
            p.fillRect(label, QColor("white"))
        p.setPen(QPen(colour, 2.6 if clear else 1.0))
        p.drawLine(QPointF(start.x() + BOX / 2 + 2, start.y()), QPointF(end.x() - BOX / 2, end.y()))
        p.setFont(self.font_small)
        p.setPen(colour if node.fate != PRUNED or clear else QColor("#a0a0a0"))
        p.drawText(label, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{node.total:.2f}")

    def _box(self, p: QPainter, centre: QPointF, text: str, colour: QColor, strong: bool, finished: bool = False) -> None:
        rect = QRectF(centre.x() - BOX / 2, centre.y() - BOX / 2 + 1, BOX, BOX - 2)
        p.setPen(QPen(colour, 2.0 if strong or finished else 1.0))
        p.setBrush(QColor("#fff1e3") if strong else QColor("#eaf6ea") if finished else QColor("white"))
        p.drawRoundedRect(rect, 3, 3)
        p.setFont(self.font())
        p.setPen(colour)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
