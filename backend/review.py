"""Review of held tracks.

A track whose acoustic fingerprint matches another artist's recording is held when listed
(backend.discovery): shown to no fan. This backend's reviewers (`--reviewer`, or
HARMONIE_REVIEWERS) see the held tracks, oldest first, and list each one or keep it off with
a reason; its artist is told either way (a `track_reviewed` notification, and the track's
status in GET /me/tracks). Nobody reviews their own track, a decision is taken once (two
reviewers at once: one wins, the other is told), and a backend with no reviewers keeps held
tracks held: nothing is listed by default.
"""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import select, update

from backend.auth import CurrentAddress, ServicesDep
from backend.discovery import TrackIdPath, page_of_tracks, to_track
from backend.errors import error_responses
from backend.mail import new_release
from backend.models import TrackRow
from backend.notifications import publish
from backend.params import Limit, Offset, reject_unknown_query
from backend.services import Services
from backend.wire import Page, ReviewIn, Track

router = APIRouter(tags=["review"], dependencies=[Depends(reject_unknown_query)])

REJECTED_PREFIX = "Rejected on review: "


def _check_reviewer(services: Services, caller: str) -> None:
    if not services.config.reviewers:
        raise HTTPException(403, detail="this backend names no reviewers (--reviewer)")
    if caller not in services.config.reviewers:
        raise HTTPException(403, detail="only this backend's reviewers review held tracks")


@router.get(
    "/review/held-tracks",
    summary="Held tracks waiting for a decision, oldest first (reviewers only)",
    responses=error_responses(401, 403),
)
async def held_tracks(
    caller: CurrentAddress, services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[Track]:
    _check_reviewer(services, caller)
    query = (
        select(TrackRow).where(TrackRow.status == "held").order_by(TrackRow.created_at, TrackRow.id)
    )
    async with services.sessions() as session:
        return await page_of_tracks(session, query, limit, offset)


@router.post(
    "/review/tracks/{track_id}",
    summary="List a held track, or keep it off with a reason its artist is shown",
    responses=error_responses(401, 403, 404, 409),
)
async def review_track(
    track_id: TrackIdPath, body: ReviewIn, caller: CurrentAddress, services: ServicesDep
) -> Track:
    _check_reviewer(services, caller)
    note = body.note.strip()
    if body.decision == "reject" and not note:
        raise HTTPException(422, detail="say why it is rejected: its artist is shown the reason")
    listed = body.decision == "list"
    async with services.sessions.begin() as session:
        row = await session.get(TrackRow, track_id)
        if row is None:
            raise HTTPException(404, detail="no such track")
        if row.artist_address == caller:
            raise HTTPException(403, detail="another reviewer decides on your own track")
        if row.status != "held":
            raise HTTPException(
                409, detail=f"this track is {row.status}: there is nothing to decide"
            )
        decided = await session.execute(  # of two reviewers at once, one decides
            update(TrackRow)
            .where(TrackRow.id == track_id, TrackRow.status == "held")
            .values(
                status="listed" if listed else "rejected",
                held_reason=None if listed else f"{REJECTED_PREFIX}{note}",
                reviewed_by=caller,
                reviewed_at=datetime.now(UTC),
            )
        )
        if decided.rowcount != 1:  # type: ignore[attr-defined]
            raise HTTPException(409, detail="another reviewer decided on this track just now")
        await session.refresh(row)
        track = to_track(row)
    await publish(
        services,
        recipient=track.artist_address,
        kind="track_reviewed",
        data={"track_id": track.id, "title": track.title, "decision": body.decision, "note": note},
    )
    if listed:
        await new_release(
            services, artist=track.artist_address, track_id=track.id, title=track.title
        )
    return track
