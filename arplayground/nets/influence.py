"""Measured influence, shared by the models' field functions (gpt_field, pixelcnn_field, plain_field,
wavenet_field): one step's measure from its logits, and its gradient with respect to the inputs.

Each field function runs the whole real network once with autograd on (whatever grad mode the
caller is in: a job thread, a test under no_grad) and takes the gradient of one scalar with respect
to the inputs alone, with torch.autograd.grad: no parameter's .grad is written and the model is
not changed, so a paused run continues exactly as it would have.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch.nn import functional as F

from arplayground.core.causality import check_measure


@contextlib.contextmanager
def gradients_on(model: torch.nn.Module):
    """Autograd on for one field's pass, even inside inference_mode or no_grad; the model must be
    in eval mode (dropout would make the field random)."""
    if model.training:
        raise RuntimeError("a field is measured in eval mode: call model.eval() first")
    with torch.inference_mode(False), torch.enable_grad():
        yield


def step_measure(logits: torch.Tensor, value: int | None, measure: str) -> tuple[torch.Tensor, int]:
    """From one step's logits (V,): log p(value), or the distribution's entropy, in nats, as a
    differentiable scalar; and the value (the most likely one where none is given)."""
    check_measure(measure)
    log_p = F.log_softmax(logits.float(), dim=-1)
    if value is None:
        value = int(torch.argmax(log_p))
    if measure == "log-prob":
        return log_p[value], value
    return -(log_p.exp() * log_p).sum(), value


def input_influence(target: torch.Tensor, inputs: torch.Tensor, channel_dim: int) -> np.ndarray:
    """|d target / d inputs| per input: the gradient's L2 norm over `channel_dim` (float64, so that
    squares of tiny gradients do not underflow to an exact 0), as float32 numpy."""
    (grad,) = torch.autograd.grad(target, inputs)
    return grad.detach().double().norm(dim=channel_dim).numpy().astype(np.float32)
