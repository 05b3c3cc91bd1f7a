"""Chat: one room per stream. Anyone may read; signed-in addresses may write. The stream's
artist and the moderators the artist names may delete messages, time out or ban addresses, and
set slow mode and blocked words (per artist: they hold in every show); anyone signed in may
report a message. Messages are stored before they are fanned out, so a client that reconnects
(to any instance) resumes from the database with `after=<id>`. Moderation state lives in the
database every instance shares, so each instance enforces the same rules; its events fan out
over the instance bus (Redis with several instances) like messages do."""

import re
from collections.abc import Awaitable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Response, WebSocket
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from starlette.websockets import WebSocketDisconnect

from backend.auth import CurrentAddress, ServicesDep, TokenError
from backend.errors import error_responses
from backend.models import (
    Account,
    ChatMessageRow,
    ChatModerator,
    ChatMute,
    ChatReport,
    ChatSettingsRow,
    StreamRow,
)
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
    ChatReportOut,
    ChatSendIn,
    ChatSettings,
    ChatSettingsIn,
    ModeratorState,
    MuteState,
    Page,
    ReportIn,
    TimeoutIn,
    WsAuth,
    WsDelete,
    WsMute,
    WsPing,
    WsReport,
    WsSend,
    WsSettings,
    WsTimeout,
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

T = TypeVar("T")

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
    now = datetime.now(UTC)
    async with services.sessions() as session:
        muted = await session.get(ChatMute, (stream.artist_address, sender))
        if muted is not None and muted.expires_at is None:
            raise ChatError(403, "muted", "the artist has banned you from this chat")
        if muted is not None and muted.expires_at > now:
            until = muted.expires_at.isoformat(timespec="seconds")
            raise ChatError(403, "muted", f"you are timed out of this chat until {until}")
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
        await _check_rules(session, stream, sender, text, now)
    if not await services.chat_limiter.allow(sender):
        raise ChatError(429, "rate_limited", "slow down: too many messages")
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


def blocked_word_in(text: str, words: list[str]) -> str | None:
    """The first blocked word `text` contains as a whole word (ignoring case), if any."""
    folded = text.casefold()
    for word in words:
        if re.search(rf"(?<!\w){re.escape(word.casefold())}(?!\w)", folded):
            return word
    return None


async def _settings_row(session: Any, artist: str) -> ChatSettingsRow | None:
    return await session.get(ChatSettingsRow, artist)


async def _check_rules(
    session: Any, stream: StreamRow, sender: str, text: str, now: datetime
) -> None:
    """Blocked words and slow mode; the artist and moderators are held to neither."""
    settings = await _settings_row(session, stream.artist_address)
    if settings is None or await _is_moderator(session, stream, sender):
        return
    if blocked_word_in(text, settings.blocked_words):
        raise ChatError(403, "blocked_word", "your message contains a word this chat blocks")
    if settings.slow_mode_s > 0:
        last = (
            await session.execute(
                select(func.max(ChatMessageRow.created_at)).where(
                    ChatMessageRow.stream_id == stream.id, ChatMessageRow.sender == sender
                )
            )
        ).scalar_one_or_none()
        if last is not None:
            last = last if last.tzinfo else last.replace(tzinfo=UTC)
            wait = last + timedelta(seconds=settings.slow_mode_s) - now
            if wait > timedelta(0):
                raise ChatError(
                    429,
                    "slow_mode",
                    f"slow mode: one message every {settings.slow_mode_s} s; "
                    f"wait {max(1, round(wait.total_seconds()))} s",
                )


async def _is_moderator(session: Any, stream: StreamRow, address: str) -> bool:
    if address == stream.artist_address:
        return True
    return await session.get(ChatModerator, (stream.artist_address, address)) is not None


async def _moderated_stream(services: Services, stream_id: str, caller: str) -> StreamRow:
    stream = await _stream(services, stream_id)
    async with services.sessions() as session:
        if not await _is_moderator(session, stream, caller):
            raise ChatError(403, "forbidden", "only the artist and their moderators can do this")
    return stream


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
    await _moderated_stream(services, stream_id, caller)
    async with services.sessions.begin() as session:
        row = await session.get(ChatMessageRow, message_id)
        if row is None or row.stream_id != stream_id or row.deleted_at is not None:
            raise ChatError(404, "not_found", "no such message in this chat")
        row.deleted_at = datetime.now(UTC)
    await services.bus.publish(chat_channel(stream_id), frame("deleted", id=message_id))


async def set_muted(
    target: Any,
    stream_id: str,
    address: str,
    caller: str,
    muted: bool,
    seconds: int | None = None,
) -> MuteState:
    """Ban (`seconds` None), time out for `seconds`, or lift either (`muted` False)."""
    services = services_of(target)
    stream = await _moderated_stream(services, stream_id, caller)
    artist = stream.artist_address
    if address == caller:
        raise ChatError(409, "conflict", "you cannot mute yourself")
    if address == artist:
        raise ChatError(409, "conflict", "the artist cannot be muted in their own chat")
    now = datetime.now(UTC)
    until = now + timedelta(seconds=seconds) if seconds is not None else None
    async with services.sessions.begin() as session:
        if caller != artist and await _is_moderator(session, stream, address):
            raise ChatError(403, "forbidden", "only the artist can mute a moderator")
        if muted:
            dialect_insert = (
                pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
            )
            statement = dialect_insert(ChatMute).values(
                artist=artist, address=address, created_at=now, expires_at=until
            )
            await session.execute(
                statement.on_conflict_do_update(
                    index_elements=["artist", "address"],
                    set_={"created_at": now, "expires_at": until},
                )
            )
        else:
            await session.execute(
                delete(ChatMute).where(ChatMute.artist == artist, ChatMute.address == address)
            )
    event = (
        frame("muted", address=address, until=until.isoformat() if until else None)
        if muted
        else frame("unmuted", address=address)
    )
    await services.bus.publish(chat_channel(stream_id), event)
    return MuteState(artist=artist, address=address, muted=muted, until=until)


async def set_moderator(
    target: Any, stream_id: str, address: str, caller: str, moderator: bool
) -> ModeratorState:
    services = services_of(target)
    stream = await _stream(services, stream_id)
    if stream.artist_address != caller:
        raise ChatError(403, "forbidden", "only the stream's artist can name moderators")
    if address == caller:
        raise ChatError(409, "conflict", "you already moderate your own chat")
    async with services.sessions.begin() as session:
        existing = await session.get(ChatModerator, (caller, address))
        if moderator and existing is None:
            session.add(ChatModerator(artist=caller, address=address, created_at=datetime.now(UTC)))
        elif not moderator and existing is not None:
            await session.delete(existing)
    await services.bus.publish(
        chat_channel(stream_id), frame("moderator", address=address, moderator=moderator)
    )
    return ModeratorState(artist=caller, address=address, moderator=moderator)


def _settings_wire(artist: str, row: ChatSettingsRow | None) -> ChatSettings:
    if row is None:
        return ChatSettings(artist=artist, slow_mode_s=0, blocked_words=[])
    return ChatSettings(artist=artist, slow_mode_s=row.slow_mode_s, blocked_words=row.blocked_words)


async def get_settings(target: Any, stream_id: str, caller: str) -> ChatSettings:
    services = services_of(target)
    stream = await _moderated_stream(services, stream_id, caller)
    async with services.sessions() as session:
        return _settings_wire(
            stream.artist_address, await _settings_row(session, stream.artist_address)
        )


async def update_settings(
    target: Any, stream_id: str, caller: str, change: ChatSettingsIn
) -> ChatSettings:
    services = services_of(target)
    stream = await _moderated_stream(services, stream_id, caller)
    artist = stream.artist_address
    async with services.sessions.begin() as session:
        row = await session.get(ChatSettingsRow, artist, with_for_update=True)
        if row is None:
            row = ChatSettingsRow(artist=artist, slow_mode_s=0, blocked_words=[])
            session.add(row)
        if change.slow_mode_s is not None:
            row.slow_mode_s = change.slow_mode_s
        if change.blocked_words is not None:
            # Case-insensitive duplicates folded; the artist's spelling of the first kept.
            seen: dict[str, str] = {}
            for word in change.blocked_words:
                seen.setdefault(word.casefold(), word)
            row.blocked_words = list(seen.values())
        row.updated_at = datetime.now(UTC)
        settings = _settings_wire(artist, row)
    # Fans see slow mode; the blocked words stay with the moderators.
    await services.bus.publish(
        chat_channel(stream_id), frame("settings", slow_mode_s=settings.slow_mode_s)
    )
    return settings


async def report_message(
    target: Any, stream_id: str, message_id: int, reporter: str, reason: str
) -> ChatReportOut:
    """Stored once per (message, reporter); the artist and moderators are notified."""
    services = services_of(target)
    stream = await _stream(services, stream_id)
    async with services.sessions() as session:
        message = await session.get(ChatMessageRow, message_id)
        if message is None or message.stream_id != stream_id or message.deleted_at is not None:
            raise ChatError(404, "not_found", "no such message in this chat")
        if message.sender == reporter:
            raise ChatError(409, "conflict", "you cannot report your own message")
        existing = (await session.execute(_report_by(message_id, reporter))).scalar_one_or_none()
        if existing is not None:
            return _report_wire(existing)
        moderators = list(
            (
                await session.execute(
                    select(ChatModerator.address).where(
                        ChatModerator.artist == stream.artist_address
                    )
                )
            ).scalars()
        )
    try:
        async with services.sessions.begin() as session:
            report = ChatReport(
                message_id=message_id,
                stream_id=stream_id,
                reporter=reporter,
                reason=reason,
                created_at=datetime.now(UTC),
            )
            session.add(report)
            await session.flush()
    except IntegrityError:  # the same reporter, twice at once: one report
        async with services.sessions() as session:
            report = (await session.execute(_report_by(message_id, reporter))).scalar_one()
        return _report_wire(report)
    recipients = [a for a in [stream.artist_address, *moderators] if a != reporter]
    await publish_many(
        services,
        recipients=recipients,
        kind="chat_report",
        data={
            "stream_id": stream_id,
            "report_id": report.id,
            "message_id": message_id,
            "sender": message.sender,
            "text": message.text,
            "reporter": reporter,
            "reason": reason,
        },
    )
    return _report_wire(report)


def _report_by(message_id: int, reporter: str) -> Any:
    return select(ChatReport).where(
        ChatReport.message_id == message_id, ChatReport.reporter == reporter
    )


def _report_wire(row: ChatReport) -> ChatReportOut:
    return ChatReportOut(
        id=row.id,
        message_id=row.message_id,
        stream_id=row.stream_id,
        reporter=row.reporter,
        reason=row.reason,
        created_at=row.created_at,
    )


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


async def _slow_mode(services: Services, stream_id: str) -> int:
    async with services.sessions() as session:
        seconds = (
            await session.execute(
                select(ChatSettingsRow.slow_mode_s)
                .join(StreamRow, StreamRow.artist_address == ChatSettingsRow.artist)
                .where(StreamRow.id == stream_id)
            )
        ).scalar_one_or_none()
    return seconds or 0


def _http(exc: ChatError) -> HTTPException:
    return HTTPException(exc.status, detail=exc.detail)


async def _answered(call: Awaitable[T]) -> T:
    """The result of a chat action, or its refusal as an HTTP error."""
    try:
        return await call
    except ChatError as exc:
        raise _http(exc) from exc


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
    return await _answered(post_message(services, stream_id, caller, body.text, body.client_id))


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
    return await _answered(set_muted(services, stream_id, address, caller, True))


@router.delete(
    "/mutes/{address}",
    summary="Unmute an address",
    responses=error_responses(401, 403, 404, 409),
)
async def unmute(
    stream_id: StreamIdPath, address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> MuteState:
    return await _answered(set_muted(services, stream_id, address, caller, False))


@router.put(
    "/timeouts/{address}",
    summary="Time an address out of your chat for `seconds` (artist or moderator)",
    responses=error_responses(401, 403, 404, 409),
)
async def time_out(
    stream_id: StreamIdPath,
    address: AddressPath,
    body: TimeoutIn,
    caller: CurrentAddress,
    services: ServicesDep,
) -> MuteState:
    return await _answered(set_muted(services, stream_id, address, caller, True, body.seconds))


@router.put(
    "/moderators/{address}",
    summary="Name a moderator of your chat (the stream's artist only)",
    responses=error_responses(401, 403, 404, 409),
)
async def add_moderator(
    stream_id: StreamIdPath, address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> ModeratorState:
    return await _answered(set_moderator(services, stream_id, address, caller, True))


@router.delete(
    "/moderators/{address}",
    summary="Remove a moderator (the stream's artist only)",
    responses=error_responses(401, 403, 404, 409),
)
async def remove_moderator(
    stream_id: StreamIdPath, address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> ModeratorState:
    return await _answered(set_moderator(services, stream_id, address, caller, False))


@router.get(
    "/moderation/settings",
    summary="Slow mode and blocked words (artist or moderator)",
    responses=error_responses(401, 403, 404),
)
async def read_settings(
    stream_id: StreamIdPath, caller: CurrentAddress, services: ServicesDep
) -> ChatSettings:
    return await _answered(get_settings(services, stream_id, caller))


@router.patch(
    "/moderation/settings",
    summary="Change slow mode or the blocked words (artist or moderator)",
    responses=error_responses(401, 403, 404),
)
async def change_settings(
    stream_id: StreamIdPath, body: ChatSettingsIn, caller: CurrentAddress, services: ServicesDep
) -> ChatSettings:
    return await _answered(update_settings(services, stream_id, caller, body))


@router.post(
    "/chat/{message_id}/report",
    status_code=201,
    summary="Report a message to the artist and moderators (once per message and reporter)",
    responses=error_responses(401, 404, 409),
)
async def report(
    stream_id: StreamIdPath,
    message_id: IdPath,
    body: ReportIn,
    caller: CurrentAddress,
    services: ServicesDep,
) -> ChatReportOut:
    return await _answered(report_message(services, stream_id, message_id, caller, body.reason))


@router.get(
    "/moderation/reports",
    summary="Reports on this show's messages, newest first (artist or moderator)",
    responses=error_responses(401, 403, 404),
)
async def list_reports(
    stream_id: StreamIdPath,
    caller: CurrentAddress,
    services: ServicesDep,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[ChatReportOut]:
    try:
        await _moderated_stream(services, stream_id, caller)
    except ChatError as exc:
        raise _http(exc) from exc
    query = (
        select(ChatReport)
        .where(ChatReport.stream_id == stream_id)
        .order_by(ChatReport.id.desc())
        .offset(offset)
        .limit(limit + 1)
    )
    async with services.sessions() as session:
        rows = list((await session.execute(query)).scalars())
    return Page[ChatReportOut](
        items=[_report_wire(r) for r in rows[:limit]],
        next_offset=next_offset(offset, limit, len(rows)),
    )


@router.websocket("/chat/ws")
async def chat_socket(
    websocket: WebSocket,
    stream_id: str,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID), WholeNumber] = None,
) -> None:
    """Join a stream's chat. Server frames: history (last N, or everything after `after`, and
    the slow mode in force), then message / deleted / muted / unmuted / settings / moderator /
    stream_ended as they happen. Send {"type":"auth"} to write; then send / report frames, and
    (artist or moderator) delete / mute / unmute / timeout / settings frames."""
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
            elif isinstance(message, WsTimeout):
                await set_muted(
                    services, stream_id, message.address, identity["address"], True, message.seconds
                )
            elif isinstance(message, WsSettings):
                change = ChatSettingsIn.model_validate(message.model_dump(exclude={"type"}))
                await update_settings(services, stream_id, identity["address"], change)
            elif isinstance(message, WsReport):
                await report_message(
                    services, stream_id, message.id, identity["address"], message.reason
                )
                await websocket.send_text(frame("reported", id=message.id))
        except TokenError as exc:
            await websocket.send_text(error_frame("unauthorized", str(exc)))
        except ChatError as exc:
            await websocket.send_text(error_frame(exc.code, exc.detail))

    try:
        messages = await history(
            services, stream_id, after=after, last=services.config.chat_history
        )
        slow_mode_s = await _slow_mode(services, stream_id)
        await websocket.send_text(
            frame(
                "history",
                messages=[m.model_dump(mode="json") for m in messages],
                slow_mode_s=slow_mode_s,
            )
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
