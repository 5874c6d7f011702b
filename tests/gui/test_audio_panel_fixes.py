"""What a person sees in the audio readout and the distribution panel: generated seconds apart from
the kept recording, readable candidate levels for samples inside a chunk (and after a replay), the
priming note, and image-mode bars that stay visible whatever their grey."""

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFontMetricsF, QImage, QPainter

from arplayground.core.sampling import SamplerSettings
from arplayground.core.vocab import GreyLevels
from arplayground.gui.distribution_panel import PanelData
from tests.gui.helpers import generate_and_wait, open_window, write_tone


@pytest.fixture
def window(qtbot, tiny_audio_models):
    w = open_window(qtbot, tiny_audio_models, "audio")
    yield w
    w.close()


def spy_on_first_batch(view):
    """The readout as it stood when each batch arrived (before the batch rewrote it)."""
    seen, append = [], view.append

    def spy(batch, trace=None):
        seen.append(view.readout.text())
        append(batch, trace)

    view.append = spy
    return seen


def painted_labels_fit(labels_row) -> list[str]:
    """Paint the candidate row as on screen; check no label runs into another; the texts drawn."""
    labels_row.grab()  # runs paintEvent
    metrics = QFontMetricsF(labels_row.painted_font)
    rects = [rect for _, rect in labels_row.painted]
    for text, rect in labels_row.painted:
        assert metrics.horizontalAdvance(text) <= rect.width() + 0.5, (text, rect.width())
    for left, right in zip(rects, rects[1:]):
        assert left.right() <= right.left(), "neighbouring labels overlap"
    return [text for text, _ in labels_row.painted]


# -- 5 and 14: the readout --------------------------------------------------------------------------


def test_readout_counts_generated_seconds_apart_from_the_kept_recording_and_says_it_is_priming(qtbot, window, tmp_path):
    view = window.views["audio"]
    view.length_spin.setValue(0.05)
    generate_and_wait(qtbot, window)
    view.select_sample(10)
    assert view.cursor_line.isVisible() and "s generated" in view.readout.text()
    assert view.open_wav(write_tone(tmp_path / "tone.wav", 0.5))
    # The opened recording replaces that run: no stale readout or inspected-sample line.
    assert view.readout.text() == "Pick a digit and a speaker, then Generate." and not view.cursor_line.isVisible()
    view.keep_spin.setValue(0.3)
    view.length_spin.setValue(0.1)
    seen = spy_on_first_batch(view)
    generate_and_wait(qtbot, window)
    # Between Generate and the first batch the kept recording is being fed to the model.
    assert seen[0] == "Reading the 0.30 s kept into the model's queues…"
    text = view.readout.text()
    assert text.startswith("0.10 s generated after 0.30 s kept  ·  "), text  # was "0.40 s generated"
    assert "0.40 s" not in text
    # The speed is generated samples over their compute time: "Nx faster" only when N >= 1.
    if "faster" in text:
        factor = float(text.split("  ·  ")[1].split("x")[0])
        assert factor >= 1.0


def test_a_slow_run_reads_slower_than_real_time_not_fractionally_faster(qtbot, window):
    view = window.views["audio"]
    view.length_spin.setValue(0.05)
    batches, append = [], view.append
    view.append = lambda batch, trace=None: (batches.append(batch), append(batch, trace))
    generate_and_wait(qtbot, window)
    assert view.readout.text().startswith("0.05 s generated  ·  ")  # nothing kept: no "after"
    whole_chunk = next(b for b in batches if b.blocks and len(b.blocks[0]) >= 64)
    view.append(replace(whole_chunk, steps_per_second=1600.0))  # the same samples, timed 5x slower
    assert "5.0x slower than real time" in view.readout.text()
    assert "faster" not in view.readout.text()  # was "0.2x faster than real time"


def test_single_steps_show_no_speed(qtbot, window):
    view = window.views["audio"]
    view.length_spin.setValue(0.05)
    for _ in range(3):  # Step from idle: one sample at a time, each timing a few Python calls
        window.step_button.click()
        qtbot.waitUntil(lambda: len(window.trace) >= 1, timeout=10_000)
    text = view.readout.text()
    assert "generated" in text and "real time" not in text, text
    window.stop_button.click()


# -- 6: samples inside a chunk, and after a replay ----------------------------------------------------


def test_a_sample_past_the_full_distribution_bound_shows_distinct_levels_that_fit_its_time_and_a_true_hint(
        qtbot, window, monkeypatch):
    from arplayground.core import trace as trace_module

    monkeypatch.setattr(trace_module, "FULL_STEPS", 256)  # the trace keeps the newest 256 samples' in full
    view = window.views["audio"]
    view.length_spin.setValue(0.1)
    generate_and_wait(qtbot, window)
    qtbot.wait(50)  # let the layout settle at the window's 1280 x 900
    view.select_sample(100)
    rec, panel = window.trace[100], window.panel
    assert window.trace.distributions(100) is None  # older than the bound: only its top candidates are kept
    title = panel.title.text()
    assert title.startswith(f"sample 100 (0.013 s), step 101: drew level {rec.value} (amplitude "), title
    assert "e-0" not in title
    labels = panel.tick_labels()
    n = min(panel.max_bars, len(rec.top_values))
    assert labels == [str(int(v)) for v in rec.top_values[:n]]  # mu-law levels, not "2.6e-04"
    assert len(set(labels)) == len(labels) == 16  # every bar told apart (was several "-0.001")
    drawn = painted_labels_fit(panel.candidate_labels)
    assert drawn == labels  # at full width every bar is named, without running into the next
    hint = panel.what_if_label.text()
    assert "keeps every sample's full distribution for its last" in hint and "top 16 candidates" in hint
    assert "Pause, or let the run finish" not in hint
    # A narrow window: labels shrink, or every other one is skipped, but never overlap.
    window.resize(760, 900)
    qtbot.wait(50)
    drawn = painted_labels_fit(panel.candidate_labels)
    assert drawn and all(t in labels or t.endswith("…") for t in drawn)
    # A sample within the bound shows all 256 levels, without that hint.
    for index in (len(window.trace) - 1, len(window.trace) - 200):
        window.show_step(index)
        assert panel.title.text().startswith(f"sample {index} ({index / 8000:.3f} s), step {index + 1}: drew level")
        assert "keeps every sample's" not in panel.what_if_label.text() and panel.tick_labels() == []


def test_mu_law_ticks_and_titles_read_in_plain_decimals(qtbot, window):
    view = window.views["audio"]
    view.length_spin.setValue(0.05)
    generate_and_wait(qtbot, window)
    panel = window.panel
    window.show_step(len(window.trace) - 1)  # a chunk's last sample: the 256-level plot
    ticks = dict(panel.axis._tickLevels[0])
    assert ticks[128] == "0"  # silence's level, was "+8.6e-05"
    assert ticks[96] == "-0.012" and ticks[160] == "+0.012" and ticks[255] == "+1.0"
    assert not any("e" in label for label in ticks.values())
    assert "e-0" not in panel.title.text()


def test_after_replaying_a_trace_each_sample_shows_its_full_distribution(qtbot, tiny_audio_models, tmp_path):
    w = open_window(qtbot, tiny_audio_models, "audio")
    w.views["audio"].length_spin.setValue(0.05)  # its smallest: 400 samples
    generate_and_wait(qtbot, w)
    n = len(w.trace)
    path = tmp_path / "clip.trace.json"
    assert w.export_trace(str(path))
    w.close()
    other = open_window(qtbot, tiny_audio_models, "audio")
    view = other.views["audio"]
    seen = spy_on_first_batch(view)
    assert other.open_trace(str(path))
    qtbot.waitUntil(lambda: not other.is_running() and len(other.trace) == n, timeout=60_000)
    assert seen[0].startswith("Replaying 0.05 s")
    assert "replayed at" in view.readout.text() and "faster than real time" not in view.readout.text()
    for index in (5, n - 1):  # every step, the last one too
        other.show_step(index)
        assert other.panel.title.text().startswith(f"sample {index} (")
        raw, _, _ = other.trace.distributions(index)  # every replayed step keeps its 256 levels
        assert raw.shape == (256,) and raw.sum() == pytest.approx(1.0, abs=0.02)
        assert other.panel.tick_labels() == []  # the 256-level plot, not the top candidates
        hint = other.panel.what_if_label.text()
        assert "top candidates" not in hint and "Pause" not in hint
    other.close()


# -- 12: image mode's grey-level bars ----------------------------------------------------------------


def test_bright_grey_level_bars_are_outlined_on_the_white_plot_and_the_legend_matches(qtbot, tiny_image_models):
    w = open_window(qtbot, tiny_image_models, "image")
    generate_and_wait(qtbot, w)
    panel = w.panel
    raw = np.full(256, 1 / 256)
    sampled = np.zeros(256)
    sampled[240:256] = 1 / 16  # all the mass on bright levels, as on a stroke's pixel
    panel.show_levels("pixel (14, 14), step 407", raw, sampled, 250, 1 / 16, 2.7, SamplerSettings(top_k=16), vocab=GreyLevels())
    qtbot.wait(50)
    image = panel.plot.grab().toImage()
    vb = panel.plot.getPlotItem().vb

    def grey_at(x, y):
        point = panel.plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))
        return QImage.pixelColor(image, point.x(), point.y()).lightness()

    mid = sampled.max() / 2
    row = [grey_at(x, mid) for x in np.linspace(237.0, 242.0, 40)]  # across the block's left side
    assert min(row) < 120, row  # a dark edge: was white bars (240+) on white
    right = [grey_at(x, mid) for x in np.linspace(254.0, 256.0, 20)]
    assert min(right) < 120, right
    assert grey_at(248.0, mid) > 200  # inside, each bar keeps its own (bright) grey
    # The legend's "after sampler" swatch: black to white, as the bars are, not one mid-grey.
    sample = next(s for s, label in panel.legend.items if label.text == "after sampler")
    swatch = QImage(22, 22, QImage.Format.Format_RGB32)
    swatch.fill(0xFFFFFF)
    painter = QPainter(swatch)
    sample.paint(painter)
    painter.end()
    assert swatch.pixelColor(4, 15).lightness() < 60 and swatch.pixelColor(18, 15).lightness() > 200
    w.close()


def test_the_candidate_row_elides_or_skips_what_does_not_fit(qtbot, window):
    """Labels too wide even at the smallest font: every k-th bar is named, each within its room."""
    panel = window.panel
    panel.show_step(
        PanelData(
            step=1, labels=tuple(f"label-{i:02d}-long" for i in range(16)), values=tuple(range(16)),
            raw=np.full(16, 1 / 16), sampled=np.full(16, 1 / 16), drawn=0, drawn_label="x", drawn_prob=0.06,
            entropy=2.7, settings_text="T 1.00"),
    )
    qtbot.wait(50)
    drawn = painted_labels_fit(panel.candidate_labels)
    assert 0 < len(drawn) < 16  # some skipped, none overlapping


def test_stopping_before_the_first_sample_replaces_the_reading_note(qtbot, window, tmp_path):
    view = window.views["audio"]
    assert view.open_wav(write_tone(tmp_path / "tone.wav", 0.5))
    view.keep_spin.setValue(0.3)
    window.pause_button.setChecked(False)
    window.generate(paused=True)  # started paused: primed, nothing generated yet
    assert view.readout.text().startswith("Reading the 0.30 s kept")
    window.stop_button.click()
    assert view.readout.text() == "Stopped before the first sample: Generate starts again."


def test_leaving_audio_mode_drops_the_runs_readout_and_inspected_sample(qtbot, window):
    view = window.views["audio"]
    view.length_spin.setValue(0.05)
    generate_and_wait(qtbot, window)
    view.select_sample(10)
    assert view.cursor_line.isVisible() and "generated" in view.readout.text()
    window.mode_box.setCurrentIndex(window.mode_box.findData("text"))
    window.mode_box.setCurrentIndex(window.mode_box.findData("audio"))
    assert not view.cursor_line.isVisible()
    assert view.readout.text() == "Pick a digit and a speaker, then Generate."
