"""Analytics over HTTP on a real backend: plays (one per listener per track per hour, no IP
address stored), viewers sampled per show, follower growth, income per day, and
GET /me/analytics with its range checks; on SQLite and on PostgreSQL."""

import asyncio
import json
import re
import sqlite3
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from sqlalchemy import select

from backend.analytics import MAX_RANGE_DAYS, build_report, listener_key
from backend.config import BackendConfig
from backend.database import _alembic_config, make_engine, make_sessions, migrate
from backend.models import Account, Follow, MarketSale, MarketSupport, PlayRow, ViewerSample
from backend.services import services_of
from backend.streams import announced
from chain.devnet import dev_accounts
from harness.fan import buy_edition, send_tip, subscribe
from harness.market import list_for_sale, mint_editions
from tests.backend.conftest import create_database
from tests.backend.support import RunningBackend, bearer, make_profile, serve, sign_in, upload
from tests.backend.test_fan_tracks import tone_wav
from tests.backend.test_market import CID as MARKET_CID
from tests.backend.test_market import chain_of, devnet_env  # noqa: F401
from tests.backend.test_market import config as market_config
from tests.tips.conftest import ROOT, browser_missing

ANON = "anon-listener-0123456789"
OTHER_ANON = "anon-listener-abcdefghij"


@pytest.fixture(params=["sqlite", "postgresql"])
async def analytics_backend(
    request: pytest.FixtureRequest, backend_config: BackendConfig
) -> AsyncIterator[RunningBackend]:
    config = replace(backend_config, viewer_sample_s=1.0)
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        name = f"analytics_{uuid.uuid4().hex[:12]}"
        config = replace(config, database_url=create_database(url, name))
    async with serve(config) as running:
        yield running


async def artist_with_track(
    client: httpx.AsyncClient, backend: RunningBackend, title: str = "Midnight Drive"
) -> tuple[Any, dict[str, Any], int]:
    artist, tokens = await make_profile(client, backend, name="Nova")
    cid = await upload(client, backend, tokens, title.encode())
    body = {"title": title, "cid": cid, "duration_s": 200.0}
    listed = await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))
    assert listed.status_code == 201, listed.text
    return artist, tokens, int(listed.json()["id"])


async def play(
    client: httpx.AsyncClient,
    backend: RunningBackend,
    track_id: int,
    listener: str | None = ANON,
    headers: dict[str, str] | None = None,
    played_s: float = 30.5,
) -> httpx.Response:
    body: dict[str, Any] = {"track_id": track_id, "played_s": played_s}
    if listener is not None:
        body["listener"] = listener
    return await client.post(f"{backend.url}/plays", json=body, headers=headers or {})


async def report(
    client: httpx.AsyncClient, backend: RunningBackend, tokens: dict[str, Any], **params: str
) -> httpx.Response:
    return await client.get(f"{backend.url}/me/analytics", params=params, headers=bearer(tokens))


async def age_plays(backend: RunningBackend, minutes: int) -> None:
    """Move every recorded play `minutes` into the past (as if the hour went by)."""
    services = services_of(backend.app)  # type: ignore[arg-type]
    async with services.sessions.begin() as session:
        for row in (await session.execute(select(PlayRow))).scalars():
            row.at -= timedelta(minutes=minutes)
            row.hour = row.at.replace(minute=0, second=0, microsecond=0)


async def test_a_play_counts_once_per_listener_per_track_per_hour(
    analytics_backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    backend = analytics_backend
    _artist, tokens, track = await artist_with_track(client, backend)
    _fan, fan_tokens = await sign_in(client, backend)

    first = await play(client, backend, track)
    assert first.status_code == 200, first.text
    assert first.json()["counted"] is True
    again = await play(client, backend, track)
    assert again.json() == {
        "counted": False,
        "detail": "already counted for this listener this hour",
    }
    assert (await play(client, backend, track, OTHER_ANON)).json()["counted"] is True
    # signed in, the address is the listener whatever id the page sends
    assert (await play(client, backend, track, ANON, bearer(fan_tokens))).json()["counted"]
    assert not (await play(client, backend, track, None, bearer(fan_tokens))).json()["counted"]

    await age_plays(backend, 59)
    assert not (await play(client, backend, track)).json()["counted"], "59 minutes is the hour"
    await age_plays(backend, 2)
    assert (await play(client, backend, track)).json()["counted"], "61 minutes later: a new play"
    assert (await play(client, backend, track, None, bearer(fan_tokens))).json()["counted"]

    shown = await report(client, backend, tokens)
    assert shown.status_code == 200, shown.text
    body = shown.json()
    today = datetime.now(UTC).date()
    assert body["to_day"] == today.isoformat()
    assert body["from_day"] == (today - timedelta(days=29)).isoformat()
    assert len(body["days"]) == 30
    total = sum(day["plays"] for day in body["days"])
    assert total == 5
    (figures,) = body["tracks"]
    assert figures["track_id"] == track and figures["title"] == "Midnight Drive"
    assert figures["plays"] == 5 and figures["listeners"] == 3
    assert sum(figures["daily_plays"]) == 5 and len(figures["daily_plays"]) == 30


async def test_bad_play_reports_are_refused_with_the_reason(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _artist, _tokens, track = await artist_with_track(client, backend)
    short = await play(client, backend, track, played_s=12)
    assert short.status_code == 422 and "played_s" in short.text
    unknown = await play(client, backend, track + 1000)
    assert unknown.status_code == 404 and unknown.json()["detail"] == "no such track"
    nobody = await play(client, backend, track, None)
    assert nobody.status_code == 422
    assert "sign in, or send the page's listener id" in nobody.text
    bad_id = await play(client, backend, track, "short")
    assert bad_id.status_code == 422
    # an expired or foreign token with the page's id: counted under the page's id
    stale = await play(client, backend, track, ANON, {"Authorization": "Bearer nonsense"})
    assert stale.status_code == 200 and stale.json()["counted"] is True
    refused = await play(client, backend, track, None, {"Authorization": "Bearer nonsense"})
    assert refused.status_code == 401


async def test_play_reports_are_rate_limited_per_client(
    backend_config: BackendConfig, client: httpx.AsyncClient
) -> None:
    async with serve(replace(backend_config, play_burst=3, play_rate_per_s=0.01)) as backend:
        _artist, _tokens, track = await artist_with_track(client, backend)
        answers = [
            (await play(client, backend, track, f"listener-number-{n:08d}")).status_code
            for n in range(5)
        ]
    assert answers == [200, 200, 200, 429, 429]


async def test_no_ip_address_or_listener_id_is_stored(
    backend: RunningBackend, client: httpx.AsyncClient, backend_config: BackendConfig
) -> None:
    _artist, _tokens, track = await artist_with_track(client, backend)
    fan, fan_tokens = await sign_in(client, backend)
    assert (await play(client, backend, track)).json()["counted"]
    assert (await play(client, backend, track, None, bearer(fan_tokens))).json()["counted"]

    database = Path(backend_config.database_url.split("///", 1)[1])

    def dump() -> tuple[str, list[tuple[Any, ...]]]:
        with sqlite3.connect(database) as db:
            return "\n".join(db.iterdump()), db.execute("SELECT * FROM analytics_plays").fetchall()

    everything, plays = await asyncio.to_thread(dump)
    assert len(plays) == 2
    assert "127.0.0.1" not in everything, "no IP address anywhere in the database"
    assert ANON not in everything, "the page's id is kept hashed"
    for row in plays:
        text = " ".join(map(str, row)).lower()
        assert fan.address.lower()[2:] not in text, "the fan's address is kept hashed"


async def test_report_has_followers_viewers_and_income_per_day(
    analytics_backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    backend = analytics_backend
    artist, tokens, _track = await artist_with_track(client, backend)
    fans = [await sign_in(client, backend) for _ in range(3)]
    for _fan, fan_tokens in fans:
        put = await client.put(
            f"{backend.url}/artists/{artist.address}/follow", headers=bearer(fan_tokens)
        )
        assert put.status_code == 200
    gone = await client.delete(
        f"{backend.url}/artists/{artist.address}/follow", headers=bearer(fans[0][1])
    )
    assert gone.json()["followers"] == 2
    # unfollowing again is no change
    await client.delete(
        f"{backend.url}/artists/{artist.address}/follow", headers=bearer(fans[0][1])
    )

    show = (
        await client.post(
            f"{backend.url}/streams", json={"title": "Friday"}, headers=bearer(tokens)
        )
    ).json()
    services = services_of(backend.app)  # type: ignore[arg-type]

    async def samples() -> list[tuple[datetime, int]]:
        async with services.sessions() as session:
            rows = await session.execute(
                select(ViewerSample.at, ViewerSample.viewers)
                .where(ViewerSample.stream_id == show["id"])
                .order_by(ViewerSample.at)
            )
            return [(at, v) for at, v in rows.all()]

    async def sampled(last: int) -> list[tuple[datetime, int]]:
        """The samples once the latest holds `last` (the sampler runs every second)."""
        for _ in range(600):
            seen = await samples()
            if seen and seen[-1][1] == last:
                return seen
            await asyncio.sleep(0.05)
        raise AssertionError(f"no sample of {last} viewers")

    await announced.report_viewers(backend.app, show["id"], 7)  # what the relay calls
    await sampled(7)
    await announced.report_viewers(backend.app, show["id"], 3)
    await sampled(3)
    ended = await client.post(f"{backend.url}/streams/{show['id']}/end", headers=bearer(tokens))
    assert ended.status_code == 200
    await asyncio.sleep(1.2)  # a sample taken just before the end may still be written
    recorded = await samples()
    assert {v for _, v in recorded} >= {7, 3}
    instants = [at.timestamp() for at, _ in recorded]
    assert all(t == int(t) for t in instants), "on the sampling grid (whole seconds)"
    assert len(set(instants)) == len(instants)
    await asyncio.sleep(1.5)
    assert await samples() == recorded, "an ended show is not sampled"

    now = datetime.now(UTC)
    async with services.sessions.begin() as session:
        base = {"block_number": 5, "token_id": "1", "buyer": fans[1][0].address}
        session.add_all(
            [
                MarketSale(  # the artist's own edition: the price
                    tx_hash="0x" + "1" * 64, log_index=0, seller=artist.address,
                    artist=artist.address, price_wei=str(3 * 10**18), royalty_wei=str(10**17),
                    created_at=now, **base,
                ),
                MarketSale(  # a fan's resale: the royalty
                    tx_hash="0x" + "2" * 64, log_index=0, seller=fans[2][0].address,
                    artist=artist.address, price_wei=str(5 * 10**18), royalty_wei="250",
                    created_at=now, **base,
                ),
                MarketSupport(
                    tx_hash="0x" + "3" * 64, log_index=1, block_number=6,
                    fan=fans[1][0].address, artist=artist.address, tier=0, periods=2,
                    amount_wei=str(2**70), active_until=0, renewal=False, created_at=now,
                ),
            ]
        )  # fmt: skip

    body = (await report(client, backend, tokens)).json()
    today = body["days"][-1]
    assert today["day"] == now.date().isoformat()
    assert today["followers_gained"] == 3 and today["followers_lost"] == 1
    assert today["followers"] == 2 and body["days"][-2]["followers"] == 0
    assert today["sales"] == 2 and today["sales_wei"] == str(3 * 10**18 + 250)
    assert today["subscriptions"] == 1 and today["subscriptions_wei"] == str(2**70)
    assert today["tips"] == 0 and today["tips_wei"] == "0"
    (shown,) = body["shows"]
    assert shown["stream_id"] == show["id"] and shown["title"] == "Friday"
    assert shown["peak_viewers"] == 7 and shown["ended_at"] is not None
    assert [p["viewers"] for p in shown["samples"]][-1] == 3
    assert len(shown["samples"]) == len(recorded)
    assert body["sample_interval_s"] == 1.0

    # a day range that holds nothing of it
    old = await report(client, backend, tokens, **{"from": "2024-01-01", "to": "2024-01-03"})
    assert old.status_code == 200
    assert [d["day"] for d in old.json()["days"]] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert old.json()["shows"] == [] and old.json()["days"][-1]["followers"] == 0


async def test_report_range_is_checked_and_for_artists_only(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    _artist, tokens = await make_profile(client, backend, name="Nova")

    async def detail(**params: str) -> str:
        answer = await report(client, backend, tokens, **params)
        assert answer.status_code == 422, answer.text
        return str(answer.json()["detail"])

    assert "from (2026-03-02) is after to (2026-03-01)" in await detail(
        **{"from": "2026-03-02", "to": "2026-03-01"}
    )
    start = date(2025, 1, 1)
    too_long = start + timedelta(days=MAX_RANGE_DAYS)
    assert f"the range is {MAX_RANGE_DAYS + 1} days; at most {MAX_RANGE_DAYS}" in await detail(
        **{"from": start.isoformat(), "to": too_long.isoformat()}
    )
    assert "to" in await detail(to="2026-02-30")
    assert "between 2020-01-01 and 2100-12-31" in await detail(**{"from": "1999-12-31"})
    assert "between" in await detail(to="9999-12-31")
    assert "from must be between" in await detail(**{"from": "9999-12-31"})  # was a 500
    assert "to must be between" in await detail(to="0001-01-01")
    longest = await report(
        client,
        backend,
        tokens,
        **{"from": start.isoformat(), "to": (too_long - timedelta(days=1)).isoformat()},
    )
    assert longest.status_code == 200 and len(longest.json()["days"]) == MAX_RANGE_DAYS
    unknown = await report(client, backend, tokens, since="2026-01-01")
    assert unknown.status_code == 400

    anonymous = await client.get(f"{backend.url}/me/analytics")
    assert anonymous.status_code == 401
    _fan, fan_tokens = await make_profile(client, backend, role="fan", name="Fan")
    fan = await report(client, backend, fan_tokens)
    assert fan.status_code == 403 and "artist" in fan.json()["detail"]


async def test_the_fan_page_reports_a_play_after_30_s_once_an_hour(
    backend: RunningBackend, client: httpx.AsyncClient
) -> None:
    if reason := browser_missing():
        pytest.skip(reason)
    artist, tokens = await make_profile(client, backend, name="Nova")
    cid = await upload(client, backend, tokens, tone_wav(40.0))
    body = {"title": "Long tone", "cid": cid, "duration_s": 40.0}
    listed = await client.post(f"{backend.url}/tracks", json=body, headers=bearer(tokens))
    assert listed.status_code == 201, listed.text
    cmd = [
        "node", str(Path(__file__).with_name("fan_plays_check.mjs")),
        "--page", f"{backend.url}/fan/?artist={artist.address}",
    ]  # fmt: skip
    done = await asyncio.to_thread(
        subprocess.run, cmd, cwd=ROOT, capture_output=True, text=True, timeout=180
    )
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert lines, f"no result: {done.stdout[-2000:]} {done.stderr[-2000:]}"
    result = json.loads(lines[-1][len("RESULT ") :])
    assert "failure" not in result, result.get("failure")
    assert result["errors"] == []
    reports = result["reports"]
    assert [r["report"] for r in reports] == ["counted", "not-counted"], reports
    assert all(r["at"] >= 30 for r in reports), "reported after 30 s of playback, not before"
    assert result["listener"] == result["listenerAgain"], "the page keeps its listener id"
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,64}", result["listener"])

    figures = (await report(client, backend, tokens)).json()["tracks"]
    assert [(t["title"], t["plays"], t["listeners"]) for t in figures] == [("Long tone", 1, 1)]
    services = services_of(backend.app)  # type: ignore[arg-type]
    async with services.sessions() as session:
        stored = list((await session.execute(select(PlayRow.listener))).scalars())
    assert stored == [listener_key(anonymous=result["listener"])]


async def test_income_per_day_comes_from_real_tips_sales_and_subscriptions(
    devnet_env: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    """On the backend's own devnet: a tip (the tip watcher), an edition sold and a fan's resale
    (the market index), a subscription; today's income is each, exact to the wei."""
    _, artist, fan, second_fan = dev_accounts(4)
    tip_wei, price, resale, tier_price = 10**15 + 1, 10**17 + 3, 2 * 10**17 + 5, 10**16 + 7
    async with httpx.AsyncClient(timeout=30) as client, serve(market_config(tmp_path)) as backend:
        chain = await chain_of(client, backend)
        auth = bearer((await make_profile(client, backend, account=artist))[1])

        def on_chain() -> None:
            send_tip(chain.w3, chain.tipping, fan, artist.address, tip_wei, "for the set")
            (edition,) = mint_editions(
                chain.w3, chain.registry, chain.nft, artist, MARKET_CID, 1, royalty_bps=1000
            )
            list_for_sale(chain.w3, chain.market, chain.nft, artist, [edition], price)
            buy_edition(chain.w3, chain.market, fan, edition)
            list_for_sale(chain.w3, chain.market, chain.nft, fan, [edition], resale)
            buy_edition(chain.w3, chain.market, second_fan, edition)
            chain.send(artist, chain.subs.functions.set_tiers(["Fan"], [tier_price]))
            subscribe(chain.w3, chain.subs, fan, artist.address, 0, 2)

        await asyncio.to_thread(on_chain)

        async def today() -> dict[str, Any]:
            answer = await client.get(f"{backend.url}/me/analytics", headers=auth)
            assert answer.status_code == 200, answer.text
            return answer.json()["days"][-1]  # type: ignore[no-any-return]

        for _ in range(600):  # the tip watcher and the market index read confirmed blocks
            figures = await today()
            if figures["tips"] and figures["sales"] == 2 and figures["subscriptions"]:
                break
            await asyncio.sleep(0.1)
        assert figures["tips"] == 1 and figures["tips_wei"] == str(tip_wei)
        # the artist's own edition earns its price; the fan's resale earns the 10 % royalty
        assert figures["sales"] == 2 and figures["sales_wei"] == str(price + resale // 10)
        assert figures["subscriptions"] == 1
        assert figures["subscriptions_wei"] == str(2 * tier_price)


async def test_followers_from_before_the_analytics_revision_count_from_their_day(
    tmp_path: Path,
) -> None:
    """Migration 0005 turns the follows already there into follow events of their day."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    artist, fans = "0x" + "A" * 40, ["0x" + c * 40 for c in "123"]
    followed = datetime(2026, 3, 10, 18, tzinfo=UTC)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(lambda sync: command.upgrade(_alembic_config(sync), "0004"))
        async with make_sessions(engine).begin() as session:
            session.add(Account(address=artist, role="artist", display_name="Nova"))
            await session.flush()
            session.add_all(
                Follow(follower=fan, artist=artist, created_at=followed + timedelta(days=i))
                for i, fan in enumerate(fans)
            )
        await migrate(engine)
        async with make_sessions(engine)() as session:
            shown = await build_report(session, artist, date(2026, 3, 9), date(2026, 3, 13), 10)
    finally:
        await engine.dispose()
    assert [d.followers for d in shown.days] == [0, 1, 2, 3, 3]
    assert [d.followers_gained for d in shown.days] == [0, 1, 1, 1, 0]
