"""One live stream inside the built-in relay: the artist's encoded frames, fanned out to viewers.

The ingest peer connection's receivers are tapped (`media.encoded_tap`): each complete encoded
frame arrives here once and is handed to every viewer's `RelayedTrack` as bytes. Each viewer's
aiortc sender then only *packetizes* it (`Encoder.pack()`, the path aiortc takes for an
`av.Packet`): nothing is decoded or re-encoded, whatever the number of viewers.
"""

import asyncio
import fractions
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import av
from aiortc import MediaStreamTrack
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from media.encoded_tap import is_keyframe

log = logging.getLogger(__name__)

# A viewer further behind than this is dropped back to the next keyframe.
MAX_QUEUED = {"video": 90, "audio": 100}
# Keyframe requests to the artist are spaced at least this far apart.
KEYFRAME_REQUEST_INTERVAL_S = 0.5


@dataclass
class RelayFrame:
    data: bytes
    timestamp: int  # in the codec's clock, from the current ingest's first frame
    keyframe: bool
    generation: int  # which ingest connection it came from


class RelayedTrack(MediaStreamTrack):
    """What one viewer's sender reads: `av.Packet`s of the artist's encoded media.

    Timestamps stay continuous for the viewer across artist reconnections (each new ingest
    starts its clock at 0 again). Video starts, and restarts after an overflow, at a keyframe.
    """

    def __init__(self, broadcast: "Broadcast", kind: str) -> None:
        super().__init__()
        self.kind = kind
        self._broadcast = broadcast
        self._queue: deque[RelayFrame] = deque()
        self._wakeup = asyncio.Event()
        self._waiting_for_keyframe = kind == "video"
        self._generation: int | None = None
        self._offset = 0
        self._last_out = 0
        self._last_wall = 0.0
        self.frames_sent = 0

    def offer(self, frame: RelayFrame) -> None:
        if self.readyState != "live":
            return
        if self._waiting_for_keyframe:
            if not frame.keyframe:
                # asked again until one comes (spaced by the broadcast): the request made at
                # subscribe may find no sender known yet, or be lost, and a browser publisher
                # sends keyframes only when asked
                self._broadcast.request_keyframe()
                return
            self._waiting_for_keyframe = False
        if len(self._queue) >= MAX_QUEUED[self.kind]:
            self._queue.clear()
            if self.kind == "video":
                self._waiting_for_keyframe = not frame.keyframe
                if self._waiting_for_keyframe:
                    self._broadcast.request_keyframe()
                    return
        self._queue.append(frame)
        self._wakeup.set()

    async def recv(self) -> av.Packet:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        if self.readyState != "live":
            raise MediaStreamError
        frame = self._queue.popleft()
        clock_rate = self._broadcast.clock_rate(self.kind)
        if frame.generation != self._generation:
            # New ingest connection: carry on from where this viewer's timeline was.
            if self._generation is not None:
                gap = round((time.monotonic() - self._last_wall) * clock_rate)
                self._offset = self._last_out + max(gap, 1) - frame.timestamp
            self._generation = frame.generation
        pts = frame.timestamp + self._offset
        self._last_out, self._last_wall = pts, time.monotonic()
        packet = av.Packet(frame.data)
        packet.pts = pts
        packet.time_base = fractions.Fraction(1, clock_rate)
        self.frames_sent += 1
        return packet

    def stop(self) -> None:
        if self.readyState == "live":
            super().stop()
            self._broadcast.unsubscribe(self)
        self._wakeup.set()


class Broadcast:
    """A named stream: its current ingest codecs and the tracks of the viewers watching it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.codecs: dict[str, RTCRtpCodecParameters] = {}
        self.started_at = time.time()
        self.generation = 0
        self.frames_in = {"audio": 0, "video": 0}
        self._tracks: set[RelayedTrack] = set()
        self._keyframe_requester: Callable[[], None] | None = None
        self._last_keyframe_request = 0.0

    def clock_rate(self, kind: str) -> int:
        codec = self.codecs.get(kind)
        return codec.clockRate if codec else (48000 if kind == "audio" else 90000)

    def new_ingest(
        self, codecs: dict[str, RTCRtpCodecParameters], keyframe_requester: Callable[[], None]
    ) -> int:
        """A (re)connected artist: returns the generation its frames must carry."""
        self.generation += 1
        self.codecs = dict(codecs)
        self._keyframe_requester = keyframe_requester
        return self.generation

    def ingest_ended(self, generation: int) -> None:
        if generation == self.generation:
            self._keyframe_requester = None

    def push(
        self, kind: str, generation: int, codec: RTCRtpCodecParameters, frame: JitterFrame
    ) -> None:
        """An encoded frame from the artist, handed to every viewer of that kind."""
        if generation != self.generation:
            return  # a replaced ingest still draining
        self.codecs[kind] = codec
        self.frames_in[kind] += 1
        relay_frame = RelayFrame(
            data=frame.data,
            timestamp=frame.timestamp,
            keyframe=is_keyframe(codec.name, frame.data),
            generation=generation,
        )
        for track in list(self._tracks):
            if track.kind == kind:
                track.offer(relay_frame)

    def subscribe(self, kind: str) -> RelayedTrack:
        track = RelayedTrack(self, kind)
        self._tracks.add(track)
        if kind == "video":
            self.request_keyframe()
        return track

    def unsubscribe(self, track: RelayedTrack) -> None:
        self._tracks.discard(track)

    def request_keyframe(self) -> None:
        now = time.monotonic()
        if (
            self._keyframe_requester
            and now - self._last_keyframe_request >= KEYFRAME_REQUEST_INTERVAL_S
        ):
            self._last_keyframe_request = now
            self._keyframe_requester()

    def close(self) -> None:
        for track in list(self._tracks):
            track.stop()
