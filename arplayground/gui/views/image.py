"""Image mode's view: a 28 x 28 digit filling in raster order, crisp scaled-up pixels, a cursor on
the pixel being drawn; click any drawn pixel to see the distribution it was drawn from.

Run alone for quick work on the canvas:

    python -m arplayground.gui.views.image
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, QRect, Qt, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QWidget,
)

UNDRAWN = (44, 56, 78)  # not yet generated: a dark blue, so it never reads as black ink


class PixelCanvas(QWidget):
    """Paints the image as crisp squares (no smoothing); only reads arrays the GUI thread owns."""

    pixel_clicked = Signal(int)  # raster index of a drawn pixel
    edited = Signal()  # drawn on, erased, cleared or loaded

    def __init__(self, height: int = 28, width: int = 28, parent=None):
        super().__init__(parent)
        self.H, self.W = height, width
        self.image = np.zeros((height, width), np.uint8)
        self.known = 0  # pixels 0 .. known-1 (raster order) are drawn
        self.selected: int | None = None
        self.editable = True  # False while a run is writing into the image
        self.setMinimumSize(280, 280)
        self.setToolTip("Click a pixel to see its distribution. Shift+drag draws, right-drag erases.")
        self.setMouseTracking(True)

    def start(self, prefix) -> None:
        self.image[:] = 0
        self.known = len(prefix)
        self.image.reshape(-1)[: self.known] = prefix
        self.selected = None
        self.update()

    def append(self, values) -> None:
        n = len(values)
        self.image.reshape(-1)[self.known : self.known + n] = values
        self.known += n
        self.update()

    @property
    def cursor_index(self) -> int | None:
        return self.known if self.known < self.H * self.W else None

    def cell_rect(self) -> tuple[int, int, int]:
        """(left, top, cell size) of the largest square grid that fits the widget."""
        cell = max(1, min(self.width() // self.W, self.height() // self.H))
        left = (self.width() - cell * self.W) // 2
        top = (self.height() - cell * self.H) // 2
        return left, top, cell

    def index_at(self, pos) -> int | None:
        left, top, cell = self.cell_rect()
        c, r = (pos.x() - left) // cell, (pos.y() - top) // cell
        if 0 <= r < self.H and 0 <= c < self.W:
            return int(r * self.W + c)
        return None

    def rgb(self) -> np.ndarray:
        """What is on screen, as an (H, W, 3) array: drawn pixels grey, the rest UNDRAWN."""
        out = np.repeat(self.image[:, :, None], 3, axis=2)
        undrawn = np.arange(self.H * self.W).reshape(self.H, self.W) >= self.known
        out[undrawn] = UNDRAWN
        return np.ascontiguousarray(out)

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        left, top, cell = self.cell_rect()
        rgb = self.rgb()
        qimage = QImage(rgb.data, self.W, self.H, 3 * self.W, QImage.Format.Format_RGB888)
        painter.drawImage(QRect(left, top, cell * self.W, cell * self.H), qimage)
        for index, colour in ((self.cursor_index, QColor(230, 40, 40)), (self.selected, QColor(255, 200, 0))):
            if index is not None:
                r, c = divmod(index, self.W)
                painter.setPen(QPen(colour, max(2, cell // 6)))
                painter.drawRect(left + c * cell, top + r * cell, cell, cell)
        painter.end()

    def mousePressEvent(self, event) -> None:
        index = self.index_at(event.position().toPoint())
        if index is None:
            return
        if self.editable and event.modifiers() & Qt.KeyboardModifier.ShiftModifier or (
            self.editable and event.button() == Qt.MouseButton.RightButton
        ):
            self.paint_at(index, erase=event.button() == Qt.MouseButton.RightButton)
        elif index < self.known:
            self.selected = index
            self.update()
            self.pixel_clicked.emit(index)

    def mouseMoveEvent(self, event) -> None:
        buttons = event.buttons()
        if not self.editable or not buttons & (Qt.MouseButton.LeftButton | Qt.MouseButton.RightButton):
            return
        if buttons & Qt.MouseButton.LeftButton and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            return  # a plain left drag inspects; Shift+drag draws, right drag erases
        index = self.index_at(event.position().toPoint())
        if index is not None:
            self.paint_at(index, erase=bool(buttons & Qt.MouseButton.RightButton))

    def paint_at(self, index: int, erase: bool = False) -> None:
        """A soft brush like an MNIST stroke: full ink at the pixel, half ink around it."""
        r, c = divmod(index, self.W)
        if self.known < self.H * self.W:  # drawing turns the whole canvas into a finished image
            self.image.reshape(-1)[self.known :] = 0
            self.known = self.H * self.W
        if erase:
            self.image[max(0, r - 1) : r + 2, max(0, c - 1) : c + 2] = 0
        else:
            for dr, dc, ink in ((0, 0, 255), (-1, 0, 128), (1, 0, 128), (0, -1, 128), (0, 1, 128)):
                rr, cc = r + dr, c + dc
                if 0 <= rr < self.H and 0 <= cc < self.W:
                    self.image[rr, cc] = max(self.image[rr, cc], ink)
        self.edited.emit()
        self.update()

    def set_image(self, image: np.ndarray) -> None:
        self.image[:] = image
        self.known = self.H * self.W
        self.selected = None
        self.edited.emit()
        self.update()

    def grey_qimage(self) -> QImage:
        grey = np.ascontiguousarray(self.image)
        return QImage(grey.data, self.W, self.H, self.W, QImage.Format.Format_Grayscale8).copy()


class ImageModeView(QObject):
    """Image mode: its controls (digit, rows to keep, save) and its canvas."""

    mode = "image"
    unit = "pixel"
    keeps_distributions = True  # 784 x 256 per image: small enough to keep for click-to-inspect
    step_clicked = Signal(int)  # index of the run's step drawn at the clicked pixel

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
        form.addRow("Digit", self.digit_box)
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
        self.canvas.edited.connect(lambda: self.note.setText("Edited: set rows to keep, then Generate to complete it."))
        self.note = QLabel()
        self.note.setWordWrap(True)
        form.addRow(self.note)
        self.prefix_len = 0
        self.raw = np.zeros((0, 256), np.float16)
        self.sampled = np.zeros((0, 256), np.float16)

    def check(self, entry) -> bool:
        return True

    def prepare(self, vocab):
        """(prefix, condition, steps) for a new run; the canvas keeps the chosen rows."""
        keep = self.keep_rows.value() * self.canvas.W
        prefix = tuple(int(v) for v in self.canvas.image.reshape(-1)[: min(keep, self.canvas.known)])
        self.prefix_len = len(prefix)
        total = self.canvas.H * self.canvas.W
        self.raw = np.zeros((total, len(vocab)), np.float16)
        self.sampled = np.zeros((total, len(vocab)), np.float16)
        self.canvas.start(prefix)
        return prefix, self.digit_box.currentData(), total - len(prefix)

    def append(self, batch) -> None:
        start = self.canvas.known
        if batch.distributions:
            for i, (raw, sampled) in enumerate(batch.distributions):
                self.raw[start + i], self.sampled[start + i] = raw, sampled
        self.canvas.append([r.value for r in batch.records])

    def show_in_panel(self, panel, trace, index: int, vocab) -> None:
        """Step `index` of the run (pixel prefix_len + index): its full 256-level distribution."""
        rec = trace[index]
        pixel = rec.position
        r, c = divmod(pixel, self.canvas.W)
        panel.show_levels(
            title=f"pixel ({r}, {c}), step {index + 1}",
            raw=self.raw[pixel].astype(np.float64),
            sampled=self.sampled[pixel].astype(np.float64),
            drawn=rec.value,
            drawn_prob=rec.prob,
            entropy=rec.entropy,
            settings=rec.settings,
        )

    @Slot(int)
    def _on_pixel_clicked(self, pixel: int) -> None:
        step = pixel - self.prefix_len
        if step >= 0:  # kept rows were given, not drawn: they have no distribution
            self.step_clicked.emit(step)
        else:
            self.note.setText(f"Pixel {divmod(pixel, self.canvas.W)} was kept from the previous image, not drawn.")

    def set_running(self, running: bool) -> None:
        self.canvas.editable = not running
        for b in (self.open_button, self.clear_button):
            b.setEnabled(not running)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.controls, "Open image", "", "Images (*.png *.jpg *.bmp);;All files (*)")
        if path:
            self.open_image(path)

    def open_image(self, path: str) -> bool:
        """Load an image as a 28 x 28 MNIST-like digit; say what was converted. Unreadable: nothing changes."""
        qimage = QImage(path)
        if qimage.isNull():
            self.note.setText(f"Could not open {path}: not an image file this app can read. Nothing changed.")
            return False
        notes = []
        if not qimage.isGrayscale():
            notes.append("colour converted to grey")
        if (qimage.width(), qimage.height()) != (28, 28):
            notes.append(f"{qimage.width()}x{qimage.height()} fitted to 28x28")
        grey = qimage.convertToFormat(QImage.Format.Format_Grayscale8)
        side = max(grey.width(), grey.height())
        square = QImage(side, side, QImage.Format.Format_Grayscale8)
        corner = grey.pixelColor(0, 0)
        square.fill(corner)  # pad with the background, keeping the aspect ratio
        painter = QPainter(square)
        painter.drawImage((side - grey.width()) // 2, (side - grey.height()) // 2, grey)
        painter.end()
        small = square.scaled(28, 28, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
        stride = small.bytesPerLine()
        pixels = np.frombuffer(small.constBits(), np.uint8, count=stride * 28).reshape(28, stride)[:, :28].copy()
        if pixels.mean() > 127:  # dark ink on light paper: MNIST digits are light on dark
            pixels = 255 - pixels
            notes.append("inverted to light-on-dark like MNIST")
        self.canvas.set_image(pixels)
        self.note.setText(f"Opened {path}" + (f" ({'; '.join(notes)})" if notes else "") + ".")
        return True

    def save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self.controls, "Save image", "digit.png", "PNG images (*.png)")
        if path:
            self.save_png(path)

    def save_png(self, path: str) -> bool:
        ok = self.canvas.grey_qimage().save(path, "PNG")
        self.note.setText(f"Saved {path}" if ok else f"Could not save {path}")
        return ok


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
