"""gui.wav_open: a recording converted in the background, with progress and Cancel, without a window.
Nothing reaches the owner but a finished conversion; what to tell the user comes as `said`."""

import numpy as np
from PySide6.QtCore import QCoreApplication

from arplayground.audio.wav import read_wav
from arplayground.core.mulaw import encode
from arplayground.gui.wav_open import WavOpener
from tests.gui.helpers import click, write_tone


class Owner:
    """What the owner of a WavOpener hears from it."""

    def __init__(self, opener: WavOpener):
        self.opened, self.said, self.ended = [], [], 0
        opener.opened.connect(lambda path, levels, notes: self.opened.append((path, levels, notes)))
        opener.said.connect(self.said.append)
        opener.ended.connect(self._on_ended)

    def _on_ended(self):
        self.ended += 1


def test_a_recording_arrives_converted_with_its_progress(qtbot, tmp_path):
    opener = WavOpener()
    owner = Owner(opener)
    path = write_tone(tmp_path / "tone.wav", 0.5)
    conversion = opener.start(path)
    assert opener.conversion is conversion and owner.said == ["Opening tone.wav…"]
    assert not opener.progress.isHidden() and not opener.cancel_button.isHidden()
    qtbot.waitUntil(lambda: bool(owner.opened), timeout=30_000)
    (opened_path, levels, notes), = owner.opened
    samples, expected_notes = read_wav(path)
    assert opened_path == path and notes == expected_notes
    np.testing.assert_array_equal(levels, encode(samples))
    assert opener.conversion is None and owner.ended == 1
    assert opener.progress.isHidden() and opener.cancel_button.isHidden()
    assert opener.progress.value() == 100  # its last block read


def test_cancel_drops_the_conversion_and_says_nothing_changed(qtbot, tmp_path):
    opener = WavOpener()
    owner = Owner(opener)
    conversion = opener.start(write_tone(tmp_path / "tone.wav", 0.5))
    click(qtbot, opener.cancel_button)
    assert opener.conversion is None and conversion.cancel.is_set() and owner.ended == 1
    assert owner.said[-1] == "Opening tone.wav cancelled. Nothing changed."
    conversion.thread.join(30)
    QCoreApplication.processEvents()  # whatever it sent on its way out (posted: it has ended) arrives, and is ignored
    assert owner.opened == [] and owner.ended == 1


def test_another_file_cancels_the_first_and_only_the_second_arrives(qtbot, tmp_path):
    opener = WavOpener()
    owner = Owner(opener)
    first = opener.start(write_tone(tmp_path / "first.wav", 0.5))
    second = opener.start(write_tone(tmp_path / "second.wav", 0.25))
    assert first.cancel.is_set() and opener.conversion is second
    assert owner.said == ["Opening first.wav…", "Opening first.wav cancelled (another file was chosen). Nothing changed.",
                          "Opening second.wav…"]
    qtbot.waitUntil(lambda: bool(owner.opened), timeout=30_000)
    first.thread.join(30)
    QCoreApplication.processEvents()
    assert [path for path, _, _ in owner.opened] == [str(tmp_path / "second.wav")]


def test_a_file_that_is_not_a_recording_is_refused_with_the_reason(qtbot, tmp_path):
    opener = WavOpener()
    owner = Owner(opener)
    bad = tmp_path / "notes.wav"
    bad.write_text("not a recording")
    opener.start(str(bad))
    qtbot.waitUntil(lambda: opener.conversion is None, timeout=30_000)
    assert owner.opened == [] and owner.ended == 1
    assert owner.said[-1].startswith("Could not open it: ") and owner.said[-1].endswith(". Nothing changed.")


def test_shutdown_cancels_a_conversion_and_lets_it_end(qtbot, tmp_path):
    opener = WavOpener()
    owner = Owner(opener)
    conversion = opener.start(write_tone(tmp_path / "tone.wav", 2.0))
    opener.shutdown()
    assert opener.conversion is None and conversion.cancel.is_set()
    conversion.thread.join(30)
    assert not conversion.thread.is_alive()
    QCoreApplication.processEvents()
    assert owner.opened == []
