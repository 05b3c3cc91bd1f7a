"""Notices when the GUI thread stops turning: it runs the event loop that sends the show.

The GUI thread runs qasync's loop, so the WebRTC publisher, chat and alerts all wait while it
is blocked; the encoder thread goes on and the frames pile up. A tick that comes late is
logged as a `main_thread_stall` event with how late it was, and a stall that lasts
`HANG_DUMP_S` leaves every thread's stack in crash.log (faulthandler, from its own thread),
so a hang is found from its stack rather than guessed at.
"""

import logging
import time

from PySide6.QtCore import QObject, QTimer

from studio.logs import arm_hang_dump, disarm_hang_dump, event

log = logging.getLogger(__name__)

TICK_MS = 250
STALL_MS = 500.0  # a tick this late is logged
HANG_DUMP_S = 3.0  # a stall this long dumps every thread's stack (re-armed once a second)
REARM_S = 1.0


class MainThreadWatchdog(QObject):
    """While it lives, late turns of the thread that created it are logged and long ones dumped."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.longest_stall_ms = 0.0
        self.stalls = 0
        self._last = time.monotonic()
        self._armed_at = 0.0
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.tick)
        self._timer.start(TICK_MS)
        self.tick()

    def tick(self) -> None:
        now = time.monotonic()
        late_ms = (now - self._last) * 1000 - TICK_MS
        self._last = now
        if late_ms >= STALL_MS:
            self.stalls += 1
            self.longest_stall_ms = max(self.longest_stall_ms, late_ms)
            event(log, "main_thread_stall", ms=round(late_ms))
        if now - self._armed_at >= REARM_S and arm_hang_dump(HANG_DUMP_S + REARM_S):
            self._armed_at = now

    def stop(self) -> None:
        self._timer.stop()
        disarm_hang_dump()
