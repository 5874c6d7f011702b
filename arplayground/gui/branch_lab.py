"""The lab: what a person does with a single run that is paused or done. Step back (forget the
newest step), force another value at the shown step (a new branch; the run shown is kept), choose
a branch in the list, rename it, and compare two settings from the shown step (the A/B window).
The session decides (core/session.py); the lab asks it and redraws the window."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from arplayground.gui.ab_compare import ABWindow


class BranchLab:
    """The lab's actions on the main window (which imports this module): its session, the view
    of the run, the branch list, the timeline, the panel through show_step(), the state label."""

    def __init__(self, window):
        self.window = window
        self.ab_window: ABWindow | None = None

    def refresh_branch_box(self) -> None:
        """One line per branch: where it forked, what it forced, its length and NLL, for comparing."""
        w = self.window
        box = w.branch_box
        box.blockSignals(True)
        box.clear()
        for name, text in w.session.branch_lines(w.vocab.label if w.vocab is not None else None):
            box.addItem(text, name)
        box.setCurrentIndex(box.findData(w.branch.name))
        box.blockSignals(False)

    # ------------------------------------------------------------------ back

    def back(self) -> None:
        """Step back: forget the newest step. The model is re-primed on what is kept (one
        teacher-forced pass) when Step or Resume continues, and meets the same random numbers."""
        if self.window.can_go_back():
            self.rewind_to(len(self.window.trace) - 1)

    def rewind_to(self, kept: int) -> None:
        w = self.window
        w._halt()
        kept = w.session.rewind(kept)
        w.running_view.rewind(kept)
        w.timeline.refresh()
        self.refresh_branch_box()  # the branch's length and NLL
        w._show_paused(True)
        w.panel_refresh.stop()
        if kept:
            w.show_step(kept - 1)
        w._show_stats()
        w.state_label.setText(f"Back at step {kept}: Step or Resume continues from here")
        w._update_buttons()

    # ------------------------------------------------------------------ branches

    def can_branch(self) -> bool:
        return self.window.has_single_run() and not self.window.streaming()

    def branch_here(self, value: int) -> None:
        """Force `value` at the shown step in a new branch and draw it; the current branch is kept."""
        w = self.window
        index = w.shown_index
        if index is None or not self.can_branch() or index >= len(w.trace):
            return
        if value == w.trace[index].value:
            w.state_label.setText(f"Step {index + 1} already drew that value")
            return
        w._halt()
        w.causality.clear()  # the field shown was of the branch left
        name = w.session.fork(index, value).name
        w.timeline.set_trace(w.trace, planned_steps=w.n_records)  # a branch runs to the same length
        w.running_view.rewind(index)
        self.refresh_branch_box()
        w.resume(paused=True)
        w.run_control.step_once()  # the forced step itself; Step / Resume continue
        w.state_label.setText(f"{name}: {w.vocab.label(value)} forced at step {index + 1}")

    def on_branch_chosen(self, row: int) -> None:
        w = self.window
        name = w.branch_box.itemData(row)
        if w.branch is None or name == w.branch.name or name not in w.branches:
            return
        w._halt()
        w.causality.clear()
        w.session.choose(name)
        w.timeline.set_trace(w.trace, planned_steps=w.n_records)
        b = w.branch  # branches may differ in start and length (a scored one beside a run)
        w.running_view.start_display(w.vocab, b.prefix, b.condition, max(w.n_steps, len(w.trace)))
        w.running_view.render(w.trace)  # drawn from the chosen branch's trace
        w._show_paused(w.resumable)  # an unfinished branch continues with one click on Resume
        self.refresh_branch_box()
        if len(w.trace):
            w.show_step(len(w.trace) - 1)
        w._show_stats()
        w.score.refresh()
        w.state_label.setText(f"Showing {name}")
        w._update_buttons()

    def rename_dialog(self) -> None:
        w = self.window
        if w.branch is None:
            return
        name, ok = QInputDialog.getText(w, "Rename branch", "Name", text=w.branch.name)
        if ok:
            self.rename_branch(name)

    def rename_branch(self, name: str) -> bool:
        """Give the shown branch a name of its own (unique; its children follow it)."""
        w = self.window
        old = w.branch.name
        refused = w.session.rename(name)
        if refused:
            w.state_label.setText(refused)
        if refused or w.branch.name == old:
            return False
        self.refresh_branch_box()
        w.state_label.setText(f"{old} is now called {w.branch.name}")
        return True

    # ------------------------------------------------------------------ A/B

    def open_ab(self) -> ABWindow | None:
        """The A/B window for this run, starting at the shown step; at the first step when none was
        chosen (nothing shown yet, or a finished run still showing its last step)."""
        w = self.window
        if not w.has_single_run() or w.streaming():
            return None
        if self.ab_window is not None:
            self.ab_window.close()
        start, settings_a = w.session.ab_start(w.shown_index)
        # Side A starts as the run itself (the settings its first compared step was drawn with),
        # side B as the sliders are now, the settings being explored (another temperature if the same).
        if settings_a is None:
            settings_a = w.settings()
        ab = ABWindow(w.running_view, w.running_entry, w.vocab, w.branch, w.n_steps,
                      start, settings_a, w.settings(), parent=w)
        ab.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # its views and models go with it
        ab.destroyed.connect(lambda _=None, ab=ab: self._forget_ab(ab))
        self.ab_window = ab
        ab.show()
        return ab

    def _forget_ab(self, ab) -> None:
        if self.ab_window is ab:
            self.ab_window = None

    def close_ab(self) -> None:
        if self.ab_window is not None:
            self.ab_window.close()
