"""The Review page, driven as a reviewer does: it appears once the backend says the artist
reviews there, lists and rejects held tracks (each dialog answered No first, then Yes), and
says in words when the backend is gone."""

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from eth_account import Account
from PySide6.QtWidgets import QDialogButtonBox, QInputDialog, QMessageBox

from tests.window_journeys.conftest import ARTIST_KEY, Desk, next_dialog, wait_until
from tests.window_journeys.test_library import unlock
from widgets.dialogs import open_dialogs

pytestmark = pytest.mark.slow


def hold(database: Path, artist: str, title: str, minutes_ago: int) -> int:
    """A track the backend held on a fingerprint match (as backend.discovery stores it)."""
    at = (datetime.now(UTC) - timedelta(minutes=minutes_ago)).strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(database, timeout=30) as db:
        cursor = db.execute(
            "INSERT INTO tracks (artist_address, artist_name, title, cid, duration_s, "
            "created_at, status, held_reason) VALUES (?, 'Copycat', ?, ?, 180.0, ?, 'held', "
            "'This recording matches ''Moonrise'' by Nova; held for review.')",
            (artist, title, "bafkrei" + title.lower().ljust(52, "q")[:52], at),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid


def status_of(database: Path, track_id: int) -> tuple[str, str | None]:
    with sqlite3.connect(database, timeout=30) as db:
        return db.execute(
            "SELECT status, held_reason FROM tracks WHERE id = ?", (track_id,)
        ).fetchone()


@pytest.mark.timeout(300)
def test_a_reviewer_lists_and_rejects_held_tracks_from_the_review_page(  # type: ignore[no-untyped-def]
    on_desk, monkeypatch: pytest.MonkeyPatch, artifacts_dir: Path
) -> None:
    monkeypatch.setenv("HARMONIE_REVIEWERS", Account.from_key(ARTIST_KEY).address)

    async def scenario(desk: Desk) -> None:
        from backend.wire import ProfileIn
        from studio.social.backend_client import BackendClient
        from tests.studio_chat.conftest import key_signer

        studio, journeys, window = desk.studio, desk.journeys, desk.window
        assert "review" not in window.pages  # locked: not signed in, not known as a reviewer
        database = studio.local_backend.data_dir / "backend.db"
        copycat = BackendClient(
            studio.backend_url,
            key_signer(Account.create()),
            chain_id=studio.backend_client.chain_id,
        )
        try:
            await copycat.sign_in()
            await copycat.save_profile(ProfileIn(role="artist", display_name="Copycat"))
            assert copycat.address is not None
            mine = hold(database, copycat.address, "Mine", minutes_ago=30)
            live = hold(database, copycat.address, "Live at the Docks", minutes_ago=10)
        finally:
            await copycat.aclose()

        journeys.wallet_panel.open_unlock()
        await unlock(desk)
        await studio.backend_client.access_token()  # signs in: the backend names us
        await wait_until(lambda: "review" in window.pages, 30, "the Review page")
        panel = journeys.review_panel
        tabs = window.tabs
        assert tabs.tabText(tabs.indexOf(panel)) == "Review (2)"
        tabs.setCurrentWidget(panel)
        await wait_until(lambda: panel.loading is not None and panel.loading.done(), 30)
        assert panel.table.rowCount() == 2
        assert [panel.table.item(r, 0).text() for r in range(2)] == ["Mine", "Live at the Docks"]
        assert "matches 'Moonrise'" in panel.table.item(0, 3).text()
        assert "2 tracks are waiting" in panel.status.text()
        for button in (panel.list_button, panel.reject_button):
            assert not button.isEnabled() and button.toolTip() == "Choose a held track first."
        await asyncio.sleep(0.3)
        window.grab().save(str(artifacts_dir / "review-page.png"))

        # List it: No first (nothing changes), then Yes
        panel.select_track(live)
        assert panel.list_button.isEnabled()
        panel.list_button.click()
        box = await next_dialog(QMessageBox)
        assert "List “Live at the Docks” by Copycat?" in box.text()
        box.button(QMessageBox.StandardButton.No).click()
        await panel.deciding
        assert status_of(database, live)[0] == "held" and panel.table.rowCount() == 2
        panel.list_button.click()
        box = await next_dialog(QMessageBox)
        box.button(QMessageBox.StandardButton.Yes).click()
        await panel.deciding
        assert status_of(database, live) == ("listed", None)
        assert panel.table.rowCount() == 1 and tabs.tabText(tabs.indexOf(panel)) == "Review (1)"
        assert "Listed “Live at the Docks”" in panel.status.text()

        # Reject…: no reason, no Reject; Cancel keeps it held; a reason rejects it
        panel.select_track(mine)
        panel.reject_button.click()
        dialog = await next_dialog(QInputDialog)
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        await wait_until(lambda: not ok.isEnabled(), 5, "Reject off while no reason is given")
        dialog.setTextValue("   ")
        assert not ok.isEnabled()
        dialog.reject()
        await panel.deciding
        assert status_of(database, mine)[0] == "held"
        panel.reject_button.click()
        dialog = await next_dialog(QInputDialog)
        dialog.setTextValue("the same master as Nova's Moonrise")
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        assert ok.isEnabled() and ok.text() == "Reject"
        ok.click()
        await panel.deciding
        assert status_of(database, mine) == (
            "rejected",
            "Rejected on review: the same master as Nova's Moonrise",
        )
        assert panel.table.rowCount() == 0 and tabs.tabText(tabs.indexOf(panel)) == "Review"
        assert not panel.reject_button.isEnabled()

        # the backend gone: Refresh says so in the status line, no box
        await studio.local_backend.stop()
        panel.refresh_button.click()
        await wait_until(lambda: panel.loading.done(), 30, "the refresh")
        assert "could not be read" in panel.status.text(), panel.status.text()
        assert "cannot be reached" in panel.status.text()
        assert open_dialogs() == []

    on_desk(scenario)
