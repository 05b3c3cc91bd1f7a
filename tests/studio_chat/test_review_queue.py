"""studio.review.review_queue against the real backend: who reviews, what is held, decisions."""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account

from backend.wire import ProfileIn
from studio.review.review_queue import ReviewError, ReviewQueue
from studio.social.backend_client import BackendClient
from tests.studio_chat.conftest import CHAIN_ID, Backend, key_signer, serve_backend

REVIEWER = Account.create()


@pytest.fixture
async def reviewed_backend(tmp_path: Path):  # type: ignore[no-untyped-def]
    async with serve_backend(tmp_path, reviewers=(REVIEWER.address,)) as served:
        yield served


async def _signed_in(backend: Backend, account, name: str) -> BackendClient:  # type: ignore[no-untyped-def]
    client = BackendClient(backend.url, key_signer(account), chain_id=CHAIN_ID)
    await client.sign_in()
    await client.save_profile(ProfileIn(role="artist", display_name=name))
    return client


def hold(database: Path, artist: str, name: str, title: str, minutes_ago: int) -> int:
    """A track the backend held (as backend.discovery does on a fingerprint match)."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database, timeout=30) as db:
        cursor = db.execute(
            "INSERT INTO tracks (artist_address, artist_name, title, cid, duration_s, "
            "created_at, status, held_reason) VALUES (?, ?, ?, ?, 180.0, ?, 'held', ?)",
            (artist, name, title, "bafkrei" + title.lower().ljust(52, "q")[:52], at,
             "This recording matches 'Moonrise' by Nova; held for review."),
        )  # fmt: skip
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def status_of(database: Path, track_id: int) -> tuple[str, str | None, str | None]:
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(
            "SELECT status, held_reason, reviewed_by FROM tracks WHERE id = ?", (track_id,)
        ).fetchone()


async def test_a_reviewer_sees_the_held_tracks_and_decides_each_once(
    reviewed_backend: Backend,
) -> None:
    backend = reviewed_backend
    database = backend.data_dir / "backend.db"
    copycat = Account.create()
    artist = await _signed_in(backend, copycat, "Copycat")
    reviewer = await _signed_in(backend, REVIEWER, "Rae")
    try:
        mine = hold(database, copycat.address, "Copycat", "Mine", minutes_ago=30)
        live = hold(database, copycat.address, "Copycat", "Live", minutes_ago=10)

        # not a reviewer: told so (no page), nothing shown
        theirs = ReviewQueue(artist)
        assert await theirs.refresh() == [] and theirs.allowed is False

        queue = ReviewQueue(reviewer)
        seen: list[list[int]] = []
        queue.changed.connect(lambda tracks: seen.append([t.id for t in tracks]))
        assert queue.allowed is None
        tracks = await queue.refresh()
        assert queue.allowed is True and [t.id for t in tracks] == [mine, live]  # oldest first
        assert tracks[0].held_reason.startswith("This recording matches 'Moonrise'")
        assert seen == [[mine, live]]

        with pytest.raises(ReviewError, match="Say why"):
            await queue.decide(tracks[0], "reject", "   ")
        assert status_of(database, mine)[0] == "held"  # nothing was sent

        await queue.decide(tracks[0], "reject", "the same master as Nova's Moonrise")
        assert status_of(database, mine) == (
            "rejected",
            "Rejected on review: the same master as Nova's Moonrise",
            REVIEWER.address,
        )
        assert [t.id for t in queue.tracks] == [live] and seen[-1] == [live]

        # decided elsewhere meanwhile (another reviewer's studio): said, and dropped here
        other_desk = ReviewQueue(reviewer)
        await other_desk.refresh()
        await other_desk.decide(other_desk.tracks[0], "list")
        assert status_of(database, live)[0] == "listed"
        with pytest.raises(ReviewError, match="already decided"):
            await queue.decide(queue.tracks[0], "list")
        assert queue.tracks == [] and seen[-1] == []
    finally:
        await artist.aclose()
        await reviewer.aclose()


async def test_a_backend_gone_is_said_in_words(reviewed_backend: Backend) -> None:
    reviewer = await _signed_in(reviewed_backend, REVIEWER, "Rae")
    queue = ReviewQueue(reviewer)
    await queue.refresh()
    reviewer.base_url = "http://127.0.0.1:9"  # nothing listens there
    try:
        with pytest.raises(ReviewError, match=r"could not be read: The backend at .* cannot be"):
            await queue.refresh()
        assert queue.allowed is True  # still a reviewer as far as we know
    finally:
        await reviewer.aclose()
