"""The sampler chain in the real window (issue 23): the newer stages' sliders and the order list,
the panel's strip of stages while paused, the command line, and exact replays."""

import numpy as np
import pytest

from arplayground.core.sampling import DEFAULT_ORDER, STAGES, stages
from tests.gui.driver import WindowDriver


def counts(st) -> list[str]:
    """The titles the strip should show for these stages: every acting stage and what it keeps."""
    names = {"model": "model", "guidance": "guidance", "penalties": "repetition", "temperature": "temperature",
             "top_k": "top-k", "typical_p": "typical-p", "top_p": "top-p", "min_p": "min-p", "top_n_sigma": "top-nσ"}
    return [f"{names[c.name]} {c.kept}" for c in st.chain if c.active]


def test_sliders_and_the_order_redraw_the_paused_step_stage_by_stage(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_prompt("to be or not")
    d.set_run_length(text_steps=20)
    d.step_times(5)
    rec = d.record(4)
    raw = d.distributions(4)[0]
    logits = np.log(np.maximum(raw.astype(np.float64), 1e-38))
    titles = d.stage_titles()  # the default chain: only temperature acts
    assert titles == counts(stages(logits, d.settings(), rec.u)) and [t.split()[0] for t in titles] == ["model", "temperature"]
    d.open_more_stages()
    d.set_sampler("min_p", 0.05)
    d.set_temperature(1.5)
    st = stages(logits, d.settings(), rec.u)
    assert d.stage_titles() == counts(st) and d.stage_titles()[-1] == f"min-p {st.kept}"
    assert "min-p" in d.what_if_text() and d.would_draw() == st.would_draw
    d.set_top_p(0.6)
    d.drag_stage("top_p", 0)  # top-p now sees the untempered distribution
    assert d.sampler_order()[0] == "top_p" and d.settings().order[0] == "top_p"
    st = stages(logits, d.settings(), rec.u)
    assert d.stage_titles() == counts(st) and d.stage_titles()[1].startswith("top-p")
    assert d.would_draw() == st.would_draw
    np.testing.assert_allclose(d.bar_heights()[1], st.final[rec.top_values], atol=1e-6)
    d.click_step()
    d.wait_for_steps(6)
    assert d.record(5).settings.order[0] == "top_p" and d.record(5).settings.min_p == 0.05
    d.click_stop()
    d.close()


def test_the_repetition_penalty_is_text_only_and_a_penalised_run_replays_exactly(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.open_more_stages()
    assert not d.sampler_enabled("repetition_penalty") and "Text only" in d.window.sampler.repetition_penalty.toolTip()
    d.choose_mode("text")
    assert d.sampler_enabled("repetition_penalty")
    d.set_prompt("the ")
    d.set_run_length(text_steps=40)
    d.set_sampler("repetition_penalty", 2.5)
    d.set_sampler("penalty_window", 8)
    d.set_sampler("typical_p", 0.9)
    d.drag_stage("penalties", 3)
    d.step_times(3)
    rec = d.record(2)
    raw = d.distributions(2)[0]
    history = list(d.window.session.branch.prefix) + d.values()[:2].tolist()
    st = stages(np.log(np.maximum(raw.astype(np.float64), 1e-38)), d.settings(), rec.u, None, history[-8:])
    assert d.stage_titles() == counts(st) and any(t.startswith("repetition") for t in d.stage_titles())
    assert d.would_draw() == st.would_draw == rec.value
    d.resume_to_the_end()
    values = d.values()
    assert d.record(10).settings.repetition_penalty == 2.5 and d.record(10).settings.order.index("penalties") == 3
    path = tmp_path / "penalised.trace.json"
    assert d.export_trace(path)
    d.close()

    other = WindowDriver.open(qtbot, all_models, "image")
    other.replay(path)
    np.testing.assert_array_equal(other.values(), values)
    assert "identical to the trace" in other.status()
    s = other.settings()
    assert (s.repetition_penalty, s.penalty_window, s.typical_p) == (2.5, 8, 0.9) and s.order.index("penalties") == 3
    other.close()


@pytest.mark.parametrize("mode", ["image", "audio"])
def test_the_newer_stages_act_in_compiled_runs_and_replay_exactly(qtbot, all_models, mode, tmp_path):
    d = WindowDriver.open(qtbot, all_models, mode)
    d.set_run_length(audio_samples=300)
    d.set_guidance(1.0)  # off (image and audio start guided): only the stages set here act
    d.open_more_stages()
    d.set_sampler("min_p", 0.02)
    d.set_sampler("top_n_sigma", 2.0)
    d.set_sampler("typical_p", 0.95)
    d.drag_stage("temperature", len(STAGES) - 1)
    d.generate_and_wait()
    values = d.values()
    assert d.record(len(values) - 1).settings.order[-1] == "temperature"
    d.show_step(len(values) - 1)
    rec, raw = d.record(len(values) - 1), d.distributions(len(values) - 1)[0]
    st = stages(np.log(np.maximum(raw.astype(np.float64), 1e-38)), d.settings(), rec.u)
    titles = d.stage_titles()  # the trace keeps the step's full distribution: every acting stage is shown
    assert titles == counts(st) and titles[0].startswith("model") and titles[-1].startswith("temperature")
    assert [t.split()[0] for t in titles] == ["model", "typical-p", "min-p", "top-nσ", "temperature"]
    path = tmp_path / "run.trace.json"
    assert d.export_trace(path)
    d.close()
    other = WindowDriver.open(qtbot, all_models)
    other.replay(path, timeout=60_000)
    np.testing.assert_array_equal(other.values(), values)
    assert "identical to the trace" in other.status()
    other.close()


def test_the_command_line_sets_the_newer_stages_and_the_order(qtbot, all_models):
    order = ("min_p", "temperature") + tuple(s for s in DEFAULT_ORDER if s not in ("min_p", "temperature"))
    d = WindowDriver.open(qtbot, all_models, "text", initial={
        "min_p": 0.1, "typical_p": 7.0, "top_n_sigma": 1.5, "repetition_penalty": 1.2, "penalty_window": 5000,
        "order": order})
    s = d.settings()
    assert (s.min_p, s.typical_p, s.top_n_sigma, s.repetition_penalty, s.penalty_window, s.order) == (
        0.1, 1.0, 1.5, 1.2, 1024, order)
    assert "typical-p 7 is out of range: using 1" in d.sampler_note()
    assert "penalty-window 5000 is out of range: using 1024" in d.sampler_note()
    d.close()
