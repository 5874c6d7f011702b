"""GUI tests: fail any test that leaves a QThread running behind it."""

import gc
import warnings

import pytest
from PySide6.QtCore import QThread

from arplayground.gui.app import configure_runtime
from arplayground.gui.collector import collect_on_gui_thread
from arplayground.gui.settings_store import ENV as SETTINGS_ENV
from tests.conftest import write_tiny_pixelcnn, write_tiny_wavenet

configure_runtime()  # the same process settings as the app


@pytest.fixture(scope="session", autouse=True)
def gc_on_the_gui_thread(qapp):
    """As the app does: no Qt object may be destroyed by a collection on a worker thread."""
    collector = collect_on_gui_thread(qapp)
    yield
    collector.stop()  # the tests after these run with Python's usual collector


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    """Each test's own settings file: never the user's, and no test's stored mode or sliders reach the next."""
    path = tmp_path / "settings" / "arplayground.ini"
    monkeypatch.setenv(SETTINGS_ENV, str(path))
    return path


@pytest.fixture(autouse=True)
def no_thread_left_running(qtbot):
    yield
    qtbot.wait(10)  # let queued end-of-run signals land
    with warnings.catch_warnings():  # isinstance() pokes torch's deprecated lazy attributes
        warnings.simplefilter("ignore")
        running = [t for t in gc.get_objects() if isinstance(t, QThread) and t.isRunning()]
    names = [t.objectName() for t in running]
    for t in running:  # clean up so one failure does not cascade
        t.quit()
        t.wait(5000)
    assert not running, f"test left QThreads running: {names}"


@pytest.fixture
def all_models(tiny_models):
    """A folder with a tiny model for every mode."""
    write_tiny_pixelcnn(tiny_models)
    write_tiny_wavenet(tiny_models)
    return tiny_models
