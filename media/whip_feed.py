"""Feeding a long-lived media source into short-lived peer connections.

A publisher outlives its connections: when the ingest drops, a new peer connection takes over
while the source (encoder output, shared with the recorder) keeps running. aiortc stops a
sender's track when the connection closes, so each connection gets its own `ConnectionTrack`
and a `Feed` pumps the source into whichever one is current, discarding media while none is.

A `Feed` counts, over all its connections, the media a connection lost because it fell
behind (`dropped`; not what came before a connection's first keyframe) and what its sender
took more than LATE_AFTER_S after it arrived (`late`): the Stats dock's WHIP figures.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

log = logging.getLogger(__name__)

MAX_QUEUED = {"video": 30, "audio": 50}
LATE_AFTER_S = 0.5


def _is_encoded(item: Any) -> bool:
    return isinstance(item, av.Packet)


class ConnectionTrack(MediaStreamTrack):
    """One connection's view of a source; stopping it leaves the source running."""

    def __init__(self, feed: "Feed") -> None:
        super().__init__()
        self.kind = feed.kind
        self._feed = feed
        self._queue: deque[tuple[float, Any]] = deque()  # (when offered, item)
        self._wakeup = asyncio.Event()
        # Pre-encoded video must start at a keyframe for the far end to decode anything.
        self._need_keyframe = feed.kind == "video"
        self._started = False  # an item was queued: from now on what is dropped is lost
        self.frames_sent = 0

    def offer(self, item: Any) -> None:
        if _is_encoded(item) and self._need_keyframe:
            if not item.is_keyframe:
                self._feed.dropped += self._started
                return
            self._need_keyframe = False
        if len(self._queue) >= MAX_QUEUED[self.kind]:
            self._feed.dropped += len(self._queue)
            self._queue.clear()  # too far behind: live media is worth nothing late
            if _is_encoded(item) and self.kind == "video" and not item.is_keyframe:
                self._need_keyframe = True
                self._feed.dropped += 1
                self._feed.request_keyframe()
                return
        self._queue.append((time.monotonic(), item))
        self._started = True
        self._wakeup.set()

    async def recv(self) -> Any:
        while not self._queue:
            if self.readyState != "live" or self._feed.ended:
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        self.frames_sent += 1
        offered_at, item = self._queue.popleft()
        if time.monotonic() - offered_at > LATE_AFTER_S:
            self._feed.late += 1
        return item

    def stop(self) -> None:
        super().stop()
        self._feed.detach(self)
        self._wakeup.set()


class Feed:
    """Pumps one source track into the current connection's track."""

    def __init__(self, source: MediaStreamTrack) -> None:
        self.source = source
        self.kind = source.kind
        self.ended = False
        self.frames_in = 0
        self.dropped = 0  # over every connection (see the module's docstring)
        self.late = 0
        self._current: ConnectionTrack | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.ensure_future(self._pump())

    def attach(self) -> ConnectionTrack:
        track = ConnectionTrack(self)
        self._current = track
        self.request_keyframe()
        return track

    def detach(self, track: ConnectionTrack) -> None:
        if self._current is track:
            self._current = None

    def request_keyframe(self) -> None:
        """Ask the source for a keyframe if it can make one (an encoder we own can)."""
        request = getattr(self.source, "request_keyframe", None)
        if callable(request):
            request()

    async def _pump(self) -> None:
        try:
            while True:
                item = await self.source.recv()
                self.frames_in += 1
                if self._current is not None:
                    self._current.offer(item)
        except MediaStreamError:
            log.info("%s source ended", self.kind)
        except asyncio.CancelledError:
            raise
        except Exception:  # a broken source must not take the publisher down silently
            log.exception("%s source failed", self.kind)
        self.ended = True
        if self._current is not None:
            self._current._wakeup.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
