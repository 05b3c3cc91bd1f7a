"""The database engine: SQLite (WAL) by default, PostgreSQL by URL; migrations at startup."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit key: instances starting together on one PostgreSQL migrate one at a time.
_MIGRATION_LOCK_KEY = 0x4841524D4F4E4945
# The async driver each database takes when a URL names none (`sqlite:///x.db`).
ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}
_ALIASES = {"postgres": "postgresql"}


def async_database_url(database_url: str) -> URL:
    """The URL with its async driver: `sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`,
    `postgresql://` (or `postgres://`) -> `postgresql+asyncpg://`. A URL naming a driver
    that cannot run under asyncio is refused with the form to use instead."""
    scheme, sep, rest = database_url.partition("://")
    if not sep:
        raise ValueError(f"{database_url!r} is not a database URL; use sqlite:///file.db")
    backend, _, driver = scheme.partition("+")
    backend = _ALIASES.get(backend, backend)
    if backend not in ASYNC_DRIVERS:
        raise ValueError(f"database {backend!r} is not supported; use SQLite or PostgreSQL")
    wanted = ASYNC_DRIVERS[backend]
    if driver and f"{backend}+{driver}" != wanted:
        raise ValueError(
            f"the {driver} driver does not run under asyncio; use {wanted}://{rest.split('@')[-1]}"
        )
    try:
        return make_url(f"{wanted}://{rest}")
    except ArgumentError as exc:
        raise ValueError(f"the database URL cannot be read: {exc}") from None


def make_engine(database_url: str) -> AsyncEngine:
    engine = create_async_engine(async_database_url(database_url), pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
    command.upgrade(_alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision (a fresh SQLite file just works)."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def database_status(engine: AsyncEngine) -> dict[str, str]:
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "down"; the detail is for operators
        return {"status": "down", "dialect": engine.dialect.name, "detail": type(exc).__name__}
    return {"status": "ok", "dialect": engine.dialect.name}
