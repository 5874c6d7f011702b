"""The lab's A/B window and named branches, in the real window with every mode's view."""

import numpy as np
import pytest
import shiboken6

from tests.gui.helpers import click, generate_and_wait, open_window, set_run_length


def start_run(qtbot, w, mode, text_steps=30):
    set_run_length(w, mode, text_steps=text_steps, audio_samples=32)
    generate_and_wait(qtbot, w)


def ab_shows(ab_side, mode, vocab):
    """What one side's view shows: the whole sequence, kept prefix and continuation, from the widgets."""
    view = ab_side.view
    if mode == "text":
        return vocab.encode(view.pane.toPlainText())
    if mode == "image":
        return view.canvas.image.reshape(-1)[: view.canvas.known].tolist()
    return view.levels[: view.generated_until].tolist()


@pytest.mark.parametrize("mode", ["text", "image", "audio"])
def test_ab_draws_two_continuations_of_the_shown_step_with_the_same_random_numbers(qtbot, all_models, mode):
    w = open_window(qtbot, all_models, mode)
    assert not w.ab_button.isEnabled()  # nothing to compare yet
    start_run(qtbot, w, mode)
    run = w.trace.values.copy()
    assert w.ab_button.isEnabled()
    click(qtbot, w.ab_button)  # a finished run showing its last step: A/B starts at step 1
    assert w.ab_window.start_spin.value() == 1
    first_view = w.ab_window.a.view
    w.show_step(9)
    click(qtbot, w.ab_button)  # a step chosen: A/B starts there
    ab = w.ab_window
    # The replaced window took its views with it, the controls they never showed included: left
    # behind, Qt deleted them again at exit and the test process died with a segfault.
    qtbot.waitUntil(lambda: not shiboken6.isValid(first_view.controls), timeout=5_000)
    assert not shiboken6.isValid(first_view.display)
    assert ab is not None and ab.isVisible() and ab.start_spin.value() == 10
    assert ab.a.settings() == w.settings()  # A: the run's own settings
    if mode == "audio":  # before Run A/B: no "Pick a digit and a speaker, then Generate" (it has neither)
        assert ab.a.view.readout.text() == "Run A/B to hear and see this side."
    assert ab.a.guidance.isVisibleTo(ab) == (mode != "text")  # guidance: only with a digit to guide by
    ab.b.temperature.setValue(0.0)  # B: greedy
    click(qtbot, ab.run_button)
    qtbot.waitUntil(lambda: not ab.is_running() and ab.run_button.isEnabled(), timeout=30_000)
    a, b = ab.a.trace, ab.b.trace
    assert len(a) == len(b) == w.n_steps - 9
    # Same seed and settings as the run: A redraws exactly what the run drew from step 10 on.
    np.testing.assert_array_equal(a.values, run[9:])
    # The same random number at every step on both sides; B, greedy, always took the most likely value.
    np.testing.assert_array_equal(a.column("u"), b.column("u"))
    assert (b.column("rank") == 0).all()
    assert not np.array_equal(a.values, b.values)
    # Side by side: both views show the shared start, then their own continuation.
    kept = list(w.branch.history(9))
    assert ab_shows(ab.a, mode, w.vocab) == kept + a.values.tolist()
    assert ab_shows(ab.b, mode, w.vocab) == kept + b.values.tolist()
    assert f"NLL {a.nll():.3f}" in ab.a.nll_label.text() and f"NLL {b.nll():.3f}" in ab.b.nll_label.text()
    if mode == "audio":  # one amplitude axis for both waveforms, holding the louder of the two
        from arplayground.core.mulaw import encode

        quiet = encode(np.full(len(ab.b.view.levels), 0.01))
        ab.b.view.levels = quiet
        ab.b.view._redraw(grow_only=False)  # B's clip now peaks at 0.01
        assert ab.b.view.amplitude_scale < ab.a.view.amplitude_scale
        ab.b.finished.emit()
        ranges = [side.view.plot.getPlotItem().vb.viewRange()[1] for side in (ab.a, ab.b)]
        assert ranges[0] == pytest.approx(ranges[1])
        assert ab.a.view.amplitude_scale == ab.b.view.amplitude_scale >= float(np.abs(ab.a.view.curve.getData()[1]).max())
    first = int(np.flatnonzero(a.values != b.values)[0])
    assert f"diverge at step {9 + first + 1} of the run;" in ab.summary.text()
    assert f"A {a.nll():.3f}, B {b.nll():.3f}" in ab.summary.text()
    # A click on either side's step 3 compares what the two sides drew there.
    ab.b.view.step_clicked.emit(2)
    for name, t in (("A", a), ("B", b)):
        assert f"{name} drew {w.vocab.label(t[2].value)} (p = {t[2].prob:.3f}" in ab.step_label.text()
    assert ab.step_label.text().startswith("Step 12 of the run:")
    # The run in the main window is untouched.
    np.testing.assert_array_equal(w.trace.values, run)
    w.close()
    assert not ab.is_running()


def test_ab_with_equal_settings_draws_equal_sides_and_is_off_while_streaming(qtbot, all_models):
    w = open_window(qtbot, all_models)
    w.prompt_edit.setPlainText("to be")
    w.length_spin.setValue(300)
    w.speed_slider.setValue(0)  # 1 step a second: the run is still streaming below; A/B runs at full speed
    click(qtbot, w.generate_button)
    qtbot.waitUntil(lambda: len(w.trace) >= 1, timeout=10_000)
    assert not w.ab_button.isEnabled()
    click(qtbot, w.pause_button)
    assert w.ab_button.isEnabled()
    ab = w.open_ab()
    ab.start_spin.setValue(1)
    ab.b.set_settings(ab.a.settings())
    click(qtbot, ab.run_button)
    qtbot.waitUntil(lambda: not ab.is_running() and ab.run_button.isEnabled(), timeout=60_000)
    np.testing.assert_array_equal(ab.a.trace.values, ab.b.trace.values)
    assert "A and B drew the same 300 values" in ab.summary.text()
    second = w.open_ab()  # a new comparison replaces the old window, which is deleted
    qtbot.waitUntil(lambda: w.ab_window is second, timeout=5_000)
    second.close()
    qtbot.waitUntil(lambda: w.ab_window is None, timeout=5_000)
    click(qtbot, w.stop_button)
    w.close()


def test_branches_can_be_renamed_and_keep_their_family(qtbot, all_models, tmp_path):
    from arplayground.core.lab import load_trace

    w = open_window(qtbot, all_models)
    start_run(qtbot, w, "text", text_steps=12)
    assert w.rename_branch("careful")
    w.show_step(3)
    w.panel.value_clicked.emit(int(w.trace[3].top_values[2]))  # a branch at step 4
    qtbot.waitUntil(lambda: len(w.trace) == 4, timeout=10_000)
    assert w.branch.parent == "careful"
    assert w.rename_branch("wild")
    assert not w.rename_branch("careful") and "already a branch called careful" in w.state_label.text()
    texts = [w.branch_box.itemText(i) for i in range(w.branch_box.count())]
    assert texts[0].startswith("careful") and texts[1].startswith("wild (from careful at step 4")
    w.branch_box.activated.emit(0)  # switch back by its new name
    assert w.branch.name == "careful" and len(w.trace) == 12
    assert w.rename_branch("calm")
    assert w.branches["wild"].parent == "calm"
    path = tmp_path / "calm.trace.json"
    assert w.export_trace(str(path))
    assert load_trace(path)[0].name == "calm"
    w.close()
