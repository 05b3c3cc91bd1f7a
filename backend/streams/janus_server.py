"""Janus as the media server: WHIP ingest into a VideoRoom, viewers offered to by Janus.

Each WHIP publish becomes a Janus VideoRoom publisher (Janus's HTTP API: session, attach,
join as publisher, configure with the studio's offer; Janus's answer is the WHIP answer). Janus
1.1 offers to its subscribers itself, so viewers do not speak WHEP here: `watch` returns
Janus's offer and `answer` hands the viewer's answer back (`start`).

With edges configured, viewers never touch the origin: the origin's VideoRoom forwards each
publisher's RTP (`rtp_forward`) to a Streaming mountpoint on an edge, made the first time a
viewer is sent there, and each viewer goes to the edge with the fewest viewers. An edge that
stops answering loses its viewers; their players come back through `watch` and land elsewhere.

One Janus session per instance carries every handle. Its long poll (GET on the session) brings
the asynchronous events and is also what keeps the session alive: Janus counts each poll as a
keepalive. A poll that fails means the instance is gone (restarted, killed): everything held
there is forgotten and the studio's WHIP reconnect publishes the show again.
"""

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from aiortc.sdp import SessionDescription

from backend.config import BackendConfig
from backend.streams.media_server import (
    BadOffer,
    MediaServer,
    MediaServerRefused,
    MediaServerUnavailable,
    NoCommonCodec,
    RelayedStream,
    RelayFull,
    ResourceNotFound,
    SessionAnswer,
    StreamError,
    StreamNotLive,
    ViewerOffer,
    WrongViewerFlow,
    check_client_share,
)
from backend.streams.relay import MEDIA_KINDS, parse_offer

log = logging.getLogger(__name__)

VIDEOROOM = "janus.plugin.videoroom"
STREAMING = "janus.plugin.streaming"
POLL_TIMEOUT_S = 45.0  # Janus answers an idle long poll after 30 s
EDGE_RETRY_S = 5.0  # an edge that failed is not chosen again for this long
SESSION_NOT_FOUND = 458  # Janus core error: the session is gone (timed out, restarted)

# Payload types and formats of the edges' mountpoints; forwarders rewrite to these.
_MOUNTPOINT_MEDIA = {
    "opus": {"type": "audio", "mid": "a", "pt": 111, "codec": "opus"},
    "vp8": {"type": "video", "mid": "v", "pt": 96, "codec": "vp8"},
    "h264": {
        "type": "video",
        "mid": "v",
        "pt": 126,
        "codec": "h264",
        "fmtp": "profile-level-id=42e01f;packetization-mode=1",
    },
}

# Janus error codes (core and plugins) that say the request itself was wrong.
_BAD_OFFER_CODES = {
    465,  # core: unknown JSEP type
    466,  # core: invalid SDP
    431,  # videoroom: invalid SDP type
    437,  # videoroom: invalid SDP
}
_NOT_LIVE_CODES = {426, 428, 455}  # no such room, no such feed, no such mountpoint
_FULL_CODES = {432}  # the room has its most publishers


class JanusError(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"Janus error {code}: {reason}")
        self.code, self.reason = code, reason


def _stream_error(exc: JanusError, what: str) -> StreamError:
    if exc.code in _BAD_OFFER_CODES:
        return BadOffer(f"The media server refused the SDP: {exc.reason}")
    if exc.code in _NOT_LIVE_CODES:
        return StreamNotLive(f"{what}: {exc.reason}")
    if exc.code in _FULL_CODES:
        return RelayFull(f"{what}: the media server is full ({exc.reason}).")
    return MediaServerRefused(f"{what}: the media server refused ({exc.code}: {exc.reason}).")


def _plugin_data(response: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = response.get("plugindata", {}).get("data", {})
    if "error_code" in data:
        raise JanusError(int(data["error_code"]), str(data.get("error", "")))
    return data


class _Redact(logging.Filter):
    def __init__(self, secret: str) -> None:
        super().__init__()
        self._secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self._secret in message:
            record.msg, record.args = message.replace(self._secret, "***"), ()
        return True


class JanusInstance:
    """One Janus server's HTTP API: a session kept by its long poll, plugin handles on it."""

    def __init__(
        self,
        url: str,
        http: httpx.AsyncClient,
        api_secret: str | None = None,
        on_event: Callable[["JanusInstance", int, dict[str, Any]], None] | None = None,
        on_lost: Callable[["JanusInstance"], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.host = urlsplit(self.url).hostname or "127.0.0.1"
        self._http = http
        self._api_secret = api_secret
        if api_secret:  # Janus takes it in the long poll's query string, which httpx logs
            logging.getLogger("httpx").addFilter(_Redact(api_secret))
        self._on_event = on_event
        self._on_lost = on_lost
        self._session: int | None = None
        self._session_lock = asyncio.Lock()
        self._poller: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.failed_at = 0.0  # monotonic time of the last failure (0: never)

    def __repr__(self) -> str:
        return f"JanusInstance({self.url})"

    async def _post(
        self, path: str, body: dict[str, Any], transaction: str | None = None
    ) -> dict[str, Any]:
        body = {**body, "transaction": transaction or secrets.token_hex(8)}
        if self._api_secret:
            body["apisecret"] = self._api_secret
        try:
            response = await self._http.post(f"{self.url}{path}", json=body)
            reply: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.failed_at = time.monotonic()
            raise MediaServerUnavailable(
                f"The media server at {self.url} does not answer ({type(exc).__name__})."
            ) from None
        if reply.get("janus") == "error":
            error = reply.get("error", {})
            code = int(error.get("code", 0))
            if code == SESSION_NOT_FOUND and self._session is not None:
                self._lose(self._session)  # restarted between two polls
                raise MediaServerUnavailable(f"The media server at {self.url} restarted.")
            raise JanusError(code, str(error.get("reason", "")))
        return reply

    async def session(self) -> int:
        async with self._session_lock:
            if self._session is None:
                reply = await self._post("", {"janus": "create"})
                self._session = int(reply["data"]["id"])
                self._poller = asyncio.ensure_future(self._poll(self._session))
            return self._session

    async def attach(self, plugin: str) -> int:
        session = await self.session()
        reply = await self._post(f"/{session}", {"janus": "attach", "plugin": plugin})
        return int(reply["data"]["id"])

    async def detach(self, handle: int) -> None:
        """Leave whatever the handle holds (hang up, leave the room) and drop it."""
        if self._session is None:
            return
        with contextlib.suppress(JanusError, MediaServerUnavailable):
            await self._post(f"/{self._session}/{handle}", {"janus": "detach"})

    async def message(
        self,
        handle: int,
        body: dict[str, Any],
        jsep: dict[str, Any] | None = None,
        timeout_s: float = 15.0,
    ) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """Send a plugin request; (plugin data, jsep) of its result, synchronous or not."""
        session = await self.session()
        request: dict[str, Any] = {"janus": "message", "body": body}
        if jsep is not None:
            request["jsep"] = jsep
        transaction = secrets.token_hex(8)
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[transaction] = waiter
        try:
            reply = await self._post(f"/{session}/{handle}", request, transaction)
            if reply.get("janus") == "ack":
                reply = await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            raise MediaServerUnavailable(
                f"The media server at {self.url} did not finish {body.get('request')!r}."
            ) from None
        finally:
            self._pending.pop(transaction, None)
        return _plugin_data(reply), reply.get("jsep")

    async def _poll(self, session: int) -> None:
        path = f"{self.url}/{session}"
        params: dict[str, str] = {"maxev": "20"}
        if self._api_secret:
            params["apisecret"] = self._api_secret
        try:
            while True:
                response = await self._http.get(path, params=params, timeout=POLL_TIMEOUT_S)
                events = response.json()
                for event in events if isinstance(events, list) else [events]:
                    if event.get("janus") == "error":  # e.g. 458: the session is gone
                        raise JanusError(int(event["error"]["code"]), event["error"]["reason"])
                    self._dispatch(event)
        except asyncio.CancelledError:
            raise
        except (httpx.HTTPError, ValueError, JanusError, KeyError) as exc:
            log.warning("Janus at %s lost (%s)", self.url, type(exc).__name__)
            self._lose(session)

    def _dispatch(self, event: dict[str, Any]) -> None:
        transaction = event.get("transaction")
        waiter = self._pending.get(transaction) if transaction else None
        if waiter is not None and not waiter.done() and event.get("janus") != "ack":
            waiter.set_result(event)
        elif event.get("sender") and self._on_event is not None:
            self._on_event(self, int(event["sender"]), event)

    def _lose(self, session: int) -> None:
        if self._session != session:
            return
        self._session = None
        self.failed_at = time.monotonic()
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(MediaServerUnavailable(f"Janus at {self.url} went away."))
        if self._on_lost is not None:
            self._on_lost(self)

    async def close(self) -> None:
        session, self._session = self._session, None
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        if session is not None:
            with contextlib.suppress(JanusError, MediaServerUnavailable):
                await self._post(f"/{session}", {"janus": "destroy"})


@dataclass
class _Mountpoint:
    id: int
    ports: dict[str, int]  # by kind
    forwarded_from: int | None = None  # publisher id whose RTP comes in
    forwarders: list[int] = field(default_factory=list)  # origin's forwarder stream ids


@dataclass
class _Stream:
    name: str
    room: int
    started_at: float = field(default_factory=time.time)
    resource_id: str | None = None  # the current WHIP session
    handle: int | None = None  # the current publisher's handle on the origin
    publisher_id: int | None = None
    mids: dict[str, str] = field(default_factory=dict)  # kind -> publisher's mid
    codecs: dict[str, str] = field(default_factory=dict)  # kind -> "opus", "vp8", "h264"
    mountpoints: dict[str, _Mountpoint] = field(default_factory=dict)  # by edge URL
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    up: asyncio.Event = field(default_factory=asyncio.Event)  # the publisher's media is up


@dataclass
class _Viewer:
    stream: str
    resource_id: str
    instance: JanusInstance
    handle: int
    clients: tuple[str, ...] = ()
    mids: dict[str, str] = field(default_factory=dict)  # kind -> mid (VideoRoom subscribers)


class JanusMediaServer:
    """`MediaServer` on Janus: an origin VideoRoom, optionally Streaming edges for viewers."""

    viewer_flow = "server-offer"

    def __init__(
        self,
        origin_url: str,
        edge_urls: Sequence[str] = (),
        *,
        api_secret: str | None = None,
        max_viewers: int = 100_000,
        max_viewers_per_client: int = 0,
        offline_grace_s: float = 120.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._http = http or httpx.AsyncClient(timeout=10.0)
        self._own_http = http is None
        self.origin = self._instance(origin_url, api_secret)
        self.edges = [self._instance(url, api_secret) for url in edge_urls]
        self.max_viewers = max_viewers
        self.max_viewers_per_client = max_viewers_per_client
        self.offline_grace_s = offline_grace_s
        self._streams: dict[str, _Stream] = {}
        self._viewers: dict[str, _Viewer] = {}  # by resource id
        self._tasks: set[asyncio.Future[None]] = set()
        self.on_viewers: Callable[[str, int], Awaitable[None]] | None = None
        self.on_ended: Callable[[str], Awaitable[None]] | None = None

    def _instance(self, url: str, api_secret: str | None) -> JanusInstance:
        return JanusInstance(
            url, self._http, api_secret, on_event=self._on_event, on_lost=self._on_lost
        )

    def _background(self, coroutine: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- ingest (WHIP) -------------------------------------------------------------------

    async def publish(self, stream: str, offer_sdp: str) -> SessionAnswer:
        parse_offer(offer_sdp, sending=True)
        state = self._streams.get(stream)
        if state is None:
            state = _Stream(name=stream, room=secrets.randbelow(2**52) + 1)
            self._streams[stream] = state
        async with state.lock:
            try:
                return await self._publish(state, offer_sdp)
            except JanusError as exc:
                raise _stream_error(exc, f"Stream {stream} cannot go live") from None
            finally:
                if state.publisher_id is None and not self._viewer_count(stream):
                    self._streams.pop(stream, None)

    async def _publish(self, state: _Stream, offer_sdp: str) -> SessionAnswer:
        origin = self.origin
        handle = await origin.attach(VIDEOROOM)
        try:
            await self._create_room(handle, state)
            joined, _ = await origin.message(
                handle,
                {
                    "request": "join",
                    "ptype": "publisher",
                    "room": state.room,
                    "display": state.name,
                },
            )
            configured, jsep = await origin.message(
                handle,
                {"request": "configure", "audio": True, "video": True},
                {"type": "offer", "sdp": offer_sdp, "trickle": False},
            )
            if jsep is None or jsep.get("type") != "answer":
                raise MediaServerRefused("The media server gave no answer to the offer.")
            accepted = _accepted_kinds(jsep["sdp"])
            if not accepted:
                raise NoCommonCodec(
                    "The media server takes Opus, VP8 and H.264; the offer has none of them."
                )
        except BaseException:
            await origin.detach(handle)
            raise
        previous = state.handle
        state.handle, state.publisher_id = handle, int(joined["id"])
        state.up = asyncio.Event()
        state.resource_id = secrets.token_urlsafe(16)
        state.mids = {s["type"]: str(s["mid"]) for s in configured.get("streams", [])}
        state.codecs = {
            kind: str(configured[f"{kind}_codec"])
            for kind in accepted
            if configured.get(f"{kind}_codec")
        }
        if previous is not None:  # the artist reconnected before the old publisher left
            self._background(self._hand_over(state, previous))
        for edge_url, mountpoint in list(state.mountpoints.items()):
            edge = next(e for e in self.edges if e.url == edge_url)
            self._background(self._forward_quietly(state, edge, mountpoint))
        log.info("ingest for %s through Janus: %s", state.name, state.codecs)
        return SessionAnswer(resource_id=state.resource_id, sdp=jsep["sdp"])

    async def _hand_over(self, state: _Stream, previous: int) -> None:
        """Point the origin's viewers at the artist's new publisher, then let the old one go.

        Janus switches a subscriber only to a publisher whose media is up (after "webrtcup")."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.up.wait(), 15.0)
        for viewer in [v for v in self._viewers.values() if v.stream == state.name]:
            if viewer.instance is not self.origin or not viewer.mids:
                continue  # edges: their mountpoints are fed by the new publisher already
            streams = [
                {"feed": state.publisher_id, "mid": state.mids[kind], "sub_mid": mid}
                for kind, mid in viewer.mids.items()
                if kind in state.mids
            ]
            try:
                await self.origin.message(viewer.handle, {"request": "switch", "streams": streams})
            except (JanusError, StreamError) as exc:
                log.warning("viewer of %s stays on the old publisher: %s", state.name, exc)
        await self.origin.detach(previous)

    async def _create_room(self, handle: int, state: _Stream) -> None:
        try:
            await self.origin.message(
                handle,
                {
                    "request": "create",
                    "room": state.room,
                    "description": state.name,
                    "publishers": 2,  # a reconnecting artist joins before the old one leaves
                    "audiocodec": "opus",
                    "videocodec": "vp8,h264",
                    "is_private": True,
                },
            )
        except JanusError as exc:
            if exc.code != 427:  # 427: the room exists already
                raise

    async def unpublish(self, stream: str, resource_id: str) -> None:
        state = self._streams.get(stream)
        if state is None or state.resource_id != resource_id:
            raise ResourceNotFound(f"No ingest session {resource_id} for stream {stream}.")
        await self._end_stream(state)

    def _publisher_gone(self, state: _Stream) -> None:
        """The artist's connection to Janus ended without a DELETE: wait for them to return."""
        state.handle = state.publisher_id = state.resource_id = None
        for mountpoint in state.mountpoints.values():
            mountpoint.forwarded_from = None
            mountpoint.forwarders.clear()
        self._background(self._end_if_still_offline(state))

    async def _end_if_still_offline(self, state: _Stream) -> None:
        await asyncio.sleep(self.offline_grace_s)
        if self._streams.get(state.name) is state and state.publisher_id is None:
            await self._end_stream(state)

    async def _end_stream(self, state: _Stream) -> None:
        if self._streams.get(state.name) is state:
            del self._streams[state.name]
        for viewer in [v for v in self._viewers.values() if v.stream == state.name]:
            del self._viewers[viewer.resource_id]
            await viewer.instance.detach(viewer.handle)
        handle, state.handle, state.publisher_id = state.handle, None, None
        if handle is not None:
            with contextlib.suppress(JanusError, StreamError):
                await self.origin.message(handle, {"request": "destroy", "room": state.room})
            await self.origin.detach(handle)
        for edge in self.edges:
            mountpoint = state.mountpoints.pop(edge.url, None)
            if mountpoint is not None:
                self._background(self._destroy_mountpoint(edge, mountpoint))
        if self.on_ended is not None:
            await self.on_ended(state.name)

    # -- viewers (Janus offers, the viewer answers) ---------------------------------------

    async def play(self, stream: str, offer_sdp: str, clients: Sequence[str] = ()) -> SessionAnswer:
        raise WrongViewerFlow(
            "This stream is served through Janus, which makes the offer: POST /watch/"
            f"{stream} for it, then send the answer to the session it names."
        )

    async def watch(self, stream: str, clients: Sequence[str] = ()) -> ViewerOffer:
        state = self._streams.get(stream)
        if state is None or state.publisher_id is None:
            raise StreamNotLive(f"Stream {stream} is not live.")
        check_client_share(
            (v.clients for v in self._viewers.values()), clients, self.max_viewers_per_client
        )
        if len(self._viewers) >= self.max_viewers:
            raise RelayFull(f"This server is full ({self.max_viewers} viewers); try again later.")
        tried: list[str] = []
        while True:
            instance = self._choose_instance(exclude=tried)
            if instance is None:
                raise MediaServerUnavailable(
                    f"No media server can take a viewer now (tried {', '.join(tried)})."
                )
            try:
                return await self._watch_on(instance, state, tuple(clients))
            except MediaServerUnavailable:
                if instance is self.origin:
                    raise
                tried.append(instance.url)
            except JanusError as exc:
                raise _stream_error(exc, f"Stream {stream} cannot be watched") from None

    def _choose_instance(self, exclude: Sequence[str]) -> JanusInstance | None:
        if not self.edges:
            return None if self.origin.url in exclude else self.origin
        now = time.monotonic()
        candidates = [
            e for e in self.edges if e.url not in exclude and now - e.failed_at >= EDGE_RETRY_S
        ] or [e for e in self.edges if e.url not in exclude]
        if not candidates:
            return None
        return min(candidates, key=lambda e: self._edge_load(e))

    def _edge_load(self, edge: JanusInstance) -> int:
        return sum(1 for v in self._viewers.values() if v.instance is edge)

    async def _watch_on(
        self, instance: JanusInstance, state: _Stream, clients: tuple[str, ...]
    ) -> ViewerOffer:
        if instance is self.origin:
            handle = await instance.attach(VIDEOROOM)
            request: dict[str, Any] = {
                "request": "join",
                "ptype": "subscriber",
                "room": state.room,
                "streams": [{"feed": state.publisher_id}],
            }
        else:
            mountpoint = await self._mountpoint(state, instance)
            handle = await instance.attach(STREAMING)
            request = {"request": "watch", "id": mountpoint.id}
        try:
            offered, jsep = await instance.message(handle, request)
            if jsep is None or jsep.get("type") != "offer":
                raise MediaServerRefused("The media server made no offer for the viewer.")
        except BaseException:
            await instance.detach(handle)
            raise
        viewer = _Viewer(state.name, secrets.token_urlsafe(16), instance, handle, clients)
        viewer.mids = {str(s["type"]): str(s["mid"]) for s in offered.get("streams", [])}
        self._viewers[viewer.resource_id] = viewer
        self._notify_viewers(state.name)
        return ViewerOffer(resource_id=viewer.resource_id, sdp=jsep["sdp"])

    async def answer(self, stream: str, resource_id: str, answer_sdp: str) -> None:
        viewer = self._viewers.get(resource_id)
        if viewer is None or viewer.stream != stream:
            raise ResourceNotFound(f"No playback session {resource_id} for stream {stream}.")
        try:
            parsed = SessionDescription.parse(answer_sdp)
        except Exception as exc:  # aiortc raises assorted errors on malformed SDP
            raise BadOffer(f"The SDP answer cannot be parsed: {exc}") from None
        media = [m for m in parsed.media if m.kind in MEDIA_KINDS]
        if not media:
            raise BadOffer("The SDP answer cannot be parsed: it has no audio or video m-line.")
        if not any(m.port for m in media):
            raise NoCommonCodec("The player accepts none of the stream's audio or video.")
        try:
            await viewer.instance.message(
                viewer.handle,
                {"request": "start"},
                {"type": "answer", "sdp": answer_sdp, "trickle": False},
            )
        except JanusError as exc:
            raise _stream_error(exc, f"Stream {stream} cannot be watched") from None

    async def stop_playing(self, stream: str, resource_id: str) -> None:
        viewer = self._viewers.get(resource_id)
        if viewer is None or viewer.stream != stream:
            raise ResourceNotFound(f"No playback session {resource_id} for stream {stream}.")
        del self._viewers[resource_id]
        self._notify_viewers(stream)
        await viewer.instance.detach(viewer.handle)

    # -- edges: mountpoints fed by the origin's forwarders ---------------------------------

    async def _mountpoint(self, state: _Stream, edge: JanusInstance) -> _Mountpoint:
        async with state.lock:
            mountpoint = state.mountpoints.get(edge.url)
            if mountpoint is None:
                mountpoint = await self._create_mountpoint(state, edge)
                state.mountpoints[edge.url] = mountpoint
            if mountpoint.forwarded_from != state.publisher_id:
                await self._forward(state, edge, mountpoint)
            return mountpoint

    async def _create_mountpoint(self, state: _Stream, edge: JanusInstance) -> _Mountpoint:
        media = [_MOUNTPOINT_MEDIA[codec] | {"port": 0} for codec in state.codecs.values()]
        mountpoint_id = secrets.randbelow(2**52) + 1
        handle = await edge.attach(STREAMING)
        try:
            created, _ = await edge.message(
                handle,
                {
                    "request": "create",
                    "type": "rtp",
                    "id": mountpoint_id,
                    "description": state.name,
                    "is_private": True,
                    "media": media,
                },
            )
        finally:
            await edge.detach(handle)
        ports = {p["type"]: int(p["port"]) for p in created["stream"]["ports"]}
        return _Mountpoint(id=mountpoint_id, ports=ports)

    async def _forward(self, state: _Stream, edge: JanusInstance, mountpoint: _Mountpoint) -> None:
        if state.handle is None or state.publisher_id is None:
            raise StreamNotLive(f"Stream {state.name} is not live.")
        streams = [
            {
                "mid": state.mids[kind],
                "host": edge.host,
                "port": mountpoint.ports[kind],
                "pt": _MOUNTPOINT_MEDIA[codec]["pt"],
            }
            for kind, codec in state.codecs.items()
            if kind in mountpoint.ports and kind in state.mids
        ]
        forwarded, _ = await self.origin.message(
            state.handle,
            {
                "request": "rtp_forward",
                "room": state.room,
                "publisher_id": state.publisher_id,
                "host": edge.host,
                "streams": streams,
            },
        )
        mountpoint.forwarded_from = state.publisher_id
        mountpoint.forwarders = [int(f["stream_id"]) for f in forwarded.get("forwarders", [])]

    async def _forward_quietly(
        self, state: _Stream, edge: JanusInstance, mountpoint: _Mountpoint
    ) -> None:
        async with state.lock:
            try:
                await self._forward(state, edge, mountpoint)
            except (JanusError, StreamError) as exc:
                log.warning("cannot forward %s to %s: %s", state.name, edge.url, exc)

    async def _destroy_mountpoint(self, edge: JanusInstance, mountpoint: _Mountpoint) -> None:
        with contextlib.suppress(JanusError, StreamError):
            handle = await edge.attach(STREAMING)
            try:
                await edge.message(handle, {"request": "destroy", "id": mountpoint.id})
            finally:
                await edge.detach(handle)

    # -- Janus's own events ----------------------------------------------------------------

    def _on_event(self, instance: JanusInstance, handle: int, event: dict[str, Any]) -> None:
        if event.get("janus") == "webrtcup" and instance is self.origin:
            for state in self._streams.values():
                if state.handle == handle:
                    state.up.set()
        if event.get("janus") not in ("hangup", "detached"):
            return
        for viewer in list(self._viewers.values()):
            if viewer.instance is instance and viewer.handle == handle:
                del self._viewers[viewer.resource_id]
                self._notify_viewers(viewer.stream)
                self._background(instance.detach(handle))
        if instance is self.origin:
            for state in list(self._streams.values()):
                if state.handle == handle:
                    log.info("publisher of %s left Janus (%s)", state.name, event.get("reason"))
                    self._background(instance.detach(handle))
                    self._publisher_gone(state)

    def _on_lost(self, instance: JanusInstance) -> None:
        for viewer in [v for v in self._viewers.values() if v.instance is instance]:
            del self._viewers[viewer.resource_id]
            self._notify_viewers(viewer.stream)
        for state in self._streams.values():
            state.mountpoints.pop(instance.url, None)
            if instance is self.origin and state.publisher_id is not None:
                state.room = secrets.randbelow(2**52) + 1  # the restarted Janus has no rooms
                self._publisher_gone(state)

    def _notify_viewers(self, stream: str) -> None:
        if self.on_viewers is not None:
            self._background(self.on_viewers(stream, self._viewer_count(stream)))

    # -- state ---------------------------------------------------------------------------

    def _viewer_count(self, stream: str) -> int:
        return sum(1 for v in self._viewers.values() if v.stream == stream)

    def viewers_by_instance(self) -> dict[str, int]:
        counts = {i.url: 0 for i in [self.origin, *self.edges]}
        for viewer in self._viewers.values():
            counts[viewer.instance.url] += 1
        return counts

    def live_streams(self) -> list[RelayedStream]:
        return [
            RelayedStream(
                name=state.name,
                viewers=self._viewer_count(state.name),
                started_at=state.started_at,
                audio_codec=state.codecs.get("audio"),
                video_codec=state.codecs.get("video", "").upper() or None,
            )
            for state in sorted(self._streams.values(), key=lambda s: s.name)
            if state.publisher_id is not None
        ]

    async def close(self) -> None:
        for state in list(self._streams.values()):
            with contextlib.suppress(StreamError, JanusError):
                await self._end_stream(state)
        for task in list(self._tasks):
            task.cancel()
        for instance in [self.origin, *self.edges]:
            await instance.close()
        if self._own_http:
            await self._http.aclose()


def _accepted_kinds(answer_sdp: str) -> list[str]:
    """Kinds the answer takes (an m-line with port 0 is refused)."""
    return [
        m.kind
        for m in SessionDescription.parse(answer_sdp).media
        if m.kind in MEDIA_KINDS and m.port != 0 and m.direction in ("recvonly", "sendrecv")
    ]


def media_server_for(config: BackendConfig) -> MediaServer | None:
    """The media server `config` names; None for the built-in relay (the default)."""
    if config.media_server != "janus" or not config.janus_url:
        return None
    return JanusMediaServer(
        config.janus_url,
        config.janus_edges,
        api_secret=config.janus_api_secret,
        max_viewers_per_client=config.viewer_sessions_per_client,
    )
