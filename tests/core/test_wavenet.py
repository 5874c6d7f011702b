"""The WaveNet: strictly causal, and its three generation paths give the same numbers."""

import numpy as np
import pytest
import torch

from arplayground.core.generate import generate, each_step, generate_chunks
from arplayground.core.sampling import SamplerSettings
from arplayground.core.vocab import MuLawLevels
from arplayground.core.trace import Trace
from arplayground.nets.baselines import NaiveWaveNetStepper, TorchWaveNetStepper
from arplayground.nets.wavenet import FastWaveNetStepper, WaveNet, WaveNetConfig, time_mixing

# Dilations 1, 2, 4, 1, 2, 4: a receptive field of 15 samples, small enough to check every step.
CFG = WaveNetConfig(residual=8, skip=12, cycle=3, n_cycles=2, n_digits=10, n_speakers=6)
# The same with the time condition, knots close enough that the tests cross all of them and run past the last.
TIMED = WaveNetConfig(residual=8, skip=12, cycle=3, n_cycles=2, n_digits=10, n_speakers=6, time_knots=4, time_spacing=7)


@pytest.fixture(params=[CFG, TIMED], ids=["global", "timed"])
def net(request):
    torch.manual_seed(0)
    model = WaveNet(request.param).eval()
    for p in model.parameters():  # larger than the init, so no dependency hides below round-off
        p.data.normal_(0, 0.4)
    return model


def test_no_output_depends_on_its_own_or_a_later_sample_and_each_sees_its_receptive_field(net):
    T, rf = 40, CFG.receptive_field
    assert rf == 15
    e = torch.randn(1, CFG.residual, T)
    for t in range(T):
        eg = e.clone().requires_grad_(True)
        net.forward_embedded(eg, torch.tensor([3]), torch.tensor([1]))[0, :, t].sum().backward()
        seen = eg.grad[0].abs().sum(0)  # (T,): how much step t's logits depend on each sample
        assert seen[t:].max() == 0, f"step {t} sees sample {t} or later"
        window = seen[max(0, t - rf) : t]
        assert (window > 0).all(), f"step {t} misses part of its receptive field"
        assert seen[: max(0, t - rf)].max() == 0 if t > rf else True


def full_logits(net, levels, digit, speaker):
    with torch.no_grad():
        return net(torch.tensor([levels]), torch.tensor([digit]), torch.tensor([speaker]))[0].T.double().numpy()


@pytest.mark.parametrize("stepper_class", [TorchWaveNetStepper, FastWaveNetStepper, NaiveWaveNetStepper])
@pytest.mark.parametrize("prefix_length", [0, 1, 23, 50])  # 23 and 50 start the priming pass after step 0
def test_each_path_equals_the_full_forward_at_every_step(net, stepper_class, prefix_length):
    rng = np.random.default_rng(prefix_length)
    levels = [int(v) for v in rng.integers(0, 256, 60)]
    stepper = stepper_class(net, MuLawLevels())
    stepper.reset(levels[:prefix_length], condition=(7, 2))
    stepped = []
    for v in levels[prefix_length:]:
        stepped.append(stepper.logits().copy())
        stepper.push(v)
    full = full_logits(net, levels, 7, 2)
    np.testing.assert_allclose(np.array(stepped), full[prefix_length:], atol=1e-4)


def test_any_digit_and_any_speaker_are_their_own_conditions(net):
    levels = [128] * 5
    a, b = full_logits(net, levels, 7, 2), full_logits(net, levels, CFG.n_digits, CFG.n_speakers)
    assert not np.allclose(a, b)
    stepper = FastWaveNetStepper(net, MuLawLevels())
    stepper.reset(levels, condition=None)
    np.testing.assert_allclose(stepper.logits(), full_logits(net, levels + [128], CFG.n_digits, CFG.n_speakers)[-1], atol=1e-4)


SETTINGS = [
    SamplerSettings(),
    SamplerSettings(temperature=0.7, top_k=20),
    SamplerSettings(temperature=1.3, top_p=0.8),
    SamplerSettings(temperature=0.9, top_k=40, top_p=0.95),
    SamplerSettings(temperature=0.0),
    SamplerSettings(guidance=2.5),
    SamplerSettings(temperature=0.8, top_k=30, guidance=0.5),
    SamplerSettings(temperature=1.1, min_p=0.03, typical_p=0.85, top_n_sigma=2.5),
    SamplerSettings(temperature=0.9, top_k=60, top_p=0.9, min_p=0.01, typical_p=0.9, guidance=2.0,
                    order=("top_n_sigma", "min_p", "top_p", "typical_p", "top_k", "penalties", "temperature")),
]


@pytest.mark.parametrize("settings", SETTINGS, ids=str)
def test_compiled_chunks_draw_and_record_what_the_step_loop_draws(net, settings):
    prefix = [128, 131, 120, 140]
    per_step = list(each_step(generate(TorchWaveNetStepper(net, MuLawLevels()), prefix, 500, lambda: settings, 5, (1, 4))))
    chunks = list(generate_chunks(FastWaveNetStepper(net, MuLawLevels()), prefix, 500, lambda: settings, 5, (1, 4), chunk_steps=64))
    assert [len(c) for c in chunks] == [64] * 7 + [52]
    values = np.concatenate([c.values for c in chunks])
    assert values.tolist() == [s.record.value for s in per_step]
    records = [c.record(i) for c in chunks for i in range(len(c))]
    for mine, theirs in zip(records[::37], [s.record for s in per_step][::37]):
        assert mine.position == theirs.position and mine.rank == theirs.rank and mine.u == theirs.u
        assert mine.kept == theirs.kept
        assert mine.prob == pytest.approx(theirs.prob, rel=1e-4, abs=1e-6)
        assert mine.sampled_prob == pytest.approx(theirs.sampled_prob, rel=1e-4, abs=1e-6)
        assert mine.entropy == pytest.approx(theirs.entropy, rel=1e-4)
        assert mine.top_values.tolist() == theirs.top_values.tolist()
    np.testing.assert_allclose(chunks[-1].sampled[-1], per_step[-1].sample.probs, atol=1e-5)
    if settings.guided:
        np.testing.assert_allclose(chunks[-1].unconditional[-1], per_step[-1].sample.unconditional_probs, atol=1e-5)
    else:
        assert chunks[-1].unconditional is None


def test_same_seed_same_clip_and_the_trace_takes_chunks_whole(net):
    def clip(seed):
        chunks = list(generate_chunks(FastWaveNetStepper(net, MuLawLevels()), [], 300, lambda: SamplerSettings(), seed, 3))
        return chunks, np.concatenate([c.values for c in chunks])

    chunks, a = clip(9)
    assert np.array_equal(a, clip(9)[1]) and not np.array_equal(a, clip(10)[1])
    trace = Trace(capacity=16)
    for c in chunks:
        trace.extend(c)
    assert len(trace) == 300 and np.array_equal(trace.values, a)
    assert trace[123].top_values.tolist() == chunks[0].record(123).top_values.tolist()
    assert trace[299].position == 299 and trace[299].u == chunks[-1].record(len(chunks[-1]) - 1).u


def test_the_time_condition_mixes_the_two_knots_around_each_step_and_holds_the_last():
    mix = time_mixing(TIMED, 0, 30).numpy()
    np.testing.assert_allclose(mix.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(mix[[0, 7, 14, 21, 29]], np.eye(4)[[0, 1, 2, 3, 3]])
    np.testing.assert_allclose(mix[3, :2], [4 / 7, 3 / 7], atol=1e-6)
    np.testing.assert_allclose(time_mixing(TIMED, 3, 1).numpy(), mix[3:4])  # a step's row does not depend on where a batch starts
    assert time_mixing(CFG, 0, 30) is None


def test_with_the_time_condition_the_same_input_means_something_else_later():
    torch.manual_seed(0)
    timed = WaveNet(TIMED).eval()
    for p in timed.parameters():
        p.data.normal_(0, 0.4)
    logits = full_logits(timed, [128] * 40, 7, 2)  # constant input: only the time differs between steps past the receptive field
    assert not np.allclose(logits[16], logits[20])
    np.testing.assert_allclose(logits[36], logits[39], atol=1e-5)  # once its receptive field is past the last knot (21 + 14), nothing moves


def test_the_compiled_tanh_is_within_a_few_float32_steps_of_tanh_everywhere():
    from arplayground.kernels.fast_math import tanh32

    x = np.concatenate([np.linspace(-30, 30, 200_001), [0.0, 1e-30, -1e-30, 9.0, -9.0, 1e30, -1e30]]).astype(np.float32)
    got = np.array([tanh32(v) for v in x], np.float64)
    assert np.abs(got - np.tanh(x.astype(np.float64))).max() < 4e-7
    assert np.abs(got).max() <= 1.0 + 3e-7 and tanh32(np.float32(0.0)) == 0.0
    np.testing.assert_array_equal(np.sign(got), np.sign(x))  # odd, and exactly 0 only at 0


@pytest.mark.parametrize("stepper_class", [TorchWaveNetStepper, FastWaveNetStepper, NaiveWaveNetStepper], ids=lambda c: c.__name__)
def test_guidance_switched_mid_run_matches_across_paths_and_the_copy_is_exact(net, stepper_class):
    """Guidance on, off and on again during a run: every path draws what the compiled chunks draw
    (the copy started from the samples so far, mid-run); the copy's logits are the full forward's
    under "any digit" with the same speaker; and guiding changes the clip."""
    n = 120 if stepper_class is NaiveWaveNetStepper else 300
    position = {"now": 0}

    def settings():
        p = position["now"]
        return SamplerSettings(guidance=2.0 if 20 <= p < 60 or p >= 90 else 1.0)

    per_step = []
    for step in each_step(generate(stepper_class(net, MuLawLevels()), [128, 140], n, settings, 3, (6, 1))):
        per_step.append(step.record.value)
        position["now"] += 1
    position["now"] = 0
    values = []
    for chunk in generate_chunks(FastWaveNetStepper(net, MuLawLevels()), [128, 140], n, settings, 3, (6, 1), chunk_steps=10):
        values.extend(chunk.values.tolist())
        position["now"] += chunk.positions
    assert values == per_step
    plain = [s.record.value for s in each_step(generate(TorchWaveNetStepper(net, MuLawLevels()), [128, 140], n, SamplerSettings, 3, (6, 1)))]
    assert values[:20] == plain[:20] and values != plain

    stepper = stepper_class(net, MuLawLevels())
    levels = [128, 140] + values[:40]
    stepper.reset(levels, (6, 1))
    np.testing.assert_allclose(stepper.unconditional_logits(), full_logits(net, levels + [128], CFG.n_digits, 1)[-1], atol=1e-4)
    stepper.push(77)
    np.testing.assert_allclose(stepper.unconditional_logits(), full_logits(net, levels + [77, 128], CFG.n_digits, 1)[-1], atol=1e-4)
    np.testing.assert_allclose(stepper.logits(), full_logits(net, levels + [77, 128], 6, 1)[-1], atol=1e-4)


def test_guidance_leaves_any_digit_alone(net):
    plain = [s.record.value for s in each_step(generate(FastWaveNetStepper(net, MuLawLevels()), [], 100, SamplerSettings, 2, (None, 3)))]
    guided = [s.record.value for s in each_step(generate(FastWaveNetStepper(net, MuLawLevels()), [], 100, lambda: SamplerSettings(guidance=3.0), 2, (None, 3)))]
    assert plain == guided


def test_a_forced_value_in_a_guided_clip_keeps_the_copy_in_step(net):
    """A branch forces a sample while guidance is on: the copy takes it too, and the chunks go on
    drawing what the per-step loop draws."""
    guided = SamplerSettings(guidance=2.0)
    stepper = FastWaveNetStepper(net, MuLawLevels())
    chunks = list(generate_chunks(stepper, [128], 200, lambda: guided, 4, (2, 3), chunk_steps=32, forced={70: 10}))
    values = np.concatenate([c.values for c in chunks]).tolist()
    per_step = [s.record.value for s in each_step(generate(TorchWaveNetStepper(net, MuLawLevels()), [128], 200, lambda: guided, 4, (2, 3), forced={70: 10}))]
    assert values[69] == 10 and values == per_step  # position 70: after the one-sample prefix
    np.testing.assert_allclose(stepper.unconditional_logits(), full_logits(net, [128] + values + [128], CFG.n_digits, 3)[-1], atol=1e-4)
