"""A WaveNet (van den Oord et al. 2016) over mu-law levels, conditioned on a digit and a speaker.

Stacks of dilated causal convolutions (kernel 2, dilations 1, 2, 4, ... repeated), gated
tanh * sigmoid units, residual and skip connections, a 256-way softmax per sample. The digit and
the speaker are global conditions: their embeddings are added to every gate (index n_digits /
n_speakers means "any", trained by dropping the label now and then).

Optionally (time_knots > 0) a local condition too: each (digit, speaker) pair has a learned
template, time_features numbers at knots every time_spacing samples from the clip's first sample,
linearly interpolated (the last knot held); every gate adds its own linear map of the template at
the current step. FSDD clips are trimmed to the spoken word, so "this pair, this far into the
clip" says which part of the word comes now: the local condition a global label lacks (with
global conditions only, a WaveNet babbles: van den Oord et al. 2016, section 3.2). Interpolation
and the gate's map are both linear, so the compiled path gets each gate's knots premultiplied.

Time step t predicts sample t from samples < t: the input at step t is sample t-1 (silence before
the first sample), and every convolution pads its past with zeros. Generation from nothing is
therefore exactly what training on whole clips from their first sample teaches.

FastWaveNetStepper generates with per-layer queues of past activations (fast-wavenet, Paine et al.
2016) in numba-compiled loops that release the GIL (arplayground/kernels/wavenet.py), plus
run_chunk(): hundreds of steps, sampling and per-step records included, in one compiled call.
baselines.py holds the slow references it is checked against, the same numbers from each (tested):
the whole network over the whole sequence for every sample, and the queues as eager torch steps.

Shapes: B batch, T time, R residual channels, S skip channels, L = 256 levels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from arplayground.core.causality import Field, wavenet_field_span, wavenet_structural, wavenet_tree
from arplayground.core.mulaw import SILENCE
from arplayground.core.sampling import SamplerSettings
from arplayground.core.trace import TOP_CANDIDATES
from arplayground.nets.influence import gradients_on, input_influence, step_measure


@dataclass
class WaveNetConfig:
    residual: int = 32
    skip: int = 64
    cycle: int = 10  # dilations 1, 2, ..., 2**(cycle-1) ...
    n_cycles: int = 2  # ... repeated this many times
    n_digits: int = 10  # index n_digits = any digit
    n_speakers: int = 6  # index n_speakers = any speaker
    levels: int = 256
    sample_rate: int = 8000
    time_knots: int = 0  # 0: no local condition; else knots per (digit, speaker) template ...
    time_spacing: int = 400  # ... one every this many samples (50 ms at 8 kHz) ...
    time_features: int = 16  # ... each of this many numbers

    @property
    def dilations(self) -> list[int]:
        return [2**i for i in range(self.cycle)] * self.n_cycles

    @property
    def receptive_field(self) -> int:
        return sum(self.dilations) + 1  # samples the newest prediction can see

    def to_dict(self) -> dict:
        return asdict(self)


def time_mixing(cfg: WaveNetConfig, start: int, count: int) -> torch.Tensor | None:
    """(count, K) weights for steps start .. start+count-1: each row mixes the two knots around
    its step linearly (the last knot from there on). None without a local condition."""
    if not cfg.time_knots:
        return None
    K = cfg.time_knots
    position = (torch.arange(start, start + count, dtype=torch.float64) / cfg.time_spacing).clamp(max=K - 1)
    left = position.floor().long()
    frac = (position - left).float()
    rows = torch.arange(count)
    mix = torch.zeros(count, K)
    mix[rows, left] += 1 - frac
    mix[rows, (left + 1).clamp(max=K - 1)] += frac
    return mix


class ResidualLayer(nn.Module):
    def __init__(self, cfg: WaveNetConfig, dilation: int):
        super().__init__()
        R, S = cfg.residual, cfg.skip
        self.dilation = dilation
        self.conv = nn.Conv1d(R, 2 * R, kernel_size=2, dilation=dilation)  # taps: t - dilation, t
        self.digit = nn.Embedding(cfg.n_digits + 1, 2 * R)
        self.speaker = nn.Embedding(cfg.n_speakers + 1, 2 * R)
        self.time = nn.Linear(cfg.time_features, 2 * R, bias=False) if cfg.time_knots else None  # template -> gate
        self.res = nn.Conv1d(R, R, 1)
        self.skip = nn.Conv1d(R, S, 1)

    def forward(self, h, cond, local=None):
        """h (B, R, T), cond (B, 2R), local (B, T, F) from WaveNet.local() or None
        -> (next h, skip contribution (B, S, T))."""
        pre = self.conv(F.pad(h, (self.dilation, 0))) + cond[:, :, None]
        if self.time is not None:
            pre = pre + self.time(local).transpose(1, 2)
        a, b = pre.chunk(2, dim=1)
        g = torch.tanh(a) * torch.sigmoid(b)
        return h + self.res(g), self.skip(g)


class WaveNet(nn.Module):
    def __init__(self, cfg: WaveNetConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.levels, cfg.residual)  # the input level, as a 1 x 1 conv on one-hot
        self.layers = nn.ModuleList(ResidualLayer(cfg, d) for d in cfg.dilations)
        if cfg.time_knots:  # one template (K x F) per (digit, speaker) pair, "any" included
            self.templates = nn.Embedding((cfg.n_digits + 1) * (cfg.n_speakers + 1), cfg.time_knots * cfg.time_features)
        self.head1 = nn.Conv1d(cfg.skip, cfg.skip, 1)
        self.head2 = nn.Conv1d(cfg.skip, cfg.levels, 1)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def conditions(self, digit: torch.Tensor, speaker: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, the gate bias of these conditions (B, 2R)."""
        return [layer.digit(digit) + layer.speaker(speaker) for layer in self.layers]

    def template(self, digit: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """The pairs' templates (B, K, F)."""
        cfg = self.cfg
        return self.templates(digit * (cfg.n_speakers + 1) + speaker).view(-1, cfg.time_knots, cfg.time_features)

    def local(self, digit, speaker, start: int, count: int) -> torch.Tensor | None:
        """The local condition (B, count, F) at steps start .. start+count-1; None without one."""
        mix = time_mixing(self.cfg, start, count)
        return None if mix is None else mix @ self.template(digit, speaker)

    def forward(self, levels: torch.Tensor, digit: torch.Tensor, speaker: torch.Tensor) -> torch.Tensor:
        """levels (B, T) ints -> logits (B, L, T); logits[..., t] depend on levels[:, :t] only."""
        return self.forward_embedded(self.embed(levels).transpose(1, 2), digit, speaker)

    def forward_embedded(self, e: torch.Tensor, digit, speaker) -> torch.Tensor:
        """The same from the embedded levels e (B, R, T): differentiable, for the causality test."""
        silence = self.embed.weight[SILENCE][None, :, None].expand(e.shape[0], -1, 1)
        h = torch.cat([silence, e[:, :, :-1]], dim=2)  # step t sees sample t-1
        local = self.local(digit, speaker, 0, e.shape[2])  # every clip starts at step 0
        skips = 0
        for layer, cond in zip(self.layers, self.conditions(digit, speaker)):
            h, s = layer(h, cond, local)
            skips = skips + s
        return self.head2(F.relu(self.head1(F.relu(skips))))

    def loss(self, levels, digit, speaker, mask=None) -> torch.Tensor:
        """Mean NLL in nats per sample over the positions where mask (B, T) is true (default all)."""
        nll = F.cross_entropy(self(levels, digit, speaker), levels.long(), reduction="none")
        if mask is None:
            return nll.mean()
        return (nll * mask).sum() / mask.sum()

    def export(self, digit: int, speaker: int) -> dict:
        """Weights as float32 numpy arrays for the compiled path, gate biases for these conditions."""
        with torch.no_grad():
            labels = torch.tensor([digit]), torch.tensor([speaker])
            conds = self.conditions(*labels)
            template = self.template(*labels)[0] if self.cfg.time_knots else None

            def np32(t):
                return np.ascontiguousarray(t.detach().numpy().astype(np.float32))

            return {
                "embed": np32(self.embed.weight),  # (L, R)
                # The dilated conv's two taps side by side: one dot product over [input at t-d, input at t].
                "w_gate": np32(torch.stack([torch.cat([l.conv.weight[:, :, 0], l.conv.weight[:, :, 1]], 1) for l in self.layers])),  # (n, 2R, 2R)
                "b_gate": np32(torch.stack([l.conv.bias + c[0] for l, c in zip(self.layers, conds)])),  # (n, 2R)
                # Each gate's knots of the local condition (n, K, 2R) and their spacing; one zero knot without one.
                "t_gate": np32(torch.stack([l.time(template) for l in self.layers]) if template is not None
                               else torch.zeros(len(self.layers), 1, 2 * self.cfg.residual)),
                "t_spacing": self.cfg.time_spacing,
                # Residual and skip 1 x 1 convs stacked: one pass over the gate output.
                "w_out": np32(torch.stack([torch.cat([l.res.weight[:, :, 0], l.skip.weight[:, :, 0]], 0) for l in self.layers])),  # (n, R+S, R)
                "b_res": np32(torch.stack([l.res.bias for l in self.layers])),
                "b_skip": np32(torch.stack([l.skip.bias for l in self.layers]).sum(0)),  # (S,): summed once
                "w_head1": np32(self.head1.weight[:, :, 0]), "b_head1": np32(self.head1.bias),
                "w_head2": np32(self.head2.weight[:, :, 0]), "b_head2": np32(self.head2.bias),
                "dilations": np.array(self.cfg.dilations, np.int64),
            }


def _conditions(cfg: WaveNetConfig, condition) -> tuple[int, int]:
    """condition: None, a digit, or (digit, speaker) with None meaning any -> label indices."""
    digit, speaker = condition if isinstance(condition, (tuple, list)) else (condition, None)
    digit = cfg.n_digits if digit is None else int(digit)
    speaker = cfg.n_speakers if speaker is None else int(speaker)
    assert 0 <= digit <= cfg.n_digits and 0 <= speaker <= cfg.n_speakers
    return digit, speaker


class UnconditionalCopy:
    """Guidance for a WaveNet stepper: a second stepper of the same kind, on the same samples, with
    the digit replaced by "any" (the speaker kept), started on the first unconditional_logits()
    from the samples so far (one parallel pass) and pushed in step until stop_unconditional()."""

    def _start_history(self, prefix, condition) -> None:
        """At reset(): remember the condition and every sample from here on."""
        cfg = self.model.cfg
        self.history = [int(v) for v in prefix]
        self.condition = _conditions(cfg, condition)
        self.guidable = self.condition[0] != cfg.n_digits  # a digit to guide by
        self.copy = None

    def unconditional_logits(self) -> np.ndarray:
        if self.copy is None:
            spare = getattr(self, "_spare_copy", None) or type(self)(self.model, self.vocab)
            spare.reset(self.history, (None, self.condition[1]))
            self.copy = self._spare_copy = spare
        return self.copy.logits()

    def stop_unconditional(self) -> None:
        self.copy = None  # the spare keeps its exported weights for the next time

    def teacher_forced(self, prefix, values, condition=None) -> np.ndarray:
        """(len(values), 256) logits of each sample after the prefix given every sample before it,
        from parallel passes of the whole network (teacher_forced_logits) in windows of
        TEACHER_WINDOW samples, so 30 s of sound never holds more than a window's activations."""
        levels = np.array([int(v) for v in prefix] + [int(v) for v in values], np.int64)
        labels = _conditions(self.model.cfg, condition)
        first = len(prefix)
        out = np.empty((len(values), self.model.cfg.levels), np.float32)  # 30 s of sound: 245 MB
        for start in range(first, len(levels), TEACHER_WINDOW):
            end = min(start + TEACHER_WINDOW, len(levels))
            out[start - first : end - first] = teacher_forced_logits(self.model, levels, labels, start, end)
        return out

    def sees(self, values, position: int, condition=None, measure: str = "log-prob") -> Field:
        """What sample `position` of the clip `values` sees (wavenet_field). Reads the model only:
        the queues, the guidance copy and the next logits stay as they are."""
        return wavenet_field(self.model, values, position, condition, measure)

    def _pushed(self, value: int) -> None:
        self.history.append(value)
        if self.copy is not None:
            self.copy.push(value)


TEACHER_WINDOW = 16_384  # samples scored per pass: 2 s of sound, about 60 MB of activations


@torch.inference_mode()
def teacher_forced_logits(model: WaveNet, levels: np.ndarray, labels: tuple[int, int], start: int, end: int) -> np.ndarray:
    """(end - start, L) logits of steps start .. end-1 of a clip whose samples are `levels`, in one
    parallel pass. Step t's output sees the inputs of steps t - (receptive field - 1) .. t only,
    so the pass starts there: what the convolutions' zero padding puts before it reaches no output
    kept, and the result is exact however far into a long recording the window lies."""
    t0 = max(0, start - (model.cfg.receptive_field - 1))
    inputs = np.concatenate([[SILENCE], levels[: end - 1]])[t0:end]  # step t consumes sample t-1
    h = model.embed(torch.from_numpy(inputs)[None]).transpose(1, 2)
    return window_logits(model, h, labels, t0, start - t0)[0].T.numpy()


def window_logits(model: WaveNet, h: torch.Tensor, labels: tuple[int, int], t0: int, first_kept: int = 0) -> torch.Tensor:
    """The logits (1, L, T - first_kept) of steps t0 + first_kept .. t0 + T - 1 from the embedded
    inputs h (1, R, T) of steps t0 .. t0 + T - 1 (step t's input: sample t - 1, silence at step 0).
    Exact for every step kept from one receptive field after t0 on (or from t0 = 0): what the
    zero padding puts before t0 reaches none of them. Only the kept steps' skips are summed."""
    digit, speaker = torch.tensor([labels[0]]), torch.tensor([labels[1]])
    local = model.local(digit, speaker, t0, h.shape[2])
    skips = 0
    for layer, cond in zip(model.layers, model.conditions(digit, speaker)):
        h, s = layer(h, cond, local)
        skips = skips + s[:, :, first_kept:]
    return model.head2(F.relu(model.head1(F.relu(skips))))


FIELD_AFTER = 256  # samples after the output that its field's pass also reads (32 ms): to show they reach nothing


def wavenet_field(model: WaveNet, values, position: int, condition=None, measure: str = "log-prob",
                  after: int = FIELD_AFTER) -> Field:
    """What sample `position` of the clip `values` (mu-law levels) sees: the gradient of log p(its
    level), or the entropy there, with respect to the embedded level of every sample in one
    parallel pass over a window of the field: from one receptive field before the output to
    `after` samples past it, so a long clip costs what a short one does (and the pass is exact:
    nothing before the window reaches the output). position runs from 0 to len(values) (the
    sample not drawn yet: its most likely level is measured); condition as teacher_forced takes it."""
    levels = np.array([int(v) for v in values], np.int64)
    cfg = model.cfg
    if not 0 <= position <= len(levels):
        raise ValueError(f"sample {position} is not an output of a {len(levels)}-sample clip (0 to {len(levels)})")
    if ((levels < 0) | (levels >= cfg.levels)).any():
        raise ValueError(f"a sample outside the model's {cfg.levels} levels")
    labels = _conditions(cfg, condition)
    kernel = model.layers[0].conv.kernel_size[0]
    span = wavenet_field_span(cfg.dilations, kernel)
    first = max(0, position - span)  # the samples the pass reads: [first, last)
    last = min(len(levels), position + 1 + after)
    t0 = max(0, position - (span - 1))  # the first step whose input reaches the output
    inputs = np.concatenate([[SILENCE], levels])[t0 : last + 1]  # steps t0 .. last (step t reads sample t - 1)
    known = int(levels[position]) if position < len(levels) else None
    with gradients_on(model):
        h = model.embed(torch.from_numpy(inputs)[None]).transpose(1, 2).detach().requires_grad_(True)
        logits = window_logits(model, h, labels, t0, position - t0)  # steps position .. last
        target, value = step_measure(logits[0, :, 0], known, measure)
        per_step = input_influence(target, h, channel_dim=1)[0]  # (steps,)
    measured = np.zeros(len(levels), np.float32)
    measured[first:last] = per_step[first + 1 - t0 : last + 1 - t0]  # sample s is the input of step s + 1
    rate = cfg.sample_rate
    note = (f"{span:,} samples ({1000 * span / rate:,.1f} ms at {rate / 1000:g} kHz) before this one reach it through "
            f"{len(cfg.dilations)} dilated layers (dilations {min(cfg.dilations)} to {max(cfg.dilations):,}); "
            f"nothing after it does.")
    return Field(position=position, length=len(levels),
                 structural=wavenet_structural(len(levels), position, cfg.dilations, kernel),
                 measured=measured, measure=measure, value=value, note=note,
                 layers=wavenet_tree(position, cfg.dilations, kernel), field_span=span,
                 score=float(target.detach()), window=(first, last))


@torch.inference_mode()
def primed_queues(model: WaveNet, labels, prefix: list[int]):
    """Queues after the prefix, in one parallel teacher-forced pass, and the input of the next step.

    queues[l][t % d] holds the input of layer l at step t, for its last d steps (zeros before the
    start, like the convolution's padding). Returns (queues, t, level): step t, which consumes
    `level` (the prefix's last sample, or silence), is the next to run.
    """
    queues = [torch.zeros(layer.dilation, model.cfg.residual) for layer in model.layers]
    if not prefix:
        return queues, 0, SILENCE
    n = len(prefix)  # steps 0 .. n-1 consume silence, prefix[0 .. n-2]
    # A queued input of layer l (one of its last d steps) sees back d plus the dilations below it:
    # never more than the receptive field. Earlier steps cannot reach the queues, so the pass starts
    # one receptive field before the end (a 30 s recording primes in milliseconds, not 5 s), exact.
    start = max(0, n - model.cfg.receptive_field)
    h = model.embed(torch.tensor([([SILENCE] + prefix[:-1])[start:]])).transpose(1, 2)
    local = model.local(*labels, start, n - start)
    for layer, cond, queue in zip(model.layers, model.conditions(*labels), queues):
        d = layer.dilation
        for t in range(max(start, n - d), n):  # the last d inputs of this layer
            queue[t % d] = h[0, :, t - start]
        h, _ = layer(h, cond, local)
    return queues, n, prefix[-1]


class FastWaveNetStepper(UnconditionalCopy):
    """The queues in numba-compiled loops that release the GIL.

    Implements the per-step protocol (logits / push), and run_chunk(): many steps, sampling and
    the per-step records included, in one compiled call, with the same sampling rules and the same
    uniform numbers as core.sampling, so it draws what generate() would draw.
    """

    def __init__(self, model: WaveNet, vocab):
        self.model, self.vocab = model.eval(), vocab
        cfg = model.cfg
        R, S, L = cfg.residual, cfg.skip, cfg.levels
        self.work = {  # buffers the compiled step writes into, allocated once
            "h": np.zeros(R, np.float32), "x": np.zeros(2 * R, np.float32), "pre": np.zeros(2 * R, np.float32), "g": np.zeros(R, np.float32),
            "skips": np.zeros(S, np.float32), "z": np.zeros(S, np.float32), "logits": np.zeros(L, np.float32),
        }
        self._raw, self._probs = np.zeros(L), np.zeros(L)  # the compiled draw's scratch
        self._exported: dict[tuple[int, int], dict] = {}

    def needs_compiling(self) -> bool:
        """Whether warm_up() will compile the kernels (the first run after installing)."""
        from arplayground.kernels import wavenet as k
        from arplayground.kernels.cache import compiled_on_disk

        return not compiled_on_disk(k.network_step, k.run_chunk)

    def warm_up(self) -> None:
        """Compile both kernels, or load them from numba's cache, so that no chunk's time (the
        real-time readout) includes compiling."""
        self.reset([], None)
        self.run_chunk(SamplerSettings(), np.full(1, 0.5), TOP_CANDIDATES, guided=False)

    def reset(self, prefix, condition=None) -> None:
        from arplayground.kernels import wavenet as k

        m, cfg = self.model, self.model.cfg
        self._start_history(prefix, condition)
        labels = self.condition
        if labels not in self._exported:
            self._exported[labels] = m.export(*labels)
        self.weights = self._exported[labels]
        queues, self.t, level = primed_queues(m, (torch.tensor([labels[0]]), torch.tensor([labels[1]])), [int(v) for v in prefix])
        self.queues = np.zeros((len(queues), max(cfg.dilations), cfg.residual), np.float32)
        for l, q in enumerate(queues):
            self.queues[l, : len(q)] = q.numpy()
        self._kernel = k
        # The network's arguments to both kernels, in their order: weights, queues, work buffers.
        w, b = self.weights, self.work
        self._network = (
            w["embed"], w["w_gate"], w["b_gate"], w["t_gate"], w["t_spacing"], w["w_out"], w["b_res"], w["b_skip"],
            w["w_head1"], w["b_head1"], w["w_head2"], w["b_head2"], w["dilations"],
            self.queues, b["h"], b["x"], b["pre"], b["g"], b["skips"], b["z"], b["logits"],
        )
        self._step(level)

    def _step(self, level: int) -> None:
        if not 0 <= level < self.model.cfg.levels:  # it indexes the embedding in compiled code, unchecked
            raise ValueError(f"level {level} is outside the model's {self.model.cfg.levels} levels")
        self._kernel.network_step(level, self.t, *self._network)
        self.t += 1

    def logits(self) -> np.ndarray:
        return self.work["logits"].astype(np.float64)

    def push(self, value: int) -> None:
        self._step(int(value))
        self._pushed(int(value))

    def run_chunk(self, settings, uniforms: np.ndarray, top: int, guided: bool) -> dict:
        """len(uniforms) steps (core.generate.ChunkedStepper): draw with settings (clamped), guided
        by the unconditional copy when `guided`, push, record. Returns the StepRecord fields as
        columns, with every step's full distributions ("raw", "sampled", "unconditional" when guided)."""
        from arplayground.kernels.sampling import RECORD_COLUMNS, kernel_settings, no_rows, record_columns

        if guided and self.copy is None:
            self.unconditional_logits()  # starts the copy
        elif not guided:
            self.stop_unconditional()
        copy = self.copy if guided else self  # unread when not guided
        n, L = len(uniforms), len(self._raw)
        out = record_columns(n, top)
        out["raw"], out["sampled"] = np.zeros((n, L), np.float32), np.zeros((n, L), np.float32)
        out["unconditional"] = np.zeros((n, L), np.float32) if guided else no_rows(L)
        last_unconditional = np.zeros(L)
        self._kernel.run_chunk(
            self.t, *kernel_settings(settings, guided), np.ascontiguousarray(uniforms, np.float64),
            tuple(out[name] for name in RECORD_COLUMNS), out["raw"], out["sampled"], out["unconditional"],
            self._raw, self._probs, last_unconditional, *self._network,
            copy.weights["b_gate"], copy.weights["t_gate"], *copy._network[-8:],  # the copy's gate biases, queues, buffers
        )
        self.t += n
        self.history.extend(out["value"].tolist())
        if guided:
            copy.t += n
            copy.history.extend(out["value"].tolist())
        else:
            del out["unconditional"]
        return out
