"""Full-text search over tracks and artists: SQLite FTS5, or PostgreSQL tsvector/GIN.

User input never reaches the query language: it is cut into words, and each word becomes a
quoted prefix term ("word"* in FTS5, word:* in tsquery), all of them required.

Ranking is bounded: matches are ranked by relevance among the most recent RANK_WINDOW of them
(at least as many as the page needs), so a short, common prefix typed into a search box over a
large catalogue costs a few milliseconds instead of ranking every match.
"""

import re

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

MAX_TERMS = 8
RANK_WINDOW = 2000
_WORD = re.compile(r"[^\W_]+")


def terms(query: str) -> list[str]:
    return [w[:64] for w in _WORD.findall(query.lower())][:MAX_TERMS]


_SQLITE_TRACKS = text(
    "SELECT rowid FROM (SELECT rowid, rank FROM tracks_fts WHERE tracks_fts MATCH :match "
    "ORDER BY rowid DESC LIMIT :window) ORDER BY rank, rowid DESC LIMIT :limit OFFSET :offset"
)
_SQLITE_ARTISTS = text(
    "SELECT accounts.address FROM accounts_fts "
    "JOIN accounts ON accounts.rowid = accounts_fts.rowid "
    "WHERE accounts_fts MATCH :match AND accounts.role = 'artist' "
    "ORDER BY accounts_fts.rank, accounts.address LIMIT :limit OFFSET :offset"
)
_PG_TRACKS = text(
    "SELECT id FROM (SELECT id, title, artist_name FROM tracks "
    "WHERE to_tsvector('simple', title || ' ' || artist_name) @@ to_tsquery('simple', :match) "
    "ORDER BY id DESC LIMIT :window) AS recent "
    "ORDER BY ts_rank(to_tsvector('simple', title || ' ' || artist_name), "
    "to_tsquery('simple', :match)) DESC, id DESC LIMIT :limit OFFSET :offset"
)
_PG_ARTISTS = text(
    "SELECT address FROM accounts WHERE role = 'artist' AND "
    "to_tsvector('simple', display_name || ' ' || bio) @@ to_tsquery('simple', :match) "
    "ORDER BY ts_rank(to_tsvector('simple', display_name || ' ' || bio), "
    "to_tsquery('simple', :match)) DESC, address LIMIT :limit OFFSET :offset"
)


def _match(session: AsyncSession, words: list[str]) -> str:
    if session.bind.dialect.name == "postgresql":
        return " & ".join(f"{w}:*" for w in words)
    return " ".join(f'"{w}"*' for w in words)


async def _ids(
    session: AsyncSession, queries: tuple[object, object], query: str, limit: int, offset: int
) -> list[object]:
    words = terms(query)
    if not words:
        return []
    statement = queries[1] if session.bind.dialect.name == "postgresql" else queries[0]
    params = {
        "match": _match(session, words),
        "limit": limit,
        "offset": offset,
        "window": max(RANK_WINDOW, offset + limit),
    }
    return list((await session.execute(statement, params)).scalars())  # type: ignore[call-overload]


async def track_ids(session: AsyncSession, query: str, limit: int, offset: int) -> list[int]:
    """Ids of matching tracks, best match first."""
    return [int(i) for i in await _ids(session, (_SQLITE_TRACKS, _PG_TRACKS), query, limit, offset)]  # type: ignore[call-overload]


async def artist_addresses(session: AsyncSession, query: str, limit: int, offset: int) -> list[str]:
    return [
        str(a) for a in await _ids(session, (_SQLITE_ARTISTS, _PG_ARTISTS), query, limit, offset)
    ]
