"""Chat: one room per stream. Anyone may read; signed-in addresses may write; the stream's
artist may delete messages and mute addresses. Messages are stored before they are fanned out,
so a client that reconnects (to any instance) resumes from the database with `after=<id>`."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response, WebSocket
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from starlette.websockets import WebSocketDisconnect

from backend.auth import CurrentAddress, ServicesDep, TokenError
from backend.errors import error_responses
from backend.models import Account, ChatMessageRow, ChatMute, StreamRow
from backend.notifications import publish_many
from backend.params import (
    MAX_ID,
    AddressPath,
    IdPath,
    Limit,
    Offset,
    StreamIdPath,
    WholeNumber,
    next_offset,
    reject_unknown_query,
)
from backend.services import Services, services_of
from backend.streams.announcements import chat_channel
from backend.wire import (
    ChatMessage,
    ChatSendIn,
    MuteState,
    Page,
    WsAuth,
    WsDelete,
    WsMute,
    WsPing,
    WsSend,
)
from backend.ws import (
    CLOSE_NOT_FOUND,
    admitted,
    authenticate,
    close_quietly,
    error_frame,
    frame,
    stream_to,
)

router = APIRouter(
    prefix="/streams/{stream_id}", tags=["chat"], dependencies=[Depends(reject_unknown_query)]
)

RESUME_LIMIT = 500
MAX_MENTIONS = 5
_MENTION = re.compile(r"@(0x[0-9a-fA-F]{40})\b")


class ChatError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def _to_wire(row: ChatMessageRow, sender_name: str | None) -> ChatMessage:
    return ChatMessage(
        id=row.id,
        stream_id=row.stream_id,
        sender=row.sender,
        sender_name=sender_name,
        text=row.text,
        created_at=row.created_at,
    )


async def _stream(services: Services, stream_id: str) -> StreamRow:
    async with services.sessions() as session:
        stream = await session.get(StreamRow, stream_id)
    if stream is None:
        raise ChatError(404, "not_found", "no such stream")
    return stream


async def post_message(
    target: Any, stream_id: str, sender: str, text: str, client_id: str | None = None
) -> ChatMessage:
    services = services_of(target)
    stream = await _stream(services, stream_id)
    if stream.ended_at is not None:
        raise ChatError(409, "ended", "the stream has ended; chat is read-only")
    async with services.sessions() as session:
        muted = await session.get(ChatMute, (stream.artist_address, sender))
        if muted is not None:
            raise ChatError(403, "muted", "the artist has muted you in this chat")
        if client_id is not None:
            existing = (
                await session.execute(
                    select(ChatMessageRow).where(
                        ChatMessageRow.stream_id == stream_id,
                        ChatMessageRow.sender == sender,
                        ChatMessageRow.client_id == client_id,
                    )
                )
            ).scalar_one_or_none()
            if existing is not None:  # a resend after a reconnect: same message, no duplicate
                sender_account = await session.get(Account, sender)
                return _to_wire(existing, sender_account.display_name if sender_account else None)
    if not await services.chat_limiter.allow(sender):
        raise ChatError(429, "rate_limited", "slow down: too many messages")
    now = datetime.now(UTC)
    try:
        async with services.sessions.begin() as session:
            row = ChatMessageRow(
                stream_id=stream_id, sender=sender, text=text, client_id=client_id, created_at=now
            )
            session.add(row)
            await session.flush()
            sender_account = await session.get(Account, sender)
    except IntegrityError as exc:
        raise ChatError(409, "conflict", "this client_id was just used; retry") from exc
    sender_name = sender_account.display_name if sender_account else None
    message = _to_wire(row, sender_name)
    services.metrics.chat_messages += 1
    await services.bus.publish(
        chat_channel(stream_id), frame("message", message=message.model_dump(mode="json"))
    )
    await _notify_mentions(services, message)
    return message


async def _notify_mentions(services: Services, message: ChatMessage) -> None:
    mentioned = {m.lower() for m in _MENTION.findall(message.text)}
    if not mentioned:
        return
    async with services.sessions() as session:
        accounts = list(
            (
                await session.execute(
                    select(Account.address).where(
                        func.lower(Account.address).in_(list(mentioned)[:MAX_MENTIONS])
                    )
                )
            ).scalars()
        )
    recipients = [a for a in accounts if a != message.sender]
    await publish_many(
        services,
        recipients=recipients,
        kind="chat_mention",
        data={
            "stream_id": message.stream_id,
            "message_id": message.id,
            "sender": message.sender,
            "sender_name": message.sender_name,
            "text": message.text,
        },
    )


async def delete_message(target: Any, stream_id: str, message_id: int, caller: str) -> None:
    services = services_of(target)
    stream = await _stream(services, stream_id)
    if stream.artist_address != caller:
        raise ChatError(403, "forbidden", "only the stream's artist can delete messages")
    async with services.sessions.begin() as session:
        row = await session.get(ChatMessageRow, message_id)
        if row is None or row.stream_id != stream_id or row.deleted_at is not None:
            raise ChatError(404, "not_found", "no such message in this chat")
        row.deleted_at = datetime.now(UTC)
    await services.bus.publish(chat_channel(stream_id), frame("deleted", id=message_id))


async def set_muted(
    target: Any, stream_id: str, address: str, caller: str, muted: bool
) -> MuteState:
    services = services_of(target)
    stream = await _stream(services, stream_id)
    if stream.artist_address != caller:
        raise ChatError(403, "forbidden", "only the stream's artist can mute addresses")
    if address == caller:
        raise ChatError(409, "conflict", "you cannot mute yourself")
    async with services.sessions.begin() as session:
        if muted:
            dialect_insert = (
                pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            )
            await session.execute(
                dialect_insert(ChatMute)
                .values(artist=caller, address=address, created_at=datetime.now(UTC))
                .on_conflict_do_nothing()
            )
        else:
            await session.execute(
                delete(ChatMute).where(ChatMute.artist == caller, ChatMute.address == address)
            )
    await services.bus.publish(
        chat_channel(stream_id), frame("muted" if muted else "unmuted", address=address)
    )
    return MuteState(artist=caller, address=address, muted=muted)


async def history(
    services: Services, stream_id: str, *, after: int | None, last: int
) -> list[ChatMessage]:
    """Oldest first: the last `last` messages, or (resuming) every message with id > after."""
    query = (
        select(ChatMessageRow, Account.display_name)
        .outerjoin(Account, Account.address == ChatMessageRow.sender)
        .where(ChatMessageRow.stream_id == stream_id, ChatMessageRow.deleted_at.is_(None))
    )
    if after is not None:
        query = (
            query.where(ChatMessageRow.id > after).order_by(ChatMessageRow.id).limit(RESUME_LIMIT)
        )
    else:
        query = query.order_by(ChatMessageRow.id.desc()).limit(last)
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    messages = [_to_wire(*row) for row in rows]
    return messages if after is not None else messages[::-1]


def _http(exc: ChatError) -> HTTPException:
    return HTTPException(exc.status, detail=exc.detail)


@router.get("/chat", summary="Chat history, newest first", responses=error_responses(404))
async def list_messages(
    stream_id: StreamIdPath, services: ServicesDep, limit: Limit = 50, offset: Offset = 0
) -> Page[ChatMessage]:
    try:
        await _stream(services, stream_id)
    except ChatError as exc:
        raise _http(exc) from exc
    query = (
        select(ChatMessageRow, Account.display_name)
        .outerjoin(Account, Account.address == ChatMessageRow.sender)
        .where(ChatMessageRow.stream_id == stream_id, ChatMessageRow.deleted_at.is_(None))
        .order_by(ChatMessageRow.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    items = [_to_wire(*row) for row in rows[:limit]]
    return Page[ChatMessage](items=items, next_offset=next_offset(offset, limit, len(rows)))


@router.post(
    "/chat",
    status_code=201,
    summary="Send a chat message",
    responses=error_responses(401, 403, 404, 409, 429),
)
async def send_message(
    stream_id: StreamIdPath, body: ChatSendIn, caller: CurrentAddress, services: ServicesDep
) -> ChatMessage:
    try:
        return await post_message(services, stream_id, caller, body.text, body.client_id)
    except ChatError as exc:
        raise _http(exc) from exc


@router.delete(
    "/chat/{message_id}",
    status_code=204,
    summary="Delete a message (the stream's artist only)",
    responses=error_responses(401, 403, 404),
)
async def remove_message(
    stream_id: StreamIdPath,
    message_id: IdPath,
    caller: CurrentAddress,
    services: ServicesDep,
) -> Response:
    try:
        await delete_message(services, stream_id, message_id, caller)
    except ChatError as exc:
        raise _http(exc) from exc
    return Response(status_code=204)


@router.put(
    "/mutes/{address}",
    summary="Mute an address in your chat (the stream's artist only)",
    responses=error_responses(401, 403, 404, 409),
)
async def mute(
    stream_id: StreamIdPath, address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> MuteState:
    try:
        return await set_muted(services, stream_id, address, caller, True)
    except ChatError as exc:
        raise _http(exc) from exc


@router.delete(
    "/mutes/{address}",
    summary="Unmute an address",
    responses=error_responses(401, 403, 404, 409),
)
async def unmute(
    stream_id: StreamIdPath, address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> MuteState:
    try:
        return await set_muted(services, stream_id, address, caller, False)
    except ChatError as exc:
        raise _http(exc) from exc


@router.websocket("/chat/ws")
async def chat_socket(
    websocket: WebSocket,
    stream_id: str,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID), WholeNumber] = None,
) -> None:
    """Join a stream's chat. Server frames: history (last N, or everything after `after`),
    then message / deleted / muted / stream_ended as they happen. Send {"type":"auth"} to
    write; then send / delete / mute / unmute frames."""
    services = services_of(websocket)
    async with admitted(services, websocket) as ok:
        if ok:
            await _chat_session(websocket, services, stream_id, after)


async def _chat_session(
    websocket: WebSocket, services: Services, stream_id: str, after: int | None
) -> None:
    await websocket.accept()
    try:
        await _stream(services, stream_id)
    except ChatError as exc:
        await websocket.send_text(error_frame(exc.code, exc.detail))
        await close_quietly(websocket, CLOSE_NOT_FOUND, "no such stream")
        return
    channel = chat_channel(stream_id)
    subscriber = services.hub.subscriber(websocket.send_text)
    services.hub.subscribe(channel, subscriber)
    identity: dict[str, str] = {}

    async def handle(message: Any) -> None:
        try:
            if isinstance(message, WsPing):
                await websocket.send_text(frame("pong"))
            elif isinstance(message, WsAuth):
                identity["address"] = authenticate(services, message)
                await websocket.send_text(frame("authed", address=identity["address"]))
            elif "address" not in identity:
                await websocket.send_text(error_frame("unauthorized", "sign in to write"))
            elif isinstance(message, WsSend):
                await post_message(
                    services, stream_id, identity["address"], message.text, message.client_id
                )
            elif isinstance(message, WsDelete):
                await delete_message(services, stream_id, message.id, identity["address"])
            elif isinstance(message, WsMute):
                await set_muted(
                    services,
                    stream_id,
                    message.address,
                    identity["address"],
                    message.type == "mute",
                )
        except TokenError as exc:
            await websocket.send_text(error_frame("unauthorized", str(exc)))
        except ChatError as exc:
            await websocket.send_text(error_frame(exc.code, exc.detail))

    try:
        messages = await history(
            services, stream_id, after=after, last=services.config.chat_history
        )
        await websocket.send_text(
            frame("history", messages=[m.model_dump(mode="json") for m in messages])
        )
        up_to = messages[-1].id if messages else (after or 0)
        await stream_to(
            websocket,
            subscriber,
            up_to,
            ("message",),
            handle,
            frame_burst=services.config.ws_frame_burst,
            frame_rate_per_s=services.config.ws_frame_rate_per_s,
        )
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        services.hub.unsubscribe(channel, subscriber)
        await close_quietly(websocket)
