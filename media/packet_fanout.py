"""Hand each encoded packet to every subscriber: the recorder, the WebRTC sender, a test.

Every PyAV object has one owner thread at a time. The encoder's packets belong to the
encoder's thread; each subscriber gets its *own* copy (`copy_packet`, made here on the
encoder's thread) and owns it from then on: the recorder rescales and muxes its copy on its
thread, aiortc packetizes its copy on the event loop's, and neither sees the other's or the
encoder's. Callbacks run on the encoder's thread and must return quickly (queue the packet
and go); a callback that raises is logged and unsubscribed.
"""

import logging
import threading
from collections.abc import Callable

import av

log = logging.getLogger(__name__)

PacketCallback = Callable[[av.Packet], None]


def copy_packet(packet: av.Packet) -> av.Packet:
    """A new packet with its own copy of `packet`'s data and timing (no shared buffer).

    `av.Packet(packet)` would reference the source's buffer (and keep the source alive):
    `bytes(...)` makes the one copy that lets the two live on different threads.
    """
    copy = av.Packet(bytes(packet))
    copy.pts, copy.dts = packet.pts, packet.dts
    if packet.time_base is not None:
        copy.time_base = packet.time_base
    copy.duration = packet.duration
    copy.is_keyframe = packet.is_keyframe
    return copy


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
        """Hand a copy of `packet` to each subscriber; `packet` stays the caller's."""
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(copy_packet(packet))
            except Exception:
                log.exception("%s subscriber %r failed; unsubscribing it", self.name, callback)
                self.unsubscribe(callback)
