"""The GPT's compiled decode step (kernels/gpt.py) against torch's cached step, op by op: the same
logits within float32 round-off at every position (past a re-prime too), the same text drawn for
the same seed, on a tiny model and on the bundled one; values outside the model are refused
before they reach compiled code."""

from pathlib import Path

import numpy as np
import pytest
import torch

from arplayground import catalog
from arplayground.core.generate import run_steps
from arplayground.core.sampling import SamplerSettings
from arplayground.core.vocab import Vocabulary
from arplayground.nets.gpt import GPT, GPTConfig, GPTStepper, DecodeStep

BUNDLED = Path(__file__).parents[2] / "models" / "shakespeare-char-gpt.json"


def tiny(causal: bool = True) -> tuple[GPTStepper, GPTStepper]:
    torch.manual_seed(3)
    net = GPT(GPTConfig(vocab_size=11, block_size=48, n_layer=3, n_head=2, n_embd=32, dropout=0.0, causal=causal)).eval()
    vocab = Vocabulary([chr(ord("a") + i) for i in range(10)] + ["\n"])
    compiled, reference = GPTStepper(net, vocab), GPTStepper(net, vocab)
    reference.compiled = False
    return compiled, reference


def bundled() -> tuple[GPTStepper, GPTStepper]:
    compiled = catalog.load_stepper(catalog.read_entry(BUNDLED))
    reference = GPTStepper(compiled.model, compiled.vocab)
    reference.compiled = False
    return compiled, reference


def assert_same_logits_stepping(compiled, reference, prefix, values, atol):
    compiled.reset(prefix)
    reference.reset(prefix)
    for v in values:
        np.testing.assert_allclose(compiled.logits(), reference.logits(), atol=atol, rtol=0)
        compiled.push(v)
        reference.push(v)
    np.testing.assert_allclose(compiled.logits(), reference.logits(), atol=atol, rtol=0)


@pytest.mark.parametrize("causal", [True, False])
def test_tiny_model_same_logits_past_two_reprimes(causal):
    compiled, reference = tiny(causal)
    rng = np.random.default_rng(0)
    values = [int(v) for v in rng.integers(0, 11, 120)]  # a 48 context re-primes twice
    assert_same_logits_stepping(compiled, reference, [1, 2, 3], values, atol=1e-5)
    assert compiled.tokens == reference.tokens


def test_bundled_model_same_logits_at_context_1000_and_past_the_reprime():
    compiled, reference = bundled()
    rng = np.random.default_rng(1)
    prefix = [int(v) for v in rng.integers(0, 65, 990)]
    values = [int(v) for v in rng.integers(0, 65, 60)]  # crosses 1,024: the cache re-primes
    assert_same_logits_stepping(compiled, reference, prefix, values, atol=1e-4)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_seed_draws_the_same_text(seed):
    compiled, reference = bundled()
    settings = SamplerSettings(temperature=1.0, top_p=0.95)
    prefix = compiled.vocab.encode("ROMEO:\n")

    def text(stepper):
        blocks = run_steps(stepper, prefix, 150, lambda: settings, seed)
        return np.concatenate([b.values for b in blocks]).tolist()

    assert text(compiled) == text(reference)


def test_values_outside_the_model_never_reach_compiled_code():
    compiled, _ = tiny()
    step = DecodeStep(compiled.model, compiled.cache)
    for token, pos in ((11, 0), (-1, 0), (0, 48), (0, -1)):
        with pytest.raises(ValueError):
            step(token, pos)


def test_warm_up_compiles_and_leaves_a_stepper_that_resets_cleanly():
    compiled, reference = tiny()
    compiled.warm_up()
    assert not compiled.needs_compiling()  # on numba's disk cache now
    assert_same_logits_stepping(compiled, reference, [4], [5, 6, 7], atol=1e-5)
