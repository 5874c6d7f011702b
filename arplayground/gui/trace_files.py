"""Trace files in the window: exporting the run shown, and checking a file to replay against this
window's models and views before anything in it changes. The file's own checks are core's
(core.lab: load_trace, check_replayable); here is what only the window knows: which of its
models and views a trace replays with, and the most a run of theirs can hold."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from arplayground import catalog
from arplayground.core.lab import Branch, check_replayable, export_trace, load_trace
from arplayground.core.session import Session
from arplayground.gui.views.base import ModeView
from arplayground.gui.views.text import PROMPT_MAX

AUDIO_KEPT_MAX = 10 * 60 * 8000  # a kept recording of ten minutes at 8 kHz


class Refused(Exception):
    """A trace not written or not opened; the message says why, for the state label."""


def replay_limits(entry: catalog.ModelEntry, view: ModeView, prefix_len: int) -> tuple[int, int, tuple]:
    """(most kept values, most steps, label counts of the condition) a single run of this model
    in this view can have: what a trace must fit before it replaces the run shown."""
    config = entry.card["config"]
    if entry.mode == "image":
        pixels = config["height"] * config["width"]
        return pixels - 1, pixels - prefix_len, (config["n_classes"],)
    if entry.mode == "audio":
        return AUDIO_KEPT_MAX, int(view.length_spin.maximum() * config["sample_rate"]) + 1, (config["n_digits"], config["n_speakers"])
    return PROMPT_MAX, view.length_spin.maximum(), ()


@dataclass(frozen=True)
class Replay:
    """A trace file that this window can replay exactly: with this model, in this view."""

    file_name: str
    loaded: Branch  # the file's branch: prefix, condition, seed, forced values, its steps
    mode: str
    entry: catalog.ModelEntry
    view: ModeView
    vocab: object  # the model's vocabulary (core.vocab)


def check_trace_file(path: str, entries: list[catalog.ModelEntry], views: dict[str, ModeView],
                     lists_mode) -> Replay:
    """The trace at `path`, checked whole, against the model it names too. `lists_mode(mode)`:
    does the window offer that mode? Raises Refused."""
    try:
        loaded, meta = load_trace(path)
    except ValueError as e:
        raise Refused(str(e)) from e
    mode, model = meta["mode"], meta["model"]
    if not lists_mode(mode):
        raise Refused(f"The trace is from {mode!r} mode, which has no model here"[:300])
    entry = catalog.entry_for_trace(entries, mode, model, meta["card"])  # two cards may share a name
    if entry is None:
        raise Refused(f"The trace needs the model {model!r}, which is not available here"[:300])
    view, vocab = views[mode], catalog.vocabulary(entry)
    try:
        check_replayable(loaded, len(vocab), *replay_limits(entry, view, len(loaded.prefix)))
    except ValueError as e:
        raise Refused(f"{Path(path).name} cannot be replayed with {model}: {e}") from e
    return Replay(Path(path).name, loaded, mode, entry, view, vocab)


def export_shown_run(path: str, session: Session, entry: catalog.ModelEntry | None, view: ModeView | None) -> str:
    """Write the session's shown branch, made by `entry` in `view`, to `path`; what the state
    label says of it. Raises Refused: nothing to export, a grid, or the file not written."""
    refusal = session.export_refusal()
    if refusal is not None:
        raise Refused(refusal)
    try:
        export_trace(path, session.branch, entry.name, entry.card, view.mode)
    except OSError as e:
        raise Refused(f"Could not write {path}: {e.strerror or e}") from e
    return f"Exported {len(session.trace)} steps of {session.branch.name} to {path}"
