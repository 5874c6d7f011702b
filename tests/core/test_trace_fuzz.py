"""Fuzz the trace reader: a few hundred random and mutated trace files (seeded, a few seconds in all).
Each is either refused with a ValueError that says why, or accepted as a branch that the model can
be asked to replay after check_replayable; nothing else escapes, and no file makes the reader
allocate much beyond what the file itself holds."""

import base64
import json
import random
import tracemalloc

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.generate import run_steps
from arplayground.core.lab import Branch, check_replayable, export_trace, load_trace
from arplayground.core.sampling import SamplerSettings
from tests.conftest import write_tiny_gpt

CASES = 300
PEAK_BOUND = 8 * 2**20  # bytes the reader may allocate for one of these files (each is under 100 KB)


def mutate(rng: random.Random, doc):
    """One random change somewhere in the document: a value of another type or size, a key gone or
    added, a list cut or grown, a column's bytes flipped."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, path + [k])
        elif isinstance(node, list) and node:
            for i in rng.sample(range(len(node)), min(3, len(node))):
                walk(node[i], path + [i])

    walk(doc, [])
    path = rng.choice(paths)
    parent, key = None, None
    node = doc
    for k in path:
        parent, key, node = node, k, node[k]
    weird = [None, True, -1, 0, 1, 2**63, -2**70, 1.5, float("nan"), float("inf"), "", "x" * 50, [], {}, [1, 2], {"a": 1},
             "AAAA", 10**6, -0.0, 255, 256, 65]
    choice = rng.random()
    if parent is None:
        return rng.choice(weird)
    if choice < 0.45:
        parent[key] = rng.choice(weird)
    elif choice < 0.6 and isinstance(parent, dict):
        del parent[key]
    elif choice < 0.7 and isinstance(parent, dict):
        parent[rng.choice(["extra", "steps", "dtype", "shape", "base64", "min_p"])] = rng.choice(weird)
    elif choice < 0.8 and isinstance(node, list):
        parent[key] = node[: rng.randrange(len(node) + 1)] if rng.random() < 0.5 else node + node
    elif choice < 0.9 and isinstance(node, str) and key == "base64":
        raw = bytearray(base64.b64decode(node))
        for _ in range(rng.randrange(1, 8)):
            if raw:
                raw[rng.randrange(len(raw))] = rng.randrange(256)
        parent[key] = base64.b64encode(bytes(raw)).decode()
    elif isinstance(node, int) and not isinstance(node, bool):
        parent[key] = node + rng.choice([-1, 1, 1000, -1000, 2**31])
    else:
        parent[key] = rng.choice(weird)
    return doc


@pytest.fixture(scope="module", params=["plain", "compact"])
def model_and_doc(tmp_path_factory, request):
    folder = tmp_path_factory.mktemp("fuzz")
    write_tiny_gpt(folder)
    entry = catalog.discover(folder)[0]
    stepper = catalog.load_stepper(entry)
    branch = Branch("main", (5, 6, 7), None, seed=1)
    for step in branch.continuation(stepper, 24, SamplerSettings):
        branch.record_into_trace(step)
    branch = branch.fork(10, 4, "side")
    for step in branch.continuation(stepper, 14, SamplerSettings):
        branch.record_into_trace(step)
    path = folder / "good.trace.json"
    export_trace(path, branch, entry.name, entry.card, "text", compact=request.param == "compact")
    return entry, stepper, json.loads(path.read_text())


def test_random_and_mutated_traces_are_accepted_or_refused_with_a_reason(model_and_doc, tmp_path):
    entry, stepper, good = model_and_doc
    rng = random.Random(20261202)
    vocab_size = len(catalog.vocabulary(entry))
    outcomes = {"refused": 0, "refused by the model": 0, "replayed": 0}
    path = tmp_path / "case.trace.json"
    for case in range(CASES):
        if case % 10 == 0:  # now and then a document that is not a trace at all
            doc = rng.choice([[], {}, 5, "trace", None, {"format": "arplayground-trace", "version": 1}])
        else:
            doc = json.loads(json.dumps(good))
            for _ in range(rng.randrange(1, 4)):
                doc = mutate(rng, doc)
        path.write_text(json.dumps(doc))
        tracemalloc.start()
        try:
            branch, meta = load_trace(path)
        except ValueError as e:
            assert str(e).startswith(path.name), str(e)
            outcomes["refused"] += 1
            continue
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert peak < PEAK_BOUND, f"case {case}: {peak:,} bytes"
        try:
            check_replayable(branch, vocab_size, 10_000, 100_000, ())
        except ValueError as e:
            assert str(e)
            outcomes["refused by the model"] += 1
            continue
        # Accepted: the model replays it without a crash (a few steps are enough to reach every input).
        schedule = iter(branch.trace.settings_per_step())
        steps = run_steps(stepper, branch.prefix, min(3, len(branch.trace)), schedule.__next__, branch.seed, None,
                          {p: v for p, v in branch.forced.items() if p < len(branch.prefix) + 3}, per_step_settings=True)
        assert all(np.isfinite(block.columns["prob"]).all() for block in steps)
        outcomes["replayed"] += 1
    assert outcomes["refused"] > CASES // 3 and outcomes["replayed"] > 10, outcomes  # both kinds were exercised
