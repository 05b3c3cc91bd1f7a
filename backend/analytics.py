"""Analytics for artists: plays, viewers per show, follower growth, income per day.

Recording:
  plays        POST /plays from the fan page's player after 30 s of playback. One play per
               listener per track per hour (the last counted play of that listener and track
               is over an hour old; a unique (track, listener, hour) key settles two instances
               racing). The listener is the signed-in address or, for a fan not signed in, the
               random id the page keeps in localStorage; only a hash of either is stored, and
               never an IP address (the per-client rate limit keys on it in memory, or in
               Redis with an expiry).
  viewers      every `viewer_sample_s` (10 s) the sampler stores each live show's viewer count
               as the relay last reported it (streams.viewers). The instant is rounded down to
               the interval, so instances sharing a database store one sample, not one each.
  followers    +1 / -1 events written with each follow and unfollow (backend.accounts).
  income       tips as the tip watcher announces them (analytics_tips); sales and
               subscriptions from the market index (market_sales, market_supports).

Reading: GET /me/analytics?from=YYYY-MM-DD&to=YYYY-MM-DD (UTC days, both included; at most
MAX_RANGE_DAYS) answers one `AnalyticsReport`: a row per day, per-track plays with a count per
day (every track played in the range, and the artist's MAX_TRACKS newest), and the shows in the
range (the MAX_SHOWS latest) with their viewers over time (at most MAX_POINTS per show: each
point is the highest count of its time slice).
"""

import asyncio
import contextlib
import hashlib
import logging
import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy import Integer, String, and_, cast, extract, func, literal, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth import CurrentAddress, ServicesDep, TokenError, bearer, decode_access_token
from backend.errors import error_responses
from backend.models import (
    Account,
    FollowEvent,
    MarketSale,
    MarketSupport,
    PlayRow,
    StreamRow,
    TipRow,
    TrackRow,
    UTCDateTime,
    ViewerSample,
)
from backend.params import reject_unknown_query
from backend.services import Services
from backend.wire import (
    ANALYTICS_MAX_DAYS,
    AnalyticsDay,
    AnalyticsReport,
    PlayIn,
    PlayOut,
    ShowAnalytics,
    TrackAnalytics,
    ViewerPoint,
)

log = logging.getLogger(__name__)

PLAY_WINDOW = timedelta(hours=1)
MAX_RANGE_DAYS = ANALYTICS_MAX_DAYS
DEFAULT_RANGE_DAYS = 30
EARLIEST_DAY = date(2020, 1, 1)
LATEST_DAY = date(2100, 12, 31)
MAX_SHOWS = 50
MAX_POINTS = 240
MAX_TRACKS = 200

router = APIRouter(tags=["analytics"], dependencies=[Depends(reject_unknown_query)])


def listener_key(*, address: str | None = None, anonymous: str | None = None) -> str:
    """What is stored for a listener: a hash of their address or of the page's random id."""
    if address is not None:
        return hashlib.sha256(f"address:{address.lower()}".encode()).hexdigest()
    if anonymous is None:
        raise ValueError("a listener is an address or an anonymous id")
    return hashlib.sha256(f"anonymous:{anonymous}".encode()).hexdigest()


def _insert(session: AsyncSession) -> Any:
    return pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert


def _utc_day(column: Any, dialect: str) -> Any:
    """The UTC calendar day of a timestamp column, in SQL."""
    if dialect == "postgresql":
        return func.date(func.timezone("UTC", column))
    return func.date(column)  # SQLite stores UTC text


def _epoch(column: Any, dialect: str) -> Any:
    if dialect == "postgresql":
        return cast(extract("epoch", column), Integer)
    return cast(func.strftime("%s", column), Integer)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _hour_of(at: datetime) -> datetime:
    return at.replace(minute=0, second=0, microsecond=0)


# -- recording -----------------------------------------------------------------------------------


async def record_play(services: Services, track_id: int, listener: str, now: datetime) -> PlayOut:
    """Count a play unless this listener's last play of this track is within the hour.

    One statement on the common path (INSERT ... SELECT from the track, where no play of the
    hour exists): a play report costs one write, whatever else the backend is doing."""
    recent = select(PlayRow.id).where(
        PlayRow.track_id == track_id,
        PlayRow.listener == listener,
        PlayRow.at > now - PLAY_WINDOW,
    )
    source = select(
        TrackRow.id,
        TrackRow.artist_address,
        literal(listener, String()),
        literal(_hour_of(now), UTCDateTime()),
        literal(now, UTCDateTime()),
    ).where(TrackRow.id == track_id, ~recent.exists())
    columns = ["track_id", "artist", "listener", "hour", "at"]
    async with services.sessions.begin() as session:
        statement = _insert(session)(PlayRow).from_select(columns, source)
        inserted = await session.execute(statement.on_conflict_do_nothing())
        if inserted.rowcount == 1:  # type: ignore[attr-defined]
            return PlayOut(counted=True, detail="play counted")
        if await session.get(TrackRow, track_id) is None:
            raise HTTPException(404, detail="no such track")
    return PlayOut(counted=False, detail="already counted for this listener this hour")


def record_follow(session: AsyncSession, artist: str, delta: int, at: datetime) -> None:
    """In the follow's (or unfollow's) own transaction: one event of follower growth."""
    session.add(FollowEvent(artist=artist, delta=delta, at=at))


async def record_tips(services: Services, tips: Iterable[Any], at: datetime) -> None:
    """Tips (chain.contracts.tipping.Tip) the tip watcher announces; a repeat is ignored."""
    rows = [
        {
            "tx_hash": tip.tx_hash,
            "log_index": tip.log_index,
            "artist": tip.artist,
            "fan": tip.fan,
            "amount_wei": str(tip.amount_wei),
            "block_number": tip.block_number,
            "at": at,
        }
        for tip in tips
    ]
    if not rows:
        return
    async with services.sessions.begin() as session:
        await session.execute(_insert(session)(TipRow).values(rows).on_conflict_do_nothing())


class ViewerSampler:
    """Every `interval_s`, each live show's viewer count (as the relay last reported it)."""

    def __init__(self, services: Services, interval_s: float) -> None:
        self.services = services
        self.interval_s = interval_s
        self.samples = 0  # rows this instance wrote
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="viewer-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def instant(self, now: datetime) -> datetime:
        """`now` rounded down to the interval: every instance names the same instant."""
        step = self.interval_s
        return datetime.fromtimestamp(math.floor(now.timestamp() / step) * step, UTC)

    async def sample(self, now: datetime | None = None) -> int:
        at = self.instant(now or datetime.now(UTC))
        async with self.services.sessions.begin() as session:
            live = (
                await session.execute(
                    select(StreamRow.id, StreamRow.artist_address, StreamRow.viewers).where(
                        StreamRow.ended_at.is_(None)
                    )
                )
            ).all()
            if not live:
                return 0
            rows = [
                {"stream_id": s, "at": at, "artist": a, "viewers": max(0, v)} for s, a, v in live
            ]
            result = await session.execute(
                _insert(session)(ViewerSample).values(rows).on_conflict_do_nothing()
            )
        written = max(0, result.rowcount or 0)  # type: ignore[attr-defined]
        self.samples += written
        return written

    async def _run(self) -> None:
        while True:
            # wake at the next instant, so samples fall on the interval's grid
            now = datetime.now(UTC).timestamp()
            await asyncio.sleep(self.interval_s - now % self.interval_s)
            try:
                await self.sample()
            except Exception as exc:  # a database blip skips a sample, never the sampler
                log.warning("viewer sample skipped: %s", exc)


def start_sampler(services: Services) -> ViewerSampler:
    sampler = ViewerSampler(services, services.config.viewer_sample_s)
    sampler.start()
    return sampler


# -- POST /plays ---------------------------------------------------------------------------------


def _invalid(field: str, message: str, where: str = "query") -> RequestValidationError:
    return RequestValidationError([{"loc": (where, field), "msg": message, "type": "value_error"}])


async def limit_plays(request: Request, services: ServicesDep) -> None:
    client = request.client.host if request.client else "unknown"
    if not await services.play_limiter.allow(f"plays:{client}"):
        raise HTTPException(429, detail="too many play reports; wait a little")


@router.post(
    "/plays",
    summary="Report a play (the fan page's player, after 30 s of playback)",
    responses=error_responses(401, 404, 429),
    dependencies=[Depends(limit_plays)],
)
async def report_play(
    body: PlayIn,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> PlayOut:
    address = None
    if credentials is not None:
        try:
            address = decode_access_token(services, credentials.credentials)
        except TokenError as exc:
            # An expired page session still counts the play under the page's own id.
            if body.listener is None:
                raise HTTPException(
                    401, detail=str(exc), headers={"WWW-Authenticate": "Bearer"}
                ) from exc
    if address is not None:
        listener = listener_key(address=address)
    elif body.listener is not None:
        listener = listener_key(anonymous=body.listener)
    else:
        raise _invalid("listener", "sign in, or send the page's listener id", where="body")
    return await record_play(services, body.track_id, listener, datetime.now(UTC))


# -- GET /me/analytics ---------------------------------------------------------------------------


def report_range(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The validated (from, to) days; RequestValidationError says what is wrong."""
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
            raise _invalid(name, f"{name} must be between {EARLIEST_DAY} and {LATEST_DAY}")
    span = timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if end is None:
        end = today if start is None else min(today, start + span)
    start = start or end - span
    if start > end:
        raise _invalid("from", f"from ({start}) is after to ({end})")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise _invalid(
            "to", f"the range is {(end - start).days + 1} days; at most {MAX_RANGE_DAYS}"
        )
    return start, end


DayQuery = Annotated[
    date | None, Query(description="first UTC day (YYYY-MM-DD); default: 30 days before `to`")
]


@router.get(
    "/me/analytics",
    summary="Your analytics per day, per track and per show",
    responses=error_responses(401, 403),
)
async def my_analytics(
    caller: CurrentAddress,
    services: ServicesDep,
    from_day: Annotated[DayQuery, Query(alias="from")] = None,
    to_day: Annotated[
        date | None, Query(alias="to", description="last UTC day, included; default: today")
    ] = None,
) -> AnalyticsReport:
    start, end = report_range(from_day, to_day, datetime.now(UTC).date())
    async with services.sessions() as session:
        account = await session.get(Account, caller)
        if account is None or account.role != "artist":
            raise HTTPException(403, detail="analytics are for artists; make an artist profile")
        return await build_report(session, caller, start, end, services.config.viewer_sample_s)


async def build_report(
    session: AsyncSession, artist: str, start: date, end: date, sample_interval_s: float
) -> AnalyticsReport:
    dialect = session.bind.dialect.name
    since = datetime.combine(start, datetime.min.time(), UTC)
    until = datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    index = {d: i for i, d in enumerate(days)}

    # plays, per track and day
    play_day = _utc_day(PlayRow.at, dialect)
    per_track_day = await session.execute(
        select(PlayRow.track_id, play_day, func.count())
        .where(PlayRow.artist == artist, PlayRow.at >= since, PlayRow.at < until)
        .group_by(PlayRow.track_id, play_day)
    )
    daily_by_track: dict[int, list[int]] = defaultdict(lambda: [0] * len(days))
    plays = [0] * len(days)
    for track_id, day, count in per_track_day.all():
        i = index[_as_date(day)]
        daily_by_track[int(track_id)][i] += int(count)
        plays[i] += int(count)
    listeners = dict(
        (
            await session.execute(
                select(PlayRow.track_id, func.count(PlayRow.listener.distinct()))
                .where(PlayRow.artist == artist, PlayRow.at >= since, PlayRow.at < until)
                .group_by(PlayRow.track_id)
            )
        ).all()
    )
    recent = (
        select(TrackRow.id)
        .where(TrackRow.artist_address == artist)
        .order_by(TrackRow.created_at.desc())
        .limit(MAX_TRACKS)
    )
    wanted = list(daily_by_track) + list((await session.execute(recent)).scalars())
    titles = dict(
        (
            await session.execute(
                select(TrackRow.id, TrackRow.title).where(TrackRow.id.in_(wanted))
            )
        ).all()
    )
    tracks = []
    for track_id in set(titles) | set(daily_by_track):
        daily = daily_by_track[track_id]
        tracks.append(
            TrackAnalytics(
                track_id=track_id,
                title=titles.get(track_id, f"Removed track #{track_id}"),
                plays=sum(daily),
                listeners=int(listeners.get(track_id, 0)),
                daily_plays=list(daily),
            )
        )
    tracks.sort(key=lambda t: (-t.plays, t.title.lower(), t.track_id))

    # followers: the total before the range, then each day's gains and losses
    before = await session.execute(
        select(func.coalesce(func.sum(FollowEvent.delta), 0)).where(
            FollowEvent.artist == artist, FollowEvent.at < since
        )
    )
    followers = int(before.scalar_one())
    gained, lost = [0] * len(days), [0] * len(days)
    follow_day = _utc_day(FollowEvent.at, dialect)
    changes = await session.execute(
        select(follow_day, FollowEvent.delta, func.count())
        .where(FollowEvent.artist == artist, FollowEvent.at >= since, FollowEvent.at < until)
        .group_by(follow_day, FollowEvent.delta)
    )
    for day, delta, count in changes.all():  # delta is +1 (a follow) or -1 (an unfollow)
        (gained if delta > 0 else lost)[index[_as_date(day)]] += int(count)

    # income per day (wei as Python ints: no SQL integer holds 2^256)
    income: dict[str, list[list[int]]] = {
        kind: [[0, 0] for _ in days] for kind in ("tips", "sales", "subscriptions")
    }

    def add(kind: str, at: datetime, wei: int) -> None:
        slot = income[kind][index[at.astimezone(UTC).date()]]
        slot[0] += 1
        slot[1] += wei

    for at, wei in await session.execute(
        select(TipRow.at, TipRow.amount_wei).where(
            TipRow.artist == artist, TipRow.at >= since, TipRow.at < until
        )
    ):
        add("tips", at, int(wei))
    for at, seller, price, royalty in await session.execute(
        select(
            MarketSale.created_at, MarketSale.seller, MarketSale.price_wei, MarketSale.royalty_wei
        ).where(
            MarketSale.artist == artist,
            MarketSale.created_at >= since,
            MarketSale.created_at < until,
        )
    ):
        # the artist's own edition earns its price; a fan's resale earns the royalty
        add("sales", at, int(price) if seller == artist else int(royalty))
    for at, wei in await session.execute(
        select(MarketSupport.created_at, MarketSupport.amount_wei).where(
            MarketSupport.artist == artist,
            MarketSupport.created_at >= since,
            MarketSupport.created_at < until,
        )
    ):
        add("subscriptions", at, int(wei))

    rows = []
    for i, day in enumerate(days):
        followers += gained[i] - lost[i]
        (tips, tips_wei), (sales, sales_wei), (subs, subs_wei) = (
            income[kind][i] for kind in ("tips", "sales", "subscriptions")
        )
        rows.append(
            AnalyticsDay(
                day=day,
                plays=plays[i],
                followers=followers,
                followers_gained=gained[i],
                followers_lost=lost[i],
                tips=tips,
                tips_wei=str(tips_wei),
                sales=sales,
                sales_wei=str(sales_wei),
                subscriptions=subs,
                subscriptions_wei=str(subs_wei),
            )
        )

    shows = await _shows(session, artist, since, until, sample_interval_s)
    return AnalyticsReport(
        artist=artist,
        from_day=start,
        to_day=end,
        sample_interval_s=sample_interval_s,
        days=rows,
        tracks=tracks,
        shows=shows,
    )


async def _shows(
    session: AsyncSession, artist: str, since: datetime, until: datetime, interval_s: float
) -> list[ShowAnalytics]:
    dialect = session.bind.dialect.name
    streams = (
        await session.execute(
            select(StreamRow)
            .where(
                StreamRow.artist_address == artist,
                StreamRow.started_at < until,
                or_(StreamRow.ended_at.is_(None), StreamRow.ended_at >= since),
            )
            .order_by(StreamRow.started_at.desc())
            .limit(MAX_SHOWS)
        )
    ).scalars()
    shows = []
    in_range = and_(ViewerSample.at >= since, ViewerSample.at < until)
    for stream in streams:
        figures = (
            await session.execute(
                select(
                    func.count(),
                    func.coalesce(func.max(ViewerSample.viewers), 0),
                    func.coalesce(func.avg(ViewerSample.viewers), 0),
                    func.min(ViewerSample.at),
                    func.max(ViewerSample.at),
                ).where(ViewerSample.stream_id == stream.id, in_range)
            )
        ).one()
        count, peak, average, first, last = figures
        samples: list[ViewerPoint] = []
        if count:
            # one point per slice: the whole show fits in MAX_POINTS slices
            span = (last - first).total_seconds() if first and last else 0
            slice_s = max(int(interval_s), math.ceil((span + interval_s) / MAX_POINTS), 1)
            bucket = _epoch(ViewerSample.at, dialect) // slice_s
            points = await session.execute(
                select(func.min(ViewerSample.at), func.max(ViewerSample.viewers))
                .where(ViewerSample.stream_id == stream.id, in_range)
                .group_by(bucket)
                .order_by(func.min(ViewerSample.at))
            )
            samples = [ViewerPoint(at=at, viewers=int(v)) for at, v in points.all()]
        shows.append(
            ShowAnalytics(
                stream_id=stream.id,
                title=stream.title,
                started_at=stream.started_at,
                ended_at=stream.ended_at,
                peak_viewers=int(peak),
                average_viewers=round(float(average), 2),
                samples=samples,
            )
        )
    return shows
