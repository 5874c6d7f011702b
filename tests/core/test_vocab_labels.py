"""Each vocabulary labels its values in the ways the GUI shows them (no view or panel spells them out)."""

from arplayground.core import mulaw
from arplayground.core.vocab import GreyLevels, MuLawLevels, Vocabulary


def test_characters_are_labelled_visibly_everywhere():
    v = Vocabulary(list(" \nab"))
    for label in (v.label, v.bar_label, v.describe, v.tick_label):
        assert [label(i) for i in range(4)] == ["␣", "⏎", "a", "b"]
    assert not v.shaded


def test_grey_levels_are_numbers_and_their_own_shade():
    g = GreyLevels()
    assert g.shaded and g.bar_label(200) == g.tick_label(200) == "200" and g.describe(200) == "grey level 200"


def test_mu_law_levels_name_their_number_and_amplitude():
    m = MuLawLevels()
    assert not m.shaded
    assert m.bar_label(96) == "96"  # short under a bar, distinct where amplitudes near silence are not
    assert m.describe(96) == f"level 96 (amplitude {mulaw.amplitude_label(96)})"
    assert m.tick_label(mulaw.SILENCE) == "0" and m.tick_label(96) == "-0.012" and m.tick_label(255) == "+1.0"
