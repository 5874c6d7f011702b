"""Sound for one clip: Play, Stop sound, play-while-generating, the playhead and the playback line.

Audio mode's view and each audio side of the A/B window own one AudioTransport, so that Play,
Stop sound, the playhead over the waveform and the playback line ("Playing at 0.13x real time ·
12 underruns", then "Played 0.80 s at …") behave the same wherever a clip is shown. That line is
the one place the underruns are counted, for the clip playing or played last; a new clip, Stop
sound or a branch shown clears it. The owner places the widgets (its controls, or a side's own row), adds
`playhead` to its plot, and hands the transport a function that returns the clip as it is now.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton

from arplayground.audio.playback import PlaybackError, Player, shared_sound_check
from arplayground.core.mulaw import SAMPLE_RATE, decode

PLAYHEAD_HZ = 30
PLAYHEAD_COLOUR = (214, 40, 40)
# Until the sound check (a child process, so that a broken sound system cannot crash the app) has
# answered, Play waits with this as its reason; the owner starts the check when its mode is used.
CHECKING_SOUND = "checking the sound output…"
CHECKING_SOUND_STATUS = "Checking the sound output…"
SOUND_CHECK_POLL_MS = 50
WAITING_FOR_DEVICE = "Waiting for the sound device to open…"
RATE_AFTER_S = 0.5  # the playback rate is shown once the device has played for this long (wall time)


def real_time_factor(factor: float) -> str:
    """A speed against real time, as the readouts write it: "0.19x", "1.5x", "24x"."""
    return f"{factor:.2f}x" if factor < 1 else f"{factor:.1f}x" if factor < 10 else f"{factor:.0f}x"


class AudioTransport(QObject):
    """Plays the clip `clip()` returns (mu-law levels at 8 kHz): whole with Play, or live, fed
    block by block while a run generates it. No PortAudio is loaded before a clip first plays,
    and nothing here waits on the sound device."""

    def __init__(self, clip: Callable[[], np.ndarray], parent: QObject | None = None):
        super().__init__(parent)
        self.clip = clip
        self.player: Player | None = None  # made at the first clip that plays: no PortAudio before
        # None when sound can play. The check runs once the owner's mode is used (check_sound,
        # Play): Text and Image never load PortAudio, whose start can crash the process where
        # sound is broken.
        self.reason: str | None = CHECKING_SOUND
        self.sound_check = None  # the process's SoundCheck, once this transport has asked for it
        self.running = False  # a run is writing the clip: Play waits for it to end
        self.playing_from = 0  # clip sample where the current playback started
        # The playback rate: samples the device took per second of wall time, counted from the
        # first frame it had taken any (its first buffer is taken at once, whatever the clock).
        self.clock = time.monotonic  # tests hand in their own
        self._rate_from: tuple[float, int] | None = None  # (time, samples played) then

        self.play_button = QPushButton("Play")
        self.stop_button = QPushButton("Stop sound")
        self.play_live = QCheckBox("Play while generating")
        self.play_live.setChecked(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.playhead = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen(PLAYHEAD_COLOUR, width=2))
        self.playhead.hide()
        self.play_button.clicked.connect(self.play)
        self.stop_button.clicked.connect(self.stop)

        self.sound_check_timer = QTimer(self)
        self.sound_check_timer.setInterval(SOUND_CHECK_POLL_MS)
        self.sound_check_timer.timeout.connect(self._poll_sound_check)
        self.playhead_timer = QTimer(self)
        self.playhead_timer.setInterval(1000 // PLAYHEAD_HZ)
        self.playhead_timer.timeout.connect(self.move_playhead)
        self.refresh()

    # -- the sound check ---------------------------------------------------------------------

    def check_sound(self) -> None:
        """Start the sound check (once per process; a child process, off the GUI thread); Play
        waits for its answer. Later transports find it answered."""
        if self.sound_check is None:
            self.sound_check = shared_sound_check()
            self._poll_sound_check()
            if not self.sound_check.done:
                self.sound_check_timer.start()

    @Slot()
    def _poll_sound_check(self) -> None:
        if not self.sound_check.done:
            return
        self.sound_check_timer.stop()
        if self.reason == CHECKING_SOUND:
            self.reason = self.sound_check.reason
        self.refresh()

    # -- playing -------------------------------------------------------------------------------

    def start(self, from_sample: int) -> bool:
        """Begin a clip at `from_sample` of the owner's clip, to be fed. Returns at once: the
        player opens the device on its own thread (a clip it cannot play ends by itself, and
        move_playhead shows why). False, with the reason shown, where the player refused it."""
        if self.player is None:
            self.player = Player()
        try:
            self.player.start()
        except PlaybackError as e:
            self.reason = str(e)
            self.refresh()
            return False
        self.status.clear()
        self._rate_from = None
        self.playing_from = from_sample
        self.playhead.setPos(from_sample / SAMPLE_RATE)
        self.playhead.show()
        self.playhead_timer.start()
        return True

    def start_live(self, from_sample: int) -> None:
        """A run is about to generate from `from_sample` on: play it as it comes, where asked to
        and sound can play."""
        if self.play_live.isChecked() and self.reason is None:
            self.start(from_sample)

    def feed(self, levels: np.ndarray) -> None:
        """New samples of a run, after those fed before; dropped unless a clip is playing."""
        if self.player is not None and self.player.active:
            self.player.feed(decode(levels))

    @Slot()
    def play(self) -> None:
        """Play the clip from its start."""
        self.check_sound()
        if self.reason is not None:
            return
        clip = self.clip()
        if not len(clip):
            return
        if self.start(from_sample=0):
            self.player.feed(decode(clip))
            self.player.finish()

    @Slot()
    def stop(self) -> None:
        """Silence the clip; its playback line goes with it (a new run, a branch shown: no figures
        of a clip that is not the one shown)."""
        if self.player is not None:
            self.player.stop()
        self.playhead_timer.stop()
        self.playhead.hide()
        self.status.clear()
        self.refresh()  # a reason there is no sound stays said

    def set_running(self, running: bool) -> None:
        """A run started or ended. At its end a live clip plays out what was generated, then
        ends (the stream stays open)."""
        self.running = running
        if not running and self.player is not None and self.player.active:
            self.player.finish()
        self.refresh()

    @property
    def underruns(self) -> int | None:
        """Callbacks that ran dry before the clip was finished, once anything has played."""
        return None if self.player is None else self.player.underruns

    def playback_rate(self) -> float | None:
        """Real-time factor of the playback: samples the device played per second of wall time
        per SAMPLE_RATE, since it first played (None until it has played RATE_AFTER_S). Live, below
        1 when generation feeds it slower than real time: the sound a person hears comes that slowly."""
        player = self.player
        if player is None or self._rate_from is None:
            return None
        since, played_then = self._rate_from
        seconds = self.clock() - since
        return (player.played - played_then) / SAMPLE_RATE / seconds if seconds >= RATE_AFTER_S else None

    def _playback_text(self, played: str) -> str:
        """"Playing" or "Played 0.80 s", the rate where measured, and the underruns."""
        rate = self.playback_rate()
        at = f" at {real_time_factor(rate)} real time" if rate is not None else ""
        underruns = self.player.underruns
        return f"{played}{at} · {underruns:,} underrun{'' if underruns == 1 else 's'}"

    @Slot()
    def move_playhead(self) -> None:
        """Follow the player (PLAYHEAD_HZ times a second while a clip plays) and say how it plays;
        at the clip's end say what was played, or why the device could not play it."""
        player = self.player
        if player is None:
            return
        played = player.played
        self.playhead.setPos((self.playing_from + played) / SAMPLE_RATE)
        if self._rate_from is None and played:
            self._rate_from = (self.clock(), played)
        if not player.active:
            self.playhead_timer.stop()
            self.playhead.hide()
            if player.problem is not None and played == 0:  # the device could not play it
                self.reason = player.problem
                self.refresh()
            else:
                self.status.setText(self._playback_text(f"Played {played / SAMPLE_RATE:.2f} s"))
        elif played == 0 and not player.device_open:
            self.status.setText(WAITING_FOR_DEVICE)
        elif played:
            text = self._playback_text("Playing")
            if text != self.status.text():
                self.status.setText(text)
        elif self.status.text() == WAITING_FOR_DEVICE:
            self.status.clear()

    def refresh(self) -> None:
        """Play and Stop sound, their tips and the status line, for the reason, the run and the
        clip as they are now (the owner calls this when its clip gains or loses all its samples)."""
        ok = self.reason is None
        self.play_button.setEnabled(ok and not self.running and len(self.clip()) > 0)
        self.stop_button.setEnabled(ok)
        self.play_live.setToolTip("" if ok else self.reason)
        if self.reason == CHECKING_SOUND:
            self.play_button.setToolTip(CHECKING_SOUND_STATUS)
            self.status.setText(CHECKING_SOUND_STATUS)
        elif not ok:
            self.play_button.setToolTip(f"No sound: {self.reason}")
            self.status.setText(f"No sound: {self.reason}. Generating, the waveform and Save WAV still work.")
        else:
            self.play_button.setToolTip("")
            if self.status.text() == CHECKING_SOUND_STATUS:
                self.status.clear()

    def shutdown(self) -> None:
        """The owner is closing: no sound may outlive it, and nothing here waits on the device.
        The player's sound thread closes the stream by itself (or, stuck in a device call, is
        left behind as a daemon)."""
        self.playhead_timer.stop()
        self.sound_check_timer.stop()
        if self.player is not None:
            self.player.close(join_timeout=0.0)
            self.player = None
