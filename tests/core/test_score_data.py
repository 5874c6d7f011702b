"""benchmarks/score_data.py on tiny seeded models and tiny stand-ins for the data sets: the splits
it reads are the training commands' splits, and every figure it reports comes out finite, with each
generated sequence scored back to the probabilities its generation recorded."""

import gzip
import importlib.util
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

from arplayground import catalog
from arplayground.audio.wav import read_wav, write_wav
from arplayground.core.mulaw import encode
from tests.conftest import TINY_SPEAKERS, TINY_VOCAB, write_tiny_gpt, write_tiny_pixelcnn, write_tiny_wavenet

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "score_data.py"
spec = importlib.util.spec_from_file_location("score_data", SCRIPT)
score_data = importlib.util.module_from_spec(spec)
sys.modules["score_data"] = score_data  # dataclasses look their module up there
spec.loader.exec_module(score_data)

rng = np.random.default_rng(0)


@pytest.fixture(autouse=True)
def one_torch_thread():
    """The benchmark's (and the app's) setting; two threads on a busy machine only wait on each other."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def loaded(card_path: Path):
    entry = catalog.read_entry(card_path)
    return catalog.load_stepper(entry), entry.card


def test_text_reads_the_last_tenth_and_scores_it_and_own_samples(tmp_path):
    stepper, card = loaded(write_tiny_gpt(tmp_path))
    text = "".join(rng.choice(TINY_VOCAB, 400))
    (tmp_path / "input.txt").write_text(text, encoding="utf-8")
    val = score_data.text_validation(tmp_path / "input.txt", stepper.vocab)
    assert stepper.vocab.decode(val) == text[int(0.9 * len(text)):]
    row = score_data.text_figures(stepper, card, val, samples=2, sample_chars=150)  # past the tiny block of 128
    assert 0 < row.real_bits < 20 and 0 < row.own_bits < 20
    assert row.card.startswith(f"{4.1 / math.log(2):.4f}")
    gap = float(row.notes[0].rsplit(" ", 1)[1])
    assert gap < 1e-4


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">II", 2051, len(array)) + struct.pack(">II", *array.shape[1:]) if array.ndim == 3 \
        else struct.pack(">II", 2049, len(array))
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_image_validation_images_digits_classifier_and_samples(tmp_path):
    stepper, card = loaded(write_tiny_pixelcnn(tmp_path))
    images = rng.integers(0, 256, (12, 28, 28))
    labels = np.arange(12) % 10
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    pixels, digits = score_data.mnist_validation(tmp_path, 9, 3)
    assert pixels.shape == (3, 784) and np.array_equal(pixels[0], images[9].reshape(-1))
    assert list(digits) == [9, 0, 1]
    own, under_any = score_data.image_figures(stepper, card, pixels, digits, n_classify=2, per_digit=1, first_index=9)
    for row in (own, under_any):
        assert 0 < row.real_bits < 20 and 0 < row.own_bits < 20
    assert own.accuracy.endswith("/2: images 9-10)")
    assert float(own.notes[0].rsplit(" ", 1)[1]) < 1e-4
    assert "| image, any digit |" in score_data.table([own, under_any])


def test_audio_test_split_speakers_classifier_and_samples(tmp_path):
    stepper, card = loaded(write_tiny_wavenet(tmp_path))
    card = dict(card, dataset={"max_seconds": 0.01, "typical_seconds": {str(d): {"any": 0.02} for d in range(10)}})
    recordings = tmp_path / "fsdd" / "recordings"
    recordings.mkdir(parents=True)
    for name in ["3_cy_0.wav", "3_cy_5.wav", "7_ann_4.wav", "1_bob_2.wav", "notes.txt"]:
        write_wav(recordings / name, rng.normal(0, 0.2, 120))
    clips = score_data.fsdd_test(tmp_path / "fsdd", TINY_SPEAKERS)
    assert [(c[1], c[2], c[3]) for c in clips] == [(1, 1, 2), (3, 2, 0), (7, 0, 4)]  # index 5 is training data
    assert np.array_equal(clips[0][0], encode(read_wav(recordings / "1_bob_2.wav")[0]))
    row = score_data.audio_figures(stepper, card, clips, n_classify=2, n_samples=3)
    assert 0 < row.real_bits < 20 and 0 < row.own_bits < 20
    assert "/2 clips, speaker given)" in row.accuracy
    assert "(3 of 3 are longer)" in row.notes[0]  # 120 samples against a cut at 80
    assert float(row.notes[1].rsplit(" ", 1)[1]) < 1e-4
