"""The Cache switch, checked live: the cache changes how fast a step is computed, never what a seed
draws. Each finished run's values are kept under what decides them (the model, the start, the
condition, the seed, every step's settings and forced values) and whether the cache was on; a run
with the same key and the cache the other way is compared with it, and the window says the result.
"""

from __future__ import annotations


def run_key(entry, branch) -> tuple:
    settings = tuple(branch.trace.settings_per_step())
    return (str(entry.card_path), tuple(branch.prefix), repr(branch.condition), branch.seed, settings,
            tuple(sorted(branch.forced.items())))


class CacheCheck:
    KEPT = 8  # runs remembered: enough for a few back-and-forth comparisons

    def __init__(self):
        self._runs: dict[tuple, tuple] = {}  # (key, cache on) -> the values drawn

    def finished(self, entry, branch, cache: bool) -> str | None:
        """Remember the run; if one with the cache the other way drew under the same key, a
        sentence saying whether the values agree. None when there is nothing to compare with."""
        if branch is None or not len(branch.trace):
            return None
        key = run_key(entry, branch)
        values = tuple(int(v) for v in branch.trace.values)
        self._runs[(key, cache)] = values
        while len(self._runs) > self.KEPT:
            self._runs.pop(next(iter(self._runs)))
        other = self._runs.get((key, not cache))
        if other is None:
            return None
        n = min(len(values), len(other))
        other_way = "with the cache" if not cache else "without the cache"
        first = next((i for i in range(n) if values[i] != other[i]), None)
        if first is None:
            return f"the same {n:,} values as the run {other_way}, seed {branch.seed}: the cache changes the speed, not the draws"
        return f"values differ from the run {other_way} from step {first + 1:,} (seed {branch.seed})"
