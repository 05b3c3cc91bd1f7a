"""HTTP face of the stream service: WHIP ingest (RFC 9725), WHEP playback, the live list.

    POST   /whip/{stream}             artist's SDP offer -> 201, SDP answer, Location
    DELETE /whip/{stream}/{resource}  artist stops (same Bearer token)
    POST   /whep/{stream}             viewer's SDP offer -> 201, SDP answer, Location
    DELETE /whep/{stream}/{resource}  viewer leaves
    POST   /watch/{stream}            (server-offer flow, Janus) -> 201, the server's SDP
                                      offer, Location
    PUT    /watch/{stream}/{resource} the viewer's SDP answer -> 204
    DELETE /watch/{stream}/{resource} viewer leaves
    GET    /relay/live                streams on this relay now, with viewer counts
    GET    /relay/config              which media server, and which viewer flow fans use
    POST   /relay/keys/{stream}       issue a stream key (Bearer: the ingest token)

(Not under /streams/: backend.streams.announcements owns /streams/{stream_id}.)

Who may publish to a stream: the backend's ingest token, the stream's key, or the access
token (signed-in session) of the artist who announced the stream (`POST /streams` -> id).
Trickle ICE / ICE restarts (PATCH) are not supported: both sides gather before answering.
"""

import logging
import re
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from backend.streams import announced
from backend.streams.keys import StreamKeys
from backend.streams.media_server import (
    MediaServer,
    SessionAnswer,
    StreamError,
    TooManySessions,
    ViewerOffer,
)
from backend.streams.relay import BuiltinRelay

log = logging.getLogger(__name__)

STREAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_SDP_BYTES = 64 * 1024
SDP = "application/sdp"


def _problem(status: int, message: str, **headers: str) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=status, headers=headers)


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _bad_name(stream: str) -> PlainTextResponse | None:
    if STREAM_NAME.match(stream):
        return None
    return _problem(400, "Stream names are 1-64 letters, digits, '.', '_' or '-'.")


async def _read_sdp(request: Request, stream: str, what: str = "offer") -> str | PlainTextResponse:
    if bad := _bad_name(stream):
        return bad
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != SDP:
        return _problem(415, f"The {what} must be sent as {SDP}.")
    body = await request.body()
    if len(body) > MAX_SDP_BYTES:
        return _problem(413, f"The SDP {what} is too large.")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return _problem(400, f"The SDP {what} is not UTF-8 text.")


def _viewer_clients(request: Request) -> list[str]:
    """Who asks to watch: the client address (the real one behind trusted proxies), and the
    account when the request carries a valid access token of this backend."""
    clients = [f"ip:{request.client.host}"] if request.client else []
    address = announced.signed_in_address(request.app, _bearer(request))
    if address is not None:
        clients.append(f"account:{address.lower()}")
    return clients


def streams_router(
    data_dir: Path,
    media_server: MediaServer | None = None,
    viewers_per_client: int = 0,
    retry_after_s: int = 30,
) -> APIRouter:
    """Routes for WHIP/WHEP and the live list; `media_server` defaults to the built-in relay,
    holding at most `viewers_per_client` playback sessions per client (0: no cap); one more
    is answered 429 with Retry-After: `retry_after_s`."""
    server: MediaServer = media_server or BuiltinRelay(max_viewers_per_client=viewers_per_client)
    loaded: list[StreamKeys] = []

    def keys() -> StreamKeys:
        # Created when the backend starts (or on first use), never when the app is built:
        # building an app (e.g. to read its OpenAPI document) must not write files.
        if not loaded:
            loaded.append(StreamKeys(data_dir))
        return loaded[0]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys()  # the ingest token exists as soon as the backend runs: the studio reads it
        if hasattr(server, "on_viewers"):

            async def on_viewers(stream: str, count: int) -> None:
                await announced.report_viewers(app, stream, count)

            async def on_ended(stream: str) -> None:
                await announced.report_ended(app, stream)

            server.on_viewers, server.on_ended = on_viewers, on_ended
        services = getattr(app.state, "services", None)
        if services is not None:  # a whole backend: the relay reports itself in /health

            async def relay_health() -> dict[str, str]:
                streams = server.live_streams()
                viewers = sum(s.viewers for s in streams)
                return {
                    "status": "ok",
                    "kind": type(server).__name__,
                    "detail": f"{len(streams)} live, {viewers} watching",
                }

            services.health_checks["relay"] = relay_health
        yield
        await server.close()

    router = APIRouter(lifespan=lifespan, tags=["streams"])
    router.media_server = server  # type: ignore[attr-defined]  # for tests and benches

    def unauthorized(message: str) -> PlainTextResponse:
        return _problem(401, message, **{"WWW-Authenticate": 'Bearer realm="whip"'})

    @router.post("/whip/{stream}", summary="WHIP ingest: publish a stream")
    async def whip_publish(stream: str, request: Request) -> Response:
        token = _bearer(request)
        if token is None:
            return unauthorized("Publishing needs a Bearer token (the stream key).")
        offer = await _read_sdp(request, stream)
        if isinstance(offer, Response):
            return offer
        allowed = keys().may_publish(stream, token) or await announced.artist_may_publish(
            request.app, stream, token
        )
        if not allowed:
            return _problem(403, f"This token may not publish to stream {stream}.")
        try:
            answer = await server.publish(stream, offer)
        except StreamError as exc:
            return _problem(exc.status, str(exc))
        return Response(
            answer.sdp,
            status_code=201,
            media_type=SDP,
            headers={"Location": f"/whip/{stream}/{answer.resource_id}"},
        )

    @router.delete("/whip/{stream}/{resource}", summary="WHIP: stop publishing")
    async def whip_stop(stream: str, resource: str, request: Request) -> Response:
        token = _bearer(request)
        if token is None:
            return unauthorized("Stopping a stream needs its Bearer token.")
        allowed = keys().may_publish(stream, token) or await announced.artist_may_publish(
            request.app, stream, token
        )
        if not allowed:
            return _problem(403, f"This token may not stop stream {stream}.")
        try:
            await server.unpublish(stream, resource)
        except StreamError as exc:
            return _problem(exc.status, str(exc))
        return Response(status_code=200)

    async def viewer_session(
        base: str, session: Awaitable[SessionAnswer | ViewerOffer]
    ) -> Response:
        """201 with the session's SDP (an answer, or the server's offer) and its Location."""
        try:
            created = await session
        except TooManySessions as exc:
            return _problem(exc.status, str(exc), **{"Retry-After": str(retry_after_s)})
        except StreamError as exc:
            return _problem(exc.status, str(exc))
        return Response(
            created.sdp,
            status_code=201,
            media_type=SDP,
            headers={"Location": f"{base}/{created.resource_id}"},
        )

    @router.post("/whep/{stream}", summary="WHEP playback: watch a live stream")
    async def whep_play(stream: str, request: Request) -> Response:
        offer = await _read_sdp(request, stream)
        if isinstance(offer, Response):
            return offer
        return await viewer_session(
            f"/whep/{stream}", server.play(stream, offer, _viewer_clients(request))
        )

    @router.delete("/whep/{stream}/{resource}", summary="WHEP: stop watching")
    async def whep_stop(stream: str, resource: str) -> Response:
        try:
            await server.stop_playing(stream, resource)
        except StreamError as exc:
            return _problem(exc.status, str(exc))
        return Response(status_code=200)

    for path in ("/whip/{stream}/{resource}", "/whep/{stream}/{resource}"):

        @router.patch(path, include_in_schema=False)
        async def no_trickle() -> Response:
            return _problem(405, "Trickle ICE and ICE restarts are not supported.", Allow="DELETE")

    @router.post("/watch/{stream}", summary="Watch through a server that offers (Janus)")
    async def watch(stream: str, request: Request) -> Response:
        if bad := _bad_name(stream):
            return bad
        return await viewer_session(
            f"/watch/{stream}", server.watch(stream, _viewer_clients(request))
        )

    @router.put("/watch/{stream}/{resource}", summary="The viewer's answer to the offer")
    async def watch_answer(stream: str, resource: str, request: Request) -> Response:
        answer = await _read_sdp(request, stream, what="answer")
        if isinstance(answer, Response):
            return answer
        try:
            await server.answer(stream, resource, answer)
        except StreamError as exc:
            return _problem(exc.status, str(exc))
        return Response(status_code=204)

    @router.delete("/watch/{stream}/{resource}", summary="Stop watching")
    async def watch_stop(stream: str, resource: str) -> Response:
        return await whep_stop(stream, resource)

    def viewer_link(name: str) -> dict[str, str]:
        if server.viewer_flow == "whep":
            return {"viewer_flow": "whep", "whep": f"/whep/{name}"}
        return {"viewer_flow": server.viewer_flow, "watch": f"/watch/{name}"}

    @router.get("/relay/live", summary="Streams on the relay now, with their viewer counts")
    async def live() -> JSONResponse:
        return JSONResponse(
            [
                {
                    "stream": s.name,
                    "viewers": s.viewers,
                    "started_at": s.started_at,
                    "audio_codec": s.audio_codec,
                    "video_codec": s.video_codec,
                    **viewer_link(s.name),
                }
                for s in server.live_streams()
            ]
        )

    @router.get("/relay/config", summary="The media server and how fans' players reach it")
    async def relay_config() -> JSONResponse:
        return JSONResponse(
            {"media_server": type(server).__name__, "viewer_flow": server.viewer_flow}
        )

    @router.post("/relay/keys/{stream}", summary="Issue a stream key (shown once)")
    async def issue_key(stream: str, request: Request) -> Response:
        token = _bearer(request)
        if token is None or not keys().is_ingest_token(token):
            return unauthorized("Issuing a stream key needs the backend's ingest token.")
        if bad := _bad_name(stream):
            return bad
        return JSONResponse({"stream": stream, "key": keys().issue(stream)}, status_code=201)

    return router
