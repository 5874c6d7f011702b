"""The main window's menu bar and keyboard shortcuts.

SHORTCUTS is the one table of keys: the menus' actions take their keys from it, the buttons their
tooltips ("Step (Right)") and Help > Keyboard shortcuts its list. An action does what its button
does, by clicking it (the window's own method runs, as for a mouse click), and is enabled while
the button is: the buttons' EnabledChange events keep the actions in step.

Space, Left and Right are also keys that a focused field uses itself: a text field or spin box
keeps them (Qt's own ShortcutOverride), and so do sliders (Left, Right) and combo boxes and lists
(Space) here, through KeysForTheField."""

from __future__ import annotations

import importlib
import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, qVersion
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QAbstractSlider, QApplication, QComboBox, QDialog, QDialogButtonBox,
                               QFormLayout, QLabel, QVBoxLayout)

from arplayground.gui import settings_store, theme
from arplayground.gui.theme import THEME_LABELS, THEMES, apply_theme
from arplayground.gui.model_card_dialog import ModelCardDialog


@dataclass(frozen=True)
class Shortcut:
    action: str  # the name of the menu action it triggers
    keys: str  # as QKeySequence reads it, and as tooltips and Help show it
    does: str  # for Help > Keyboard shortcuts


SHORTCUTS = (
    Shortcut("play", "Space", "Generate; while a run is going, pause or resume it"),
    Shortcut("step", "Right", "Step: one value (pauses a run that is going)"),
    Shortcut("back", "Left", "Back: forget the newest step"),
    Shortcut("stop", "Esc", "Stop the run"),
    Shortcut("generate", "Ctrl+Return", "Generate a new run"),
    Shortcut("save", "Ctrl+S", "Save the sample (text, PNG or WAV)"),
    Shortcut("export", "Ctrl+E", "Export the trace of the run shown"),
    Shortcut("open_trace", "Ctrl+O", "Open a trace: its run shown at once, then Verify replay"),
    Shortcut("open_file", "Ctrl+Shift+O", "Open a PNG (Image mode) or WAV (Audio mode)"),
    Shortcut("quit", "Ctrl+Q", "Quit"),
)
KEYS = {s.action: s.keys for s in SHORTCUTS}

# The shortcuts' plain keys that a focused widget of these kinds uses itself, so they stay there.
FIELD_KEYS = ((QAbstractSlider, {Qt.Key.Key_Left, Qt.Key.Key_Right}), (QComboBox, {Qt.Key.Key_Space}),
              (QAbstractItemView, {Qt.Key.Key_Space}))
# The distributions About names with its version.
VERSIONS = ("arplayground", "PySide6", "torch", "numpy", "numba", "pyqtgraph")


class KeysForTheField(QObject):
    """Installed on the window's sliders, combo boxes and lists: when one has the focus, its own
    keys (FIELD_KEYS) go to it instead of firing a shortcut."""

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and event.modifiers() == Qt.KeyboardModifier.NoModifier:
            for kind, keys in FIELD_KEYS:
                if isinstance(obj, kind) and event.key() in keys:
                    event.accept()  # the widget takes the key: Qt does not fire the shortcut
                    return True
        return False


class EnabledWatch(QObject):
    """Calls `changed` whenever a watched button is enabled or disabled."""

    def __init__(self, changed, parent=None):
        super().__init__(parent)
        self.changed = changed

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.EnabledChange:
            self.changed()
        return False


class Menus(QObject):
    """The window's menu bar: File, View, Run, Model, Help. `actions` by name (SHORTCUTS' names,
    and about_model, shortcuts, about, reset, and one per mode: mode_text, ...)."""

    def __init__(self, window):
        super().__init__(window)
        self.window = w = window
        self.actions: dict[str, QAction] = {}
        # The button each action clicks, given the view shown: the window's, or the view's own (None: it has none).
        self.buttons = {
            "step": lambda view: w.step_button, "back": lambda view: w.back_button,
            "stop": lambda view: w.stop_button, "generate": lambda view: w.generate_button,
            "save": lambda view: view.save_button, "open_file": lambda view: view.open_button,
            "export": lambda view: w.export_trace_button, "open_trace": lambda view: w.open_trace_button,
            "sees": lambda view: w.sees_button,
        }
        self.dialogs: dict[str, QDialog] = {}  # open now: shortcuts, about, card
        bar = w.menuBar()

        file = bar.addMenu("&File")
        self._add(file, "open_trace", "Open trace…")
        self._add(file, "export", "Export trace…")
        file.addSeparator()
        self._add(file, "save", "Save sample…")
        self._add(file, "open_file", "Open file…")
        self.recent_menu = file.addMenu("Recent files")
        self.recent_menu.aboutToShow.connect(self.fill_recent)
        self.fill_recent()
        file.addSeparator()
        self._add(file, "reset", "Reset to defaults", self.reset_to_defaults)
        self._add(file, "quit", "Quit", w.close)

        view = bar.addMenu("&View")
        self.mode_group = QActionGroup(self)
        for i in range(w.mode_box.count()):
            mode = w.mode_box.itemData(i)
            action = self._add(view, f"mode_{mode}", f"{w.mode_box.itemText(i)} mode",
                               lambda _=False, index=i: w.mode_box.setCurrentIndex(index))
            action.setCheckable(True)
            self.mode_group.addAction(action)
        view.addSeparator()
        sees = self._add(view, "sees", "What it sees")
        sees.setCheckable(True)
        w.sees_button.toggled.connect(sees.setChecked)
        # The Score pane shows itself while a scored sequence is shown: nothing to toggle here.
        view.addSeparator()
        theme_menu = view.addMenu("Theme")
        self.theme_group = QActionGroup(self)
        for choice in THEMES:
            action = self._add(theme_menu, f"theme_{choice}", THEME_LABELS[choice],
                               lambda _=False, chosen=choice: self.set_theme(chosen))
            action.setCheckable(True)
            self.theme_group.addAction(action)
        self.view_menu = view

        run = bar.addMenu("&Run")
        self._add(run, "play", "Generate / Pause / Resume", self.generate_pause_resume)
        for name, text in (("generate", "Generate"), ("step", "Step"), ("back", "Back"), ("stop", "Stop")):
            self._add(run, name, text)

        model = bar.addMenu("&Model")
        self._add(model, "about_model", "About this model…", self.show_model_card)
        w.model_info.linkActivated.connect(lambda _link: self.show_model_card())

        help_menu = bar.addMenu("&Help")
        self._add(help_menu, "shortcuts", "Keyboard shortcuts…", self.show_shortcuts)
        self._add(help_menu, "about", "About arplayground", self.show_about)

        self._tooltips()
        self.keys_filter = KeysForTheField(self)
        for kind, _ in FIELD_KEYS:
            for widget in w.findChildren(kind):
                widget.installEventFilter(self.keys_filter)
        self.watch = EnabledWatch(self.refresh, self)
        for name in self.buttons:
            for view in w.views.values():  # the views' own buttons are watched whichever is shown
                button = self._button(name, view)
                if button is not None:
                    button.installEventFilter(self.watch)
        w.mode_box.currentIndexChanged.connect(self.refresh)
        w.model_box.currentIndexChanged.connect(self.refresh)
        # A WAV is opened in the background: it becomes a recent file once converted, whoever asked.
        w.views["audio"].opener.opened.connect(lambda path, *_: settings_store.add_recent(path))
        self.refresh()

    def _add(self, menu, name: str, text: str, slot=None) -> QAction:
        action = QAction(text, self.window)
        if name in KEYS:
            action.setShortcut(QKeySequence(KEYS[name]))
            self.window.addAction(action)  # the key works wherever the focus is in the window
        action.triggered.connect(slot or (lambda _=False: self.click(name)))
        menu.addAction(action)
        self.actions[name] = action
        return action

    def _button(self, name: str, view=None):
        """The button of action `name` with `view` shown (default: the view shown now)."""
        return self.buttons[name](view or self.window.current_view())

    def click(self, name: str) -> None:
        """What the button does, as a click on it: nothing while it is greyed out."""
        button = self._button(name)
        if button is not None:
            button.click()

    def generate_pause_resume(self) -> None:
        """Space: pause a run that is going, resume a paused or stopped one, else generate."""
        w = self.window
        if w.pause_button.isEnabled():
            w.pause_button.click()
        else:
            w.generate_button.click()

    def refresh(self, *_) -> None:
        """Each action enabled while its button is; the mode shown checked."""
        for name in self.buttons:
            button = self._button(name)
            self.actions[name].setEnabled(button is not None and button.isEnabled())
        w = self.window
        self.actions["play"].setEnabled(w.pause_button.isEnabled() or w.generate_button.isEnabled())
        self.actions["about_model"].setEnabled(w.current_entry() is not None)
        self.actions[f"theme_{theme.current()}"].setChecked(True)
        mode = self.actions.get(f"mode_{w.mode_box.currentData()}")
        if mode is not None:
            mode.setChecked(True)

    def _tooltips(self) -> None:
        """Each button's tooltip names its key: "Step back: … (Left)"."""
        w = self.window
        buttons = {"play": [w.pause_button], "generate": [w.generate_button]}
        for name in ("step", "back", "stop", "export", "open_trace"):
            buttons[name] = [self._button(name)]
        for name in ("save", "open_file"):
            buttons[name] = [b for b in (self._button(name, view) for view in w.views.values()) if b is not None]
        keys = {name: KEYS[name] for name in buttons}
        keys["generate"] = f"{KEYS['play']}, {KEYS['generate']}"
        for name, listed in buttons.items():
            for button in listed:
                tip = button.toolTip() or button.text().rstrip("…").replace("◀ ", "")
                button.setToolTip(f"{tip} ({keys[name]})")
                if button in w._lab_tips:  # the window puts these back after a grid's reason
                    w._lab_tips[button] = button.toolTip()

    # ------------------------------------------------------------------ recent files

    def fill_recent(self) -> None:
        """The recent files, newest first; one that is gone is listed greyed."""
        menu = self.recent_menu
        menu.clear()
        paths = settings_store.recent_files()
        for i, path in enumerate(paths, 1):
            there = os.path.isfile(path)
            action = menu.addAction(f"{i}. {Path(path).name}" + ("" if there else " (missing)"))
            action.setToolTip(path)
            action.setData(path)
            action.setEnabled(there)
            action.triggered.connect(lambda _=False, p=path: self.open_recent(p))
        if not paths:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        clear = menu.addAction("Clear recent files", self._clear_recent)
        clear.setEnabled(bool(paths))

    def _clear_recent(self) -> None:
        settings_store.clear_recent()
        self.fill_recent()

    def open_recent(self, path: str) -> bool:
        """Open a recent file as its dialog would have: a trace opens, a PNG or WAV opens in its
        mode's view (switching to that mode first). Refused as the dialog's file would be."""
        w = self.window
        kind = settings_store.RECENT_KINDS.get(Path(path).suffix.lower())
        if not os.path.isfile(path):
            w.state_label.setText(f"{Path(path).name} is no longer there: nothing opened")
            self.fill_recent()
            return False
        if kind == "trace":
            opened = w.open_trace(path)
        elif kind in w.views and w.picker.lists_mode(kind):
            w.mode_box.setCurrentIndex(w.mode_box.findData(kind))
            view = w.views[kind]
            if not view.open_button.isEnabled():
                w.state_label.setText(f"Stop the run first to open {Path(path).name}")
                return False
            if kind == "audio":
                view.start_opening(path)  # in the background; converted, it comes first in the list
                return True
            opened = view.open_image(path)
        else:
            w.state_label.setText(f"{Path(path).name}: no mode here opens it")
            return False
        if opened:
            settings_store.add_recent(path)
        return opened

    # ------------------------------------------------------------------ settings

    def set_theme(self, choice: str) -> None:
        """Light, dark or the system's (gui/theme.py), kept between launches by the settings store."""
        apply_theme(QApplication.instance(), choice)
        self.actions[f"theme_{choice}"].setChecked(True)

    def reset_to_defaults(self) -> None:
        self.window.stored.reset()
        self.fill_recent()
        self.refresh()  # the theme's check follows it back to the system's
        self.window.state_label.setText("Settings reset to defaults (nothing stored is left)")

    # ------------------------------------------------------------------ dialogs

    def _show(self, name: str, dialog: QDialog) -> QDialog:
        """Show a dialog without blocking the window; it replaces the one of its name shown before."""
        old = self.dialogs.pop(name, None)
        if old is not None:
            old.close()
            old.deleteLater()
        self.dialogs[name] = dialog
        dialog.show()
        dialog.raise_()
        return dialog

    def show_model_card(self) -> QDialog | None:
        entry = self.window.current_entry()
        if entry is None:
            return None
        return self._show("card", ModelCardDialog(entry.card, self.window, entry.parameters))

    def show_shortcuts(self) -> QDialog:
        return self._show("shortcuts", text_dialog(self.window, "Keyboard shortcuts",
                                                   [(s.keys, s.does) for s in SHORTCUTS],
                                                   "Space, Left and Right stay with a text field, spin box, "
                                                   "slider or list that has the focus."))

    def show_about(self) -> QDialog:
        rows = [(name, version_of(name)) for name in VERSIONS[:1]]
        rows += [("Python", platform.python_version()), ("Qt", qVersion())]
        rows += [(name, version_of(name)) for name in VERSIONS[1:]]
        rows.append(("Models folder", models_folder(self.window)))
        return self._show("about", text_dialog(self.window, "About arplayground", rows,
                                               "Watch autoregressive models sample, one step at a time."))


def version_of(name: str) -> str:
    """The installed distribution's version, else the imported module's (PySide6 may be installed
    as its parts, pyside6-essentials)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        try:
            return importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            return "not installed"


def models_folder(window) -> str:
    n = len(window.entries)
    return f"{Path(window.models_dir).resolve()} ({n} model card{'s' * (n != 1)})"


def text_dialog(parent, title: str, rows: list[tuple[str, str]], note: str) -> QDialog:
    """A small dialog of labelled lines (plain text) under a note, with Close."""
    dialog = QDialog(parent)
    dialog.setWindowTitle(title)
    layout = QVBoxLayout(dialog)
    heading = QLabel(note)
    heading.setWordWrap(True)
    layout.addWidget(heading)
    form = QFormLayout()
    for label, text in rows:
        value = QLabel(text)
        value.setTextFormat(Qt.TextFormat.PlainText)
        value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(f"{label}:", value)
    layout.addLayout(form)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
    buttons.rejected.connect(dialog.reject)
    layout.addWidget(buttons)
    dialog.rows = rows  # what it says, for tests and screen readers alike
    return dialog


def install_menus(window) -> Menus:
    """The menu bar, its shortcuts and the buttons' tooltips, on `window` (a MainWindow)."""
    return Menus(window)
