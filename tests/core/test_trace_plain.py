"""Trace files a person or a notebook can read: plain JSON arrays (base64 only as the compact
option), every number reading back bit for bit, the full distributions exported, grids as lanes,
and version 1 files (every column base64) still opening."""

import json
from pathlib import Path

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.generate import StepBlock, run_steps
from arplayground.core.lab import Branch, check_replayable, export_trace, load_trace, plain_numbers, replay
from arplayground.core.sampling import SamplerSettings, sample
from arplayground.core.trace import COLUMNS, TOP_CANDIDATES, Trace, _float16_decimals, _plain_column
from tests.conftest import write_tiny_gpt

VERSION1 = Path(__file__).parent / "data" / "version1-tiny-gpt.trace.json"
# What the code before plain traces wrote into VERSION1 (tests/core/data), from the tiny GPT, seed 7.
VERSION1_VALUES = [25, 34, 35, 46, 39, 3, 3, 13, 33, 56, 38, 5, 58, 10, 7, 31, 60, 60, 34, 29, 51, 39, 47, 42]


def guided_trace(steps=40, vocab=12, seed=0):
    rng = np.random.default_rng(seed)
    trace = Trace()
    for position in range(steps):
        settings = SamplerSettings(temperature=0.8 + 0.1 * (position % 3), top_k=5, guidance=2.0)
        smp = sample(rng.normal(size=vocab) * 3, settings, float(rng.random()), rng.normal(size=vocab))
        trace.extend(StepBlock.of_samples(position, [smp], settings, 0.01 * rng.random()).compact())
    return trace


def columns_of(trace: Trace) -> dict:
    out = {name: trace.column(name).copy() for name in COLUMNS}
    for name in trace.full_kinds:
        out[name] = trace.full_column(name, trace.full_from, len(trace))
    return out


def test_every_float16_reads_back_from_its_plain_decimal_bit_for_bit():
    bits = np.arange(2**16, dtype=np.uint16)
    halves = bits.view(np.float16)
    finite = np.isfinite(halves)
    written = json.dumps(_plain_column(halves[finite]))
    again = np.array(json.loads(written)).astype(np.float16).view(np.uint16)
    assert np.array_equal(again, bits[finite])
    assert _float16_decimals()[np.float16(0.1).view(np.uint16)] == 0.1  # short: 0.1, not 0.0999755859375


def test_float32_values_read_back_from_their_plain_decimals_bit_for_bit():
    rng = np.random.default_rng(1)
    bits = rng.integers(0, 2**32, 300_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = np.concatenate([values[np.isfinite(values)], np.float32([0.3, 1e-45, 3.4028235e38, -0.0, 1.0])])
    written = json.dumps(_plain_column(values))
    again = np.array(json.loads(written)).astype(np.float32)
    assert np.array_equal(again.view(np.uint32), values.view(np.uint32))
    assert json.dumps(_plain_column(np.float32([0.3]))) == "[0.3]"


def test_a_plain_trace_is_plain_json_arrays_and_reads_back_exactly_as_the_compact_one():
    trace = guided_trace()
    plain, compact = trace.to_dict(), trace.to_dict(compact=True)
    assert plain["encoding"] == "plain" and compact["encoding"] == "base64" and plain["distributions"] == "full"
    for name, column in plain["columns"].items():
        assert isinstance(column, list), name
    assert len(plain["columns"]["raw"]) == 40 and len(plain["columns"]["raw"][0]) == 12  # every value, not the top 16
    assert len(plain["columns"]["unconditional"][0]) == 12
    assert plain["columns"]["value"] == trace.values.tolist()
    assert all(name in plain["about"] for name in plain["columns"])  # each column says what it holds
    want = columns_of(trace)
    for doc in (plain, compact):
        again = Trace.from_dict(json.loads(json.dumps(doc)))
        got = columns_of(again)
        assert got.keys() == want.keys()
        for name in want:
            assert got[name].dtype == want[name].dtype and np.array_equal(got[name], want[name]), name
        assert again.settings_per_step() == trace.settings_per_step()
    assert len(json.dumps(compact)) < len(json.dumps(plain))


def test_a_trace_that_keeps_only_the_top_candidates_says_so():
    trace = guided_trace(steps=10)
    doc = trace.to_dict()
    for name in ("raw", "unconditional"):
        doc["columns"].pop(name)
    doc.pop("full_from")
    opened = Trace.from_dict(doc)
    assert opened.to_dict()["distributions"] == f"top {TOP_CANDIDATES} only"
    assert len(opened.to_dict()["columns"]["top_raw"][0]) == TOP_CANDIDATES


BROKEN_PLAIN = {
    "a string among the values": (lambda c: c["value"].__setitem__(3, "7"), "numbers only"),
    "a float among whole numbers": (lambda c: c["rank"].__setitem__(0, 1.5), "whole numbers"),
    "a bool column": (lambda c: c.update(kept=[True] * len(c["kept"])), "numbers only"),
    "a row too short": (lambda c: c["top_values"][2].pop(), "table of shape"),
    "a row missing": (lambda c: c["top_raw"].pop(), "rows"),
    "a number past int32": (lambda c: c["value"].__setitem__(0, 2**40), "beyond int32"),
    "a number past 2**64": (lambda c: c["value"].__setitem__(0, 2**70), "numbers only"),
    "a probability past float16": (lambda c: c["raw"][0].__setitem__(0, 1e10), "not probabilities"),
    "a negative probability": (lambda c: c["raw"][1].__setitem__(0, -0.5), "not probabilities"),
    "rows of different lengths": (lambda c: c["raw"][4].append(0.0), "table of shape"),
    "a nested value": (lambda c: c["u"].__setitem__(0, [0.5]), "table of shape"),
    "a null": (lambda c: c["prob"].__setitem__(0, None), "numbers only"),
}


@pytest.mark.parametrize("name", list(BROKEN_PLAIN))
def test_a_broken_plain_column_is_refused_with_a_reason(name):
    change, reason = BROKEN_PLAIN[name]
    doc = json.loads(json.dumps(guided_trace(steps=8).to_dict()))
    change(doc["columns"])
    with pytest.raises(ValueError, match=reason):
        Trace.from_dict(doc)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plain")
    write_tiny_gpt(folder)
    entry = catalog.discover(folder)[0]
    return entry, catalog.load_stepper(entry)


def test_a_version_1_trace_written_before_plain_traces_still_opens_and_replays_identically(tiny):
    entry, stepper = tiny
    doc = json.loads(VERSION1.read_text())
    assert doc["version"] == 1 and "base64" in doc["trace"]["columns"]["value"]  # as the old code wrote it
    branch, meta = load_trace(VERSION1)
    assert branch.values.tolist() == VERSION1_VALUES and meta["lanes"] == 1 and branch.planned == 24
    assert branch.forced == {10: 3} and branch.seed == 7
    assert [s.temperature for s in branch.trace.settings_per_step()] == [1.2] * 12 + [0.7] * 12
    assert branch.trace.distributions(23)[0].shape == (61,)  # version 1 kept the full distributions too
    check_replayable(branch, 61, 1000, 1000)
    assert replay(stepper, branch).tolist() == VERSION1_VALUES  # per-step settings: the per-step loop


def test_an_exported_branch_says_its_format_version_and_plan_and_opens_again(tiny, tmp_path):
    entry, stepper = tiny
    branch = Branch("main", (5, 6), None, seed=4, planned=50)
    for block in branch.continuation(stepper, 20, lambda: SamplerSettings(temperature=0.9)):
        branch.record_into_trace(block)
    path = tmp_path / "run.trace.json"
    export_trace(path, branch, entry.name, entry.card, "text")
    doc = json.loads(path.read_text())
    assert (doc["format"], doc["version"], doc["branch"]["planned"], doc["branch"]["lanes"]) == ("arplayground-trace", 2, 50, 1)
    assert doc["trace"]["columns"]["value"] == branch.values.tolist()
    opened, _ = load_trace(path)
    assert opened.planned == 50 and opened.values.tolist() == branch.values.tolist()
    assert replay(stepper, opened).tolist() == branch.values.tolist()  # one settings: the same draws, chunked or not
    assert replay(stepper, opened, cancelled=lambda: True) is None
    assert plain_numbers(branch) == 2 + 20 * (sum(int(np.prod(c.shape[1:])) for c in COLUMNS.values()) + 61)


def test_a_grid_is_exported_as_lanes_and_opens_as_a_grid(tmp_path):
    trace = Trace()
    rng = np.random.default_rng(2)
    settings = SamplerSettings()
    for position in range(6):  # 3 images, drawn together: each step holds every image's value
        smps = [sample(rng.normal(size=8), settings, float(rng.random())) for _ in range(3)]
        trace.extend(StepBlock.of_samples(position, smps, settings, 0.01).compact())
    branch = Branch("main", (), [1, None, 7], seed=9, trace=trace, planned=10)
    path = tmp_path / "grid.trace.json"
    export_trace(path, branch, "m", {}, "image", lanes=3)
    opened, meta = load_trace(path)
    assert meta["lanes"] == 3 and opened.condition == [1, None, 7] and opened.planned == 10 and len(opened.trace) == 18
    check_replayable(opened, 8, 0, 10, (10,), lanes=3)
    with pytest.raises(ValueError, match="label this model does not have"):
        check_replayable(opened, 8, 0, 10, (5,), lanes=3)
    with pytest.raises(ValueError, match="does not draw"):
        check_replayable(opened, 8, 0, 10, (10, 4), lanes=3)
    with pytest.raises(ValueError, match="plans 10 steps"):
        check_replayable(opened, 8, 0, 9, (10,), lanes=3)
    doc = json.loads(path.read_text())
    for change, reason in ((lambda d: d["branch"].update(lanes=4), "not a grid of 4 images"),
                           (lambda d: d.update(condition=[1, 2]), "for each of its 3 images"),
                           (lambda d: d.update(forced={"2": 1}), "not a grid of 3 images")):
        broken = json.loads(json.dumps(doc))
        change(broken)
        path.write_text(json.dumps(broken))
        with pytest.raises(ValueError, match=reason):
            load_trace(path)


def test_a_grid_replays_lane_by_lane_as_it_was_drawn(tmp_path):
    from tests.conftest import write_tiny_pixelcnn

    write_tiny_pixelcnn(tmp_path)
    entry = catalog.discover(tmp_path)[0]
    stepper = catalog.load_stepper(entry)
    settings = SamplerSettings(temperature=0.9)
    branch = Branch("main", (), [3, 5], seed=11, planned=30)
    for block in run_steps(stepper, (), 30, lambda: settings, 11, [3, 5]):
        branch.trace.extend(block.compact())
    path = tmp_path / "grid.trace.json"
    export_trace(path, branch, entry.name, entry.card, "image", lanes=2)
    opened, meta = load_trace(path)
    assert replay(stepper, opened, meta["lanes"]).tolist() == branch.values.tolist()
