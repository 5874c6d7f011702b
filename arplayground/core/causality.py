"""What each output can see: the structural receptive field, from the architecture alone, and the
Field a stepper's sees() returns, which sets it beside the influence measured on the real weights.

An autoregressive model is honest only if output t sees inputs before t alone: the GPT's causal
mask, the PixelCNN's masked convolutions, the WaveNet's left-padded dilated convolutions. The
functions here derive that field from config numbers (masks and dilations propagated layer by
layer, never a shape written out by hand); the nets (nets/) measure the gradient of one step's
log-probability, or entropy, with respect to every input by autograd over the whole network. The
two must agree: nothing the structure forbids may light up, and (for the gated PixelCNN) nothing
it allows may stay dark. No torch, no Qt: numpy only.

Indices: `position` is the output's index in the sequence (a character, a pixel in raster order,
a sample), and output t predicts value t from the values before it. The inputs are indexed the
same way, so input i is value i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MEASURES = ("log-prob", "entropy")  # log p(x_t = its value | x_<t), or the entropy of that step's distribution


def check_measure(measure: str) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {', '.join(MEASURES)}, not {measure!r}")


@dataclass
class Field:
    """What output `position` sees, structurally and as measured."""

    position: int  # the output step, an index into the sequence (or the flattened image)
    length: int  # inputs considered: the text's length, 784 pixels, the audio known
    structural: np.ndarray  # bool (length,): the architecture lets that input reach the output
    measured: np.ndarray  # float32 (length,): |d measure / d input|, L2 over its embedding / channels; 0 without a path
    measure: str  # "log-prob" or "entropy"
    value: int  # the output's value whose log-probability is measured
    note: str  # one sentence for the view
    attention: np.ndarray | None = None  # GPT: float32 (layers, heads, length), the query's weights over keys
    layers: list[np.ndarray] | None = None  # WaveNet: the dilation tree, from the output down (wavenet_tree)
    field_span: int = 0  # the structural field's size in inputs, away from any edge
    score: float = float("nan")  # the measure itself, in nats: log p(value), or the entropy
    window: tuple[int, int] = (0, 0)  # the inputs the measured pass read, [start, end)
    blind_spot: np.ndarray | None = None  # PixelCNN: bool (length,), in the cone yet never seen

    def __post_init__(self) -> None:
        self.structural = np.asarray(self.structural, bool)
        self.measured = np.asarray(self.measured, np.float32)
        check_measure(self.measure)
        if self.structural.shape != (self.length,) or self.measured.shape != (self.length,):
            raise ValueError(f"structural {self.structural.shape} and measured {self.measured.shape} "
                             f"must both be ({self.length},)")
        if self.attention is not None and (self.attention.ndim != 3 or self.attention.shape[2] != self.length):
            raise ValueError(f"attention must be (layers, heads, {self.length}), not {self.attention.shape}")

    def __repr__(self) -> str:  # the arrays are long: say what they hold
        return (f"Field(position={self.position}, length={self.length}, measure={self.measure!r}, value={self.value}, "
                f"seen={self.seen}, influenced_by={int((self.measured > 0).sum())}, window={self.window})")

    def strongest(self, k: int) -> np.ndarray:
        """The indices of the k inputs of largest measured influence, largest first (ties: the
        earlier input first); only inputs with some influence, so fewer than k where fewer have."""
        order = np.argsort(-self.measured, kind="stable")[: max(0, int(k))]
        return order[self.measured[order] > 0]

    def after_output_is_zero(self) -> bool:
        """Whether the measured influence is exactly 0 at the output and every input after it."""
        return bool(np.all(self.measured[self.position :] == 0))

    @property
    def seen(self) -> int:
        """How many inputs the structure lets reach this output."""
        return int(self.structural.sum())


# ----------------------------------------------------------------------------- GPT


def gpt_structural(length: int, position: int, context_start: int, causal: bool = True,
                   window_end: int | None = None) -> np.ndarray:
    """The characters a GPT's output `position` can see: its context window, from context_start
    up to the character before it (the causal mask). Without the mask (the cheat model) the whole
    window the pass was given, up to window_end (default: the whole text)."""
    out = np.zeros(length, bool)
    end = position if causal else (length if window_end is None else window_end)
    out[max(0, context_start) : max(0, min(end, length))] = True
    return out


# ----------------------------------------------------------------------------- PixelCNN
# The masks, as the nets use them (nets/pixelcnn.py, nets/pixelcnn_plain.py; tests check the two
# agree): 1 where a kernel tap reads its input. The centre of a k x k kernel is (k // 2, k // 2).


def vertical_mask(k: int, include_centre_row: bool) -> np.ndarray:
    """The gated PixelCNN's vertical stack: the rows above the centre (and the centre row)."""
    mask = np.zeros((k, k), bool)
    mask[: k // 2 + (1 if include_centre_row else 0)] = True
    return mask


def horizontal_mask(k: int, include_centre: bool) -> np.ndarray:
    """The gated PixelCNN's horizontal stack, 1 x k: the pixels left of the centre (and the centre)."""
    mask = np.zeros((1, k), bool)
    mask[0, : k // 2 + (1 if include_centre else 0)] = True
    return mask


def raster_mask(k: int, include_centre: bool) -> np.ndarray:
    """A plain PixelCNN's k x k mask (van den Oord et al. 2016a): every row above the centre, and
    the centre row left of the centre; mask A (the first layer) without the centre, mask B with it."""
    mask = np.zeros((k, k), bool)
    mask[: k // 2] = True
    mask[k // 2, : k // 2 + (1 if include_centre else 0)] = True
    return mask


def reach_back(reached: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The positions of a same-size convolution's input (H, W) that reach any `reached` position
    of its output through the taps the mask keeps; taps that fall outside the image read the
    zero padding, which is no input."""
    kh, kw = mask.shape
    H, W = reached.shape
    out = np.zeros_like(reached, dtype=bool)
    for i, j in zip(*np.nonzero(mask)):
        dr, dc = int(i) - kh // 2, int(j) - kw // 2  # output (r, c) reads input (r + dr, c + dc)
        rows, cols = slice(max(0, -dr), min(H, H - dr)), slice(max(0, -dc), min(W, W - dc))
        shifted_rows, shifted_cols = slice(rows.start + dr, rows.stop + dr), slice(cols.start + dc, cols.stop + dc)
        out[shifted_rows, shifted_cols] |= reached[rows, cols]
    return out


def _one_pixel(height: int, width: int, position: int) -> np.ndarray:
    if not 0 <= position < height * width:
        raise ValueError(f"pixel {position} is outside a {height} x {width} image")
    out = np.zeros((height, width), bool)
    out.flat[position] = True
    return out


def pixelcnn_reach(first_kernel: int, kernel: int, n_layers: int) -> int:
    """How far (rows up, columns either way) the stack's taps can reach from an output."""
    return first_kernel // 2 + n_layers * (kernel // 2)


def raster_cone(height: int, width: int, position: int, reach: int) -> np.ndarray:
    """Flattened (H * W,): the pixels before `position` in raster order within `reach` rows above
    and `reach` columns either side (in its own row: to its left): everything a stack of that
    reach could see if no tap were masked beyond raster order."""
    r, c = divmod(position, width)
    _one_pixel(height, width, position)
    out = np.zeros((height, width), bool)
    out[max(0, r - reach) : r, max(0, c - reach) : c + reach + 1] = True
    out[r, max(0, c - reach) : c] = True
    return out.reshape(-1)


def gated_pixelcnn_structural(height: int, width: int, position: int, first_kernel: int, kernel: int,
                              n_layers: int) -> np.ndarray:
    """Flattened (H * W,): the pixels the gated PixelCNN's output `position` can see, from its two
    stacks' masks propagated from the output down (nets/pixelcnn.py): the rows above within reach
    and the row's pixels to the left within reach, with no blind spot.

    Per gated layer l: v_l = gate(v_conv(v_{l-1})), h_l = h_{l-1} + h_out(gate(h_conv(h_{l-1}) +
    v_to_h(v_conv(v_{l-1})))), both 1 x 1 maps at the same position; the output is the head of h."""
    h = _one_pixel(height, width, position)  # where h of the top layer is read: the output itself
    v = np.zeros_like(h)  # the head reads no vertical stack
    for _ in range(n_layers):
        v_pre = v | h  # v_l reads v_pre_l at its own position; so does h_l's gate, through v_to_h
        h = h | reach_back(h, horizontal_mask(kernel, include_centre=True))  # the residual and h_conv
        v = reach_back(v_pre, vertical_mask(kernel, include_centre_row=True))
    seen = reach_back(v, vertical_mask(first_kernel, include_centre_row=False))
    seen |= reach_back(h, horizontal_mask(first_kernel, include_centre=False))
    return seen.reshape(-1)


def plain_pixelcnn_structural(height: int, width: int, position: int, first_kernel: int, kernel: int,
                              n_layers: int) -> np.ndarray:
    """Flattened (H * W,): the pixels a plain masked-convolution PixelCNN's output `position` can
    see (nets/pixelcnn_plain.py: mask A first, then n_layers of mask B, 1 x 1 maps at the end),
    from the masks propagated from the output down. Each mask reaches right only in the rows above,
    so the pixels above and to the right that need two steps right per step up are never reached:
    the blind spot (plain_pixelcnn_blind_spot)."""
    seen = _one_pixel(height, width, position)
    for _ in range(n_layers):
        seen = reach_back(seen, raster_mask(kernel, include_centre=True))
    return reach_back(seen, raster_mask(first_kernel, include_centre=False)).reshape(-1)


def plain_pixelcnn_blind_spot(height: int, width: int, position: int, first_kernel: int, kernel: int,
                              n_layers: int) -> np.ndarray:
    """Flattened (H * W,): pixels in the raster cone of the stack's reach that the plain PixelCNN's
    output `position` still cannot see."""
    cone = raster_cone(height, width, position, pixelcnn_reach(first_kernel, kernel, n_layers))
    return cone & ~plain_pixelcnn_structural(height, width, position, first_kernel, kernel, n_layers)


def pixelcnn_field_span(structural, first_kernel: int, kernel: int, n_layers: int) -> int:
    """How many pixels a PixelCNN's output sees away from every edge: its structural function
    (gated_pixelcnn_structural or plain_pixelcnn_structural) on an image just large enough."""
    reach = pixelcnn_reach(first_kernel, kernel, n_layers)
    height, width = reach + 1, 2 * reach + 1
    return int(structural(height, width, reach * width + reach, first_kernel, kernel, n_layers).sum())


# ----------------------------------------------------------------------------- WaveNet


def wavenet_field_span(dilations, kernel: int = 2) -> int:
    """Samples a WaveNet's output sees: (kernel - 1) x the sum of the dilations, plus the newest."""
    return (kernel - 1) * int(sum(int(d) for d in dilations)) + 1


def wavenet_tree(position: int, dilations, kernel: int = 2) -> list[np.ndarray]:
    """The dilation tree of output `position` (the sample it predicts), from the output down:
    entry 0 is [position]; entry i (1 .. n) holds, sorted, the steps whose activations feed the
    i-th layer from the top (dilation dilations[-i]) and reach the output, each step named by the
    sample it is computed for; the last entry is therefore the network's input, and there it is
    given as the samples read (step s reads sample s - 1). Steps before the clip (zero padding)
    are dropped. A layer of dilation d at step s reads its input at s, s - d, ... (kernel taps);
    the residual and skip paths are 1 x 1, at s."""
    if position < 0:
        raise ValueError(f"step {position} is before the clip")
    steps = np.array([position], np.int64)
    tree = [steps]
    for d in reversed([int(d) for d in dilations]):
        steps = np.unique(np.concatenate([steps - tap * d for tap in range(kernel)]))
        tree.append(steps[steps >= 0])
    samples = tree[-1] - 1  # step 0 reads silence, which is no sample
    tree[-1] = samples[samples >= 0]
    return tree


def wavenet_tree_edges(position: int, dilations, kernel: int = 2) -> list[np.ndarray]:
    """The connections of wavenet_tree(position, ...), for drawing: entry i is an (n, 2) int array
    of (lower, upper) pairs, lower a value of tree[i + 1] and upper one of tree[i], as the tree
    names them (steps; samples at the bottom), one per kernel tap that reaches the output, sorted
    by upper then lower."""
    tree = wavenet_tree(position, dilations, kernel)
    dilations = [int(d) for d in dilations]
    n = len(dilations)
    edges = []
    for i in range(n):
        d = dilations[n - 1 - i]  # the layer that reads tree[i + 1] and gives tree[i]
        lower = tree[i + 1]
        lower_steps = lower + 1 if i + 1 == n else lower  # sample s - 1 is the input at step s
        pairs = np.concatenate([np.stack([lower, lower_steps + tap * d], axis=1) for tap in range(kernel)])
        pairs = pairs[np.isin(pairs[:, 1], tree[i])]
        edges.append(pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))])
    return edges


def wavenet_structural(length: int, position: int, dilations, kernel: int = 2) -> np.ndarray:
    """(length,): the samples a WaveNet's output `position` can see, from its dilation tree: the
    field_span samples before it (fewer near the clip's start)."""
    out = np.zeros(length, bool)
    samples = wavenet_tree(position, dilations, kernel)[-1]
    out[samples[samples < length]] = True
    return out
