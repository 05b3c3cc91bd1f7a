"""Every transaction the wallet signs, kept in SQLite before it is broadcast.

Keeping the signed bytes first is what makes sending safe to retry: after a crash, a
restart or an RPC outage the same bytes (same hash) are sent again, never a second
transaction. Signed transactions are public data; no key is stored here.

A transaction also keeps the chain's head (number and hash) when it was sent, so that a
node which never knew it (a devnet started afresh, a chain reset) can be told apart from
one that merely has not mined it yet, and the block at which the node was first seen to
have lost it (`missing_since`).
"""

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chain.cursor_store import same_chain
from chain.sqlite_tx import immediate

PENDING, MINED, FAILED, REPLACED, REJECTED = "pending", "mined", "failed", "replaced", "rejected"
DROPPED = "dropped"  # the node lost it (or never had it): its nonce is free again
# sent on a chain that is gone (a local devnet deleted): nothing about it holds on the new one
PREVIOUS_CHAIN = "previous chain"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS txs (
    hash TEXT PRIMARY KEY,
    chain_id INTEGER NOT NULL,
    sender TEXT NOT NULL,
    nonce INTEGER NOT NULL,
    raw BLOB NOT NULL,
    fields TEXT NOT NULL,
    kind TEXT NOT NULL,
    description TEXT NOT NULL,
    status TEXT NOT NULL,
    broadcast INTEGER NOT NULL DEFAULT 0,
    replaces TEXT,
    block INTEGER,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    sent_block INTEGER,
    sent_block_hash TEXT,
    missing_since INTEGER
);
CREATE INDEX IF NOT EXISTS txs_sender ON txs (chain_id, sender, nonce);
CREATE TABLE IF NOT EXISTS chains (
    chain_id INTEGER PRIMARY KEY,
    genesis TEXT NOT NULL,
    instance TEXT
);
"""
# Columns added after the first release: ALTER TABLE adds them to an older store.
_ADDED_COLUMNS = {"sent_block": "INTEGER", "sent_block_hash": "TEXT", "missing_since": "INTEGER"}


@dataclass(frozen=True)
class TxRecord:
    hash: str
    chain_id: int
    sender: str
    nonce: int
    raw: bytes
    fields: dict[str, Any]
    kind: str  # "send" | "speedup" | "cancel"
    description: str
    status: str
    broadcast: bool
    replaces: str | None
    block: int | None
    error: str | None
    created: float
    updated: float
    sent_block: int | None = None
    sent_block_hash: str | None = None
    missing_since: int | None = None


class TxStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        have = {row[1] for row in self._db.execute("PRAGMA table_info(txs)")}
        for column, kind in _ADDED_COLUMNS.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE txs ADD COLUMN {column} {kind}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def adopt_chain(self, chain_id: int, genesis: str, instance: str | None) -> int | None:
        """Record the chain now behind `chain_id`. When it is another chain than the one
        recorded (chain.cursor_store.same_chain), every transaction kept for `chain_id` is
        marked PREVIOUS_CHAIN (none reads "mined" or stays pending on the new chain) and
        their number is returned; None when the chain is the recorded one or the first."""
        with self._lock:
            row = self._db.execute(
                "SELECT genesis, instance FROM chains WHERE chain_id = ?", (chain_id,)
            ).fetchone()
            if same_chain(row, genesis, instance):
                if instance and not row[1]:
                    self._db.execute(
                        "UPDATE chains SET instance = ? WHERE chain_id = ?", (instance, chain_id)
                    )
                return None
            with immediate(self._db) as db:
                db.execute(
                    "INSERT OR REPLACE INTO chains (chain_id, genesis, instance) VALUES (?, ?, ?)",
                    (chain_id, genesis.lower(), instance.lower() if instance else None),
                )
                marked = 0
                if row is not None:
                    marked = db.execute(
                        "UPDATE txs SET status = ?, updated = ? WHERE chain_id = ? AND status != ?",
                        (PREVIOUS_CHAIN, time.time(), chain_id, PREVIOUS_CHAIN),
                    ).rowcount
        return None if row is None else marked

    def add(
        self,
        *,
        tx_hash: str,
        chain_id: int,
        sender: str,
        nonce: int,
        raw: bytes,
        fields: dict[str, Any],
        kind: str,
        description: str,
        replaces: str | None = None,
        sent_block: int | None = None,
        sent_block_hash: str | None = None,
    ) -> None:
        now = time.time()
        with self._lock:
            # the same signed bytes sent again on a new chain (same nonce there): now its own
            self._db.execute(
                "DELETE FROM txs WHERE hash = ? AND status = ?", (tx_hash, PREVIOUS_CHAIN)
            )
            self._db.execute(
                "INSERT OR IGNORE INTO txs (hash, chain_id, sender, nonce, raw, fields, kind,"
                " description, status, broadcast, replaces, created, updated, sent_block,"
                " sent_block_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)",
                (tx_hash, chain_id, sender, nonce, raw, json.dumps(fields), kind, description,
                 PENDING, replaces, now, now, sent_block, sent_block_hash),
            )  # fmt: skip

    def update(self, tx_hash: str, **changes: Any) -> None:
        allowed = {"status", "broadcast", "block", "error", "missing_since"}
        if not changes or set(changes) - allowed:
            raise ValueError(f"cannot update {set(changes) - allowed}")
        assignments = ", ".join(f"{k} = ?" for k in changes)
        with self._lock:
            self._db.execute(
                f"UPDATE txs SET {assignments}, updated = ? WHERE hash = ?",
                (*changes.values(), time.time(), tx_hash),
            )

    def get(self, tx_hash: str) -> TxRecord | None:
        rows = self._select("WHERE hash = ?", (tx_hash,))
        return rows[0] if rows else None

    def pending(self, chain_id: int, sender: str) -> list[TxRecord]:
        return self._select(
            "WHERE chain_id = ? AND sender = ? AND status = ? ORDER BY nonce, created",
            (chain_id, sender, PENDING),
        )

    def with_nonce(self, chain_id: int, sender: str, nonce: int) -> list[TxRecord]:
        return self._select(
            "WHERE chain_id = ? AND sender = ? AND nonce = ? ORDER BY created",
            (chain_id, sender, nonce),
        )

    def open_nonces(self, chain_id: int, sender: str) -> set[int]:
        """The nonces our pending transactions hold: the next send must not take one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT DISTINCT nonce FROM txs WHERE chain_id = ? AND sender = ? AND status = ?",
                (chain_id, sender, PENDING),
            ).fetchall()
        return {row[0] for row in rows}

    def recent(self, chain_id: int, sender: str, limit: int = 20) -> list[TxRecord]:
        return self._select(
            "WHERE chain_id = ? AND sender = ? ORDER BY created DESC LIMIT ?",
            (chain_id, sender, limit),
        )

    def _select(self, where: str, args: tuple[Any, ...]) -> list[TxRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT hash, chain_id, sender, nonce, raw, fields, kind, description, status,"
                " broadcast, replaces, block, error, created, updated, sent_block,"
                f" sent_block_hash, missing_since FROM txs {where}",
                args,
            ).fetchall()
        return [_record(r) for r in rows]


def _record(r: tuple[Any, ...]) -> TxRecord:
    return TxRecord(
        hash=r[0], chain_id=r[1], sender=r[2], nonce=r[3], raw=bytes(r[4]),
        fields=json.loads(r[5]), kind=r[6], description=r[7], status=r[8],
        broadcast=bool(r[9]), replaces=r[10], block=r[11], error=r[12],
        created=r[13], updated=r[14], sent_block=r[15], sent_block_hash=r[16],
        missing_since=r[17],
    )  # fmt: skip
