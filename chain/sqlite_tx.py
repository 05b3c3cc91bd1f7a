"""One write transaction on an autocommit SQLite connection (isolation_level=None), and a
consistent copy of a database in use (the online backup API)."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (the write lock at once), COMMIT on success, ROLLBACK on any exit."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def online_copy(source: str, target: str | Path) -> None:
    """SQLite's online backup API: a consistent copy of `source` (a path, or a `file:` URI)
    even while it is being written, done in one transaction on `target` (a connection that
    holds `target` open sees the old pages or the new, never a mix)."""
    src = sqlite3.connect(source, uri=source.startswith("file:"))
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
