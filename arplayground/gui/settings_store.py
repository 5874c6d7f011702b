"""What the window remembers between launches: its geometry and splitters, the mode, the model of
each mode, the sampler, the speed notch, the Cache switch, the theme, the last folder of each kind of file
dialog and the recent files. One QSettings ini file; $ARPLAYGROUND_SETTINGS names another (the
tests point it at a temporary file, so they never read or write a person's own).

The file comes from a stranger like any other: every value read back is checked (type, range, a
model that is listed, a folder that exists) and one that fails is left at the window's default.
Qt writes the file to a temporary file and renames it over the old one (QSaveFile)."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QApplication, QFileDialog, QSplitter

from arplayground.core.sampling import SamplerSettings
from arplayground.gui import theme
from arplayground.gui.sampler_controls import STAGES, default_settings

ENV = "ARPLAYGROUND_SETTINGS"  # the ini file to use instead of the user's own
RECENT_MAX = 8
# The files File > Recent files can open again, by suffix: what opens them.
RECENT_KINDS = {".json": "trace", ".png": "image", ".jpg": "image", ".jpeg": "image", ".bmp": "image",
                ".wav": "audio"}
JSON_MAX_CHARS = 64_000  # a stored list or table longer than this is junk, never parsed


def open_settings() -> QSettings:
    """The store, opened afresh each time (cheap), so $ARPLAYGROUND_SETTINGS is read when used."""
    path = os.environ.get(ENV)
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "arplayground", "arplayground")


def _json(settings: QSettings, key: str):
    """A value stored as JSON text; None when absent, too long or not JSON."""
    text = settings.value(key)
    if not isinstance(text, str) or len(text) > JSON_MAX_CHARS:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _whole(value, low: int, high: int) -> int | None:
    """A whole number in [low, high] as the ini file gives it back (text), else None."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 12:
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high else None


def _switch(value) -> bool | None:
    if isinstance(value, bool):
        return value
    return {"true": True, "false": False}.get(value) if isinstance(value, str) else None


def _finite(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:  # an int of 400 digits
        return False


# ------------------------------------------------------------------ file dialogs and recent files

def last_folder(kind: str) -> str:
    """The folder the last `kind` dialog ("trace", "image", "audio", "text") chose, while it exists."""
    folder = open_settings().value(f"folders/{kind}")
    return folder if isinstance(folder, str) and os.path.isdir(folder) else ""


def _chosen(kind: str, path: str) -> str:
    """A dialog chose `path`: its folder is the next dialog's of this kind. (The file becomes a recent
    one once it has been opened or saved: add_recent, at each call.)"""
    if path:
        open_settings().setValue(f"folders/{kind}", str(Path(path).parent))
    return path


def ask_open_path(parent, kind: str, title: str, filters: str) -> str:
    """QFileDialog.getOpenFileName in the last folder of this kind; "" when cancelled."""
    path, _ = QFileDialog.getOpenFileName(parent, title, last_folder(kind), filters)
    return _chosen(kind, path)


def ask_save_path(parent, kind: str, title: str, name: str, filters: str) -> str:
    """QFileDialog.getSaveFileName offering `name` in the last folder of this kind; "" when cancelled."""
    return ask_save_path_and_filter(parent, kind, title, name, filters)[0]


def ask_save_path_and_filter(parent, kind: str, title: str, name: str, filters: str) -> tuple[str, str]:
    """ask_save_path, and the filter chosen (a dialog offering two ways to write the file: Export trace)."""
    folder = last_folder(kind)
    path, chosen = QFileDialog.getSaveFileName(parent, title, os.path.join(folder, name) if folder else name, filters)
    return _chosen(kind, path), chosen


def recent_files() -> list[str]:
    """The recent files, newest first: at most RECENT_MAX absolute paths of a kind that reopens."""
    stored = _json(open_settings(), "recent/files")
    paths = [p for p in stored if isinstance(p, str) and os.path.isabs(p) and Path(p).suffix.lower() in RECENT_KINDS
             and "\0" not in p] if isinstance(stored, list) else []
    return list(dict.fromkeys(paths))[:RECENT_MAX]


def add_recent(path: str) -> None:
    """`path` was opened or saved: first in the recent files (a kind that does not reopen is left out)."""
    if Path(path).suffix.lower() not in RECENT_KINDS:
        return
    path = os.path.abspath(path)
    paths = [path] + [p for p in recent_files() if p != path]
    open_settings().setValue("recent/files", json.dumps(paths[:RECENT_MAX]))


def clear_recent() -> None:
    open_settings().remove("recent/files")


# ------------------------------------------------------------------ the window's state

class WindowSettings:
    """Restores the window's remembered state at start (restore()) and stores it at close
    (save()); reset() forgets it all and puts the controls back to their defaults now."""

    def __init__(self, window):
        self.window = window

    def _splitters(self) -> list[QSplitter]:
        """The window's splitters, outermost first (the controls beside the displays, then the panes)."""
        central = self.window.centralWidget()
        return ([central] if isinstance(central, QSplitter) else []) + central.findChildren(QSplitter)

    def save(self) -> None:
        w, s = self.window, open_settings()
        s.setValue("window/geometry", w.saveGeometry())
        for i, splitter in enumerate(self._splitters()):
            s.setValue(f"window/splitter{i}", splitter.saveState())
        s.setValue("mode", w.mode_box.currentData())
        s.setValue("models", json.dumps({mode: str(path) for mode, path in w.picker.chosen_models.items()}))
        # What the sliders show, a disabled one too (guidance in Text mode keeps the value set in Image mode).
        shown = {stage.key: w.sampler.sliders[stage.key].value() for stage in STAGES}
        s.setValue("sampler", json.dumps(SamplerSettings(**shown, order=w.sampler.order()).to_dict()))
        s.setValue("guidance_by_mode", json.dumps(w.sampler.guidance_by_mode()))
        s.setValue("speed_notch", w.speed_slider.value())
        s.setValue("cache", w.cache_box.isChecked())
        s.setValue("theme", theme.current())
        s.sync()

    def restore(self) -> None:
        """Put back what was stored, each value checked; the command line's settings come after."""
        w, s = self.window, open_settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            w.restoreGeometry(geometry)  # junk bytes: refused by Qt, the window keeps its size
        for i, splitter in enumerate(self._splitters()):
            state = s.value(f"window/splitter{i}")
            if isinstance(state, QByteArray):
                splitter.restoreState(state)  # junk: refused by Qt, as the geometry's
        models = _json(s, "models")
        if isinstance(models, dict):
            listed = {str(e.card_path): e for e in w.entries if e.available}
            for mode, path in models.items():
                entry = listed.get(path) if isinstance(path, str) else None
                if entry is not None and entry.mode == mode:
                    w.picker.chosen_models[mode] = entry.card_path
        mode = s.value("mode")
        index = w.mode_box.findData(mode) if isinstance(mode, str) else -1
        if index >= 0 and index != w.mode_box.currentIndex():
            w.mode_box.setCurrentIndex(index)  # fills its models, choosing the one stored for it
        else:
            w._fill_models()
        self._restore_sampler(_json(s, "sampler"))
        self._restore_guidance(_json(s, "guidance_by_mode"))
        notch = _whole(s.value("speed_notch"), w.speed_slider.minimum(), w.speed_slider.maximum())
        if notch is not None:
            w.speed_slider.setValue(notch)
        cache = _switch(s.value("cache"))
        if cache is not None:
            w.cache_box.setChecked(cache)
        chosen = s.value("theme")
        if chosen in theme.THEMES and chosen != theme.current():
            theme.apply_theme(QApplication.instance(), chosen)

    def _restore_sampler(self, stored) -> None:
        if not isinstance(stored, dict):
            return
        sampler = self.window.sampler
        known = SamplerSettings().to_dict()
        values = {k: v for k, v in stored.items() if k in known and k != "order" and _finite(v)}
        values = {k: int(v) if isinstance(known[k], int) else float(v) for k, v in values.items()}
        order = stored.get("order")
        settings = SamplerSettings(**values, order=tuple(order) if isinstance(order, list) else known["order"])
        sampler.set_settings(settings.clamped(sampler.top_k.maximum()))

    def _restore_guidance(self, stored) -> None:
        """Each guided mode's own guidance (the sampler keeps one per mode), each clamped as the slider's."""
        if not isinstance(stored, dict):
            return
        slider = self.window.sampler.guidance
        self.window.sampler.set_guidance_by_mode({
            mode: min(max(float(v), slider.minimum()), slider.maximum())
            for mode, v in stored.items() if isinstance(mode, str) and _finite(v)})

    def reset(self) -> None:
        """Forget everything stored (recent files too) and show the defaults: the first mode, each
        mode's default model, the sampler's defaults, the fastest speed, the Cache on."""
        open_settings().clear()
        w = self.window
        w.picker.chosen_models.clear()
        if w.mode_box.currentIndex() != 0:
            w.mode_box.setCurrentIndex(0)
        else:
            w._fill_models()
        w.sampler.set_settings(default_settings(w.mode_box.currentData()))
        w.sampler.set_guidance_by_mode({})  # every mode back to its measured guidance
        w.speed_slider.setValue(w.speed_slider.maximum())
        w.cache_box.setChecked(True)
        if theme.current() != "system":
            theme.apply_theme(QApplication.instance(), "system")

