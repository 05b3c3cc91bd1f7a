"""Take complete *encoded* frames out of an aiortc receiver instead of decoded pictures.

aiortc's receiver reassembles RTP packets into encoded frames (its jitter buffer) and hands
them to a decoder thread. A relay must not decode (and then re-encode per viewer), so
`tap_encoded_frames` swaps one receiver's jitter buffer for `FrameAssembler`, which hands each
complete encoded frame to a callback on the event loop and never to the decoder (its thread
idles until the connection ends). It also releases a video frame as soon as its last packet
(RTP marker bit) is in, and an audio frame at once, where aiortc's own buffer releases a frame
only when the next one starts (one frame of delay: 33 ms at 30 fps, 80 ms for audio).

Depacketizing, NACK, RTX, RTCP and statistics stay aiortc's. These are private attributes of
aiortc 1.16 (pinned in constraints.txt); `tap_encoded_frames` fails loudly if they change.
"""

from collections.abc import Callable

from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import TimestampMapper
from aiortc.rtp import RtpPacket
from aiortc.utils import uint16_add, uint16_gt

FrameSink = Callable[[RTCRtpCodecParameters, JitterFrame], None]

# Give up on a missing packet once this many newer packets wait behind it (~100 ms of 720p).
MAX_PENDING_PACKETS = 256
# ...or once this many complete frames wait behind it.
MAX_PENDING_FRAMES = 3


class FrameAssembler:
    """Stands in for aiortc's JitterBuffer (`add(packet) -> (send_pli, None)`).

    Complete frames go to `emit(payload_type, frame)` instead of back to the receiver, so
    several frames completed by one packet (a retransmission filling a gap) all come out, in
    order. Video frames are the packets up to a marker bit, released the moment they are
    complete. When a lost packet is not retransmitted in time the broken frame is skipped and
    a keyframe is asked for (PLI).
    """

    def __init__(self, kind: str, emit: Callable[[int, JitterFrame], None]) -> None:
        self.kind = kind
        self._emit = emit
        self._packets: dict[int, RtpPacket] = {}
        self._next_seq: int | None = None  # first packet of the next frame to release

    def add(self, packet: RtpPacket) -> tuple[bool, None]:
        seq = packet.sequence_number
        if self.kind == "audio":  # one Opus packet is one frame
            if self._next_seq is not None and uint16_gt(self._next_seq, seq):
                return False, None  # late or duplicate
            self._next_seq = uint16_add(seq, 1)
            self._emit(packet.payload_type, JitterFrame(packet._data, packet.timestamp))  # type: ignore[attr-defined]
            return False, None

        if self._next_seq is None:
            # Join at a frame boundary: the packet after the first marker we see.
            if packet.marker:
                self._next_seq = uint16_add(seq, 1)
            return False, None
        if uint16_gt(self._next_seq, seq):
            return False, None  # belongs to a frame already released or skipped
        if uint16_add(seq, -self._next_seq) > 4 * MAX_PENDING_PACKETS:
            self._packets.clear()  # a jump far ahead (sender restarted): resynchronise
            self._next_seq = uint16_add(seq, 1) if packet.marker else None
            return True, None
        self._packets[seq] = packet
        released = self._release_complete()
        if not released and self._too_far_behind():
            self._skip_to_next_frame()
            if self._next_seq is not None:
                self._release_complete()
            return True, None
        return False, None

    def _release_complete(self) -> int:
        assert self._next_seq is not None
        released = 0
        while True:
            seq = self._next_seq
            parts: list[RtpPacket] = []
            while True:
                packet = self._packets.get(seq)
                if packet is None:
                    return released
                if parts and packet.timestamp != parts[0].timestamp:
                    break  # a frame without a marker bit: the timestamp change ends it
                parts.append(packet)
                seq = uint16_add(seq, 1)
                if packet.marker:
                    break
            for p in parts:
                del self._packets[p.sequence_number]
            self._next_seq = seq
            data = b"".join(p._data for p in parts)  # type: ignore[attr-defined]
            self._emit(parts[0].payload_type, JitterFrame(data, parts[0].timestamp))
            released += 1

    def _too_far_behind(self) -> bool:
        if len(self._packets) > MAX_PENDING_PACKETS:
            return True
        return sum(1 for p in self._packets.values() if p.marker) >= MAX_PENDING_FRAMES

    def _skip_to_next_frame(self) -> None:
        """Drop everything up to the first waiting marker: the next packet starts a frame."""
        assert self._next_seq is not None
        origin = self._next_seq
        markers = sorted(uint16_add(s, -origin) for s, p in self._packets.items() if p.marker)
        if not markers:
            self._packets.clear()
            self._next_seq = None
            return
        marker_seq = uint16_add(origin, markers[0])
        self._next_seq = uint16_add(marker_seq, 1)
        for seq in list(self._packets):
            if not uint16_gt(seq, marker_seq):
                del self._packets[seq]


def tap_encoded_frames(receiver: RTCRtpReceiver, kind: str, sink: FrameSink) -> None:
    """Route `receiver`'s complete encoded frames to `sink(codec, frame)` (on the event loop).

    Frame timestamps start at 0 for the first frame and never wrap. Call this from the peer
    connection's "track" event, before the receiver starts; the receiver's own track then
    yields nothing (it ends when the connection does).
    """
    for name in ("_RTCRtpReceiver__codecs", "_RTCRtpReceiver__jitter_buffer"):
        if not hasattr(receiver, name):
            raise RuntimeError(
                f"aiortc's RTCRtpReceiver has no {name}: the encoded-frame tap needs updating "
                "for this aiortc version"
            )
    if getattr(receiver, "_RTCRtpReceiver__decoder_thread", None) is not None:
        raise RuntimeError("tap_encoded_frames must be called before the receiver starts")
    codecs: dict[int, RTCRtpCodecParameters] = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
    timestamps = TimestampMapper()

    def emit(payload_type: int, frame: JitterFrame) -> None:
        codec = codecs.get(payload_type)
        if codec is None:
            return
        frame.timestamp = timestamps.map(frame.timestamp)
        sink(codec, frame)

    receiver._RTCRtpReceiver__jitter_buffer = FrameAssembler(kind, emit)  # type: ignore[attr-defined]


def is_keyframe(codec_name: str, data: bytes) -> bool:
    """Whether an encoded VP8 or H.264 (Annex B) frame can be decoded on its own."""
    name = codec_name.upper()
    if name == "VP8":
        return bool(data) and not (data[0] & 0x01)  # frame tag bit 0 (P) clear: key frame
    if name == "H264":
        i = data.find(b"\x00\x00\x01")
        while i != -1 and i + 3 < len(data):
            if data[i + 3] & 0x1F in (5, 7):  # IDR slice or SPS
                return True
            i = data.find(b"\x00\x00\x01", i + 3)
        return False
    return True  # audio: every frame stands alone
