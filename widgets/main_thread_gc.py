"""Python's cyclic garbage collector runs on the GUI thread only.

Left to itself, the collector runs on whichever thread happens to allocate when a generation
fills up: in the studio that is usually the encoder, the audio clock or an analysis worker.
A Qt object caught in a reference cycle (a widget whose Python wrapper a closure keeps, a
dialog, a timer) is then destroyed on that thread. Qt cannot stop a timer from a thread
that does not own it ("QObject::~QObject: Timers cannot be stopped from another thread"),
so the timer stays registered with a dangling pointer and the GUI thread crashes the next
time it fires. That is what segfaulted the in-process window tests while a track was
analysed. Here automatic collection is switched off and the GUI thread collects on a
timer, with the collector's own thresholds, the way calibre does it.
"""

import gc
import logging
import time

from PySide6.QtCore import QObject, QTimer

from studio.logs import event

log = logging.getLogger(__name__)

CHECK_MS = 500
LONG_PAUSE_MS = 40.0  # more than a frame at 30 fps: every thread waited this long
# An explicit full collection skips CPython's own brake (a full pass only once the objects
# awaiting one are a quarter of the long-lived ones), so full passes are rationed by time.
FULL_EVERY_S = 60.0


class MainThreadCollector(QObject):
    """While it lives, cyclic garbage is collected on the thread that created it."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = CHECK_MS) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = 0
        self._last_full = time.monotonic()
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.check)
        gc.disable()
        self._timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose counts passed their thresholds, youngest first."""
        count0, count1, count2 = gc.get_count()
        if count0 <= self.threshold[0]:
            return
        generation = 0
        if count1 > self.threshold[1]:
            generation = 1
            if count2 > self.threshold[2] and time.monotonic() - self._last_full >= FULL_EVERY_S:
                generation = 2
                self._last_full = time.monotonic()
        started = time.perf_counter()
        found = gc.collect(generation)
        pause_ms = (time.perf_counter() - started) * 1000
        self.collections += 1
        if pause_ms >= LONG_PAUSE_MS:
            event(log, "gc_pause", generation=generation, ms=round(pause_ms, 1), freed=found)

    def stop(self) -> None:
        """Give collection back to Python (on exit, or when a test's window is gone)."""
        self._timer.stop()
        gc.enable()
