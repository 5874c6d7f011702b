"""Training checkpoints are safetensors plus JSON: a stranger's file never runs code, a damaged one is
refused with its reason, and what is saved comes back exactly."""

import argparse
import copy
import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from arplayground.train import common
from arplayground.train.common import (
    CHECKPOINT_KEY,
    load_checkpoint,
    read_checkpoint,
    resume_if_saved,
    save_checkpoint,
    training_state,
)


class Touch:
    """Unpickling this creates `marker`: the stand-in for any code a crafted file could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def a_small_run(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    rng = np.random.default_rng(seed)
    return model, copy.deepcopy(model).requires_grad_(False), opt, rng


def take_steps(model, opt, rng, n):
    for _ in range(n):
        x = torch.from_numpy(rng.standard_normal((5, 3)).astype(np.float32)) + torch.randn(5, 3)
        loss = model(x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def a_checkpoint(path, command_line="arplayground-train image"):
    model, average, opt, rng = a_small_run()
    take_steps(model, opt, rng, 3)
    save_checkpoint(path, training_state(command_line, 3, model, average, opt, rng, [{"step": 3, "val": 1.25}],
                                         12.5, order=np.arange(7)[::-1], groups=[[2, 0], [1]], start=None))
    return path


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_whose_unpickling_runs_code_is_refused_and_the_code_never_runs(tmp_path, writer):
    live, marker = tmp_path / "live-marker", tmp_path / "marker"
    pickle.loads(pickle.dumps(Touch(live)))  # the payload is real: unpickled, it does run
    assert live.exists()
    crafted = tmp_path / "run.pt"
    state = {"command_line": "arplayground-train image", "step": 1, "payload": Touch(marker)}
    if writer == "pickle":
        crafted.write_bytes(pickle.dumps(state))
    else:
        torch.save(state, crafted)
    with pytest.raises(SystemExit, match="not opened, because unpickling a file can run any code"):
        load_checkpoint(crafted, "arplayground-train image")
    assert not marker.exists()


def test_the_training_command_refuses_a_crafted_checkpoint_before_training(tmp_path):
    from tests.core.test_training_commands import tiny_image_command

    from arplayground.train.__main__ import main as train_main

    marker = tmp_path / "marker"
    command, _ = tiny_image_command(tmp_path)
    crafted = tmp_path / "run.ckpt"
    torch.save({"command_line": "whatever", "payload": Touch(marker)}, crafted)
    with pytest.raises(SystemExit, match=r"--checkpoint .*run\.ckpt: is a zip archive, as torch.save writes"):
        train_main([*command, "--out", str(tmp_path / "out"), "--name", "m", "--checkpoint", str(crafted)])
    assert not marker.exists()
    assert not (tmp_path / "out" / "m.safetensors").exists()


def test_a_truncated_checkpoint_is_refused_with_its_reason(tmp_path):
    whole = a_checkpoint(tmp_path / "run.ckpt").read_bytes()
    cut = tmp_path / "cut.ckpt"
    for length in (len(whole) - 1, len(whole) // 2):
        cut.write_bytes(whole[:length])
        with pytest.raises(SystemExit, match="damaged or truncated safetensors file"):
            read_checkpoint(cut)
    for length in (0, 5, 200):  # inside the header, or not even its length
        cut.write_bytes(whole[:length])
        with pytest.raises(SystemExit, match="is not a safetensors checkpoint"):
            read_checkpoint(cut)


def test_other_files_are_refused_with_their_reasons(tmp_path):
    weights = tmp_path / "model.safetensors"
    save_file({"w": torch.zeros(2)}, weights)  # a model's weights, not a training state
    with pytest.raises(SystemExit, match="safetensors file without a training state"):
        read_checkpoint(weights)
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint at all, just some words in a file")
    with pytest.raises(SystemExit, match="is not a safetensors checkpoint"):
        read_checkpoint(text)
    for why, described in {
        "not json": "{not json",
        "another format": json.dumps({"format": 99, "state": {"dict": []}}),
        "an unknown tag": json.dumps({"format": 1, "state": {"pickle": "x"}}),
        "a missing tensor": json.dumps({"format": 1, "state": {"dict": [["model", {"tensor": "nowhere"}]]}}),
        "no step": json.dumps({"format": 1, "state": {"dict": [["command_line", "c"]]}}),
    }.items():
        damaged = tmp_path / "damaged.ckpt"
        save_file({"w": torch.zeros(2)}, damaged, metadata={CHECKPOINT_KEY: described})
        with pytest.raises(SystemExit, match="holds a training state that is damaged"):
            read_checkpoint(damaged)


def test_what_is_saved_comes_back_exactly_and_the_run_goes_on_as_if_never_stopped(tmp_path):
    # Uninterrupted: 3 steps, then 4 more.
    model, average, opt, rng = a_small_run()
    take_steps(model, opt, rng, 3)
    state = training_state("cmd", 3, model, average, opt, rng, [{"step": 3}], 1.0, order=np.arange(5), start=None)
    path = tmp_path / "run.ckpt"
    save_checkpoint(path, state)
    take_steps(model, opt, rng, 4)
    next_numpy, next_torch = rng.random(), torch.rand(3)  # the generators' next draws after all 7
    # Stopped after 3: a fresh process's objects, put back from the file, take the same 4.
    resumed_model, resumed_average, resumed_opt, resumed_rng = a_small_run(seed=1)  # other weights, other draws
    args = argparse.Namespace(checkpoint=path, command_line="cmd")
    back = resume_if_saved(args, common.Progress(10), resumed_model, resumed_average, resumed_opt, resumed_rng)
    assert back["step"] == 3 and back["history"] == [{"step": 3}] and back["start"] is None
    assert back["order"].dtype == np.arange(5).dtype and back["order"].tolist() == [0, 1, 2, 3, 4]
    assert back["optimiser"]["param_groups"][0]["betas"] == (0.9, 0.999)  # a tuple stays a tuple
    assert sorted(back["optimiser"]["state"]) == [0, 1, 2, 3]  # int keys stay ints
    take_steps(resumed_model, resumed_opt, resumed_rng, 4)
    for name, tensor in model.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[name], tensor, rtol=0, atol=0, msg=name)
    assert resumed_rng.random() == next_numpy and torch.equal(torch.rand(3), next_torch)


def test_a_checkpoint_of_another_model_shape_is_refused_not_a_traceback(tmp_path):
    path = a_checkpoint(tmp_path / "run.ckpt", command_line="cmd")
    other = torch.nn.Linear(3, 9)
    args = argparse.Namespace(checkpoint=path, command_line="cmd")
    with pytest.raises(SystemExit, match="does not fit this command's model"):
        resume_if_saved(args, common.Progress(10), other, None, torch.optim.AdamW(other.parameters()),
                        np.random.default_rng(0))


def test_a_write_that_fails_half_way_leaves_the_previous_checkpoint_whole(tmp_path, monkeypatch):
    import safetensors.torch

    path = a_checkpoint(tmp_path / "run.ckpt")
    before = path.read_bytes()

    def full_disk(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(safetensors.torch, "save_file", full_disk)
    model, average, opt, rng = a_small_run()
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, training_state("arplayground-train image", 6, model, average, opt, rng, [], 20.0))
    assert path.read_bytes() == before and read_checkpoint(path)["step"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]  # no temporary file left behind
