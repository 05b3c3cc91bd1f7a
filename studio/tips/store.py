"""Tips the studio has seen, and where the watcher stopped: one SQLite file in the data dir.

The watcher writes a block's tips, its hash and the cursor in one transaction, so a crash
leaves either all of a block or none of it. The alert layer records which tips it has shown
in the same file, so neither a restart nor a second source (the backend) shows one twice.

Amounts are stored as decimal text: a uint256 does not fit SQLite's 64-bit integers.
"""

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from pathlib import Path

from chain.cursor_store import same_chain
from chain.sqlite_tx import immediate

PENDING = "pending"
CONFIRMED = "confirmed"
DROPPED = "dropped"  # its block left the chain (reorg); it may come back
STATUSES = (PENDING, CONFIRMED, DROPPED)

# What brought the money in: each goes through the same alerts, revenue and CSV as a tip.
TIP = "tip"
SALE = "sale"  # a fan bought one of the artist's editions from the artist
ROYALTY = "royalty"  # a fan bought an edition from another fan: the artist's royalty
SUBSCRIPTION = "subscription"
RENEWAL = "renewal"
KINDS = (TIP, SALE, ROYALTY, SUBSCRIPTION, RENEWAL)

TipKey = tuple[str, int]  # (transaction hash, lowercase 0x-hex; log index)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS watch_cursor (
    scope TEXT PRIMARY KEY,
    last_block INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS scope_chain (
    scope TEXT PRIMARY KEY,
    genesis TEXT NOT NULL,
    instance TEXT
);
CREATE TABLE IF NOT EXISTS block_hashes (
    scope TEXT NOT NULL,
    number INTEGER NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (scope, number)
);
CREATE TABLE IF NOT EXISTS tips (
    scope TEXT NOT NULL,
    tx_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    block_hash TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    artist TEXT NOT NULL,
    fan TEXT NOT NULL,
    amount_wei TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'tip',
    PRIMARY KEY (scope, tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS ix_tips_block ON tips (scope, block_number);
CREATE TABLE IF NOT EXISTS alerted (
    tx_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    source TEXT NOT NULL,
    alerted_at REAL NOT NULL,
    fan TEXT NOT NULL,
    fan_name TEXT,
    amount_wei TEXT NOT NULL,
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    block_number INTEGER,
    kind TEXT NOT NULL DEFAULT 'tip',
    PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX IF NOT EXISTS ix_alerted_time ON alerted (alerted_at);
CREATE TABLE IF NOT EXISTS forgotten_alerts (
    tx_hash TEXT NOT NULL,
    log_index INTEGER NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE TABLE IF NOT EXISTS intervals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    label TEXT NOT NULL,
    start REAL NOT NULL,
    end REAL
);
"""


@dataclass(frozen=True)
class Tip:
    tx_hash: str
    log_index: int
    block_number: int
    block_hash: str
    timestamp: int  # the block's unix time (seconds)
    artist: str
    fan: str
    amount_wei: int
    message: str
    status: str = PENDING
    kind: str = TIP

    @property
    def key(self) -> TipKey:
        return tip_key(self.tx_hash, self.log_index)

    def with_status(self, status: str) -> "Tip":
        return replace(self, status=status)


def tip_key(tx_hash: str, log_index: int) -> TipKey:
    text = tx_hash.lower()
    return (text if text.startswith("0x") else "0x" + text, int(log_index))


def watch_scope(chain_id: int, contract: str, artist: str) -> str:
    """One cursor per (chain, contract, artist): switching profile never mixes histories."""
    return f"{chain_id}:{contract.lower()}:{artist.lower()}"


class TipStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(scope_chain)")}
        if "instance" not in columns:  # a file written before devnet instance ids were kept
            self._db.execute("ALTER TABLE scope_chain ADD COLUMN instance TEXT")
        for table in ("tips", "alerted"):  # a file written when only tips were followed
            columns = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            if "kind" not in columns:
                self._db.execute(f"ALTER TABLE {table} ADD COLUMN kind TEXT NOT NULL DEFAULT 'tip'")

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return immediate(self._db)

    # -- which chain a scope's data came from ------------------------------------------------

    def adopt_chain(self, scope: str, genesis: str, instance: str | None = None) -> bool:
        """Record the chain behind `scope`: its genesis hash and, for a devnet that reports one
        (anvil, hardhat), the node's instance id, which changes on every restart or reset.

        If the chain differs from the one recorded, that chain is gone (a local devnet starts
        afresh on every run, with the same chain id and contract address): forget its tips,
        cursor and shown alerts, so the new chain's tips, which may even repeat the old
        transaction hashes, are seen and shown (chain.cursor_store.same_chain decides). Their
        keys are kept in `forgotten_alerts`: the backend may still send the old tips.
        Returns True when it forgot an old chain."""
        genesis = genesis.lower()
        instance = instance.lower() if instance else None
        row = self._db.execute(
            "SELECT genesis, instance FROM scope_chain WHERE scope = ?", (scope,)
        ).fetchone()
        if same_chain(row, genesis, instance):
            if instance and not row[1]:  # the node tells its id for the first time
                self._db.execute(
                    "UPDATE scope_chain SET instance = ? WHERE scope = ?", (instance, scope)
                )
            return False
        with self.transaction() as db:
            if row is not None:
                # the backend's notification backlog still names them: not new tips
                db.execute(
                    "INSERT OR IGNORE INTO forgotten_alerts (tx_hash, log_index) "
                    "SELECT tx_hash, log_index FROM tips WHERE scope = ?",
                    (scope,),
                )
                db.execute(
                    "DELETE FROM alerted WHERE EXISTS (SELECT 1 FROM tips t WHERE t.scope = ? "
                    "AND t.tx_hash = alerted.tx_hash AND t.log_index = alerted.log_index)",
                    (scope,),
                )
                for table in ("tips", "block_hashes", "watch_cursor"):
                    db.execute(f"DELETE FROM {table} WHERE scope = ?", (scope,))
            db.execute(
                "INSERT OR REPLACE INTO scope_chain (scope, genesis, instance) VALUES (?, ?, ?)",
                (scope, genesis, instance),
            )
        return row is not None

    # -- cursor and remembered block hashes ---------------------------------------------------

    def cursor(self, scope: str) -> int | None:
        row = self._db.execute(
            "SELECT last_block FROM watch_cursor WHERE scope = ?", (scope,)
        ).fetchone()
        return None if row is None else int(row[0])

    def set_cursor(self, scope: str, last_block: int, db: sqlite3.Connection | None = None) -> None:
        (db or self._db).execute(
            "INSERT INTO watch_cursor (scope, last_block) VALUES (?, ?) "
            "ON CONFLICT(scope) DO UPDATE SET last_block = excluded.last_block",
            (scope, last_block),
        )

    def advance(
        self, scope: str, last_block: int, block_hash: str | None = None, keep_from: int = 0
    ) -> None:
        """The cursor, the block's hash and the remembered window, in one transaction."""
        with self.transaction() as db:
            if block_hash is not None:
                self.remember_block(scope, last_block, block_hash, db)
            self.set_cursor(scope, last_block, db)
            self.forget_blocks(scope, below=keep_from, db=db)

    def rewind(self, scope: str, fork: int) -> None:
        with self.transaction() as db:
            self.forget_blocks(scope, above=fork, db=db)
            self.set_cursor(scope, fork, db)

    def remember_block(
        self, scope: str, number: int, block_hash: str, db: sqlite3.Connection | None = None
    ) -> None:
        (db or self._db).execute(
            "INSERT OR REPLACE INTO block_hashes (scope, number, hash) VALUES (?, ?, ?)",
            (scope, number, block_hash.lower()),
        )

    def block_hash(self, scope: str, number: int) -> str | None:
        row = self._db.execute(
            "SELECT hash FROM block_hashes WHERE scope = ? AND number = ?", (scope, number)
        ).fetchone()
        return None if row is None else str(row[0])

    def remembered_blocks(self, scope: str) -> list[tuple[int, str]]:
        """(number, hash), newest first."""
        rows = self._db.execute(
            "SELECT number, hash FROM block_hashes WHERE scope = ? ORDER BY number DESC", (scope,)
        ).fetchall()
        return [(int(n), str(h)) for n, h in rows]

    def forget_blocks(
        self,
        scope: str,
        above: int | None = None,
        below: int | None = None,
        db: sqlite3.Connection | None = None,
    ) -> None:
        db = db or self._db
        if above is not None:
            db.execute("DELETE FROM block_hashes WHERE scope = ? AND number > ?", (scope, above))
        if below is not None:
            db.execute("DELETE FROM block_hashes WHERE scope = ? AND number < ?", (scope, below))

    # -- tips ---------------------------------------------------------------------------------

    def get_tip(self, scope: str, key: TipKey) -> Tip | None:
        row = self._db.execute(
            f"SELECT {_TIP_COLUMNS} FROM tips WHERE scope = ? AND tx_hash = ? AND log_index = ?",
            (scope, *key),
        ).fetchone()
        return None if row is None else _tip_from_row(row)

    def put_tip(self, scope: str, tip: Tip, db: sqlite3.Connection | None = None) -> None:
        (db or self._db).execute(
            f"INSERT OR REPLACE INTO tips (scope, {_TIP_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                scope,
                *tip.key,
                tip.block_number,
                tip.block_hash.lower(),
                tip.timestamp,
                tip.artist,
                tip.fan,
                str(tip.amount_wei),
                tip.message,
                tip.status,
                tip.kind,
            ),
        )

    def tips(self, scope: str, statuses: Iterable[str] = STATUSES) -> list[Tip]:
        """Tips in chain order (block, then log index)."""
        wanted = tuple(statuses)
        marks = ",".join("?" * len(wanted))
        rows = self._db.execute(
            f"SELECT {_TIP_COLUMNS} FROM tips WHERE scope = ? AND status IN ({marks}) "
            "ORDER BY block_number, log_index",
            (scope, *wanted),
        ).fetchall()
        return [_tip_from_row(r) for r in rows]

    def tips_above(self, scope: str, block_number: int) -> list[Tip]:
        rows = self._db.execute(
            f"SELECT {_TIP_COLUMNS} FROM tips WHERE scope = ? AND block_number > ? "
            "AND status != ? ORDER BY block_number, log_index",
            (scope, block_number, DROPPED),
        ).fetchall()
        return [_tip_from_row(r) for r in rows]

    # -- streams and tracks on air (for per-stream and per-track totals) ---------------------

    def open_interval(self, kind: str, label: str, start: float) -> int:
        cursor = self._db.execute(
            "INSERT INTO intervals (kind, label, start) VALUES (?, ?, ?)", (kind, label, start)
        )
        return int(cursor.lastrowid or 0)

    def close_interval(self, interval_id: int, end: float) -> None:
        self._db.execute(
            "UPDATE intervals SET end = ? WHERE id = ? AND end IS NULL", (end, interval_id)
        )

    def intervals(self, kind: str) -> list[tuple[str, float, float | None]]:
        """(label, start, end or None while still on air), oldest first."""
        rows = self._db.execute(
            "SELECT label, start, end FROM intervals WHERE kind = ? ORDER BY start, id", (kind,)
        ).fetchall()
        return [(str(label), float(start), end) for label, start, end in rows]

    # -- what the alert layer has shown -------------------------------------------------------

    def mark_alerted(self, record: "AlertRecord") -> bool:
        """Record that a tip was shown; False if it already had been (by any source)."""
        cursor = self._db.execute(
            f"INSERT OR IGNORE INTO alerted ({_ALERT_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            _alert_row(record),
        )
        return cursor.rowcount == 1

    def update_alert(self, record: "AlertRecord") -> None:
        self._db.execute(
            "UPDATE alerted SET fan_name = ?, status = ?, block_number = ? "
            "WHERE tx_hash = ? AND log_index = ?",
            (record.fan_name, record.status, record.block_number, *record.key),
        )

    def alert(self, key: TipKey) -> "AlertRecord | None":
        row = self._db.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerted WHERE tx_hash = ? AND log_index = ?",
            tip_key(*key),
        ).fetchone()
        return None if row is None else _alert_from_row(row)

    def of_a_forgotten_chain(self, key: TipKey) -> bool:
        """Whether the tip was on a chain `adopt_chain` forgot (a local devnet deleted)."""
        row = self._db.execute(
            "SELECT 1 FROM forgotten_alerts WHERE tx_hash = ? AND log_index = ?", tip_key(*key)
        ).fetchone()
        return row is not None

    def was_alerted(self, key: TipKey) -> bool:
        return self.alert(key) is not None

    def alert_history(self, limit: int = 1000) -> list["AlertRecord"]:
        """The newest `limit` alerts, oldest first."""
        rows = self._db.execute(
            f"SELECT {_ALERT_COLUMNS} FROM alerted ORDER BY alerted_at DESC, rowid DESC LIMIT ?",
            (limit,),
        ).fetchall()
        return [_alert_from_row(r) for r in reversed(rows)]

    def fan_names(self) -> dict[str, str]:
        """Each fan's profile name as last learned with one of their tips (address -> name)."""
        rows = self._db.execute(
            "SELECT fan, fan_name FROM alerted WHERE fan_name IS NOT NULL AND fan_name != '' "
            "ORDER BY alerted_at, rowid"
        ).fetchall()
        return {fan: name for fan, name in rows}

    def unalerted_tips(self, scope: str) -> list[Tip]:
        """Tips stored but never shown (the process stopped between the two)."""
        rows = self._db.execute(
            f"SELECT {_prefixed('t.')} FROM tips t LEFT JOIN alerted a "
            "ON a.tx_hash = t.tx_hash AND a.log_index = t.log_index "
            "WHERE t.scope = ? AND a.tx_hash IS NULL AND t.status != ? "
            "ORDER BY t.block_number, t.log_index",
            (scope, DROPPED),
        ).fetchall()
        return [_tip_from_row(r) for r in rows]


_TIP_FIELDS = (
    "tx_hash",
    "log_index",
    "block_number",
    "block_hash",
    "timestamp",
    "artist",
    "fan",
    "amount_wei",
    "message",
    "status",
    "kind",
)
_TIP_COLUMNS = ", ".join(_TIP_FIELDS)


def _prefixed(prefix: str) -> str:
    return ", ".join(prefix + f for f in _TIP_FIELDS)


@dataclass(frozen=True)
class AlertRecord:
    """A tip (or a sale, a subscription: `kind`) as it was shown: from the chain watcher or
    from the backend's notification."""

    tx_hash: str
    log_index: int
    source: str  # "chain" | "backend"
    alerted_at: float
    fan: str
    fan_name: str | None
    amount_wei: int
    message: str
    status: str
    block_number: int | None
    kind: str = TIP

    @property
    def key(self) -> TipKey:
        return tip_key(self.tx_hash, self.log_index)


_ALERT_FIELDS = (
    "tx_hash",
    "log_index",
    "source",
    "alerted_at",
    "fan",
    "fan_name",
    "amount_wei",
    "message",
    "status",
    "block_number",
    "kind",
)
_ALERT_COLUMNS = ", ".join(_ALERT_FIELDS)


def _alert_row(record: AlertRecord) -> tuple[object, ...]:
    values = {name: getattr(record, name) for name in _ALERT_FIELDS}
    values["tx_hash"], values["log_index"] = record.key
    values["amount_wei"] = str(record.amount_wei)
    return tuple(values[name] for name in _ALERT_FIELDS)


def _alert_from_row(row: tuple[object, ...]) -> AlertRecord:
    values = dict(zip(_ALERT_FIELDS, row, strict=True))
    values["amount_wei"] = int(str(values["amount_wei"]))
    return AlertRecord(**values)  # type: ignore[arg-type]


def _tip_from_row(row: tuple[object, ...]) -> Tip:
    values = dict(zip(_TIP_FIELDS, row, strict=True))
    values["amount_wei"] = int(str(values["amount_wei"]))
    return Tip(**values)  # type: ignore[arg-type]
