"""Issue 17 (analytics) in the real window: the studio's own backend holds a week of the
artist's figures (plays of two tracks, a show's viewers every 10 s, follows and unfollows, a
tip and a subscription) and a fan page reports one more play; the Analytics tab draws plays
per track, viewers per show, followers and income on date axes, and exports the same
figures as CSV through its save dialog."""

import asyncio
import csv
import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.window_journeys.conftest import Desk, wait_until
from tests.window_journeys.test_library import unlock
from widgets.dialogs import open_dialogs

pytestmark = pytest.mark.slow

ETHER = 10**18
TIP_WEI = ETHER // 2
SUPPORT_WEI = 3 * ETHER // 100


def stamp(at: datetime) -> str:
    """A timestamp as the backend stores it in SQLite (UTC, no offset)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def seed(database: Path, artist: str, today: datetime) -> dict[str, object]:
    """A week of history for `artist`, straight into the backend's database (WAL: the
    running backend reads it as it is); what the tab should show."""
    day = [today - timedelta(days=6 - i) for i in range(7)]  # noon of each of the 7 days
    with sqlite3.connect(database, timeout=30) as db:
        ids = []
        for title, cid in (("Dawn", "bafkrei" + "a" * 52), ("Dusk", "bafkrei" + "b" * 52)):
            cursor = db.execute(
                "INSERT INTO tracks (artist_address, artist_name, title, cid, duration_s, "
                "created_at) VALUES (?, 'Nova', ?, ?, 180.0, ?)",
                (artist, title, cid, stamp(day[0])),
            )
            ids.append(cursor.lastrowid)
        dawn, dusk = ids
        plays = []
        for i, at in enumerate(day):
            for n in range(i + 1):  # Dawn: 1, 2, ... 7 plays a day
                plays.append((dawn, f"dawn-{i}-{n}", at + timedelta(minutes=n)))
            plays.append((dusk, f"dusk-{i}", at))  # Dusk: 1 a day
        db.executemany(
            "INSERT INTO analytics_plays (track_id, artist, listener, hour, at) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                (track, artist, hashlib.sha256(who.encode()).hexdigest(),
                 stamp(at.replace(minute=0, second=0, microsecond=0)), stamp(at))
                for track, who, at in plays
            ],
        )  # fmt: skip
        follows = [(day[1], 1), (day[2], 1), (day[2], 1), (day[4], -1), (day[5], 1)]
        db.executemany(
            "INSERT INTO analytics_follow_events (artist, delta, at) VALUES (?, ?, ?)",
            [(artist, delta, stamp(at)) for at, delta in follows],
        )
        start = day[4].replace(hour=20, minute=0, second=0, microsecond=0)
        db.execute(
            "INSERT INTO streams (id, artist_address, title, viewers, started_at, ended_at) "
            "VALUES ('friday', ?, 'Friday session', 0, ?, ?)",
            (artist, stamp(start), stamp(start + timedelta(minutes=30))),
        )
        viewers = [min(k // 6, 25) for k in range(180)]  # every 10 s for 30 minutes
        db.executemany(
            "INSERT INTO analytics_viewer_samples (stream_id, at, artist, viewers) "
            "VALUES ('friday', ?, ?, ?)",
            [(stamp(start + timedelta(seconds=10 * k)), artist, v) for k, v in enumerate(viewers)],
        )
        db.execute(
            "INSERT INTO analytics_tips (tx_hash, log_index, artist, fan, amount_wei, "
            "block_number, at) VALUES (?, 0, ?, ?, ?, 7, ?)",
            ("0x" + "7" * 64, artist, "0x" + "f" * 40, str(TIP_WEI), stamp(day[3])),
        )
        db.execute(
            "INSERT INTO market_supports (tx_hash, log_index, block_number, fan, artist, tier, "
            "periods, amount_wei, active_until, renewal, created_at) "
            "VALUES (?, 0, 8, ?, ?, 0, 1, ?, 0, 0, ?)",
            ("0x" + "8" * 64, "0x" + "e" * 40, artist, str(SUPPORT_WEI), stamp(day[5])),
        )
    return {
        "dawn": dawn,
        "dawn_plays": sum(range(1, 8)),
        "dusk_plays": 7,
        "followers": 3,
        "viewers": viewers,
    }


@pytest.mark.timeout(300)
def test_the_analytics_tab_draws_the_figures_and_exports_them(  # type: ignore[no-untyped-def]
    on_desk, tmp_path: Path, artifacts_dir: Path
) -> None:
    async def scenario(desk: Desk) -> None:
        studio, journeys = desk.studio, desk.journeys
        panel = journeys.analytics_panel
        assert panel is not None, "an Analytics tab on a profile with a backend"
        assert desk.window.pages["analytics"] is panel

        # shown while the wallet is locked: it says what to do, and exports nothing
        desk.window.tabs.setCurrentWidget(panel)
        await wait_until(lambda: panel.loading is not None and panel.loading.done(), 30)
        assert "Unlock the wallet" in panel.status.text(), panel.status.text()
        assert not panel.export_button.isEnabled()

        journeys.wallet_panel.open_unlock()
        await unlock(desk)
        await studio.backend_client.access_token()  # signed in: the artist profile exists
        artist = studio.wallet.address
        today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
        database = studio.local_backend.data_dir / "backend.db"
        expected = await asyncio.to_thread(seed, database, artist, today)
        # and one play from a fan page, through the API (the page's listener id)
        async with httpx.AsyncClient(timeout=10) as http:
            played = await http.post(
                f"{studio.backend_url}/plays",
                json={"track_id": expected["dawn"], "listener": "window-fan-000000001",
                      "played_s": 31.0},
            )  # fmt: skip
        assert played.json()["counted"] is True, played.text

        # a range the backend refuses is refused here first, in words
        panel.from_edit.setDate(panel.to_edit.date().addDays(1))
        assert not panel.refresh_button.isEnabled()
        assert "is after To" in panel.refresh_button.toolTip()
        panel.from_edit.setDate(panel.to_edit.date().addDays(-9))
        assert panel.refresh_button.isEnabled(), panel.refresh_button.toolTip()
        panel.refresh_button.click()
        await wait_until(lambda: panel.loading.done(), 30, "the report")
        assert panel.report is not None, panel.status.text()
        assert len(panel.report.days) == 10

        plays = {s.name: s for s in panel.plays.series}
        assert set(plays) == {"Dawn", "Dusk"}
        assert sum(y for _, y in plays["Dawn"].points) == expected["dawn_plays"] + 1
        assert sum(y for _, y in plays["Dusk"].points) == expected["dusk_plays"]
        assert plays["Dawn"].points[-1][1] == 7 + 1, "today: 7 seeded and the fan page's"
        (show,) = panel.viewers.series
        assert show.name.startswith("Friday session (")
        assert [y for _, y in show.points] == expected["viewers"]
        (followers,) = panel.followers.series
        assert followers.points[-1][1] == expected["followers"]
        assert [y for _, y in followers.points][:3] == [0, 0, 0]
        income = {s.name: sum(y for _, y in s.points) for s in panel.income.series}
        assert income == {"Tips": 0.5, "Sales": 0.0, "Subscriptions": 0.03}
        totals = panel.totals.text()
        assert f"{expected['dawn_plays'] + expected['dusk_plays'] + 1} plays" in totals
        assert "1 show (peak 25 viewers)" in totals and "3 followers (+3)" in totals

        await asyncio.sleep(0.3)  # let the charts paint
        desk.window.grab().save(str(artifacts_dir / "analytics-tab.png"))

        # Export CSV: a save dialog that does not block the loop
        report = panel.report
        target = tmp_path / "exports" / f"analytics-{report.from_day}-{report.to_day}.csv"
        target.parent.mkdir()
        assert panel.export_button.isEnabled(), panel.export_button.toolTip()
        panel.export_button.click()
        await wait_until(lambda: bool(open_dialogs()), 30, "the save dialog")
        [dialog] = open_dialogs()
        assert dialog.windowTitle() == "Export analytics"
        dialog.selectFile(str(target))  # another folder; the suggested name
        dialog.accept()
        await panel.exporting
        assert "rows exported to" in panel.status.text() and str(target) in panel.status.text()
        with target.open(encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        track_plays = [r for r in rows if r["metric"] == "track_plays"]
        assert sum(int(r["value"]) for r in track_plays if r["subject"] == "Dawn") == 29
        samples = [r for r in rows if r["metric"] == "show_viewers"]
        assert [int(r["value"]) for r in samples] == expected["viewers"]
        assert {r["subject"] for r in samples} == {"Friday session"}
        tips = [r for r in rows if r["metric"] == "tips_wei" and r["value"] != "0"]
        assert [(r["value"], r["coins"], r["subject"]) for r in tips] == [
            (str(TIP_WEI), "0.5", studio.wallet.network.symbol)
        ]
        days = [r for r in rows if r["metric"] == "followers"]
        assert len(days) == 10 and days[-1]["value"] == "3"

    on_desk(scenario)
