"""Discovery: tracks (newest, by artist, one), and search across artists and tracks."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend import search
from backend.accounts import profiles_query, to_profile
from backend.auth import CurrentAddress, ServicesDep
from backend.errors import error_responses
from backend.fingerprints import find_match, pack
from backend.mail import new_release
from backend.models import Account, TrackFingerprint, TrackRow
from backend.ownership import check_owner
from backend.params import AddressPath, IdPath, Limit, Offset, next_offset, reject_unknown_query
from backend.wire import Page, Profile, SearchResults, Track, TrackIn

router = APIRouter(tags=["discovery"], dependencies=[Depends(reject_unknown_query)])

TrackIdPath = IdPath
SearchQuery = Annotated[str, Query(min_length=1, max_length=200, description="words to find")]


def to_track(row: TrackRow) -> Track:
    return Track(
        id=row.id,
        title=row.title,
        artist_address=row.artist_address,
        artist_name=row.artist_name,
        cid=row.cid,
        duration_s=row.duration_s,
        loudness_lufs=row.loudness_lufs,
        artwork_cid=row.artwork_cid,
        created_at=row.created_at,
        status=row.status if row.status in ("held", "rejected") else "listed",
        held_reason=row.held_reason,
        reviewed_at=row.reviewed_at,
    )


LISTED = TrackRow.status == "listed"  # held tracks are shown to their artist and reviewers


async def page_of_tracks(session: AsyncSession, query, limit: int, offset: int) -> Page[Track]:  # type: ignore[no-untyped-def]
    rows = list((await session.execute(query.offset(offset).limit(limit + 1))).scalars())
    return Page[Track](
        items=[to_track(r) for r in rows[:limit]], next_offset=next_offset(offset, limit, len(rows))
    )


@router.get("/tracks", summary="Tracks, newest first")
async def list_tracks(services: ServicesDep, limit: Limit = 20, offset: Offset = 0) -> Page[Track]:
    query = select(TrackRow).where(LISTED).order_by(TrackRow.created_at.desc(), TrackRow.id.desc())
    async with services.sessions() as session:
        return await page_of_tracks(session, query, limit, offset)


@router.get("/tracks/{track_id}", summary="One track", responses=error_responses(404))
async def get_track(track_id: TrackIdPath, services: ServicesDep) -> Track:
    async with services.sessions() as session:
        row = await session.get(TrackRow, track_id)
    if row is None or row.status != "listed":
        raise HTTPException(404, detail="no such track")
    return to_track(row)


@router.get("/artists/{address}/tracks", summary="An artist's tracks, newest first")
async def artist_tracks(
    address: AddressPath, services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[Track]:
    query = (
        select(TrackRow)
        .where(TrackRow.artist_address == address, LISTED)
        .order_by(TrackRow.created_at.desc(), TrackRow.id.desc())
    )
    async with services.sessions() as session:
        return await page_of_tracks(session, query, limit, offset)


@router.get(
    "/me/tracks",
    summary="Your tracks, newest first, whatever their status (listed, held, rejected)",
    responses=error_responses(401),
)
async def my_tracks(
    caller: CurrentAddress, services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[Track]:
    query = (
        select(TrackRow)
        .where(TrackRow.artist_address == caller)
        .order_by(TrackRow.created_at.desc(), TrackRow.id.desc())
    )
    async with services.sessions() as session:
        return await page_of_tracks(session, query, limit, offset)


@router.post(
    "/tracks",
    status_code=201,
    summary="List one of your tracks (idempotent per CID)",
    description="The CID must be yours: registered by you in the content registry, or, on a "
    "backend that knows no registry, uploaded by you to its content store. A track whose "
    "acoustic fingerprint matches another artist's listed track is stored with status "
    "'held' (and the reason) and shown to no one until reviewed.",
    responses={
        200: {"model": Track, "description": "This CID was already listed: the existing track"},
        **error_responses(401, 403, 503),
    },
)
async def add_track(
    body: TrackIn,
    caller: CurrentAddress,
    services: ServicesDep,
    response: Response,
    request: Request,
) -> Track:
    await check_owner(request.app, services, body.cid, caller)
    async with services.sessions.begin() as session:
        artist = await session.get(Account, caller)
        if artist is None or artist.role != "artist":
            raise HTTPException(403, detail="only artists list tracks; create an artist profile")
        existing = (
            await session.execute(
                select(TrackRow).where(TrackRow.artist_address == caller, TrackRow.cid == body.cid)
            )
        ).scalar_one_or_none()
        if existing is not None:
            response.status_code = 200
            return to_track(existing)
        match = await find_match(session, caller, body.fingerprint) if body.fingerprint else None
        row = TrackRow(
            artist_address=caller,
            artist_name=artist.display_name,
            title=body.title,
            cid=body.cid,
            duration_s=body.duration_s,
            loudness_lufs=body.loudness_lufs,
            artwork_cid=body.artwork_cid,
            created_at=datetime.now(UTC),
            status="held" if match else "listed",
            held_reason=match.reason() if match else None,
        )
        session.add(row)
        await session.flush()
        if body.fingerprint:
            session.add(
                TrackFingerprint(
                    track_id=row.id,
                    duration_s=body.duration_s,
                    words=pack(body.fingerprint),
                )
            )
        track = to_track(row)
    if services.pin_mirrors is not None:
        services.pin_mirrors.schedule([body.cid, body.artwork_cid])
    if match is not None:
        return track
    await new_release(services, artist=caller, track_id=track.id, title=track.title)
    return track


@router.delete(
    "/tracks/{track_id}",
    status_code=204,
    summary="Remove one of your tracks from listings",
    responses=error_responses(401, 403, 404),
)
async def delete_track(
    track_id: TrackIdPath, caller: CurrentAddress, services: ServicesDep
) -> Response:
    async with services.sessions.begin() as session:
        row = await session.get(TrackRow, track_id)
        if row is None:
            raise HTTPException(404, detail="no such track")
        if row.artist_address != caller:
            raise HTTPException(403, detail="this is not your track")
        await session.delete(row)
    return Response(status_code=204)


async def _search_tracks(session: AsyncSession, q: str, limit: int, offset: int) -> Page[Track]:
    ids = await search.track_ids(session, q, limit + 1, offset)
    rows = {
        r.id: r
        for r in (
            await session.execute(select(TrackRow).where(TrackRow.id.in_(ids), LISTED))
        ).scalars()
    }
    items = [to_track(rows[i]) for i in ids[:limit] if i in rows]
    return Page[Track](items=items, next_offset=next_offset(offset, limit, len(ids)))


async def _search_artists(session: AsyncSession, q: str, limit: int, offset: int) -> Page[Profile]:
    addresses = await search.artist_addresses(session, q, limit + 1, offset)
    found = {
        account.address: to_profile(account, followers)
        for account, followers in (
            await session.execute(profiles_query().where(Account.address.in_(addresses)))
        ).all()
    }
    items = [found[a] for a in addresses[:limit] if a in found]
    return Page[Profile](items=items, next_offset=next_offset(offset, limit, len(addresses)))


@router.get("/search", summary="Search artists and tracks (one page of each)")
async def search_all(
    q: SearchQuery, services: ServicesDep, limit: Limit = 10, offset: Offset = 0
) -> SearchResults:
    async with services.sessions() as session:
        artists = await _search_artists(session, q, limit, offset)
        tracks = await _search_tracks(session, q, limit, offset)
    return SearchResults(query=q, artists=artists, tracks=tracks)


@router.get("/search/tracks", summary="Search tracks by title and artist name")
async def search_tracks(
    q: SearchQuery, services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[Track]:
    async with services.sessions() as session:
        return await _search_tracks(session, q, limit, offset)


@router.get("/search/artists", summary="Search artists by name and bio")
async def search_artists(
    q: SearchQuery, services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[Profile]:
    async with services.sessions() as session:
        return await _search_artists(session, q, limit, offset)
