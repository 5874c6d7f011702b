"""The GPT as beam search's model (core.beam.BeamStepper): every beam in one forward a step, and no
key or value ever copied.

Beams share most of their past: the prompt, and all but their newest steps. Reordering a batched
KV cache by parent copies every beam's whole past every step (at context 1000 and width 8 that copy
was 90% of a step), so instead the keys and values of every position are stored once, in one pool
(a batch-1 KVCache): the window's shared start, then each kept character of the tree as it is
drawn. A step runs the live beams' new characters as the queries of one sequence, each at its
true position, and each sees what its own mask allows: the shared start and its own ancestors
(tree attention, in one scaled_dot_product_attention call per layer). Masks are per beam rows of
booleans; a step reorders those, not the cache.

When the window reaches the context (block_size), every beam is re-primed on its newest half block
by the rule GPTStepper follows (context_start); when the pool is full, on the same window, which
drops the slots of pruned hypotheses. A prime runs the beams' common start as one ordinary pass and
the rest as the tree of their distinct characters. One beam attends to every slot with no mask,
through exactly the calls GPTStepper makes, so width 1 is greedy decoding exactly.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import torch
from torch.nn import functional as F

from arplayground.nets.gpt import GPT, GPTStepper, KVCache, apply_rope

PRIME_CHUNK = 256  # tree characters per pass when priming: their (chunk, pool) mask stays small


class GPTBeams:
    def __init__(self, model: GPT, vocab, max_beams: int = 8):
        self.model = model.eval()
        self.vocab = vocab
        self.max_beams = max_beams
        self.block = model.cfg.block_size
        # The window's start plus every beam's own characters fit even when no two beams share one.
        self.capacity = self.block * (max_beams + 1)
        self.pool = KVCache(replace(model.cfg, block_size=self.capacity))
        self.masks = torch.zeros(max_beams, self.capacity, dtype=torch.bool)  # row b: the slots beam b sees
        self._positioned = GPTStepper(model, vocab)  # only for its context_start rule
        self.window = 0  # positions of the context each beam holds (the same for all)
        self.sequences: list[list[int]] = []  # each beam's whole text, prompt included

    @classmethod
    def of(cls, stepper: GPTStepper, max_beams: int = 8) -> "GPTBeams":
        """Beams on the model of a loaded text stepper (the same weights, caches of their own)."""
        return cls(stepper.model, stepper.vocab, max_beams)

    @torch.inference_mode()
    def start(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        sequences = [[int(v) for v in s] for s in sequences]
        assert 1 <= len(sequences) <= self.max_beams and len({len(s) for s in sequences}) == 1
        self.sequences = sequences
        return self._prime()

    @torch.inference_mode()
    def extend(self, parents: Sequence[int], values: Sequence[int]) -> np.ndarray:
        parents, values = [int(p) for p in parents], [int(v) for v in values]
        B = len(parents)
        assert B == len(values) and 1 <= B <= self.max_beams
        assert all(0 <= p < len(self.sequences) for p in parents)
        self.sequences = [self.sequences[p] + [v] for p, v in zip(parents, values)]
        if self.window >= self.block or self.pool.length + B > self.capacity:
            return self._prime()  # the context is full (GPTStepper's rule), or the pool: start afresh
        first = self.pool.length
        masks = self.masks[parents]  # each new beam sees what its parent saw, and itself
        masks[torch.arange(B), first + torch.arange(B)] = True
        mask = masks[:, : first + B]
        logits = self._push(values, [self.window] * B, None if B == 1 and bool(mask.all()) else mask)
        self.masks[:B] = masks
        self.window += 1
        return logits.numpy()

    def _prime(self) -> np.ndarray:
        """Every beam's window (context_start) into an empty pool: their common start as one ordinary
        pass, then the tree of the rest, every distinct character once."""
        n = len(self.sequences[0])
        start = self._positioned.context_start(n)
        windows = [s[start:] for s in self.sequences]
        B, length = len(windows), len(windows[0])
        common = 0
        while common < length and all(w[common] == windows[0][common] for w in windows):
            common += 1
        self.pool.length, self.window = 0, length
        self.masks[:B] = False
        self.masks[:B, :common] = True
        if common == length:  # one beam (or all alike): exactly GPTStepper's priming pass
            logits, _ = self.model(torch.tensor([windows[0]]), cache=self.pool)
            return logits[0, -1:].expand(B, -1).numpy().copy()
        if common:
            self.model(torch.tensor([windows[0][:common]]), cache=self.pool)
        # The rest as a tree: node i extends node parent[i] (-1: the common start), created in order.
        index: dict[tuple[int, int], int] = {}
        values, positions, parent, last = [], [], [], []
        for w in windows:
            node = -1
            for j in range(common, length):
                key = (node, w[j])
                if key not in index:
                    index[key] = len(values)
                    values.append(w[j])
                    positions.append(j)
                    parent.append(node)
                node = index[key]
            last.append(node)
        T = len(values)
        sees = torch.zeros(T, common + T, dtype=torch.bool)
        sees[:, :common] = True
        for i, p in enumerate(parent):
            if p >= 0:
                sees[i] = sees[p]
            sees[i, common + i] = True
        logits = torch.empty(T, self.model.cfg.vocab_size)
        for a in range(0, T, PRIME_CHUNK):
            b = min(T, a + PRIME_CHUNK)
            logits[a:b] = self._push(values[a:b], positions[a:b], sees[a:b, : common + b])
        self.masks[:B, : common + T] = sees[last]
        return logits[last].numpy()

    def _push(self, values, positions, mask: torch.Tensor | None) -> torch.Tensor:
        """Characters `values` at `positions` (of their windows) appended to the pool as queries of
        one sequence, query i seeing the pool's slots where mask[i] (None: all of them): the
        network's blocks as GPT.forward runs them, with that mask in place of the causal one.
        (len(values), V) logits."""
        model, pool = self.model, self.pool
        cfg = model.cfg
        C, nh = cfg.n_embd, cfg.n_head
        T = len(values)
        at = torch.tensor(positions)
        cos, sin = model.rope_cos[at], model.rope_sin[at]
        x = model.wte(torch.tensor([values]))  # (1, T, C): the beams' new characters, one sequence
        for layer, block in enumerate(model.blocks):
            attn = block.attn
            q, k, v = attn.qkv(block.ln_1(x)).split(C, dim=2)
            q, k, v = (t.view(1, T, nh, C // nh).transpose(1, 2) for t in (q, k, v))
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            keys, vals = pool.store(layer, k, v)
            y = F.scaled_dot_product_attention(q, keys, vals, attn_mask=mask)
            x = x + attn.proj(y.transpose(1, 2).contiguous().view(1, T, C))
            x = x + block.mlp(block.ln_2(x))
        pool.length += T
        return model.lm_head(model.ln_f(x))[0]
