"""Web Push (RFC 8030, payloads encrypted per RFC 8291, VAPID per RFC 8292): a fan's browser
subscribes on the fan page and hears "<artist> is live" when an artist they follow goes live.

Like email (backend.mail), nothing is pushed from a request: `go_live` writes one outbox row
per subscription of each follower (`key` unique: a second announcement of the same show adds
nothing) and the `Pusher` claims due rows, posts them to the push services with pywebpush
and marks each sent the moment the service accepted it. A restart loses nothing (unsent rows
wait in the database) and a graceful stop finishes the pushes in flight and hands the rest
back, so nothing is pushed twice. A 404/410 from a push service means the browser dropped the
subscription: it is deleted. One subscription gets at most `push_rate_per_hour` pushes an
hour; 429s, 5xxs and unreachable services are retried with a growing wait.

The VAPID private key lives in a PEM file (the data dir's `vapid-key.pem`, made at first
start, readable by its owner only); it is never logged. Browsers get the public key from
GET /push/vapid-public-key.
"""

import base64
import binascii
import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import aiohttp
from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter, HTTPException, Query, Response
from py_vapid import Vapid02
from py_vapid.utils import b64urlencode
from pydantic import BaseModel, field_validator
from pywebpush import WebPushException, webpush_async
from sqlalchemy import delete, select, update

from backend.auth import CurrentAddress, ServicesDep
from backend.config import BackendConfig
from backend.errors import error_responses
from backend.mail import artist_name, insert_once
from backend.models import Follow, PushOutboxRow, PushSubscription, StreamRow
from backend.outbox import Outage, OutboxSender
from backend.public_resolver import NotPublic, endpoint_problem, public_connector
from backend.services import Services, services_of
from backend.streams.keys import _write_private
from backend.wire import Wire

log = logging.getLogger(__name__)

KEY_FILE = "vapid-key.pem"
LANES = 4  # pushes in flight at once
PUSH_TTL_S = 15 * 60  # a push service keeps an undelivered "is live" this long
SEND_TIMEOUT = aiohttp.ClientTimeout(total=15)


# -- the VAPID key --------------------------------------------------------------------------


def vapid_key_path(config: BackendConfig) -> Path:
    return config.vapid_key_file or Path(config.data_dir) / KEY_FILE


@cache
def _vapid_for(path: Path) -> Vapid02:
    if not path.exists():
        key = Vapid02()
        key.generate_keys()
        _write_private(path, key.private_pem().decode())
        log.info("made a new VAPID key in %s", path)
    try:
        return Vapid02.from_file(str(path))
    except Exception:
        raise ValueError(f"{path} does not hold a VAPID private key (an EC P-256 PEM)") from None


def vapid_key(config: BackendConfig) -> Vapid02:
    return _vapid_for(vapid_key_path(config))


def vapid_public_key(config: BackendConfig) -> str:
    """The applicationServerKey browsers subscribe with: the uncompressed point, base64url."""
    raw = vapid_key(config).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64urlencode(raw)


def vapid_subject(config: BackendConfig) -> str:
    if config.vapid_subject:
        return config.vapid_subject
    return f"mailto:{parseaddr(config.mail_from)[1] or 'no-reply@localhost'}"


# -- enqueueing -----------------------------------------------------------------------------


async def go_live(target: Any, *, artist: str, stream_id: str, title: str) -> int:
    """Each subscribed browser of each follower of `artist` gets "<artist> is live", once
    per show. How many pushes were queued."""
    services = services_of(target)
    async with services.sessions() as session:
        subscriptions = list(
            (
                await session.execute(
                    select(PushSubscription.id)
                    .join(Follow, Follow.follower == PushSubscription.address)
                    .where(Follow.artist == artist)
                )
            ).scalars()
        )
    if not subscriptions:
        return 0
    name = await artist_name(services, artist)
    payload = json.dumps(
        {
            "title": f"{name} is live",
            "body": title,
            "url": f"{services.config.link_base()}/fan/?stream={stream_id}",
            "tag": f"live-{stream_id}",
        }
    )
    now = datetime.now(UTC)
    added = await insert_once(
        services,
        PushOutboxRow,
        [
            {
                "key": f"live:{stream_id}:{sub}",
                "subscription_id": sub,
                "ref": stream_id,
                "payload": payload,
                "status": "pending",
                "not_before": now,
                "attempts": 0,
                "created_at": now,
            }
            for sub in subscriptions
        ],
    )
    if services.pusher is not None:
        services.pusher.wake()
    return added


# -- sending --------------------------------------------------------------------------------


class Pusher(OutboxSender):
    """Sends the push outbox: claims due rows, posts them to the push services, records each."""

    what = "push outbox"

    def __init__(self, services: Services) -> None:
        super().__init__(services, PushOutboxRow, services.config.push_lease_s)
        self._http: aiohttp.ClientSession | None = None
        self.sent = 0
        self.gone = 0

    def start(self) -> None:
        vapid_key(self.config)  # made now, at first start, not on the first push
        super().start()

    async def _run(self) -> None:
        connector = public_connector(_loopback_ok(self.config))  # never an internal address
        async with aiohttp.ClientSession(timeout=SEND_TIMEOUT, connector=connector) as self._http:
            await super()._run()

    async def _round(self) -> bool:
        claim, rows = await self._claim()
        if not rows:
            return False
        now = datetime.now(UTC)
        sub_ids = {row.subscription_id for row in rows}
        async with self.services.sessions() as session:
            subscriptions = {
                s.id: s
                for s in (
                    await session.execute(
                        select(PushSubscription).where(PushSubscription.id.in_(sub_ids))
                    )
                ).scalars()
            }
            recent = await self._sent_last_hour(
                session, PushOutboxRow.subscription_id, sub_ids, now
            )
            ended = set(
                (
                    await session.execute(
                        select(StreamRow.id).where(
                            StreamRow.id.in_({row.ref for row in rows}),
                            StreamRow.ended_at.is_not(None),
                        )
                    )
                ).scalars()
            )
        cancelled: dict[str, list[int]] = {}
        deferred: dict[datetime, list[int]] = {}
        sendable: list[tuple[PushOutboxRow, PushSubscription]] = []
        taken: Counter[int] = Counter()
        for row in rows:
            subscription = subscriptions.get(row.subscription_id)
            if subscription is None:
                cancelled.setdefault("unsubscribed", []).append(row.id)
                continue
            if row.ref in ended:
                cancelled.setdefault("the show ended", []).append(row.id)
                continue
            count, oldest = recent.get(row.subscription_id, (0, None))
            if count + taken[row.subscription_id] >= self.config.push_rate_per_hour:
                deferred.setdefault((oldest or now) + timedelta(hours=1), []).append(row.id)
                continue
            taken[row.subscription_id] += 1
            sendable.append((row, subscription))
        for reason, ids in cancelled.items():
            await self._set(ids, claim, status="cancelled", claim=None, error=reason)
        for later, ids in deferred.items():
            await self._release(ids, claim, later)
        if not sendable:
            return True
        return await self._send_in_lanes(
            sendable, claim, LANES, self._send_lane, self.config.push_retry_max_s
        )

    async def _send_lane(
        self, lane: list[tuple[PushOutboxRow, PushSubscription]], claim: str
    ) -> None:
        for row, subscription in lane:
            if self._stopping or not await self._hold(claim):
                return
            await self._send_one(row, subscription, claim)

    async def _send_one(
        self, row: PushOutboxRow, subscription: PushSubscription, claim: str
    ) -> None:
        where = urlsplit(subscription.endpoint).netloc
        problem = endpoint_problem(subscription.endpoint, _loopback_ok(self.config))
        if problem is not None:  # stored before these checks, or by hand
            await self._refuse(row, subscription, claim, f"not a push service: {problem}")
            return
        try:
            await webpush_async(
                {
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth},
                },
                data=row.payload,
                vapid_private_key=vapid_key(self.config),
                vapid_claims={"sub": vapid_subject(self.config)},  # aud and exp: pywebpush's
                ttl=PUSH_TTL_S,
                headers={"Urgency": "high"},
                timeout=SEND_TIMEOUT,
                aiohttp_session=self._http,
            )
        except WebPushException as exc:
            status = exc.status_code
            if status in (404, 410):
                await self._gone(row, subscription, claim, status)
            elif status is None or status == 429 or status >= 500:
                raise Outage(f"{where} answered {status}") from None
            else:
                await self._set(
                    [row.id], claim, status="failed", claim=None, error=f"{where} answered {status}"
                )
            row.status = "failed"
            return
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, NotPublic):
                await self._refuse(row, subscription, claim, f"not a push service: {exc.os_error}")
                return
            raise Outage(f"{where}: {type(exc).__name__} {exc}") from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise Outage(f"{where}: {type(exc).__name__} {exc}") from None
        # Accepted: record it before anything else, so a stop right now cannot repeat it.
        await self._set([row.id], claim, status="sent", claim=None, sent_at=datetime.now(UTC))
        row.status = "sent"
        self.sent += 1

    async def _gone(
        self, row: PushOutboxRow, subscription: PushSubscription, claim: str, status: int
    ) -> None:
        await self._drop(row, subscription, claim, "gone", f"push service answered {status}")
        self.gone += 1

    async def _refuse(
        self, row: PushOutboxRow, subscription: PushSubscription, claim: str, why: str
    ) -> None:
        log.warning("push subscription %s dropped: %s", subscription.id, why)
        await self._drop(row, subscription, claim, "failed", why)
        row.status = "failed"

    async def _drop(
        self,
        row: PushOutboxRow,
        subscription: PushSubscription,
        claim: str,
        status: str,
        why: str,
    ) -> None:
        """Record `row` as `status` and delete the subscription (nothing more goes there)."""
        async with self.services.sessions.begin() as session:
            await session.execute(
                update(PushOutboxRow)
                .where(PushOutboxRow.id == row.id, PushOutboxRow.claim == claim)
                .values(status=status, claim=None, error=why)
            )
            await session.execute(
                delete(PushSubscription).where(PushSubscription.id == subscription.id)
            )


def _loopback_ok(config: BackendConfig) -> bool:
    """Plain http:// push endpoints on this machine: the local backend's and the tests'."""
    return config.local or config.push_allow_http_loopback


def start_pusher(services: Services) -> Pusher:
    services.pusher = Pusher(services)
    services.pusher.start()
    return services.pusher


# -- HTTP -----------------------------------------------------------------------------------

router = APIRouter(tags=["web push"])

P256DH_BYTES = 65  # an uncompressed P-256 point
AUTH_BYTES = 16


def _b64url(value: str, size: int, what: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size or (size == P256DH_BYTES and raw[0] != 4):
        raise ValueError(f"{what} is not {size} bytes in base64url, as PushManager gives it")
    return value.rstrip("=")


class PushKeys(Wire):
    p256dh: str
    auth: str

    @field_validator("p256dh")
    @classmethod
    def _p256dh(cls, value: str) -> str:
        return _b64url(value, P256DH_BYTES, "keys.p256dh")

    @field_validator("auth")
    @classmethod
    def _auth(cls, value: str) -> str:
        return _b64url(value, AUTH_BYTES, "keys.auth")


class PushSubscriptionIn(Wire):
    """PushSubscription.toJSON() of the browser."""

    endpoint: str
    keys: PushKeys
    expirationTime: int | float | None = None  # the browser's name for it


class PushSubscriptionOut(BaseModel):
    id: int
    endpoint: str


class VapidKeyOut(BaseModel):
    public_key: str  # applicationServerKey for PushManager.subscribe, base64url


def _checked_endpoint(config: BackendConfig, endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if len(endpoint) > 1024 or not parts.hostname:
        raise HTTPException(422, "endpoint is not a push service URL")
    problem = endpoint_problem(endpoint, _loopback_ok(config))
    if problem is not None:
        raise HTTPException(422, f"endpoint is not a push service's: {problem}")
    return endpoint


@router.get("/push/vapid-public-key", summary="The key browsers subscribe to pushes with")
async def get_vapid_public_key(services: ServicesDep) -> VapidKeyOut:
    return VapidKeyOut(public_key=vapid_public_key(services.config))


@router.post(
    "/me/push-subscriptions",
    summary="Have this browser pushed when an artist you follow goes live",
    status_code=201,
    responses=error_responses(401),
)
async def add_subscription(
    body: PushSubscriptionIn, caller: CurrentAddress, services: ServicesDep
) -> PushSubscriptionOut:
    endpoint = _checked_endpoint(services.config, body.endpoint)
    async with services.sessions.begin() as session:
        row = (
            await session.execute(
                select(PushSubscription).where(PushSubscription.endpoint == endpoint)
            )
        ).scalar_one_or_none()
        if row is None:
            row = PushSubscription(endpoint=endpoint)
            session.add(row)
        # the same browser signed in as someone else now, or with new keys: the latest wins
        row.address, row.p256dh, row.auth = caller, body.keys.p256dh, body.keys.auth
        row.created_at = datetime.now(UTC)
        await session.flush()
        return PushSubscriptionOut(id=row.id, endpoint=row.endpoint)


EndpointParam = Annotated[str, Query(max_length=1024)]


@router.delete(
    "/me/push-subscriptions",
    summary="Stop pushes to this browser",
    status_code=204,
    responses=error_responses(401, 404),
)
async def remove_subscription(
    endpoint: EndpointParam, caller: CurrentAddress, services: ServicesDep
) -> Response:
    async with services.sessions.begin() as session:
        removed = await session.execute(
            delete(PushSubscription).where(
                PushSubscription.endpoint == endpoint, PushSubscription.address == caller
            )
        )
    if not removed.rowcount:
        raise HTTPException(404, "no such push subscription of yours")
    return Response(status_code=204)
