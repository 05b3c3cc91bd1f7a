"""`WhipPublisher`: publish tracks to any WHIP ingest (RFC 9725) with aiortc, and stay live.

    publisher = WhipPublisher(url, token, [audio_track, video_track])
    # token: a string, None, or an async callable returning a fresh one (asked at every
    # POST and DELETE, so a show outlives a short-lived access token)
    await publisher.start()        # raises a WhipError subclass if the first attempt fails
    ...                            # reconnects by itself when the connection drops
    snapshot = await publisher.stats()
    await publisher.stop()         # DELETEs the session

Tracks may yield `av.Packet`s (encoded once upstream; aiortc only packetizes them) or raw
frames (aiortc encodes). Optional hooks on a source track:
  - `codec_name` ("VP8", "H264", "opus") or `mime_type` ("video/VP8"): offer only that codec
    for this track (pre-encoded packets must go out in their own codec);
  - `use_codec(name)`: called with the negotiated codec before media flows, when the track
    lets the ingest choose among `video_codecs`;
  - `request_keyframe()`: called at each (re)connection and when the far end asks (PLI/FIR).

ICE servers: exactly those given, plus those the ingest named in `Link: rel="ice-server"`
headers. aiortc gathers before the offer is sent, so servers learnt from a 201 are used from
the next connection on (reconnects). Without any, only host candidates are used.

Losing the connection is noticed from the peer connection failing or from the ingest falling
silent: no RTCP of any kind from it for `feedback_timeout` (much sooner than ICE consent
expiry, 30 s). The publisher then retries with exponential backoff (with jitter) for as long
as the error is retryable; a refused key or no common codec stops it (state "failed",
`last_error` says why).
"""

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx
from aiortc import MediaStreamTrack, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.codecs import get_capabilities
from aiortc.exceptions import OperationError
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.sdp import SessionDescription

from media.ice import enlarge_socket_buffers, peer_connection
from media.whip_errors import WhipError, WhipNoCommonCodec, WhipRejected, WhipUnreachable
from media.whip_feed import Feed
from media.whip_signaling import check_token_transport, delete_session, post_offer, where

log = logging.getLogger(__name__)

# A receiver report is due every 0.5-1.5 s (RFC 3550's randomised interval); later is logged.
REPORTS_LATE_S = 3.0

StateListener = Callable[[str, WhipError | None], None]
TokenProvider = Callable[[], Awaitable[str | None]]


@dataclass(frozen=True)
class PublisherStats:
    state: str  # idle, connecting, live, reconnecting, failed, stopped
    bitrate_kbps: float  # sent, all tracks, since the previous snapshot
    fps: float  # video frames sent per second since the previous snapshot
    rtt_ms: float | None  # from the ingest's RTCP receiver reports
    packets_lost: int  # as reported by the ingest
    loss_pct: float  # lost / (sent + lost) over the connection
    reconnects: int
    codecs: dict[str, str]  # kind -> codec name, e.g. {"video": "VP8", "audio": "opus"}
    frames_sent: int = 0  # video frames sent on this connection
    packets_sent: int = 0  # RTP packets sent on this connection (with packets_lost: recent loss)
    # Video frames lost because a connection fell behind, and sent more than
    # media.whip_feed.LATE_AFTER_S late, over every connection.
    frames_lost: int = 0
    frames_sent_late: int = 0


def _codec_preferences(kind: str, names: Sequence[str]) -> list[RTCRtpCodecCapability]:
    capabilities = get_capabilities(kind).codecs
    chosen = [c for n in names for c in capabilities if c.name.lower() == n.lower()]
    if kind == "video" and chosen:
        chosen += [c for c in capabilities if c.name.lower() == "rtx"]
    return chosen


class WhipPublisher:
    def __init__(
        self,
        url: str,
        token: str | TokenProvider | None,
        tracks: Sequence[MediaStreamTrack],
        *,
        ice_servers: Sequence[RTCIceServer] = (),
        video_codecs: Sequence[str] = ("VP8", "H264"),
        http_timeout_s: float = 10.0,
        connect_timeout_s: float = 15.0,
        feedback_timeout_s: float = 4.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        on_state: StateListener | None = None,
    ) -> None:
        if not tracks:
            raise ValueError("WhipPublisher needs at least one track")
        # Before anything: a clear error, no key sent. A provider will hand out keys.
        check_token_transport(url, token if token is None or isinstance(token, str) else "key")
        self.url = url
        self._token = token
        self._feeds = [Feed(t) for t in tracks]
        self._ice_servers = list(ice_servers)
        self._link_ice_servers: list[RTCIceServer] = []
        self._video_codecs = tuple(video_codecs)
        self._http = httpx.AsyncClient(timeout=http_timeout_s, follow_redirects=True)
        self._connect_timeout = connect_timeout_s
        self._feedback_timeout = feedback_timeout_s
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._on_state = on_state
        self._pc: RTCPeerConnection | None = None
        self._location: str | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self.state = "idle"
        self.last_error: WhipError | None = None
        self.reconnects = 0
        self.codecs: dict[str, str] = {}
        self.last_delete_ok: bool | None = None  # did the ingest accept the last DELETE?
        self._last_sample: tuple[float, int, int] | None = None  # time, bytes, video frames

    def __repr__(self) -> str:  # never show the token
        return f"WhipPublisher({where(self.url)}, state={self.state})"

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Connect once; afterwards keep the stream up until `stop()`."""
        if self.state not in ("idle", "stopped", "failed"):
            raise RuntimeError(f"publisher is {self.state}")
        for feed in self._feeds:
            feed.start()
        self._set_state("connecting")
        try:
            await self._connect()
        except WhipError as exc:
            await self._teardown()
            self._set_state("failed", exc)
            raise
        self._set_state("live")
        self._supervisor = asyncio.ensure_future(self._supervise())

    async def stop(self) -> None:
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
            self._supervisor = None
        await self._teardown()
        for feed in self._feeds:
            await feed.stop()
        await self._http.aclose()
        self._set_state("stopped")

    def _set_state(self, state: str, error: WhipError | None = None) -> None:
        self.state = state
        if error is not None:
            self.last_error = error
        elif state == "live":
            self.last_error = None
        log.info("whip %s: %s%s", where(self.url), state, f" ({error})" if error else "")
        if self._on_state is not None:
            self._on_state(state, error)

    async def _current_token(self) -> str | None:
        """The key for the next request: as given, or fresh from the provider."""
        if self._token is None or isinstance(self._token, str):
            return self._token
        try:
            token = await self._token()
        except Exception as exc:  # the provider's message may name the backend, never a key
            raise WhipUnreachable(
                f"No fresh stream key for {where(self.url)} ({type(exc).__name__})."
            ) from None
        check_token_transport(self.url, token)
        return token

    # -- one connection ------------------------------------------------------------------

    async def _connect(self) -> None:
        pc = peer_connection([*self._ice_servers, *self._link_ice_servers])
        self._pc = pc
        self._offered: dict[str, set[str]] = {}
        for feed in self._feeds:
            transceiver = pc.addTransceiver(feed.attach(), direction="sendonly")
            fixed = (
                getattr(feed.source, "codec_name", None)
                or getattr(feed.source, "mime_type", "/").partition("/")[2]
            )
            names = (
                [fixed]
                if isinstance(fixed, str) and fixed
                else (self._video_codecs if feed.kind == "video" else ("opus",))
            )
            preferences = _codec_preferences(feed.kind, names)
            if not preferences:
                raise WhipNoCommonCodec(f"This publisher cannot send {', '.join(names)}.")
            self._offered[feed.kind] = {c.name.lower() for c in preferences} - {"rtx"}
            transceiver.setCodecPreferences(preferences)
            # A PLI/FIR from the ingest cannot make aiortc's packetizer produce a keyframe.
            transceiver.sender._send_keyframe = feed.request_keyframe  # type: ignore[method-assign]
        await pc.setLocalDescription(await pc.createOffer())  # gathers candidates
        enlarge_socket_buffers(pc)

        token = await self._current_token()
        answer = await post_offer(self._http, self.url, pc.localDescription.sdp, token)
        self._location = answer.location
        if answer.ice_servers:
            self._link_ice_servers = answer.ice_servers
        self.codecs = self._negotiated(answer.sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        except (OperationError, ValueError) as exc:
            raise WhipNoCommonCodec(
                f"The ingest at {where(self.url)} answered without a codec we send: {exc}"
            ) from None
        for feed in self._feeds:
            use_codec = getattr(feed.source, "use_codec", None)
            if callable(use_codec) and feed.kind in self.codecs:
                use_codec(self.codecs[feed.kind])
        await self._wait_connected(pc)

    def _negotiated(self, answer_sdp: str) -> dict[str, str]:
        try:
            media = SessionDescription.parse(answer_sdp).media
        except Exception:
            raise WhipRejected(
                f"The ingest at {where(self.url)} sent an unreadable SDP answer."
            ) from None
        codecs: dict[str, str] = {}
        for m in media:
            usable = [c for c in m.rtp.codecs if c.name.lower() in self._offered.get(m.kind, ())]
            if m.port and usable and m.direction in ("recvonly", "sendrecv"):
                codecs[m.kind] = usable[0].name
        missing = {f.kind for f in self._feeds} - set(codecs)
        if missing:
            raise WhipNoCommonCodec(
                f"The ingest at {where(self.url)} accepts no codec we send for "
                f"{' and '.join(sorted(missing))}."
            )
        return codecs

    async def _wait_connected(self, pc: RTCPeerConnection) -> None:
        deadline = time.monotonic() + self._connect_timeout
        while pc.connectionState != "connected":
            if pc.connectionState in ("failed", "closed") or time.monotonic() > deadline:
                raise WhipUnreachable(
                    f"The ingest at {where(self.url)} accepted the stream but media could not "
                    "connect (ICE/DTLS): a firewall may block UDP, or an ICE server is needed."
                )
            await asyncio.sleep(0.05)

    async def _teardown(self, tell_ingest: bool = True) -> None:
        """Close the connection and, unless we are about to reconnect, tell the ingest.

        A DELETE says the artist ended the show (RFC 9725 section 4.3): our relay then ends the
        announced stream and lets viewers go. A reconnection is not an ending, so it only
        drops its side; the ingest replaces the old session when the new one arrives.
        """
        pc, self._pc = self._pc, None
        location, self._location = self._location, None
        if location is not None and tell_ingest:
            with contextlib.suppress(TimeoutError, WhipError):
                token = await asyncio.wait_for(self._current_token(), 5.0)
                self.last_delete_ok = await asyncio.wait_for(
                    delete_session(self._http, location, token), 2.0
                )
        if pc is not None:
            await pc.close()
        self._last_sample = None

    # -- staying live --------------------------------------------------------------------

    async def _supervise(self) -> None:
        while True:
            reason = await self._wait_for_trouble()
            log.warning("whip %s: connection lost (%s); reconnecting", where(self.url), reason)
            self.reconnects += 1
            self._set_state(
                "reconnecting", WhipUnreachable(f"Connection to the ingest lost: {reason}.")
            )
            await self._teardown(tell_ingest=False)
            delay, cap = self._backoff
            while True:
                try:
                    await self._connect()
                    break
                except WhipError as exc:
                    await self._teardown(tell_ingest=False)
                    if not exc.retryable:
                        self._set_state("failed", exc)
                        return
                    self._set_state("reconnecting", exc)
                except Exception as exc:  # keep trying whatever aiortc raised; say what it was
                    log.exception("whip %s: reconnection attempt failed", where(self.url))
                    await self._teardown(tell_ingest=False)
                    reason = f"{type(exc).__name__}: {exc}"
                    self._set_state(
                        "reconnecting", WhipUnreachable(f"Reconnecting failed ({reason}).")
                    )
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))
                delay = min(delay * 2, cap)
            self._set_state("live")

    async def _wait_for_trouble(self) -> str:
        """Why the connection is lost: the peer connection failed, or the ingest fell silent.

        Silent means neither a receiver report nor any other packet (REMB, NACK, PLI) came from
        the ingest for `feedback_timeout`. Reports alone are not the test: a busy event loop
        reads its socket slowly, and reports queued behind other feedback arrive late while the
        ingest is plainly alive; reconnecting then would only cost the show a keyframe and a
        second of video (the soak saw it after tips, when the studio's loop was busiest).
        """
        last_heard: tuple[object, int] | None = None
        heard_at = time.monotonic()
        reports_at, reports = heard_at, None
        while True:
            await asyncio.sleep(0.25)
            pc = self._pc
            if pc is None or pc.connectionState in ("failed", "closed"):
                return f"peer connection {pc.connectionState if pc else 'gone'}"
            if all(f.ended for f in self._feeds):
                await asyncio.Event().wait()  # sources are over; nothing left to keep up
            report = await pc.getStats()
            now = time.monotonic()
            stamps = tuple(
                sorted(str(s.timestamp) for s in report.values() if s.type == "remote-inbound-rtp")
            )
            received = sum(
                getattr(s, "packetsReceived", 0) for s in report.values() if s.type == "transport"
            )
            if stamps != reports:
                if now - reports_at > REPORTS_LATE_S:
                    log.info(
                        "whip %s: receiver reports came %.1f s apart",
                        where(self.url),
                        now - reports_at,
                    )
                reports, reports_at = stamps, now
            if (stamps, received) != last_heard:
                last_heard, heard_at = (stamps, received), now
            elif now - heard_at > self._feedback_timeout:
                return f"nothing heard from the ingest for {self._feedback_timeout:.0f} s"

    # -- statistics ----------------------------------------------------------------------

    async def stats(self) -> PublisherStats:
        pc = self._pc
        sent_bytes = sent_packets = lost = 0
        rtts: list[float] = []
        if pc is not None:
            for s in (await pc.getStats()).values():
                if s.type == "outbound-rtp":
                    sent_bytes += s.bytesSent
                    sent_packets += s.packetsSent
                elif s.type == "remote-inbound-rtp":
                    lost += max(s.packetsLost, 0)
                    if s.roundTripTime is not None:
                        rtts.append(s.roundTripTime)
        video_frames = sum(t.frames_sent for t in self._connection_tracks() if t.kind == "video")
        now = time.monotonic()
        bitrate = fps = 0.0
        if self._last_sample is not None:
            then, then_bytes, then_frames = self._last_sample
            elapsed = max(now - then, 1e-6)
            bitrate = max(sent_bytes - then_bytes, 0) * 8 / 1000 / elapsed
            fps = max(video_frames - then_frames, 0) / elapsed
        self._last_sample = (now, sent_bytes, video_frames)
        return PublisherStats(
            state=self.state,
            bitrate_kbps=round(bitrate, 1),
            fps=round(fps, 1),
            rtt_ms=round(max(rtts) * 1000, 1) if rtts else None,
            packets_lost=lost,
            loss_pct=round(100 * lost / (sent_packets + lost), 2) if sent_packets + lost else 0.0,
            reconnects=self.reconnects,
            codecs=dict(self.codecs),
            frames_sent=video_frames,
            packets_sent=sent_packets,
            frames_lost=sum(f.dropped for f in self._feeds if f.kind == "video"),
            frames_sent_late=sum(f.late for f in self._feeds if f.kind == "video"),
        )

    def _connection_tracks(self) -> list:  # type: ignore[type-arg]
        pc = self._pc
        if pc is None:
            return []
        return [t.sender.track for t in pc.getTransceivers() if t.sender.track is not None]
