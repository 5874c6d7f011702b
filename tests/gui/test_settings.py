"""What the window remembers between launches (gui/settings_store.py), through the real window:
stored at close, restored at start, the command line first, last folders, Reset to defaults, and a
settings file of junk that neither crashes nor breaks the window. Every test has its own file
(tests/gui/conftest.py, settings_file)."""

import os

from PySide6.QtCore import QByteArray, QSettings

from arplayground.gui.settings_store import ENV
from tests.gui.driver import WindowDriver


def test_the_store_is_the_tests_own_file(settings_file, qtbot, tiny_models):
    assert os.environ[ENV] == str(settings_file) and not settings_file.exists()
    WindowDriver.open(qtbot, tiny_models, "text").close()
    assert settings_file.is_file() and "mode=text" in settings_file.read_text()


def test_mode_models_sampler_speed_cache_and_size_come_back(qtbot, all_models):
    from tests.conftest import write_tiny_pixelcnn

    write_tiny_pixelcnn(all_models, name="zz-pixelcnn", seed=3)  # a second image model, not the default
    d = WindowDriver.open(qtbot, all_models, "image")
    d.choose_model_named("zz-pixelcnn")
    d.choose_mode("audio")
    d.set_temperature(0.7)
    d.set_top_k(5)
    d.set_guidance(2.5)
    d.set_sampler("min_p", 0.1)
    d.drag_stage("top_p", 0)
    d.set_speed_notch(3)
    d.set_cache(False)
    d.window.showMaximized()  # (offscreen, the screen is smaller than the window's least size: no size of its own fits)
    settings = d.settings()
    d.close()

    again = WindowDriver.open(qtbot, all_models)
    assert again.mode == "audio"
    assert again.settings() == settings and again.sampler_order()[0] == "top_p"
    assert again.speed_notch() == 3 and not again.cache_on()
    assert again.window.isMaximized()
    again.choose_mode("image")
    assert again.model_entry().name == "zz-pixelcnn"  # the model chosen in that mode
    again.close()


def test_guidance_set_in_image_mode_survives_closing_in_text_mode(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.set_guidance(2.0)
    d.choose_mode("text")  # guidance greyed here: it acts on nothing, but keeps its value
    d.close()
    again = WindowDriver.open(qtbot, all_models)
    assert again.mode == "text"
    again.choose_mode("image")
    assert again.settings().guidance == 2.0
    again.close()


def test_the_command_line_wins_over_what_was_stored(qtbot, all_models):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.set_temperature(0.5)
    d.set_top_p(0.8)
    d.close()
    again = WindowDriver.open(qtbot, all_models, initial={"mode": "text", "temperature": 1.5, "top_p": None})
    assert again.mode == "text" and again.settings().temperature == 1.5
    assert again.settings().top_p == 0.8  # not given on the command line: the stored one
    again.close()


def test_splitters_come_back_and_hidden_panes_stay_hidden(qtbot, tiny_models):
    d = WindowDriver.open(qtbot, tiny_models, "text")
    outer = d.window.centralWidget()
    outer.setSizes([500, 780])
    sizes = outer.sizes()
    d.close()
    again = WindowDriver.open(qtbot, tiny_models)
    assert again.window.centralWidget().sizes() == sizes
    assert not again.score_shown() and not again.sees_panel_shown()
    again.close()


def write_junk(path) -> None:
    """A settings file as a stranger might leave it: wrong types, out of range, junk bytes."""
    s = QSettings(str(path), QSettings.Format.IniFormat)
    s.setValue("speed_notch", "999")
    s.setValue("mode", "bogus")
    s.setValue("window/geometry", QByteArray(b"\x00junk bytes\xff" * 7))
    s.setValue("window/splitter0", QByteArray(b"not a splitter"))
    s.setValue("window/splitter1", "text, not bytes")
    s.setValue("cache", "perhaps")
    s.setValue("models", '{"text": "/etc/passwd", "image": 7, "audio": ["x"]}')
    s.setValue("sampler", '{"temperature": 1e308, "top_k": -5, "top_p": NaN, "guidance": "2", '
                          '"min_p": 10000000000000000000000000000000000000000000000000000000000000000000000, '
                          '"typical_p": true, "penalty_window": 99999999, "order": ["top_k", "top_k"], "extra": 1}')
    s.setValue("folders/trace", "/no/such/folder")
    s.setValue("recent/files", '["relative.json", 5, "/no/such/file.exe", "/gone/run.trace.json"]')
    s.sync()


def test_a_settings_file_of_junk_neither_crashes_nor_breaks_the_window(qtbot, all_models, settings_file):
    write_junk(settings_file)
    d = WindowDriver.open(qtbot, all_models)
    assert d.mode == "text" and d.model_entry().name == "tiny-gpt"
    assert d.speed_notch() == d.window.speed_slider.maximum() and d.cache_on()
    s = d.settings()
    assert s.temperature == 2.0 and s.top_k == 0 and s.top_p == 1.0  # clamped, or the default for NaN
    assert s.min_p == 1.0 and s.typical_p == 1.0 and s.penalty_window == 1024  # 1e70 clamped; true is no number
    assert d.sampler_order()[0] == "penalties"  # not a permutation: the default order
    assert d.recent_files() == [("1. run.trace.json (missing)", False)]
    assert d.dialog_asked_in("getOpenFileName", lambda: d.press("open")) == ""  # the folder is gone
    d.set_prompt("to be")
    d.set_length(4)
    d.generate_and_wait()
    assert d.steps() == 4
    d.close()
    assert "mode=text" in settings_file.read_text()  # written over with what the window showed


def test_a_settings_file_that_is_not_ini_at_all(qtbot, tiny_models, settings_file):
    settings_file.parent.mkdir(parents=True)
    settings_file.write_bytes(os.urandom(4096) + b"\n[General]\nmode=\xff\xfe\n" + b"=" * 1000)
    d = WindowDriver.open(qtbot, tiny_models)
    assert d.mode == "text"
    d.close()


def test_file_dialogs_start_in_the_last_folder_of_their_kind(qtbot, all_models, tmp_path):
    traces, pictures = tmp_path / "traces", tmp_path / "pictures"
    traces.mkdir()
    pictures.mkdir()
    d = WindowDriver.open(qtbot, all_models, "text")
    d.set_prompt("to be")
    d.set_length(3)
    d.generate_and_wait()
    assert d.dialog_asked_in("getSaveFileName", lambda: d.press("export"), traces / "a.trace.json") == "main.trace.json"
    assert d.dialog_asked_in("getOpenFileName", lambda: d.press("open")) == str(traces)
    assert d.dialog_asked_in("getSaveFileName", lambda: d.press("export")) == str(traces / "main.trace.json")
    d.choose_mode("image")
    image = d.view("image")
    assert d.dialog_asked_in("getSaveFileName", lambda: d.click(image.save_button), pictures / "d.png") == "digit.png"
    assert d.dialog_asked_in("getOpenFileName", lambda: d.click(image.open_button)) == str(pictures)
    d.close()
    again = WindowDriver.open(qtbot, all_models, "text")  # remembered between launches
    assert again.dialog_asked_in("getOpenFileName", lambda: again.press("open")) == str(traces)
    again.close()


def test_reset_to_defaults_forgets_the_store_and_shows_the_defaults_now(qtbot, all_models, settings_file, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.set_temperature(0.4)
    d.set_top_k(3)
    d.drag_stage("min_p", 0)
    d.set_speed_notch(2)
    d.set_cache(False)
    with d._dialog("getSaveFileName", tmp_path / "blank.png"):
        d.click(d.view("image").save_button)  # a recent file and a last folder are stored too
    d.close()
    d = WindowDriver.open(qtbot, all_models)
    assert d.mode == "image" and d.speed_notch() == 2 and d.recent_files() == [("1. blank.png", True)]
    d.choose_menu("reset")
    from arplayground.core.sampling import SamplerSettings

    assert d.mode == "text" and d.settings() == SamplerSettings()
    assert d.speed_notch() == d.window.speed_slider.maximum() and d.cache_on()
    assert d.recent_files() == [] and d.status().startswith("Settings reset to defaults")
    assert QSettings(str(settings_file), QSettings.Format.IniFormat).allKeys() == []
    d.close()
    again = WindowDriver.open(qtbot, all_models)
    assert again.mode == "text" and again.settings() == SamplerSettings()
    again.close()
