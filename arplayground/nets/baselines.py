"""The slow reference paths the fast steppers are checked against (tests) and timed against (benchmarks/).

Each implements the same stepping protocol as the model's fast stepper and gives the same numbers
(tests/core/test_pixelcnn.py, tests/core/test_wavenet.py); none is used by the app.

- NaivePixelCNNStepper: the whole PixelCNN over the whole image for every pixel;
- NaiveWaveNetStepper: the whole WaveNet over the whole sequence for every sample;
- TorchWaveNetStepper: the WaveNet's per-layer queues, one eager torch step per sample;
- NaiveGPTStepper: the whole GPT over the whole context for every character, no KV cache.

naive_stepper(fast) gives the naive one of a fast stepper's model (Score times the three paths).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from arplayground.core.mulaw import SILENCE
from arplayground.nets.gpt import GPTStepper
from arplayground.nets.pixelcnn import PixelCNNStepper
from arplayground.nets.wavenet import FastWaveNetStepper, UnconditionalCopy, WaveNet, primed_queues


class NaiveGPTStepper(GPTStepper):
    """The GPT's stepping protocol without its KV cache: every step runs the whole network over the
    whole context (the same context_start windows, so the same numbers). What the cache saves."""

    compiled = False  # no decode step to compile: nothing is cached

    def warm_up(self) -> None:
        pass

    @torch.inference_mode()
    def reset(self, prefix, condition=None) -> None:
        self.tokens = list(prefix) or [self.vocab.default_start]
        self._compute()

    def _compute(self) -> None:
        window = self.tokens[self.context_start(len(self.tokens)) :]
        logits, _ = self.model(torch.tensor([window]))
        self._next_logits = logits[0, -1].numpy().astype(np.float64)

    @torch.inference_mode()
    def push(self, value: int) -> None:
        self.tokens.append(int(value))
        self._compute()


def naive_stepper(fast):
    """The naive baseline of a fast stepper's model, sharing its network."""
    if isinstance(fast, GPTStepper):
        return NaiveGPTStepper(fast.model, fast.vocab)
    if isinstance(fast, PixelCNNStepper):
        return NaivePixelCNNStepper(fast.model, fast.vocab)
    if isinstance(fast, FastWaveNetStepper):
        return NaiveWaveNetStepper(fast.model, fast.vocab)
    raise TypeError(f"no naive baseline for {type(fast).__name__}")


class NaivePixelCNNStepper(PixelCNNStepper):
    """The PixelCNN's stepping protocol without caches: every logits() runs the whole network on the
    whole image. What PixelCNNStepper's row caches and compiled columns are checked and timed against."""

    @torch.inference_mode()
    def _compute_logits(self) -> None:
        r, c = divmod(self.position, self.W)
        logits = self.model(self.image, self.label)  # (B, L, H, W)
        self._logits = logits[:, :, r, c].double().numpy()

    def _vertical_row(self, r: int) -> None:
        pass  # nothing cached

    run_chunk = None  # the baseline runs the per-step loop only

    def needs_compiling(self) -> bool:
        return False  # no compiled kernel

    def warm_up(self) -> None:
        pass

    def _start_row(self, r: int, columns_known: int = 0) -> None:
        pass  # nothing cached (push() still writes x_row, never read here)


class NaiveWaveNetStepper(UnconditionalCopy):
    """The WaveNet's stepping protocol with no caches: every logits() runs the whole network over
    the whole sequence."""

    def __init__(self, model: WaveNet, vocab):
        self.model, self.vocab = model.eval(), vocab

    def reset(self, prefix, condition=None) -> None:
        self._start_history(prefix, condition)
        digit, speaker = self.condition
        self.labels = torch.tensor([digit]), torch.tensor([speaker])
        self.levels = [int(v) for v in prefix]
        self._compute()

    @torch.inference_mode()
    def _compute(self) -> None:
        x = torch.tensor([self.levels + [SILENCE]])  # the last input is never read by the last step
        self._logits = self.model(x, *self.labels)[0, :, -1].double().numpy()

    def logits(self) -> np.ndarray:
        return self._logits

    def push(self, value: int) -> None:
        self.levels.append(int(value))
        self._compute()
        self._pushed(int(value))


class TorchWaveNetStepper(UnconditionalCopy):
    """Per-layer queues of past layer inputs (fast-wavenet), as FastWaveNetStepper keeps them, with one
    eager torch step per sample: the readable version of the compiled network step."""

    def __init__(self, model: WaveNet, vocab):
        self.model, self.vocab = model.eval(), vocab

    @torch.inference_mode()
    def reset(self, prefix, condition=None) -> None:
        m = self.model
        self._start_history(prefix, condition)
        digit, speaker = self.condition
        self.labels = torch.tensor([digit]), torch.tensor([speaker])
        self.conds = [c[0] for c in m.conditions(*self.labels)]
        self.queues, self.t, level = primed_queues(m, self.labels, [int(v) for v in prefix])
        self._step(level)

    def _step(self, level: int) -> None:
        m, t = self.model, self.t
        h = m.embed.weight[level]
        local = m.local(*self.labels, t, 1)
        skips = 0
        for layer, cond, queue in zip(m.layers, self.conds, self.queues):
            slot = t % layer.dilation
            past = queue[slot].clone()
            queue[slot] = h
            w = layer.conv.weight
            pre = w[:, :, 0] @ past + w[:, :, 1] @ h + layer.conv.bias + cond
            if layer.time is not None:
                pre = pre + layer.time(local[0, 0])
            a, b = pre.chunk(2)
            g = torch.tanh(a) * torch.sigmoid(b)
            h = h + layer.res.weight[:, :, 0] @ g + layer.res.bias
            skips = skips + layer.skip.weight[:, :, 0] @ g + layer.skip.bias
        z = F.relu(m.head1.weight[:, :, 0] @ F.relu(skips) + m.head1.bias)
        self._logits = (m.head2.weight[:, :, 0] @ z + m.head2.bias).double().numpy()
        self.t = t + 1

    def logits(self) -> np.ndarray:
        return self._logits

    @torch.inference_mode()
    def push(self, value: int) -> None:
        self._step(int(value))
        self._pushed(int(value))
