"""The tree of beams, painted: one column per step, one node per candidate (its character), a branch
from the hypothesis it extends labelled with the cumulative log p; pruned branches grey, finished
ones green, the best hypothesis's path highlighted. Only the columns in view are painted, so a long
search costs no more to redraw than a short one."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QWidget

from arplayground.core.beam import FINISHED, KEPT, PRUNED, ROOT

COLUMN = 92  # pixels per step
ROW = 22  # pixels per candidate
BOX = 20  # a node's square
LEFT, TOP = 56, 26  # room for the prompt's node and the step numbers

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
        self.font_small = QFont(self.font())
        self.font_small.setPointSizeF(max(6.0, self.font().pointSizeF() * 0.75))
        self._resize()

    def clear(self, label=None) -> None:
        if label is not None:
            self.label = label
        self.steps, self.nodes, self.rows, self.best_path = [], [], [], set()
        self._resize()
        self.update()

    def add_step(self, step) -> None:
        self.steps.append(step)
        for row, node in enumerate(step.nodes):
            assert node.id == len(self.nodes), "steps arrive in order"
            self.nodes.append(node)
            self.rows.append(row)
        self._mark_best()
        self._resize()
        self.update()

    def back(self) -> None:
        """The newest step forgotten."""
        if not self.steps:
            return
        step = self.steps.pop()
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
        return QPointF(LEFT + node.step * COLUMN + COLUMN - BOX / 2 - 4, TOP + self.rows[node_id] * ROW + ROW / 2)

    # ------------------------------------------------------------------ painting

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(event.rect(), QColor("white"))
        exposed = event.rect()
        first = max(0, (exposed.left() - LEFT) // COLUMN - 1)
        last = min(len(self.steps), (exposed.right() - LEFT) // COLUMN + 2)
        if first == 0:
            self._box(p, self.node_point(ROOT), "▶", QColor("#202020"), bool(self.steps))
        for t in range(first, last):
            step = self.steps[t]
            p.setPen(QColor("#707070"))
            p.setFont(self.font_small)
            p.drawText(QRectF(LEFT + t * COLUMN, 2, COLUMN, TOP - 6),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"step {t + 1}")
            # Greyed first, then the kept ones, then the best path on top.
            order = sorted(step.nodes, key=lambda n: (n.id in self.best_path, n.fate != PRUNED))
            for node in order:
                self._branch(p, node)
            for node in order:
                self._box(p, self.node_point(node.id), self.label(node.value),
                          BEST if node.id in self.best_path else INK[node.fate], node.id in self.best_path,
                          finished=node.fate == FINISHED)
        p.end()

    def _branch(self, p: QPainter, node) -> None:
        start, end = self.node_point(node.parent), self.node_point(node.id)
        best = node.id in self.best_path
        colour = BEST if best else INK[node.fate]
        p.setPen(QPen(colour, 2.6 if best else 1.0))
        p.drawLine(QPointF(start.x() + BOX / 2, start.y()), QPointF(end.x() - BOX / 2, end.y()))
        p.setFont(self.font_small)
        p.setPen(colour if node.fate != PRUNED or best else QColor("#a0a0a0"))
        p.drawText(QRectF(end.x() - BOX / 2 - 48, end.y() - ROW / 2, 46, ROW),
                   Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{node.total:.2f}")

    def _box(self, p: QPainter, centre: QPointF, text: str, colour: QColor, strong: bool, finished: bool = False) -> None:
        rect = QRectF(centre.x() - BOX / 2, centre.y() - BOX / 2 + 1, BOX, BOX - 2)
        p.setPen(QPen(colour, 2.0 if strong or finished else 1.0))
        p.setBrush(QColor("#fff1e3") if strong else QColor("#eaf6ea") if finished else QColor("white"))
        p.drawRoundedRect(rect, 3, 3)
        p.setFont(self.font())
        p.setPen(colour)
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
