"""Mu-law levels and WAV reading/writing; every test file is generated here, no binary fixtures."""

from __future__ import annotations

import struct
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from arplayground.audio.wav import WavError, parse_wav, read_wav, resample, write_wav
from arplayground.core import mulaw
from arplayground.core.vocab import MuLawLevels

RATE = 8000
GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


# --- helpers -------------------------------------------------------------------------------------


def chunk(chunk_id: bytes, body: bytes) -> bytes:
    return chunk_id + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) % 2 else b"")


def riff(tag: int, channels: int, rate: int, bits: int, payload: bytes, *, extensible=False,
         before_data: bytes = b"") -> bytes:
    """A WAV file's bytes built by hand, so formats the stdlib cannot write can be tested."""
    block = channels * bits // 8
    if extensible:
        fmt = struct.pack("<HHIIHH", 0xFFFE, channels, rate, rate * block, block, bits)
        fmt += struct.pack("<HHI", 22, bits, 0) + struct.pack("<H", tag) + GUID_TAIL
    else:
        fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = b"WAVE" + chunk(b"fmt ", fmt) + before_data + chunk(b"data", payload)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def encode_samples(x: np.ndarray, tag: int, bits: int) -> bytes:
    """Interleaved samples in [-1, 1) as the bytes of the given WAV sample format."""
    if tag == 3:
        return x.astype("<f4" if bits == 32 else "<f8").tobytes()
    if bits == 8:
        return np.clip(np.rint(x * 128 + 128), 0, 255).astype(np.uint8).tobytes()
    full = 1 << (bits - 1)
    ints = np.clip(np.rint(x * full), -full, full - 1).astype("<i8")
    if bits == 24:
        return ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3].tobytes()
    return ints.astype("<i2" if bits == 16 else "<i4").tobytes()


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate)


def peak_hz(x: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum)) * rate / len(x)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# --- mu-law --------------------------------------------------------------------------------------


def test_mulaw_constants_silence_and_extremes():
    assert (mulaw.MU, mulaw.LEVELS, mulaw.SAMPLE_RATE) == (255, 256, 8000)
    assert isinstance(mulaw.SILENCE, int) and mulaw.SILENCE == 128
    assert int(mulaw.encode(0.0)) == mulaw.SILENCE
    levels = mulaw.encode([-1.0, 1.0, -7.0, 7.0])
    assert levels.dtype == np.uint8 and levels.tolist() == [0, 255, 0, 255]
    assert mulaw.decode([0, 255]).tolist() == [-1.0, 1.0]
    assert mulaw.decode([0]).dtype == np.float32
    assert abs(float(mulaw.decode(mulaw.SILENCE))) < 1e-4


def test_mulaw_is_monotonic_symmetric_and_round_trips_every_level():
    x = np.linspace(-1, 1, 20001)
    levels = mulaw.encode(x)
    assert np.all(np.diff(levels.astype(int)) >= 0)
    assert set(levels.tolist()) == set(range(256))  # every level is reachable
    centres = mulaw.decode(np.arange(256))
    assert np.all(np.diff(centres) > 0)
    assert np.allclose(centres, -centres[::-1], atol=1e-7)
    assert mulaw.encode(centres).tolist() == list(range(256))


@pytest.mark.parametrize("amplitude", [0.001, 0.01, 0.1, 0.9])
def test_mulaw_error_stays_within_half_a_level(amplitude):
    x = tone(440, RATE, 0.25, amplitude)
    error = np.abs(mulaw.decode(mulaw.encode(x)) - x)
    # Half a level in the companded domain is 1/255; dx/dy = ln(1+mu)/mu * (1 + mu|x|) grows with
    # |x|, so the error is at most that derivative at the larger of |x| and its reconstruction.
    bound = np.log1p(255) / 255**2 * (1 + 255 * np.maximum(np.abs(x), np.abs(mulaw.decode(mulaw.encode(x)))))
    assert np.all(error <= bound * 1.0001 + 1e-7)
    # Relative to the signal the error is ~2 % at most, and quiet signals keep it far below the
    # 8-bit linear step (1/255) they would otherwise lose themselves in.
    assert error.max() <= 0.023 * amplitude + 1e-4
    if amplitude <= 0.01:
        assert error.max() < 0.1 / 255


def test_amplitude_label():
    assert mulaw.amplitude_label(0) == "-1.00"
    assert mulaw.amplitude_label(255) == "+1.00"
    assert mulaw.amplitude_label(mulaw.SILENCE) == "+0.0000862"  # plain decimals, never "+8.6e-05"
    assert mulaw.amplitude_label(mulaw.SILENCE - 1) == "-0.0000862"
    assert mulaw.amplitude_label(mulaw.SILENCE, 2) == "+0.000086"
    labels = [mulaw.amplitude_label(lv) for lv in range(256)]
    assert len(set(labels)) == 256 and not any("e" in t for t in labels)  # every level reads differently
    assert MuLawLevels().label(mulaw.SILENCE) == "level 128 (+0.000086)"


# --- WAV: reading and writing --------------------------------------------------------------------


def test_write_then_read_is_exact_for_16_bit_values(tmp_path):
    rng = np.random.default_rng(0)
    ints = rng.integers(-32768, 32768, size=3001)
    ints[:2] = [-32768, 32767]
    samples = (ints / 32768).astype(np.float32)
    write_wav(tmp_path / "a.wav", samples)
    with wave.open(str(tmp_path / "a.wav")) as check:  # what we write, the stdlib can read
        assert (check.getnchannels(), check.getsampwidth(), check.getframerate()) == (1, 2, 8000)
    back, notes = read_wav(tmp_path / "a.wav")
    assert back.dtype == np.float32 and notes == []
    assert np.array_equal(back, samples)


def test_write_clips_and_rate_parameter(tmp_path):
    write_wav(tmp_path / "loud.wav", [2.0, -2.0, 0.5], rate=16000)
    back, notes = read_wav(tmp_path / "loud.wav")
    assert notes == ["resampled from 16000 Hz to 8000 Hz"]
    with wave.open(str(tmp_path / "loud.wav")) as check:
        assert check.getframerate() == 16000
        assert np.frombuffer(check.readframes(3), "<i2").tolist() == [32767, -32768, 16384]


def test_stereo_float_44100_becomes_8k_mono_with_notes(tmp_path):
    left = tone(440, 44100, 0.5, 0.8)
    right = np.zeros_like(left)
    stereo = np.stack([left, right], axis=1).reshape(-1)
    (tmp_path / "s.wav").write_bytes(riff(3, 2, 44100, 32, encode_samples(stereo, 3, 32)))
    mono, notes = read_wav(tmp_path / "s.wav")
    assert notes == ["stereo mixed to mono", "resampled from 44100 Hz to 8000 Hz"]
    assert mono.dtype == np.float32 and len(mono) == 4000  # still 0.5 s
    middle = mono[500:-500]
    assert peak_hz(middle) == pytest.approx(440, abs=RATE / len(middle))
    assert rms(middle) == pytest.approx(0.4 / np.sqrt(2), rel=0.01)


FORMATS = [  # (tag, bits, extensible, tolerance: the format's step, or float32's 6e-8 for finer ones)
    (1, 8, False, 1 / 128), (1, 16, False, 2**-15), (1, 24, False, 2**-23), (1, 32, False, 1e-7),
    (3, 32, False, 1e-7), (3, 64, False, 1e-7),
    (1, 16, True, 2**-15), (1, 24, True, 2**-23), (3, 32, True, 1e-7),
]


@pytest.mark.parametrize("tag, bits, extensible, tolerance", FORMATS)
def test_every_supported_sample_format_decodes_to_the_same_signal(tmp_path, tag, bits, extensible, tolerance):
    x = tone(300, RATE, 0.1, 0.9)
    x[:4] = [-1.0, 0.0, 0.99, -0.5]
    path = tmp_path / "f.wav"
    path.write_bytes(riff(tag, 1, RATE, bits, encode_samples(x, tag, bits), extensible=extensible))
    back, notes = read_wav(path)
    assert notes == []
    assert np.max(np.abs(back - x)) <= tolerance


def test_three_channels_are_averaged(tmp_path):
    frames = np.array([[0.3, 0.6, -0.3], [0.9, -0.9, 0.3]])
    path = tmp_path / "c.wav"
    path.write_bytes(riff(1, 3, RATE, 16, encode_samples(frames.reshape(-1), 1, 16)))
    mono, notes = read_wav(path)
    assert notes == ["3 channels mixed to mono"]
    assert np.allclose(mono, [0.2, 0.1], atol=1e-4)


def test_unknown_chunks_are_skipped_and_cut_data_is_kept(tmp_path):
    x = tone(500, RATE, 0.05)
    data = riff(1, 1, RATE, 16, encode_samples(x, 1, 16), before_data=chunk(b"LIST", b"odd"))
    (tmp_path / "l.wav").write_bytes(data)
    assert np.allclose(read_wav(tmp_path / "l.wav")[0], x, atol=2**-15)
    (tmp_path / "cut.wav").write_bytes(data[:-101])  # a recorder that died: the size says more
    back, notes = read_wav(tmp_path / "cut.wav")
    assert len(back) == len(x) - 51 and "cut short" in " ".join(notes)


def test_float_overshoot_and_nan_are_cleaned(tmp_path):
    x = np.array([0.5, 1.5, np.nan, -np.inf, -0.25])
    (tmp_path / "n.wav").write_bytes(riff(3, 1, RATE, 32, encode_samples(x, 3, 32)))
    back, notes = read_wav(tmp_path / "n.wav")
    assert back.tolist() == [0.5, 1.0, 0.0, 0.0, -0.25]
    assert notes == ["2 invalid (NaN/inf) samples set to 0", "1 samples beyond full scale clipped"]


# --- resampling ----------------------------------------------------------------------------------


def test_resampled_1khz_tone_keeps_its_frequency_and_level(tmp_path):
    write_wav(tmp_path / "t.wav", tone(1000, 48000, 1.0), rate=48000)
    y, notes = read_wav(tmp_path / "t.wav")
    assert notes == ["resampled from 48000 Hz to 8000 Hz"] and len(y) == 8000
    middle = y[1000:-1000]
    assert peak_hz(middle) == pytest.approx(1000, abs=2)
    assert rms(middle) == pytest.approx(0.5 / np.sqrt(2), rel=0.005)


def test_tone_above_the_8k_nyquist_is_removed_not_aliased(tmp_path):
    x = tone(6000, 48000, 1.0)
    write_wav(tmp_path / "hi.wav", x, rate=48000)
    y, _ = read_wav(tmp_path / "hi.wav")
    naive = x[::6]  # decimation without a low-pass folds 6 kHz onto 2 kHz at full level
    assert peak_hz(naive[1000:-1000]) == pytest.approx(2000, abs=2) and rms(naive) > 0.3
    assert rms(y[1000:-1000]) < 1e-3 * rms(x)  # at least 60 dB down (16-bit noise floor aside)


@pytest.mark.parametrize("rate_in", [4000, 11025, 22050, 44100, 96000, 44099])
def test_resample_lengths_and_passband(rate_in):
    x = tone(700, rate_in, 0.5)
    y = resample(x, rate_in, RATE)
    assert len(y) == round(len(x) * RATE / rate_in)
    assert rms(y[800:-800]) == pytest.approx(0.5 / np.sqrt(2), rel=0.005)


# --- long files: read in blocks, with progress and cancel -----------------------------------------


def resample_whole(x: np.ndarray, rate_in: int) -> np.ndarray:
    """The conversion done on the whole signal at once, as read_wav did before it read in blocks."""
    return np.clip(resample(x, rate_in, RATE), -1, 1).astype(np.float32)


@pytest.mark.parametrize("rate, channels", [(44100, 2), (48000, 1), (44099, 1), (RATE, 2)])
def test_reading_in_blocks_gives_the_conversion_of_the_whole_signal(monkeypatch, rate, channels):
    import arplayground.audio.wav as wav_module

    rng = np.random.default_rng(rate)
    x = rng.uniform(-0.9, 0.9, (rate // 2, channels))  # half a second of noise: every sample matters
    content = riff(1, channels, rate, 16, encode_samples(x.reshape(-1), 1, 16))
    ints = np.frombuffer(content[-x.size * 2 :], "<i2").reshape(-1, channels)
    expected = resample_whole((ints / 32768.0).mean(axis=1), rate) if rate != RATE else \
        (ints / 32768.0).mean(axis=1).astype(np.float32)
    for block_bytes in (1 << 20, 4096, 6 * channels, 2):  # one block, many, a few frames, one frame each
        monkeypatch.setattr(wav_module, "_BLOCK_BYTES", block_bytes)
        samples, _ = parse_wav(content, "n.wav")
        np.testing.assert_allclose(samples, expected, rtol=0, atol=1e-7)


def test_progress_is_reported_per_block_and_cancel_stops_the_reading(monkeypatch):
    import threading

    import arplayground.audio.wav as wav_module
    from arplayground.audio.wav import WavCancelled

    monkeypatch.setattr(wav_module, "_BLOCK_BYTES", 8000)  # 1 s of 44.1 kHz stereo is 44 blocks
    content = riff(1, 2, 44100, 16, encode_samples(tone(300, 44100, 2.0).repeat(2), 1, 16))
    seen = []
    parse_wav(content, "p.wav", progress=seen.append)
    assert len(seen) == -(-2 * 44100 * 4 // 8000) and seen == sorted(seen) and seen[-1] == 1.0
    cancel = threading.Event()

    def cancel_at_a_quarter(fraction):
        if fraction >= 0.25:
            cancel.set()

    with pytest.raises(WavCancelled):
        parse_wav(content, "p.wav", progress=cancel_at_a_quarter, cancel=cancel)
    cancel.set()
    with pytest.raises(WavCancelled):  # set before it starts: not a block is read
        parse_wav(content, "p.wav", cancel=cancel)


def test_reading_a_long_file_keeps_a_small_working_set(tmp_path):
    """A minute of 44.1 kHz stereo: 10.6 MB on disk, 1.9 MB as the 8 kHz result. Read whole in
    float64, the conversion peaked at 118 MB; block by block, at the result plus a block's work."""
    import tracemalloc

    path = tmp_path / "minute.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(2)
        f.setsampwidth(2)
        f.setframerate(44100)
        f.writeframes(np.random.default_rng(0).normal(0, 3000, (44100 * 60, 2)).astype("<i2").tobytes())
    tracemalloc.start()
    try:
        samples, notes = read_wav(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(samples) == 8000 * 60 and samples.dtype == np.float32
    assert peak < samples.nbytes + 24e6, f"peak {peak / 1e6:.0f} MB"


def test_sizes_are_checked_against_the_file_and_a_maximum_before_anything_is_allocated(tmp_path, monkeypatch):
    import arplayground.audio.wav as wav_module

    x = tone(440, RATE, 2.0)
    body = encode_samples(x, 1, 16)
    # A data chunk that claims 4 GB on a 32 kB file: only what is there is read (and said so).
    lying = bytearray(riff(1, 1, RATE, 16, body))
    lying[40:44] = struct.pack("<I", 0xFFFFFFF0)
    samples, notes = parse_wav(bytes(lying), "lie.wav")
    assert len(samples) == len(x) and notes == ["the file is cut short; read the audio that is there"]
    # Longer than the maximum: refused with the reason, before the result is allocated.
    monkeypatch.setattr(wav_module, "MAX_SECONDS", 1)
    allocations = []
    real_empty = np.empty
    monkeypatch.setattr(np, "empty", lambda *a, **k: (allocations.append(a), real_empty(*a, **k))[1])
    (tmp_path / "long.wav").write_bytes(riff(1, 1, RATE, 16, body))
    with pytest.raises(WavError, match=r"long.wav is 2.0 s long; at most 1.0 s can be opened \(cut it shorter"):
        read_wav(tmp_path / "long.wav")
    assert allocations == []


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_a_device_file_is_refused_not_read_forever():
    with pytest.raises(WavError, match="zero is not a regular file"):
        read_wav("/dev/zero")


# --- refusals ------------------------------------------------------------------------------------


def valid_wav() -> bytes:
    return riff(1, 1, RATE, 16, encode_samples(tone(440, RATE, 0.01), 1, 16))


@pytest.mark.parametrize("content, expected", [
    (b"", "is empty"),
    (b"Hello, this is a text file and not audio.\n" * 3, "not a WAV file"),
    (valid_wav()[:10], "truncated header"),
    (valid_wav()[:30], "truncated header"),
    (valid_wav()[:12], "truncated header"),
    (riff(0x55, 1, RATE, 16, b"\x00" * 64), "unsupported encoding: compressed format 0x0055 (MP3)"),
    (riff(0x11, 1, RATE, 4, b"\x00" * 64, extensible=True), "compressed format 0x0011 (IMA ADPCM)"),
    (riff(1, 1, RATE, 12, b"\x00" * 64), "12-bit PCM"),
    (riff(1, 1, RATE, 16, b""), "no audio samples"),
    (riff(1, 1, RATE, 16, b"\x01"), "no audio samples"),
    (b"ID3\x04\x00" + b"\x00" * 100, "is an MP3 file"),
    (riff(1, 1, 0, 16, b"\x00" * 64), "unsupported sample rate 0 Hz"),
])
def test_unreadable_files_raise_wav_error_with_a_clear_message(tmp_path, content, expected):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(WavError, match=expected.replace("(", r"\(").replace(")", r"\)")) as info:
        read_wav(path)
    assert str(info.value).startswith("bad.wav")
    assert isinstance(info.value, ValueError)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(WavError, match="file not found"):
        read_wav(tmp_path / "nope.wav")
    with pytest.raises(WavError, match="is a folder"):
        read_wav(tmp_path)


def test_garbage_bytes_never_crash():
    """Every prefix and many random corruptions of a valid file: a WavError or valid audio, nothing else."""
    good = valid_wav()
    rng = np.random.default_rng(1)
    variants = [good[:n] for n in range(len(good))]
    for _ in range(300):
        corrupt = bytearray(good)
        spots = rng.integers(0, 60, size=rng.integers(1, 4))  # mostly the header, where it hurts
        corrupt[int(spots[0]) : int(spots[0]) + 1] = b""  # sometimes shift everything by a byte
        for spot in spots[1:]:
            corrupt[int(spot) % len(corrupt)] = int(rng.integers(0, 256))
        variants.append(bytes(corrupt))
    variants += [rng.bytes(200), b"RIFF\xff\xff\xff\xffWAVE" + rng.bytes(100)]
    for content in variants:
        try:
            samples, notes = parse_wav(content, "g.wav")  # bytes: creating 500 files is slow here
        except WavError as err:
            assert str(err)
        else:
            assert samples.dtype == np.float32 and samples.ndim == 1 and len(samples) > 0
            assert np.all(np.abs(samples) <= 1.0) and isinstance(notes, list)


def test_audio_package_imports_neither_qt_nor_torch():
    code = (
        "import sys\n"
        "import arplayground.audio, arplayground.audio.wav, arplayground.audio.playback\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'shiboken6', 'pyqtgraph', 'superqt', 'torch', 'sounddevice'))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"arplayground.audio imported {result.stdout} {result.stderr}"
