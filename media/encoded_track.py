"""An aiortc track that yields already-encoded `av.Packet`s from one of our encoders.

aiortc's RTCRtpSender packetizes `av.Packet`s as they are (its codec's `pack`), taking the
RTP timestamp from `packet.pts` and `packet.time_base`: what the recorder writes is what goes
on the wire. The track gets its own copy of each packet from the encoder's fan-out: handed
from the encoder's thread to the event loop, never shared with the recorder. The peer
connection must negotiate the encoder's codec (`track.mime_type`); set the transceiver's
codec preferences accordingly.

A video track starts at a keyframe (it asks the encoder for one) and, if the network falls
so far behind that its queue overflows, drops what is queued and waits for the next
keyframe rather than sending a picture the viewer cannot decode.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable

import av
from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from media.packet_fanout import PacketFanout

log = logging.getLogger(__name__)


class EncodedTrack(MediaStreamTrack):
    def __init__(
        self,
        kind: str,
        packets: PacketFanout,
        mime_type: str,
        request_keyframe: Callable[[], None] | None = None,
        max_queue: int = 90,
    ) -> None:
        super().__init__()
        if kind not in ("audio", "video"):
            raise ValueError(f"kind must be 'audio' or 'video', not {kind!r}")
        self.kind = kind
        self.mime_type = mime_type
        self.dropped = 0
        self._request_keyframe = request_keyframe
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()
        self._max_queue = max_queue
        self._waiting_for_keyframe = kind == "video"
        self._fanout = packets
        self._unsubscribe = packets.subscribe(self._from_encoder)

    @classmethod
    def for_encoder(cls, kind: str, encoder: object, **kwargs: object) -> "EncodedTrack":
        """A track on `encoder` (a media.encoder VideoEncoder or AudioEncoder)."""
        return cls(
            kind,
            encoder.packets,  # type: ignore[attr-defined]
            encoder.mime_type,  # type: ignore[attr-defined]
            request_keyframe=getattr(encoder, "request_keyframe", None),
            **kwargs,  # type: ignore[arg-type]
        )

    def request_keyframe(self) -> None:
        """Ask the encoder for a keyframe (a new connection or a viewer's PLI)."""
        if self._request_keyframe is not None:
            self._request_keyframe()

    def _from_encoder(self, packet: av.Packet) -> None:
        # Called on the encoder's thread with a packet of our own: from here on only the
        # event loop touches it.
        with contextlib.suppress(RuntimeError):  # loop already closed: the track is over
            self._loop.call_soon_threadsafe(self._enqueue, packet)

    def _enqueue(self, packet: av.Packet) -> None:
        if self.readyState != "live":
            return
        if self._waiting_for_keyframe:
            if not packet.is_keyframe:
                self.dropped += 1
                return
            self._waiting_for_keyframe = False
        if self._queue.qsize() >= self._max_queue:
            self.dropped += self._queue.qsize()
            while not self._queue.empty():
                self._queue.get_nowait()
            if self.kind == "video":
                log.info("video track fell behind; waiting for the next keyframe")
                self._waiting_for_keyframe = not packet.is_keyframe
                if self._request_keyframe is not None:
                    self._request_keyframe()
                if self._waiting_for_keyframe:
                    return
        self._queue.put_nowait(packet)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        if self.readyState != "live":
            raise MediaStreamError
        packet = await self._queue.get()
        if packet is None:
            raise MediaStreamError
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            self._unsubscribe()
            self._queue.put_nowait(None)
        super().stop()


def prefer_codec(transceiver: RTCRtpTransceiver, mime_type: str) -> None:
    """Offer only `mime_type` (plus its retransmission codec) on `transceiver`.

    Our packets are already encoded: the negotiated codec must be the encoder's.
    """
    kind = mime_type.split("/")[0]
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    chosen = [c for c in capabilities if c.mimeType.lower() == mime_type.lower()]
    if not chosen:
        raise ValueError(f"aiortc cannot send {mime_type}")
    rtx = [c for c in capabilities if c.mimeType.lower() == f"{kind}/rtx"]
    transceiver.setCodecPreferences(chosen + rtx)
