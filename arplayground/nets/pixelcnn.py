"""A class-conditional gated PixelCNN (van den Oord et al. 2016) with cached raster-order sampling.

Two stacks of masked convolutions, so there is no blind spot:
- the vertical stack sees the rows strictly above the current pixel (a k x k kernel masked below
  its centre row; the first layer also masks the centre row);
- the horizontal stack sees the pixels to the left in the current row (a 1 x k kernel masked right
  of its centre; the first layer also masks the centre), plus the vertical stack at the same
  position, which only holds rows above.
Every layer is a gated unit tanh(a) * sigmoid(b) with the digit's embedding added to a and b;
class index `n_classes` means "any digit" (trained by dropping the label now and then). Indices after
it (`extra_labels`) are seen only in training, e.g. for mirrored or rotated digits, which teach the
local stroke statistics without teaching any digit, or "any digit", a wrong shape.

Fast sampling (after Ramachandran et al. 2017): the vertical stack of row r depends on rows < r
only, so it is computed once per row into per-layer caches; the horizontal stack of pixel (r, c)
needs only its own column given the cached columns to its left, so each pixel computes one column
per layer. Drawing one pixel costs a few tiny matrix-vector products, not the whole image; they run
as one compiled call that releases the GIL (arplayground/kernels/pixelcnn.py), the once-a-row vertical
stack in torch. The slow reference (the whole network per pixel) is in baselines.py.

Shapes: B batch, C channels, H x W image (28 x 28), L = 256 grey levels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from arplayground.core.causality import (Field, gated_pixelcnn_structural, pixelcnn_field_span, pixelcnn_reach,
                                         raster_cone)
from arplayground.core.sampling import SamplerSettings
from arplayground.core.trace import TOP_CANDIDATES
from arplayground.nets.influence import gradients_on, input_influence, step_measure


@dataclass
class PixelCNNConfig:
    channels: int = 64
    n_layers: int = 10  # gated layers after the first masked convolution
    kernel: int = 5  # gated layers: receptive field grows by kernel // 2 per layer in each direction
    first_kernel: int = 7
    dropout: float = 0.0  # on each gated unit's output in training (9,000 images overfit); off in the app
    n_classes: int = 10  # digits; index n_classes is "any digit"
    extra_labels: int = 0  # training-only labels after "any digit" (augmented images); never offered in the app
    levels: int = 256
    height: int = 28
    width: int = 28

    def to_dict(self) -> dict:
        return asdict(self)


def vertical_mask(k: int, include_centre_row: bool) -> torch.Tensor:
    mask = torch.zeros(k, k)
    mask[: k // 2 + (1 if include_centre_row else 0)] = 1
    return mask


def horizontal_mask(k: int, include_centre: bool) -> torch.Tensor:
    mask = torch.zeros(1, k)
    mask[0, : k // 2 + (1 if include_centre else 0)] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel is multiplied by a fixed 0/1 mask: masked taps never see input.

    Every mask here keeps a top-left rectangle of the kernel, so forward() convolves with just that
    rectangle (padding the input to match): the same result as the masked k x k kernel, without
    paying for the zero taps (half the vertical kernel).
    """

    def __init__(self, c_in: int, c_out: int, mask: torch.Tensor):
        kh, kw = mask.shape
        super().__init__(c_in, c_out, (kh, kw), padding=(kh // 2, kw // 2))
        self.register_buffer("mask", mask[None, None].clone(), persistent=False)
        rows, cols = int(mask.any(dim=1).sum()), int(mask.any(dim=0).sum())
        assert mask[:rows, :cols].all() and mask.sum() == rows * cols, "mask must be a top-left rectangle"
        self.kept = (rows, cols)
        # F.pad order: left, right, top, bottom; negative values crop (the rows a mask never reads).
        self.pad = (kw // 2, cols - 1 - kw // 2, kh // 2, rows - 1 - kh // 2)

    def forward(self, x):
        rows, cols = self.kept
        return F.conv2d(F.pad(x, self.pad), self.weight[:, :, :rows, :cols], self.bias)


class GatedLayer(nn.Module):
    def __init__(self, cfg: PixelCNNConfig):
        super().__init__()
        C, k = cfg.channels, cfg.kernel
        self.v_conv = MaskedConv2d(C, 2 * C, vertical_mask(k, include_centre_row=True))
        self.h_conv = MaskedConv2d(C, 2 * C, horizontal_mask(k, include_centre=True))
        self.v_to_h = nn.Conv2d(2 * C, 2 * C, 1)
        self.h_out = nn.Conv2d(C, C, 1)
        self.cond = nn.Embedding(cfg.n_classes + 1 + cfg.extra_labels, 4 * C)  # gate biases for both stacks
        self.dropout = nn.Dropout(cfg.dropout)  # identity in eval(), so the cached sampler skips it

    @staticmethod
    def gate(x: torch.Tensor) -> torch.Tensor:
        """tanh(first half) * sigmoid(second half) along the channel dimension."""
        a, b = x.chunk(2, dim=1)
        return torch.tanh(a) * torch.sigmoid(b)

    def vertical(self, v_pre: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The vertical stack's gated output from its convolution's output v_pre (B, 2C, h, W)."""
        cv = cond[:, : v_pre.shape[1], None, None]
        return self.gate(v_pre + cv)

    def horizontal(self, h: torch.Tensor, v_pre: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        ch = cond[:, v_pre.shape[1] :, None, None]
        h_pre = self.h_conv(h) + self.v_to_h(v_pre)
        return h + self.h_out(self.dropout(self.gate(h_pre + ch)))  # residual in the horizontal stack

    def forward(self, v, h, label):
        cond = self.cond(label)
        v_pre = self.v_conv(v)
        return self.vertical(v_pre, cond), self.horizontal(h, v_pre, cond)


class PixelCNN(nn.Module):
    def __init__(self, cfg: PixelCNNConfig):
        super().__init__()
        self.cfg = cfg
        C, k0 = cfg.channels, cfg.first_kernel
        self.v_first = MaskedConv2d(1, C, vertical_mask(k0, include_centre_row=False))
        self.h_first = MaskedConv2d(1, C, horizontal_mask(k0, include_centre=False))
        self.layers = nn.ModuleList(GatedLayer(cfg) for _ in range(cfg.n_layers))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(C, 2 * C, 1), nn.ReLU(), nn.Conv2d(2 * C, cfg.levels, 1))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @staticmethod
    def normalise(pixels: torch.Tensor) -> torch.Tensor:
        """Grey levels 0..255 (B, H, W) -> floats in [-1, 1] (B, 1, H, W)."""
        return (pixels.float() / 127.5 - 1.0)[:, None]

    def forward(self, pixels: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """pixels (B, H, W) ints, label (B,) -> logits (B, L, H, W), each from earlier pixels only."""
        return self.forward_normalised(self.normalise(pixels), label)

    def forward_normalised(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The same from x (B, 1, H, W) in [-1, 1]: differentiable in x, for the causality tests."""
        v, h = self.v_first(x), self.h_first(x)
        for layer in self.layers:
            v, h = layer(v, h, label)
        return self.head(h)

    def loss(self, pixels: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood in nats per pixel."""
        return F.cross_entropy(self(pixels, label), pixels.long())


# ---------------------------------------------------------------- what one pixel sees


def image_field(model: nn.Module, values, position: int, condition, measure: str, structural: np.ndarray,
                note: str, field_span: int, blind_spot: np.ndarray | None = None) -> Field:
    """The measured field of pixel `position` (raster order) of a PixelCNN-like model (one with
    cfg, normalise() and forward_normalised(x, label)): the gradient of log p(its grey level), or
    the entropy there, with respect to every pixel of the normalised image, from one pass over the
    whole image. `values` are the pixels known, in raster order (fewer than H x W: the rest are
    0, as the stepper holds them; a pixel not known yet is measured at its most likely level);
    condition a digit or None (any digit), as teacher_forced takes it."""
    cfg = model.cfg
    H, W = cfg.height, cfg.width
    pixels = np.zeros(H * W, np.int64)
    values = [int(v) for v in values]
    if len(values) > H * W:
        raise ValueError(f"{len(values)} pixels for a {H} x {W} image")
    if any(not 0 <= v < cfg.levels for v in values):
        raise ValueError(f"a pixel outside the model's {cfg.levels} grey levels")
    if not 0 <= position < H * W:
        raise ValueError(f"pixel {position} is outside the {H} x {W} image")
    if isinstance(condition, (list, tuple)):
        raise ValueError("a field is one image's: give one digit, or None for any digit")
    label = cfg.n_classes if condition is None else int(condition)
    if not 0 <= label <= cfg.n_classes:
        raise ValueError(f"digit {condition} is not one of the model's {cfg.n_classes}")
    pixels[: len(values)] = values
    r, c = divmod(position, W)
    with gradients_on(model):
        x = model.normalise(torch.from_numpy(pixels).view(1, H, W)).detach().requires_grad_(True)
        logits = model.forward_normalised(x, torch.tensor([label]))  # (1, L, H, W)
        target, value = step_measure(logits[0, :, r, c], values[position] if position < len(values) else None, measure)
        measured = input_influence(target, x, channel_dim=1)[0].reshape(-1)  # (H * W,)
    return Field(position=position, length=H * W, structural=structural, measured=measured, measure=measure,
                 value=value, note=note, field_span=field_span, score=float(target.detach()), window=(0, H * W),
                 blind_spot=blind_spot)


def pixelcnn_field(model: PixelCNN, values, position: int, condition=None, measure: str = "log-prob") -> Field:
    """What pixel `position` of the gated PixelCNN sees (image_field), beside its structural field:
    rows above and the pixels to the left within the stacks' reach, no blind spot."""
    cfg = model.cfg
    shape = (cfg.first_kernel, cfg.kernel, cfg.n_layers)
    structural = gated_pixelcnn_structural(cfg.height, cfg.width, position, *shape)
    reach = pixelcnn_reach(*shape)
    note = (f"Gated PixelCNN: the rows above and the pixels to the left, up to {reach} away "
            f"({int(structural.sum())} pixels here); its two stacks leave no blind spot.")
    blind_spot = raster_cone(cfg.height, cfg.width, position, reach) & ~structural  # empty, by construction
    return image_field(model, values, position, condition, measure, structural, note,
                       pixelcnn_field_span(gated_pixelcnn_structural, *shape), blind_spot)


class PixelCNNStepper:
    """Draws one pixel at a time in raster order, reusing per-row caches of the vertical stack.

    Exact: logits() equals the full forward pass's logits at the current pixel. Several images
    (grid mode) run as one batch: reset() with a list of digits, one per lane; every tensor below
    has the lanes as its first dimension.
    """

    def __init__(self, model: PixelCNN, vocab):
        self.model = model.eval()
        self.vocab = vocab
        cfg = model.cfg
        self.H, self.W = cfg.height, cfg.width
        self.p0, self.p = cfg.first_kernel // 2, cfg.kernel // 2
        self.lanes = 1
        self.labels = [cfg.n_classes]  # one per lane
        self.label = torch.tensor(self.labels)  # one per cache lane (shadow lanes too, when guided)
        self.guidable = False
        self.position = 0
        self._logits: np.ndarray | None = None
        self._raw, self._probs = np.zeros(cfg.levels), np.zeros(cfg.levels)  # the compiled draw's scratch
        self._weights = None  # the compiled column's, made on first use
        self._row_weights = None  # the vertical convolutions' kept rows

    def needs_compiling(self) -> bool:
        """Whether warm_up() will compile the kernels (the first run after installing)."""
        from arplayground.kernels import pixelcnn as k
        from arplayground.kernels.cache import compiled_on_disk

        return not compiled_on_disk(k.pixel_column, k.run_pixels)

    def warm_up(self) -> None:
        """Compile the kernels, or load them from numba's cache, before a run is timed or watched:
        for one image and for a grid (whose rows are strided views, a second compiled variant)."""
        for condition in (None, [None, None]):
            self.reset([], condition)
            lanes = 1 if condition is None else len(condition)
            self.run_chunk(SamplerSettings(), np.full((1, lanes), 0.5), TOP_CANDIDATES, guided=False)

    def reset(self, prefix, condition=None) -> None:
        """prefix: grey levels of the first pixels in raster order (kept rows), shared by every lane;
        condition: a digit, None for any digit, or a list of those (one lane each)."""
        cfg = self.model.cfg
        assert len(prefix) < self.H * self.W, "nothing left to generate"
        conditions = list(condition) if isinstance(condition, (list, tuple)) else [condition]
        labels = [cfg.n_classes if c is None else int(c) for c in conditions]
        assert labels and all(0 <= label <= cfg.n_classes for label in labels)
        self.lanes = len(labels)
        self.labels = labels
        self.guidable = any(label != cfg.n_classes for label in labels)  # a digit to guide by
        pixels = np.zeros((self.lanes, self.H, self.W), np.int64)
        pixels.reshape(self.lanes, -1)[:, : len(prefix)] = np.asarray(list(prefix), np.int64)
        self._build(pixels, len(prefix), labels)

    @property
    def shadowed(self) -> bool:
        """Whether the caches also hold every image under "any digit" (lanes after self.lanes),
        for guidance."""
        return len(self.label) > self.lanes

    def unconditional_logits(self) -> np.ndarray:
        """logits() of the same pixels under "any digit"; from now on those lanes are kept in step."""
        if not self.shadowed:
            self._set_shadow(True)
        return self._logits[self.lanes] if self.lanes == 1 else self._logits[self.lanes :]

    def stop_unconditional(self) -> None:
        if self.shadowed:
            self._set_shadow(False)

    def _set_shadow(self, on: bool) -> None:
        """Rebuild the caches with (or without) a copy of every image under "any digit", from the
        pixels drawn so far: a few ms, once per switch."""
        pixels, labels = self.pixels[: self.lanes], self.labels
        if on:
            pixels, labels = np.concatenate([pixels, pixels]), labels + [self.model.cfg.n_classes] * self.lanes
        self._build(pixels.copy(), self.position, labels)

    @torch.inference_mode()
    def _build(self, pixels: np.ndarray, position: int, labels: list[int]) -> None:
        """Every cache for these images (B, H, W), whose first `position` pixels are known, under
        these labels (one per cache lane), and the logits of pixel `position`."""
        cfg = self.model.cfg
        B = len(labels)
        self.label = torch.tensor(labels)
        self.cond = [layer.cond(self.label) for layer in self.model.layers]  # (B, 4C) each
        # The image and its normalised, padded copy are numpy arrays that torch views share, so
        # push() writes a pixel with numpy (a microsecond) instead of torch indexing (tens).
        self.pixels = pixels
        self.image = torch.from_numpy(self.pixels)
        # Vertical-stack caches, zero-padded above and below like the convolutions' padding:
        # x_pad holds the normalised image, v_pads[l] the input of gated layer l.
        C, n_layers = cfg.channels, cfg.n_layers
        self.x_pad_array = np.zeros((B, 1, self.H + 2 * self.p0, self.W), np.float32)
        self.x_pad = torch.from_numpy(self.x_pad_array)
        self.v_pads = [torch.zeros(B, C, self.H + 2 * self.p, self.W) for _ in range(n_layers + 1)]
        # Per-row caches, read by the compiled column (float32 numpy):
        # v_to_h[l]: the vertical stack's contribution to every horizontal gate of the row, (B, W, 2C);
        # h_rows[l]: the input of gated layer l along the row, column c at index c + p of a (W + p, C)
        #   table per lane (zeros to the left, like the convolution's padding);
        # x_row: the row's pixels, column c at index c + p0.
        self.v_to_h = np.zeros((n_layers, B, self.W, 2 * C), np.float32)
        self.h_rows = np.zeros((n_layers, B, self.W + self.p, C), np.float32)
        self.x_row = np.zeros((B, self.W + self.p0), np.float32)
        self._work = (np.zeros(C, np.float32), np.zeros(2 * C, np.float32), np.zeros(C, np.float32),
                      np.zeros(2 * C, np.float32), np.zeros((B, cfg.levels), np.float32))  # h, pre, g, z, logits
        self.position = position
        row, column = divmod(self.position, self.W)
        self.x_pad[:, 0, self.p0 : self.p0 + self.H] = self.model.normalise(self.image)[:, 0]
        for r in range(row + 1):  # rows whose vertical stack is fixed: 0 .. current row
            self._vertical_row(r)
        self._start_row(row, columns_known=column)
        self._compute_logits()

    @torch.inference_mode()
    def _vertical_row(self, r: int) -> None:
        """Vertical stack of row r (depends on rows < r only), into the caches. Each convolution
        reads only the rows its mask keeps: the rows above r (and r itself after the first layer)."""
        if self._row_weights is None:
            self._row_weights = [(conv.weight[:, :, : conv.kept[0]].contiguous(), conv.bias)
                                 for conv in [self.model.v_first] + [l.v_conv for l in self.model.layers]]
        (w, bias), p, p0 = self._row_weights[0], self.p, self.p0
        v = F.conv2d(self.x_pad[:, :, r : r + p0], w, bias, padding=(0, p0))  # rows r-p0 .. r-1 -> (B, C, 1, W)
        self.v_pads[0][:, :, r + p] = v[:, :, 0]
        for l, layer in enumerate(self.model.layers):
            w, bias = self._row_weights[l + 1]
            v_pre = F.conv2d(self.v_pads[l][:, :, r : r + p + 1], w, bias, padding=(0, p))  # rows r-p .. r
            self.v_pads[l + 1][:, :, r + p] = layer.vertical(v_pre, self.cond[l])[:, :, 0]
            # The vertical stack's contribution to every horizontal gate of this row, gate bias included.
            ch = self.cond[l][:, v_pre.shape[1] :, None, None]
            self.v_to_h[l] = (layer.v_to_h(v_pre) + ch)[:, :, 0].transpose(1, 2).numpy()

    def _start_row(self, r: int, columns_known: int = 0) -> None:
        """Fresh horizontal caches for row r, left-padded with zeros like the convolutions."""
        self.x_row[:] = 0.0
        self.x_row[:, self.p0 :] = self.x_pad_array[:, 0, self.p0 + r]
        self.h_rows[:] = 0.0
        for c in range(columns_known):  # a prefix that ends mid-row: fill the columns it holds
            self._column(c)

    def _column_weights(self) -> tuple:
        """The kept kernel rectangles as float32 matrices for the compiled column: each gated layer's
        1 x (p+1) convolution becomes one (2C, (p+1) * C) matrix over a flattened (p+1, C) window."""
        m, p = self.model, self.p
        two_c = 2 * m.cfg.channels

        def f32(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().numpy(), np.float32)

        def stacked(tensors) -> np.ndarray:
            return f32(torch.stack(list(tensors)))

        return (
            f32(m.h_first.weight[:, 0, 0, : self.p0]), f32(m.h_first.bias),
            stacked(l.h_conv.weight[:, :, 0, : p + 1].permute(0, 2, 1).reshape(two_c, -1) for l in m.layers),
            stacked(l.h_conv.bias for l in m.layers),
            stacked(l.h_out.weight[:, :, 0, 0] for l in m.layers),
            stacked(l.h_out.bias for l in m.layers),
            f32(m.head[1].weight[:, :, 0, 0]), f32(m.head[1].bias),
            f32(m.head[3].weight[:, :, 0, 0]), f32(m.head[3].bias),
        )

    def _column(self, c: int) -> None:
        """The horizontal stack at column c of the current row, from the cached columns left of it,
        and the head's logits there (into the last work buffer)."""
        from arplayground.kernels.pixelcnn import pixel_column

        if self._weights is None:
            self._weights = self._column_weights()
        pixel_column(c, self.x_row, self.h_rows, self.v_to_h, *self._weights, *self._work)

    def _compute_logits(self) -> None:
        self._column(self.position % self.W)
        self._logits = self._work[-1].astype(np.float64)

    def run_chunk(self, settings, uniforms, top: int, guided: bool) -> dict:
        """The next len(uniforms) positions in compiled code (core.generate.ChunkedStepper): for
        each, every lane draws with uniforms[i, lane] (settings clamped), by core.sampling's rules,
        guided when `guided`, is recorded and pushed. Returns StepRecord's fields as columns,
        position-major (row i * lanes + lane), with each step's full distributions ("raw",
        "sampled", and "unconditional" when guided)."""
        from arplayground.kernels.pixelcnn import run_pixels
        from arplayground.kernels.sampling import RECORD_COLUMNS, kernel_settings, record_columns

        us = np.ascontiguousarray(uniforms, np.float64).reshape(len(uniforms), -1)  # (positions, lanes)
        n, B = us.shape
        assert B == self.lanes and self.position + n <= self.H * self.W
        if guided != self.shadowed:
            self._set_shadow(guided)
        L = self.model.cfg.levels
        out = record_columns(n * B, top)
        out["raw"], out["sampled"] = np.zeros((n * B, L), np.float32), np.zeros((n * B, L), np.float32)
        out["unconditional"] = np.zeros((n * B if guided else 0, L), np.float32)
        done = 0
        while done < n:  # the compiled loop stops at the end of a row: the next row's vertical stack is torch's
            r, c = divmod(self.position, self.W)
            m = min(n - done, self.W - c)
            rows = slice(done * B, (done + m) * B)
            run_pixels(c, m, *kernel_settings(settings, guided), us[done : done + m],
                       tuple(out[name][rows] for name in RECORD_COLUMNS),
                       out["raw"][rows], out["sampled"][rows], out["unconditional"][rows], self._raw, self._probs,
                       self.pixels[:, r], self.x_pad_array[:, 0, self.p0 + r], self.x_row, self.h_rows, self.v_to_h,
                       *self._weights, *self._work)
            self.position += m
            done += m
            if self.position == self.H * self.W:
                self._logits = None  # the image is complete
            elif c + m == self.W:
                self._vertical_row(r + 1)
                self._start_row(r + 1)
                self._compute_logits()
            else:
                self._logits = self._work[-1].astype(np.float64)  # the kernel left the next column's
        if not guided:
            del out["unconditional"]
        return out

    @torch.inference_mode()
    def teacher_forced(self, prefix, values, condition=None) -> np.ndarray:
        """(len(values), 256) logits of each pixel after the prefix (raster order) under the digit
        `condition` (None: any digit), all from one pass of the network over the whole image: the
        masks make each output see only the pixels before it."""
        cfg = self.model.cfg
        pixels = [int(v) for v in prefix] + [int(v) for v in values]
        assert len(pixels) == self.H * self.W, "a whole image: prefix and values together"
        label = cfg.n_classes if condition is None else int(condition)
        assert 0 <= label <= cfg.n_classes
        image = torch.tensor(pixels, dtype=torch.int64).view(1, self.H, self.W)
        logits = self.model(image, torch.tensor([label]))  # (1, L, H, W)
        return np.ascontiguousarray(logits[0].reshape(cfg.levels, -1).T[len(prefix) :].numpy())

    def sees(self, values, position: int, condition=None, measure: str = "log-prob") -> Field:
        """What pixel `position` sees (pixelcnn_field), for one image: `values` its known pixels,
        condition its digit or None. Reads the model only: the caches, the pixels drawn and the
        next logits stay as they are."""
        return pixelcnn_field(self.model, values, position, condition, measure)

    def logits(self) -> np.ndarray:
        """(256,) for one image; (lanes, 256) for a grid."""
        assert self._logits is not None, "reset() first"
        return self._logits[0] if self.lanes == 1 else self._logits[: self.lanes]

    def push(self, value) -> None:
        """The drawn grey level (one per lane for a grid)."""
        values = np.atleast_1d(np.asarray(value, np.int64))
        assert len(values) == self.lanes
        if self.shadowed:
            values = np.concatenate([values, values])  # the same pixel for the "any digit" copy
        r, c = divmod(self.position, self.W)
        self.pixels[:, r, c] = values
        normalised = values.astype(np.float32) / np.float32(127.5) - np.float32(1.0)  # as PixelCNN.normalise
        self.x_pad_array[:, 0, self.p0 + r, c] = normalised
        self.x_row[:, self.p0 + c] = normalised
        self.position += 1
        if self.position == self.H * self.W:
            self._logits = None  # the image is complete
            return
        if c == self.W - 1:  # a row finished: the next row's vertical stack is now fixed
            self._vertical_row(r + 1)
            self._start_row(r + 1)
        self._compute_logits()

