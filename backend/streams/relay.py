"""The built-in relay: WHIP ingest and WHEP playback with aiortc, forwarding encoded media.

How media crosses without re-encoding (aiortc's `MediaRelay` would decode once and then encode
once per viewer): the ingest connection's receivers are tapped with
`media.encoded_tap.tap_encoded_frames`, which yields each complete encoded frame (depacketized
VP8/H.264/Opus) instead of decoding it. `Broadcast` hands those bytes to a `RelayedTrack` per
viewer, whose `recv()` returns `av.Packet`s; aiortc's sender sees packets, not frames, and only
packetizes them (`Encoder.pack()`). Per viewer that costs RTP packetization and SRTP, never a
codec. Viewers' keyframe requests (PLI/FIR) go to the artist as one rate-limited PLI.
`bench/live.py` measures how many 720p30 viewers this holds.
"""

import asyncio
import contextlib
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from aiortc import RTCDtlsTransport, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.codecs import get_capabilities
from aiortc.exceptions import InternalError, InvalidStateError, OperationError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.sdp import SessionDescription
from cryptography.hazmat.primitives.asymmetric import ec

from backend.streams.broadcast import Broadcast, RelayedTrack
from backend.streams.media_server import (
    BadOffer,
    NoCommonCodec,
    RelayedStream,
    RelayFull,
    ResourceNotFound,
    SessionAnswer,
    StreamNotLive,
    ViewerOffer,
    WrongViewerFlow,
    check_client_share,
)
from media.encoded_tap import tap_encoded_frames
from media.ice import enlarge_socket_buffers, peer_connection

log = logging.getLogger(__name__)

MEDIA_KINDS = ("audio", "video")
# The ingest does not negotiate abs-send-time. With it, aiortc's receiver runs a bandwidth
# estimator on every video packet and, whenever the delay grows (a busy machine), sends the
# artist a REMB per packet: hundreds a second that nothing uses (the encoded-frame publisher
# has no encoder for aiortc to steer) and that queue the receiver reports behind them.
_ABS_SEND_TIME = re.compile(
    r"^a=extmap:\d+(?:/\w+)? http://www\.webrtc\.org/experiments/rtp-hdrext/abs-send-time\r?\n",
    re.MULTILINE,
)
# The curves OpenSSL (under aiortc) offers for ECDHE and accepts for a peer's ECDSA key.
DTLS_CURVES = ("secp256r1", "secp384r1", "secp521r1")


@dataclass
class _Ingest:
    stream: str
    resource_id: str
    pc: RTCPeerConnection
    generation: int = 0


@dataclass
class _Viewer:
    stream: str
    resource_id: str
    pc: RTCPeerConnection
    tracks: list[RelayedTrack] = field(default_factory=list)
    closed: bool = False
    clients: tuple[str, ...] = ()  # who holds the session: "ip:...", "account:..."


def parse_offer(offer_sdp: str, sending: bool) -> SessionDescription:
    """Parse an offer and check it carries media the right way round."""
    try:
        description = SessionDescription.parse(offer_sdp)
    except Exception as exc:  # aiortc raises assorted errors on malformed SDP
        raise BadOffer(f"The SDP offer cannot be parsed: {exc}") from None
    wanted = ("sendonly", "sendrecv") if sending else ("recvonly", "sendrecv")
    kinds = [m.kind for m in description.media if m.kind in MEDIA_KINDS and m.direction in wanted]
    if not kinds:
        role = "send" if sending else "receive"
        raise BadOffer(f"The SDP offer has no audio or video m-line to {role}.")
    return description


def _peer_key(dtls: RTCDtlsTransport) -> str | None:
    """The kind of key in the certificate the peer sent during the handshake, e.g. "secp224r1".

    aiortc keeps its OpenSSL connection private (`_ssl`) and has no public accessor for the
    peer certificate; this is only read to explain a failure, so any surprise yields None."""
    try:
        certificate = dtls._ssl.get_peer_certificate(as_cryptography=True)
        key = certificate.public_key()
    except Exception:
        return None
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.curve.name
    return type(key).__name__.lstrip("_").removesuffix("PublicKey") or None


def dtls_failure(pc: RTCPeerConnection) -> str | None:
    """Why the peer's DTLS handshake failed, in words an operator can act on; None when no
    DTLS transport of `pc` failed."""
    failed = [
        t.receiver.transport
        for t in pc.getTransceivers()
        if t.receiver.transport is not None and t.receiver.transport.state == "failed"
    ]
    if not failed:
        return None
    key = _peer_key(failed[0])
    if key is not None and key.startswith("secp") and key not in DTLS_CURVES:
        return (
            f"the publisher's DTLS certificate has a {key} key, a curve this relay's DTLS "
            "(OpenSSL) does not negotiate; WebRTC endpoints use ECDSA P-256 (RFC 8827). "
            "FFmpeg's WHIP muxer built with GnuTLS makes P-224 keys: give it a P-256 key and "
            "certificate with its cert_file and key_file options (docs/whip-clients.md)."
        )
    sent = f" (its certificate has a {key} key)" if key else ""
    return f"the DTLS handshake with the publisher failed{sent}."


def _codec_names(codecs: list[RTCRtpCodecParameters]) -> str:
    names = sorted({c.mimeType for c in codecs if c.name.lower() != "rtx"})
    return ", ".join(names) or "none"


def _capabilities_for(kind: str, codec: RTCRtpCodecParameters) -> list[RTCRtpCodecCapability]:
    """The codec the artist sends (plus RTX for video), as transceiver codec preferences."""
    chosen = []
    for capability in get_capabilities(kind).codecs:
        same_codec = (
            capability.mimeType.lower() == codec.mimeType.lower()
            and capability.parameters == codec.parameters
        )
        if same_codec or capability.name.lower() == "rtx":
            chosen.append(capability)
    return chosen


class BuiltinRelay:
    """In-process `MediaServer`: one aiortc connection per artist and per viewer."""

    viewer_flow = "whep"

    def __init__(
        self,
        max_viewers: int = 500,
        offline_grace_s: float = 120.0,
        max_viewers_per_client: int = 0,
    ) -> None:
        self.max_viewers = max_viewers  # over all streams: each costs SRTP and sends
        # Sessions one client (address or account) may hold, so one cannot take them all.
        self.max_viewers_per_client = max_viewers_per_client  # 0: no cap
        self.offline_grace_s = offline_grace_s  # viewers wait this long for the artist back
        self._broadcasts: dict[str, Broadcast] = {}
        self._ingests: dict[str, _Ingest] = {}  # by stream name: the current ingest
        self._viewers: dict[str, _Viewer] = {}  # by resource id
        self._tasks: set[asyncio.Future[None]] = set()
        # Told when a stream's viewer count changes and when a stream ends for good.
        self.on_viewers: Callable[[str, int], Awaitable[None]] | None = None
        self.on_ended: Callable[[str], Awaitable[None]] | None = None

    def _background(self, coroutine) -> None:  # type: ignore[no-untyped-def]
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- ingest (WHIP) -------------------------------------------------------------------

    async def publish(self, stream: str, offer_sdp: str) -> SessionAnswer:
        offered = parse_offer(offer_sdp, sending=True)
        broadcast = self._broadcasts.get(stream) or Broadcast(stream)
        ingest = _Ingest(stream=stream, resource_id=secrets.token_urlsafe(16), pc=peer_connection())
        pc = ingest.pc

        @pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            receiver = next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track)
            kind = track.kind

            def sink(codec: RTCRtpCodecParameters, frame) -> None:  # type: ignore[no-untyped-def]
                broadcast.push(kind, ingest.generation, codec, frame)

            tap_encoded_frames(receiver, kind, sink)

        try:
            await pc.setRemoteDescription(
                RTCSessionDescription(sdp=_ABS_SEND_TIME.sub("", offer_sdp), type="offer")
            )
            await pc.setLocalDescription(await pc.createAnswer())
            enlarge_socket_buffers(pc)
        except OperationError:
            await pc.close()
            offered_codecs = [c for m in offered.media for c in m.rtp.codecs]
            raise NoCommonCodec(
                "This ingest relays Opus, VP8 and H.264; the offer has "
                f"{_codec_names(offered_codecs)}."
            ) from None
        except (ValueError, InternalError, InvalidStateError) as exc:
            await pc.close()
            raise BadOffer(f"The SDP offer was refused: {exc}") from None

        answer_sdp = pc.localDescription.sdp
        codecs = {
            m.kind: m.rtp.codecs[0]
            for m in SessionDescription.parse(answer_sdp).media
            if m.kind in MEDIA_KINDS and m.rtp.codecs and m.direction in ("recvonly", "sendrecv")
        }
        previous = self._ingests.get(stream)
        self._broadcasts[stream] = broadcast
        self._ingests[stream] = ingest
        ingest.generation = broadcast.new_ingest(codecs, lambda: self._request_keyframe(pc))

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            log.info("ingest %s for %s: %s", ingest.resource_id[:6], stream, pc.connectionState)
            if pc.connectionState == "failed" and (reason := dtls_failure(pc)) is not None:
                log.warning("ingest for %s refused: %s", stream, reason)
            if pc.connectionState in ("failed", "closed"):
                await self._end_ingest(ingest)

        if previous is not None:  # the artist reconnected before the old connection failed
            self._background(self._end_ingest(previous))
        log.info("ingest for %s: %s", stream, {k: c.mimeType for k, c in codecs.items()})
        return SessionAnswer(resource_id=ingest.resource_id, sdp=answer_sdp)

    async def unpublish(self, stream: str, resource_id: str) -> None:
        ingest = self._ingests.get(stream)
        if ingest is None or ingest.resource_id != resource_id:
            raise ResourceNotFound(f"No ingest session {resource_id} for stream {stream}.")
        await self._end_ingest(ingest, explicit=True)

    async def _end_ingest(self, ingest: _Ingest, explicit: bool = False) -> None:
        broadcast = self._broadcasts.get(ingest.stream)
        if self._ingests.get(ingest.stream) is ingest:
            del self._ingests[ingest.stream]
            if broadcast is not None:
                broadcast.ingest_ended(ingest.generation)
                if not self._viewer_count(ingest.stream):
                    self._broadcasts.pop(ingest.stream, None)
            if explicit:  # the artist said stop: it is over
                await self._end_stream(ingest.stream)
            else:  # a dropped connection: the artist may well reconnect
                self._background(self._end_if_still_offline(ingest.stream))
        await ingest.pc.close()

    async def _end_if_still_offline(self, stream: str) -> None:
        """An artist who does not come back within the grace period has ended the stream."""
        await asyncio.sleep(self.offline_grace_s)
        if stream not in self._ingests:
            await self._end_stream(stream)

    async def _end_stream(self, stream: str) -> None:
        for viewer in [v for v in self._viewers.values() if v.stream == stream]:
            self._viewers.pop(viewer.resource_id, None)
            await self._close_viewer(viewer)
        await self._notify_ended(stream)

    async def _notify_ended(self, stream: str) -> None:
        if self.on_ended is not None:
            await self.on_ended(stream)

    def _notify_viewers(self, stream: str) -> None:
        if self.on_viewers is not None:
            self._background(self.on_viewers(stream, self._viewer_count(stream)))

    def _request_keyframe(self, pc: RTCPeerConnection) -> None:
        """Ask the artist for a keyframe (RTCP PLI) on every video receiver."""
        for transceiver in pc.getTransceivers():
            receiver: RTCRtpReceiver = transceiver.receiver
            if transceiver.kind != "video":
                continue
            for source in receiver.getSynchronizationSources():
                # aiortc has no public "send PLI" call; this is the one its receiver uses.
                self._background(receiver._send_rtcp_pli(source.source))

    # -- playback (WHEP) -----------------------------------------------------------------

    async def play(self, stream: str, offer_sdp: str, clients: Sequence[str] = ()) -> SessionAnswer:
        parse_offer(offer_sdp, sending=False)
        broadcast = self._broadcasts.get(stream)
        if broadcast is None or stream not in self._ingests:
            raise StreamNotLive(f"Stream {stream} is not live.")
        self._check_client_share(clients)
        if len(self._viewers) >= self.max_viewers:
            raise RelayFull(f"This relay is full ({self.max_viewers} viewers); try again later.")
        viewer = _Viewer(
            stream=stream,
            resource_id=secrets.token_urlsafe(16),
            pc=peer_connection(),
            clients=tuple(clients),
        )
        pc = viewer.pc
        for kind, codec in broadcast.codecs.items():
            track = broadcast.subscribe(kind)
            viewer.tracks.append(track)
            transceiver = pc.addTransceiver(track, direction="sendonly")
            transceiver.setCodecPreferences(_capabilities_for(kind, codec))
            # A viewer's PLI/FIR cannot make a packetizer produce a keyframe: pass it upstream.
            transceiver.sender._send_keyframe = broadcast.request_keyframe  # type: ignore[method-assign]
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            enlarge_socket_buffers(pc)
        except OperationError:
            await self._close_viewer(viewer)
            sent = _codec_names(list(broadcast.codecs.values()))
            raise NoCommonCodec(
                f"This stream is sent as {sent}; the player accepts none of it."
            ) from None
        except (ValueError, InternalError, InvalidStateError) as exc:
            await self._close_viewer(viewer)
            raise BadOffer(f"The SDP offer was refused: {exc}") from None
        self._viewers[viewer.resource_id] = viewer
        self._notify_viewers(stream)

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._viewers.pop(viewer.resource_id, None)
                await self._close_viewer(viewer)

        return SessionAnswer(resource_id=viewer.resource_id, sdp=pc.localDescription.sdp)

    async def stop_playing(self, stream: str, resource_id: str) -> None:
        viewer = self._viewers.get(resource_id)
        if viewer is None or viewer.stream != stream:
            raise ResourceNotFound(f"No playback session {resource_id} for stream {stream}.")
        del self._viewers[resource_id]
        await self._close_viewer(viewer)

    async def _close_viewer(self, viewer: _Viewer) -> None:
        if viewer.closed:
            return
        viewer.closed = True
        for track in viewer.tracks:
            track.stop()
        if viewer.resource_id not in self._viewers:
            self._notify_viewers(viewer.stream)
        await viewer.pc.close()
        if viewer.stream not in self._ingests and not self._viewer_count(viewer.stream):
            self._broadcasts.pop(viewer.stream, None)

    def _check_client_share(self, clients: Sequence[str]) -> None:
        held = (v.clients for v in self._viewers.values())
        check_client_share(held, clients, self.max_viewers_per_client)

    async def watch(self, stream: str, clients: Sequence[str] = ()) -> ViewerOffer:
        raise WrongViewerFlow("This relay takes viewers' offers: watch over WHEP (/whep/...).")

    async def answer(self, stream: str, resource_id: str, answer_sdp: str) -> None:
        raise WrongViewerFlow("This relay takes viewers' offers: watch over WHEP (/whep/...).")

    # -- state ---------------------------------------------------------------------------

    def _viewer_count(self, stream: str) -> int:
        return sum(1 for v in self._viewers.values() if v.stream == stream)

    def live_streams(self) -> list[RelayedStream]:
        live = []
        for name in sorted(self._ingests):
            broadcast = self._broadcasts[name]
            audio, video = broadcast.codecs.get("audio"), broadcast.codecs.get("video")
            live.append(
                RelayedStream(
                    name=name,
                    viewers=self._viewer_count(name),
                    started_at=broadcast.started_at,
                    audio_codec=audio.name if audio else None,
                    video_codec=video.name if video else None,
                )
            )
        return live

    def broadcast(self, stream: str) -> Broadcast | None:
        return self._broadcasts.get(stream)

    async def close(self) -> None:
        for ingest in list(self._ingests.values()):
            await self._end_ingest(ingest, explicit=True)
        for viewer in list(self._viewers.values()):
            self._viewers.pop(viewer.resource_id, None)
            with contextlib.suppress(Exception):
                await self._close_viewer(viewer)
        for broadcast in self._broadcasts.values():
            broadcast.close()
        self._broadcasts.clear()
        for task in list(self._tasks):
            task.cancel()
