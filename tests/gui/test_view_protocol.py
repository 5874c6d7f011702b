"""The mode views' written protocol (gui/views/base.py): every view answers what it must, the rest
has defaults, and the windows ask views through it rather than probing for methods."""

import re
from pathlib import Path

from arplayground.gui.views.audio import AudioModeView
from arplayground.gui.views.base import ModeView
from arplayground.gui.views.image import ImageModeView
from arplayground.gui.views.text import TextModeView

VIEWS = (TextModeView, ImageModeView, AudioModeView)


def test_every_mode_view_is_a_mode_view_and_answers_what_it_must():
    for cls in VIEWS:
        assert issubclass(cls, ModeView)
        for name in ("check", "prepare", "prepare_replay", "append", "rewind", "render", "show_in_panel"):
            assert getattr(cls, name) is not getattr(ModeView, name), f"{cls.__name__} lacks {name}"
        assert cls.mode in ("text", "image", "audio") and cls.unit


def test_a_view_with_no_sound_and_no_editable_content_takes_the_defaults(qtbot):
    view, other = TextModeView(), TextModeView()
    assert view.lanes == 1 and not view.can_play and AudioModeView.can_play
    forgotten = []
    view.content_replaced.connect(lambda: forgotten.append(True))  # the window connects every view's
    for call in (lambda: view.set_entry(None), view.run_forgotten, view.become_side, view.play,
                 lambda: view.align_with(other), view.shutdown):
        assert call() is None
    assert not forgotten


def test_the_windows_probe_views_for_nothing_the_protocol_declares():
    gui = Path(__file__).parents[2] / "arplayground" / "gui"
    for name in ("main_window.py", "ab_compare.py"):
        probed = set(re.findall(r"(?:hasattr|getattr)\([^,]+,\s*\"(\w+)\"", (gui / name).read_text()))
        assert not probed, f"{name} probes {probed}"


def test_no_view_keeps_a_store_of_the_run():
    # The trace is the run; a view that kept its own copy would show a stale branch after a choice.
    for cls in VIEWS:
        for gone in ("snapshot", "restore", "raw_rows", "full_distribution", "unconditional_distribution"):
            assert not hasattr(cls, gone), f"{cls.__name__} still has {gone}"
