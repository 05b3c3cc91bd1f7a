"""Notices when the backend's event loop stops turning: it relays every show and chat.

A turn that comes late is logged (`loop_stall`, with how late), and a stall of
`HANG_DUMP_S` or more writes every thread's stack to standard error (the backend's log),
from faulthandler's own thread, so a hang is found from its stack rather than guessed at.
Run by the backend's command line (a process of its own), not by in-process test servers:
faulthandler has one such timer per process.
"""

import asyncio
import contextlib
import faulthandler
import logging
import sys
import time
from typing import TextIO

log = logging.getLogger(__name__)

TICK_S = 0.25
STALL_MS = 500.0
HANG_DUMP_S = 3.0
REARM_S = 1.0


class LoopWatchdog:
    def __init__(self, dump_to: TextIO | None = None) -> None:
        self.longest_stall_ms = 0.0
        self.stalls = 0
        self._dump_to = dump_to or sys.stderr
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="loop-watchdog")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        last = armed = time.monotonic()
        faulthandler.dump_traceback_later(HANG_DUMP_S + REARM_S, repeat=False, file=self._dump_to)
        try:
            while True:
                await asyncio.sleep(TICK_S)
                now = time.monotonic()
                late_ms = (now - last - TICK_S) * 1000
                last = now
                if late_ms >= STALL_MS:
                    self.stalls += 1
                    self.longest_stall_ms = max(self.longest_stall_ms, late_ms)
                    log.warning(
                        "event loop stalled for %.0f ms",
                        late_ms,
                        extra={"event": "loop_stall", "ms": round(late_ms)},
                    )
                if now - armed >= REARM_S:
                    faulthandler.dump_traceback_later(
                        HANG_DUMP_S + REARM_S, repeat=False, file=self._dump_to
                    )
                    armed = now
        finally:
            faulthandler.cancel_dump_traceback_later()
