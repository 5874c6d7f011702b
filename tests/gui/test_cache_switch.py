"""The Cache switch: the same seed draws the same values with the cache and without it (the window
checks it live and says so), and the timeline plots each step's compute time."""

import pytest

from arplayground.gui.timeline import LATENCY
from tests.gui.driver import WindowDriver


@pytest.mark.parametrize("mode, steps", [("text", 40), ("image", 28 * 28), ("audio", 300)])
def test_with_and_without_the_cache_one_seed_draws_the_same_values(qtbot, all_models, mode, steps):
    d = WindowDriver.open(qtbot, all_models, mode)
    if mode == "text":
        d.set_run_length(text_steps=steps)
    if mode == "audio":
        d.set_run_length(audio_samples=steps)
    d.set_seed(77)
    d.generate_and_wait()
    cached = list(d.values())
    assert "cache" not in d.status()  # nothing to compare with yet
    d.set_cache(False)
    d.generate_and_wait()
    assert list(d.values()) == cached
    assert f"the same {len(cached):,} values as the run with the cache" in d.status()
    d.set_cache(True)
    d.set_seed(78)  # another seed: another key, nothing to compare with
    d.generate_and_wait()
    assert "the same" not in d.status()
    d.close()


def test_the_timeline_plots_each_steps_compute_time(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    d.set_run_length(text_steps=30)
    d.set_cache(False)
    d.generate_and_wait()
    d.choose_timeline_measure(LATENCY)
    ms = d.timeline_values()
    assert len(ms) == 30 and (ms > 0).all()
    assert ms.mean() == pytest.approx(1000 * d.window.trace.column("seconds").mean(), rel=1e-5)
    assert "Off: the whole context" in d.window.cache_box.toolTip()
    d.close()
