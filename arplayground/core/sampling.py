"""Sampling: guidance, then the sampler chain (repetition penalty, temperature, top-k, typical-p,
top-p, min-p, top-n-sigma, in an order the user sets), keeping every distribution along the way.

Everything works in log space (float64), so temperature 1e-6 is greedy and 100 is near uniform,
never NaN. The draw is by inverse CDF from one uniform number u in [0, 1): the same u and the same
distribution always give the same value, which is what makes seeded runs, rewinds and A/B
comparisons reproducible step for step.

The chain (sampler_chain) is the one place the stages act: sample() draws from its last
distribution, and the lab's panel shows every distribution in it, so what is shown is what is
drawn. kernels/sampling.py repeats it stage for stage in compiled code for the chunk runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

# Below this temperature sampling is greedy: logits / T would overflow float64 long before
# T reaches 0, and no distinguishable distribution lies between.
GREEDY_BELOW = 1e-4
TEMPERATURE_MAX = 2.0
GUIDANCE_MAX = 4.0
TOP_N_SIGMA_MAX = 5.0
PENALTY_MAX = 3.0
SIGMA_SLACK = 1.0 + 1e-9  # top-n-sigma's cut, a hair below n sigma (see _apply)
WINDOW_MAX = 1024  # the repetition penalty's longest window (values back)
DEFAULT_WINDOW = 64

# The stages of the chain, in their default order: llama.cpp's (penalties first, then top-k,
# typical, top-p, min-p; top-n-sigma after them), except that temperature stays first among the
# rest, where this app has always applied it (top-p and typical then see the tempered
# distribution, as before: traces and tests made before the chain draw the same values).
STAGES = ("penalties", "temperature", "top_k", "typical_p", "top_p", "min_p", "top_n_sigma")
DEFAULT_ORDER = STAGES
STAGE_LABELS = {"penalties": "repetition penalty", "temperature": "temperature", "top_k": "top-k",
                "typical_p": "typical-p", "top_p": "top-p", "min_p": "min-p", "top_n_sigma": "top-n-sigma"}


def valid_order(order) -> tuple | None:
    """order as a tuple of stage names when it is a permutation of STAGES, else None."""
    if isinstance(order, str) or not isinstance(order, (list, tuple)):
        return None
    order = tuple(order)
    if len(order) != len(STAGES) or not all(isinstance(s, str) for s in order) or set(order) != set(STAGES):
        return None
    return order


def parse_order(text: str) -> tuple:
    """A command line's "a,b,c" as a stage order: every stage named once; stages left out keep
    their default places after the named ones. ValueError with the reason otherwise."""
    names = [s.strip().replace("-", "_") for s in text.split(",") if s.strip()]
    aliases = {"typical": "typical_p", "penalty": "penalties", "repetition_penalty": "penalties", "temp": "temperature"}
    names = [aliases.get(s, s) for s in names]
    unknown = [s for s in names if s not in STAGES]
    if unknown:
        raise ValueError(f"unknown sampler stage {unknown[0]!r}; the stages are {', '.join(STAGES)}")
    if len(set(names)) != len(names):
        raise ValueError("each sampler stage may be named once")
    return tuple(names) + tuple(s for s in DEFAULT_ORDER if s not in names)


def _number(x, off: float, low: float, high: float) -> float:
    x = float(x)
    return off if not math.isfinite(x) else min(max(x, low), high)


@dataclass(frozen=True)
class SamplerSettings:
    """Immutable, so the GUI can hand a fresh snapshot to the worker at any moment."""

    temperature: float = 1.0  # 0 (greedy) .. TEMPERATURE_MAX
    top_k: int = 0  # keep the k most likely values; 0 = off
    top_p: float = 1.0  # keep the smallest set whose probability reaches p; 1 = off
    # Classifier-free guidance (Ho & Salimans 2022) for a model with a condition (the digit):
    # logits = unconditional + guidance * (conditional - unconditional), before the chain below.
    # 1 = off (the model's own distribution); 0 = ignore the digit; > 1 = lean harder on it.
    guidance: float = 1.0
    min_p: float = 0.0  # keep the values at least min_p times as likely as the most likely; 0 = off
    typical_p: float = 1.0  # locally typical sampling (Meister et al. 2022); 1 = off
    top_n_sigma: float = 0.0  # keep logits within n standard deviations of the top (Tang et al. 2024); 0 = off
    # Text only (the per-step loop): a value seen in the last penalty_window values is made
    # repetition_penalty times less likely. 1 = off.
    repetition_penalty: float = 1.0
    penalty_window: int = DEFAULT_WINDOW
    order: tuple = field(default=DEFAULT_ORDER)  # the stages in the order they act

    def __post_init__(self):
        if isinstance(self.order, list):  # from a dict (a trace, to_dict()): hashable like the rest
            object.__setattr__(self, "order", tuple(self.order))

    def clamped(self, vocab_size: int) -> "SamplerSettings":
        """The same settings forced into their valid ranges (the GUI shows the clamped values):
        a non-finite number turns its stage off, an order that is not a permutation of STAGES
        becomes the default one. Remembered per vocabulary size: called twice a step, on the
        same immutable snapshot."""
        known = self.__dict__.get("_clamped")
        if known is not None and known[0] == vocab_size:
            return known[1]
        out = self._clamp(vocab_size)
        object.__setattr__(self, "_clamped", (vocab_size, out))  # not a field: equality and hash ignore it
        return out

    def _clamp(self, vocab_size: int) -> "SamplerSettings":
        t = _number(self.temperature, 0.0, 0.0, TEMPERATURE_MAX)
        k = min(max(int(self.top_k), 0), vocab_size)
        p = _number(self.top_p, 1.0, 0.0, 1.0)
        g = _number(self.guidance, 1.0, 0.0, GUIDANCE_MAX)
        min_p = _number(self.min_p, 0.0, 0.0, 1.0)
        typical = _number(self.typical_p, 1.0, 0.0, 1.0)
        sigma = _number(self.top_n_sigma, 0.0, 0.0, TOP_N_SIGMA_MAX)
        penalty = _number(self.repetition_penalty, 1.0, 1.0, PENALTY_MAX)
        window = min(max(int(self.penalty_window), 1), WINDOW_MAX)
        order = valid_order(self.order) or DEFAULT_ORDER
        values = (t, k, p, g, min_p, typical, sigma, penalty, window, order)
        fields = (self.temperature, self.top_k, self.top_p, self.guidance, self.min_p, self.typical_p,
                  self.top_n_sigma, self.repetition_penalty, self.penalty_window, self.order)
        if values == fields and tuple(map(type, fields)) == tuple(map(type, values)):
            return self  # already in range (and of the types it would get): called twice a step, no new object needed
        return replace(self, temperature=t, top_k=k, top_p=p, guidance=g, min_p=min_p, typical_p=typical,
                       top_n_sigma=sigma, repetition_penalty=penalty, penalty_window=window, order=order)

    @property
    def greedy(self) -> bool:
        return self.temperature < GREEDY_BELOW

    @property
    def guided(self) -> bool:
        return self.guidance != 1.0

    @property
    def penalised(self) -> bool:
        return self.repetition_penalty != 1.0

    def active(self, stage: str, vocab_size: int) -> bool:
        """Whether `stage` changes anything with these (clamped) settings; an inactive stage is
        skipped outright, so settings with the new stages off draw exactly as before them."""
        if stage == "temperature":
            return True  # T = 1 still divides by 1: the chain has always applied it
        if stage == "top_k":
            return 0 < self.top_k < vocab_size
        if stage == "top_p":
            return self.top_p < 1.0
        if stage == "typical_p":
            return self.typical_p < 1.0
        if stage == "min_p":
            return self.min_p > 0.0
        if stage == "top_n_sigma":
            return self.top_n_sigma > 0.0
        return self.penalised  # penalties

    def acting(self, vocab_size: int) -> tuple:
        """The stages of the order that are active() (remembered, like clamped())."""
        known = self.__dict__.get("_acting")
        if known is not None and known[0] == vocab_size:
            return known[1]
        out = tuple(s for s in self.order if self.active(s, vocab_size))
        object.__setattr__(self, "_acting", (vocab_size, out))  # not a field: equality and hash ignore it
        return out

    def to_dict(self) -> dict:
        return {"temperature": self.temperature, "top_k": self.top_k, "top_p": self.top_p, "guidance": self.guidance,
                "min_p": self.min_p, "typical_p": self.typical_p, "top_n_sigma": self.top_n_sigma,
                "repetition_penalty": self.repetition_penalty, "penalty_window": self.penalty_window,
                "order": list(self.order)}

    @staticmethod
    def from_dict(d) -> "SamplerSettings":
        """Settings read from a file (a trace): to_dict()'s keys (those of traces written before
        the chain's newer stages may be missing: they take their defaults, which draw as those
        traces did), finite numbers in range; ValueError with the reason otherwise (a replay must
        not quietly clamp what it replays)."""
        required = {"temperature", "top_k", "top_p", "guidance"}
        optional = {"min_p", "typical_p", "top_n_sigma", "repetition_penalty", "penalty_window", "order"}
        if not isinstance(d, dict) or not required <= set(d) or not set(d) <= required | optional:
            raise ValueError("sampler settings must hold temperature, top_k, top_p and guidance, and may hold "
                             "min_p, typical_p, top_n_sigma, repetition_penalty, penalty_window and order")
        ranges = {"temperature": (0.0, TEMPERATURE_MAX), "top_p": (0.0, 1.0), "guidance": (0.0, GUIDANCE_MAX),
                  "min_p": (0.0, 1.0), "typical_p": (0.0, 1.0), "top_n_sigma": (0.0, TOP_N_SIGMA_MAX),
                  "repetition_penalty": (1.0, PENALTY_MAX)}
        for key, (low, high) in ranges.items():
            if key not in d:
                continue
            x = d[key]
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not low <= x <= high:  # NaN fails too
                raise ValueError(f"sampler setting {key} must be a number from {low:g} to {high:g}, not {x!r}"[:200])
        k = d["top_k"]
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= 2**31 - 1:
            raise ValueError(f"sampler setting top_k must be a whole number from 0, not {k!r}"[:200])
        window = d.get("penalty_window", DEFAULT_WINDOW)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= WINDOW_MAX:
            raise ValueError(f"sampler setting penalty_window must be a whole number from 1 to {WINDOW_MAX}, not {window!r}"[:200])
        order = valid_order(d.get("order", DEFAULT_ORDER))
        if order is None:
            raise ValueError(f"sampler setting order must name each of {', '.join(STAGES)} once"[:200])
        return SamplerSettings(
            float(d["temperature"]), k, float(d["top_p"]), float(d["guidance"]),
            float(d.get("min_p", 0.0)), float(d.get("typical_p", 1.0)), float(d.get("top_n_sigma", 0.0)),
            float(d.get("repetition_penalty", 1.0)), window, order)


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


def _in_order_sum(x: np.ndarray) -> float:
    """x's sum added left to right (np.sum adds pairwise): the order the compiled kernels add in,
    for the sums a stage compares against (typical-p's entropy, top-n-sigma's spread)."""
    return float(np.cumsum(x)[-1]) if len(x) else 0.0


def _cut(x: np.ndarray, removed) -> np.ndarray:
    x = x.copy()
    x[removed] = -np.inf
    return log_softmax(x)


def _apply(stage: str, x: np.ndarray, normalised: bool, s: SamplerSettings, recent) -> np.ndarray:
    """One active stage on x (log-probabilities, or the logits when no stage has acted yet:
    `normalised` says which); returns log-probabilities, -inf = removed. The compiled twin is
    kernels.sampling._apply_stage: change both together."""
    if stage == "temperature":
        if s.greedy:  # the most likely value left; ties keep the lower value
            out = np.full_like(x, -np.inf)
            out[int(np.argmax(x))] = 0.0
            return out
        return log_softmax(x / s.temperature)
    if stage == "penalties":  # probability / penalty for each value seen in the window
        x = x.copy()
        seen = np.unique(np.asarray(recent[-s.penalty_window:], np.int64)) if recent is not None and len(recent) else []
        seen = [v for v in seen if 0 <= v < len(x)]
        x[seen] -= math.log(s.repetition_penalty)
        return log_softmax(x)
    if stage == "min_p":  # shift-invariant: needs no normalising
        return _cut(x, x < x.max() + math.log(s.min_p))
    if stage == "top_n_sigma":  # on logits or log-probabilities alike: the spread ignores a shift
        finite = x[np.isfinite(x)]
        mean = _in_order_sum(finite) / len(finite)
        sigma = math.sqrt(_in_order_sum((finite - mean) ** 2) / len(finite))
        # A value exactly n sigma down (two values and n = 2: always) is kept whatever the
        # round-off: the cut sits a hair lower, in the compiled twin too.
        return _cut(x, x < x.max() - s.top_n_sigma * sigma * SIGMA_SLACK)
    if not normalised:
        x = log_softmax(x)
    if stage == "top_k":
        # Stable sort by descending probability: ties keep the lower value, deterministically.
        return _cut(x, np.argsort(-x, kind="stable")[s.top_k :])
    if stage == "top_p":
        order = np.argsort(-x, kind="stable")
        cumulative = np.cumsum(np.exp(x[order]))
        # Keep every value until the kept mass reaches p, and always the most likely one.
        keep = int(np.searchsorted(cumulative, s.top_p, side="left")) + 1
        return _cut(x, order[keep:])
    # typical_p: the values whose surprisal is nearest the entropy, until their mass reaches p.
    finite = np.isfinite(x)
    p = np.exp(x)
    h = -_in_order_sum(np.where(finite, p * np.where(finite, x, 0.0), 0.0))
    distance = np.where(finite, np.abs(-np.where(finite, x, 0.0) - h), np.inf)
    order = np.argsort(distance, kind="stable")
    keep = int(np.searchsorted(np.cumsum(p[order]), s.typical_p, side="left")) + 1
    return _cut(x, order[keep:])


@dataclass(frozen=True)
class StageStep:
    """The distribution after one stage of the chain."""

    name: str  # one of STAGES, or "model" / "guidance" for the start
    probs: np.ndarray  # after this stage (float64)
    kept: int  # values left with non-zero probability
    active: bool  # False: the stage is off and passed the distribution on unchanged


def sampler_chain(logits: np.ndarray, settings: SamplerSettings, unconditional: np.ndarray | None = None,
                  recent=None, every_stage: bool = True) -> list[StageStep]:
    """The distributions of one step through the chain, for settings already clamped: the
    model's own (name "model"), after guidance (when the step is guided), then after each stage
    in settings.order (an inactive one repeats the last). The last one is what sample() draws
    from. recent: the values before this step (the repetition penalty's window reads its end;
    None: no penalty). every_stage=False computes the same chain but returns only its last entry
    (sample()'s case: no exp() per stage)."""
    logits = np.asarray(logits, dtype=np.float64)
    L = len(logits)
    out = []
    if every_stage:
        raw = np.exp(log_softmax(logits))
        out.append(StageStep("model", raw, int(np.count_nonzero(raw)), True))
    x = logits
    if settings.guided and unconditional is not None:
        x = guided_logits(logits, unconditional, settings)
        if every_stage:
            p = np.exp(log_softmax(x))
            out.append(StageStep("guidance", p, int(np.count_nonzero(p)), True))
    normalised = False
    acting = settings.acting(L)
    for stage in settings.order if every_stage else acting:
        active = stage in acting and (stage != "penalties" or recent is not None)
        if active:
            x, normalised = _apply(stage, x, normalised, settings, recent), True
        if every_stage:
            p = np.exp(x if normalised else log_softmax(x))
            out.append(StageStep(stage, p, int(np.count_nonzero(p)), active))
    if not every_stage:
        p = np.exp(x if normalised else log_softmax(x))
        return [StageStep("final", p, int(np.count_nonzero(p)), True)]
    return out


def filtered_log_probs(logits: np.ndarray, settings: SamplerSettings, recent=None) -> np.ndarray:
    """Log-probabilities after the chain (settings as given, unclamped; no guidance). -inf = removed."""
    settings = replace(settings, guidance=1.0, order=valid_order(settings.order) or DEFAULT_ORDER)
    with np.errstate(divide="ignore"):
        return np.log(sampler_chain(logits, settings, None, recent, every_stage=False)[-1].probs)


# The smallest probability a trace's float16 can hold: below it a stored probability reads 0.
FLOAT16_TINY = 2.0**-24


def stored_logits(probs) -> np.ndarray:
    """Log-probabilities from a distribution the trace stored in float16, a 0 read as FLOAT16_TINY.
    A floor far below it (1e-300: log -690) let guidance, g log c - (g - 1) log u, lift a value the
    unconditional model gave ~0 to a huge logit: at guidance 2 the recomputed panel drew spikes
    where the model put nothing (109 of 784 image steps, 352 of 3,032 audio steps off by > 0.05)."""
    return np.log(np.maximum(np.asarray(probs, np.float64), FLOAT16_TINY))


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
    """One distribution through the sampler, stage by stage (for the lab's panel)."""

    settings: "SamplerSettings"  # clamped, as applied
    raw: np.ndarray  # the model's own distribution
    guided: np.ndarray | None  # after guidance (None when the step has no unconditional distribution)
    tempered: np.ndarray  # after the temperature stage (and whatever came before it in the order)
    top_k: np.ndarray  # after the top-k stage (likewise)
    final: np.ndarray  # after the whole chain: what is sampled from
    kept: int  # values left with non-zero probability
    would_draw: int  # the value this step's uniform number picks from `final`
    chain: tuple = ()  # every StageStep of sampler_chain, the model's distribution first


def stages(logits: np.ndarray, settings: SamplerSettings, u: float, unconditional: np.ndarray | None = None,
           recent=None) -> Stages:
    """The sampler's stages one at a time, by the same chain as sample(); final and would_draw
    are exactly what sample() gives with these settings, u, unconditional logits and recent values."""
    settings = settings.clamped(len(logits))
    chain = sampler_chain(logits, settings, unconditional, recent)
    by_name = {st.name: st.probs for st in chain}
    final = chain[-1].probs
    return Stages(settings, chain[0].probs, by_name.get("guidance") if unconditional is not None else None,
                  by_name["temperature"], by_name["top_k"], final, int(np.count_nonzero(final)), draw(final, u), tuple(chain))


def sampled_from(raw: np.ndarray, unconditional: np.ndarray | None, settings: SamplerSettings, kept: int,
                 recent=None) -> np.ndarray:
    """The distribution a step was drawn from, recomputed from its stored full distributions (the
    trace keeps them in float16), its settings and its kept count: guidance and temperature as
    sample() applies them, then the `kept` most likely values (the set top-k, top-p, min-p and
    top-n-sigma left, whose size the record holds exactly, so a rounded probability near a
    filter's edge cannot change it), renormalised. Within float16's rounding of what was sampled;
    the drawn value's own sampled probability is in the record exactly.

    Typical-p and the repetition penalty keep sets that are not the most likely values: with
    either on, the whole chain runs again on the stored distribution (recent: the values before
    the step, for the penalty), which float16's rounding can move at a stage's edge."""
    settings = settings.clamped(len(raw))
    shaped = guided_logits(stored_logits(raw), None if unconditional is None else stored_logits(unconditional), settings)
    if settings.typical_p < 1.0 or (settings.penalised and recent is not None):
        return sampler_chain(shaped, replace(settings, guidance=1.0), None, recent, every_stage=False)[-1].probs
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


def sample(logits: np.ndarray, settings: SamplerSettings, u: float, unconditional: np.ndarray | None = None,
           recent=None) -> Sample:
    """Draw from the logits reshaped by settings. unconditional: the model's logits without its
    condition, which guidance needs (None: guidance has nothing to act on and is skipped).
    recent: the values before this step, which the repetition penalty reads (None: no penalty)."""
    settings = settings.clamped(len(logits))
    raw = np.exp(log_softmax(logits))
    guiding = settings.guided and unconditional is not None
    plain = (settings.top_k in (0, len(raw)) and settings.top_p >= 1.0 and settings.min_p == 0.0
             and settings.typical_p >= 1.0 and settings.top_n_sigma == 0.0 and (recent is None or not settings.penalised))
    if not guiding and settings.temperature == 1.0 and plain:
        probs = raw  # nothing to reshape: the chain would compute the same numbers again
    else:
        probs = sampler_chain(logits, settings, unconditional, recent, every_stage=False)[-1].probs
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
