"""Mu-law companding between amplitudes in [-1, 1] and the 256 levels the WaveNet predicts.

The audio model's vocabulary, as core.vocab holds the text and image ones: what a value means
(MuLawLevels labels it by amplitude), the level silence takes (the WaveNet's start), and the rate
the levels run at. Pure numpy, so core, nets and audio (WAV files, playback) can all use it.

Mu-law spends its levels logarithmically: quiet sounds get fine steps, loud ones coarse steps,
so the quantisation error stays roughly proportional to the amplitude (about 2 % near full
scale, about 1e-4 near silence) instead of drowning quiet speech in noise as 8-bit linear would.
"""

from __future__ import annotations

import math

import numpy as np

MU = 255
LEVELS = MU + 1
SAMPLE_RATE = 8000

_LOG1P_MU = float(np.log1p(MU))


def encode(x) -> np.ndarray:
    """Amplitudes (clipped to [-1, 1]) to levels 0..255; 0 is the lowest amplitude, 255 the highest."""
    x = np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0)
    y = np.sign(x) * np.log1p(MU * np.abs(x)) / _LOG1P_MU  # companded, still in [-1, 1]
    # floor(v + 0.5) rounds halves up, so silence (v = 127.5 exactly) lands on 128 on every platform.
    return np.floor((y + 1.0) / 2.0 * MU + 0.5).astype(np.uint8)


def decode(levels) -> np.ndarray:
    """Levels 0..255 back to float32 amplitudes in [-1, 1] (the value at each level's centre)."""
    y = np.asarray(levels, dtype=np.float64) / MU * 2.0 - 1.0
    return (np.sign(y) * np.expm1(np.abs(y) * _LOG1P_MU) / MU).astype(np.float32)


# The level a silent sample takes (128); it decodes to +8.6e-5, not exactly 0, since no level
# centre sits at 0 with an even number of levels.
SILENCE = int(encode(0.0))


def amplitude_label(level: int, digits: int = 3) -> str:
    """A level's amplitude, signed, with `digits` significant digits in plain decimals, e.g.
    "+0.0310", "-0.000086": the levels nearest silence are ~1e-4 apart, and a fixed three decimals
    would print them all as "+0.000" (scientific notation, "+8.6e-05", reads badly beside them)."""
    amplitude = float(decode(int(level)))
    decimals = max(1, digits - 1 - math.floor(math.log10(abs(amplitude))))  # decode() is never exactly 0
    return f"{amplitude:+.{decimals}f}"
