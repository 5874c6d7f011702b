"""Trace files in the window: Export writes readable JSON (compact on request, a grid's images
too); Open shows the file's run at once, without re-computing it, then offers Verify replay,
which re-computes it off the GUI thread and says whether every value matched."""

import json

import numpy as np

from tests.gui.driver import WindowDriver, view_shows


def text_trace(qtbot, folder, tmp_path, steps=30, stop_at=None):
    """A text run of `steps` (stopped after `stop_at` when given), exported plain: its path, values, text."""
    d = WindowDriver.open(qtbot, folder)
    d.set_prompt("to be")
    d.set_seed(5)
    d.set_run_length(text_steps=steps)
    if stop_at is None:
        d.generate_and_wait()
    else:
        d.step_times(stop_at)
        d.click_stop()
    path = tmp_path / "run.trace.json"
    assert d.export_trace(path)
    values, text = d.values(), d.text_shown()
    d.close()
    return path, values, text


def test_an_opened_trace_is_shown_whole_at_once_then_verified_on_request(qtbot, all_models, tmp_path):
    path, values, text = text_trace(qtbot, all_models, tmp_path)
    doc = json.loads(path.read_text())
    assert doc["trace"]["columns"]["value"] == values.tolist()  # readable: plain numbers
    assert doc["trace"]["distributions"] == "full" and len(doc["trace"]["columns"]["raw"][0]) == 61

    other = WindowDriver.open(qtbot, all_models, "image")
    assert other.open_trace(path)
    # No worker ran: the run is there the moment the file is opened.
    assert not other.running() and other.steps() == 30 and other.mode == "text"
    np.testing.assert_array_equal(other.values(), values)
    assert other.text_shown() == text and other.shown_values() == values.tolist()
    assert other.shown_step() == 29 and other.panel_title().startswith("step 30")
    assert other.figures().startswith("step 30 / 30")
    assert other.status() == "Opened run.trace.json: 30 steps of tiny-gpt, not yet verified · Verify replay"
    assert other.can_verify()
    said = other.verify_replay()
    assert said == "Verified run.trace.json: Replayed 30 steps: identical to the trace"
    np.testing.assert_array_equal(other.values(), values)  # verifying leaves the run shown as it was
    other.close()


def test_verify_says_where_a_trace_that_the_model_does_not_reproduce_parts_from_it(qtbot, all_models, tmp_path):
    path, values, _ = text_trace(qtbot, all_models, tmp_path)
    doc = json.loads(path.read_text())
    doc["trace"]["columns"]["value"][6] = int(values[6] + 1) % 61  # a value this model would not have drawn there
    path.write_text(json.dumps(doc))
    d = WindowDriver.open(qtbot, all_models)
    assert d.open_trace(path) and d.values()[6] == (values[6] + 1) % 61  # shown as the file says
    assert d.verify_replay().endswith("NOT identical; differs from the file at step 7")
    d.close()


def test_an_opened_trace_steps_back_branches_and_resumes_as_a_run_does(qtbot, all_models, tmp_path):
    path, values, _ = text_trace(qtbot, all_models, tmp_path, steps=40, stop_at=20)
    whole = WindowDriver.open(qtbot, all_models)  # the same run left to finish
    whole.set_prompt("to be")
    whole.set_seed(5)
    whole.set_run_length(text_steps=40)
    whole.generate_and_wait()
    full = whole.values()
    whole.close()
    np.testing.assert_array_equal(full[:20], values)

    d = WindowDriver.open(qtbot, all_models)
    assert d.open_trace(path) and d.steps() == 20 and d.planned_steps() == 40 and d.can_resume()
    d.resume_to_the_end()  # from the file's end, with its seed
    np.testing.assert_array_equal(d.values(), full)
    d.click_back()
    assert d.steps() == 39
    d.show_step(9)
    d.click_bar(int(d.record(9).top_values[1]))  # a branch at step 10
    d.wait_for_steps(10)
    assert d.branch_name() == "branch 1" and d.branch_family() == ("main", 9)
    assert d.can_verify()  # the file's run can still be verified: it is the file, not what is shown, that replays
    assert d.verify_replay() == "Verified run.trace.json: Replayed 20 steps: identical to the trace"
    d.close()


def test_a_compact_trace_is_base64_and_opens_the_same(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models)
    d.set_run_length(text_steps=25)
    d.generate_and_wait()
    values = d.values()
    plain, compact = tmp_path / "plain.trace.json", tmp_path / "compact.trace.json"
    assert d.export_trace(plain) and d.export_compact_trace(compact)
    assert d.status().endswith(", compact (base64)")
    doc = json.loads(compact.read_text())
    assert doc["trace"]["encoding"] == "base64" and "base64" in doc["trace"]["columns"]["value"]
    assert compact.stat().st_size < plain.stat().st_size
    assert d.open_trace(compact)
    np.testing.assert_array_equal(d.values(), values)
    d.close()


def test_a_grid_is_exported_as_one_trace_and_opens_as_the_grid(qtbot, all_models, tmp_path):
    d = WindowDriver.open(qtbot, all_models, "image")
    d.choose_grid("2 x 2")
    d.choose_digit(3)
    d.set_guidance(1.5)
    d.generate_and_wait()
    assert d.can("export") and not d.can("back")  # Export only: the lab stays single-run
    path = tmp_path / "grid.trace.json"
    assert d.export_trace(path)
    # Guided, each of its 3,136 steps keeps two full distributions: past PLAIN_MAX_NUMBERS, so compact.
    assert d.status() == (f"Exported 784 steps in each of 4 images of main to {path}, compact (base64): "
                          "as plain JSON it would hold 1,790,656 numbers, more than 1,000,000")
    values, images = d.values(), d.view().canvas.images.copy()
    d.close()
    doc = json.loads(path.read_text())
    assert doc["branch"]["lanes"] == 4 and doc["condition"] == [3, 3, 3, 3] and doc["trace"]["columns"]["value"]["shape"] == [4 * 784]

    other = WindowDriver.open(qtbot, all_models, "text")
    assert other.open_trace(path) and other.mode == "image"
    view = other.view()
    assert view.lanes == 4 and view.grid_box.currentText() == "2 x 2" and view.digit_box.currentData() == 3
    np.testing.assert_array_equal(view.canvas.images, images)
    np.testing.assert_array_equal(other.values(), values)
    assert view_shows(view, other.window.vocab) == values[::4].tolist()  # the first image, its pixels in order
    assert other.status().startswith("Opened grid.trace.json: 784 steps in each of 4 images of tiny-pixelcnn")
    assert other.can("export") and not other.can("back") and not other.can("rename")
    assert other.verify_replay(timeout=60_000) == "Verified grid.trace.json: Replayed 784 steps in each of 4 images: identical to the trace"
    other.close()


def test_a_run_too_long_for_a_plain_trace_is_written_compact_and_says_why(qtbot, all_models, tmp_path, monkeypatch):
    from arplayground.core import lab

    monkeypatch.setattr(lab, "PLAIN_MAX_NUMBERS", 1000)  # the bound on json's pause on the GUI thread
    d = WindowDriver.open(qtbot, all_models)
    d.set_run_length(text_steps=12)
    d.generate_and_wait()
    path = tmp_path / "long.trace.json"
    assert d.export_trace(path)
    assert d.status().endswith(", compact (base64): as plain JSON it would hold 1,445 numbers, more than 1,000")
    assert json.loads(path.read_text())["trace"]["encoding"] == "base64"
    d.close()


def test_verify_replay_runs_off_the_gui_thread_and_is_greyed_while_it_runs(qtbot, all_models, tmp_path, monkeypatch):
    import threading

    from arplayground.gui import trace_files

    path, _, _ = text_trace(qtbot, all_models, tmp_path)
    threads, real = [], trace_files.replay

    def watched(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(trace_files, "replay", watched)
    d = WindowDriver.open(qtbot, all_models)
    assert d.open_trace(path) and threads == []  # opening re-computes nothing
    d.click(d.window.verify_button)
    assert not d.can_verify() and d.status().startswith("Verifying run.trace.json: re-computing 30 steps")
    d.wait_until(lambda: d.status().startswith("Verified "))
    assert len(threads) == 1 and threads[0] is not threading.main_thread()
    assert d.can_verify()  # again, on request
    d.close()
