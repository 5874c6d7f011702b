"""The gated PixelCNN: strictly raster-causal, no blind spot, and the cached path is exact."""

import numpy as np
import pytest
import torch

from arplayground.core.generate import generate, each_step
from arplayground.core.sampling import STAGES, SamplerSettings
from arplayground.core.vocab import GreyLevels
from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig, PixelCNNStepper

# Small enough to check every position, deep enough that the receptive field covers the image.
CFG = PixelCNNConfig(channels=8, n_layers=7, kernel=3, first_kernel=3, n_classes=10, levels=256, height=8, width=8)


@pytest.fixture
def net():
    torch.manual_seed(0)
    model = PixelCNN(CFG).eval()
    for p in model.parameters():  # larger weights than the init, so no dependency hides below round-off
        p.data.normal_(0, 0.3)
    return model


def test_output_depends_on_exactly_the_earlier_pixels(net):
    H, W = CFG.height, CFG.width
    x = torch.rand(1, 1, H, W, generator=torch.Generator().manual_seed(1)) * 2 - 1
    label = torch.tensor([3])
    for r in range(H):
        for c in range(W):
            xg = x.clone().requires_grad_(True)
            out = net.forward_normalised(xg, label)
            out[0, :, r, c].sum().backward()
            grad = xg.grad[0, 0].abs()
            earlier = torch.zeros(H, W, dtype=torch.bool)
            earlier.view(-1)[: r * W + c] = True
            assert grad[~earlier].max() == 0, f"pixel ({r},{c}) sees itself or the future"
            if r * W + c > 0:
                assert grad[earlier].min() > 0, f"pixel ({r},{c}) has a blind spot at {(grad == 0) & earlier}"


def test_cached_logits_equal_the_full_forward_at_every_pixel(net):
    stepper = PixelCNNStepper(net, GreyLevels())
    rng = np.random.default_rng(2)
    stepper.reset([], condition=7)
    cached = []
    for _ in range(CFG.height * CFG.width):
        cached.append(stepper.logits().copy())
        stepper.push(int(rng.integers(0, 256)))
    with torch.no_grad():
        full = net(stepper.image, torch.tensor([7]))[0]  # (L, H, W): each from earlier pixels only
    full = full.permute(1, 2, 0).reshape(-1, 256).double().numpy()
    np.testing.assert_allclose(np.array(cached), full, atol=1e-4)


def test_completion_from_kept_rows_equals_the_full_forward(net):
    stepper = PixelCNNStepper(net, GreyLevels())
    rng = np.random.default_rng(3)
    kept = [int(v) for v in rng.integers(0, 256, 3 * CFG.width + 2)]  # three rows and two pixels
    stepper.reset(kept, condition=None)
    assert stepper.image.view(-1)[: len(kept)].tolist() == kept
    cached = []
    for _ in range(len(kept), CFG.height * CFG.width):
        cached.append(stepper.logits().copy())
        stepper.push(int(rng.integers(0, 256)))
    with torch.no_grad():
        full = net(stepper.image, torch.tensor([CFG.n_classes]))[0]
    full = full.permute(1, 2, 0).reshape(-1, 256).double().numpy()
    np.testing.assert_allclose(np.array(cached), full[len(kept) :], atol=1e-4)


def test_same_seed_same_image_through_the_generation_loop(net):
    def image(seed):
        stepper = PixelCNNStepper(net, GreyLevels())
        values = [s.record.value for s in each_step(generate(stepper, [], 64, lambda: SamplerSettings(), seed, condition=2))]
        return values

    assert image(11) == image(11)
    assert image(11) != image(12)


def test_label_changes_the_distribution(net):
    pixels = torch.randint(0, 256, (2, CFG.height, CFG.width))
    with torch.no_grad():
        a = net(pixels, torch.tensor([1, 1]))
        b = net(pixels, torch.tensor([1, CFG.n_classes]))
    assert torch.equal(a[0], b[0]) and not torch.allclose(a[1], b[1])


def test_naive_baseline_draws_the_same_image_as_the_fast_path(net):
    from arplayground.nets.baselines import NaivePixelCNNStepper

    def values(stepper):
        return [s.record.value for s in each_step(generate(stepper, [], 64, lambda: SamplerSettings(), 9, condition=4))]

    assert values(PixelCNNStepper(net, GreyLevels())) == values(NaivePixelCNNStepper(net, GreyLevels()))


def test_cached_path_is_exact_with_the_bundled_kernel_sizes():
    torch.manual_seed(5)
    cfg = PixelCNNConfig(channels=4, n_layers=2, kernel=5, first_kernel=7)  # 28 x 28, like the app
    model = PixelCNN(cfg).eval()
    stepper = PixelCNNStepper(model, GreyLevels())
    rng = np.random.default_rng(6)
    kept = [int(v) for v in rng.integers(0, 256, 5 * 28 + 9)]
    stepper.reset(kept, condition=1)
    cached = []
    for _ in range(len(kept), 784):
        cached.append(stepper.logits().copy())
        stepper.push(int(rng.integers(0, 256)))
    with torch.no_grad():
        full = model(stepper.image, torch.tensor([1]))[0].permute(1, 2, 0).reshape(-1, 256).double().numpy()
    np.testing.assert_allclose(np.array(cached), full[len(kept) :], atol=1e-4)


def test_a_grid_batch_is_exact_per_lane_and_each_cell_equals_its_single_run(net):
    """Grid mode: one batch of lanes, each exact against the full forward, each the image that a
    single run with seed + lane and that lane's digit draws."""
    conditions = [0, 5, None, 5]
    kept = [int(v) for v in np.random.default_rng(4).integers(0, 256, CFG.width + 3)]
    n = CFG.height * CFG.width - len(kept)
    stepper = PixelCNNStepper(net, GreyLevels())
    steps = list(each_step(generate(stepper, kept, n, lambda: SamplerSettings(temperature=1.3), 21, condition=conditions)))
    assert stepper.lanes == 4 and len(steps) == 4 * n
    assert [s.lane for s in steps[:8]] == [0, 1, 2, 3, 0, 1, 2, 3]
    for lane, condition in enumerate(conditions):
        grid_values = [s.record.value for s in steps if s.lane == lane]
        single = [s.record.value for s in each_step(generate(PixelCNNStepper(net, GreyLevels()), kept, n, lambda: SamplerSettings(temperature=1.3), 21 + lane, condition=condition))]
        assert grid_values == single, f"lane {lane}"
    # The batched caches against the full forward of the finished images, every lane at once.
    labels = torch.tensor([CFG.n_classes if c is None else c for c in conditions])
    with torch.no_grad():
        full = net(stepper.image, labels)  # (4, L, H, W)
    replay = PixelCNNStepper(net, GreyLevels())
    replay.reset(kept, condition=conditions)
    for position in range(len(kept), CFG.height * CFG.width):
        r, c = divmod(position, CFG.width)
        np.testing.assert_allclose(replay.logits(), full[:, :, r, c].double().numpy(), atol=1e-4)
        replay.push(stepper.image[:, r, c].numpy())


def test_dropout_only_acts_in_training_so_the_cached_path_stays_exact(net):
    from dataclasses import replace

    dropped = PixelCNN(replace(CFG, dropout=0.5))
    dropped.load_state_dict(net.state_dict())  # dropout adds no weights: the same file loads
    x = torch.randint(0, 256, (2, CFG.height, CFG.width))
    label = torch.tensor([1, 10])
    with torch.no_grad():
        np.testing.assert_array_equal(dropped.eval()(x, label).numpy(), net(x, label).numpy())
        assert not torch.equal(dropped.train()(x, label), net(x, label))
    stepper = PixelCNNStepper(dropped, GreyLevels())  # puts the model in eval mode
    stepper.reset(x[0].reshape(-1)[:20].tolist(), condition=1)
    with torch.no_grad():
        full = net(x[:1], torch.tensor([1]))[0, :, 2, 4].double().numpy()  # pixel 20 = row 2, column 4
    np.testing.assert_allclose(stepper.logits(), full, atol=1e-4)


def test_needs_compiling_is_true_only_until_the_kernel_is_in_numbas_cache(tmp_path):
    """In a fresh process with an empty numba cache (as after installing): compiling is announced,
    warm_up() compiles and caches, and the next process finds it in the cache."""
    import os
    import subprocess
    import sys

    code = (
        "from arplayground.core.vocab import GreyLevels\n"
        "from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig, PixelCNNStepper\n"
        "s = PixelCNNStepper(PixelCNN(PixelCNNConfig(channels=8, n_layers=2, kernel=3, first_kernel=3)), GreyLevels())\n"
        "before = s.needs_compiling(); s.warm_up(); print(before, s.needs_compiling())\n"
    )
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300) for _ in range(2)]
    assert [r.stdout.split() for r in runs] == [["True", "False"], ["False", "False"]], [r.stderr for r in runs]


@pytest.mark.parametrize("settings", [SamplerSettings(), SamplerSettings(temperature=0.8, top_k=20, top_p=0.9),
                                      SamplerSettings(temperature=0.0), SamplerSettings(guidance=2.0),
                                      SamplerSettings(temperature=0.8, top_k=20, guidance=0.5),
                                      SamplerSettings(temperature=0.9, min_p=0.05, typical_p=0.9, top_n_sigma=2.0),
                                      SamplerSettings(temperature=1.2, top_p=0.9, min_p=0.02, typical_p=0.8, guidance=1.5,
                                                      order=tuple(reversed(STAGES)))],
                         ids=["plain", "filtered", "greedy", "guided", "guided and filtered", "new stages",
                              "new stages reordered, guided"])
@pytest.mark.parametrize("condition", [3, [None, 2, 7]], ids=["one image", "grid of three"])
def test_compiled_chunks_draw_and_record_what_the_step_loop_draws(net, settings, condition):
    """From a prefix that ends mid-row, in chunks that cross row ends: the same values, records
    and full distributions as the per-step loop, lane by lane for a grid."""
    from arplayground.core.generate import generate_chunks

    prefix = list(range(0, 250, 19))  # 14 pixels: row 1 is half given
    n = CFG.height * CFG.width - len(prefix)
    per_step = list(each_step(generate(PixelCNNStepper(net, GreyLevels()), prefix, n, lambda: settings, 5, condition)))
    lanes = per_step[0].lanes
    chunks = list(generate_chunks(PixelCNNStepper(net, GreyLevels()), prefix, n, lambda: settings, 5, condition, chunk_steps=11))
    assert [c.positions for c in chunks] == [11] * 4 + [6] and all(c.lanes == lanes for c in chunks)
    assert np.concatenate([c.values for c in chunks]).tolist() == [s.record.value for s in per_step]
    records = [c.record(i) for c in chunks for i in range(len(c))]
    raw = np.concatenate([c.columns["raw"] for c in chunks])
    sampled = np.concatenate([c.columns["sampled"] for c in chunks])
    guided = settings.guided  # every condition here has a digit in it
    assert all(("unconditional" in c.columns) == guided and (c.unconditional is not None) == guided for c in chunks)
    for i in range(0, len(per_step), 7):
        mine, theirs = records[i], per_step[i].record
        assert (mine.position, mine.rank, mine.kept, mine.u) == (theirs.position, theirs.rank, theirs.kept, theirs.u)
        assert mine.prob == pytest.approx(theirs.prob, rel=1e-4, abs=1e-6)
        assert mine.entropy == pytest.approx(theirs.entropy, rel=1e-4, abs=1e-6)
        assert mine.top_values.tolist() == theirs.top_values.tolist()
        np.testing.assert_allclose(raw[i], per_step[i].sample.raw_probs, atol=1e-5)
        np.testing.assert_allclose(sampled[i], per_step[i].sample.probs, atol=1e-5)
        if guided:
            unconditional = np.concatenate([c.columns["unconditional"] for c in chunks])
            np.testing.assert_allclose(unconditional[i], per_step[i].sample.unconditional_probs, atol=1e-5)


def test_chunks_and_a_forced_value_between_them_keep_the_stepper_exact(net):
    """A forced value (a branch) is taken by logits()/push() between chunks; the chunks after it go
    on from there: the same values as the per-step loop, and the stepper's logits at the end are
    the full forward pass's."""
    from arplayground.core.generate import generate_chunks

    stepper = PixelCNNStepper(net, GreyLevels())
    chunks = list(generate_chunks(stepper, [], 30, lambda: SamplerSettings(), 2, 4, chunk_steps=8, forced={20: 255}))
    values = np.concatenate([c.values for c in chunks])
    per_step = [s.record.value for s in each_step(generate(PixelCNNStepper(net, GreyLevels()), [], 30, lambda: SamplerSettings(), 2, 4, forced={20: 255}))]
    assert values[20] == 255 and values.tolist() == per_step
    with torch.no_grad():
        image = torch.zeros(1, CFG.height, CFG.width, dtype=torch.long)
        image.view(-1)[:30] = torch.as_tensor(values)
        full = net(image, torch.tensor([4]))[0, :, 30 // CFG.width, 30 % CFG.width].numpy()
    np.testing.assert_allclose(stepper.logits(), full, atol=1e-4)


def test_a_grids_chunks_count_positions_and_stay_short(net):
    """chunk_steps counts positions, as the worker's pacing does (slow motion asks for a frame's
    worth); a grid's chunk also stops at CHUNK_VALUES values, all images together."""
    from arplayground.core.generate import CHUNK_VALUES, generate_chunks

    grid = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    slow = list(generate_chunks(PixelCNNStepper(net, GreyLevels()), [], 40, lambda: SamplerSettings(), 1, grid, chunk_steps=lambda: 16))
    assert [c.positions for c in slow] == [16, 16, 8] and all(len(c) == 10 * c.positions for c in slow)
    fast = list(generate_chunks(PixelCNNStepper(net, GreyLevels()), [], 60, lambda: SamplerSettings(), 1, grid, chunk_steps=256))
    assert [c.positions for c in fast] == [CHUNK_VALUES // 10] * 2 + [60 - 2 * (CHUNK_VALUES // 10)]


def test_guidance_switched_mid_run_draws_the_same_in_chunks_and_steps_and_stays_exact(net):
    """Guidance on, off and on again during one run (the slider moved mid-run): the per-step loop
    and the chunks draw the same values; the "any digit" copy the stepper keeps while guiding
    gives the full forward pass's logits under "any digit", and guiding changes the image."""
    from arplayground.core.generate import generate_chunks

    n = CFG.height * CFG.width
    position = {"now": 0}

    def settings():  # guided on positions 10-29 and from 45 on, read before each step or chunk
        p = position["now"]
        return SamplerSettings(guidance=3.0 if 10 <= p < 30 or p >= 45 else 1.0)

    per_step = []
    for step in each_step(generate(PixelCNNStepper(net, GreyLevels()), [], n, settings, 4, 6)):
        per_step.append(step.record.value)
        position["now"] += 1
    position["now"] = 0
    stepper = PixelCNNStepper(net, GreyLevels())
    values = []
    for chunk in generate_chunks(stepper, [], n, settings, 4, 6, chunk_steps=5):
        values.extend(chunk.values.tolist())
        position["now"] += chunk.positions
    assert values == per_step
    plain = [s.record.value for s in each_step(generate(PixelCNNStepper(net, GreyLevels()), [], n, SamplerSettings, 4, 6))]
    assert values[:10] == plain[:10] and values != plain

    stepper = PixelCNNStepper(net, GreyLevels())
    stepper.reset(values[:37], [6, 2])
    with torch.no_grad():
        image = torch.zeros(2, CFG.height, CFG.width, dtype=torch.long)
        image.view(2, -1)[:, :37] = torch.as_tensor(values[:37])
        any_digit = net(image, torch.tensor([CFG.n_classes] * 2))[:, :, 37 // CFG.width, 37 % CFG.width].numpy()
        digits = net(image, torch.tensor([6, 2]))[:, :, 37 // CFG.width, 37 % CFG.width].numpy()
    np.testing.assert_allclose(stepper.unconditional_logits(), any_digit, atol=1e-4)
    np.testing.assert_allclose(stepper.logits(), digits, atol=1e-4)
    stepper.push([7, 9])
    stepper.stop_unconditional()
    image.view(2, -1)[:, 37] = torch.tensor([7, 9])
    with torch.no_grad():
        digits = net(image, torch.tensor([6, 2]))[:, :, 38 // CFG.width, 38 % CFG.width].numpy()
    np.testing.assert_allclose(stepper.logits(), digits, atol=1e-4)


def test_guidance_leaves_any_digit_alone(net):
    """With "any digit" there is no condition to guide by: guidance changes nothing."""
    n = 20
    plain = [s.record.value for s in each_step(generate(PixelCNNStepper(net, GreyLevels()), [], n, SamplerSettings, 8, None))]
    steps = list(each_step(generate(PixelCNNStepper(net, GreyLevels()), [], n, lambda: SamplerSettings(guidance=3.0), 8, None)))
    assert plain == [s.record.value for s in steps]
    assert all(s.record.settings.guidance == 1.0 for s in steps)  # recorded as it acted: off


def test_switching_guidance_draws_from_the_logits_after_the_caches_are_rebuilt():
    """Starting or dropping the "any digit" copy rebuilds the caches as a batch of another size, and
    torch rounds a batch of two a little differently from a batch of one (~1e-7 in the logits here).
    The per-step loop must draw from the logits after that rebuild, as the compiled chunks do, or a
    draw near a boundary could differ between the two paths (and a replay from the run)."""
    from arplayground.core.sampling import log_softmax

    torch.manual_seed(3)
    wide = PixelCNN(PixelCNNConfig(channels=32, n_layers=4, kernel=5, first_kernel=7)).eval()  # the bundled sizes
    position = {"now": 0}

    def settings():
        p = position["now"]
        return SamplerSettings(guidance=2.0 if 11 <= p < 27 else 1.0)

    steps = []
    for step in each_step(generate(PixelCNNStepper(wide, GreyLevels()), [], 40, settings, 9, 5)):
        steps.append(step)
        position["now"] += 1
    values = [s.record.value for s in steps]
    fresh = PixelCNNStepper(wide, GreyLevels())
    for p, guided in ((11, True), (27, False)):  # where the copy starts, and where it stops
        fresh.reset(values[:p], 5)  # the caches built afresh from the pixels so far, as the switch does
        if guided:
            fresh.unconditional_logits()
        np.testing.assert_array_equal(steps[p].sample.raw_probs, np.exp(log_softmax(fresh.logits())))


def test_a_forced_value_in_a_guided_run_keeps_both_copies_in_step(net):
    """A branch forces a value while guidance is on: the chunks take it through the per-step
    protocol, into the image and its "any digit" copy, and go on drawing what the per-step loop draws."""
    from arplayground.core.generate import generate_chunks

    guided = SamplerSettings(guidance=2.0)
    stepper = PixelCNNStepper(net, GreyLevels())
    chunks = list(generate_chunks(stepper, [], 40, lambda: guided, 2, 4, chunk_steps=8, forced={20: 255}))
    values = np.concatenate([c.values for c in chunks])
    per_step = [s.record.value for s in each_step(generate(PixelCNNStepper(net, GreyLevels()), [], 40, lambda: guided, 2, 4, forced={20: 255}))]
    assert values[20] == 255 and values.tolist() == per_step
    assert chunks[-1].unconditional is not None
    with torch.no_grad():
        image = torch.zeros(1, CFG.height, CFG.width, dtype=torch.long)
        image.view(-1)[:40] = torch.as_tensor(values)
        any_digit = net(image, torch.tensor([CFG.n_classes]))[0, :, 40 // CFG.width, 40 % CFG.width].numpy()
    np.testing.assert_allclose(stepper.unconditional_logits(), any_digit, atol=1e-4)
