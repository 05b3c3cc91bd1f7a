"""`WhepPlayer`: watch a stream over WHEP with aiortc (tests, benches, headless checks).

With `server_offer=True` it speaks the backend's other viewer flow instead (a media server such
as Janus that makes the offer itself): `POST url` (/watch/{stream}) returns the server's offer,
the player answers with `PUT` on the session it names.

With `decode=True` the player decodes like a browser and hands `av.VideoFrame`/`av.AudioFrame`
objects to `on_frame(kind, frame)`. With `decode=False` it taps the encoded frames instead
(`on_encoded(kind, codec_name, data, timestamp)`): no codec work at all, which is what lets
one process act as many viewers in a load test.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import httpx
from aiortc import MediaStreamTrack, RTCIceServer, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from media.encoded_tap import tap_encoded_frames
from media.ice import enlarge_socket_buffers, peer_connection
from media.whip_errors import WhipUnreachable
from media.whip_signaling import delete_session, post_offer, put_answer, where

log = logging.getLogger(__name__)

FrameListener = Callable[[str, object], None]
EncodedListener = Callable[[str, str, bytes, int], None]


@dataclass
class PlayerCounts:
    frames: dict[str, int] = field(default_factory=lambda: {"audio": 0, "video": 0})
    first_frame_at: dict[str, float] = field(default_factory=dict)
    video_size: tuple[int, int] | None = None
    codecs: dict[str, str] = field(default_factory=dict)


class WhepPlayer:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        ice_servers: Sequence[RTCIceServer] = (),
        kinds: Sequence[str] = ("audio", "video"),
        video_codecs: Sequence[str] = (),
        decode: bool = True,
        on_frame: FrameListener | None = None,
        on_encoded: EncodedListener | None = None,
        connect_timeout_s: float = 15.0,
        server_offer: bool = False,
    ) -> None:
        self.url = url
        self._server_offer = server_offer
        self._token = token
        self._ice_servers = list(ice_servers)
        self._kinds = tuple(kinds)
        self._video_codecs = tuple(video_codecs)  # empty: every codec aiortc can decode
        self._decode = decode
        self._on_frame = on_frame
        self._on_encoded = on_encoded
        self._connect_timeout = connect_timeout_s
        self._http = httpx.AsyncClient(timeout=10.0, follow_redirects=True)
        self._pc = peer_connection(self._ice_servers)
        self._location: str | None = None
        self._readers: list[asyncio.Task[None]] = []
        self.counts = PlayerCounts()

    @property
    def connection_state(self) -> str:
        return self._pc.connectionState

    async def start(self) -> None:
        pc = self._pc
        # WHEP: the player offers what it receives. Server offer: the server's offer says.
        for kind in () if self._server_offer else self._kinds:
            transceiver = pc.addTransceiver(kind, direction="recvonly")
            if kind == "video" and self._video_codecs:
                wanted = {c.lower() for c in self._video_codecs} | {"rtx"}
                capabilities = RTCRtpReceiver.getCapabilities("video").codecs
                transceiver.setCodecPreferences(
                    [c for c in capabilities if c.name.lower() in wanted]
                )

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            if self._decode:
                self._readers.append(asyncio.ensure_future(self._read(track)))
            else:
                kind = track.kind

                def sink(codec, frame) -> None:  # type: ignore[no-untyped-def]
                    self._count(kind, codec.name)
                    if self._on_encoded is not None:
                        self._on_encoded(kind, codec.name, frame.data, frame.timestamp)

                tap_encoded_frames(receiver, kind, sink)

        if self._server_offer:
            offer = await post_offer(self._http, self.url, "", self._token)
            self._location = offer.location
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            enlarge_socket_buffers(pc)
            await put_answer(self._http, offer.location, pc.localDescription.sdp, self._token)
        else:
            await pc.setLocalDescription(await pc.createOffer())
            enlarge_socket_buffers(pc)
            answer = await post_offer(self._http, self.url, pc.localDescription.sdp, self._token)
            self._location = answer.location
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        deadline = time.monotonic() + self._connect_timeout
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
                await self.stop()
                raise WhipUnreachable(f"Playback from {where(self.url)} could not connect.")
            await asyncio.sleep(0.05)

    def _count(self, kind: str, codec_name: str | None = None) -> None:
        self.counts.frames[kind] = self.counts.frames.get(kind, 0) + 1
        self.counts.first_frame_at.setdefault(kind, time.monotonic())
        if codec_name:
            self.counts.codecs[kind] = codec_name

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                self._count(track.kind)
                if track.kind == "video":
                    self.counts.video_size = (frame.width, frame.height)
                if self._on_frame is not None:
                    self._on_frame(track.kind, frame)
        except MediaStreamError:
            pass

    async def stop(self) -> None:
        if self._location is not None:
            location, self._location = self._location, None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(delete_session(self._http, location, self._token), 2.0)
        for task in self._readers:
            task.cancel()
        await self._pc.close()
        await self._http.aclose()
