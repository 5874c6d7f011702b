"""Sampling: guidance, temperature, top-k, top-p and greedy, keeping every distribution along the way.

Everything works in log space (float64), so temperature 1e-6 is greedy and 100 is near uniform,
never NaN. The draw is by inverse CDF from one uniform number u in [0, 1): the same u and the same
distribution always give the same value, which is what makes seeded runs, rewinds and A/B
comparisons reproducible step for step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

# Below this temperature sampling is greedy: logits / T would overflow float64 long before
# T reaches 0, and no distinguishable distribution lies between.
GREEDY_BELOW = 1e-4
TEMPERATURE_MAX = 2.0
GUIDANCE_MAX = 4.0


@dataclass(frozen=True)
class SamplerSettings:
    """Immutable, so the GUI can hand a fresh snapshot to the worker at any moment."""

    temperature: float = 1.0  # 0 (greedy) .. TEMPERATURE_MAX
    top_k: int = 0  # keep the k most likely values; 0 = off
    top_p: float = 1.0  # keep the smallest set whose probability reaches p; 1 = off
    # Classifier-free guidance (Ho & Salimans 2022) for a model with a condition (the digit):
    # logits = unconditional + guidance * (conditional - unconditional), before the filters above.
    # 1 = off (the model's own distribution); 0 = ignore the digit; > 1 = lean harder on it.
    guidance: float = 1.0

    def clamped(self, vocab_size: int) -> "SamplerSettings":
        """The same settings forced into their valid ranges (the GUI shows the clamped values)."""
        t = float(self.temperature)
        t = 0.0 if not math.isfinite(t) else min(max(t, 0.0), TEMPERATURE_MAX)
        k = min(max(int(self.top_k), 0), vocab_size)
        p = float(self.top_p)
        p = 1.0 if not math.isfinite(p) else min(max(p, 0.0), 1.0)
        g = float(self.guidance)
        g = 1.0 if not math.isfinite(g) else min(max(g, 0.0), GUIDANCE_MAX)
        fields = (self.temperature, self.top_k, self.top_p, self.guidance)
        if (t, k, p, g) == fields and tuple(map(type, fields)) == (float, int, float, float):
            return self  # already in range (and of the types it would get): called twice a step, no new object needed
        return replace(self, temperature=t, top_k=k, top_p=p, guidance=g)

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW

    @property
    def guided(self) -> bool:
        return self.guidance != 1.0

    def to_dict(self) -> dict:
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p, "guidance": self.guidance}

    @staticmethod
    def from_dict(d) -> "SamplerSettings":
        """Settings read from a file (a trace): exactly to_dict()'s keys, finite numbers in range;
        ValueError with the reason otherwise (a replay must not quietly clamp what it replays)."""
        if not isinstance(d, dict) or set(d) != {"temperature", "top_k", "top_p", "guidance"}:
            raise ValueError("sampler settings must hold exactly temperature, top_k, top_p and guidance")
        ranges = {"temperature": (0.0, TEMPERATURE_MAX), "top_p": (0.0, 1.0), "guidance": (0.0, GUIDANCE_MAX)}
        for key, (low, high) in ranges.items():
            x = d[key]
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not low <= x <= high:  # NaN fails too
                raise ValueError(f"sampler setting {key} must be a number from {low:g} to {high:g}, not {x!r}")
        k = d["top_k"]
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 2**31 - 1:
            raise ValueError(f"sampler setting top_k must be a whole number from 0, not {k!r}")
        return SamplerSettings(float(d["temperature"]), k, float(d["top_p"]), float(d["guidance"]))


@dataclass(frozen=True)
class Sample:
    raw_probs: np.ndarray  # softmax of the model's logits (temperature 1, no filter)
    probs: np.ndarray  # the distribution actually sampled from
    value: int  # the drawn value
    u: float  # the uniform number that drew it
    unconditional_probs: np.ndarray | None = None  # the model's distribution without its condition, when guided


def log_softmax(x: np.ndarray) -> np.ndarray:
    # Array methods, not np.max / np.sum: the same arithmetic without numpy's Python-level
    # wrapper, which cost more than the arithmetic on 256 values (this runs for every step).
    x = np.asarray(x, dtype=np.float64)
    shifted = x - x.max()
    return shifted - math.log(np.exp(shifted).sum())


def filtered_log_probs(logits: np.ndarray, settings: SamplerSettings) -> np.ndarray:
    """Log-probabilities after temperature, then top-k, then top-p (the usual order). -inf = removed."""
    logits = np.asarray(logits, dtype=np.float64)
    if settings.greedy:
        out = np.full_like(logits, -np.inf)
        out[int(np.argmax(logits))] = 0.0
        return out
    logp = log_softmax(logits / settings.temperature)
    if 0 < settings.top_k < len(logp):
        # Stable sort by descending probability: ties keep the lower value, deterministically.
        order = np.argsort(-logp, kind="stable")
        logp[order[settings.top_k :]] = -np.inf
        logp = log_softmax(logp)
    if settings.top_p < 1.0:
        order = np.argsort(-logp, kind="stable")
        cumulative = np.cumsum(np.exp(logp[order]))
        # Keep every value until the kept mass reaches p, and always the most likely one.
        keep = int(np.searchsorted(cumulative, settings.top_p, side="left")) + 1
        logp[order[keep:]] = -np.inf
        logp = log_softmax(logp)
    return logp


def guided_logits(logits: np.ndarray, unconditional: np.ndarray | None, settings: SamplerSettings) -> np.ndarray:
    """What the filters start from: the logits, pushed away from the unconditional ones by the
    guidance (float64, in this order of operations, as the compiled kernels do it). Unchanged when
    guidance is off or there is no unconditional distribution (no condition to guide by)."""
    logits = np.asarray(logits, dtype=np.float64)
    if not settings.guided or unconditional is None:
        return logits
    unconditional = np.asarray(unconditional, dtype=np.float64)
    return unconditional + settings.guidance * (logits - unconditional)


@dataclass(frozen=True)
class Stages:
    """One distribution through the sampler, filter by filter (for the lab's panel)."""

    settings: "SamplerSettings"  # clamped, as applied
    raw: np.ndarray  # the model's own distribution
    guided: np.ndarray | None  # after guidance (None when the step has no unconditional distribution)
    tempered: np.ndarray  # after guidance and temperature
    top_k: np.ndarray  # after temperature and top-k
    final: np.ndarray  # after top-p too: what is sampled from
    kept: int  # values left with non-zero probability
    would_draw: int  # the value this step's uniform number picks from `final`


def stages(logits: np.ndarray, settings: SamplerSettings, u: float, unconditional: np.ndarray | None = None) -> Stages:
    """The sampler's filters one at a time, by the same rules as sample(); final and would_draw are
    exactly what sample() gives with these settings, u and unconditional logits."""
    settings = settings.clamped(len(logits))
    shaped = guided_logits(logits, unconditional, settings)
    guided = np.exp(log_softmax(shaped)) if unconditional is not None else None
    tempered = np.exp(filtered_log_probs(shaped, replace(settings, top_k=0, top_p=1.0)))
    top_k = np.exp(filtered_log_probs(shaped, replace(settings, top_p=1.0)))
    final = np.exp(filtered_log_probs(shaped, settings))
    return Stages(settings, np.exp(log_softmax(logits)), guided, tempered, top_k, final, int(np.count_nonzero(final)), draw(final, u))


def sampled_from(raw: np.ndarray, unconditional: np.ndarray | None, settings: SamplerSettings, kept: int) -> np.ndarray:
    """The distribution a step was drawn from, recomputed from its stored full distributions (the
    trace keeps them in float16), its settings and its kept count: guidance and temperature as
    sample() applies them, then the `kept` most likely values (the set top-k and top-p left, whose
    size the record holds exactly, so a rounded probability near a filter's edge cannot change it),
    renormalised. Within float16's rounding of what was sampled; the drawn value's own sampled
    probability is in the record exactly."""
    settings = settings.clamped(len(raw))
    as_logits = lambda p: np.log(np.maximum(np.asarray(p, np.float64), 1e-300))  # noqa: E731
    shaped = guided_logits(as_logits(raw), None if unconditional is None else as_logits(unconditional), settings)
    if settings.greedy:
        out = np.zeros(len(shaped))
        out[int(np.argmax(shaped))] = 1.0
        return out
    logp = log_softmax(shaped / settings.temperature)
    if 0 < kept < len(logp):
        logp[np.argsort(-logp, kind="stable")[kept:]] = -np.inf
        logp = log_softmax(logp)
    return np.exp(logp)


def draw(probs: np.ndarray, u: float) -> int:
    """Inverse-CDF draw: the first value whose cumulative probability exceeds u."""
    cumulative = probs.cumsum()
    value = int(cumulative.searchsorted(u * cumulative[-1], side="right"))
    value = min(value, len(probs) - 1)
    while probs[value] == 0.0:  # float round-off can land on a removed value at the very top
        value -= 1
    return value


def sample(logits: np.ndarray, settings: SamplerSettings, u: float, unconditional: np.ndarray | None = None) -> Sample:
    """Draw from the logits reshaped by settings. unconditional: the model's logits without its
    condition, which guidance needs (None: guidance has nothing to act on and is skipped)."""
    settings = settings.clamped(len(logits))
    raw = np.exp(log_softmax(logits))
    guiding = settings.guided and unconditional is not None
    if not guiding and settings.temperature == 1.0 and settings.top_k in (0, len(raw)) and settings.top_p >= 1.0:
        probs = raw  # nothing to reshape: filtered_log_probs would compute the same numbers again
    else:
        probs = np.exp(filtered_log_probs(guided_logits(logits, unconditional, settings), settings))
    unconditional_probs = np.exp(log_softmax(unconditional)) if guiding else None
    return Sample(raw_probs=raw, probs=probs, value=draw(probs, u), u=float(u), unconditional_probs=unconditional_probs)


_MASK64 = 0xFFFFFFFFFFFFFFFF
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's increment


def _mix64(z):
    """SplitMix64's finaliser; works on Python ints (masked) and on numpy uint64 arrays (wrapping)."""
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = z & _MASK64 if isinstance(z, int) else z
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    z = z & _MASK64 if isinstance(z, int) else z
    return z ^ (z >> 31)


def step_uniform(seed: int, step: int) -> float:
    """The uniform number of step `step` in a run seeded with `seed`.

    Derived from (seed, step) alone, not from a stream, so a run rewound to step n and resumed,
    or a second run with other settings, meets exactly the same random numbers. It is element
    `step` of a SplitMix64 sequence whose start depends on the seed: a counter hash, so a chunk
    of thousands of steps (audio) gets its numbers in one vectorised call, step_uniforms().
    """
    start = _mix64((seed & _MASK64) * _GOLDEN & _MASK64)
    return (_mix64((start + (step + 1) * _GOLDEN) & _MASK64) >> 11) * 2.0**-53


def step_uniforms(seed: int, first_step: int, n: int) -> np.ndarray:
    """step_uniform(seed, first_step + i) for i in range(n), bit for bit, as one float64 array."""
    start = np.uint64(_mix64((seed & _MASK64) * _GOLDEN & _MASK64))
    steps = np.arange(first_step + 1, first_step + n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = _mix64(start + steps * np.uint64(_GOLDEN))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def entropy(probs: np.ndarray) -> float:
    """Shannon entropy in nats."""
    p = probs[probs > 0]
    return float(-(p * np.log(p)).sum())
