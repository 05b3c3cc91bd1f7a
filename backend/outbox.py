"""The sending side of a persistent outbox table, shared by email (backend.mail) and Web Push
(backend.web_push): each backend instance claims due rows under a lease (a conditional
update: of two instances picking the same rows only one claims each), sends them, records
each the moment it went out, and hands back what it did not get to. A lease that runs out
(an instance that died) makes its rows due again; on SQLite (one backend per file) whatever
a previous run claimed is unowned at start.

The table needs the columns of `backend.models.MailOutboxRow`: id, status (pending |
sending | ...), claim, lease_until, not_before, attempts. Subclasses write `_round`.
"""

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.services import Services

log = logging.getLogger(__name__)

BATCH = 200
# Idle, a sender sleeps until its earliest row falls due (a deferred row, a lease that runs
# out), an enqueue on this instance wakes it, and at most this long: another instance's rows
# are that instance's to send, this is only the safety net if it died between enqueueing
# and claiming.
IDLE_WAIT_MAX_S = 60.0
IDLE_WAIT_MIN_S = 0.05


class Outage(Exception):
    """The far end (SMTP server, push service) cannot be reached or asked to try later."""


Lane = Callable[[list[tuple[Any, Any]], str], Awaitable[None]]


class OutboxSender:
    """Claims due rows of `table` and lets `_round` send them; a graceful stop finishes the
    rows in flight and hands the rest of the claim back."""

    what = "outbox"  # in logs and the task's name

    def __init__(self, services: Services, table: Any, lease_s: float) -> None:
        self.services = services
        self.config = services.config
        self.table = table
        self.lease_s = lease_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._backoff_s = 0.0
        self._renewed_at = 0.0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.what)

    def wake(self) -> None:
        self._wake.set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def stop(self) -> None:
        """Finish what is in flight, record it, hand the rest of the claim back."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def _before_round(self) -> None:
        """Work to do before each round (e.g. enqueueing digests)."""

    def _own_work_in_s(self) -> float:
        """Seconds until `_before_round` has work again (inf: none of its own)."""
        return float("inf")

    async def _round(self) -> bool:
        """Claim and send one batch; False when there was nothing to do or it must wait."""
        raise NotImplementedError

    async def _run(self) -> None:
        if self.services.engine.dialect.name == "sqlite":
            # One backend per SQLite file: whatever a previous run claimed is unowned now.
            async with self.services.sessions.begin() as session:
                await session.execute(
                    update(self.table)
                    .where(self.table.status == "sending")
                    .values(status="pending", claim=None, lease_until=None)
                )
        while not self._stopping:
            try:
                await self._before_round()
                worked = await self._round()
            except Exception:
                log.exception("the %s could not be processed; trying again", self.what)
                worked = False
            if worked and not self._stopping:
                continue
            self._wake.clear()  # before looking: an enqueue from now on cuts the wait short
            try:
                wait_s = self._backoff_s or await self._idle_wait_s()
            except Exception:
                log.exception("the %s could not look for its next row", self.what)
                wait_s = IDLE_WAIT_MIN_S * 20
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait_s)

    async def _idle_wait_s(self) -> float:
        """Until the earliest row falls due or `_before_round` has work, within bounds."""
        table = self.table
        async with self.services.sessions() as session:
            pending, leased = (
                await session.execute(
                    select(
                        func.min(table.not_before).filter(table.status == "pending"),
                        func.min(table.lease_until).filter(table.status == "sending"),
                    )
                )
            ).one()
        wait = min(IDLE_WAIT_MAX_S, self._own_work_in_s())
        now = datetime.now(UTC)
        for due in (pending, leased):
            if due is not None:
                due = due if due.tzinfo else due.replace(tzinfo=UTC)  # SQLite drops the zone
                wait = min(wait, (due - now).total_seconds())
        return max(IDLE_WAIT_MIN_S, wait)

    def _back_off(self, longest_s: float) -> float:
        """The next wait while the far end is out of reach: doubling, up to `longest_s`."""
        self._backoff_s = min(max(1.0, self._backoff_s * 2), max(1.0, longest_s))
        return self._backoff_s

    async def _claim(self) -> tuple[str, list[Any]]:
        table = self.table
        claim = secrets.token_hex(8)
        now = datetime.now(UTC)
        due = or_(
            (table.status == "pending") & (table.not_before <= now),
            (table.status == "sending") & (table.lease_until < now),
        )
        async with self.services.sessions.begin() as session:
            ids = list(
                (
                    await session.execute(
                        select(table.id).where(due).order_by(table.id).limit(BATCH)
                    )
                ).scalars()
            )
            if not ids:
                return claim, []
            # Conditional: of two instances picking the same rows, only one claims each.
            await session.execute(
                update(table)
                .where(table.id.in_(ids), due)
                .values(
                    status="sending",
                    claim=claim,
                    lease_until=now + timedelta(seconds=self.lease_s),
                    attempts=table.attempts + 1,
                )
            )
        self._renewed_at = time.monotonic()
        async with self.services.sessions() as session:
            rows = list(
                (
                    await session.execute(
                        select(table).where(table.claim == claim).order_by(table.id)
                    )
                ).scalars()
            )
        return claim, rows

    async def _set(self, row_ids: Sequence[int], owner: str, **values: Any) -> None:
        """Update rows this round still holds (`owner`: its claim). Core, not ORM: one of these
        runs per row sent."""
        if not row_ids:
            return
        async with self.services.engine.begin() as connection:
            await connection.execute(
                update(self.table)
                .where(self.table.id.in_(row_ids), self.table.claim == owner)
                .values(**values)
            )

    async def _release(self, row_ids: Sequence[int], claim: str, not_before: datetime) -> None:
        await self._set(
            row_ids, claim, status="pending", claim=None, lease_until=None, not_before=not_before
        )

    async def _hold(self, claim: str) -> bool:
        """Keep this round's claim: its lease is renewed well before it runs out, so another
        instance never takes rows still being sent. False when it ran out anyway (then
        they are another's to send)."""
        now = time.monotonic()
        if now - self._renewed_at < self.lease_s / 3:
            return True
        self._renewed_at = now
        table = self.table
        async with self.services.engine.begin() as connection:
            held = await connection.execute(
                update(table)
                .where(
                    table.claim == claim,
                    table.status == "sending",
                    table.lease_until > datetime.now(UTC),
                )
                .values(lease_until=datetime.now(UTC) + timedelta(seconds=self.lease_s))
            )
        return bool(held.rowcount)

    async def _sent_last_hour(
        self, session: AsyncSession, column: Any, keys: set[Any], now: datetime
    ) -> dict[Any, tuple[int, datetime | None]]:
        """Per recipient (`column`: the table's recipient column): rows sent in the last hour,
        and when the oldest of them went (for a per-recipient hourly limit)."""
        table = self.table
        return {
            key: (count, oldest)
            for key, count, oldest in (
                await session.execute(
                    select(column, func.count(), func.min(table.sent_at))
                    .where(column.in_(keys), table.sent_at > now - timedelta(hours=1))
                    .group_by(column)
                )
            ).all()
        }

    async def _send_in_lanes(
        self,
        sendable: list[tuple[Any, Any]],
        claim: str,
        lanes: int,
        send_lane: Lane,
        longest_wait_s: float,
    ) -> bool:
        """Send (row, recipient) pairs over `lanes` lanes at once. Rows a lane left "sending"
        (stopped, or behind an Outage) are handed back: at once, or after a growing wait when
        the far end was out of reach (then False)."""
        lanes = max(1, min(lanes, len(sendable)))
        outcomes = await asyncio.gather(
            *(send_lane(sendable[i::lanes], claim) for i in range(lanes)),
            return_exceptions=True,
        )
        unsent = [row.id for row, _ in sendable if row.status == "sending"]
        outage = next((o for o in outcomes if isinstance(o, Outage)), None)
        if outage is not None:
            self._back_off(longest_wait_s)
            log.warning("%s: %s; retrying in %.0f s", self.what, outage, self._backoff_s)
            await self._release(
                unsent, claim, datetime.now(UTC) + timedelta(seconds=self._backoff_s)
            )
            return False
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                log.error("%s: sending failed: %s", self.what, outcome)
        self._backoff_s = 0.0
        await self._release(unsent, claim, datetime.now(UTC))  # stopped before their turn
        return True
