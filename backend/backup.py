"""`harmonie-backend backup PATH` / `restore PATH`: the database, while the backend runs.

SQLite goes through its online backup API (a consistent copy of a database in use); PostgreSQL
through `pg_dump --format=custom` / `pg_restore`. A restore first keeps the database it replaces
(SQLite: a copy beside it; PostgreSQL: one transaction, so a failed restore changes nothing).
The content store's files (data dir) are not part of a database backup.
"""

import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL

from backend.database import MIGRATIONS, async_database_url
from chain.sqlite_tx import online_copy


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is for the operator."""


def _known_revisions() -> set[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A URL pg_dump understands, and the environment carrying its password (never argv,
    which every local user can read)."""
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        detail = done.stderr.strip().splitlines()
        raise BackupError(f"{Path(command[0]).name} failed: {detail[-1] if detail else done}")


def backup(database_url: str, path: Path) -> None:
    """Write a backup of the database to `path` (which must not exist yet)."""
    url = async_database_url(database_url)
    if path.exists():
        raise BackupError(f"{path} already exists; choose a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        if url.get_backend_name() == "sqlite":
            source_path = _sqlite_path(url)
            if not source_path.exists():
                raise BackupError(f"there is no database at {source_path}")
            online_copy(str(source_path), partial)
        else:
            target_url, env = _libpq(url)
            _run(
                [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}",
                 f"--dbname={target_url}"],
                env,
            )  # fmt: skip
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _check_sqlite_backup(path: Path) -> None:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} is a damaged SQLite database")
        rows = db.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.DatabaseError:
        raise BackupError(f"{path} is not a backup of this backend's SQLite database") from None
    finally:
        db.close()
    _check_revision([row[0] for row in rows], path)


def _check_revision(revisions: list[str], path: Path) -> None:
    unknown = set(revisions) - _known_revisions()
    if unknown:
        raise BackupError(
            f"{path} comes from a newer backend (schema {', '.join(sorted(unknown))}); "
            "restore it with that version"
        )


def restore(database_url: str, path: Path) -> Path | None:
    """Replace the database's contents with the backup at `path`. Returns where the SQLite
    database it replaced was kept (None for PostgreSQL or a database that did not exist)."""
    url = async_database_url(database_url)
    if not path.is_file():
        raise BackupError(f"there is no backup file at {path}")
    if url.get_backend_name() == "sqlite":
        _check_sqlite_backup(path)
        target_path = _sqlite_path(url)
        kept: Path | None = None
        target_path.parent.mkdir(parents=True, exist_ok=True)
        if target_path.exists():
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            kept = target_path.with_name(f"{target_path.name}.before-restore-{stamp}")
            backup(database_url, kept)
        online_copy(f"file:{path}?mode=ro", target_path)
        return kept
    target_url, env = _libpq(url)
    pg_restore = _tool("pg_restore")
    listing = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, text=True)
    if listing.returncode != 0:
        raise BackupError(f"{path} is not a pg_dump archive (made by `harmonie-backend backup`)")
    _run(
        [pg_restore, "--clean", "--if-exists", "--no-owner", "--single-transaction",
         f"--dbname={target_url}", str(path)],
        env,
    )  # fmt: skip
    return None
