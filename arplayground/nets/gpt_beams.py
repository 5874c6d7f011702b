"""The GPT as beam search's model (core.beam.BeamStepper): all beams in one batch, one forward a step.

The KV cache holds one row per beam (KVCache's batch dimension). A step reorders the rows by each
new beam's parent (index_select on the batch dimension, only the positions stored) and runs the
new values of every beam as one (beams, 1) pass. Every beam has the same length, so they share
one context start: when the cache is full they are re-primed together on the newest half block,
by the rule GPTStepper follows (context_start), so one beam is exactly the greedy run.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from arplayground.nets.gpt import GPT, GPTStepper, KVCache


class GPTBeams:
    def __init__(self, model: GPT, vocab, max_beams: int = 8):
        self.model = model.eval()
        self.vocab = vocab
        self.max_beams = max_beams
        self.cache = KVCache(model.cfg, batch_size=max_beams)
        self._positioned = GPTStepper(model, vocab)  # only for its context_start rule
        self.rows = 0  # beams held
        self.sequences: list[list[int]] = []  # each beam's whole text, prompt included

    @classmethod
    def of(cls, stepper: GPTStepper, max_beams: int = 8) -> "GPTBeams":
        """Beams on the model of a loaded text stepper (the same weights, a cache of its own)."""
        return cls(stepper.model, stepper.vocab, max_beams)

    def context_start(self, n: int) -> int:
        return self._positioned.context_start(n)

    @torch.inference_mode()
    def start(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        sequences = [[int(v) for v in s] for s in sequences]
        assert 1 <= len(sequences) <= self.max_beams and len({len(s) for s in sequences}) == 1
        self.sequences = sequences
        return self._prime()

    def _prime(self) -> np.ndarray:
        n = len(self.sequences[0])
        window = torch.tensor([s[self.context_start(n):] for s in self.sequences])
        self.rows = len(self.sequences)
        self.cache.length = 0
        logits = self._forward(window)
        return logits[:, -1].numpy()

    def _forward(self, idx: torch.Tensor) -> torch.Tensor:
        """The model on rows [0, B) of the cache: a view of its first B rows, so the cache's own
        tensors are written in place."""
        B = idx.shape[0]
        view = KVCache.__new__(KVCache)
        view.k, view.v = self.cache.k[:, :B], self.cache.v[:, :B]
        view.length, view.capacity = self.cache.length, self.cache.capacity
        logits, _ = self.model(idx, cache=view)
        self.cache.length = view.length
        return logits

    @torch.inference_mode()
    def extend(self, parents: Sequence[int], values: Sequence[int]) -> np.ndarray:
        parents, values = [int(p) for p in parents], [int(v) for v in values]
        assert len(parents) == len(values) and 1 <= len(parents) <= self.max_beams
        assert all(0 <= p < self.rows for p in parents)
        self.sequences = [self.sequences[p] + [v] for p, v in zip(parents, values)]
        if self.cache.length >= self.cache.capacity:  # full: every beam re-primed on its newest half block
            return self._prime()
        n = self.cache.length
        moved = [i for i, p in enumerate(parents) if p != i]
        if moved:  # beams moved: those rows take their parent's keys and values (the others stay put)
            source, target = torch.tensor([parents[i] for i in moved]), torch.tensor(moved)
            for stored in (self.cache.k, self.cache.v):
                past = stored[:, :, :, :n]
                past.index_copy_(1, target, past.index_select(1, source))
        self.rows = len(parents)
        logits = self._forward(torch.tensor(values).view(-1, 1))
        return logits[:, -1].numpy()
