"""Who is live now. The stream service marks streams live/ended through this internal API:

    from backend.streams import announcements as live
    stream = await live.mark_live(app, artist="0x...", title="Friday session")
    await live.set_viewers(app, stream.id, 42)
    await live.mark_ended(app, stream.id)

An artist streaming through an external WHIP server can do the same over HTTP
(POST /streams, POST /streams/{id}/end). Going live notifies the artist's followers.
"""

import secrets
from datetime import UTC, datetime
from typing import Any

from eth_utils import to_checksum_address
from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select, update

from backend.auth import CurrentAddress, ServicesDep
from backend.errors import error_responses
from backend.mail import go_live as mail_go_live
from backend.models import Account, Follow, StreamRow
from backend.notifications import publish_many
from backend.params import Limit, Offset, StreamIdPath, next_offset, reject_unknown_query
from backend.services import services_of
from backend.web_push import go_live as push_go_live
from backend.wire import LiveStream, Page, Title, Wire
from backend.ws import frame

router = APIRouter(tags=["live"], dependencies=[Depends(reject_unknown_query)])


def chat_channel(stream_id: str) -> str:
    return f"chat:{stream_id}"


def _to_wire(row: StreamRow, artist_name: str | None) -> LiveStream:
    return LiveStream(
        id=row.id,
        artist_address=row.artist_address,
        artist_name=artist_name,
        title=row.title,
        viewers=row.viewers,
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


async def mark_live(
    target: Any, *, artist: str, title: str, stream_id: str | None = None
) -> LiveStream:
    """Start (or restart) a stream; followers get a `stream_started` notification."""
    services = services_of(target)
    artist = to_checksum_address(artist)
    stream_id = stream_id or secrets.token_hex(8)
    now = datetime.now(UTC)
    async with services.sessions.begin() as session:
        row = await session.get(StreamRow, stream_id)
        if row is None:
            row = StreamRow(id=stream_id, artist_address=artist, title=title, viewers=0)
            session.add(row)
        elif row.artist_address != artist:
            raise ValueError(f"stream {stream_id} belongs to another artist")
        row.title, row.started_at, row.ended_at = title, now, None
        account = await session.get(Account, artist)
        followers = list(
            (
                await session.execute(select(Follow.follower).where(Follow.artist == artist))
            ).scalars()
        )
    stream = _to_wire(row, account.display_name if account else None)
    await publish_many(
        services,
        recipients=followers,
        kind="stream_started",
        data={
            "stream_id": stream.id,
            "artist": artist,
            "artist_name": stream.artist_name,
            "title": title,
        },
    )
    await mail_go_live(services, artist=artist, stream_id=stream.id, title=title)
    await push_go_live(services, artist=artist, stream_id=stream.id, title=title)
    return stream


async def mark_ended(target: Any, stream_id: str) -> None:
    services = services_of(target)
    async with services.sessions.begin() as session:
        await session.execute(
            update(StreamRow)
            .where(StreamRow.id == stream_id, StreamRow.ended_at.is_(None))
            .values(ended_at=datetime.now(UTC), viewers=0)
        )
    await services.bus.publish(chat_channel(stream_id), frame("stream_ended", stream_id=stream_id))


async def set_viewers(target: Any, stream_id: str, viewers: int) -> None:
    services = services_of(target)
    async with services.sessions.begin() as session:
        await session.execute(
            update(StreamRow).where(StreamRow.id == stream_id).values(viewers=max(0, viewers))
        )


async def get_stream(target: Any, stream_id: str) -> LiveStream | None:
    services = services_of(target)
    async with services.sessions() as session:
        row = (
            await session.execute(
                select(StreamRow, Account.display_name)
                .outerjoin(Account, Account.address == StreamRow.artist_address)
                .where(StreamRow.id == stream_id)
            )
        ).first()
    return _to_wire(*row) if row else None


@router.get("/live", summary="Streams live now, newest first")
async def list_live(
    services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[LiveStream]:
    query = (
        select(StreamRow, Account.display_name)
        .outerjoin(Account, Account.address == StreamRow.artist_address)
        .where(StreamRow.ended_at.is_(None))
        .order_by(StreamRow.started_at.desc(), StreamRow.id)
        .offset(offset)
        .limit(limit + 1)
    )
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    items = [_to_wire(*row) for row in rows[:limit]]
    return Page[LiveStream](items=items, next_offset=next_offset(offset, limit, len(rows)))


@router.get("/streams/{stream_id}", summary="One stream", responses=error_responses(404))
async def stream_detail(stream_id: StreamIdPath, services: ServicesDep) -> LiveStream:
    stream = await get_stream(services, stream_id)
    if stream is None:
        raise HTTPException(404, detail="no such stream")
    return stream


class GoLiveIn(Wire):
    title: Title


@router.post(
    "/streams",
    status_code=201,
    summary="Announce that you are live (when streaming through an external WHIP server)",
    responses=error_responses(401, 403),
)
async def go_live(body: GoLiveIn, caller: CurrentAddress, services: ServicesDep) -> LiveStream:
    async with services.sessions() as session:
        account = await session.get(Account, caller)
    if account is None or account.role != "artist":
        raise HTTPException(403, detail="only artists can go live; create an artist profile first")
    return await mark_live(services, artist=caller, title=body.title)


@router.post(
    "/streams/{stream_id}/end",
    summary="End your stream",
    responses=error_responses(401, 403, 404),
)
async def end_stream(
    stream_id: StreamIdPath, caller: CurrentAddress, services: ServicesDep
) -> LiveStream:
    stream = await get_stream(services, stream_id)
    if stream is None:
        raise HTTPException(404, detail="no such stream")
    if stream.artist_address != caller:
        raise HTTPException(403, detail="this is not your stream")
    await mark_ended(services, stream_id)
    ended = await get_stream(services, stream_id)
    assert ended is not None
    return ended
