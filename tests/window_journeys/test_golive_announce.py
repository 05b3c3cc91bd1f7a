"""Going live with a locked wallet, in the real window (in-process desk: real local backend,
devnet, keyring): the panel asks to unlock or to go live unannounced; unlocking mid-show
announces the show; a show needs a title; Share gives the fan-page link and its QR code."""

from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from tests.window_journeys.conftest import PASSWORD, Desk, next_dialog, wait_until
from widgets.live.golive_panel import LOCKED_TITLE, NO_TITLE_WHY
from widgets.live.share_dialog import ShareDialog

pytestmark = pytest.mark.slow


def choose(picker, spec: str) -> None:  # type: ignore[no-untyped-def]
    index = picker.findData(spec)
    assert index >= 0, f"{spec} is not offered"
    picker.setCurrentIndex(index)


def prepare(desk: Desk, recording: Path, title: str) -> None:
    """Test pattern + tone to the local ingest (its URL and key as the panel fills them)."""
    panel = desk.golive
    desk.window.tabs.setCurrentWidget(panel)
    choose(panel.video_picker, "testsrc")
    choose(panel.audio_picker, "tone")
    panel.title.setText(title)
    panel.record.setChecked(True)
    panel.record_path.setText(str(recording))
    assert panel.whip_url.text().endswith("/whip/live") and panel.stream_key.text()


async def locked_question(answer: str) -> None:
    box = await next_dialog(QMessageBox, 30)
    assert box.windowTitle() == LOCKED_TITLE
    labels = {button.text(): button for button in box.buttons()}
    assert {"Unlock and announce", "Go live unannounced", "Cancel"} <= set(labels), labels
    labels[answer].click()


async def type_password(desk: Desk) -> None:
    from widgets.wallet.unlock_dialog import UnlockDialog

    dialog = await next_dialog(UnlockDialog, 30)
    dialog.password.setText(PASSWORD)
    dialog.unlock_button.click()
    await wait_until(lambda: desk.studio.wallet.unlocked, 60, "the wallet to unlock")


def live_titles(desk: Desk) -> dict[str, str]:
    """The backend's list of live shows, as fans see it: id -> title."""
    answer = httpx.get(f"{desk.studio.backend_url}/live", timeout=10)
    answer.raise_for_status()
    return {item["id"]: item["title"] for item in answer.json()["items"]}


async def share(desk: Desk) -> ShareDialog:
    panel = desk.golive
    await wait_until(lambda: panel.share.isEnabled(), 30, "Share to be offered")
    panel.share.click()
    dialog = await next_dialog(ShareDialog, 10)
    assert not dialog.qr.pixmap().isNull()
    dialog.copy_button.click()
    assert QGuiApplication.clipboard().text() == dialog.link.text()
    return dialog


async def end_show(desk: Desk) -> None:
    panel = desk.golive
    panel.end.click()
    await wait_until(lambda: desk.studio.live.state == "ended", 60, "the show to end")
    assert not panel.share.isEnabled()


def test_a_show_needs_a_title_and_a_locked_wallet_asks_before_going_live(
    on_desk, tmp_path: Path, artifacts_dir: Path
) -> None:  # type: ignore[no-untyped-def]
    async def scenario(desk: Desk) -> None:
        panel, studio = desk.golive, desk.studio
        prepare(desk, tmp_path / "titled.mkv", "")
        assert not panel.go_live.isEnabled() and panel.go_live.toolTip() == NO_TITLE_WHY
        assert not panel.share.isEnabled(), "nothing to share before the show"
        panel.title.setText("Sunday session")
        assert panel.go_live.isEnabled() and not studio.wallet.unlocked

        panel.go_live.click()  # the artist cancels the question: nothing starts
        await locked_question("Cancel")
        await wait_until(lambda: panel.go_live.isEnabled(), 10, "Go Live again")
        assert studio.live.state == "idle"

        panel.go_live.click()  # then unlocks: the show is announced under its title
        await locked_question("Unlock and announce")
        await type_password(desk)
        await wait_until(lambda: studio.announcer.stream is not None, 60, "the announcement")
        stream = studio.announcer.stream
        assert live_titles(desk).get(stream.id) == "Sunday session"
        await wait_until(lambda: studio.live.publish_state == "live", 90, "publishing")
        assert studio.live.options.whip_url.endswith(f"/whip/{stream.id}")
        dialog = await share(desk)
        assert dialog.link.text() == f"{studio.backend_url}/fan/?stream={stream.id}"
        dialog.grab().save(str(artifacts_dir / "window-golive-share.png"))
        await end_show(desk)
        await wait_until(lambda: stream.id not in live_titles(desk), 30, "the show's end")

    on_desk(scenario)


def test_live_unannounced_then_unlocking_mid_show_announces_it(on_desk, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def scenario(desk: Desk) -> None:
        panel, studio = desk.golive, desk.studio
        live = studio.live
        prepare(desk, tmp_path / "late.mkv", "Late announcement")
        panel.go_live.click()
        await locked_question("Go live unannounced")
        await wait_until(lambda: live.publish_state == "live", 90, "publishing")
        assert studio.announcer.stream is None and not live_titles(desk)
        assert any("locked" in m for m in live.messages), live.messages
        dialog = await share(desk)  # the relay's own stream, before any announcement
        assert dialog.link.text() == f"{studio.backend_url}/fan/?stream=live"

        desk.journeys.wallet_panel.open_unlock()  # mid-show, from the Wallet dock
        await type_password(desk)
        await wait_until(lambda: studio.announcer.stream is not None, 60, "the announcement")
        stream = studio.announcer.stream
        assert live_titles(desk) == {stream.id: "Late announcement"}
        await wait_until(
            lambda: (
                live.options.whip_url.endswith(f"/whip/{stream.id}")
                and live.publish_state == "live"
            ),
            90,
            "publishing to the announced stream",
        )
        await wait_until(
            lambda: dialog.link.text().endswith(f"?stream={stream.id}"), 10, "the new link"
        )
        assert live.state == "live", "the show went on"
        assert any(m.startswith("Announced") for m in live.messages), live.messages
        await end_show(desk)
        assert "Recording saved" in panel.message_label.text()

    on_desk(scenario)
    assert (tmp_path / "late.mkv").stat().st_size > 10_000
