"""The main window's parts on their own: the state label under a run's status, and a trace file
checked against the window's models and views before it may replace the run shown."""

import pytest
from PySide6.QtWidgets import QLabel

from arplayground import catalog
from arplayground.core.lab import Branch, export_trace
from arplayground.core.sampling import SamplerSettings
from arplayground.gui.run_control import StatusLine
from arplayground.gui.trace_files import Refused, check_trace_file
from arplayground.gui.views.text import TextModeView


def test_a_status_covers_the_label_and_gives_back_what_it_was_told_meanwhile(qtbot):
    label = QLabel("Ready")
    line = StatusLine(label)
    line.say("Generating…")
    line.status("Compiling…")
    assert label.text() == "Compiling…"
    line.say("Paused")  # told while covered: shown once the status ends
    assert label.text() == "Compiling…"
    line.status("")
    assert label.text() == "Paused"
    line.status("Compiling…")
    line.replace("Done: 3 steps")  # an outcome ends the status for good
    line.status("")
    assert label.text() == "Done: 3 steps"


@pytest.fixture
def text_run(tiny_models, tmp_path):
    """(entries, views, path of an exported 12-step trace of the tiny text model)."""
    entries = catalog.discover(tiny_models)
    entry = entries[0]
    run = Branch("main", (1, 2, 3), None, seed=5)
    for step in run.continuation(catalog.load_stepper(entry), 12, SamplerSettings):
        run.record_into_trace(step)
    path = tmp_path / "run.trace.json"
    export_trace(path, run, entry.name, entry.card, "text")
    return entries, {"text": TextModeView()}, path


def test_a_trace_replays_with_its_own_model_in_its_modes_view(qtbot, text_run):
    entries, views, path = text_run
    replay = check_trace_file(str(path), entries, views, lambda mode: mode == "text")
    assert replay.entry is entries[0] and replay.view is views["text"] and replay.mode == "text"
    assert replay.file_name == "run.trace.json" and len(replay.loaded.trace) == 12 and len(replay.vocab) == len(entries[0].card["vocabulary"])


def test_a_trace_the_window_cannot_replay_is_refused_with_the_reason(qtbot, text_run, tmp_path):
    entries, views, path = text_run
    with pytest.raises(Refused, match="from 'text' mode, which has no model here"):
        check_trace_file(str(path), entries, views, lambda mode: False)
    with pytest.raises(Refused, match="needs the model 'tiny-gpt', which is not available here"):
        check_trace_file(str(path), [], views, lambda mode: True)
    views["text"].length_spin.setMaximum(10)  # the longest run this view makes: shorter than the file's
    with pytest.raises(Refused, match="run.trace.json cannot be replayed with tiny-gpt: it plans 12 steps"):
        check_trace_file(str(path), entries, views, lambda mode: True)
    (tmp_path / "notes.json").write_text("[]")
    with pytest.raises(Refused, match="notes.json is not an arplayground trace"):
        check_trace_file(str(tmp_path / "notes.json"), entries, views, lambda mode: True)
