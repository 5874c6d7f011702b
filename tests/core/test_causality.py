"""What each output sees (issue 22): the structural field from the architecture alone, the measured
influence by autograd over the whole real network, and that the two agree, for the tiny models of
conftest, the three bundled models and the plain masked-convolution PixelCNN. Nothing at or after
an output may influence it; the gated PixelCNN sees its whole field, the plain one is blind exactly
where its masks say; the WaveNet's field is the card's 2,047 samples; the GPT's attention weights
shown are its forward pass's own. Seeded and exact: an influence the structure forbids is 0.0."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from arplayground import catalog
from arplayground.core import causality as cz
from arplayground.core.causality import Field
from arplayground.core.mulaw import encode
from arplayground.core.vocab import Vocabulary
from arplayground.nets import pixelcnn as gated_net
from arplayground.nets.gpt import GPT, GPTConfig, GPTStepper, KeptAttention, apply_rope
from arplayground.nets.pixelcnn import PixelCNNConfig
from arplayground.nets.pixelcnn_plain import build_plain_pixelcnn, plain_field
from tests.conftest import TINY_VOCAB, write_tiny_gpt, write_tiny_pixelcnn, write_tiny_wavenet

MODELS = Path(__file__).parents[2] / "models"
BUNDLED_IMAGE = PixelCNNConfig(**json.loads((MODELS / "mnist-gated-pixelcnn.json").read_text())["config"])
TINY_IMAGE = PixelCNNConfig(channels=8, n_layers=2, kernel=3, first_kernel=3)  # conftest's tiny PixelCNN


def load(card: Path):
    return catalog.load_stepper(catalog.read_entry(card))


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_tiny_gpt(folder)
    write_tiny_pixelcnn(folder)
    write_tiny_wavenet(folder)
    return folder


@pytest.fixture(scope="module")
def steppers(tiny_folder) -> dict:
    """Every stepper and plain model measured here, loaded once."""
    return {
        "tiny-gpt": load(tiny_folder / "tiny-gpt.json"),
        "gpt": load(MODELS / "shakespeare-char-gpt.json"),
        "tiny-pixelcnn": load(tiny_folder / "tiny-pixelcnn.json"),
        "pixelcnn": load(MODELS / "mnist-gated-pixelcnn.json"),
        "tiny-plain": build_plain_pixelcnn(TINY_IMAGE),
        "plain": build_plain_pixelcnn(BUNDLED_IMAGE),
        "tiny-wavenet": load(tiny_folder / "tiny-wavenet.json"),
        "wavenet": load(MODELS / "fsdd-wavenet.json"),
    }


def text(length: int, vocab_size: int, seed: int = 0) -> list[int]:
    return [int(v) for v in np.random.default_rng(seed).integers(0, vocab_size, length)]


def image(seed: int = 0) -> list[int]:
    return [int(v) for v in np.random.default_rng(seed).integers(0, 256, 784)]


def clip(samples: int, seed: int = 0) -> list[int]:
    t = np.arange(samples) / 8000
    noise = 0.05 * np.random.default_rng(seed).standard_normal(samples)
    return [int(v) for v in encode(0.3 * np.sin(2 * np.pi * 220 * t) + noise)]


CENTRE, LAST = 14 * 28 + 14, 783
# model -> (the values, the outputs measured, the condition). The GPTs' positions cross the
# windows generation re-primes at (tiny: block 128; bundled: 1,024), their first output and the
# one not drawn yet; the images' reach the edges; the clips' start inside the field and far past it.
CASES = {
    "tiny-gpt": (text(300, len(TINY_VOCAB)), [1, 5, 128, 129, 130, 200, 299, 300], None),
    "gpt": (text(1200, 65), [1, 600, 999, 1025, 1100, 1200], None),
    "tiny-pixelcnn": (image(), [0, 1, 29, CENTRE, 500, LAST], 3),
    "pixelcnn": (image(), [1, 30, 20 * 28 + 14, CENTRE, 15 * 28 + 3, LAST], 3),
    "tiny-plain": (image(), [1, 30, CENTRE, 20 * 28 + 20, LAST], None),
    "plain": (image(), [1, 30, CENTRE, 20 * 28 + 14, 10 * 28 + 25, LAST], 7),
    "tiny-wavenet": (clip(400), [0, 1, 9, 15, 16, 17, 250, 399, 400], (2, 1)),
    "wavenet": (clip(24_000), [0, 100, 2047, 2048, 16_000, 23_990, 24_000], (3, 0)),
}
EVERY_OUTPUT = [(name, position) for name, (_, positions, _) in CASES.items() for position in positions]


def sees(steppers, name: str, position: int, measure: str = "log-prob", values=None) -> Field:
    known, _, condition = CASES[name]
    return steppers[name].sees(known if values is None else values, position, condition, measure)


# ----------------------------------------------------------------------------- structure alone


@pytest.mark.parametrize("k", [3, 5, 7])
def test_the_structures_masks_are_the_networks_masks(k):
    """The structural fields propagate core.causality's masks: the very ones the nets convolve with."""
    for centre in (False, True):
        assert np.array_equal(cz.vertical_mask(k, centre), gated_net.vertical_mask(k, centre).numpy().astype(bool))
        assert np.array_equal(cz.horizontal_mask(k, centre), gated_net.horizontal_mask(k, centre).numpy().astype(bool))
    plain = build_plain_pixelcnn(PixelCNNConfig(channels=4, n_layers=2, kernel=k, first_kernel=k))
    assert np.array_equal(plain.first.mask[0, 0].numpy().astype(bool), cz.raster_mask(k, include_centre=False))
    for layer in plain.layers:
        assert np.array_equal(layer.mask[0, 0].numpy().astype(bool), cz.raster_mask(k, include_centre=True))
    # mask A: every row above and the pixels left of the centre; mask B: the centre too
    a = cz.raster_mask(k, include_centre=False)
    assert a.sum() == k * (k // 2) + k // 2 and not a[k // 2, k // 2] and cz.raster_mask(k, True)[k // 2, k // 2]


@pytest.mark.parametrize("cfg", [TINY_IMAGE, BUNDLED_IMAGE], ids=["tiny", "bundled"])
def test_the_gated_structure_is_the_whole_cone_above_and_left(cfg):
    H, W = cfg.height, cfg.width
    shape = (cfg.first_kernel, cfg.kernel, cfg.n_layers)
    reach = cz.pixelcnn_reach(*shape)
    for position in range(0, H * W, 5):
        seen = cz.gated_pixelcnn_structural(H, W, position, *shape)
        assert np.array_equal(seen, cz.raster_cone(H, W, position, reach)), f"pixel {position}"
        assert not seen[position:].any()
    assert cz.pixelcnn_field_span(cz.gated_pixelcnn_structural, *shape) == reach * (2 * reach + 1) + reach


def test_the_plain_structure_is_the_cone_less_the_blind_spot_theory_predicts():
    """With 3 x 3 masks (half-width 1) and n layers of mask B after mask A, pixel (r, c) sees
    (r - m, c + d) for 1 <= m <= n + 1 exactly when -(n + 1) <= d <= m (each row up allows one more
    column right), and its own row's n + 1 pixels to the left: the blind spot is the rest of the
    cone, up and to the right. Here the theory is written out; the function propagates the masks."""
    n, H, W = 4, 12, 16
    for position in range(H * W):
        r, c = divmod(position, W)
        expected = np.zeros((H, W), bool)
        for m in range(1, n + 2):
            if r - m >= 0:
                expected[r - m, max(0, c - n - 1) : c + m + 1] = True
        expected[r, max(0, c - n - 1) : c] = True
        seen = cz.plain_pixelcnn_structural(H, W, position, 3, 3, n)
        assert np.array_equal(seen, expected.reshape(-1)), f"pixel {position}"
        blind = cz.plain_pixelcnn_blind_spot(H, W, position, 3, 3, n)
        assert np.array_equal(blind, cz.raster_cone(H, W, position, n + 1) & ~expected.reshape(-1))


def test_the_bundled_shape_leaves_a_blind_spot_up_and_to_the_right_in_the_plain_model_only():
    shape = (BUNDLED_IMAGE.first_kernel, BUNDLED_IMAGE.kernel, BUNDLED_IMAGE.n_layers)
    blind = cz.plain_pixelcnn_blind_spot(28, 28, CENTRE, *shape).reshape(28, 28)
    rows, cols = np.nonzero(blind)
    assert len(rows) == 30 and (rows < 14).all() and (cols > 14).all()
    assert not cz.plain_pixelcnn_blind_spot(28, 28, LAST, *shape).any()  # nothing to its right
    assert not (cz.raster_cone(28, 28, CENTRE, 19) & ~cz.gated_pixelcnn_structural(28, 28, CENTRE, *shape)).any()


def test_the_gpt_structure_is_its_window_before_the_output():
    seen = cz.gpt_structural(20, 12, 4)
    assert np.flatnonzero(seen).tolist() == list(range(4, 12))
    cheat = cz.gpt_structural(20, 12, 4, causal=False, window_end=17)
    assert np.flatnonzero(cheat).tolist() == list(range(4, 17))


def test_the_bundled_wavenet_field_is_the_cards_2047_samples():
    card = json.loads((MODELS / "fsdd-wavenet.json").read_text())
    from arplayground.nets.wavenet import WaveNetConfig

    cfg = WaveNetConfig(**card["config"])
    assert cz.wavenet_field_span(cfg.dilations, 2) == cfg.receptive_field == card["receptive_field_samples"] == 2047
    tree = cz.wavenet_tree(5000, cfg.dilations, 2)
    assert len(tree) == len(cfg.dilations) + 1 and tree[0].tolist() == [5000]
    assert np.array_equal(tree[-1], np.arange(5000 - 2047, 5000))  # the bottom spans the field exactly
    assert [len(t) for t in tree[:11]] == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]  # one cycle doubles it
    assert np.flatnonzero(cz.wavenet_structural(6000, 5000, cfg.dilations, 2)).tolist() == tree[-1].tolist()
    near_start = cz.wavenet_tree(10, cfg.dilations, 2)
    assert near_start[-1].tolist() == list(range(10)) and all((t >= 0).all() for t in near_start)


def test_the_wavenet_tree_edges_connect_its_layers_by_their_dilations():
    dilations = [1, 2, 4, 8]
    tree = cz.wavenet_tree(20, dilations)
    edges = cz.wavenet_tree_edges(20, dilations)
    assert len(edges) == len(dilations)
    for i, pairs in enumerate(edges):
        d = dilations[len(dilations) - 1 - i]
        assert set(pairs[:, 1].tolist()) == set(tree[i].tolist())  # every node above is fed
        assert set(pairs[:, 0].tolist()) == set(tree[i + 1].tolist())  # every node below feeds
        shift = 1 if i == len(dilations) - 1 else 0  # the bottom is in samples: sample s feeds step s + 1
        assert set((pairs[:, 1] - pairs[:, 0] - shift).tolist()) <= {0, d}
    assert edges[0].tolist() == [[12, 20], [20, 20]]


# ----------------------------------------------------------------------------- measured on the real weights


@pytest.mark.parametrize("measure", ["log-prob", "entropy"])
@pytest.mark.parametrize("name, position", EVERY_OUTPUT)
def test_nothing_at_or_after_an_output_and_nothing_the_structure_forbids_influences_it(steppers, name, position, measure):
    field = sees(steppers, name, position, measure)
    assert field.after_output_is_zero(), f"{name}: output {position} is influenced by itself or the future"
    assert (field.measured[field.position :] == 0.0).all()
    assert (field.measured[~field.structural] == 0.0).all(), f"{name}: influence where no path runs"
    assert field.measure == measure and np.isfinite(field.score) and field.measured.dtype == np.float32
    known = CASES[name][0]
    assert field.length == (784 if "pixelcnn" in name or "plain" in name else len(known))
    if position < len(known):
        assert field.value == known[position]


@pytest.mark.parametrize("name, position", [(n, p) for n, p in EVERY_OUTPUT if "pixelcnn" in n])
def test_the_gated_pixelcnn_sees_all_of_its_structural_field(steppers, name, position):
    """No blind spot: every pixel its structure allows moves its output, at the edges of its reach too."""
    field = sees(steppers, name, position)
    assert field.structural.any() == (position > 0)
    assert (field.measured[field.structural] > 0).all(), \
        f"pixel {position} is blind to {np.flatnonzero(field.structural & (field.measured == 0))}"
    assert not field.blind_spot.any()


@pytest.mark.parametrize("name, position", [(n, p) for n, p in EVERY_OUTPUT if "plain" in n])
def test_the_plain_pixelcnn_is_blind_exactly_where_its_structure_says(steppers, name, position):
    field = sees(steppers, name, position)
    assert (field.measured[field.blind_spot] == 0.0).all()
    assert (field.measured[field.structural] > 0).all(), \
        f"pixel {position} is also blind to {np.flatnonzero(field.structural & (field.measured == 0))}"
    assert "untrained weights: structure decides the field" in field.note


def test_the_plain_pixelcnns_blind_spot_is_measured_at_the_centre(steppers):
    field = sees(steppers, "plain", CENTRE)
    assert field.blind_spot.sum() == 30 and (field.measured[field.blind_spot] == 0.0).all()
    gated = sees(steppers, "pixelcnn", CENTRE)
    assert (gated.measured[field.blind_spot] > 0).all()  # where the gated model does see


@pytest.mark.parametrize("name, position", [(n, p) for n, p in EVERY_OUTPUT if "gpt" in n or "wavenet" in n])
def test_every_input_in_the_window_before_the_output_has_influence(steppers, name, position):
    field = sees(steppers, name, position)
    assert (field.measured[field.structural] > 0).all()
    start, end = field.window
    assert field.structural[start:position].all() and not field.structural[:start].any()


def test_the_wavenet_window_gives_what_the_whole_clip_gives(steppers):
    """The field's pass reads one receptive field before the output (and a little after): the
    gradient is the one a pass over the whole clip gives, with the time condition."""
    stepper = steppers["tiny-wavenet"]
    model, levels = stepper.model, CASES["tiny-wavenet"][0][:120]
    for position in (3, 40, 119):
        field = stepper.sees(levels, position, (2, 1))
        e = model.embed(torch.tensor([levels])).transpose(1, 2).detach().requires_grad_(True)
        logits = model.forward_embedded(e, torch.tensor([2]), torch.tensor([1]))[0, :, position]
        (grad,) = torch.autograd.grad(torch.log_softmax(logits, 0)[levels[position]], e)  # no .grad left on the model
        whole = grad[0].double().norm(dim=0).numpy()
        np.testing.assert_allclose(field.measured, whole, rtol=1e-4, atol=1e-9)
        assert np.array_equal(field.measured == 0, whole == 0)
        assert field.window == (max(0, position - 16), min(120, position + 1 + 256))


def test_the_bundled_wavenet_field_two_seconds_in(steppers):
    field = sees(steppers, "wavenet", 16_000)
    assert field.field_span == 2047 and field.seen == 2047
    assert np.flatnonzero(field.structural).tolist() == list(range(16_000 - 2047, 16_000))
    assert np.array_equal(field.layers[-1], np.arange(16_000 - 2047, 16_000))
    assert field.window == (16_000 - 2047, 16_000 + 1 + 256)
    assert "2,047 samples (255.9 ms" in field.note


# ----------------------------------------------------------------------------- the GPT's attention


def attention_inputs(model: GPT):
    """Forward hooks on every attention module: what each was given and gave, in the pass run."""
    seen = []
    hooks = [block.attn.register_forward_hook(lambda module, args, out: seen.append((args, out)))
             for block in model.blocks]
    return seen, hooks


@pytest.mark.parametrize("name, position", [("tiny-gpt", 60), ("tiny-gpt", 200), ("gpt", 700), ("gpt", 1100)])
def test_the_attention_shown_is_the_forward_passs_own(steppers, name, position):
    stepper = steppers[name]
    model = stepper.model
    seen, hooks = attention_inputs(model)
    try:
        field = sees(steppers, name, position)
    finally:
        for hook in hooks:
            hook.remove()
    assert len(seen) == model.cfg.n_layer
    start, end = field.window
    query = position - 1 - start
    with torch.no_grad():
        for layer, ((x, cos, sin, *_), out) in enumerate(seen):
            attn = model.blocks[layer].attn
            B, T, C = x.shape
            nh, hs = attn.n_head, C // attn.n_head
            q, k, v = (t.view(B, T, nh, hs).transpose(1, 2) for t in attn.qkv(x).split(C, dim=2))
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
            scores = torch.einsum("hd,htd->ht", q[0, :, query], k[0]) / math.sqrt(hs)  # (nh, T)
            scores[:, query + 1 :] = float("-inf")
            shown = torch.from_numpy(field.attention[layer, :, start:end])
            torch.testing.assert_close(shown, torch.softmax(scores, dim=-1), atol=1e-6, rtol=1e-5)
            # The module's own output at that query is made of exactly the weights shown.
            y = (shown[:, :, None] * v[0]).sum(dim=1).reshape(C)
            torch.testing.assert_close(out[0, query], attn.proj(y), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(field.attention[:, :, start:end].sum(axis=2), 1.0, atol=1e-5)  # each row sums to 1
    assert (field.attention[:, :, position:] == 0.0).all() and (field.attention[:, :, :start] == 0.0).all()


@pytest.mark.parametrize("name", ["tiny-gpt", "gpt"])
def test_the_explicit_weights_give_the_logits_sdpa_gives(steppers, name):
    """The same function: in float64 to round-off; in float32 to 1e-5 for the tiny model. The
    bundled model's 1,024-character window through 6 layers gives logits up to 14, where each
    path lies up to 2.3e-5 from the float64 logits (a few float32 steps): there, 5e-5."""
    model = steppers[name].model
    tokens = torch.tensor([CASES[name][0][: model.cfg.block_size]])
    with torch.no_grad():
        sdpa, _ = model(tokens)
        explicit = model.forward_embedded(model.wte(tokens), kept=KeptAttention(5))
        exact = copy.deepcopy(model).double()
        sdpa64, _ = exact(tokens)
        explicit64 = exact.forward_embedded(exact.wte(tokens), kept=KeptAttention(5))
    torch.testing.assert_close(explicit64, sdpa64, atol=1e-10, rtol=0)
    torch.testing.assert_close(explicit, sdpa, atol=1e-5 if name == "tiny-gpt" else 5e-5, rtol=0)


def test_a_gpt_without_the_causal_mask_is_influenced_by_what_comes_after(tmp_path):
    """The cheat model's field: teacher forcing shows it the character it must predict."""
    torch.manual_seed(0)
    cfg = GPTConfig(vocab_size=len(TINY_VOCAB), block_size=64, n_layer=2, n_head=2, n_embd=32, dropout=0.0, causal=False)
    stepper = GPTStepper(GPT(cfg), Vocabulary(TINY_VOCAB))
    values = text(100, len(TINY_VOCAB), seed=3)
    for position in (10, 40, 63, 80):  # 64 would end its window: no character after it is read
        field = stepper.sees(values, position)
        start, end = field.window
        assert not field.after_output_is_zero()
        assert (field.measured[position:end] > 0).all()  # itself and every later character in the window
        assert field.structural[start:end].all() and (field.measured[~field.structural] == 0).all()
        assert (field.attention[:, :, position:end] > 0).all()
        np.testing.assert_allclose(field.attention[:, :, start:end].sum(axis=2), 1.0, atol=1e-5)
        assert "No causal mask" in field.note


# ----------------------------------------------------------------------------- a run is left as it was


@pytest.mark.parametrize("name, prefix, condition, position", [
    ("tiny-gpt", 150, None, 100), ("gpt", 300, None, 250),
    ("tiny-pixelcnn", 300, 4, 290), ("pixelcnn", 413, 3, CENTRE),
    ("tiny-wavenet", 200, (1, 2), 150), ("wavenet", 3000, (3, 0), 2900),
])
def test_sees_leaves_a_primed_stepper_and_its_model_as_they_were(steppers, name, prefix, condition, position):
    stepper = steppers[name]
    known = CASES[name][0]
    stepper.reset(known[:prefix], condition)
    before = stepper.logits().copy()
    weights = {k: v.clone() for k, v in stepper.model.state_dict().items()}
    with torch.inference_mode():  # as a caller holding inference mode would: the field turns autograd on itself
        for measure in ("log-prob", "entropy"):
            stepper.sees(known, position, condition, measure)
            stepper.sees(known[:prefix], prefix, condition, measure)  # the output the run draws next
    assert np.array_equal(stepper.logits(), before)
    assert all(torch.equal(v, stepper.model.state_dict()[k]) for k, v in weights.items())
    assert all(p.grad is None for p in stepper.model.parameters())
    twin = type(stepper)(stepper.model, stepper.vocab)  # the same run, never asked what it sees
    twin.reset(known[:prefix], condition)
    for value in known[prefix : prefix + 3]:  # the run goes on exactly as the twin does
        stepper.push(value)
        twin.push(value)
        np.testing.assert_array_equal(stepper.logits(), twin.logits())


# ----------------------------------------------------------------------------- the plain model and the Field


def test_the_plain_pixelcnn_is_reproducible_and_leaves_the_random_state_alone():
    state = torch.random.get_rng_state()
    a, b = build_plain_pixelcnn(TINY_IMAGE, seed=5), build_plain_pixelcnn(TINY_IMAGE, seed=5)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), build_plain_pixelcnn(TINY_IMAGE, seed=6).parameters()))
    assert not a.training
    with torch.no_grad():
        logits = a(torch.zeros(2, 28, 28, dtype=torch.int64), torch.tensor([3, 10]))
    assert logits.shape == (2, 256, 28, 28)
    field = plain_field(a, image(), CENTRE, None)
    assert np.array_equal(field.measured, a.sees(image(), CENTRE).measured)


def test_a_field_is_refused_for_outputs_that_are_none(steppers):
    with pytest.raises(ValueError, match="not an output"):
        steppers["tiny-gpt"].sees(text(10, 5), 0)  # the first character is the prompt's start
    with pytest.raises(ValueError, match="not an output"):
        steppers["tiny-gpt"].sees(text(10, 5), 11)
    with pytest.raises(ValueError, match="outside"):
        steppers["tiny-pixelcnn"].sees(image(), 784)
    with pytest.raises(ValueError, match="one image"):
        steppers["tiny-pixelcnn"].sees(image(), 5, [1, 2])
    with pytest.raises(ValueError, match="not an output"):
        steppers["tiny-wavenet"].sees(clip(50), 51)
    with pytest.raises(ValueError, match="levels"):
        steppers["tiny-wavenet"].sees([0, 256], 1)
    with pytest.raises(ValueError, match="measure"):
        steppers["tiny-wavenet"].sees(clip(50), 10, None, "surprise")
    plain = build_plain_pixelcnn(TINY_IMAGE).train()
    with pytest.raises(RuntimeError, match="eval mode"):
        plain.sees(image(), 100)


def test_an_output_not_drawn_yet_is_measured_at_its_most_likely_value(steppers):
    stepper = steppers["tiny-pixelcnn"]
    half = image()[:400]
    stepper.reset(half, 3)
    field = stepper.sees(half, 400, 3)
    assert field.value == int(np.argmax(stepper.logits()))
    assert field.after_output_is_zero() and (field.measured[field.structural] > 0).all()


def test_the_fields_helpers():
    measured = np.array([0.0, 3.0, 1.0, 3.0, 0.0, 2.0], np.float32)
    field = Field(position=4, length=6, structural=np.arange(6) < 4, measured=measured, measure="log-prob",
                  value=1, note="")
    assert field.strongest(3).tolist() == [1, 3, 5]  # ties: the earlier first
    assert field.strongest(10).tolist() == [1, 3, 5, 2]  # only inputs with some influence
    assert not field.after_output_is_zero() and field.seen == 4
    measured[5] = 0.0
    assert Field(4, 6, np.arange(6) < 4, measured, "entropy", 1, "").after_output_is_zero()
    with pytest.raises(ValueError):
        Field(4, 5, np.zeros(6, bool), measured, "log-prob", 1, "")
    with pytest.raises(ValueError):
        Field(4, 6, np.zeros(6, bool), measured, "perplexity", 1, "")
