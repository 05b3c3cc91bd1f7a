"""One queue for every alert: tips, new followers, subscriptions and any later event kind.

Alerts play one at a time, in the order they arrived, each for its duration; the sinks (tray,
feed, sound, speech, the on-stream box, the OBS page) are called when an alert plays, through
`played`, and `finished` when it ends. Skip ends the playing alert now; pause lets the playing
alert finish and starts no other until resumed; mute keeps alerts playing but silent (sinks
read `QueuedAlert.muted`). With a moderation delay each alert waits that long before it can
play, and `drop()` removes it meanwhile.

The queue is a SQLite file beside the tip store, so a restart of the studio shows nothing
twice and loses nothing: an alert is marked playing (committed) before any sink is called, and
an alert found playing at start-up counts as shown. Pause and mute survive a restart too.
"""

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from studio.logs import event
from studio.signals import Signal
from studio.tips.alert_rules import AlertLook, AlertRules, mask_blocked
from studio.tips.alerts import TipAlert
from studio.tips.format import clean_text, truncate
from studio.tips.store import TIP, AlertRecord

log = logging.getLogger(__name__)

QUEUE_DB = "alert_queue.sqlite3"
FOLLOWER = "follower"

WAITING = "waiting"
PLAYING = "playing"
DONE = "done"
SKIPPED = "skipped"
DROPPED = "dropped"
MESSAGE_CHARS = 300

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    release_at REAL NOT NULL,
    alert TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_queue_state ON queue (state, id);
CREATE TABLE IF NOT EXISTS queue_flags (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class QueuedAlert:
    """An alert as it plays: every sink renders these fields and nothing else."""

    kind: str
    key: str
    text: str  # the tier's template, filled in
    message: str  # the fan's message: plain, blocked words starred; "" below the minimum
    speech: str | None  # what text-to-speech may say (None: nothing)
    tier: str
    look: AlertLook
    amount_wei: int | None = None
    fan: str = ""
    fiat: str = ""
    tip: dict[str, Any] | None = None  # a tip's AlertRecord fields + symbol, for tray and feed
    id: int = 0
    release_at: float = 0.0
    muted: bool = False

    @property
    def duration_s(self) -> float:
        return self.look.duration_s

    def tip_alert(self) -> TipAlert | None:
        if self.tip is None:
            return None
        data = dict(self.tip)
        symbol, fiat = data.pop("symbol"), data.pop("fiat", None)
        return TipAlert(record=AlertRecord(**data), symbol=symbol, fiat=fiat)

    def to_json(self) -> str:
        data = asdict(self)
        for name in ("id", "release_at", "muted"):
            data.pop(name)
        return json.dumps(data)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "QueuedAlert":
        data = json.loads(row["alert"])
        data["look"] = AlertLook(**data["look"])
        return cls(**data, id=row["id"], release_at=row["release_at"])

    def public(self) -> dict[str, Any]:
        """What the OBS page gets: display fields only (no file paths, no addresses)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "message": self.message,
            "tier": self.tier,
            "duration_ms": int(self.look.duration_s * 1000),
            "image": bool(self.look.image),
            "sound": bool(self.look.sound) and not self.muted,
            "volume": self.look.volume,
        }


def speech_for(
    message: str, rules: AlertRules, amount_wei: int | None, blocked: bool
) -> str | None:
    from studio.tips.speech import speakable

    tts = rules.tts
    if not tts.enabled or blocked or amount_wei is None or amount_wei < tts.min_wei:
        return None
    return speakable(message, tts.max_chars)


class AlertQueue:
    """Signals: `played(QueuedAlert)`, `finished(QueuedAlert, how)` (how: done, skipped),
    `quiet(QueuedAlert)` for a tip under the alert minimum (the feed lists it, nothing plays),
    `changed()` whenever paused, muted, held or the playing alert changes."""

    def __init__(
        self,
        path: Path,
        rules: AlertRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.rules = rules or AlertRules()
        self.clock = clock
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        # an alert that was playing when the studio stopped has been shown: never again
        self._db.execute("UPDATE queue SET state = ? WHERE state = ?", (DONE, PLAYING))
        self.played = Signal()
        self.finished = Signal()
        self.quiet = Signal()
        self.changed = Signal()
        self.current: QueuedAlert | None = None
        self.held: QueuedAlert | None = None
        self.paused = self._flag("paused") == "1"
        self.muted = self._flag("muted") == "1"
        self.waiting_count = self._count_waiting()
        self._wake = asyncio.Event()
        self._skip = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._shows: Any = None

    # -- flags --------------------------------------------------------------------------------

    def _flag(self, name: str, default: str = "") -> str:
        row = self._db.execute("SELECT value FROM queue_flags WHERE name = ?", (name,)).fetchone()
        return row["value"] if row else default

    def _set_flag(self, name: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO queue_flags (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def set_paused(self, paused: bool) -> None:
        self._set_flag("paused", "1" if paused else "0")
        self.paused = paused
        self._poke()
        event(log, "alert_queue_paused" if paused else "alert_queue_resumed")
        self._changed()

    def set_muted(self, muted: bool) -> None:
        self._set_flag("muted", "1" if muted else "0")
        self.muted = muted
        self._changed()

    def toggle_pause(self) -> bool:
        self.set_paused(not self.paused)
        return self.paused

    def toggle_mute(self) -> bool:
        self.set_muted(not self.muted)
        return self.muted

    # -- shows (for the "largest tip of this show" tier) --------------------------------------

    def begin_show(self) -> None:
        """A new show starts: the largest tip so far is forgotten."""
        self._set_flag("show_largest_wei", "")

    def follow_shows(self, session: Any) -> None:
        """Begin a show each time a `studio.live.session.LiveSession` starts one."""
        self._shows = session
        session.state_changed.connect(self._on_live_state)

    def _on_live_state(self, session: Any) -> None:
        if getattr(session, "state", None) == "starting":
            self.begin_show()

    def _largest_of_show(self, wei: int) -> bool:
        previous = self._flag("show_largest_wei")
        if previous and wei <= int(previous):
            return False
        self._set_flag("show_largest_wei", str(wei))
        return bool(previous)  # the first tip of a show beats nothing

    # -- arrivals -----------------------------------------------------------------------------

    def offer_tip(self, alert: TipAlert) -> QueuedAlert | None:
        """Queue a tip by the rules; None if it was queued before or is under the minimum."""
        record, rules = alert.record, self.rules
        message = clean_text(alert.message, keep_newlines=False)
        message, blocked = mask_blocked(message, rules.blocked_words)
        shown_message = "" if record.amount_wei < rules.message_min_wei else message
        shown_message = truncate(shown_message, MESSAGE_CHARS)
        kind = record.kind  # a sale or a subscription plays like a tip, in its own words
        key = f"{kind}:{record.tx_hash}:{record.log_index}"
        tip = {**asdict(record), "symbol": alert.symbol, "fiat": alert.fiat}
        if record.amount_wei < rules.min_wei:
            quiet = QueuedAlert(
                kind=kind,
                key=key,
                text=alert.feed_text,
                message=shown_message,
                speech=None,
                tier="quiet",
                look=AlertLook(),
                amount_wei=record.amount_wei,
                fan=alert.fan_label,
                fiat=alert.fiat or "",
                tip=tip,
            )
            self.quiet.emit(quiet)
            return None
        if self._known(key):
            return None
        tier, look = rules.look_for(record.amount_wei, self._largest_of_show(record.amount_wei))
        values = {
            "fan": alert.fan_label,
            "amount": alert.amount_text,
            "fiat": alert.fiat or "",
            "message": shown_message,
        }
        text = look.render(values) if kind == TIP else alert.headline
        queued = QueuedAlert(
            kind=kind,
            key=key,
            text=clean_text(text, keep_newlines=False),
            message=shown_message,
            # only a fan's own words are spoken (a sale's "message" is the studio's)
            speech=speech_for(shown_message, rules, record.amount_wei, blocked)
            if kind == TIP
            else None,
            tier=tier,
            look=look,
            amount_wei=record.amount_wei,
            fan=alert.fan_label,
            fiat=alert.fiat or "",
            tip=tip,
        )
        return self._enqueue(queued)

    def offer_event(self, kind: str, key: str, text: str, fan: str = "") -> QueuedAlert | None:
        """Any other event (a new follower, a subscription): `key` names it once, forever."""
        full_key = f"{kind}:{key}"
        if self._known(full_key):
            return None
        look = self.rules.default_look
        queued = QueuedAlert(
            kind=kind,
            key=full_key,
            text=truncate(clean_text(text, keep_newlines=False), MESSAGE_CHARS),
            message="",
            speech=None,
            tier="default",
            look=look,
            fan=fan,
        )
        return self._enqueue(queued)

    def _known(self, key: str) -> bool:
        return self._db.execute("SELECT 1 FROM queue WHERE key = ?", (key,)).fetchone() is not None

    def _enqueue(self, queued: QueuedAlert) -> QueuedAlert | None:
        now = self.clock()
        release = now + self.rules.moderation_delay_s
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO queue (key, kind, state, enqueued_at, release_at, alert) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (queued.key, queued.kind, WAITING, now, release, queued.to_json()),
        )
        if cursor.rowcount == 0:
            return None
        queued = replace(queued, id=int(cursor.lastrowid or 0), release_at=release)
        event(log, "alert_queued", id=queued.id, kind=queued.kind, tier=queued.tier)
        self._poke()
        self._changed()
        return queued

    # -- controls -----------------------------------------------------------------------------

    def skip(self) -> bool:
        """End the playing alert now; True if one was playing."""
        if self.current is None:
            return False
        self._skip.set()
        return True

    def drop(self, alert_id: int | None = None) -> bool:
        """Remove a waiting alert (by default the one held for moderation); True if dropped."""
        if alert_id is None:
            if self.held is None:
                return False
            alert_id = self.held.id
        cursor = self._db.execute(
            "UPDATE queue SET state = ? WHERE id = ? AND state = ?", (DROPPED, alert_id, WAITING)
        )
        if cursor.rowcount == 0:
            return False
        event(log, "alert_dropped", id=alert_id)
        if self.held is not None and self.held.id == alert_id:
            self.held = None
        self._poke()
        self._changed()
        return True

    def waiting(self) -> list[QueuedAlert]:
        rows = self._db.execute(
            "SELECT * FROM queue WHERE state = ? ORDER BY id", (WAITING,)
        ).fetchall()
        return [QueuedAlert.from_row(r) for r in rows]

    def alert(self, alert_id: int) -> QueuedAlert | None:
        row = self._db.execute("SELECT * FROM queue WHERE id = ?", (alert_id,)).fetchone()
        return QueuedAlert.from_row(row) if row else None

    def state_of(self, alert_id: int) -> str | None:
        row = self._db.execute("SELECT state FROM queue WHERE id = ?", (alert_id,)).fetchone()
        return row["state"] if row else None

    # -- playing ------------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def close(self) -> None:
        if self._shows is not None:
            self._shows.state_changed.disconnect(self._on_live_state)
            self._shows = None
        self._db.close()

    def _poke(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._wake.set()
        else:
            loop.call_soon_threadsafe(self._wake.set)

    def _count_waiting(self) -> int:
        row = self._db.execute("SELECT COUNT(*) FROM queue WHERE state = ?", (WAITING,)).fetchone()
        return int(row[0])

    def _changed(self) -> None:
        self.waiting_count = self._count_waiting()
        self.changed.emit()

    def _next(self) -> QueuedAlert | None:
        row = self._db.execute(
            "SELECT * FROM queue WHERE state = ? ORDER BY id LIMIT 1", (WAITING,)
        ).fetchone()
        return QueuedAlert.from_row(row) if row else None

    async def _sleep(self, event_: asyncio.Event, seconds: float | None) -> None:
        """Until `event_` is set or `seconds` pass. Not wait_for: on Python 3.11 it swallows a
        cancellation that arrives as the event is set, and stop() would then wait forever."""
        waiter = asyncio.ensure_future(event_.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            head = None if self.paused else self._next()
            if head is None:
                await self._sleep(self._wake, None)
                continue
            wait = head.release_at - self.clock()
            if wait > 0:
                if self.held is None or self.held.id != head.id:
                    self.held = head
                    event(log, "alert_held", id=head.id, seconds=round(wait, 3))
                    self._changed()
                await self._sleep(self._wake, wait)
                continue
            self.held = None
            await self._play(head)

    async def _play(self, alert: QueuedAlert) -> None:
        cursor = self._db.execute(
            "UPDATE queue SET state = ? WHERE id = ? AND state = ?", (PLAYING, alert.id, WAITING)
        )
        if cursor.rowcount == 0:  # dropped meanwhile
            return
        alert = replace(alert, muted=self.muted)
        self.current = alert
        self._skip.clear()
        event(log, "alert_played", id=alert.id, kind=alert.kind, key=alert.key, at=time.time())
        self._changed()
        self.played.emit(alert)
        how = DONE
        try:
            await self._sleep(self._skip, alert.duration_s)
            if self._skip.is_set():
                how = SKIPPED
        finally:
            self._db.execute("UPDATE queue SET state = ? WHERE id = ?", (how, alert.id))
            self.current = None
            self.finished.emit(alert, how)
            self._changed()
