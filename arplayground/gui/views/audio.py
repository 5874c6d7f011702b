"""Audio mode's view: a spoken digit's waveform growing live while it plays, a playhead, and each
sample's distribution over the 256 mu-law levels.

Run alone for quick work on the waveform:

    python -m arplayground.gui.views.audio
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from arplayground.audio.wav import WavError, read_wav, write_wav
from arplayground.catalog import typical_seconds
from arplayground.core.mulaw import SAMPLE_RATE, decode, encode
from arplayground.core.files import replacing
from arplayground.core.score import surprisal_bits
from arplayground.gui.audio_transport import CHECKING_SOUND, AudioTransport, real_time_factor  # noqa: F401 - CHECKING_SOUND: tests import it from here
from arplayground.gui.causality_panel import influence_levels
from arplayground.gui.distribution_panel import panel_data
from arplayground.gui.note_line import NoteLine
from arplayground.gui.settings_store import add_recent, ask_open_path, ask_save_path
from arplayground.gui.views.base import ModeView
from arplayground.gui.wav_open import WavConversion, WavOpener
from arplayground.core.trace import FULL_STEPS
from arplayground.gui.theme import style_plot

WAVE_COLOUR = (70, 130, 220)  # a mid blue: it reads on a light plot and a dark one
KEPT_COLOUR = (130, 130, 130)  # the part of an opened recording kept as the prefix
READY = "Pick a digit and a speaker, then Generate."  # the readout with no run to report on
# What a new window asks for, so that the first Generate (seed 1234, guidance 1.5, the word's usual
# length) says a digit well: both listeners of benchmarks/audio_digits.py hear george's "three"
# as 3, at RMS 0.046 (real recordings' median: 0.049), and at guidance 1.5 george's clips read
# best with the clean listener (10 of 10). The speaker only where the model has one of that name.
DEFAULT_DIGIT = 3
DEFAULT_SPEAKER = "george"
SPEED_FROM_STEPS = 64  # a run shows its speed from this many samples on (Step, a forced value: too few to time)
# Half-heights of the amplitude axis. Many FSDD speakers (and many generated clips) peak near 0.05,
# a flat line on a +-1 axis, so the axis fits the loudest sample shown, in steps so that it does
# not twitch as a clip grows, and only grows during a run.
AMPLITUDE_SCALES = (0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
# decode() of every level, looked up: decoding an opened 10-minute recording sample by sample took
# 0.15 s of the GUI thread, the table a tenth of that, with the same float32 values.
LEVEL_AMPLITUDES = decode(np.arange(256))


def default_speaker(speakers) -> int | None:
    """The speaker a new window (and `arplayground sample`) asks for: DEFAULT_SPEAKER's index where
    the model has that speaker, else any."""
    return list(speakers).index(DEFAULT_SPEAKER) if DEFAULT_SPEAKER in speakers else None


class AudioModeView(ModeView):
    """Audio mode: digit and speaker, length, continue-a-recording, play / save; the waveform."""

    mode = "audio"
    unit = "sample"
    step_clicked = Signal(int)  # index of the run's step at the clicked sample
    content_replaced = Signal()  # a recording was opened: the run shown before is gone
    can_play = True

    def __init__(self):
        super().__init__()
        self.levels = np.zeros(0, np.uint8)  # the clip: mu-law levels at 8 kHz
        self._times, self._amplitude = np.zeros(0), np.zeros(0, np.float32)  # the clip as drawn, decoded
        self._decoded_until = 0  # samples of the clip decoded into _amplitude since levels last changed
        self.prefix_len = 0
        self.generated_until = 0  # samples of the clip that the current run has produced so far
        self.replayed_steps = 0  # steps of the run that replay a trace (each with its own settings)
        self.first_pending = False  # a run has started and sent no sample yet
        self.amplitude_scale = AMPLITUDE_SCALES[-1]  # the axis shows -scale .. +scale
        # Play, Stop sound, play live, the playhead, underruns: the A/B window's sides use the same.
        self.transport = AudioTransport(lambda: self.levels[: self.generated_until], parent=self)
        self.opener = WavOpener(parent=self)  # Open WAV, converting in the background
        self.opener.said.connect(self.note_text)
        self.opener.ended.connect(self._end_opening)
        self.opener.opened.connect(self._show_recording)
        self.running = False
        self._build_controls()
        self._build_display()

    # -- widgets -----------------------------------------------------------------------------

    def _build_controls(self) -> None:
        self.controls = QWidget()
        form = QFormLayout(self.controls)
        form.setContentsMargins(0, 0, 0, 0)
        self.digit_box = QComboBox()
        self.digit_box.addItem("any digit", None)
        for d in range(10):
            self.digit_box.addItem(str(d), d)
        self.digit_box.setCurrentIndex(self.digit_box.findData(DEFAULT_DIGIT))
        form.addRow("Digit", self.digit_box)
        self.speaker_box = QComboBox()
        self.speaker_box.addItem("any speaker", None)
        form.addRow("Speaker", self.speaker_box)
        self.length_spin = QDoubleSpinBox()
        self.length_spin.setRange(0.05, 4.0)
        self.length_spin.setDecimals(3)  # the typical lengths are to the millisecond
        self.length_spin.setSingleStep(0.1)
        self.length_spin.setValue(0.8)
        self.length_spin.setSuffix(" s to generate")
        form.addRow("Length", self.length_spin)
        # The model was never shown where a word ends (its recordings stop there), so it speaks on:
        # by default a clip lasts as long as that digit by that speaker did in training.
        self.typical_check = QCheckBox("as long as this word usually is")
        self.typical_check.setChecked(True)
        self.typical_wanted = True  # the box's state when the model has typical lengths (else it is off and grey)
        form.addRow(self.typical_check)
        self.card = {}  # the chosen model's card (set_entry), for its typical lengths
        self.typical_check.toggled.connect(self._on_typical_toggled)
        self.keep_spin = QDoubleSpinBox()
        self.keep_spin.setRange(0.0, 0.0)
        self.keep_spin.setSingleStep(0.05)
        self.keep_spin.setDecimals(2)
        self.keep_spin.setSuffix(" s kept")
        self.keep_spin.setToolTip("Keep the start of the current clip (an opened recording, or the last one) and let the model continue it")
        form.addRow("Continue", self.keep_spin)
        for signal in (self.digit_box.currentIndexChanged, self.speaker_box.currentIndexChanged, self.keep_spin.valueChanged):
            signal.connect(self._apply_typical_length)
        self.play_live = self.transport.play_live
        form.addRow(self.play_live)
        buttons = QHBoxLayout()
        self.play_button = self.transport.play_button
        self.stop_audio_button = self.transport.stop_button
        self.open_button = QPushButton("Open WAV…")
        self.save_button = QPushButton("Save WAV…")
        for b in (self.play_button, self.stop_audio_button):
            buttons.addWidget(b)
        form.addRow(buttons)
        files = QHBoxLayout()  # a row of their own: four buttons in one were squeezed below their text in 330 px
        files.addWidget(self.open_button)
        files.addWidget(self.save_button)
        form.addRow(files)
        opening = QHBoxLayout()
        self.open_progress, self.cancel_open_button = self.opener.progress, self.opener.cancel_button
        opening.addWidget(self.open_progress, 1)
        opening.addWidget(self.cancel_open_button)
        form.addRow(opening)
        self.open_button.clicked.connect(self.open_dialog)
        self.save_button.clicked.connect(self.save_dialog)
        self.audio_status = self.transport.status
        form.addRow(self.audio_status)
        self.note = NoteLine()  # room kept for two lines: a note never moves the controls under it
        form.addRow(self.note)

    def _build_display(self) -> None:
        self.display = QWidget()
        layout = QVBoxLayout(self.display)
        layout.setContentsMargins(0, 0, 0, 0)
        self.plot = pg.PlotWidget()  # its colours: the palette's (gui/theme.py)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.setMenuEnabled(False)
        self.plot.setLabel("bottom", "time (s)")
        self.plot.getAxis("bottom").enableAutoSIPrefix(False)  # seconds stay seconds, not "x0.001"
        self.plot.setLabel("left", "amplitude")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # a fitted axis reads 0.05, not "50 (x0.001)"
        self.plot.setXRange(0, 1.0, padding=0)
        self.kept_curve = self.plot.plot(pen=pg.mkPen(KEPT_COLOUR, width=1))
        self.curve = self.plot.plot(pen=pg.mkPen(WAVE_COLOUR, width=1))
        for curve in (self.kept_curve, self.curve):  # thousands of samples a second: draw peaks per pixel
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.playhead = self.transport.playhead
        self.cursor_line = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen((236, 150, 40), width=1, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.playhead)
        self.plot.addItem(self.cursor_line)
        self.cursor_line.hide()
        self.plot.scene().sigMouseClicked.connect(self._on_plot_clicked)
        # What it sees: the field's span shaded, the measured influence rising from the bottom.
        self.field_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(120, 160, 230, 50), pen=pg.mkPen(None))
        self.field_curve = pg.PlotDataItem(pen=pg.mkPen((214, 90, 20), width=1))
        for item in (self.field_region, self.field_curve):
            self.plot.addItem(item)
            item.hide()
        self.readout = QLabel(READY)
        self.plot.setYRange(-self.amplitude_scale, self.amplitude_scale, padding=0.02)  # full scale until a clip is shown
        # Under the waveform, on its time axis: -log2 p of each sample the run or Score drew.
        self.surprisal_plot = pg.PlotWidget()
        self.surprisal_plot.setFixedHeight(70)
        self.surprisal_plot.setMouseEnabled(x=True, y=False)
        self.surprisal_plot.setMenuEnabled(False)
        self.surprisal_plot.setLabel("left", "bits")  # "surprisal (bits)" does not fit its 70 px: the tooltip says it
        self.surprisal_plot.getAxis("left").enableAutoSIPrefix(False)
        self.surprisal_plot.setXLink(self.plot)
        self.surprisal_plot.setYRange(0, 12, padding=0)
        self.surprisal_curve = self.surprisal_plot.plot(pen=pg.mkPen((200, 70, 40), width=1))
        self.surprisal_curve.setDownsampling(auto=True, method="peak")
        self.surprisal_curve.setClipToView(True)
        self.surprisal_plot.setToolTip("Surprisal: −log₂ p of each sample under the model, given the samples before it, in bits")
        self._bits = np.zeros(0, np.float32)  # per sample of the clip; NaN where none was drawn
        for plot in (self.plot, self.surprisal_plot):
            style_plot(plot)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.surprisal_plot)
        layout.addWidget(self.readout)

    # -- the main window's protocol ------------------------------------------------------------

    def set_entry(self, entry) -> None:
        """The chosen model's speakers, from its card."""
        speakers = entry.card.get("speakers", [])
        current = self.speaker_box.currentData() if self.card else default_speaker(speakers)  # the first model: the default
        self.speaker_box.clear()
        self.speaker_box.addItem("any speaker", None)
        for i, name in enumerate(speakers):
            self.speaker_box.addItem(name, i)
        self.speaker_box.setCurrentIndex(max(0, self.speaker_box.findData(current)))
        self.card = entry.card
        self._apply_typical_length()
        self.check_sound()  # Audio mode is in use: find out now whether it can play

    # The transport's state, by the names the window, the tests and the benchmarks read.
    @property
    def player(self):
        return self.transport.player

    @property
    def playback_reason(self) -> str | None:
        """None when sound can play, else why not (CHECKING_SOUND until the sound check answers)."""
        return self.transport.reason

    @property
    def sound_check(self):
        return self.transport.sound_check

    def check_sound(self) -> None:
        """Start the sound check (once per process, off the GUI thread); Play waits for it."""
        self.transport.check_sound()

    @Slot(str)
    def note_text(self, text: str) -> None:
        self.note.setText(text)

    @Slot(bool)
    def _on_typical_toggled(self, ticked: bool) -> None:
        if self.typical_check.isEnabled():
            self.typical_wanted = ticked
        self._apply_typical_length()

    @Slot()
    def _apply_typical_length(self) -> None:
        """With the box ticked, the clip (a kept start included) is as long as the digit by the
        speaker usually is: that, less what is kept, is generated (at least the shortest length)."""
        seconds = typical_seconds(self.card, self.digit_box.currentData(), self.speaker_box.currentData())
        self.typical_check.blockSignals(True)
        self.typical_check.setEnabled(seconds is not None)
        self.typical_check.setChecked(seconds is not None and self.typical_wanted)  # grey and ticked would read as "on"
        self.typical_check.blockSignals(False)
        following = self.typical_check.isChecked()
        self.length_spin.setEnabled(not following)
        if seconds is None:
            self.typical_check.setToolTip("This model's card has no typical lengths: the clip is as long as you choose.")
            self.length_spin.setToolTip("")
            return
        digit = self.digit_box.currentText() if self.digit_box.currentData() is None else f"the digit {self.digit_box.currentText()}"
        self.typical_check.setToolTip(
            f"The model never heard where a word ends (its training recordings stop there), so it speaks on. "
            f"Ticked, a clip, with any kept start, lasts as long as the training recordings of {digit} by "
            f"{self.speaker_box.currentText()} did (median {seconds:.3f} s). Untick to choose any length.")
        self.length_spin.setToolTip("Follows the digit and speaker while 'as long as this word usually is' is ticked" if following else "")
        if following:
            self.length_spin.setValue(max(self.length_spin.minimum(), seconds - self.keep_spin.value()))

    def check(self, entry) -> bool:
        return True

    def prepare(self, vocab):
        """(prefix, condition, steps) for a new run; the kept start of the clip is the prefix."""
        keep = min(int(round(self.keep_spin.value() * SAMPLE_RATE)), len(self.levels))
        self.prefix_len = keep
        n = int(round(self.length_spin.value() * SAMPLE_RATE))
        self.levels = np.concatenate([self.levels[:keep], np.zeros(n, np.uint8)])
        self.generated_until = keep
        self.replayed_steps = 0
        self.cursor_line.hide()  # the last run's inspected sample, and its note, are gone
        self.clear_note()
        # Until the first batch (or a Stop before it) the last run's readout would otherwise stay up.
        self.first_pending = True
        self.readout.setText(
            f"Reading the {keep / SAMPLE_RATE:.2f} s kept into the model's queues…" if keep
            else f"Generating {n / SAMPLE_RATE:.2f} s…"
        )
        self.plot.setXRange(0, len(self.levels) / SAMPLE_RATE, padding=0)
        self._redraw(grow_only=False)
        self.stop_sound()
        self.transport.start_live(from_sample=keep)
        return tuple(int(v) for v in self.levels[:keep]), (self.digit_box.currentData(), self.speaker_box.currentData()), n

    def append(self, batch, trace=None) -> None:
        """New samples: the batch's blocks (compiled chunks, or single steps of a replay)."""
        had_samples = self.generated_until > 0
        for block in batch.blocks:
            start, end = block.position, block.position + len(block)
            self.levels[start:end] = block.values
            self._bits_for(len(self.levels))[start:end] = surprisal_bits(block.columns["prob"])
            self.generated_until = end
            self.transport.feed(block.values)
        if not had_samples:  # Play has a clip now (an A/B side's, which no set_running tells)
            self.transport.refresh()
        self._redraw(grow_only=True)
        self.first_pending = False
        self.readout.setText(self._progress_text(batch))

    def _progress_text(self, batch) -> str:
        """What the run has generated (not the kept recording before it), and at what speed."""
        generated = (self.generated_until - self.prefix_len) / SAMPLE_RATE
        text = f"{generated:.2f} s generated"
        if self.prefix_len:
            text += f" after {self.prefix_len / SAMPLE_RATE:.2f} s kept"
        # The real-time factor of generation: samples computed per second of compute time (priming
        # excluded) per SAMPLE_RATE. How fast the sound plays is the transport's line, with the
        # underruns. A run's first few samples (single steps in the lab) time Python calls, not
        # generation: no speed then.
        factor = batch.steps_per_second / SAMPLE_RATE
        if batch.steps_done >= SPEED_FROM_STEPS and factor > 0:
            done = "replays" if self.replayed_steps else "generates"  # a replay: step by step, each with its own settings
            text += f"  ·  {done} at {real_time_factor(factor)} real time"
        return text

    def prepare_replay(self, vocab, prefix, condition, n_steps: int):
        """Like prepare(), for a trace being replayed: its prefix and conditions."""
        digit, speaker = condition if isinstance(condition, (tuple, list)) else (condition, None)
        self.digit_box.setCurrentIndex(max(0, self.digit_box.findData(digit)))
        self.speaker_box.setCurrentIndex(max(0, self.speaker_box.findData(speaker)))
        self.stop_sound()
        self.clear_note()  # "Opened …", "Saved …" are spent: a replay starts
        self.prefix_len = self.generated_until = len(prefix)
        self.levels = np.concatenate([np.array(list(prefix), np.uint8), np.zeros(n_steps, np.uint8)])
        self.replayed_steps = n_steps
        self.first_pending = True
        self.readout.setText(
            f"Replaying {n_steps / SAMPLE_RATE:.2f} s"
            + (f" after {len(prefix) / SAMPLE_RATE:.2f} s kept…" if len(prefix) else "…")
        )
        self.plot.setXRange(0, len(self.levels) / SAMPLE_RATE, padding=0)
        self._redraw(grow_only=False)
        self.transport.refresh()
        return tuple(prefix), condition, n_steps

    def rewind(self, steps: int) -> None:
        """Keep the first `steps` generated samples."""
        self.stop_sound()
        self.generated_until = self.prefix_len + steps
        self.replayed_steps = min(self.replayed_steps, steps)  # steps taken from here on are new ones
        self._redraw(grow_only=False)
        self.transport.refresh()

    def render(self, trace) -> None:
        """Show `trace` (a chosen branch, an opened trace): the kept start, then its samples."""
        self.stop_sound()
        self.replayed_steps, self.first_pending = 0, False  # drawn whole, not streamed: no speed, no first sample to wait for
        self.readout.setText(f"{(len(self.levels) - self.prefix_len) / SAMPLE_RATE:.2f} s")
        n = len(trace)
        self.levels[self.prefix_len : self.prefix_len + n] = trace.column("value")
        bits = self._bits_for(len(self.levels))
        bits[:] = np.nan
        bits[self.prefix_len : self.prefix_len + n] = surprisal_bits(trace.column("prob"))
        self.generated_until = self.prefix_len + n
        self._redraw(grow_only=False)
        self.transport.refresh()

    def show_field(self, field, head=None) -> None:
        """What it sees: the span of samples the output can see shaded over the waveform, and each
        one's measured influence (log scale) drawn up from the bottom of the axis."""
        if field is None:
            self.field_region.hide()
            self.field_curve.hide()
            return
        seen = np.flatnonzero(field.structural)
        first = int(seen[0]) if seen.size else field.position
        self.field_region.setRegion((first / SAMPLE_RATE, (field.position + 1) / SAMPLE_RATE))
        start, end = field.window if field.window[1] > field.window[0] else (first, field.position + 1)
        levels = influence_levels(field.measured[start:end])
        low, high = self.plot.viewRange()[1]  # up to half the axis, whatever amplitude it was fitted to
        self.field_curve.setData(np.arange(start, end) / SAMPLE_RATE, low + levels * (high - low) / 2)
        self.field_region.show()
        self.field_curve.show()

    def show_in_panel(self, panel, trace, index: int, vocab, what_if=None) -> None:
        """A step whose full distribution the trace keeps (every step of the last FULL_STEPS, 60 s):
        all 256 levels; an older one, or one of a trace saved without them: its top candidates."""
        rec = trace[index]
        self.cursor_line.setPos(rec.position / SAMPLE_RATE)
        self.cursor_line.show()
        where = f"sample {rec.position} ({rec.position / SAMPLE_RATE:.3f} s), step {index + 1}"
        distributions = trace.distributions(index)
        if distributions is not None:
            raw, sampled, unconditional = distributions
            if what_if is not None:
                sampled = what_if.final
            panel.show_levels(
                title=where, raw=raw, sampled=sampled, drawn=rec.value, drawn_prob=rec.prob, entropy=rec.entropy,
                settings=rec.settings, vocab=vocab, unconditional=unconditional,
            )
        else:
            n = min(panel.max_bars, len(rec.top_values))
            panel.show_step(panel_data(rec, index + 1, vocab), where=where)  # bars by mu-law level number
            if index < trace.full_from and trace.full_from < len(trace):
                hint = (f"The run keeps every sample's full distribution for its last {FULL_STEPS / SAMPLE_RATE:.0f} s "
                        f"only; this older one shows the top {n} candidates it recorded, by mu-law level.")
            else:
                hint = (f"This trace was saved with each sample's top candidates only; this one shows the top {n} "
                        "candidates it recorded, by mu-law level.")
            panel.hide_what_if(hint)
            return
        if what_if is None:
            panel.hide_what_if()
        else:
            panel.show_what_if(what_if, rec.u, rec.value, vocab.label)

    def set_running(self, running: bool) -> None:
        self.running = running
        if running and self.conversion is not None:  # a recording arriving now would overwrite the run
            self.cancel_opening(why="a run started")
        for w in (self.open_button, self.keep_spin, self.play_live):
            w.setEnabled(not running)
        if self.conversion is not None:
            self.open_button.setEnabled(False)  # one file at a time
        if not running:
            if self.first_pending:  # stopped before its first sample: the "Reading…" line is over
                self.first_pending = False
                self.readout.setText("Stopped before the first sample: Generate starts again.")
            self.keep_spin.setRange(0.0, self.generated_until / SAMPLE_RATE)  # the clip can be continued
        self.transport.set_running(running)  # at the end, a live clip plays out what was generated

    def run_forgotten(self) -> None:
        """The window let go of the run shown (another mode, an edit): its inspected sample and its
        speed figures go with it; the clip stays, to play or save."""
        self.cursor_line.hide()
        self.first_pending = False
        self.readout.setText(READY)
        if self.conversion is not None:  # another mode, another file: the window moved on
            self.cancel_opening(why="the window moved on")

    def shutdown(self) -> None:
        """The window is closing: no sound may outlive it, and nothing here waits on the device.
        The player's sound thread closes the stream by itself (or, stuck in a device call, is left
        behind as a daemon); an Open WAV in progress is cancelled, which it notices within a block."""
        self.transport.shutdown()
        self.opener.shutdown()

    # -- playback ------------------------------------------------------------------------------

    @Slot()
    def play(self) -> None:
        """Replay the clip from the start."""
        self.transport.play()

    @Slot()
    def stop_sound(self) -> None:
        self.transport.stop()

    def _move_playhead(self) -> None:
        """What the view reads from its player on each frame (the transport's timer calls it)."""
        self.transport.move_playhead()

    # -- the waveform ----------------------------------------------------------------------------

    def _redraw(self, grow_only: bool) -> None:
        """Redraw the clip. grow_only: a run added samples since the last redraw, and only those
        are decoded and looked at for the axis (each batch of a long clip used to decode it all)."""
        if grow_only and len(self._amplitude) == len(self.levels):
            new = slice(min(self._decoded_until, self.generated_until), self.generated_until)
            self._amplitude[new] = LEVEL_AMPLITUDES[self.levels[new]]
        else:
            self._times = np.arange(len(self.levels)) / SAMPLE_RATE
            self._amplitude = LEVEL_AMPLITUDES[self.levels]
            new = slice(0, self.generated_until)
        self._decoded_until = self.generated_until
        t, amplitude = self._times, self._amplitude
        self.kept_curve.setData(t[: self.prefix_len], amplitude[: self.prefix_len])
        self.curve.setData(t[self.prefix_len : self.generated_until], amplitude[self.prefix_len : self.generated_until])
        drawn = slice(self.prefix_len, self.generated_until)
        bits = self._bits_for(len(self.levels))
        self.surprisal_curve.setData(t[drawn], np.nan_to_num(bits[drawn]))
        self._fit_amplitude(grow_only, amplitude[new])  # growing: the axis takes the larger of it and the new samples

    def _bits_for(self, n: int) -> np.ndarray:
        """The per-sample surprisal array, sized to the clip (NaN where nothing was drawn)."""
        if len(self._bits) != n:
            bits = np.full(n, np.nan, np.float32)
            keep = min(n, len(self._bits))
            bits[:keep] = self._bits[:keep]
            self._bits = bits
        return self._bits

    def _fit_amplitude(self, grow_only: bool, shown: np.ndarray) -> None:
        """The smallest step of AMPLITUDE_SCALES that holds the loudest sample shown (the smallest
        of all while a new run has shown nothing yet: it grows as the clip does)."""
        peak = float(np.abs(shown).max()) if len(shown) else 0.0
        scale = next((s for s in AMPLITUDE_SCALES if peak <= s), AMPLITUDE_SCALES[-1])
        if grow_only:
            scale = max(scale, self.amplitude_scale)
        if scale != self.amplitude_scale or not grow_only:
            self.set_amplitude_scale(scale)

    def become_side(self) -> None:
        self.readout.setText("Run A/B to hear and see this side.")  # it has no digit or speaker to pick

    def align_with(self, other: AudioModeView) -> None:
        """One amplitude axis for both sides, the larger of the two, so that the waveforms compare."""
        scale = max(self.amplitude_scale, other.amplitude_scale)
        for view in (self, other):
            view.set_amplitude_scale(scale)

    def set_amplitude_scale(self, scale: float) -> None:
        """Show -scale .. +scale (the A/B window gives both sides the larger of their two)."""
        self.amplitude_scale = scale
        self.plot.setYRange(-scale, scale, padding=0.02)

    def _on_plot_clicked(self, event) -> None:
        point = self.plot.getPlotItem().vb.mapSceneToView(event.scenePos())
        self.select_sample(int(round(point.x() * SAMPLE_RATE)))

    def select_sample(self, sample: int) -> None:
        step = sample - self.prefix_len
        if 0 <= sample < self.generated_until and step >= 0:
            self.step_clicked.emit(step)
        elif 0 <= sample < self.prefix_len:
            self.note.setText(f"Sample {sample} was kept from the recording, not generated.")

    # -- files -------------------------------------------------------------------------------------

    def open_dialog(self) -> None:
        path = ask_open_path(self.controls, "audio", "Open recording", "WAV files (*.wav);;All files (*)")
        if path:
            self.start_opening(path)

    def start_opening(self, path: str) -> WavConversion:
        """Open a recording in the background (what Open WAV does): the window keeps answering,
        shows the progress and offers Cancel; nothing changes until the conversion has succeeded."""
        conversion = self.opener.start(path)
        self.open_button.setEnabled(False)
        return conversion

    @property
    def conversion(self) -> WavConversion | None:
        """The Open WAV still converting, if any."""
        return self.opener.conversion

    @Slot()
    def cancel_opening(self, why: str = "") -> None:
        """Abandon the Open WAV in progress; the window stays as it was."""
        self.opener.cancel(why)

    @Slot()
    def _end_opening(self) -> None:
        self.open_button.setEnabled(not self.running)

    def open_wav(self, path: str) -> bool:
        """A recording becomes the clip (mono, 8 kHz, with notes on what was converted); Generate
        with some seconds kept continues it. Unreadable: a message, nothing changes. This one
        converts on the calling thread (scripts, tests); Open WAV uses start_opening."""
        try:
            samples, notes = read_wav(path)
        except WavError as e:
            self.note.setText(f"Could not open it: {e}. Nothing changed.")
            return False
        self._show_recording(path, encode(samples), notes)
        return True

    @Slot(str, object, object)
    def _show_recording(self, path: str, levels: np.ndarray, notes: list[str]) -> None:
        self.stop_sound()
        self.levels = levels
        self.prefix_len = self.generated_until = len(self.levels)
        self.cursor_line.hide()  # the run that was inspected is gone with its readout
        self.readout.setText(READY)
        self.keep_spin.setRange(0.0, len(self.levels) / SAMPLE_RATE)
        self.keep_spin.setValue(min(0.2, len(self.levels) / SAMPLE_RATE))
        self.plot.setXRange(0, len(self.levels) / SAMPLE_RATE, padding=0)
        self._redraw(grow_only=False)
        self.transport.refresh()
        seconds = len(self.levels) / SAMPLE_RATE
        self.note.setText(f"Opened {path} ({seconds:.2f} s" + "".join(f"; {n}" for n in notes) + "). Set the seconds to keep, then Generate to continue it.")
        self.content_replaced.emit()

    def score_input(self, vocab):
        """The clip shown (an opened recording, a run, a branch), whole, under the digit and speaker chosen."""
        n = self.generated_until
        if not n:
            return "Open a WAV or generate a clip to score it."
        return (), tuple(int(v) for v in self.levels[:n]), (self.digit_box.currentData(), self.speaker_box.currentData())

    def start_display(self, vocab, prefix, condition, n_steps: int) -> None:
        self.stop_sound()
        self.clear_note()
        self.prefix_len = self.generated_until = len(prefix)
        self.levels = np.concatenate([np.array(list(prefix), np.uint8), np.zeros(n_steps, np.uint8)])
        self.replayed_steps = 0
        self.cursor_line.hide()
        self.readout.setText(f"{n_steps / SAMPLE_RATE:.2f} s")
        self.plot.setXRange(0, len(self.levels) / SAMPLE_RATE, padding=0)
        self._redraw(grow_only=False)
        self.transport.refresh()

    def save_dialog(self) -> None:
        path = ask_save_path(self.controls, "audio", "Save clip", "digit.wav", "WAV files (*.wav)")
        if path and self.save_wav(path):
            add_recent(path)

    def save_wav(self, path: str) -> bool:
        """Write the clip; a failure (a full disk) leaves a file it was replacing as it was."""
        if not self.generated_until:
            self.note.setText("Nothing to save yet: Generate a clip first.")
            return False
        try:
            with replacing(path) as temporary:
                write_wav(temporary, decode(self.levels[: self.generated_until]))
        except OSError as e:
            self.note.setText(f"Could not save {path}: {e.strerror or e}")
            return False
        self.note.setText(f"Saved {path}")
        return True


def main() -> int:
    """The waveform alone, growing with noise, for quick work on its look."""
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    view = AudioModeView()
    view.levels = encode(np.random.default_rng(0).normal(0, 0.1, 16000))
    view.display.resize(800, 300)
    view.display.show()
    timer = QTimer()

    def grow():
        view.generated_until = min(len(view.levels), view.generated_until + 160)
        view._redraw(grow_only=True)

    timer.timeout.connect(grow)
    timer.start(20)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
