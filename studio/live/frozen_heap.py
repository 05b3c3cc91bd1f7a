"""During a show, full garbage collections skip what was alive before it started.

A full collection walks every tracked object and holds the GIL while it does: in a studio
with Qt, aiortc, NumPy and the backend client loaded that took 40-70 ms here, and up to a
quarter of a second on a loaded CI machine. The video clock waits that long, skips the
pictures it missed, and the recording gets a hole (the VP8 -> H.264 fallback test saw one of
0.27 s). So when a show starts, the garbage so far is collected once, before the clocks run,
and everything still alive is moved to the permanent generation (`gc.freeze`), where the
collector does not look; when the show ends it is handed back (`gc.unfreeze`).

Call both on the thread that owns the Qt objects (the event loop's): `gc.collect` destroys
what it frees on the calling thread (see widgets/main_thread_gc.py).
"""

import gc
import logging
import time

from studio.logs import event

log = logging.getLogger(__name__)

_shows = 0  # shows running in this process; the heap thaws when the last one ends


def freeze_for_show() -> None:
    global _shows
    _shows += 1
    if _shows > 1:
        return
    started = time.perf_counter()
    freed = gc.collect()
    gc.freeze()
    event(
        log,
        "heap_frozen",
        ms=round((time.perf_counter() - started) * 1000, 1),
        freed=freed,
        frozen=gc.get_freeze_count(),
    )


def thaw_after_show() -> None:
    global _shows
    if _shows == 0:
        return
    _shows -= 1
    if _shows == 0:
        gc.unfreeze()
