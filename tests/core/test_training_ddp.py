"""Data-parallel training on the CPU: `torchrun --nproc_per_node 2 -m arplayground.train image|audio
...` runs two processes (gloo) that end with identical weights, train the single-process run on the
same global batch (its losses and weights, within float rounding), write one card saying so, and
resume a checkpoint as a single process does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from arplayground.train.__main__ import main as train_main
from tests.core.test_training_commands import stop_after_first_checkpoint, tiny_audio_command, tiny_image_command

ROOT = Path(__file__).resolve().parents[2]


def torchrun(argv, cwd) -> subprocess.CompletedProcess:
    """The command under torchrun with two processes on this machine, this work tree's package."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "arplayground.train", *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def weights_of(folder: Path) -> dict:
    return load_file(folder / "m.safetensors")


def assert_same_run(one: Path, two: Path) -> None:
    """Two runs of the same command agree: the card's losses and the weights, to float rounding
    (the two processes add the gradient's halves in another order than one process does)."""
    a, b = weights_of(one), weights_of(two)
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-5, err_msg=name)
    history = [json.loads((f / "m.json").read_text())["training"]["history"] for f in (one, two)]
    assert [h["step"] for h in history[0]] == [h["step"] for h in history[1]]
    for single, parallel in zip(*history):
        for key in single:
            assert parallel[key] == pytest.approx(single[key], abs=2e-4), key


@pytest.mark.parametrize("make_command, batch", [(tiny_image_command, 4), (tiny_audio_command, 2)], ids=["image", "audio"])
def test_two_processes_end_identical_and_train_the_single_process_run_on_the_same_global_batch(tmp_path, make_command, batch):
    import torch

    from arplayground.catalog import build_network
    from arplayground.train.common import weights_digest

    command, steps_per_epoch = make_command(tmp_path)
    assert train_main([*command, "--out", str(tmp_path / "one"), "--name", "m"]) == 0
    said = torchrun([*command, "--out", str(tmp_path / "two"), "--name", "m"], tmp_path)
    assert said.stderr.count(f"data-parallel: 2 processes (gloo), a global batch of {batch}") == 1  # rank 0 alone speaks
    assert_same_run(tmp_path / "one", tmp_path / "two")

    card = json.loads((tmp_path / "two" / "m.json").read_text())
    processes = card["training"]["processes"]
    assert processes["world_size"] == 2 and processes["backend"] == "gloo"
    assert len(processes["devices"]) == 2 and all(d.startswith("cpu on ") for d in processes["devices"])
    # Both processes' weights, as digests taken in each, are one and the same: the weights written.
    net = build_network(card)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights_of(tmp_path / "two").items()})
    assert processes["weights_sha256_per_process"] == [weights_digest(net)] * 2
    single = json.loads((tmp_path / "one" / "m.json").read_text())["training"]["processes"]
    assert single["world_size"] == 1 and single["backend"] is None and len(single["devices"]) == 1
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["m.json", "m.safetensors"]  # one card


@pytest.mark.parametrize("make_command", [tiny_image_command, tiny_audio_command], ids=["image", "audio"])
def test_a_checkpoint_of_a_stopped_run_resumes_under_two_processes_to_the_same_weights(tmp_path, monkeypatch, make_command):
    from arplayground.train import audio, image

    command, _ = make_command(tmp_path)
    checkpoint = tmp_path / "run.ckpt"
    assert train_main([*command, "--out", str(tmp_path / "whole"), "--name", "m"]) == 0
    stop_after_first_checkpoint(monkeypatch, image if command[0] == "image" else audio, lambda: train_main(
        [*command, "--out", str(tmp_path / "resumed"), "--name", "m", "--checkpoint", str(checkpoint)]))
    said = torchrun([*command, "--out", str(tmp_path / "resumed"), "--name", "m", "--checkpoint", str(checkpoint)], tmp_path)
    assert said.stderr.count("resumed from") == 1
    assert_same_run(tmp_path / "whole", tmp_path / "resumed")


def test_more_processes_than_images_in_a_batch_are_refused(tmp_path):
    command, _ = tiny_image_command(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "arplayground.train", *command, "--batch", "1", "--out", str(tmp_path / "x")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "2 processes need at least 2 images in every batch (the smallest has 1)" in done.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("argv", [["text", "--data", "input.txt"], ["audio-lengths", "--data", ".", "--card", "c.json"]])
def test_the_commands_that_run_in_one_process_refuse_to_run_under_torchrun(tmp_path, monkeypatch, argv):
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit, match=f"arplayground-train {argv[0]} runs as one process; under torchrun, only image and audio"):
        train_main([*argv, "--out", str(tmp_path / "x")] if argv[0] == "text" else argv)
    assert not (tmp_path / "x").exists()
