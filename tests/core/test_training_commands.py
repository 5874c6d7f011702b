"""The training commands run end to end on tiny data and write loadable weights and complete cards."""

import gzip
import json
import struct

import numpy as np
import pytest

from arplayground import catalog
from arplayground.train.__main__ import main as train_main
from arplayground.train.image import read_idx


def test_text_training_writes_a_card_and_weights_the_app_can_load(tmp_path):
    data = tmp_path / "input.txt"
    rng = np.random.default_rng(0)
    words = ["to", "be", "or", "not", "that", "is", "the", "question", "\n", "ROMEO:", "JULIET:"]
    data.write_text(" ".join(rng.choice(words, 3000)))
    out = tmp_path / "models"
    rc = train_main(["text", "--data", str(data), "--out", str(out), "--name", "t", "--iters", "4",
                     "--batch", "2", "--block", "32", "--layers", "1", "--heads", "2", "--embd", "16", "--eval-every", "2"])
    assert rc == 0
    card = json.loads((out / "t.json").read_text())
    assert card["training"]["command"].startswith("arplayground-train text --data")
    assert card["validation"]["val_loss_nats_per_char"] > 0
    assert card["dataset"]["split"].startswith("first 90%")
    assert len(card["training"]["history"]) == 2
    entry = next(e for e in catalog.discover(out) if e.name == "t")
    assert entry.available, entry.error
    stepper = catalog.load_stepper(entry)
    stepper.reset(stepper.vocab.encode("to be"))
    assert stepper.logits().shape == (len(card["vocabulary"]),)


def write_idx(path, array):
    with gzip.open(path, "wb") as f:
        if array.ndim == 3:
            f.write(struct.pack(">IIII", 2051, len(array), *array.shape[1:]))
        else:
            f.write(struct.pack(">II", 2049, len(array)))
        f.write(array.astype(np.uint8).tobytes())


def test_image_training_reads_idx_and_writes_a_card(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (9010, 28, 28))
    labels = rng.integers(0, 10, 9010)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    np.testing.assert_array_equal(read_idx(tmp_path / "t10k-images-idx3-ubyte.gz"), images)
    np.testing.assert_array_equal(read_idx(tmp_path / "t10k-labels-idx1-ubyte.gz"), labels)
    out = tmp_path / "models"
    rc = train_main(["image", "--data", str(tmp_path), "--out", str(out), "--name", "p", "--limit", "8",
                     "--epochs", "1", "--batch", "4", "--channels", "4", "--layers", "1", "--kernel", "3",
                     "--shift", "2", "--dropout", "0.2"])
    assert rc == 0
    card = json.loads((out / "p.json").read_text())
    assert card["mode"] == "image" and card["validation"]["val_bits_per_dim"] > 0
    assert card["training"]["shift_augmentation_pixels"] == 2 and card["config"]["dropout"] == 0.2
    assert card["dataset"]["split"] == "images 0-8999 train, 9000-9009 validate"
    assert (out / "p.safetensors").stat().st_size > 0


def test_image_augmentation_adds_a_training_only_label_and_the_app_loads_the_model(tmp_path):
    command, _ = tiny_image_command(tmp_path)
    out = tmp_path / "models"
    rc = train_main([*command, "--out", str(out), "--name", "p", "--augment-share", "0.5", "--augment-shift", "1"])
    assert rc == 0
    card = json.loads((out / "p.json").read_text())
    assert card["config"]["extra_labels"] == 1 and "training-only label" in card["description"]
    assert card["training"]["augment_share"] == 0.5 and card["training"]["augment_shift_pixels"] == 1
    entry = next(e for e in catalog.discover(out) if e.name == "p")
    assert entry.available, entry.error
    stepper = catalog.load_stepper(entry)
    assert stepper.model.layers[0].cond.num_embeddings == 12  # 10 digits, "any", and the training-only label
    stepper.reset([], condition=None)
    assert stepper.logits().shape == (256,)
    with pytest.raises(AssertionError):  # the app offers digits and "any" only
        stepper.reset([], condition=11)


def test_symmetric_applies_each_of_the_eight_symmetries_of_the_square_exactly():
    from arplayground.train.image import symmetric

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (6, 6)).astype(np.uint8)
    out = symmetric(np.repeat(image[None], 8, axis=0), np.arange(8))
    expected = [np.rot90(image, k) for k in range(4)] + [np.rot90(image.T, k) for k in range(4)]
    for got, want in zip(out, expected):
        np.testing.assert_array_equal(got, want)
    assert len({o.tobytes() for o in out}) == 8  # all different, and every one the same pixels rearranged
    assert all(sorted(o.ravel().tolist()) == sorted(image.ravel().tolist()) for o in out)


def test_audio_training_reads_fsdd_names_keeps_the_split_and_writes_a_card(tmp_path):
    from arplayground.audio.wav import write_wav

    recordings = tmp_path / "recordings"
    recordings.mkdir()
    rng = np.random.default_rng(2)
    train_lengths = {}  # (digit, speaker) -> the training clips' lengths in samples
    for digit in (3, 7):
        for speaker in ("ann", "bob"):
            for index in range(7):  # 0-4 test, 5-6 train
                n = int(rng.integers(300, 900))
                if index >= 5:
                    train_lengths.setdefault((digit, speaker), []).append(n)
                write_wav(recordings / f"{digit}_{speaker}_{index}.wav", 0.3 * np.sin(np.arange(n) * (0.05 + 0.01 * digit)))
    (recordings / "notes.txt").write_text("not a recording")
    out = tmp_path / "models"
    rc = train_main(["audio", "--data", str(tmp_path), "--out", str(out), "--name", "w", "--epochs", "1",
                     "--batch", "4", "--residual", "4", "--skip", "8", "--cycle", "3", "--cycles", "1",
                     "--time-knots", "3", "--time-spacing", "200", "--time-features", "2"])
    assert rc == 0
    card = json.loads((out / "w.json").read_text())
    assert card["mode"] == "audio" and card["speakers"] == ["ann", "bob"]
    assert (card["config"]["time_knots"], card["config"]["time_spacing"], card["config"]["time_features"]) == (3, 200, 2)
    assert "template per (digit, speaker) pair" in card["description"]
    assert card["dataset"]["clips"] == {"train": 8, "test": 20}
    # How long each digit by each speaker lasts in training (the app's default length): medians, in s
    typical = card["dataset"]["typical_seconds"]
    assert set(typical) == {"3", "7", "any"} and all(set(row) == {"ann", "bob", "any"} for row in typical.values())
    assert typical["7"]["bob"] == round(np.median(train_lengths[7, "bob"]) / 8000, 3)
    assert typical["3"]["any"] == round(np.median(train_lengths[3, "ann"] + train_lengths[3, "bob"]) / 8000, 3)
    assert typical["any"]["any"] == round(np.median(sum(train_lengths.values(), [])) / 8000, 3)
    assert typical["any"]["ann"] == round(np.median(train_lengths[3, "ann"] + train_lengths[7, "ann"]) / 8000, 3)
    # A card written before the command wrote them gets the same figures from audio-lengths.
    written = card["dataset"].pop("typical_seconds")
    (out / "w.json").write_text(json.dumps(card))
    assert train_main(["audio-lengths", "--data", str(tmp_path), "--card", str(out / "w.json")]) == 0
    card = json.loads((out / "w.json").read_text())
    assert card["dataset"]["typical_seconds"] == written
    assert card["dataset"]["typical_seconds_command"].startswith("arplayground-train audio-lengths --data ")
    card["speakers"] = ["ann", "zed"]
    (out / "w.json").write_text(json.dumps(card))
    with pytest.raises(SystemExit, match="names the speakers"):
        train_main(["audio-lengths", "--data", str(tmp_path), "--card", str(out / "w.json")])
    card["speakers"] = ["ann", "bob"]
    (out / "w.json").write_text(json.dumps(card))
    v = card["validation"]
    assert 0 < v["histogram_baseline_bits_per_sample"] <= 8 and v["test_bits_per_sample"] > 0
    entry = next(e for e in catalog.discover(out) if e.name == "w")
    assert entry.available, entry.error
    stepper = catalog.load_stepper(entry)
    stepper.reset([], condition=(7, 1))
    assert stepper.logits().shape == (256,)


def tiny_image_command(data):
    rng = np.random.default_rng(3)
    write_idx(data / "t10k-images-idx3-ubyte.gz", rng.integers(0, 256, (9004, 28, 28)))
    write_idx(data / "t10k-labels-idx1-ubyte.gz", rng.integers(0, 10, 9004))
    return ["image", "--data", str(data), "--limit", "8", "--epochs", "3", "--batch", "4", "--channels", "4",
            "--layers", "1", "--kernel", "3"], 2


def tiny_audio_command(data):
    from arplayground.audio.wav import write_wav

    (data / "recordings").mkdir()
    rng = np.random.default_rng(4)
    for digit in (2, 5):
        for index in range(7):
            n = int(rng.integers(300, 700))
            write_wav(data / "recordings" / f"{digit}_ann_{index}.wav", 0.3 * np.sin(np.arange(n) * 0.07 * (digit + 1)))
    return ["audio", "--data", str(data), "--epochs", "3", "--batch", "2", "--residual", "4", "--skip", "8",
            "--cycle", "2", "--cycles", "1", "--eval-clips", "2"], 2


def stop_after_first_checkpoint(monkeypatch, module, run):
    """Run a training command that stops, as if the machine went away, right after epoch 1 was saved."""
    real_save = module.save_checkpoint

    def save_then_stop(path, state):
        real_save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(module, "save_checkpoint", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        run()
    monkeypatch.setattr(module, "save_checkpoint", real_save)


@pytest.mark.parametrize("make_command", [tiny_image_command, tiny_audio_command], ids=["image", "audio"])
def test_a_stopped_run_resumes_from_its_checkpoint_to_the_same_weights(tmp_path, monkeypatch, make_command):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    from arplayground.train import audio, image
    from arplayground.train.common import CHECKPOINT_KEY

    command, steps_per_epoch = make_command(tmp_path)
    module = image if command[0] == "image" else audio

    def train(out, checkpoint):
        extra = ["--checkpoint", str(checkpoint)] if checkpoint else []
        return train_main([*command, "--out", str(out), "--name", "m", *extra])

    assert train(tmp_path / "whole", None) == 0
    checkpoint = tmp_path / "run.ckpt"
    stop_after_first_checkpoint(monkeypatch, module, lambda: train(tmp_path / "resumed", checkpoint))
    assert not (tmp_path / "resumed" / "m.safetensors").exists()
    # safetensors with the rest as JSON in its metadata: resuming unpickles nothing
    with safe_open(str(checkpoint), framework="pt") as f:
        saved, names = json.loads(f.metadata()[CHECKPOINT_KEY]), list(f.keys())
    assert saved["format"] == 1 and any(name.startswith("state/optimiser/") for name in names)
    assert train(tmp_path / "resumed", checkpoint) == 0
    whole = load_file(tmp_path / "whole" / "m.safetensors")
    resumed = load_file(tmp_path / "resumed" / "m.safetensors")
    assert whole.keys() == resumed.keys()
    for name in whole:
        np.testing.assert_array_equal(whole[name], resumed[name], err_msg=name)
    card = json.loads((tmp_path / "resumed" / "m.json").read_text())
    assert [h["step"] for h in card["training"]["history"]] == [steps_per_epoch * e for e in (1, 2, 3)]
    # Another command must not continue this checkpoint.
    with pytest.raises(SystemExit, match="not this command"):
        train_main([*command, "--out", str(tmp_path / "other"), "--name", "m", "--seed", "7", "--checkpoint", str(checkpoint)])


def test_shift_augmentation_moves_each_image_by_its_own_offset_with_zero_fill():
    from arplayground.train.image import shifted

    rng = np.random.default_rng(0)
    images = np.zeros((200, 12, 12), np.uint8)
    images[:, 4:8, 4:8] = rng.integers(1, 256, (200, 4, 4))  # content inside a 4-pixel margin
    assert shifted(images, 0, rng) is images
    out = shifted(images, 2, rng)
    assert out.shape == images.shape and out.dtype == images.dtype
    offsets = set()
    for before, after in zip(images, out):
        ys, xs = np.nonzero(after)
        dy, dx = ys.min() - 4, xs.min() - 4  # where the block went
        assert -2 <= dy <= 2 and -2 <= dx <= 2
        np.testing.assert_array_equal(after, np.roll(before, (dy, dx), axis=(0, 1)))
        offsets.add((dy, dx))
    assert len(offsets) == 25  # every offset in [-2, 2]^2 turns up over 200 images


@pytest.mark.parametrize("make_command", [tiny_image_command, tiny_audio_command], ids=["image", "audio"])
def test_init_from_starts_from_a_cards_weights_and_the_new_card_keeps_the_chain(tmp_path, make_command):
    from safetensors.numpy import load_file

    command, _ = make_command(tmp_path)
    first, second = tmp_path / "first", tmp_path / "second"
    assert train_main([*command, "--out", str(first), "--name", "m"]) == 0
    # At learning rate 0 the weights cannot move, so the result is exactly the starting card's weights.
    assert train_main([*command, "--out", str(second), "--name", "m", "--lr", "0", "--warmup", "2",
                       "--init-from", str(first / "m.json")]) == 0
    before, after = load_file(first / "m.safetensors"), load_file(second / "m.safetensors")
    assert before.keys() == after.keys()
    for name in before:
        np.testing.assert_array_equal(before[name], after[name], err_msg=name)
    card_before = json.loads((first / "m.json").read_text())
    training = json.loads((second / "m.json").read_text())["training"]
    start = training["initialised_from"]
    assert start["command"] == card_before["training"]["command"] and start["initialised_from"] is None
    assert start["validation"] == card_before["validation"] and training["warmup_steps"] == 2
    assert training["wall_time_s_with_earlier_runs"] == pytest.approx(
        training["wall_time_s"] + card_before["training"]["wall_time_s"], abs=0.11)
    # A different architecture is refused by name, before any training.
    wider = "--channels" if command[0] == "image" else "--residual"
    with pytest.raises(SystemExit, match=r"architecture differs.*(channels|residual) 4 there, 6 here"):
        train_main([*command, wider, "6", "--out", str(tmp_path / "third"), "--name", "m",
                    "--init-from", str(first / "m.json")])
    with pytest.raises(SystemExit, match="--init-from"):
        train_main([*command, "--out", str(tmp_path / "third"), "--name", "m", "--init-from", str(tmp_path / "none.json")])


def test_warmup_rises_linearly_then_follows_the_same_cosine():
    from arplayground.train.common import cosine_lr

    assert cosine_lr(1.0, 1, 100, warmup=10) == pytest.approx(0.1 * cosine_lr(1.0, 1, 100))
    assert cosine_lr(1.0, 5, 100, warmup=10) == pytest.approx(0.5 * cosine_lr(1.0, 5, 100))
    assert [cosine_lr(1.0, s, 100, warmup=10) for s in (10, 50, 100)] == [cosine_lr(1.0, s, 100) for s in (10, 50, 100)]
    assert cosine_lr(1.0, 100, 100) == pytest.approx(0.05, abs=1e-3)


def test_a_resumed_init_from_run_keeps_the_starting_card_it_began_with(tmp_path, monkeypatch):
    from arplayground.train import image

    command, _ = tiny_image_command(tmp_path)
    first = tmp_path / "first"
    assert train_main([*command, "--out", str(first), "--name", "m"]) == 0
    card_before = json.loads((first / "m.json").read_text())
    go_on = [*command, "--out", str(tmp_path / "second"), "--name", "m", "--init-from", str(first / "m.json"),
             "--checkpoint", str(tmp_path / "run.ckpt")]
    stop_after_first_checkpoint(monkeypatch, image, lambda: train_main(go_on))
    (first / "m.json").write_text("replaced meanwhile")  # the resumed run must not need the starting card any more
    assert train_main(go_on) == 0
    start = json.loads((tmp_path / "second" / "m.json").read_text())["training"]["initialised_from"]
    assert start["validation"] == card_before["validation"] and start["command"] == card_before["training"]["command"]


def test_bf16_on_a_cpu_without_bf16_instructions_gets_a_warning_and_the_card_names_the_cpu_features(tmp_path):
    from arplayground.train.common import cpu_description, slow_bf16_warning

    def cpuinfo(flags):
        path = tmp_path / f"cpuinfo-{len(flags)}"
        block = f"processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse2 {flags}\n\n"
        path.write_text(block + block.replace("processor\t: 0", "processor\t: 1"))
        return path

    avx2_only, with_bf16 = cpuinfo("avx avx2 fma"), cpuinfo("avx2 avx512f avx512_bf16")
    assert cpu_description(avx2_only) == ("Test CPU 9000", ["avx2"])
    assert cpu_description(with_bf16) == ("Test CPU 9000", ["avx2", "avx512f", "avx512_bf16"])
    warning = slow_bf16_warning(True, "cpu", avx2_only)
    assert warning is not None and "Test CPU 9000" in warning and "leave --bf16 out" in warning
    assert slow_bf16_warning(True, "cpu", with_bf16) is None
    assert slow_bf16_warning(False, "cpu", avx2_only) is None  # float32 asked for: nothing to say
    assert slow_bf16_warning(True, "cuda", avx2_only) is None
    assert cpu_description(tmp_path / "missing")[1] == []  # no /proc/cpuinfo: no flags, no crash
