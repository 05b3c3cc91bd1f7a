"""Email notifications: followers hear "<artist> is live" and about new releases.

Nothing is sent from a request. `go_live` / `new_release` write one outbox row per recipient
(`key` unique: a second announcement of the same show or track adds nothing), and the
`Mailer` of each backend instance claims due rows, sends them over SMTP and marks each sent
the moment the server accepted it. So a restart or an SMTP outage loses nothing: unsent rows
stay in the database and are sent when the backend (or the server) is back. A graceful stop
finishes the message in flight and hands back the rest, so nothing is sent twice; a crash
(SIGKILL) can repeat at most the one message per connection whose acceptance it did not record.

Each mail carries a one-click unsubscribe (RFC 8058: List-Unsubscribe + List-Unsubscribe-Post,
an HMAC-signed link), one address gets at most `mail_rate_per_hour` mails an hour, and a
5xx refusal at RCPT counts as a bounce (`mail_bounce_limit` of them stop mail to the address).
"""

import base64
import hashlib
import hmac
import logging
import re
import secrets
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from email.utils import formatdate
from functools import cache
from html import escape
from pathlib import Path
from typing import Annotated, Any, Literal

import aiosmtplib
from eth_utils import to_checksum_address
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import field_validator
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.auth import CurrentAddress, ServicesDep
from backend.errors import error_responses
from backend.models import (
    Account,
    Follow,
    MailOutboxRow,
    MailPrefs,
    NotificationRow,
    StreamRow,
)
from backend.outbox import Outage, OutboxSender
from backend.services import Services, services_of
from backend.streams.keys import _write_private
from backend.wire import Wire

log = logging.getLogger(__name__)

MailList = Literal["live", "releases"]
LISTS: tuple[str, ...] = ("live", "releases", "digest")
LIST_NAMES = {
    "live": "shows going live",
    "releases": "new releases",
    "digest": "earnings digests",
    "all": "all emails",
}
_WHY = {
    "live": "You follow this artist and asked for shows going live",
    "releases": "You follow this artist and asked for new releases",
    "digest": "You asked for earnings digests",
}
Digest = Literal["off", "daily", "weekly"]
WEI_PER_COIN = Decimal(10**18)
DIGEST_CHECK_S = 60.0
KEY_FILE = "mail-key"
# A conservative address check: one @, a dotted domain, no spaces or angle brackets.
_EMAIL = re.compile(r"^[^@\s<>\"(),;:]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


# -- enqueueing -----------------------------------------------------------------------------


def _row(
    recipient: str, mail_list: str, ref: str, subject: str, body: str, not_before: datetime
) -> dict[str, Any]:
    return {
        "key": f"{mail_list}:{ref}:{recipient}",  # one mail per list, subject and recipient
        "recipient": recipient,
        "list": mail_list,
        "ref": ref,
        "subject": subject[:200],
        "body": body,
        "status": "pending",
        "not_before": not_before,
        "attempts": 0,
        "created_at": datetime.now(UTC),
    }


async def insert_once(services: Services, table: Any, values: list[dict[str, Any]]) -> int:
    """Add outbox rows to `table` (mail's or push's); a row whose key is there already adds
    nothing. How many were new."""
    if not values:
        return 0
    async with services.sessions.begin() as session:
        dialect_insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        return len(
            (
                await session.execute(
                    dialect_insert(table)
                    .on_conflict_do_nothing(index_elements=["key"])
                    .returning(table.id),
                    values,
                )
            ).all()
        )


async def _insert(services: Services, values: list[dict[str, Any]]) -> int:
    added = await insert_once(services, MailOutboxRow, values)
    if services.mailer is not None:
        services.mailer.wake()
    return added


async def _to_followers(
    services: Services,
    *,
    artist: str,
    mail_list: MailList,
    ref: str,
    subject: str,
    body: str,
    not_before: datetime,
) -> int:
    """One outbox row per follower of `artist` who wants `mail_list` by email."""
    if not services.config.smtp_host:
        return 0
    wants = MailPrefs.live if mail_list == "live" else MailPrefs.releases
    async with services.sessions() as session:
        recipients = list(
            (
                await session.execute(
                    select(MailPrefs.address)
                    .join(Follow, Follow.follower == MailPrefs.address)
                    .where(Follow.artist == artist, MailPrefs.email.is_not(None), wants)
                )
            ).scalars()
        )
    return await _insert(
        services, [_row(r, mail_list, ref, subject, body, not_before) for r in recipients]
    )


async def artist_name(services: Services, artist: str) -> str:
    async with services.sessions() as session:
        account = await session.get(Account, artist)
    return account.display_name if account else artist


async def go_live(target: Any, *, artist: str, stream_id: str, title: str) -> int:
    """Followers who asked for it get "<artist> is live", once per show, after the warning
    window (a show that ended by then mails nobody)."""
    services = services_of(target)
    name = await artist_name(services, artist)
    link = f"{services.config.link_base()}/fan/?stream={stream_id}"
    return await _to_followers(
        services,
        artist=artist,
        mail_list="live",
        ref=stream_id,
        subject=f"{name} is live: {title}",
        body=f"{name} just went live: {title}\n\nWatch: {link}\n",
        not_before=datetime.now(UTC) + timedelta(seconds=services.config.golive_mail_delay_s),
    )


async def new_release(target: Any, *, artist: str, track_id: int, title: str) -> int:
    services = services_of(target)
    name = await artist_name(services, artist)
    link = f"{services.config.link_base()}/fan/?artist={artist}"
    return await _to_followers(
        services,
        artist=artist,
        mail_list="releases",
        ref=str(track_id),
        subject=f"New from {name}: {title}",
        body=f"{name} released a new track: {title}\n\nListen: {link}\n",
        not_before=datetime.now(UTC),
    )


def digest_period(kind: str, now: datetime) -> tuple[datetime, datetime]:
    """The last whole period before `now` (UTC): yesterday, or last week (Monday to Monday)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "daily":
        return today - timedelta(days=1), today
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(days=7), monday


def _coins(wei: int) -> str:
    return f"{(Decimal(wei) / WEI_PER_COIN).normalize():f}"


async def enqueue_digests(target: Any, now: datetime | None = None) -> int:
    """Each artist who asked for a daily or weekly earnings digest gets one mail for the last
    whole period with tips in it. Safe to call any number of times, on any instance: the
    outbox key (period and artist) lets one mail through."""
    services = services_of(target)
    if not services.config.smtp_host:
        return 0
    now = now or datetime.now(UTC)
    values = []
    async with services.sessions() as session:
        wanting = list(
            (
                await session.execute(
                    select(MailPrefs).where(MailPrefs.digest != "off", MailPrefs.email.is_not(None))
                )
            ).scalars()
        )
        for prefs in wanting:
            start, end = digest_period(prefs.digest, now)
            received = [
                data
                for data in (
                    await session.execute(
                        select(NotificationRow.data).where(
                            NotificationRow.recipient == prefs.address,
                            NotificationRow.kind == "tip_received",
                            NotificationRow.created_at >= start,
                            NotificationRow.created_at < end,
                        )
                    )
                ).scalars()
                # followers hear of tips too: only the artist's own count here
                if data.get("artist") == prefs.address
            ]
            if not received:
                continue
            total = sum(int(data.get("amount_wei", 0)) for data in received)
            fans = len({data.get("fan") for data in received})
            period = f"{start:%Y-%m-%d}" if prefs.digest == "daily" else f"week of {start:%Y-%m-%d}"
            values.append(
                _row(
                    prefs.address,
                    "digest",
                    f"{prefs.digest}-{start:%Y-%m-%d}",
                    f"Your earnings, {period}: {_coins(total)} in tips",
                    f"{period}\n\nTips: {len(received)} from {fans} fans, {_coins(total)} "
                    "in total.\n\n(Sales and subscriptions are on your studio's dashboard.)\n",
                    now,
                )
            )
    return await _insert(services, values)


# -- unsubscribe tokens ---------------------------------------------------------------------


def _mail_key(services: Services) -> bytes:
    """The HMAC key of unsubscribe links: from the shared JWT secret when there is one (every
    instance agrees), else a random key kept in the data dir (links outlive restarts)."""
    return _key_for(services.config.jwt_secret, Path(services.config.data_dir))


@cache
def _key_for(jwt_secret: str | None, data_dir: Path) -> bytes:
    if jwt_secret:
        return hmac.new(jwt_secret.encode(), b"mail-unsubscribe", "sha256").digest()
    path = data_dir / KEY_FILE
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(32) + "\n")
    return path.read_text().strip().encode()


def unsubscribe_token(services: Services, address: str, mail_list: str) -> str:
    digest = hmac.new(_mail_key(services), f"{address}:{mail_list}".encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def unsubscribe_url(services: Services, address: str, mail_list: str) -> str:
    token = unsubscribe_token(services, address, mail_list)
    return f"{services.config.link_base()}/mail/unsubscribe?a={address}&l={mail_list}&t={token}"


# -- sending --------------------------------------------------------------------------------


def _wants(prefs: MailPrefs, mail_list: str) -> bool:
    if mail_list == "digest":
        return prefs.digest != "off"
    return bool(getattr(prefs, mail_list, False))


def _stop_list(prefs: MailPrefs, mail_list: str) -> None:
    if mail_list == "digest":
        prefs.digest = "off"
    else:
        setattr(prefs, mail_list, False)


class Mailer(OutboxSender):
    """Sends the outbox: claims due rows, sends them over a few SMTP connections, records each."""

    what = "mail outbox"

    def __init__(self, services: Services) -> None:
        super().__init__(services, MailOutboxRow, services.config.mail_lease_s)
        self._digests_checked = float("-inf")
        self.sent = 0
        self.bounced = 0

    async def _before_round(self) -> None:
        if time.monotonic() - self._digests_checked >= DIGEST_CHECK_S:
            self._digests_checked = time.monotonic()
            await enqueue_digests(self.services)

    def _own_work_in_s(self) -> float:
        return self._digests_checked + DIGEST_CHECK_S - time.monotonic()

    async def _round(self) -> bool:
        claim, rows = await self._claim()
        if not rows:
            return False
        now = datetime.now(UTC)
        recipients = {row.recipient for row in rows}
        async with self.services.sessions() as session:
            prefs = {
                p.address: p
                for p in (
                    await session.execute(
                        select(MailPrefs).where(MailPrefs.address.in_(recipients))
                    )
                ).scalars()
            }
            recent = await self._sent_last_hour(session, MailOutboxRow.recipient, recipients, now)
            stream_ids = {row.ref for row in rows if row.list == "live"}
            ended = set(
                (
                    await session.execute(
                        select(StreamRow.id).where(
                            StreamRow.id.in_(stream_ids), StreamRow.ended_at.is_not(None)
                        )
                    )
                ).scalars()
            )
        cancelled: dict[str, list[int]] = {}
        deferred: dict[datetime, list[int]] = {}
        sendable: list[tuple[MailOutboxRow, str]] = []
        taken: Counter[str] = Counter()
        for row in rows:
            pref = prefs.get(row.recipient)
            reason = None
            if pref is None or not pref.email or not _wants(pref, row.list):
                reason = "unsubscribed"
            elif pref.bounces >= self.config.mail_bounce_limit:
                reason = "address bounced"
            elif row.list == "live" and row.ref in ended:
                reason = "the show ended"
            if reason:
                cancelled.setdefault(reason, []).append(row.id)
                continue
            count, oldest = recent.get(row.recipient, (0, None))
            if count + taken[row.recipient] >= self.config.mail_rate_per_hour:
                later = (oldest or now) + timedelta(hours=1)
                deferred.setdefault(later, []).append(row.id)
                continue
            taken[row.recipient] += 1
            assert pref is not None and pref.email is not None
            sendable.append((row, pref.email))
        for reason, ids in cancelled.items():
            await self._set(ids, claim, status="cancelled", claim=None, error=reason)
        for later, ids in deferred.items():
            await self._release(ids, claim, later)
        if not sendable:
            return True
        return await self._send_in_lanes(
            sendable,
            claim,
            self.config.mail_connections,
            self._send_lane,
            self.config.mail_retry_max_s,
        )

    def _smtp(self) -> aiosmtplib.SMTP:
        config = self.config
        return aiosmtplib.SMTP(
            hostname=config.smtp_host,
            port=config.smtp_port,
            use_tls=config.smtp_security == "tls",
            start_tls=config.smtp_security == "starttls",
            username=config.smtp_username,
            password=config.smtp_password,
            cert_bundle=str(config.smtp_ca_file) if config.smtp_ca_file else None,
            timeout=15,
        )

    async def _send_lane(self, lane: list[tuple[MailOutboxRow, str]], claim: str) -> None:
        smtp = self._smtp()
        try:
            await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise Outage(f"cannot send through the SMTP server ({exc})") from None
        try:
            for row, email in lane:
                if self._stopping or not await self._hold(claim):
                    return
                await self._send_one(smtp, row, email, claim)
        finally:
            if smtp.is_connected:
                try:
                    await smtp.quit()
                except (aiosmtplib.SMTPException, OSError):
                    smtp.close()

    async def _send_one(
        self, smtp: aiosmtplib.SMTP, row: MailOutboxRow, email: str, claim: str
    ) -> None:
        message = self._message(row, email)
        try:
            await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients]
            if codes and all(code >= 500 for code in codes):
                await self._bounce(row, claim, f"refused {codes[0]}")
            else:  # 4xx: the server asks to try later
                await self._release([row.id], claim, datetime.now(UTC) + timedelta(minutes=5))
            row.status = "refused"
            return
        except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPConnectError, OSError) as exc:
            raise Outage(f"cannot send through the SMTP server ({exc})") from None
        except aiosmtplib.SMTPResponseException as exc:
            if exc.code >= 500:
                await self._set([row.id], claim, status="failed", claim=None, error=str(exc)[:200])
            else:
                await self._release([row.id], claim, datetime.now(UTC) + timedelta(minutes=5))
            row.status = "refused"
            return
        # Accepted: record it before anything else, so a stop right now cannot repeat it.
        await self._set(
            [row.id], claim, status="sent", claim=None, sent_at=datetime.now(UTC), error=None
        )
        row.status = "sent"
        self.sent += 1

    async def _bounce(self, row: MailOutboxRow, claim: str, error: str) -> None:
        async with self.services.sessions.begin() as session:
            await session.execute(
                update(MailOutboxRow)
                .where(MailOutboxRow.id == row.id, MailOutboxRow.claim == claim)
                .values(status="bounced", claim=None, error=error)
            )
            await session.execute(
                update(MailPrefs)
                .where(MailPrefs.address == row.recipient)
                .values(bounces=MailPrefs.bounces + 1)
            )
        self.bounced += 1

    def _message(self, row: MailOutboxRow, email: str) -> EmailMessage:
        url = unsubscribe_url(self.services, row.recipient, row.list)
        sender = self.config.mail_from
        domain = sender.rsplit("@", 1)[-1].strip("> ") or "localhost"
        message = EmailMessage()
        message["From"] = sender
        message["To"] = email
        message["Subject"] = row.subject
        message["Date"] = formatdate(usegmt=True)
        # The same mail keeps the same id on every attempt: a receiver can drop a repeat.
        message["Message-ID"] = f"<{hashlib.sha256(row.key.encode()).hexdigest()[:32]}@{domain}>"
        message["List-Unsubscribe"] = f"<{url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(
            f"{row.body}\n-- \n{_WHY[row.list]} by email.\nStop them with one click: {url}\n"
        )
        return message


def start_mailer(services: Services) -> Mailer | None:
    if not services.config.smtp_host:
        return None
    services.mailer = Mailer(services)
    services.mailer.start()
    return services.mailer


# -- HTTP -----------------------------------------------------------------------------------

router = APIRouter(tags=["email"])


class MailPrefsIn(Wire):
    email: str | None = None
    live: bool | None = None
    releases: bool | None = None
    digest: Digest | None = None  # artists: an earnings digest by email

    @field_validator("email")
    @classmethod
    def _valid_email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return value
        value = value.strip()
        if len(value) > 254 or not _EMAIL.match(value):
            raise ValueError("this is not an email address (name@example.org)")
        return value


class MailPrefsOut(Wire):
    email: str | None
    live: bool
    releases: bool
    digest: str
    bounces: int
    email_enabled: bool  # this backend has an SMTP server to send with


def _prefs_out(services: Services, prefs: MailPrefs | None) -> MailPrefsOut:
    return MailPrefsOut(
        email=prefs.email if prefs else None,
        live=prefs.live if prefs else True,
        releases=prefs.releases if prefs else True,
        digest=prefs.digest if prefs else "off",
        bounces=prefs.bounces if prefs else 0,
        email_enabled=bool(services.config.smtp_host),
    )


@router.get("/me/notifications", summary="Your email preferences", responses=error_responses(401))
async def get_mail_prefs(caller: CurrentAddress, services: ServicesDep) -> MailPrefsOut:
    async with services.sessions() as session:
        prefs = await session.get(MailPrefs, caller)
    return _prefs_out(services, prefs)


@router.patch(
    "/me/notifications",
    summary="Set your email address and which mails you want",
    responses=error_responses(401),
)
async def patch_mail_prefs(
    body: MailPrefsIn, caller: CurrentAddress, services: ServicesDep
) -> MailPrefsOut:
    async with services.sessions.begin() as session:
        prefs = await session.get(MailPrefs, caller)
        if prefs is None:
            prefs = MailPrefs(address=caller, live=True, releases=True, digest="off", bounces=0)
            session.add(prefs)
        if "email" in body.model_fields_set:
            new = body.email or None
            if new != prefs.email:
                prefs.bounces = 0  # a new address starts clean
            prefs.email = new
        if body.live is not None:
            prefs.live = body.live
        if body.releases is not None:
            prefs.releases = body.releases
        if body.digest is not None:
            prefs.digest = body.digest
        prefs.updated_at = datetime.now(UTC)
    return _prefs_out(services, prefs)


def _page(title: str, text: str, form_action: str | None = None) -> HTMLResponse:
    form = (
        f'<form method="post" action="{escape(form_action)}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>'
        if form_action
        else ""
    )
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{escape(title)}</title>"
        f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{form}"
    )


def _checked(services: Services, a: str, mail_list: str, t: str) -> str | None:
    try:
        address = to_checksum_address(a)
    except ValueError:
        return None
    if mail_list not in (*LISTS, "all"):
        return None
    expected = unsubscribe_token(services, address, mail_list)
    return address if hmac.compare_digest(expected, t) else None


UnsubscribeParam = Annotated[str, Query(max_length=100)]
ListParam = Annotated[str, Query(alias="l", max_length=16)]


@router.get("/mail/unsubscribe", summary="The unsubscribe page a mail links to")
async def unsubscribe_page(
    request: Request,
    a: UnsubscribeParam,
    mail_list: ListParam,
    t: UnsubscribeParam,
) -> HTMLResponse:
    # A GET changes nothing: mail scanners open links. The button POSTs (RFC 8058).
    services = services_of(request)
    if _checked(services, a, mail_list, t) is None:
        return _page("Link not valid", "This unsubscribe link is damaged or incomplete.")
    return _page(
        "Unsubscribe",
        f"Stop {LIST_NAMES[mail_list]} from HarmonieCORE to this address?",
        # relative: the page is reached through whatever proxy the mail's link named
        form_action=f"unsubscribe?{request.url.query}",
    )


@router.post("/mail/unsubscribe", summary="One-click unsubscribe (RFC 8058)")
async def unsubscribe(
    request: Request,
    a: UnsubscribeParam,
    mail_list: ListParam,
    t: UnsubscribeParam,
) -> HTMLResponse:
    services = services_of(request)
    address = _checked(services, a, mail_list, t)
    if address is None:
        return HTMLResponse(
            _page("Link not valid", "This unsubscribe link is damaged or incomplete.").body,
            status_code=400,
        )
    lists = LISTS if mail_list == "all" else (mail_list,)
    async with services.sessions.begin() as session:
        prefs = await session.get(MailPrefs, address)
        if prefs is not None:
            for name in lists:
                _stop_list(prefs, name)
            prefs.updated_at = datetime.now(UTC)
    return _page("Unsubscribed", f"You will get no more {LIST_NAMES[mail_list]} by email.")
