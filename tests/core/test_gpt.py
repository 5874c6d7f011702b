"""The GPT: cached generation equals the full forward; no position sees the future."""

import numpy as np
import pytest
import torch

from arplayground.core.vocab import Vocabulary
from arplayground.nets.gpt import GPT, GPTConfig, GPTStepper, KVCache


@pytest.fixture
def net():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=48, n_layer=3, n_head=2, n_embd=32, dropout=0.0)).eval()


def test_cached_steps_equal_full_forward_at_every_position(net):
    idx = torch.randint(0, 11, (1, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full, _ = net(idx)
        cache = KVCache(net.cfg)
        stepped = torch.cat([net(idx[:, t : t + 1], cache=cache)[0] for t in range(48)], dim=1)
    torch.testing.assert_close(stepped, full, atol=1e-4, rtol=0)


def test_prefill_then_steps_equal_full_forward(net):
    idx = torch.randint(0, 11, (2, 40), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full, _ = net(idx)
        cache = KVCache(net.cfg, batch_size=2)
        first, _ = net(idx[:, :25], cache=cache)  # one parallel pass over a prefix
        middle, _ = net(idx[:, 25:31], cache=cache)  # a block appended to a non-empty cache
        rest = [net(idx[:, t : t + 1], cache=cache)[0] for t in range(31, 40)]
    torch.testing.assert_close(torch.cat([first, middle, *rest], dim=1), full, atol=1e-4, rtol=0)


def test_causality_changing_position_t_changes_nothing_before_t(net):
    gen = torch.Generator().manual_seed(3)
    idx = torch.randint(0, 11, (1, 48), generator=gen)
    with torch.no_grad():
        base, _ = net(idx)
        for t in (0, 1, 17, 47):
            changed = idx.clone()
            changed[0, t] = (changed[0, t] + 5) % 11
            out, _ = net(changed)
            torch.testing.assert_close(out[:, :t], base[:, :t], atol=1e-5, rtol=0)
            assert (out[:, t] - base[:, t]).abs().max() > 1e-4  # and it does see position t itself


def test_loss_is_cross_entropy(net):
    idx = torch.randint(0, 11, (2, 10))
    logits, loss = net(idx, idx)
    assert loss.item() == pytest.approx(torch.nn.functional.cross_entropy(logits.reshape(-1, 11), idx.reshape(-1)).item())


def test_stepper_matches_full_forward_and_survives_block_overflow(net):
    vocab = Vocabulary([chr(ord("a") + i) for i in range(11)])
    stepper = GPTStepper(net, vocab)
    tokens = [int(v) for v in torch.randint(0, 11, (100,), generator=torch.Generator().manual_seed(4))]
    stepper.reset(tokens[:10])
    for t in range(10, 100):
        window = tokens[max(0, t - 48) : t]
        logits = stepper.logits()
        assert np.isfinite(logits).all()
        if t <= 48:  # before the first overflow the cache holds the whole text: exact
            with torch.no_grad():
                full, _ = net(torch.tensor([window]))
            np.testing.assert_allclose(logits, full[0, -1].numpy(), atol=1e-4)
        stepper.push(tokens[t])
    assert stepper.tokens == tokens
    assert stepper.cache.length <= net.cfg.block_size


def test_empty_prompt_starts_from_a_newline():
    vocab = Vocabulary(list("\nab"))
    torch.manual_seed(0)
    stepper = GPTStepper(GPT(GPTConfig(vocab_size=3, block_size=8, n_layer=1, n_head=1, n_embd=8)), vocab)
    stepper.reset([])
    assert stepper.tokens == [0] and stepper.logits().shape == (3,)


def test_rewound_to_any_step_past_block_overflows_the_run_regenerates_exactly(net):
    """The context of each position depends on the position alone, so re-priming after a rewind
    (even past one or more cache re-primes) sees what the first run saw."""
    from arplayground.core.generate import generate, each_step
    from arplayground.core.sampling import SamplerSettings

    vocab = Vocabulary(list("abcdefghij\n"))
    prefix = [1, 2, 3]
    first = [s.record.value for s in each_step(generate(GPTStepper(net, vocab), prefix, 170, lambda: SamplerSettings(1.5), 4))]
    cache_lengths = []
    for kept in (0, 20, 45, 46, 47, 70, 74, 99, 130):  # block 48: re-primes at 49, 74, 99, 124, ...
        stepper = GPTStepper(net, vocab)
        again = [s.record.value for s in each_step(generate(stepper, prefix + first[:kept], 170 - kept, lambda: SamplerSettings(1.5), 4))]
        assert again == first[kept:], f"rewound to {kept}"
        cache_lengths.append(stepper.cache.length)
    assert max(cache_lengths) <= net.cfg.block_size
