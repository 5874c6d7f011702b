"""Rewind, branch, replay and export in every mode, through the one core."""

import numpy as np
import pytest

from arplayground import catalog
from arplayground.core.lab import Branch, export_trace, load_trace, replay
from arplayground.core.sampling import SamplerSettings
from tests.conftest import write_tiny_gpt, write_tiny_pixelcnn, write_tiny_wavenet

MODES = {  # mode: (writer, prefix, condition, steps)
    "text": (write_tiny_gpt, (5, 6, 7), None, 60),
    "image": (write_tiny_pixelcnn, tuple(range(40)), 3, 120),
    "audio": (write_tiny_wavenet, (128, 130, 126), (4, 1), 700),
}


@pytest.fixture(params=list(MODES))
def setup(request, tmp_path):
    writer, prefix, condition, steps = MODES[request.param]
    writer(tmp_path)
    entry = catalog.discover(tmp_path)[0]
    return request.param, entry, prefix, condition, steps


def run(branch, stepper, n, settings):
    for item in branch.continuation(stepper, n, settings, chunk_steps=50):
        branch.record_into_trace(item)


def test_rewind_then_regenerate_gives_the_same_values(setup):
    mode, entry, prefix, condition, steps = setup
    stepper = catalog.load_stepper(entry)
    branch = Branch("main", prefix, condition, seed=11)
    run(branch, stepper, steps, lambda: SamplerSettings(temperature=1.2))
    first = branch.values.copy()
    assert len(first) == steps
    branch.rewind(steps // 3)
    assert np.array_equal(branch.values, first[: steps // 3])
    run(branch, stepper, steps - steps // 3, lambda: SamplerSettings(temperature=1.2))
    np.testing.assert_array_equal(branch.values, first)


def test_a_branch_forces_its_value_and_keeps_the_steps_before(setup):
    mode, entry, prefix, condition, steps = setup
    stepper = catalog.load_stepper(entry)
    main = Branch("main", prefix, condition, seed=5)
    run(main, stepper, steps, lambda: SamplerSettings())
    at = steps // 2
    alternative = int(main.trace[at].top_values[3])  # the fourth most likely value there
    assert alternative != main.values[at]
    side = main.fork(at, alternative, "what if")
    assert side.parent == "main" and len(side.trace) == at and len(main.trace) == steps
    run(side, stepper, steps - at, lambda: SamplerSettings())
    np.testing.assert_array_equal(side.values[:at], main.values[:at])
    assert side.values[at] == alternative
    assert side.trace[at].prob == pytest.approx(float(main.trace[at].top_raw[3]), rel=1e-2)  # the model's own p
    # What follows is conditioned on the forced value: the next step's distribution moved. (The values
    # drawn may still agree: both branches meet the same uniform numbers.)
    assert not np.array_equal(side.trace[at + 1].top_raw, main.trace[at + 1].top_raw)


def test_export_then_import_round_trips_and_replays_exactly(setup, tmp_path):
    mode, entry, prefix, condition, steps = setup
    stepper = catalog.load_stepper(entry)
    main = Branch("main", prefix, condition, seed=8)
    run(main, stepper, steps // 2, lambda: SamplerSettings(temperature=0.8, top_k=20))
    run(main, stepper, steps - steps // 2, lambda: SamplerSettings(temperature=1.5, top_p=0.9, guidance=2.0))  # settings changed mid-run
    side = main.fork(steps // 4, int(main.trace[steps // 4].top_values[1]), "b")
    run(side, stepper, steps - steps // 4, lambda: SamplerSettings())
    path = tmp_path / "run.trace.json"
    export_trace(path, side, entry.name, entry.card, mode)
    loaded, meta = load_trace(path)
    assert meta["model"] == entry.name and meta["card"] == entry.card and meta["mode"] == mode
    assert (loaded.name, loaded.parent, loaded.fork_step, loaded.seed) == ("b", "main", steps // 4, 8)
    assert loaded.prefix == tuple(prefix) and loaded.condition == condition and loaded.forced == side.forced
    assert len(loaded.trace) == steps
    for i in (0, steps // 4, steps - 1):
        a, b = side.trace[i], loaded.trace[i]
        assert (a.position, a.value, a.rank, a.settings, a.u) == (b.position, b.value, b.rank, b.settings, b.u)
        np.testing.assert_array_equal(a.top_values, b.top_values)
        np.testing.assert_array_equal(a.top_raw, b.top_raw)
        np.testing.assert_array_equal(a.top_sampled, b.top_sampled)
    np.testing.assert_array_equal(replay(catalog.load_stepper(entry), loaded), side.values)
    np.testing.assert_array_equal(replay(catalog.load_stepper(entry), main), main.values)


def test_a_file_that_is_not_a_trace_is_refused_with_the_reason(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(ValueError, match="not an arplayground trace"):
        load_trace(bad)
    bad.write_bytes(b"\xff\xfe not json")
    with pytest.raises(ValueError, match="not a readable trace file"):
        load_trace(bad)


def test_an_exported_trace_keeps_every_full_distribution_and_one_saved_without_them_still_opens(setup, tmp_path):
    import json

    mode, entry, prefix, condition, steps = setup
    stepper = catalog.load_stepper(entry)
    main = Branch("main", prefix, condition, seed=4)
    run(main, stepper, steps, lambda: SamplerSettings(temperature=0.9, guidance=2.0))
    path = tmp_path / "run.trace.json"
    export_trace(path, main, entry.name, entry.card, mode)
    loaded, _ = load_trace(path)
    guided = condition is not None
    for i in (0, steps // 2, steps - 1):  # every step, inside a chunk or not
        raw, sampled, unconditional = loaded.trace.distributions(i)
        mine = main.trace.distributions(i)
        np.testing.assert_array_equal(raw, mine[0])
        assert raw.shape == (len(stepper.vocab),) and (unconditional is not None) == guided
        assert sampled[loaded.trace[i].value] > 0 and np.count_nonzero(sampled) == loaded.trace[i].kept
    doc = json.loads(path.read_text())  # as a trace saved before traces kept full distributions
    for name in ("raw", "unconditional"):
        doc["trace"]["columns"].pop(name, None)
    doc["trace"].pop("full_from")
    path.write_text(json.dumps(doc))
    old, _ = load_trace(path)
    assert old.trace.distributions(steps - 1) is None and len(old.trace[steps - 1].top_values) > 0
    np.testing.assert_array_equal(replay(catalog.load_stepper(entry), old), main.values)
