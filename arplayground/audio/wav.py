"""WAV files in and out: anything a user is likely to drop in becomes 8 kHz mono float32.

The RIFF parsing is our own because the stdlib `wave` module refuses IEEE float and most
WAVE_FORMAT_EXTENSIBLE files, which is what DAWs and many recorders write. Every problem a file
can have ends in WavError with a message that says what is wrong and what to do, never a crash.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

import numpy as np

from arplayground.audio.mulaw import SAMPLE_RATE

FORMAT_PCM = 0x0001
FORMAT_IEEE_FLOAT = 0x0003
FORMAT_EXTENSIBLE = 0xFFFE

# The 14 bytes after the format tag in every KSDATAFORMAT_SUBTYPE_* GUID that maps to a plain tag.
_SUBTYPE_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"

# Tags seen in the wild, so a refusal can name the encoding rather than print a bare number.
_COMPRESSED_NAMES = {
    0x0002: "Microsoft ADPCM", 0x0006: "A-law", 0x0007: "mu-law", 0x0011: "IMA ADPCM",
    0x0016: "ITU G.723 ADPCM", 0x0031: "GSM 6.10", 0x0040: "G.721 ADPCM", 0x0050: "MPEG",
    0x0055: "MP3", 0x00FF: "AAC", 0x0160: "WMA v1", 0x0161: "WMA", 0x0162: "WMA Pro",
    0x0163: "WMA Lossless", 0x1610: "AAC (HE)", 0x2000: "AC-3", 0xF1AC: "FLAC",
}

# Signatures of other audio containers people rename or confuse with WAV.
_OTHER_FORMATS = [
    (b"ID3", "an MP3 file"), (b"\xff\xfb", "an MP3 file"), (b"\xff\xf3", "an MP3 file"),
    (b"\xff\xf2", "an MP3 file"), (b"OggS", "an Ogg (Vorbis/Opus) file"), (b"fLaC", "a FLAC file"),
    (b"FORM", "an AIFF file"), (b"RIFX", "a big-endian WAV (RIFX) file"),
    (b"RF64", "an RF64 (over 4 GB) WAV file"),
]

_CONVERT_HINT = "convert it to a 16-bit PCM WAV (e.g. `ffmpeg -i in -ac 1 -ar 8000 out.wav`)"

# Rates outside this range are far more likely a corrupt header than real audio.
MIN_RATE = 1000
MAX_RATE = 768_000


class WavError(ValueError):
    """A WAV file that cannot be read; str() is a sentence a user can act on."""


def read_wav(path) -> tuple[np.ndarray, list[str]]:
    """The file's audio as float32 mono in [-1, 1] at 8000 Hz, and notes on what was converted."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise WavError(f"{path.name}: file not found ({path})") from None
    except IsADirectoryError:
        raise WavError(f"{path.name} is a folder, not a WAV file") from None
    except PermissionError:
        raise WavError(f"{path.name}: permission denied; check the file's read permissions") from None
    except OSError as err:
        raise WavError(f"{path.name}: cannot read the file ({err.strerror or err})") from None
    return parse_wav(data, path.name)


def parse_wav(data: bytes, name: str = "the audio") -> tuple[np.ndarray, list[str]]:
    """read_wav for bytes already in memory; `name` starts the error messages."""
    try:
        return _parse(bytes(data), name)
    except WavError:
        raise
    except Exception as err:  # noqa: BLE001 - a parser bug must still reach the user as a WavError
        raise WavError(f"{name}: not a readable WAV file ({type(err).__name__}: {err})") from err


def write_wav(path, samples, rate: int = SAMPLE_RATE) -> None:
    """Mono 16-bit PCM; samples are clipped to [-1, 1] and scaled by 32768 (as read_wav divides)."""
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    pcm = np.clip(np.rint(samples * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(rate))
        out.writeframes(pcm.tobytes())


def _parse(data: bytes, name: str) -> tuple[np.ndarray, list[str]]:
    if len(data) == 0:
        raise WavError(f"{name} is empty (0 bytes)")
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        for magic, what in _OTHER_FORMATS:
            if data.startswith(magic):
                raise WavError(f"{name} is {what}, not a WAV file; {_CONVERT_HINT}")
        if data.startswith(b"RIFF") and len(data) < 12:
            raise WavError(f"{name}: truncated header ({len(data)} bytes); the file is cut short")
        raise WavError(f"{name} is not a WAV file (no RIFF/WAVE header)")

    notes: list[str] = []
    fmt, audio = _find_chunks(data, name, notes)
    tag, channels, rate, block_align, bits = _parse_fmt(fmt, name)

    width = bits // 8
    if block_align != width * channels:
        # A handful of writers get block_align wrong; the sample format itself is what matters.
        block_align = width * channels
    frames = len(audio) // block_align
    if frames == 0:
        raise WavError(f"{name} has no audio samples (the data chunk is empty)")
    if len(audio) % block_align:
        notes.append("ignored an incomplete last frame")

    samples = _decode_samples(audio[: frames * block_align], tag, width).reshape(frames, channels)
    samples = _sanitise(samples, notes)
    if channels > 1:
        samples = samples.mean(axis=1)
        notes.append("stereo mixed to mono" if channels == 2 else f"{channels} channels mixed to mono")
    else:
        samples = samples[:, 0]
    if rate != SAMPLE_RATE:
        samples = resample(samples, rate, SAMPLE_RATE)
        notes.append(f"resampled from {rate} Hz to {SAMPLE_RATE} Hz")
    return np.clip(samples, -1.0, 1.0).astype(np.float32), notes


def _find_chunks(data: bytes, name: str, notes: list[str]) -> tuple[bytes, bytes]:
    """The 'fmt ' and 'data' chunk bodies; other chunks (LIST, fact, cue ...) are skipped."""
    fmt = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        (size,) = struct.unpack_from("<I", data, pos + 4)
        body = pos + 8
        if chunk_id == b"fmt ":
            fmt = data[body : body + size]
            if len(fmt) < size:
                raise WavError(f"{name}: truncated header (the format chunk is cut short)")
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError(f"{name}: the audio data comes before its format chunk; the file is damaged")
            audio = data[body : body + size]
            if len(audio) < size:
                # Recorders that crash or stream (size 0 or 0xFFFFFFFF) leave this; the audio that is
                # there is still good, so keep it and say so.
                notes.append("the file is cut short; read the audio that is there")
            return fmt, audio
        pos = body + size + (size & 1)  # chunks are padded to an even length
    if fmt is None:
        raise WavError(f"{name}: truncated header (no format chunk); the file is damaged or cut short")
    raise WavError(f"{name} has no audio samples (no data chunk)")


def _parse_fmt(fmt: bytes, name: str) -> tuple[int, int, int, int, int]:
    if len(fmt) < 16:
        raise WavError(f"{name}: truncated header (the format chunk has {len(fmt)} of 16 bytes)")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == FORMAT_EXTENSIBLE:
        if len(fmt) < 40:
            raise WavError(f"{name}: truncated header (the extensible format chunk has {len(fmt)} of 40 bytes)")
        guid = fmt[24:40]
        if guid[2:] != _SUBTYPE_GUID_TAIL:
            raise WavError(f"{name}: unsupported encoding (extensible subformat {guid.hex()}); {_CONVERT_HINT}")
        (tag,) = struct.unpack_from("<H", guid)

    if tag not in (FORMAT_PCM, FORMAT_IEEE_FLOAT):
        what = _COMPRESSED_NAMES.get(tag, "unknown")
        raise WavError(f"{name}: unsupported encoding: compressed format 0x{tag:04X} ({what}); {_CONVERT_HINT}")
    supported_bits = (8, 16, 24, 32) if tag == FORMAT_PCM else (32, 64)
    if bits not in supported_bits:
        kind = "PCM" if tag == FORMAT_PCM else "float"
        raise WavError(f"{name}: unsupported encoding: {bits}-bit {kind}; {_CONVERT_HINT}")
    if channels == 0:
        raise WavError(f"{name}: the header says 0 channels; the file is damaged")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise WavError(f"{name}: unsupported sample rate {rate} Hz (expected {MIN_RATE}..{MAX_RATE} Hz)")
    return tag, channels, rate, block_align, bits


def _decode_samples(raw: bytes, tag: int, width: int) -> np.ndarray:
    """Interleaved samples as float64, full scale at +-1."""
    if tag == FORMAT_IEEE_FLOAT:
        return np.frombuffer(raw, dtype="<f4" if width == 4 else "<f8").astype(np.float64)
    if width == 1:  # 8-bit WAV is the one unsigned format, centred on 128
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    if width == 3:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        value = (value << 8) >> 8  # sign-extend the 24-bit value through the int32's top byte
        return value / float(1 << 23)
    dtype = "<i2" if width == 2 else "<i4"
    return np.frombuffer(raw, dtype=dtype) / float(1 << (8 * width - 1))


def _sanitise(samples: np.ndarray, notes: list[str]) -> np.ndarray:
    """Float files may hold NaN/inf or overshoot full scale; neither may reach the model."""
    bad = ~np.isfinite(samples)
    if bad.any():
        samples = np.where(bad, 0.0, samples)
        notes.append(f"{int(bad.sum())} invalid (NaN/inf) samples set to 0")
    over = np.abs(samples) > 1.0
    if over.any():
        samples = np.clip(samples, -1.0, 1.0)
        notes.append(f"{int(over.sum())} samples beyond full scale clipped")
    return samples


# --- Resampling -------------------------------------------------------------------------------------
#
# Band-limited rational resampling: output sample n sits at input time t = n * down / up. It is a
# weighted sum of the input around t, the weights a Kaiser-windowed sinc low-pass whose cutoff is
# below the lower of the two Nyquist frequencies, so content the output cannot represent is
# removed before it could alias. t's fractional part takes only `up` distinct values (the
# polyphase phases), so for ordinary rate pairs (44100 -> 8000: 80 phases) the weights are one
# small table.

_STOPBAND_DB = 80.0
_PASSBAND_EDGE = 0.45  # fraction of the lower rate: 3600 Hz of the 8 kHz output is kept flat
_STOPBAND_EDGE = 0.50  # ... and from 4000 Hz on everything is attenuated by _STOPBAND_DB
_MAX_TABLE_PHASES = 2048  # odd rates (e.g. 44099 Hz) have up to 8000 phases: compute those directly
_CHUNK_WEIGHTS = 1 << 21  # output samples per chunk x taps, bounding memory to ~16 MB a chunk


def resample(x: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling of a 1-D signal; the result has round(len * rate_out / rate_in) samples."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if rate_in == rate_out or len(x) == 0:
        return x.copy()
    g = math.gcd(int(rate_in), int(rate_out))
    up, down = rate_out // g, rate_in // g
    n_out = (len(x) * up + down // 2) // down

    scale = min(1.0, rate_out / rate_in)  # kernel widths in input samples stretch when decimating
    cutoff = 0.5 * (_PASSBAND_EDGE + _STOPBAND_EDGE) * scale  # the -6 dB point, cycles/input sample
    transition = (_STOPBAND_EDGE - _PASSBAND_EDGE) * scale
    # Kaiser's design formulas: the window's beta sets the stopband depth, its length the transition.
    beta = 0.1102 * (_STOPBAND_DB - 8.7)
    half_width = (_STOPBAND_DB - 7.95) / (2.285 * 2.0 * math.pi * transition) / 2.0
    taps = 2 * math.ceil(half_width)
    offsets = np.arange(-taps // 2 + 1, taps // 2 + 1)  # input index minus floor(t)

    def kernel(frac: np.ndarray) -> np.ndarray:
        """Weights of the inputs at floor(t) + offsets, for each fractional position frac = t - floor(t)."""
        d = frac[:, None] - offsets[None, :]  # t minus each input's time
        window = np.i0(beta * np.sqrt(np.clip(1.0 - (d / half_width) ** 2, 0.0, None))) / np.i0(beta)
        w = 2.0 * cutoff * np.sinc(2.0 * cutoff * d) * window
        # Normalising each phase to unit DC gain removes the window's tiny per-phase gain ripple.
        return w / w.sum(axis=1, keepdims=True)

    table = kernel(np.arange(up) / up) if up <= _MAX_TABLE_PHASES else None
    pad = taps
    padded = np.concatenate([np.zeros(pad), x, np.zeros(pad)])
    out = np.empty(n_out)
    chunk = max(1, _CHUNK_WEIGHTS // taps)
    for start in range(0, n_out, chunk):
        n = np.arange(start, min(start + chunk, n_out), dtype=np.int64)
        base, phase = np.divmod(n * down, up)
        weights = table[phase] if table is not None else kernel(phase / up)
        out[start : start + len(n)] = np.einsum("ij,ij->i", weights, padded[base[:, None] + offsets + pad])
    return out
