"""Profiles (an address as an artist or a fan) and follows."""

from datetime import UTC, datetime

from fastapi import APIRouter, Depends, HTTPException
from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.analytics import record_follow
from backend.auth import CurrentAddress, ServicesDep
from backend.errors import error_responses
from backend.models import Account, Follow, TrackRow
from backend.notifications import publish
from backend.params import AddressPath, Limit, Offset, next_offset, reject_unknown_query
from backend.wire import FollowState, Page, Profile, ProfileIn

router = APIRouter(tags=["accounts"], dependencies=[Depends(reject_unknown_query)])

_followers = (
    select(Follow.artist, func.count().label("followers")).group_by(Follow.artist).subquery()
)


def profiles_query() -> Select[tuple[Account, int]]:
    return select(Account, func.coalesce(_followers.c.followers, 0)).outerjoin(
        _followers, _followers.c.artist == Account.address
    )


def to_profile(account: Account, followers: int) -> Profile:
    return Profile(
        address=account.address,
        role=account.role,  # type: ignore[arg-type]
        display_name=account.display_name,
        bio=account.bio,
        avatar_cid=account.avatar_cid,
        links=list(account.links or []),
        followers=followers,
        created_at=account.created_at,
    )


async def load_profile(session: AsyncSession, address: str) -> Profile | None:
    row = (await session.execute(profiles_query().where(Account.address == address))).first()
    return to_profile(*row) if row else None


async def followers_count(session: AsyncSession, artist: str) -> int:
    query = select(func.count()).select_from(Follow).where(Follow.artist == artist)
    return int((await session.execute(query)).scalar_one())


@router.get("/profiles/{address}", summary="An address's profile", responses=error_responses(404))
async def get_profile(address: AddressPath, services: ServicesDep) -> Profile:
    async with services.sessions() as session:
        profile = await load_profile(session, address)
    if profile is None:
        raise HTTPException(404, detail="no profile for this address")
    return profile


@router.put(
    "/profiles/{address}",
    summary="Create or replace your own profile",
    responses=error_responses(401, 403),
)
async def put_profile(
    address: AddressPath, body: ProfileIn, caller: CurrentAddress, services: ServicesDep
) -> Profile:
    if address != caller:
        raise HTTPException(403, detail="you can only edit your own profile")
    now = datetime.now(UTC)
    async with services.sessions.begin() as session:
        account = await session.get(Account, address)
        if account is None:
            account = Account(address=address, created_at=now)
            session.add(account)
        renamed = account.display_name != body.display_name
        account.role = body.role
        account.display_name = body.display_name
        account.bio = body.bio
        account.avatar_cid = body.avatar_cid
        account.links = list(body.links)
        account.updated_at = now
        await session.flush()
        if renamed:
            await session.execute(
                update(TrackRow)
                .where(TrackRow.artist_address == address)
                .values(artist_name=body.display_name)
            )
        profile = await load_profile(session, address)
    assert profile is not None
    return profile


@router.get("/artists", summary="Artists, newest first")
async def list_artists(
    services: ServicesDep, limit: Limit = 20, offset: Offset = 0
) -> Page[Profile]:
    query = (
        profiles_query()
        .where(Account.role == "artist")
        .order_by(Account.created_at.desc(), Account.address)
        .offset(offset)
        .limit(limit + 1)
    )
    async with services.sessions() as session:
        rows = (await session.execute(query)).all()
    items = [to_profile(*row) for row in rows[:limit]]
    return Page[Profile](items=items, next_offset=next_offset(offset, limit, len(rows)))


async def _require_artist(session: AsyncSession, address: str) -> Account:
    account = await session.get(Account, address)
    if account is None or account.role != "artist":
        raise HTTPException(404, detail="no artist with this address")
    return account


@router.get("/artists/{address}", summary="One artist", responses=error_responses(404))
async def get_artist(address: AddressPath, services: ServicesDep) -> Profile:
    async with services.sessions() as session:
        await _require_artist(session, address)
        profile = await load_profile(session, address)
    assert profile is not None
    return profile


@router.get(
    "/artists/{address}/followers",
    summary="Addresses following an artist",
    responses=error_responses(404),
)
async def list_followers(
    address: AddressPath, services: ServicesDep, limit: Limit = 50, offset: Offset = 0
) -> Page[str]:
    async with services.sessions() as session:
        await _require_artist(session, address)
        query = (
            select(Follow.follower)
            .where(Follow.artist == address)
            .order_by(Follow.created_at.desc(), Follow.follower)
            .offset(offset)
            .limit(limit + 1)
        )
        rows = list((await session.execute(query)).scalars())
    return Page[str](items=rows[:limit], next_offset=next_offset(offset, limit, len(rows)))


@router.get("/profiles/{address}/following", summary="Artists an address follows")
async def list_following(
    address: AddressPath, services: ServicesDep, limit: Limit = 50, offset: Offset = 0
) -> Page[str]:
    query = (
        select(Follow.artist)
        .where(Follow.follower == address)
        .order_by(Follow.created_at.desc(), Follow.artist)
        .offset(offset)
        .limit(limit + 1)
    )
    async with services.sessions() as session:
        rows = list((await session.execute(query)).scalars())
    return Page[str](items=rows[:limit], next_offset=next_offset(offset, limit, len(rows)))


@router.put(
    "/artists/{address}/follow",
    summary="Follow an artist",
    responses=error_responses(401, 404, 409),
)
async def follow(
    address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> FollowState:
    if address == caller:
        raise HTTPException(409, detail="you cannot follow yourself")
    async with services.sessions.begin() as session:
        await _require_artist(session, address)
        dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        now = datetime.now(UTC)
        inserted = await session.execute(
            dialect_insert(Follow)
            .values(follower=caller, artist=address, created_at=now)
            .on_conflict_do_nothing()
        )
        if inserted.rowcount == 1:  # type: ignore[attr-defined]
            record_follow(session, address, +1, now)
        follower_profile = await session.get(Account, caller)
        count = await followers_count(session, address)
    if inserted.rowcount == 1:  # type: ignore[attr-defined]
        await publish(
            services,
            recipient=address,
            kind="new_follower",
            data={
                "follower": caller,
                "follower_name": follower_profile.display_name if follower_profile else None,
                "followers": count,
            },
        )
    return FollowState(artist=address, following=True, followers=count)


@router.delete(
    "/artists/{address}/follow",
    summary="Stop following an artist",
    responses=error_responses(401, 404),
)
async def unfollow(
    address: AddressPath, caller: CurrentAddress, services: ServicesDep
) -> FollowState:
    async with services.sessions.begin() as session:
        await _require_artist(session, address)
        deleted = await session.execute(
            delete(Follow).where(Follow.artist == address, Follow.follower == caller)
        )
        if deleted.rowcount == 1:  # type: ignore[attr-defined]
            record_follow(session, address, -1, datetime.now(UTC))
        count = await followers_count(session, address)
    return FollowState(artist=address, following=False, followers=count)
