"""What the main window and the A/B window may ask of a mode view, written once.

A mode view (text, image, audio) is the mode's own controls and display; the windows supply the
rest (model, seed, sampler, buttons, the distribution panel, the session). Each view subclasses
ModeView: what it must answer it implements, what it may leave has a default here, so the windows
ask any view the same questions and never probe for what it happens to have.

Besides what is below, every view has:

- `controls` and `display`: its widgets (the window places them; an A/B side shows only `display`);
- `step_clicked`, a Signal(int): a step of the run shown was clicked (a character, pixel, sample);
- `mode`, `unit` (what one step emits, for "nats/char").

A view keeps no run of its own: the run is the session's trace, which holds every step's full
distributions. The view draws what the trace says (append, rewind, render) and nothing more.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal


class ModeView(QObject):
    mode: str
    unit: str

    # The view's content was drawn over, cleared or replaced by an opened file: the run shown is
    # gone, and the window forgets it. A view whose content only runs change never emits it.
    content_replaced = Signal()

    # How many runs the view shows at once: a grid of images draws one value per image per step,
    # and its trace interleaves their steps.
    lanes = 1

    # Whether play() makes a sound. Such a view has a `transport` (gui.audio_transport: Play, Stop
    # sound, the playhead, underruns), which the A/B window shows on the view's side as it is.
    can_play = False
    transport = None

    # The view's own Save… and Open… buttons, where it has them: File > Save sample… and Open file…
    # click them (gui/menus.py).
    save_button = None
    open_button = None

    # -- what each view answers -------------------------------------------------------------

    def check(self, entry) -> bool:
        """Is the view's input usable with this model (e.g. a prompt's characters)? Says why not itself."""
        raise NotImplementedError

    def prepare(self, vocab):
        """(prefix, condition, steps) for a new run from the view's controls; the display starts it."""
        raise NotImplementedError

    def prepare_replay(self, vocab, prefix, condition, n_steps: int):
        """(prefix, condition, steps) for a given prefix and condition (a trace's, an A/B side's)."""
        raise NotImplementedError

    def append(self, batch, trace) -> None:
        """Draw a worker batch of step blocks, already in `trace`, after what is shown."""
        raise NotImplementedError

    def rewind(self, steps: int) -> None:
        """Show only the run's first `steps` steps (the trace was cut to them)."""
        raise NotImplementedError

    def render(self, trace) -> None:
        """Draw `trace` whole, from nothing: a branch chosen, a trace opened."""
        raise NotImplementedError

    def show_in_panel(self, panel, trace, index: int, vocab, what_if=None) -> None:
        """Show step `index` of `trace` in the distribution panel, and mark it in the display."""
        raise NotImplementedError

    def score_input(self, vocab):
        """What Score reads: (prefix, values, condition) of the sequence the view shows or was
        given (a run, a branch, an opened file, typed text), or a sentence saying why there is none."""
        raise NotImplementedError

    def start_display(self, vocab, prefix, condition, n_steps: int) -> None:
        """Start the display for a sequence of n_steps after this prefix, under this condition (a
        scored sequence is shown next: render() draws its steps)."""
        raise NotImplementedError

    # -- what each view may leave as it is --------------------------------------------------

    def clear_note(self) -> None:
        """The note of the last action ("Saved …", "Opened …", "Edited …") is spent: the next action
        clears it (a run or replay starting, a scored sequence shown, another mode chosen)."""
        self.note.clear()

    def set_entry(self, entry) -> None:
        """The model chosen in this mode (its card: speakers, sizes)."""

    def set_running(self, running: bool) -> None:
        """A run started or ended: controls that must not change under a run are disabled."""

    def run_forgotten(self) -> None:
        """The window let go of the run shown (another mode, an edit): markers of it go."""

    def shutdown(self) -> None:
        """The window is closing: nothing the view started (sound, a file being read) outlives it."""

    def show_field(self, field, head=None) -> None:
        """What it sees: draw the field of one output (core.causality.Field) in place, the inputs
        shaded by their measured influence (or, for text, by one attention head = (layer, head));
        None clears it. An A/B side shows none."""

    def play(self) -> None:
        """Play what the display shows (where can_play)."""

    def become_side(self) -> None:
        """The view shows one side of an A/B comparison, not the main window's run: what it says
        before its first step suits that."""

    def align_with(self, other: ModeView) -> None:
        """Both sides of an A/B comparison have run: make the two displays comparable (a shared
        axis). Nothing to do by default."""
