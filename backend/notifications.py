"""Notifications: stored per recipient, streamed over WebSocket, read markers over HTTP.

Other services publish through one function:

    from backend.notifications import publish
    await publish(app, recipient="0x...", kind="tip_received", data={...})

`app` may be the FastAPI app, a Request/WebSocket, or the Services object.
"""

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, Query, WebSocket
from sqlalchemy import func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.websockets import WebSocketDisconnect

from backend.auth import CurrentAddress, ServicesDep, TokenError
from backend.errors import error_responses
from backend.models import NotificationRead, NotificationRow
from backend.params import MAX_ID, Boolean, WholeNumber, reject_unknown_query
from backend.services import Services, services_of
from backend.wire import (
    NOTIFICATION_KINDS,
    Notification,
    NotificationKind,
    NotificationsPage,
    ReadIn,
    WsAuth,
    WsPing,
)
from backend.ws import (
    CLOSE_UNAUTHORIZED,
    admitted,
    authenticate,
    close_quietly,
    error_frame,
    frame,
    receive_frame,
    stream_to,
)

router = APIRouter(
    prefix="/notifications", tags=["notifications"], dependencies=[Depends(reject_unknown_query)]
)

BACKLOG_LIMIT = 200
AUTH_TIMEOUT_S = 10.0


def user_channel(address: str) -> str:
    return f"user:{address}"


def _to_wire(row: NotificationRow, last_read_id: int) -> Notification:
    return Notification(
        id=row.id,
        kind=row.kind,  # type: ignore[arg-type]
        data=row.data,
        created_at=row.created_at,
        read=row.id <= last_read_id,
    )


def _check(kind: str, data: dict[str, Any]) -> None:
    if kind not in NOTIFICATION_KINDS:
        raise ValueError(f"unknown notification kind {kind!r}; one of {NOTIFICATION_KINDS}")
    json.dumps(data)  # TypeError now rather than a broken row later


async def publish(
    target: Any, *, recipient: str, kind: NotificationKind, data: dict[str, Any]
) -> Notification:
    """Store a notification for `recipient` and push it to their connected clients (on every
    instance). Returns what was stored."""
    _check(kind, data)
    services = services_of(target)
    recipient = to_checksum_address(recipient)
    now = datetime.now(UTC)
    async with services.sessions.begin() as session:
        row = NotificationRow(recipient=recipient, kind=kind, data=data, created_at=now)
        session.add(row)
        await session.flush()
    notification = _to_wire(row, 0)
    services.metrics.notifications += 1
    await services.bus.publish(
        user_channel(recipient),
        frame("notification", notification=notification.model_dump(mode="json")),
    )
    return notification


async def publish_many(
    target: Any, *, recipients: Sequence[str], kind: NotificationKind, data: dict[str, Any]
) -> int:
    """The same notification to many recipients (e.g. every follower), in one insert."""
    _check(kind, data)
    services = services_of(target)
    if not recipients:
        return 0
    now = datetime.now(UTC)
    values = [
        {"recipient": to_checksum_address(r), "kind": kind, "data": data, "created_at": now}
        for r in recipients
    ]
    async with services.sessions.begin() as session:
        rows = (
            await session.execute(
                insert(NotificationRow).returning(NotificationRow.id, NotificationRow.recipient),
                values,
            )
        ).all()
    for notification_id, recipient in rows:
        notification = Notification(
            id=notification_id, kind=kind, data=data, created_at=now, read=False
        )
        await services.bus.publish(
            user_channel(recipient),
            frame("notification", notification=notification.model_dump(mode="json")),
        )
    services.metrics.notifications += len(rows)
    return len(rows)


async def _last_read(session: AsyncSession, address: str) -> int:
    marker = await session.get(NotificationRead, address)
    return marker.last_read_id if marker else 0


@router.get("", summary="Your notifications", responses=error_responses(401))
async def list_notifications(
    caller: CurrentAddress,
    services: ServicesDep,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="oldest first, ids > after"), WholeNumber
    ] = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="newest first, ids < before"), WholeNumber
    ] = None,
    unread: Annotated[
        bool, Query(description="only notifications not marked read"), Boolean
    ] = False,
    limit: Annotated[int, Query(ge=1, le=200), WholeNumber] = 50,
) -> NotificationsPage:
    async with services.sessions() as session:
        last_read = await _last_read(session, caller)
        query = select(NotificationRow).where(NotificationRow.recipient == caller)
        if unread:
            query = query.where(NotificationRow.id > last_read)
        if after is not None:
            query = query.where(NotificationRow.id > after).order_by(NotificationRow.id)
        else:
            if before is not None:
                query = query.where(NotificationRow.id < before)
            query = query.order_by(NotificationRow.id.desc())
        rows = list((await session.execute(query.limit(limit + 1))).scalars())
    items = [_to_wire(row, last_read) for row in rows[:limit]]
    more = len(rows) > limit and items
    return NotificationsPage(
        items=items, last_read_id=last_read, next_cursor=items[-1].id if more else None
    )


@router.get("/unread", summary="How many notifications are unread", responses=error_responses(401))
async def unread_count(caller: CurrentAddress, services: ServicesDep) -> dict[str, int]:
    async with services.sessions() as session:
        last_read = await _last_read(session, caller)
        count = await session.execute(
            select(func.count())
            .select_from(NotificationRow)
            .where(NotificationRow.recipient == caller, NotificationRow.id > last_read)
        )
    return {"unread": int(count.scalar_one()), "last_read_id": last_read}


@router.post("/read", summary="Mark notifications read up to an id", responses=error_responses(401))
async def mark_read(body: ReadIn, caller: CurrentAddress, services: ServicesDep) -> dict[str, int]:
    async with services.sessions.begin() as session:
        dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        statement = dialect_insert(NotificationRead).values(
            recipient=caller, last_read_id=body.up_to
        )
        # The marker only moves forward, so two devices marking read never un-read anything.
        statement = statement.on_conflict_do_update(
            index_elements=[NotificationRead.recipient],
            set_={
                "last_read_id": func.max(
                    NotificationRead.last_read_id, statement.excluded.last_read_id
                )
            }
            if session.bind.dialect.name == "sqlite"
            else {
                "last_read_id": func.greatest(
                    NotificationRead.last_read_id, statement.excluded.last_read_id
                )
            },
        )
        await session.execute(statement)
        last_read = await _last_read(session, caller)
    return {"last_read_id": last_read}


async def _backlog(
    services: Services, address: str, after: int
) -> tuple[list[dict[str, Any]], int]:
    async with services.sessions() as session:
        last_read = await _last_read(session, address)
        rows = list(
            (
                await session.execute(
                    select(NotificationRow)
                    .where(NotificationRow.recipient == address, NotificationRow.id > after)
                    .order_by(NotificationRow.id.desc())
                    .limit(BACKLOG_LIMIT)
                )
            ).scalars()
        )
    rows.reverse()
    return [_to_wire(r, last_read).model_dump(mode="json") for r in rows], (
        rows[-1].id if rows else after
    )


@router.websocket("/ws")
async def notifications_socket(
    websocket: WebSocket, after: Annotated[int, Query(ge=0, le=MAX_ID), WholeNumber] = 0
) -> None:
    """First frame must be {"type":"auth","token":...}; then a backlog of notifications with
    id > after (oldest first), then live ones as they happen."""
    services = services_of(websocket)
    async with admitted(services, websocket) as ok:
        if ok:
            await _notifications_session(websocket, services, after)


async def _notifications_session(websocket: WebSocket, services: Services, after: int) -> None:
    await websocket.accept()
    try:
        first = await asyncio.wait_for(receive_frame(websocket), AUTH_TIMEOUT_S)
        if not isinstance(first, WsAuth):
            raise TokenError("the first frame must be an auth frame")
        address = authenticate(services, first)
    except (TokenError, TimeoutError) as exc:
        await websocket.send_text(error_frame("unauthorized", str(exc) or "sign in first"))
        await close_quietly(websocket, CLOSE_UNAUTHORIZED, "unauthorized")
        return
    except WebSocketDisconnect:
        return
    channel = user_channel(address)
    subscriber = services.hub.subscriber(websocket.send_text)
    services.hub.subscribe(channel, subscriber)
    try:
        await websocket.send_text(frame("authed", address=address))
        items, up_to = await _backlog(services, address, after)
        await websocket.send_text(frame("backlog", notifications=items))

        async def handle(message: Any) -> None:
            if isinstance(message, WsPing):
                await websocket.send_text(frame("pong"))
            else:
                await websocket.send_text(error_frame("bad_frame", "only ping is accepted here"))

        await stream_to(
            websocket,
            subscriber,
            up_to,
            ("notification",),
            handle,
            frame_burst=services.config.ws_frame_burst,
            frame_rate_per_s=services.config.ws_frame_rate_per_s,
        )
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        services.hub.unsubscribe(channel, subscriber)
        await close_quietly(websocket)
