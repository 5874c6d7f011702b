"""Image mode's view: a 28 x 28 digit filling in raster order, crisp scaled-up pixels, a cursor on
the pixel being drawn; click any drawn pixel to see the distribution it was drawn from.

Run alone for quick work on the canvas:

    python -m arplayground.gui.views.image
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRect, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QPushButton,
    QSpinBox,
    QWidget,
)

from arplayground.core.score import surprisal_bits as chain_rule_terms  # the view's own surprisal_bits is its map
from arplayground.gui.causality_panel import FIELD_TINT, heat_colour, influence_levels
from arplayground.gui.distribution_panel import panel_data
from arplayground.gui.image_files import ImageFileError, read_digit, write_png
from arplayground.gui.note_line import NoteLine
from arplayground.gui.settings_store import add_recent, ask_open_path, ask_save_path
from arplayground.gui.views.base import ModeView

UNDRAWN = (44, 56, 78)  # not yet generated: a dark blue, so it never reads as black ink
GAP_PIXELS = 2  # between the images of a grid in a saved PNG
DIGIT_MAP_BITS = 1.0  # the digit map's colour scale: 0 bits dark .. this many or more yellow (most pixels: ~0)
# The digit a new window asks for, so the first Generate shows a digit drawn well: at guidance 2
# and seed 1234 the classifier of benchmarks/image_digits.py reads this 3 as 3 (p 0.99), and at
# guidance 2 every 3 it drew read right (10 of 10). "any digit" stays in the box.
DEFAULT_DIGIT = 3
SURPRISAL_BITS = 8.0  # the surprisal map's: 0 bits (the model was sure) dark .. 8 or more (1 in 256 or worse) yellow


def kl_bits(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) in bits along the last axis: how much a distribution q (without the digit) would
    have to change to become p (with it). q is floored so that the figure stays finite."""
    p, q = p.astype(np.float64), np.maximum(q.astype(np.float64), 1e-12)
    return np.where(p > 0, p * np.log2(np.maximum(p, 1e-300) / q), 0.0).sum(-1)


def heat(bits: np.ndarray, scale: float = DIGIT_MAP_BITS) -> np.ndarray:
    """(..., 3) colours (0-255) for figures in bits: dark, red, then yellow at `scale` and above."""
    a = np.clip(bits / scale, 0.0, 1.0)
    return np.stack([np.minimum(2 * a, 1.0), np.clip(2 * a - 1, 0.0, 1.0), np.zeros_like(a)], -1) * 255


GAP = 6  # screen pixels between the images of a grid


class PixelCanvas(QWidget):
    """Paints one image, or a grid of images drawn as one batch, as crisp squares (no smoothing).

    Every image of a grid fills in lockstep, so one `known` count serves them all. `active` is
    the image that drawing, opening and completion work on (the last one clicked or drawn on).
    Only reads arrays the GUI thread owns.
    """

    pixel_clicked = Signal(int, int)  # image of the grid, raster index of a drawn pixel
    edited = Signal()  # drawn on, erased, cleared or loaded

    def __init__(self, height: int = 28, width: int = 28, parent=None):
        super().__init__(parent)
        self.H, self.W = height, width
        self.rows, self.cols = 1, 1
        self.images = np.zeros((1, height, width), np.uint8)
        self.labels: list[str] = [""]  # caption per image (its digit), shown on grids
        self.active = 0
        self.known = 0  # pixels 0 .. known-1 (raster order) are drawn, in every image
        self.selected: tuple[int, int] | None = None  # (image, pixel) being inspected
        self.editable = True  # False while a run is writing into the images
        # The digit map, when shown: (images, H * W) KL figures in bits, NaN where there are none.
        self.overlay: np.ndarray | None = None
        self.field_rgb: np.ndarray | None = None  # What it sees: (H, W, 3) for the one image, over everything
        self.overlay_scale = DIGIT_MAP_BITS  # bits at which the overlay turns yellow
        self.setMinimumSize(168, 168)  # 6 screen pixels a pixel: the window, menu bar included, still fits a 768-pixel-high laptop screen
        self.setToolTip("Click a pixel to see its distribution. Shift+drag draws, right-drag erases.")
        self.setMouseTracking(True)

    @property
    def image(self) -> np.ndarray:
        """The active image, (H, W)."""
        return self.images[self.active]

    def start(self, prefix, rows: int = 1, cols: int = 1, labels=None) -> None:
        """A new run of rows x cols images, each starting from the same prefix."""
        self.rows, self.cols = rows, cols
        self.images = np.zeros((rows * cols, self.H, self.W), np.uint8)
        self.labels = list(labels) if labels is not None else [""] * (rows * cols)
        self.known = len(prefix)
        self.images.reshape(rows * cols, -1)[:, : self.known] = prefix
        self.active = 0
        self.selected = None
        self.update()

    def append(self, values, lanes=None) -> None:
        """New pixels, oldest first; for a grid `lanes` says which image each belongs to. A batch
        always holds whole positions (every image's pixel), so the images stay in lockstep."""
        values = np.asarray(values, np.uint8)
        n = len(self.images)
        if n > 1:
            assert lanes is not None and len(values) % n == 0 and list(lanes[:n]) == list(range(n))
        per_image = values.reshape(-1, n).T  # (images, positions)
        self.images.reshape(n, -1)[:, self.known : self.known + per_image.shape[1]] = per_image
        self.known += per_image.shape[1]
        self.update()

    @property
    def cursor_index(self) -> int | None:
        return self.known if self.known < self.H * self.W else None

    def cell_rect(self) -> tuple[int, int, int]:
        """(left, top, size of one pixel on screen) of the first image; the others follow at
        image_origin()."""
        rows, cols = self.rows, self.cols
        cell = max(1, min((self.width() - (cols - 1) * GAP) // (self.W * cols), (self.height() - (rows - 1) * GAP) // (self.H * rows)))
        left = (self.width() - cell * self.W * cols - GAP * (cols - 1)) // 2
        top = (self.height() - cell * self.H * rows - GAP * (rows - 1)) // 2
        return left, top, cell

    def image_origin(self, image: int) -> tuple[int, int, int]:
        left, top, cell = self.cell_rect()
        r, c = divmod(image, self.cols)
        return left + c * (cell * self.W + GAP), top + r * (cell * self.H + GAP), cell

    def index_at(self, pos) -> tuple[int, int] | None:
        """(image, pixel) under a widget position, or None between images."""
        for image in range(len(self.images)):
            left, top, cell = self.image_origin(image)
            c, r = (pos.x() - left) // cell, (pos.y() - top) // cell
            if 0 <= r < self.H and 0 <= c < self.W and pos.x() >= left and pos.y() >= top:
                return image, int(r * self.W + c)
        return None

    def rgb(self, image: int | None = None) -> np.ndarray:
        """What is on screen for one image, (H, W, 3): drawn pixels grey, the rest UNDRAWN."""
        return self._rgb_all()[self.active if image is None else image]

    def _rgb_all(self) -> np.ndarray:
        """rgb() of every image at once, (images, H, W, 3): the pixels not drawn yet are the tail
        of the raster order, one slice (a grid repaints ten images up to 60 times a second)."""
        out = np.repeat(self.images[..., None], 3, axis=3)
        # The digit map: heat where there is a figure, the digit dimmed under it. With no figure at
        # all (guidance 1, "any digit", or not drawn yet) dimming alone would look like a failed render.
        if self.overlay is not None and self.overlay.size == out[..., 0].size and np.isfinite(self.overlay).any():
            bits = self.overlay.reshape(out.shape[:3])
            dimmed = out * 0.35
            out = np.where(np.isnan(bits)[..., None], dimmed, np.maximum(heat(np.nan_to_num(bits), self.overlay_scale), dimmed)).astype(np.uint8)
        out.reshape(len(self.images), -1, 3)[:, self.known :] = UNDRAWN
        if self.field_rgb is not None and len(self.images) == 1:
            out[0] = self.field_rgb
        return out

    def paintEvent(self, event) -> None:
        shown = self._rgb_all()  # before the painter: a failure here must not leave one active
        painter = QPainter(self)
        try:  # an exception while painting must still end the painter, or the next repaint crashes
            self._paint(painter, shown)
        finally:
            painter.end()

    def _paint(self, painter: QPainter, shown: np.ndarray) -> None:
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for image in range(len(self.images)):
            left, top, cell = self.image_origin(image)
            rgb = shown[image]  # contiguous: one image of the stack
            qimage = QImage(rgb.data, self.W, self.H, 3 * self.W, QImage.Format.Format_RGB888)
            painter.drawImage(QRect(left, top, cell * self.W, cell * self.H), qimage)
            marks = [(self.cursor_index, QColor(230, 40, 40))]
            if self.selected is not None and self.selected[0] == image:
                marks.append((self.selected[1], QColor(255, 200, 0)))
            for index, colour in marks:
                if index is not None:
                    r, c = divmod(index, self.W)
                    painter.setPen(QPen(colour, max(1 if len(self.images) > 1 else 2, cell // 6)))
                    painter.drawRect(left + c * cell, top + r * cell, cell, cell)
            if len(self.images) > 1 and self.labels[image]:
                painter.setPen(QColor(150, 160, 180))
                painter.drawText(left + 2, top + 12, self.labels[image])

    def mousePressEvent(self, event) -> None:
        hit = self.index_at(event.position().toPoint())
        if hit is None:
            return
        image, index = hit
        if self.editable and event.modifiers() & Qt.KeyboardModifier.ShiftModifier or (
            self.editable and event.button() == Qt.MouseButton.RightButton
        ):
            self.paint_at(index, erase=event.button() == Qt.MouseButton.RightButton, image=image)
        elif index < self.known:
            self.active = image
            self.selected = (image, index)
            self.update()
            self.pixel_clicked.emit(image, index)

    def mouseMoveEvent(self, event) -> None:
        buttons = event.buttons()
        if not self.editable or not buttons & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            return
        if buttons & Qt.MouseButton.LeftButton and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return  # a plain left drag inspects; Shift+drag draws, right drag erases
        hit = self.index_at(event.position().toPoint())
        if hit is not None:
            self.paint_at(hit[1], erase=bool(buttons & Qt.MouseButton.RightButton), image=hit[0])

    def paint_at(self, index: int, erase: bool = False, image: int | None = None) -> None:
        """A soft brush like an MNIST stroke: full ink at the pixel, half ink around it."""
        if image is not None:
            self.active = image
        r, c = divmod(index, self.W)
        if self.known < self.H * self.W:  # drawing turns the canvas into finished images
            self.images.reshape(len(self.images), -1)[:, self.known :] = 0
            self.known = self.H * self.W
        target = self.image
        if erase:
            target[max(0, r - 1) : r + 2, max(0, c - 1) : c + 2] = 0
        else:
            for dr, dc, ink in ((0, 0, 255), (-1, 0, 128), (1, 0, 128), (0, -1, 128), (0, 1, 128)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < self.H and 0 <= cc < self.W:
                    target[rr, cc] = max(target[rr, cc], ink)
        self.edited.emit()
        self.update()

    def set_image(self, image: np.ndarray) -> None:
        """Show one finished image (opened or cleared): the canvas becomes a single image."""
        self.start([], 1, 1)
        self.images[0] = image
        self.known = self.H * self.W
        self.edited.emit()
        self.update()

    def grey_array(self) -> np.ndarray:
        """All images as one grey mosaic, GAP_PIXELS of mid grey between grid cells; one image: 28 x 28."""
        gap = GAP_PIXELS if len(self.images) > 1 else 0
        out = np.full((self.rows * (self.H + gap) - gap, self.cols * (self.W + gap) - gap), 128, np.uint8)
        for image in range(len(self.images)):
            r, c = divmod(image, self.cols)
            out[r * (self.H + gap) : r * (self.H + gap) + self.H, c * (self.W + gap) : c * (self.W + gap) + self.W] = self.images[image]
        return out


# (label, (rows, cols, digits or None = every image the chosen digit))
GRIDS = [
    ("1 image", (1, 1, None)),
    ("2 x 2", (2, 2, None)),
    ("3 x 3", (3, 3, None)),
    ("4 x 4", (4, 4, None)),
    ("digits 0-9, one each", (2, 5, tuple(range(10)))),
]


def by_lane(column: np.ndarray, lanes: int) -> np.ndarray:
    """A grid's per-step column, position-major (step i is image i % lanes), image by image:
    (positions * lanes, ...) -> (lanes, positions, ...)."""
    return column.reshape(-1, lanes, *column.shape[1:]).swapaxes(0, 1)


class ImageModeView(ModeView):
    """Image mode: its controls (digit, rows to keep, save) and its canvas."""

    mode = "image"
    unit = "pixel"
    step_clicked = Signal(int)  # index of the run's step drawn at the clicked pixel
    content_replaced = Signal()  # drawn on, erased, cleared or opened: the run shown before is gone

    def __init__(self):
        super().__init__()
        self.canvas = PixelCanvas()
        self.display = self.canvas
        self.canvas.pixel_clicked.connect(self._on_pixel_clicked)
        self.controls = QWidget()
        form = QFormLayout(self.controls)
        form.setContentsMargins(0, 0, 0, 0)
        self.digit_box = QComboBox()
        self.digit_box.addItem("any digit", None)
        for d in range(10):
            self.digit_box.addItem(str(d), d)
        self.digit_box.setCurrentIndex(self.digit_box.findData(DEFAULT_DIGIT))
        form.addRow("Digit", self.digit_box)
        self.grid_box = QComboBox()
        for text, shape in GRIDS:
            self.grid_box.addItem(text, shape)
        self.grid_box.setToolTip("Several images drawn at once, as one batch through the model; each image i uses seed + i")
        form.addRow("Grid", self.grid_box)
        self.grid_box.currentIndexChanged.connect(self._on_grid_changed)
        self.keep_rows = QSpinBox()
        self.keep_rows.setRange(0, 27)
        self.keep_rows.setSuffix(" rows kept")
        self.keep_rows.setToolTip("Keep this many top rows of the image on the canvas; the model completes the rest")
        form.addRow("Complete", self.keep_rows)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open PNG…")
        self.clear_button = QPushButton("Clear")
        self.save_button = QPushButton("Save PNG…")
        for b in (self.open_button, self.clear_button, self.save_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        self.open_button.clicked.connect(self.open_dialog)
        self.clear_button.clicked.connect(lambda: self.canvas.set_image(np.zeros((28, 28), np.uint8)))
        self.save_button.clicked.connect(self.save_dialog)
        self.canvas.edited.connect(self._on_edited)
        self.digit_map_box = QCheckBox("Show where the digit mattered")
        self.digit_map_box.setToolTip(
            "Colours each pixel drawn with guidance by how much the digit changed its distribution: "
            "KL(with the digit || without it), from 0 bits (dark) to 1 or more (yellow)")
        self.digit_map_box.toggled.connect(self._show_digit_map)
        form.addRow(self.digit_map_box)
        self.surprisal_box = QCheckBox("Show each pixel's surprisal")
        self.surprisal_box.setToolTip(
            "Colours each drawn pixel by −log₂ p of its grey level under the model, given the pixels before it: "
            f"0 bits (dark: the model was sure) to {SURPRISAL_BITS:g} or more (yellow: 1 in 256 or less likely)")
        self.surprisal_box.toggled.connect(self._on_surprisal_toggled)
        form.addRow(self.surprisal_box)
        self.note = NoteLine()  # room kept for two lines: a note never moves the controls under it
        form.addRow(self.note)
        self.prefix_len = 0
        self.lanes = 1
        self.digits = (None,)  # the condition of each image of the run shown
        # The digit map: KL(with || without the digit) of every guided pixel, (image, pixel) bits;
        # drawn from the run's full distributions (the trace keeps those, not this view).
        self.digit_bits = np.full((1, 0), np.nan, np.float32)
        # -log2 p of every drawn pixel of the run shown, (image, pixel) bits, NaN where not drawn.
        self.surprisal_bits = np.full((1, 0), np.nan, np.float32)

    def check(self, entry) -> bool:
        return True

    @Slot()
    def _on_edited(self) -> None:
        self.prefix_len, self.lanes = 0, len(self.canvas.images)  # no drawn run is shown any more
        self.digit_map_box.setChecked(False)  # its figures were the run's:
        self.surprisal_box.setChecked(False)
        self.digit_bits = np.full((self.lanes, 0), np.nan, np.float32)  # ticked again, they must not reappear
        self.surprisal_bits = np.full((self.lanes, 0), np.nan, np.float32)
        self.note.setText("Edited: set rows to keep, then Generate to complete it.")
        self.content_replaced.emit()

    @Slot()
    def _show_digit_map(self) -> None:
        """The digit map on (the canvas colours the run's KL figures, which grow with it) or off."""
        # Only a map of the images on the canvas, pixel for pixel: before any run (or after an edit)
        # there is none, and the note below says why.
        c = self.canvas
        if self.digit_map_box.isChecked() and self.surprisal_box.isChecked():
            self.surprisal_box.setChecked(False)  # one map at a time (that calls back here)
            return
        shown = self.digit_map_box.isChecked() and self.digit_bits.shape == (len(c.images), c.H * c.W)
        surprisal = self.surprisal_box.isChecked() and self.surprisal_bits.shape == (len(c.images), c.H * c.W)
        c.overlay = self.digit_bits if shown else self.surprisal_bits if surprisal else None
        c.overlay_scale = SURPRISAL_BITS if surprisal and not shown else DIGIT_MAP_BITS
        self.canvas.update()
        self._describe_map()

    def _describe_map(self) -> None:
        """The ticked map's legend and figures in the note."""
        if self.digit_map_box.isChecked():
            self._describe_digit_map()
        elif self.surprisal_box.isChecked():
            self._describe_surprisal()

    def clear_note(self) -> None:
        """As every view's, but a ticked map keeps its legend."""
        self.note.clear()
        self._describe_map()

    @Slot(bool)
    def _on_surprisal_toggled(self, ticked: bool) -> None:
        if ticked and self.digit_map_box.isChecked():
            self.digit_map_box.setChecked(False)  # one map at a time; unticking redraws
        else:
            self._show_digit_map()

    def _describe_surprisal(self) -> None:
        figures = self.surprisal_bits[np.isfinite(self.surprisal_bits)]
        if len(figures):
            self.note.setText(f"Surprisal map: −log₂ p of each drawn pixel, 0 (dark) to {SURPRISAL_BITS:g}+ bits (yellow); "
                              f"{figures.mean():.3f} bits/pixel on average, {figures.sum():,.1f} bits in all.")
        else:
            self.note.setText("The surprisal map colours the pixels of a run or a scored image as they are drawn.")

    def _describe_digit_map(self) -> None:
        figures = self.digit_bits[np.isfinite(self.digit_bits)]
        if len(figures):
            self.note.setText(f"Digit map: KL(with the digit || without) per pixel drawn with guidance, 0 (dark) to "
                              f"{DIGIT_MAP_BITS:g}+ bits (yellow); median {np.median(figures):.2f}, max {figures.max():.2f} bits.")
        else:
            self.note.setText("The digit map needs a run drawn with guidance (not 1) and a digit: only then is each "
                              "pixel's distribution without the digit computed.")

    @Slot()
    def _on_grid_changed(self) -> None:
        each_digit = self.grid_box.currentData()[2] is not None  # the grid names its own digits
        self.digit_box.setEnabled(not each_digit)
        self.digit_box.setToolTip("The grid draws each digit once" if each_digit else "")

    def prepare(self, vocab):
        """(prefix, condition, steps) for a new run. The active image keeps the chosen rows; on a
        grid every image starts from them, so one drawing can be completed many ways."""
        keep = self.keep_rows.value() * self.canvas.W
        prefix = tuple(int(v) for v in self.canvas.image.reshape(-1)[: min(keep, self.canvas.known)])
        self.prefix_len = len(prefix)
        rows, cols, digits = self.grid_box.currentData()
        self.lanes = rows * cols
        if digits is None:
            digits = (self.digit_box.currentData(),) * self.lanes
        self._start(prefix, rows, cols, digits, len(vocab))
        condition = digits[0] if self.lanes == 1 else list(digits)
        return prefix, condition, self.canvas.H * self.canvas.W - len(prefix)

    def prepare_replay(self, vocab, prefix, condition, n_steps: int):
        """Like prepare(), for a given run (an opened trace, an A/B side): one image from its kept
        pixels, or a grid (a condition per image, a list) in the window's grid of that many images."""
        digits = list(condition) if isinstance(condition, list) else [condition]
        grid = next(i for i, (_, (rows, cols, _)) in enumerate(GRIDS) if rows * cols == len(digits))
        self.grid_box.setCurrentIndex(grid)
        if len(set(digits)) == 1:
            self.digit_box.setCurrentIndex(max(0, self.digit_box.findData(digits[0])))
        rows, cols, _ = GRIDS[grid][1]
        self.prefix_len, self.lanes = len(prefix), len(digits)
        self._start(prefix, rows, cols, digits, len(vocab))
        return tuple(prefix), condition, n_steps

    def _start(self, prefix, rows: int, cols: int, digits, levels: int) -> None:
        """Empty distributions and digit map for the new run's images, and the canvas ready for them."""
        self.digits = tuple(digits)
        self.digit_bits = np.full((rows * cols, self.canvas.H * self.canvas.W), np.nan, np.float32)  # KL(with || without the digit): guided pixels
        self.surprisal_bits = np.full((rows * cols, self.canvas.H * self.canvas.W), np.nan, np.float32)
        self.canvas.start(prefix, rows, cols, ["any" if d is None else str(d) for d in digits])
        self.note.clear()  # "Edited …", "Opened …", "Saved …" are spent: a completion, run or replay starts
        self._show_digit_map()  # the ticked map, filled as the run comes, and its legend in the note

    def append(self, batch, trace=None) -> None:
        """New pixels: the batch's blocks (one position of the per-step loop, a replay, or a
        compiled chunk); where guided, the digit map's figures from their full distributions."""
        for block in batch.blocks:
            if block.unconditional is not None:
                self._map_digit(block.position, block.positions, block.raw, block.unconditional)
            bits = chain_rule_terms(block.columns["prob"])
            self.surprisal_bits[:, block.position : block.position + block.positions] = bits.reshape(-1, self.lanes).T
            self.canvas.append(block.values, np.tile(np.arange(self.lanes), block.positions))

    def _map_digit(self, pixel: int, positions: int, raw, unconditional) -> None:
        """The digit map's KL figures of pixels pixel .. pixel + positions - 1 of every image, from
        their (positions * lanes, levels) distributions, position-major."""
        self.digit_bits[:, pixel : pixel + positions] = kl_bits(by_lane(raw, self.lanes), by_lane(unconditional, self.lanes))

    def rewind(self, steps: int) -> None:
        """Keep the first `steps` drawn pixels (single image: the lab does not step grids back)."""
        assert self.lanes == 1
        self.canvas.known = self.prefix_len + steps
        self.canvas.selected = None
        self.canvas.update()

    def render(self, trace) -> None:
        """Show `trace` (a chosen branch, an opened trace; a grid's images interleaved, step by
        step): its pixels after the kept ones, and the digit map of its guided pixels."""
        c, lanes, steps = self.canvas, self.lanes, len(trace)
        drawn = slice(self.prefix_len, self.prefix_len + steps // lanes)  # the pixels drawn in each image
        c.images.reshape(lanes, -1)[:, drawn] = by_lane(trace.column("value"), lanes)
        c.known, c.selected = drawn.stop, None
        self.digit_bits[:] = np.nan
        self.surprisal_bits[:] = np.nan
        self.surprisal_bits[:, drawn] = by_lane(chain_rule_terms(trace.column("prob")), lanes)
        guided = np.array([s.guided for s in trace.settings_per_step()], bool)
        raw, unconditional = trace.full_column("raw", 0, steps), trace.full_column("unconditional", 0, steps)
        if steps and guided.any() and raw is not None and unconditional is not None:
            bits = kl_bits(by_lane(raw, lanes), by_lane(unconditional, lanes))
            self.digit_bits[:, drawn] = np.where(by_lane(guided, lanes), bits, np.nan)
        self._show_digit_map()
        c.update()

    def show_field(self, field, head=None) -> None:
        """What it sees: the image dimmed, the pixels the masks let reach the output tinted, the
        measured influence (log scale) over them; the output is the shown pixel's box."""
        c = self.canvas
        if field is None or len(c.images) != 1:
            c.field_rgb = None
            c.update()
            return
        grey = c.images[0].reshape(-1).astype(np.float64)
        known = np.arange(grey.size) < c.known
        base = np.where(known, 50 + 0.45 * grey, 225.0)
        rgb = np.repeat(base[:, None], 3, axis=1)
        tint = np.array([FIELD_TINT.red(), FIELD_TINT.green(), FIELD_TINT.blue()], np.float64)
        a = FIELD_TINT.alpha() / 255
        rgb[field.structural] = rgb[field.structural] * (1 - a) + tint * a
        levels = influence_levels(field.measured)
        for i in np.flatnonzero(levels > 0):
            colour = heat_colour(levels[i])
            rgb[i] = (colour.red(), colour.green(), colour.blue())
        c.field_rgb = np.ascontiguousarray(rgb.reshape(c.H, c.W, 3).astype(np.uint8))
        c.update()

    def show_in_panel(self, panel, trace, index: int, vocab, what_if=None) -> None:
        """Step `index` of the run: pixel prefix_len + index // lanes of image index % lanes (the
        trace holds a grid's images interleaved, position by position), with its 256 levels."""
        rec = trace[index]
        pixel, lane = rec.position, index % self.lanes
        r, c = divmod(pixel, self.canvas.W)
        if self.canvas.selected != (lane, pixel):  # the shown step's pixel, outlined in place
            self.canvas.selected = (lane, pixel)
            self.canvas.update()
        if self.lanes > 1:  # the trace interleaves the images: count the steps of this image alone
            steps = self.canvas.H * self.canvas.W - self.prefix_len
            title = f"image {lane + 1} (digit {self.canvas.labels[lane]}), pixel ({r}, {c}), step {index // self.lanes + 1} of {steps}"
        else:
            title = f"pixel ({r}, {c}), step {index + 1}"
        distributions = trace.distributions(index)
        if distributions is None:  # an opened trace saved before traces kept full distributions
            panel.show_step(panel_data(rec, index + 1, vocab), where=title)  # bars labelled by the vocabulary
            panel.hide_what_if("This trace was saved with each pixel's top candidates only.")
            return
        raw, sampled, unconditional = distributions
        panel.show_levels(
            title=title,
            raw=raw,
            sampled=sampled if what_if is None else what_if.final,
            drawn=rec.value,
            drawn_prob=rec.prob,
            entropy=rec.entropy,
            settings=rec.settings,
            vocab=vocab,
            unconditional=unconditional,
        )
        if what_if is None:
            panel.hide_what_if()
        else:
            panel.show_what_if(what_if, rec.u, rec.value, vocab.describe)

    @Slot(int, int)
    def _on_pixel_clicked(self, image: int, pixel: int) -> None:
        step = pixel - self.prefix_len
        if step >= 0:  # kept rows were given, not drawn: they have no distribution
            self.step_clicked.emit(step * len(self.canvas.images) + image)
        else:
            self.note.setText(f"Pixel {divmod(pixel, self.canvas.W)} was kept from the previous image, not drawn.")

    def run_forgotten(self) -> None:
        """The window let go of the run shown (another mode, an edit): no pixel of it is inspected."""
        if self.canvas.selected is not None:
            self.canvas.selected = None
            self.canvas.update()

    def set_running(self, running: bool) -> None:
        finished = not running and not self.canvas.editable  # a run has just ended
        self.canvas.editable = not running
        for b in (self.open_button, self.clear_button):
            b.setEnabled(not running)
        self.grid_box.setEnabled(not running)
        if finished and self.digit_map_box.isChecked():
            self._describe_digit_map()  # the finished run's figures

    def score_input(self, vocab):
        """The image on the canvas (a grid's: the one last clicked), whole, under its digit."""
        c = self.canvas
        if c.known < c.H * c.W:
            return (f"The image is not complete ({c.known} of {c.H * c.W} pixels): generate it whole, "
                    "draw on it or open a PNG to score it.")
        digit = self.digits[c.active] if len(c.images) > 1 and c.active < len(self.digits) else self.digit_box.currentData()
        return (), tuple(int(v) for v in c.image.reshape(-1)), digit

    def start_display(self, vocab, prefix, condition, n_steps: int) -> None:
        self.grid_box.setCurrentIndex(0)  # one image: what Score reads and shows
        self.prefix_len, self.lanes = len(prefix), 1
        self._start(prefix, 1, 1, (condition,), len(vocab))

    def open_dialog(self) -> None:
        path = ask_open_path(self.controls, "image", "Open image", "Images (*.png *.jpg *.bmp);;All files (*)")
        if path and self.open_image(path):
            add_recent(path)

    def open_image(self, path: str) -> bool:
        """Load an image as an MNIST digit and say what was done. Unreadable, or no ink: nothing changes."""
        try:
            opened = read_digit(path)
        except ImageFileError as e:
            self.note.setText(f"{e}. Nothing changed.")
            return False
        self.canvas.set_image(opened.pixels)
        self.note.setText(f"Opened {path}" + (f" ({'; '.join(opened.notes)})" if opened.notes else "") + ".")
        return True

    def save_dialog(self) -> None:
        name = "digit.png" if len(self.canvas.images) == 1 else "digits.png"
        path = ask_save_path(self.controls, "image", "Save image", name, "PNG images (*.png)")
        if path and self.save_png(path):
            add_recent(path)

    def save_png(self, path: str) -> bool:
        """The canvas as a grey PNG (image_files.write_png): a failed write leaves the old file whole."""
        try:
            write_png(path, self.canvas.grey_array())
        except ImageFileError as e:
            self.note.setText(f"Could not save {path}: {e}")
            return False
        except OSError as e:
            self.note.setText(f"Could not save {path}: {e.strerror or e}")
            return False
        self.note.setText(f"Saved {path}")
        return True


def main() -> int:
    """The canvas alone, filling with noise row by row, for quick work on its look."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    canvas = PixelCanvas()
    canvas.resize(420, 420)
    rng = np.random.default_rng(0)
    timer = QTimer()
    timer.timeout.connect(lambda: canvas.known < 784 and canvas.append(rng.integers(0, 256, 7)))
    timer.start(30)
    canvas.show()
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
