"""The sampler controls widget on its own: one slider per stage, settings in and out, clamped visibly."""

import math

from arplayground.core.sampling import GUIDANCE_MAX, SamplerSettings
from arplayground.gui.sampler_controls import STAGES, SamplerControls


def controls(qtbot) -> SamplerControls:
    w = SamplerControls()
    qtbot.addWidget(w)
    return w


def test_settings_round_trip_and_every_move_is_announced(qtbot):
    w = controls(qtbot)
    assert w.settings() == SamplerSettings()  # every stage starts off
    assert [s.key for s in STAGES] == list(w.sliders)  # one slider per stage, in the order they act
    moves = []
    w.changed.connect(lambda: moves.append(w.settings()))
    chosen = SamplerSettings(temperature=0.35, top_k=7, top_p=0.9, guidance=2.5)
    w.set_settings(chosen)
    assert w.settings() == chosen and moves[-1] == chosen
    w.temperature.setValue(0.8)
    assert moves[-1].temperature == 0.8 and type(w.settings().top_k) is int


def test_top_k_reaches_the_vocabulary_and_a_larger_k_is_clamped_with_a_note(qtbot):
    w = controls(qtbot)
    w.show()
    w.set_vocabulary_size(256)
    w.top_k.setValue(100)
    assert w.note.isHidden()
    w.set_vocabulary_size(65)
    assert w.settings().top_k == 65
    assert w.note.isVisible() and w.note.text() == "top-k 100 is more than the vocabulary: using 65"


def test_guidance_without_a_condition_is_off_and_says_why(qtbot):
    w = controls(qtbot)
    w.show()
    w.guidance.setValue(3.0)
    w.set_guidable(False)
    assert not w.guidance.isEnabled() and "has none" in w.guidance.toolTip()
    assert w.guidance.value() == 3.0 and w.settings().guidance == 1.0  # keeps its place, acts on nothing
    w.set_guidable(True)
    assert w.guidance.isEnabled() and "any digit" in w.guidance.toolTip() and w.settings().guidance == 3.0
    w.set_guidable(False, hide=True)  # the A/B sides: no row at all
    assert not w.guidance.isVisible()


def test_command_line_values_are_clamped_into_range_with_a_note_each(qtbot):
    w = controls(qtbot)
    notes = w.apply({"temperature": 7.5, "top_p": 0.5, "guidance": math.nan, "top_k": -3})
    s = w.settings()
    assert (s.temperature, s.top_p, s.guidance, s.top_k) == (2.0, 0.5, 1.0, 0)
    assert notes == ["temperature 7.5 is out of range: using 2", "top-k -3 is out of range: using 0"]
    assert w.apply({"guidance": 9.0}) == [f"guidance 9 is out of range: using {GUIDANCE_MAX:g}"]
