"""Shared fixtures: a tiny, seeded, untrained GPT written to a models folder like the real one."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Sound in tests goes to ALSA's null device: a real PortAudio stream that makes no noise (and has
# no clock). ALSA reads this once, when PortAudio loads, so it is set before anything imports it.
os.environ["ALSA_CONFIG_PATH"] = str(Path(__file__).parent / "alsa-null.conf")

TINY_VOCAB = list("\n !',.:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def save_with_card(folder: Path, name: str, net, cfg, **card) -> Path:
    """Weights as safetensors and a minimal card beside them, as the training commands write."""
    from safetensors.torch import save_model

    folder.mkdir(parents=True, exist_ok=True)
    save_model(net, str(folder / f"{name}.safetensors"))
    card = {"name": name, "weights": f"{name}.safetensors", "config": cfg.to_dict(),
            "parameters": net.num_params(), **card}
    (folder / f"{name}.json").write_text(json.dumps(card))
    return folder / f"{name}.json"


def write_tiny_gpt(folder: Path, name: str = "tiny-gpt", seed: int = 0) -> Path:
    import torch

    from arplayground.nets.gpt import GPT, GPTConfig

    torch.manual_seed(seed)
    cfg = GPTConfig(vocab_size=len(TINY_VOCAB), block_size=128, n_layer=2, n_head=2, n_embd=32, dropout=0.0)
    return save_with_card(folder, name, GPT(cfg), cfg, mode="text", architecture="gpt",
                          vocabulary=TINY_VOCAB, validation={"val_loss_nats_per_char": 4.1})


@pytest.fixture
def tiny_models(tmp_path) -> Path:
    folder = tmp_path / "models"
    write_tiny_gpt(folder)
    return folder


def write_tiny_pixelcnn(folder: Path, name: str = "tiny-pixelcnn", seed: int = 0) -> Path:
    import torch

    from arplayground.nets.pixelcnn import PixelCNN, PixelCNNConfig

    torch.manual_seed(seed)
    cfg = PixelCNNConfig(channels=8, n_layers=2, kernel=3, first_kernel=3)
    return save_with_card(folder, name, PixelCNN(cfg), cfg, mode="image", architecture="gated-pixelcnn",
                          validation={"val_bits_per_dim": 8.0})


TINY_SPEAKERS = ["ann", "bob", "cy"]


def write_tiny_wavenet(folder: Path, name: str = "tiny-wavenet", seed: int = 0) -> Path:
    import torch

    from arplayground.nets.wavenet import WaveNet, WaveNetConfig

    torch.manual_seed(seed)
    # With the time condition, knots close together, so every GUI and lab test runs it across knots and past the last.
    cfg = WaveNetConfig(residual=8, skip=16, cycle=4, n_cycles=1, n_speakers=len(TINY_SPEAKERS), time_knots=5, time_spacing=100)
    return save_with_card(folder, name, WaveNet(cfg), cfg, mode="audio", architecture="wavenet",
                          speakers=TINY_SPEAKERS, validation={"test_bits_per_sample": 8.0})


@pytest.fixture
def tiny_audio_models(tiny_models) -> Path:
    write_tiny_wavenet(tiny_models)
    return tiny_models


@pytest.fixture
def tiny_image_models(tiny_models) -> Path:
    write_tiny_pixelcnn(tiny_models)
    return tiny_models
