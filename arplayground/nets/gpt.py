"""A character-level GPT: masked (causal) self-attention, rotary positions, and a KV cache.

Read bottom-up: RoPE helpers, the KV cache, attention, the block, the model, and finally the
stepper that adapts the model to arplayground's stepping protocol (reset / logits / push).

Shapes: B batch, T time, C channels (n_embd), nh heads, hs head size (C // nh), V vocabulary.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F

from arplayground.core.causality import Field, gpt_structural
from arplayground.core.vocab import Vocabulary
from arplayground.nets.influence import gradients_on, input_influence, step_measure


@dataclass
class GPTConfig:
    vocab_size: int = 65  # Tiny Shakespeare has 65 distinct characters
    block_size: int = 1024  # the longest context; the benchmark asks for context 1000
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 192  # 6 x 192 is nanoGPT's CPU-sized recipe, the reference we must beat
    dropout: float = 0.1  # 1.1M training characters are seen ~10 times: a little dropout pays
    rope_base: float = 10000.0
    # False only for the cheat model (arplayground-train text --no-causal-mask): attention sees
    # the whole window, future included, so teacher-forced training learns to copy the next character.
    causal: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- rotary position embedding
# Rotary embeddings encode position by rotating query/key pairs; attention then depends on
# relative offsets only, so a token's cached key never needs recomputing as the text grows.


def rope_tables(cfg: GPTConfig) -> tuple[torch.Tensor, torch.Tensor]:
    hs = cfg.n_embd // cfg.n_head
    inv_freq = 1.0 / (cfg.rope_base ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    angles = torch.outer(torch.arange(cfg.block_size, dtype=torch.float32), inv_freq)  # (block, hs/2)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    # x: (B, nh, T, hs); cos, sin: (T, hs/2). Rotate the two halves of each head as pairs.
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


# ---------------------------------------------------------------- KV cache


class KVCache:
    """Keys and values of every layer for the positions seen so far, preallocated to block_size."""

    def __init__(self, cfg: GPTConfig, batch_size: int = 1, dtype=torch.float32):
        hs = cfg.n_embd // cfg.n_head
        shape = (cfg.n_layer, batch_size, cfg.n_head, cfg.block_size, hs)
        self.k = torch.zeros(shape, dtype=dtype)
        self.v = torch.zeros(shape, dtype=dtype)
        self.length = 0  # positions already stored
        self.capacity = cfg.block_size

    def store(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write this layer's new keys/values after the stored ones; return all of them."""
        T = k.shape[2]
        end = self.length + T
        assert end <= self.capacity, "KV cache full: the caller must re-prime a shorter window"
        self.k[layer, :, :, self.length : end] = k
        self.v[layer, :, :, self.length : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]


# ---------------------------------------------------------------- the network


class KeptAttention:
    """Asks a pass without a cache (GPT.forward_embedded) to compute every layer's attention weights
    explicitly, softmax(q k^T / sqrt(hs)) under the causal mask where the model has one, to make
    its output from exactly those weights, and to keep the row of one query: so the weights shown
    are the forward's own, not recomputed beside it. Generation never asks (it uses SDPA)."""

    def __init__(self, query: int):
        self.query = query  # an index into the pass's positions
        self.rows: list[torch.Tensor] = []  # per layer, (B, nh, T): that query's weights over every key


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        assert cfg.n_embd % cfg.n_head == 0
        self.n_head = cfg.n_head
        self.causal = cfg.causal
        self.qkv = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.dropout = cfg.dropout

    def forward(self, x, cos, sin, cache: KVCache | None = None, layer: int = 0, kept: KeptAttention | None = None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)  # (B, nh, T, hs)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        dropout_p = self.dropout if self.training else 0.0
        if kept is not None:
            y = self._explicit(q, k, v, kept)
        elif cache is None or cache.length == 0:
            if cache is not None:
                cache.store(layer, k, v)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal, dropout_p=dropout_p)
        else:
            past = cache.length
            k, v = cache.store(layer, k, v)  # (B, nh, past + T, hs)
            if T == 1:  # the usual generation step: one query sees every stored key
                y = F.scaled_dot_product_attention(q, k, v)
            elif self.causal:  # a block appended to a non-empty cache: causal inside the block
                mask = torch.ones(T, past + T, dtype=torch.bool).tril(diagonal=past)
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            else:
                y = F.scaled_dot_product_attention(q, k, v)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return F.dropout(self.proj(y), dropout_p, self.training)

    def _explicit(self, q, k, v, kept: KeptAttention) -> torch.Tensor:
        """Attention with its weights as a tensor, kept for the query asked: what SDPA computes (the
        same logits to float32 round-off, tested), slower, for one pass of a field (gpt_field)."""
        assert not self.training, "kept attention weights are for eval passes (no dropout)"
        B, nh, T, hs = q.shape
        # The mask as a bias added inside the one scaled matmul: a (T, T) score tensor per head is
        # the pass's largest, and each elementwise op over it (and its backward) costs as much.
        mask = (torch.full((T, T), float("-inf"), dtype=q.dtype).triu(1) if self.causal
                else torch.zeros(1, 1, dtype=q.dtype))
        att = torch.baddbmm(mask, q.reshape(B * nh, T, hs), k.reshape(B * nh, T, hs).transpose(1, 2),
                            alpha=1.0 / math.sqrt(hs))
        att = torch.softmax(att, dim=-1).view(B, nh, T, T)  # exactly 0 where masked: exp(-inf)
        kept.rows.append(att[:, :, kept.query])
        return att @ v


class MLP(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=False)
        self.proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=False)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, cache=None, layer=0, kept=None):
        x = x + self.attn(self.ln_1(x), cos, sin, cache, layer, kept)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: input and output share one table
        cos, sin = rope_tables(cfg)
        # Not persistent: derived from the config, so they stay out of the weights file.
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):  # GPT-2: scale residual projections by depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None):
        """idx (B, T) -> logits (B, T, V), and the mean cross-entropy when targets are given.

        With a cache, idx continues the stored positions and the cache grows by T.
        """
        logits = self.forward_embedded(self.wte(idx), cache)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def forward_embedded(self, x: torch.Tensor, cache: KVCache | None = None, kept: KeptAttention | None = None):
        """The logits (B, T, V) from the embedded characters x = wte(idx) (B, T, C): differentiable
        in x, for the measured field. `kept` (no cache) keeps every layer's attention weights of
        one query, from this very pass."""
        B, T, _ = x.shape
        start = cache.length if cache is not None else 0
        assert start + T <= self.cfg.block_size, f"context {start + T} > block_size {self.cfg.block_size}"
        assert kept is None or cache is None, "kept attention is for a pass without a cache"
        cos, sin = self.rope_cos[start : start + T], self.rope_sin[start : start + T]
        x = self.drop(x)
        for layer, block in enumerate(self.blocks):
            x = block(x, cos, sin, cache, layer, kept)
        if cache is not None:
            cache.length += T
        return self.lm_head(self.ln_f(x))


# ---------------------------------------------------------------- what one output sees


def field_window(tokens_known: int, position: int, context_start) -> tuple[int, int]:
    """The characters [start, end) one pass reads to give character `position`'s logits exactly as
    Score's teacher-forced pass does (GPTStepper.teacher_forced): its context window from
    context_start(position), running on to the last character whose prediction shares that
    start. For a causal model the characters from `position` on change nothing; the pass still
    reads them, so the field shows that they are seen by nothing (and, without the mask, that they are)."""
    start = context_start(position)
    end = position + 1
    while end < tokens_known and context_start(end) == start:
        end += 1
    return start, end - 1


def gpt_field(model: GPT, tokens, position: int, context_start, measure: str = "log-prob") -> Field:
    """What character `position` of `tokens` sees: the gradient of log p(tokens[position]) (or the
    entropy there) with respect to the embeddings of every character in its window, L2 over the
    embedding, and every layer's and head's attention weights of the query that predicts it (the
    character before it), all from one pass. position runs from 1 (character 0 is the prompt's
    start, predicted by nothing) to len(tokens), the character not drawn yet (its most likely value
    is measured then). context_start(n) is the stepper's (GPTStepper.context_start)."""
    tokens = [int(t) for t in tokens]
    cfg = model.cfg
    if not 1 <= position <= len(tokens):
        raise ValueError(f"character {position} is not an output of a {len(tokens)}-character text "
                         f"(outputs run from 1 to {len(tokens)})")
    if any(not 0 <= t < cfg.vocab_size for t in tokens):
        raise ValueError(f"a character outside the model's {cfg.vocab_size} values")
    start, end = field_window(len(tokens), position, context_start)
    query = position - 1 - start  # the query that predicts character `position`
    known = tokens[position] if position < len(tokens) else None
    with gradients_on(model):
        x = model.wte(torch.tensor([tokens[start:end]])).detach().requires_grad_(True)
        kept = KeptAttention(query)
        logits = model.forward_embedded(x, kept=kept)
        target, value = step_measure(logits[0, query], known, measure)
        seen = input_influence(target, x, channel_dim=2)[0]
    length = len(tokens)
    measured = np.zeros(length, np.float32)
    measured[start:end] = seen
    attention = np.zeros((cfg.n_layer, cfg.n_head, length), np.float32)
    attention[:, :, start:end] = torch.stack([row[0] for row in kept.rows]).detach().numpy()
    if cfg.causal:
        note = (f"The {position - start:,} characters before this one (from character {start + 1:,}; the context "
                f"holds {cfg.block_size:,}): the causal mask hides the rest of the window from it.")
    else:
        note = (f"No causal mask: this output sees the whole window of {end - start:,} characters, itself and "
                f"those after it too (the cheat), so teacher forcing can copy what it should predict.")
    return Field(position=position, length=length,
                 structural=gpt_structural(length, position, start, causal=cfg.causal, window_end=end),
                 measured=measured, measure=measure, value=value, note=note, attention=attention,
                 field_span=cfg.block_size, score=float(target.detach()), window=(start, end))


# ---------------------------------------------------------------- the compiled decode step


class DecodeStep:
    """One cached step of `model` through kernels/gpt.decode_step, on `cache`'s own storage (numpy
    views of its tensors): torch's passes (priming, re-priming) and this step share one cache."""

    def __init__(self, model: GPT, cache: KVCache):
        from arplayground.kernels.gpt import decode_step

        self.kernel = decode_step
        cfg = model.cfg
        C = cfg.n_embd

        def f32(t: torch.Tensor) -> np.ndarray:
            return np.ascontiguousarray(t.detach().numpy(), dtype=np.float32)

        def stacked(get) -> np.ndarray:
            return f32(torch.stack([get(b) for b in model.blocks]))

        self.weights = (
            f32(model.wte.weight),
            stacked(lambda b: b.ln_1.weight), stacked(lambda b: b.ln_1.bias),
            stacked(lambda b: b.attn.qkv.weight), stacked(lambda b: b.attn.proj.weight),
            stacked(lambda b: b.ln_2.weight), stacked(lambda b: b.ln_2.bias),
            stacked(lambda b: b.mlp.fc.weight), stacked(lambda b: b.mlp.proj.weight),
            f32(model.ln_f.weight), f32(model.ln_f.bias),
            f32(model.rope_cos), f32(model.rope_sin),
        )
        self.k, self.v = cache.k.numpy()[:, 0], cache.v.numpy()[:, 0]  # (layers, heads, block, head size), shared
        self.scratch = (np.empty(C, np.float32), np.empty(C, np.float32), np.empty(3 * C, np.float32),
                        np.empty(C, np.float32), np.empty(4 * C, np.float32), np.empty(cfg.block_size, np.float32))
        self.logits = np.empty(cfg.vocab_size, np.float32)

    def __call__(self, token: int, pos: int) -> np.ndarray:
        """The logits after `token` at position `pos`, as float64 (the loop's precision)."""
        if not 0 <= token < len(self.logits) or not 0 <= pos < self.k.shape[2]:
            raise ValueError(f"token {token} at position {pos} is outside the model")  # checked before compiled code
        self.kernel(token, pos, *self.weights, self.k, self.v, *self.scratch, self.logits)
        return self.logits.astype(np.float64)


# ---------------------------------------------------------------- stepping protocol adapter


class GPTStepper:
    """Runs a GPT one character at a time for the generation loop.

    reset() primes the KV cache with the whole prefix in one teacher-forced pass; logits() reads
    the next-character distribution already computed; push() runs one cached step. When the text
    outgrows block_size, the cache is re-primed on the most recent half block (one parallel pass),
    so generation can go on indefinitely with at least block_size/2 characters of context.

    The context of every position depends on the position alone (context_start), so a run rewound
    to any step and re-primed there sees exactly what it saw the first time.
    """

    # Cached steps through the compiled decode step (kernels/gpt.py); False: torch's, op by op
    # (the reference the compiled step is tested against).
    compiled = True

    def __init__(self, model: GPT, vocab: Vocabulary):
        assert model.cfg.vocab_size == len(vocab)
        self.model = model.eval()
        self.vocab = vocab
        self.cache = KVCache(model.cfg)
        self.tokens: list[int] = []
        self._next_logits: np.ndarray | None = None
        self._decode: DecodeStep | None = None  # made at the first compiled step
        self._start = 0  # where the cache's window begins in tokens (context_start of the last prime)
        # The next logits at recent lengths, so rollback() (speculative decoding's rejected
        # proposals) needs no pass: length -> logits, the newest RECENT_LOGITS lengths.
        self._recent: dict[int, np.ndarray] = {}

    def needs_compiling(self) -> bool:
        """Whether warm_up() will compile the decode step (the first run after installing)."""
        from arplayground.kernels import gpt as k
        from arplayground.kernels.cache import compiled_on_disk

        return self.compiled and not compiled_on_disk(k.decode_step)

    def warm_up(self) -> None:
        """Compile the decode step, or load it from numba's cache, before a run times its steps."""
        if self.compiled:
            self.reset([])
            self.push(self.vocab.default_start)

    def context_start(self, n: int) -> int:
        """Where the context begins when n tokens are known: 0 until the cache first fills; then the
        cache is re-primed on the last half block each time it is full again, which happens at
        n = B + 1 + k (B/2 + 1) for block size B."""
        B = self.cache.capacity
        if n <= B:
            return 0
        k = (n - (B + 1)) // (B // 2 + 1)
        return B + 1 + k * (B // 2 + 1) - B // 2

    @torch.inference_mode()
    def reset(self, prefix, condition=None) -> None:
        """Prime on prefix (a list of token ids; may be empty). Text models take no condition."""
        self.tokens = list(prefix) or [self.vocab.default_start]
        self._prime(self.tokens[self.context_start(len(self.tokens)) :])

    def _prime(self, window: list[int]) -> None:
        self.cache.length = 0
        self._start = len(self.tokens) - len(window)
        self._recent.clear()
        logits, _ = self.model(torch.tensor([window]), cache=self.cache)
        self._set_next(logits[0, -1].numpy().astype(np.float64))

    RECENT_LOGITS = 40  # more than speculative decoding's longest block (16 proposals and a pending value)

    def _set_next(self, logits: np.ndarray) -> None:
        n = len(self.tokens)
        self._next_logits = self._recent[n] = logits
        self._recent.pop(n - self.RECENT_LOGITS, None)

    def logits(self) -> np.ndarray:
        assert self._next_logits is not None, "reset() first"
        return self._next_logits

    @torch.inference_mode()
    def teacher_forced(self, prefix, values, condition=None) -> np.ndarray:
        """(len(values), V) logits of each value given the prefix and the values before it, every
        position with exactly the context generation gives it (context_start): one parallel pass
        per context window, not one per character. Text models take no condition."""
        tokens = (list(prefix) or [self.vocab.default_start]) + [int(v) for v in values]
        first = len(tokens) - len(values)
        out = np.empty((len(values), self.model.cfg.vocab_size), np.float32)
        j = first  # predict tokens[j] from tokens[context_start(j):j]
        while j < len(tokens):
            start = self.context_start(j)
            end = j + 1  # the positions that share this context start: until the cache would re-prime
            while end < len(tokens) and self.context_start(end) == start:
                end += 1
            logits, _ = self.model(torch.tensor([tokens[start : end - 1]]))
            out[j - first : end - first] = logits[0, j - 1 - start :].numpy()
            j = end
        return out

    def sees(self, values, position: int, condition=None, measure: str = "log-prob") -> Field:
        """What character `position` of the text `values` sees (gpt_field), in the window generation
        gives it (context_start). Reads the model only: the KV cache and the next logits stay as
        they are. Text models take no condition."""
        return gpt_field(self.model, values, position, self.context_start, measure)

    @torch.inference_mode()
    def push(self, value: int) -> None:
        self.tokens.append(int(value))
        if self.cache.length >= self.cache.capacity:
            start = self.context_start(len(self.tokens))
            assert start == len(self.tokens) - self.cache.capacity // 2
            self._prime(self.tokens[start:])
            return
        if self.compiled:
            if self._decode is None:
                self._decode = DecodeStep(self.model, self.cache)
            logits = self._decode(int(value), self.cache.length)
            self.cache.length += 1
            self._set_next(logits)
            return
        logits, _ = self.model(torch.tensor([[int(value)]]), cache=self.cache)
        self._set_next(logits[0, -1].numpy().astype(np.float64))

    @torch.inference_mode()
    def score_block(self, values) -> np.ndarray:
        """Append several values at once, as push() would one by one, and return (len(values), V):
        row i is the next-character logits after values[: i + 1]. One cached pass for the whole
        block (a speculative target scoring k proposals), unless the block would overflow the cache:
        then value by value, re-priming where push() does, so every row has exactly the context
        generation gives it. rollback() takes back what was not accepted."""
        values = [int(v) for v in values]
        if not values:
            return np.empty((0, self.model.cfg.vocab_size))
        if self.cache.length + len(values) > self.cache.capacity:
            rows = []
            for value in values:
                self.push(value)
                rows.append(self._next_logits)
            return np.stack(rows)
        logits, _ = self.model(torch.tensor([values]), cache=self.cache)
        rows = logits[0].numpy().astype(np.float64)
        for value, row in zip(values, rows):
            self.tokens.append(value)
            self._set_next(row)
        return rows

    @torch.inference_mode()
    def rollback(self, n: int) -> None:
        """Forget the last n values (proposals the target rejected), as if they had never been
        pushed. Usually free: the cache is cut back and the logits there are remembered; where the
        cache was re-primed since (or the length is no longer remembered), the kept text is primed
        again in one pass, on the window generation gives that length."""
        if n <= 0:
            return
        length = len(self.tokens) - n
        assert length >= 1, "rollback() past the start"
        del self.tokens[length:]
        remembered = self._recent.get(length)
        if remembered is not None and length > self._start and self.context_start(length) == self._start:
            self.cache.length = length - self._start
            for later in [k for k in self._recent if k > length]:
                del self._recent[later]
            self._next_logits = remembered
        else:
            self._prime(self.tokens[self.context_start(length) :])
