"""The embedded devnet's chain on disk: py-evm's key-value database in one SQLite file.

py-evm keeps a chain (headers, blocks, receipts, the state trie) in a flat key-value
database; `ChainStore` gives it one backed by a SQLite table, plus a small `meta` table for
what the devnet itself must remember (its instance id, the contracts it deployed). Writes
accumulate in one SQLite transaction that the devnet commits between requests, so a crash
leaves the chain as it was after the last request it answered, never half a block.

A store that cannot be read back (not a database, a failed integrity check, a head block or
state missing) raises `DamagedChainStore`; `keep_aside` renames it (its WAL files included)
so that nothing is lost and a new chain can start beside it.
"""

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from eth.db.atomic import AtomicDB
from eth.db.backends.base import BaseDB
from eth.db.cache import CacheDB

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""
_SIDE_FILES = ("-wal", "-shm")
# entries (trie nodes, headers, block bodies: mostly < 1 kB) kept in memory in front of SQLite
CACHE_ENTRIES = 50_000


class DamagedChainStore(Exception):
    """The chain store exists but cannot be read back as a chain."""


class SQLiteKeyValue(BaseDB):
    """py-evm's DatabaseAPI over one SQLite table (bytes -> bytes)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def __getitem__(self, key: bytes) -> bytes:
        row = self._db.execute("SELECT v FROM kv WHERE k = ?", (key,)).fetchone()
        if row is None:
            raise KeyError(key)
        return bytes(row[0])

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO kv (k, v) VALUES (?, ?)", (key, value))

    def __delitem__(self, key: bytes) -> None:
        if self._db.execute("DELETE FROM kv WHERE k = ?", (key,)).rowcount == 0:
            raise KeyError(key)

    def _exists(self, key: bytes) -> bool:
        return self._db.execute("SELECT 1 FROM kv WHERE k = ?", (key,)).fetchone() is not None


class ChainStore:
    """One devnet's chain database and metadata in `path`; `is_new` when it held none yet."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        existed = path.exists() and path.stat().st_size > 0
        # check_same_thread off: the devnet serialises every call behind its own lock
        self._db = sqlite3.connect(path, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            if existed:
                check = self._db.execute("PRAGMA quick_check").fetchone()
                if check is None or check[0] != "ok":
                    raise DamagedChainStore(f"integrity check failed: {check and check[0]}")
            else:
                self._db.executescript(_SCHEMA)
            self._meta: dict[str, Any] = {
                key: json.loads(value)
                for key, value in self._db.execute("SELECT key, value FROM meta")
            }
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise DamagedChainStore(str(exc)) from exc
        except DamagedChainStore:
            self._db.close()
            raise
        self.is_new = not self._meta
        if existed and self.is_new:
            self._db.close()
            raise DamagedChainStore("it holds no devnet metadata")
        self.db = AtomicDB(CacheDB(SQLiteKeyValue(self._db), cache_size=CACHE_ENTRIES))

    def meta(self, key: str) -> Any:
        return self._meta.get(key)

    def set_meta(self, key: str, value: Any) -> None:
        """Written with the chain's next commit."""
        self._meta[key] = value
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value))
        )

    def commit(self) -> None:
        if self._db.in_transaction:
            self._db.commit()

    def close(self) -> None:
        self.commit()
        self._db.close()

    def abandon(self) -> None:
        """Close without writing anything more (a store found damaged)."""
        self._db.rollback()
        self._db.close()


def keep_aside(path: Path) -> Path:
    """Rename a damaged store (and its WAL files) to `<name>.damaged-<UTC time>`; returns the
    new path of the main file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
    for suffix in _SIDE_FILES:
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    path.rename(target)
    return target
