"""Sound for one clip: Play, Stop sound, play-while-generating, the playhead and the underruns.

Audio mode's view and each audio side of the A/B window own one AudioTransport, so that Play,
Stop sound, the playhead over the waveform and the "Played … · underruns …" line behave the same
wherever a clip is shown. The owner places the widgets (its controls, or a side's own row), adds
`playhead` to its plot, and hands the transport a function that returns the clip as it is now.
"""

from __future__ import annotations

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
        if self.player is not None:
            self.player.stop()
        self.playhead_timer.stop()
        self.playhead.hide()

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

    @Slot()
    def move_playhead(self) -> None:
        """Follow the player (PLAYHEAD_HZ times a second while a clip plays); at the clip's end
        say what was played, or why the device could not play it."""
        player = self.player
        if player is None:
            return
        self.playhead.setPos((self.playing_from + player.played) / SAMPLE_RATE)
        waiting = player.active and player.played == 0 and not player.device_open
        if waiting:
            self.status.setText(WAITING_FOR_DEVICE)
        elif self.status.text() == WAITING_FOR_DEVICE:
            self.status.clear()
        if not player.active:
            self.playhead_timer.stop()
            self.playhead.hide()
            if player.problem is not None and player.played == 0:  # the device could not play it
                self.reason = player.problem
                self.refresh()
            else:
                self.status.setText(f"Played {player.played / SAMPLE_RATE:.2f} s · underruns {player.underruns}")

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
