"""Hand each encoded packet to every subscriber: the recorder, the WebRTC sender, a test.

Subscribers get the *same* `av.Packet` objects and must treat them as read-only (copy before
muxing: muxing rescales timestamps in place). Callbacks run on the encoder's thread and
must return quickly; a callback that raises is logged and unsubscribed.
"""

import logging
import threading
from collections.abc import Callable

import av

log = logging.getLogger(__name__)

PacketCallback = Callable[[av.Packet], None]


class PacketFanout:
    def __init__(self, name: str) -> None:
        self.name = name
        self._subscribers: list[PacketCallback] = []
        self._lock = threading.Lock()
        self.on_subscribe: Callable[[], None] | None = None  # e.g. ask for a keyframe

    def subscribe(self, callback: PacketCallback) -> Callable[[], None]:
        """Start delivering to `callback`; returns the function that stops it."""
        with self._lock:
            self._subscribers.append(callback)
        if self.on_subscribe is not None:
            self.on_subscribe()
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: PacketCallback) -> None:
        with self._lock:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, packet: av.Packet) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(packet)
            except Exception:
                log.exception("%s subscriber %r failed; unsubscribing it", self.name, callback)
                self.unsubscribe(callback)
