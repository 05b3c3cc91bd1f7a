"""WebSocket plumbing shared by chat and notifications: frames, auth, join-then-stream."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import WebSocket
from pydantic import TypeAdapter, ValidationError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from backend.auth import decode_access_token
from backend.hub import Subscriber, cancel
from backend.ratelimit import LocalRateLimiter
from backend.services import Services
from backend.wire import ClientFrame, WsAuth

MAX_FRAME_CHARS = 8192
_frames: TypeAdapter[Any] = TypeAdapter(ClientFrame)

# Close codes (4000-4999 are the application's).
CLOSE_NOT_FOUND = 4404
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4008
CLOSE_POLICY = 1008
CLOSE_TRY_LATER = 1013


def frame(kind: str, **fields: Any) -> str:
    return json.dumps({"type": kind, **fields}, separators=(",", ":"), default=str)


def error_frame(code: str, detail: str) -> str:
    return frame("error", code=code, detail=detail)


async def receive_frame(websocket: WebSocket) -> Any:
    """The next valid client frame; invalid ones are answered with an error frame and skipped."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        raw = message.get("text")
        if raw is None:
            await websocket.send_text(error_frame("bad_frame", "send JSON text frames"))
            continue
        if len(raw) > MAX_FRAME_CHARS:
            await websocket.send_text(error_frame("bad_frame", "frame too large"))
            continue
        try:
            return _frames.validate_json(raw)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"msg": "invalid"}
            where = ".".join(str(p) for p in first.get("loc", ()))
            await websocket.send_text(error_frame("bad_frame", f"{where}: {first['msg']}"))


def authenticate(services: Services, message: WsAuth) -> str:
    """The address of a valid token; TokenError otherwise."""
    return decode_access_token(services, message.token)


def event_id(payload: str, kinds: tuple[str, ...]) -> int | None:
    data = json.loads(payload)
    if data.get("type") in kinds:
        inner = data.get("message") or data.get("notification") or {}
        return int(inner.get("id", 0))
    return None


async def stream_to(
    websocket: WebSocket,
    subscriber: Subscriber,
    backlog_sent_up_to: int,
    keyed_kinds: tuple[str, ...],
    handle: Callable[[Any], Awaitable[None]],
    frame_burst: int = 30,
    frame_rate_per_s: float = 10.0,
) -> None:
    """After the backlog: flush what arrived while joining (minus duplicates), then run the
    writer and the reader together until either ends."""
    for payload in subscriber.take_buffered():
        key = event_id(payload, keyed_kinds)
        if key is None or key > backlog_sent_up_to:
            await websocket.send_text(payload)
    subscriber.resume()
    writer = asyncio.create_task(subscriber.run())

    budget = LocalRateLimiter(frame_burst, frame_rate_per_s)

    async def read() -> None:
        while True:
            message = await receive_frame(websocket)
            if not budget.allow_now("frames"):
                await websocket.send_text(error_frame("flood", "too many frames; goodbye"))
                await close_quietly(websocket, CLOSE_POLICY, "too many frames")
                return
            await handle(message)

    reader = asyncio.create_task(read())
    too_slow = asyncio.create_task(subscriber.overflowed.wait())
    try:
        await asyncio.wait({writer, reader, too_slow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        await cancel(writer)
        await cancel(reader)
        await cancel(too_slow)  # type: ignore[arg-type]
    if subscriber.overflowed.is_set():
        # Its socket may not be writable at all: do not wait long to say goodbye.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(CLOSE_TOO_SLOW, "too slow; reconnect and resume"), 2.0
            )


@contextlib.asynccontextmanager
async def admitted(services: Services, websocket: WebSocket) -> AsyncIterator[bool]:
    """Cap sockets per client address on this instance; over the cap, refuse politely."""
    client = websocket.client.host if websocket.client else "unknown"
    if not services.hub.admit(client, services.config.ws_max_per_client):
        await websocket.accept()
        await websocket.send_text(error_frame("too_many_sockets", "too many open sockets"))
        await close_quietly(websocket, CLOSE_TRY_LATER, "too many sockets")
        yield False
        return
    try:
        yield True
    finally:
        services.hub.release(client)


async def close_quietly(websocket: WebSocket, code: int = 1000, reason: str = "") -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        # Bounded: a peer that stopped reading must not hold this handler forever.
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect, TimeoutError):
            await asyncio.wait_for(websocket.close(code, reason), 2.0)
