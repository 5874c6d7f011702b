"""Hostile inputs below the GUI: crafted traces, values that would reach compiled code out of range,
models whose output is not finite, and writes that fail half-way (issue: faults)."""

import json
import resource
import signal
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch

from arplayground import catalog
from arplayground.core.files import replacing, write_text_atomically
from arplayground.core.generate import NonFiniteLogits, run_steps
from arplayground.core.lab import MAX_COMMAS, MAX_CONTAINERS, Branch, check_replayable, export_trace, load_trace
from arplayground.core.sampling import SamplerSettings
from tests.conftest import write_tiny_gpt, write_tiny_pixelcnn, write_tiny_wavenet


def run(branch, stepper, n, settings=SamplerSettings):
    for item in branch.continuation(stepper, n, settings, chunk_steps=64):
        branch.record_into_trace(item)


@pytest.fixture
def audio(tmp_path):
    write_tiny_wavenet(tmp_path)
    entry = catalog.discover(tmp_path)[0]
    return entry, catalog.load_stepper(entry)


@pytest.fixture
def audio_trace(tmp_path, audio):
    """A real exported audio trace (200 samples after 3 kept), as a JSON document and its path."""
    entry, stepper = audio
    branch = Branch("main", (128, 130, 126), (4, 1), seed=3)
    run(branch, stepper, 200)
    path = tmp_path / "run.trace.json"
    export_trace(path, branch, entry.name, entry.card, "audio", compact=True)  # the corruptions below edit base64 columns
    return path, json.loads(path.read_text())


# ---------------------------------------------------------------- values that reach compiled code


@pytest.mark.parametrize("bad", [256, 10**6, -1, 2**40])
def test_a_forced_or_kept_value_outside_the_levels_is_refused_before_the_compiled_kernel(audio, bad):
    entry, stepper = audio
    with pytest.raises(ValueError, match="outside the model's 256 values"):
        list(run_steps(stepper, (128,), 50, SamplerSettings, 0, (1, 1), forced={10: bad}))
    with pytest.raises(ValueError, match="outside the model's 256 values"):
        list(run_steps(stepper, (128, bad), 50, SamplerSettings, 0, (1, 1)))
    with pytest.raises(ValueError, match="outside the model's 256 levels"):
        stepper.push(bad)  # the stepper itself guards its compiled step too
    # and the stepper is still usable afterwards
    assert len(list(run_steps(stepper, (128,), 20, SamplerSettings, 0, (1, 1)))) > 0


def test_a_crafted_audio_trace_with_a_wild_forced_value_is_refused_against_the_model(audio_trace, audio):
    path, doc = audio_trace
    doc["forced"] = {"50": 10**9}
    path.write_text(json.dumps(doc))
    branch, meta = load_trace(path)  # well formed as a file ...
    with pytest.raises(ValueError, match="outside the model's 256 values"):
        check_replayable(branch, 256, 10**6, 32_001, (10, 3))  # ... but not a run of this model


def test_a_trace_whose_condition_names_a_label_the_model_lacks_is_refused(audio_trace):
    path, doc = audio_trace
    doc["condition"] = [4, 7]  # speaker 7 of 3
    path.write_text(json.dumps(doc))
    branch, _ = load_trace(path)
    with pytest.raises(ValueError, match="label this model does not have"):
        check_replayable(branch, 256, 10**6, 32_001, (10, 3))
    branch.condition = (4, 1)
    check_replayable(branch, 256, 10**6, 32_001, (10, 3))  # the real one passes


def test_drawn_values_and_candidates_outside_the_vocabulary_are_refused(audio_trace):
    path, _ = audio_trace
    branch, _ = load_trace(path)
    check_replayable(branch, 256, 10**6, 32_001, (10, 3))
    branch.prefix = (1, 2)  # a start the smaller model can read: its drawn values still cannot be
    with pytest.raises(ValueError, match="leave the model's 65 values"):
        check_replayable(branch, 65, 10**6, 32_001, (10, 3))  # a text model's vocabulary


# ---------------------------------------------------------------- malformed traces


def corrupt(doc, change):
    doc = json.loads(json.dumps(doc))
    change(doc)
    return doc


CORRUPTIONS = {
    "not an object": lambda d: d.clear() or d.update({"format": "arplayground-trace", "version": 1, "trace": []}),
    "prefix of strings": lambda d: d.update(prefix=["a", "b"]),
    "prefix of floats": lambda d: d.update(prefix=[1.5]),
    "prefix of bools": lambda d: d.update(prefix=[True]),
    "seed null": lambda d: d.update(seed=None),
    "seed negative": lambda d: d.update(seed=-4),
    "seed beyond the seed box": lambda d: d.update(seed=2**31),
    "branch a list": lambda d: d.update(branch=[]),
    "branch without name": lambda d: d["branch"].pop("name"),
    "fork step past the end": lambda d: d["branch"].update(fork_step=10**6),
    "forced key not a number": lambda d: d.update(forced={"x": 3}),
    "forced before the prefix ends": lambda d: d.update(forced={"0": 3}),
    "forced past the end": lambda d: d.update(forced={"100000": 3}),
    "forced value a string": lambda d: d.update(forced={"10": "3"}),
    "condition a dict": lambda d: d.update(condition={"digit": 1}),
    "condition negative": lambda d: d.update(condition=[-1, 0]),
    "steps huge": lambda d: d["trace"].update(steps=10**12),
    "steps a string": lambda d: d["trace"].update(steps="200"),
    "steps disagree with columns": lambda d: d["trace"].update(steps=150),
    "column missing": lambda d: d["trace"]["columns"].pop("value"),
    "column unknown": lambda d: d["trace"]["columns"].update(extra=d["trace"]["columns"]["value"]),
    "column dtype changed": lambda d: d["trace"]["columns"]["value"].update(dtype="<i8"),
    "column object dtype": lambda d: d["trace"]["columns"]["value"].update(dtype="|O"),
    "column shape changed": lambda d: d["trace"]["columns"]["top_values"].update(shape=[200, 99]),
    "column truncated": lambda d: d["trace"]["columns"]["u"].update(base64=d["trace"]["columns"]["u"]["base64"][:-8]),
    "column not base64": lambda d: d["trace"]["columns"]["u"].update(base64="!" * len(d["trace"]["columns"]["u"]["base64"])),
    "column a number": lambda d: d["trace"]["columns"].update(u=5),
    "settings missing": lambda d: d["trace"].pop("settings"),
    "settings with nan": lambda d: d["trace"]["settings"][0].update(temperature=float("nan")),
    "settings with inf": lambda d: d["trace"]["settings"][0].update(guidance=float("inf")),
    "settings negative top-k": lambda d: d["trace"]["settings"][0].update(top_k=-5),
    "settings unknown key": lambda d: d["trace"]["settings"][0].update(xtc_probability=0.1),  # min_p is known since issue 23
    "settings min-p out of range": lambda d: d["trace"]["settings"][0].update(min_p=1.5),
    "settings order not a permutation": lambda d: d["trace"]["settings"][0].update(order=["top_k", "top_k"]),
    "settings a list": lambda d: d["trace"].update(settings=[[1, 2]]),
    "settings empty": lambda d: d["trace"].update(settings=[]),
    "mode a number": lambda d: d.update(mode=3),
    "card a string": lambda d: d.update(card="x"),
}


@pytest.mark.parametrize("name", list(CORRUPTIONS))
def test_every_malformed_trace_is_a_value_error_with_a_reason(audio_trace, name):
    path, doc = audio_trace
    path.write_text(json.dumps(corrupt(doc, CORRUPTIONS[name]), allow_nan=True))
    with pytest.raises(ValueError) as refused:
        load_trace(path)
    assert path.name in str(refused.value) and len(str(refused.value)) > len(path.name) + 10


def test_a_settings_index_or_top_count_out_of_range_is_refused(audio_trace):
    path, doc = audio_trace
    branch, _ = load_trace(path)
    for column, value, reason in (("settings", 7, "settings the file does not hold"),
                                  ("top_count", 999, "impossible number of top candidates")):
        trace = branch.trace.copy()
        trace.column(column)[5] = value
        d = dict(doc, trace=trace.to_dict(compact=True))
        path.write_text(json.dumps(d))
        with pytest.raises(ValueError, match=reason):
            load_trace(path)


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00", b"[" * 100_000, b'{"format": "arplayground-trace"',
                                     b"null", b"12"])
def test_files_that_are_not_traces_are_refused(tmp_path, content):
    path = tmp_path / "t.json"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="t.json"):
        load_trace(path)


def test_a_directory_or_a_fifo_is_refused_without_reading(tmp_path):
    import os

    (tmp_path / "dir.json").mkdir()
    os.mkfifo(tmp_path / "fifo.json")  # a read would block forever
    for name in ("dir.json", "fifo.json"):
        with pytest.raises(ValueError, match="not a regular file"):
            load_trace(tmp_path / name)


def test_a_real_trace_still_loads_and_replays(audio_trace, audio):
    path, _ = audio_trace
    branch, meta = load_trace(path)
    check_replayable(branch, 256, 10**6, 32_001, (10, 3))
    assert meta["mode"] == "audio" and len(branch.trace) == 200 and branch.condition == (4, 1)


# ---------------------------------------------------------------- a model whose output is not finite


def poisoned_gpt(tmp_path):
    write_tiny_gpt(tmp_path)
    entry = catalog.discover(tmp_path)[0]
    stepper = catalog.load_stepper(entry)
    with torch.no_grad():
        stepper.model.lm_head.weight[7] = float("nan")  # one value's logit is NaN everywhere
    return stepper


def test_nan_logits_stop_the_per_step_loop_at_the_first_step(tmp_path):
    stepper = poisoned_gpt(tmp_path)
    with pytest.raises(NonFiniteLogits) as stopped:
        list(run_steps(stepper, (5, 6, 7), 30, SamplerSettings, 0))
    assert stopped.value.position == 3 and stopped.value.kind == "NaN"


def test_nan_from_a_later_step_stops_the_compiled_audio_chunks_at_that_step(audio):
    entry, stepper = audio
    prefix = (128, 130, 126)
    assert len(list(run_steps(stepper, prefix, 300, SamplerSettings, 0, (4, 1), chunk_steps=64))) > 0
    # The time condition's third knot poisoned: every output from t = 100 on is NaN (the knots are 100 apart).
    stepper._exported[(4, 1)]["t_gate"][:, 2:] = np.nan
    with pytest.raises(NonFiniteLogits) as stopped:
        for chunk in run_steps(stepper, prefix, 300, SamplerSettings, 0, (4, 1), chunk_steps=64):
            assert np.isfinite(chunk.columns["prob"]).all()  # every chunk that arrives is sound
    assert stopped.value.position == 100


@pytest.mark.parametrize("guidance", [1.0, 2.0])
def test_nan_weights_stop_the_compiled_image_path_at_its_first_step(tmp_path, guidance):
    write_tiny_pixelcnn(tmp_path)
    stepper = catalog.load_stepper(catalog.discover(tmp_path)[0])
    with torch.no_grad():
        stepper.model.head[3].bias[0] = float("inf")
    prefix = tuple(range(56))  # two rows kept
    with pytest.raises(NonFiniteLogits) as stopped:
        list(run_steps(stepper, prefix, 100, lambda: SamplerSettings(guidance=guidance), 0, 3, chunk_steps=32))
    assert stopped.value.position == 56


# ---------------------------------------------------------------- writes that fail half-way


class DiskFullAfter:
    """Files may grow to `limit` bytes, as on a disk that fills up: a write past it fails (EFBIG)."""

    def __init__(self, limit: int):
        self.limit = limit

    def __enter__(self):
        self.old = resource.getrlimit(resource.RLIMIT_FSIZE)
        self.handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the error, not the signal that kills
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limit, self.old[1]))

    def __exit__(self, *exc):
        resource.setrlimit(resource.RLIMIT_FSIZE, self.old)
        signal.signal(signal.SIGXFSZ, self.handler)


def test_a_trace_export_that_runs_out_of_disk_leaves_the_old_file_whole(audio_trace, audio):
    path, doc = audio_trace
    before = path.read_bytes()
    branch, _ = load_trace(path)
    run(branch, audio[1], 300)  # a longer run: a bigger file
    with DiskFullAfter(len(before) // 2), pytest.raises(OSError):
        export_trace(path, branch, audio[0].name, audio[0].card, "audio")
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".part")) == []


def test_replacing_keeps_the_old_file_when_the_writer_fails_and_replaces_it_when_it_succeeds(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), replacing(path) as temporary:
        Path(temporary).write_text("half")
        raise RuntimeError("the writer failed")
    assert path.read_text() == "old" and len(list(tmp_path.iterdir())) == 1
    write_text_atomically(path, "new")
    assert path.read_text() == "new" and len(list(tmp_path.iterdir())) == 1
    write_text_atomically(tmp_path / "fresh.txt", "x")
    assert (tmp_path / "fresh.txt").stat().st_mode & 0o777 != 0o600  # not mkstemp's private mode


# ---------------------------------------------------------------- found by a QA pass


def test_a_seed_beyond_the_seed_box_is_refused_before_anything_changes(audio_trace):
    path, doc = audio_trace
    doc["seed"] = 2**31
    path.write_text(json.dumps(doc))
    with pytest.raises(ValueError, match="the seed must be a whole number from 0 to 2,147,483,647"):
        load_trace(path)


@pytest.mark.parametrize("filler", [b"[]", b"{}", b"0"])
def test_a_small_file_that_would_parse_into_millions_of_objects_is_refused_unparsed(tmp_path, filler):
    path = tmp_path / "bomb.trace.json"
    count = (MAX_CONTAINERS if filler != b"0" else MAX_COMMAS) + 100_000
    path.write_bytes(b'{"format": "arplayground-trace", "version": 1, "prefix": [' + b",".join([filler] * count) + b"]}")
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="holds far more values than a trace does"):
            load_trace(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 3 * path.stat().st_size  # the bytes read, not the objects they would have made


def test_weights_that_are_not_floats_or_whose_bytes_disagree_with_their_shape_are_refused(tmp_path):
    from safetensors.torch import load_file, save_file

    write_tiny_gpt(tmp_path)
    weights = tmp_path / "tiny-gpt.safetensors"
    tensors = load_file(str(weights))
    name = next(iter(tensors))
    tensors[name] = tensors[name].to(torch.int64)
    save_file(tensors, str(weights))
    entry = catalog.discover(tmp_path)[0]
    assert entry.error and "not floating point" in entry.error
