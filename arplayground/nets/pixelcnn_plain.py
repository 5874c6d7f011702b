"""A plain masked-convolution PixelCNN (van den Oord et al. 2016a), the one with the blind spot.

One stack of k x k convolutions masked in raster order: mask A on the first layer (the rows above
and the pixels to the left, not the pixel itself), mask B after it (the pixel itself too, which
by then holds only what came before it). Every mask reaches right only in the rows above, so a
pixel above and to the right that would take more than a mask's reach to the right per row up is
never seen, however deep the stack: the blind spot that the gated PixelCNN's two stacks
(nets/pixelcnn.py) remove.

It has the depth and kernels of a gated card (PixelCNNConfig: one first convolution of
first_kernel, then n_layers of kernel), ReLU after each, a 1 x 1 convolution to the 256 levels'
logits, and the digit (or "any digit") as a learned bias on every layer. It is never trained: its
field is decided by its masks, and the app measures it with seeded random weights
(build_plain_pixelcnn), which is what plain_field's note says.

Shapes: B batch, C channels, H x W image, L levels.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from arplayground.core.causality import (Field, pixelcnn_field_span, plain_pixelcnn_blind_spot,
                                         plain_pixelcnn_structural, raster_mask)
from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig, image_field


class RasterMaskedConv2d(nn.Conv2d):
    """A k x k convolution whose kernel is multiplied by a raster-order mask (core.causality's
    raster_mask, the one the structural field propagates): a masked tap's weight is exactly 0,
    so no gradient passes through it."""

    def __init__(self, c_in: int, c_out: int, k: int, include_centre: bool):
        super().__init__(c_in, c_out, k, padding=k // 2)
        mask = torch.from_numpy(raster_mask(k, include_centre).astype(np.float32))
        self.register_buffer("mask", mask[None, None], persistent=False)
        # He initialisation over the taps the mask keeps, so the untrained stack's activations
        # (and gradients) neither vanish nor blow up through its depth of ReLUs.
        fan_in = c_in * int(mask.sum())
        nn.init.normal_(self.weight, 0.0, math.sqrt(2.0 / fan_in))
        nn.init.zeros_(self.bias)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class PlainPixelCNN(nn.Module):
    untrained = True  # nothing trains it: seeded weights, and the field says so

    def __init__(self, cfg: PixelCNNConfig):
        super().__init__()
        self.cfg = cfg
        C = cfg.channels
        self.first = RasterMaskedConv2d(1, C, cfg.first_kernel, include_centre=False)  # mask A
        self.layers = nn.ModuleList(RasterMaskedConv2d(C, C, cfg.kernel, include_centre=True)  # mask B
                                    for _ in range(cfg.n_layers))
        self.cond = nn.Embedding(cfg.n_classes + 1, (cfg.n_layers + 1) * C)  # a bias per layer; n_classes = any digit
        nn.init.normal_(self.cond.weight, 0.0, 0.1)
        self.head = nn.Conv2d(C, cfg.levels, 1)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    normalise = staticmethod(PixelCNN.normalise)  # grey levels (B, H, W) -> [-1, 1] (B, 1, H, W), as the gated model

    def forward(self, pixels: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """pixels (B, H, W) ints, label (B,) -> logits (B, L, H, W), each from earlier pixels only."""
        return self.forward_normalised(self.normalise(pixels), label)

    def forward_normalised(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """The same from x (B, 1, H, W) in [-1, 1]: differentiable in x, for the measured field."""
        bias = self.cond(label).view(len(label), self.cfg.n_layers + 1, self.cfg.channels, 1, 1)
        h = F.relu(self.first(x) + bias[:, 0])
        for i, layer in enumerate(self.layers):
            h = F.relu(layer(h) + bias[:, i + 1])
        return self.head(h)

    def sees(self, values, position: int, condition=None, measure: str = "log-prob") -> Field:
        """What pixel `position` sees (plain_field): the steppers' sees(), for this model."""
        return plain_field(self, values, position, condition, measure)


def build_plain_pixelcnn(cfg: PixelCNNConfig, seed: int = 0) -> PlainPixelCNN:
    """The plain PixelCNN of a gated card's shape, with weights seeded by `seed` (the same weights
    every time; the caller's random state is left as it was), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return PlainPixelCNN(cfg).eval()


def plain_field(model: PlainPixelCNN, values, position: int, condition=None, measure: str = "log-prob") -> Field:
    """What pixel `position` of the plain PixelCNN sees (nets.pixelcnn.image_field: `values` the
    known pixels, condition a digit or None), beside its structural field: the cone above and to
    the left, less the blind spot that the masks leave up and to the right."""
    cfg = model.cfg
    shape = (cfg.first_kernel, cfg.kernel, cfg.n_layers)
    structural = plain_pixelcnn_structural(cfg.height, cfg.width, position, *shape)
    blind_spot = plain_pixelcnn_blind_spot(cfg.height, cfg.width, position, *shape)
    weights = "untrained weights: structure decides the field" if model.untrained else "its weights"
    note = (f"Plain masked-convolution PixelCNN (van den Oord et al. 2016a), {weights}; "
            f"{int(blind_spot.sum())} pixels above and to the right are in its reach yet never seen: the blind spot.")
    return image_field(model, values, position, condition, measure, structural, note,
                       pixelcnn_field_span(plain_pixelcnn_structural, *shape), blind_spot)
