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


def test_the_newer_stages_and_the_order_round_trip_and_every_move_is_announced(qtbot):
    from PySide6.QtCore import QModelIndex

    from arplayground.core.sampling import DEFAULT_ORDER, STAGES as CHAIN

    w = controls(qtbot)
    w.show()
    assert not w.order_list.isVisible() and "More stages" in w.more_button.text()
    w.show_more(True)
    assert w.order_list.isVisible() and w.min_p.isVisible()
    chosen = SamplerSettings(temperature=0.7, min_p=0.1, typical_p=0.8, top_n_sigma=1.5, repetition_penalty=1.4,
                             penalty_window=16, order=tuple(reversed(CHAIN)))
    moves = []
    w.changed.connect(lambda: moves.append(w.settings()))
    w.set_settings(chosen)
    assert w.settings() == chosen and moves[-1] == chosen and w.order() == tuple(reversed(CHAIN))
    assert w.order_list.model().moveRow(QModelIndex(), 0, QModelIndex(), 3)  # as a drop moves a row
    assert moves[-1].order[2] == CHAIN[-1] and sorted(moves[-1].order) == sorted(CHAIN)
    w.set_order(["nonsense"])
    assert w.order() == DEFAULT_ORDER
    off = [w.order_list.item(i).text() for i in range(w.order_list.count())]
    assert "top-k  (off)" in off and "temperature" in off


def test_the_repetition_penalty_is_off_outside_text_and_says_why(qtbot):
    w = controls(qtbot)
    w.show()
    w.show_more(True)
    w.repetition_penalty.setValue(2.0)
    assert w.settings().repetition_penalty == 2.0
    w.set_penalisable(False)
    assert not w.repetition_penalty.isEnabled() and "Text only" in w.repetition_penalty.toolTip()
    assert w.settings().repetition_penalty == 1.0 and w.repetition_penalty.isVisible()
    w.set_penalisable(False, hide=True)  # the A/B sides of an image or audio run: no rows at all
    assert not w.repetition_penalty.isVisible() and not w.penalty_window.isVisible()
    w.set_penalisable(True)
    assert w.repetition_penalty.isVisible() and w.settings().repetition_penalty == 2.0


def test_command_line_values_for_the_newer_stages_are_clamped_with_a_note(qtbot):
    from arplayground.core.sampling import parse_order

    w = controls(qtbot)
    notes = w.apply({"min_p": 3.0, "top_n_sigma": math.nan, "repetition_penalty": 0.5, "order": parse_order("min_p")})
    s = w.settings()
    assert (s.min_p, s.top_n_sigma, s.repetition_penalty, s.order[0]) == (1.0, 0.0, 1.0, "min_p")
    assert notes == ["min-p 3 is out of range: using 1", "repetition-penalty 0.5 is out of range: using 1"]


def test_a_drop_made_of_a_copy_and_a_removal_is_announced_once_whole(qtbot):
    w = controls(qtbot)
    moves = []
    w.changed.connect(lambda: moves.append(w.order()))
    last = w.order_list.count() - 1
    w.order_list.insertItem(0, w.order_list.item(last).clone())  # the copy: the list names a stage twice
    assert moves == []
    w.order_list.takeItem(last + 1)  # the old row goes: a permutation again
    assert len(moves) == 1 and moves[0][0] == w.order()[0] and sorted(moves[0]) == sorted(w.order())
