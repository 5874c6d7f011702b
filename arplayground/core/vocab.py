"""Vocabularies: how a model's integer values map to what a person sees.

Each labels its values in the ways the GUI shows them: label(v), the general name (messages, the
what-if's ticks); bar_label(v), short, under a candidate's bar; describe(v), what a step drew, in
the distribution panel's title; tick_label(v), on the axis of a plot over every level; and `shaded`,
whether a value is a shade of grey (its bar is drawn in it).
"""

from __future__ import annotations

from arplayground.core.mulaw import SILENCE, amplitude_label

# Whitespace and control characters drawn visibly, so a bar labelled ' ' is never blank.
VISIBLE = {" ": "␣", "\n": "⏎", "\t": "⇥", "\r": "␍"}


class UnknownSymbols(ValueError):
    """Raised by encode() with the characters the vocabulary does not contain."""

    def __init__(self, symbols: list[str]):
        self.symbols = symbols
        shown = ", ".join(repr(s) for s in symbols)
        super().__init__(f"not in the model's vocabulary: {shown}")


class Vocabulary:
    """A character vocabulary: value i is chars[i]."""

    def __init__(self, chars: list[str]):
        assert len(set(chars)) == len(chars), "duplicate characters in vocabulary"
        self.chars = list(chars)
        self._index = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def default_start(self) -> int:
        """The value a prompt-less run starts from: a newline where there is one (a new speech)."""
        return self._index.get("\n", 0)

    shaded = False

    def label(self, value: int) -> str:
        c = self.chars[value]
        return VISIBLE.get(c, c)

    bar_label = describe = tick_label = label

    def text(self, value: int) -> str:
        return self.chars[value]

    def unknown(self, text: str) -> list[str]:
        """The distinct characters of text that are not in the vocabulary, in order of appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index))

    def encode(self, text: str) -> list[int]:
        missing = self.unknown(text)
        if missing:
            raise UnknownSymbols(missing)
        return [self._index[c] for c in text]

    def decode(self, values) -> str:
        return "".join(self.chars[v] for v in values)


class GreyLevels:
    """The 256 grey levels of an 8-bit image: value v is brightness v (0 black, 255 white)."""

    def __init__(self, levels: int = 256):
        self.levels = levels

    def __len__(self) -> int:
        return self.levels

    shaded = True  # value v is drawn in grey v

    def label(self, value: int) -> str:
        return str(int(value))

    bar_label = tick_label = label

    def describe(self, value: int) -> str:
        return f"grey level {int(value)}"


class MuLawLevels:
    """The 256 mu-law levels of 8 kHz audio, labelled by number and the amplitude each stands for."""

    def __len__(self) -> int:
        return 256

    shaded = False

    def label(self, value: int) -> str:
        return f"level {int(value)} ({amplitude_label(int(value), 2)})"

    def bar_label(self, value: int) -> str:
        """The level's number: short, and distinct where amplitudes near silence differ only in
        their fourth significant digit."""
        return str(int(value))

    def describe(self, value: int) -> str:
        return f"level {int(value)} (amplitude {amplitude_label(int(value))})"

    def tick_label(self, value: int) -> str:
        """The amplitude, two significant digits in plain decimals; the level silence encodes to reads "0"."""
        return "0" if int(value) == SILENCE else amplitude_label(int(value), 2)
