"""A new artist's first hour, in the real window, from a fresh home (empty XDG dirs, an
empty keyring): the first-run guide opens by itself; name, a new wallet (funded by the local
faucet), sources with their preview and level, a 5-second test recording played back, the
fan-page link; then a track dropped on the Library and registered, a fan's tip, and the
tip withdrawn. Nothing is written by hand: every step is a click or a keystroke.

Screenshots of each guide page go to test-artifacts/first-run-*.png (the README shows them)."""

import asyncio
import tomllib
import uuid
from pathlib import Path

import httpx
import pytest
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QWizard

from media.sources import list_microphones
from studio import paths
from studio.cli import open_settings, parse_args, resolve_profile
from studio.core import Studio
from studio.first_run import Sources
from studio.publishing.upload_queue import State
from tests.support.wallet_forms import answer_create_dialog
from tests.uploads.audio import make_audio
from tests.window_journeys.conftest import next_dialog, wait_until
from tests.window_journeys.test_library import answer_registration
from tests.window_wallet.conftest import tip
from widgets.app import StudioGui
from widgets.theme import apply_dark_theme

pytestmark = pytest.mark.slow

NAME = "Nina Aurora"


@pytest.fixture
def empty_keyring(secret_service, request: pytest.FixtureRequest, monkeypatch):  # type: ignore[no-untyped-def]
    """The studio's `Wallet()` on the private keyring, a service of its own with no key in
    it. A quick scrypt: the suite runs on 2 shared cores."""
    from keyring.backends import SecretService

    import chain.wallet
    from chain.wallet import KeyringVault, Wallet

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    vault = KeyringVault(
        backend=SecretService.Keyring(), service=f"harmonie-first-run-{uuid.uuid4().hex[:8]}"
    )
    wallet = Wallet(vault, scrypt_n=2**12)
    assert wallet.accounts() == []
    monkeypatch.setattr(chain.wallet, "Wallet", lambda: wallet)
    return vault


def shoot(guide: QWizard, artifacts: Path, name: str) -> None:
    guide.grab().save(str(artifacts / f"first-run-{name}.png"))


async def create_wallet(page, password: str) -> str:  # type: ignore[no-untyped-def]
    """The Wallet dock's Create dialog, answered as the artist: phrase shown, three of its
    words typed back, a password twice."""
    from widgets.wallet.wallet_dialogs import CreateWalletDialog

    page.create_button.click()
    dialog = await next_dialog(CreateWalletDialog)
    answer_create_dialog(dialog, password)
    dialog.create_button.click()
    await wait_until(lambda: not dialog.isVisible(), 120, "the wallet to be created")
    assert dialog.created_address, dialog.error.text()
    return dialog.created_address


def pick(combo, spec: str) -> None:  # type: ignore[no-untyped-def]
    """Choose `spec` in a picker as a person does (an activated index)."""
    index = combo.findData(spec)
    assert index >= 0, f"{spec} is not offered: {[combo.itemData(i) for i in range(combo.count())]}"
    combo.setCurrentIndex(index)
    combo.activated.emit(index)


def test_fresh_home_to_registered_track_and_withdrawal(  # type: ignore[no-untyped-def]
    qtbot, qasync_loop, empty_keyring, pulse, isolated_dirs, tmp_path: Path, artifacts_dir: Path
) -> None:
    password = "first run password"
    assert not any(isolated_dirs.rglob("*.toml")), "a fresh home"
    list_microphones(refresh=True)  # PortAudio finds the private PulseAudio to play on
    settings = open_settings()
    apply_dark_theme(QApplication.instance())  # as run_gui does: screenshots show the real look
    gui = StudioGui(Studio(resolve_profile(parse_args([]), settings), settings))
    qtbot.addWidget(gui.window)
    gui.show()
    track = make_audio(tmp_path, "flac", seconds=1.0, name="First light", title="First light")

    async def quit_after(steps) -> None:  # type: ignore[no-untyped-def]
        """The steps, then Quit as File > Quit does, whether the steps passed or not."""
        life = asyncio.ensure_future(gui.lifetime())
        try:
            await steps()
        finally:
            gui.window.quit_requested.emit()
            assert await asyncio.wait_for(life, 10) == 0
        followers = [
            t for t in asyncio.all_tasks() if t.get_name() == "event-follower" and not t.done()
        ]
        assert not followers, "every tip watcher stopped with the studio"

    async def scenario() -> None:
        await wait_until(lambda: gui.first_run is not None, 120, "the guide at the first start")
        guide = gui.first_run
        await wait_until(guide.isVisible, 10, "the guide on screen")
        assert gui.window.first_run_action.isEnabled()

        # 1. the name fans see
        assert guide.currentPage() is guide.name_page
        guide.name_page.name.setText(NAME)
        shoot(guide, artifacts_dir, "1-name")
        guide.next()

        # 2. a new wallet, and coin to start on the local chain
        page = guide.wallet_page
        assert guide.currentPage() is page
        assert "no wallet yet" in page.status.text()
        shoot(guide, artifacts_dir, "2-wallet")
        address = await create_wallet(page, password)
        assert gui.studio.wallet.address == address
        await wait_until(lambda: address in page.status.text(), 10, "the address on the page")
        await wait_until(lambda: "10 DEV" in page.balance.text(), 60, "the faucet's coin")
        shoot(guide, artifacts_dir, "2-wallet-created")
        guide.next()

        # 3. sources, previewed with their level
        page = guide.sources_page
        assert guide.currentPage() is page
        pick(page.video, "testsrc")
        pick(page.audio, "tone")
        check = guide.check
        await wait_until(lambda: check.state == "previewing", 60, "the preview")
        await wait_until(lambda: not page.preview.pixmap().isNull(), 30, "a preview picture")
        await wait_until(lambda: page.meter.rms_db[0] > -40, 30, "the test tone on the level meter")
        shoot(guide, artifacts_dir, "3-sources")
        guide.next()

        # 4. a test recording, played back
        page = guide.recording_page
        assert guide.currentPage() is page
        await wait_until(lambda: gui.studio.live is not None and check.state != "previewing", 30)
        assert not page.play_button.isEnabled(), "nothing to play yet"
        page.record_button.click()
        await wait_until(lambda: check.state == "recording", 60, "the recording")
        await wait_until(lambda: "s left" in page.status.text(), 10, "the countdown")
        await wait_until(lambda: check.state == "recorded", 60, "the recording done")
        assert check.recorded is not None and check.recorded.stat().st_size > 10_000
        assert page.play_button.isEnabled()
        page.play_button.click()
        await wait_until(lambda: check.state == "playing", 10, "the playback")
        assert page.screen.text() == "Playing back…"
        await wait_until(lambda: not page.screen.pixmap().isNull(), 30, "the recording's picture")
        assert check.picture() is not None
        await wait_until(lambda: page.status.text().startswith("Playing"), 5, "its status")
        shoot(guide, artifacts_dir, "4-test-recording")
        await wait_until(lambda: check.state == "recorded", 60, "the playback to end")
        assert check.message.startswith("Played back"), check.message
        guide.next()

        # 5. where fans watch
        page = guide.fans_page
        assert guide.currentPage() is page
        fan_url = f"{gui.studio.backend_url}/fan/"
        assert page.link.text() == fan_url
        assert not page.qr.pixmap().isNull()
        page.copy_button.click()
        assert QGuiApplication.clipboard().text() == fan_url
        async with httpx.AsyncClient() as client:
            assert (await client.get(fan_url)).status_code == 200, "the page fans open"
        shoot(guide, artifacts_dir, "5-fans")
        guide.button(QWizard.WizardButton.FinishButton).click()
        await wait_until(lambda: not guide.isVisible(), 10, "the guide to close")

        saved = tomllib.loads((paths.config_dir() / "settings.toml").read_text())
        assert saved["first_run_done"] is True and saved["artist_name"] == NAME
        assert saved["sources"] == {"video": "testsrc", "overlay": "none", "audio": "tone"}
        golive = gui.journeys.golive_panel
        assert golive.video_picker.currentData() == "testsrc"
        assert golive.audio_picker.currentData() == "tone"

        # a track dropped on the Library, registered with the new wallet's coin
        from tests.window_journeys.conftest import Desk, drop_files

        desk = Desk(gui.studio, gui.window, gui.journeys, isolated_dirs)
        library = gui.journeys.library_panel
        gui.window.tabs.setCurrentWidget(library)
        drop_files(library.drop_zone, [track])
        if not gui.studio.wallet.unlocked:  # unlocked at its creation, for a few minutes
            await wait_until(library.unlock_button.isVisible, 120, "the Library to ask to unlock")
            library.unlock_button.click()
            await unlock_with(desk, password)
        await answer_registration(desk, accept=True)
        await wait_until(
            lambda: [t.state for t in gui.studio.publish.tracks()] == [State.LISTED],
            90,
            "the track listed",
        )

        # a fan's tip, withdrawn from the Revenue page
        await wait_until(lambda: gui.journeys.tips_ui is not None, 60, "the Revenue page")
        ui = gui.journeys.tips_ui
        chain = (await httpx.AsyncClient().get(f"{gui.studio.backend_url}/chain")).json()
        rpc = f"{gui.studio.backend_url}{chain['rpc_path']}"
        await asyncio.to_thread(tip, rpc, chain["contracts"]["tipping"], address, 10**18, "hi")
        await wait_until(lambda: ui.dashboard.withdrawable_wei == 10**18, 60, "the tip")
        if not gui.studio.wallet.unlocked:
            gui.journeys.wallet_panel.open_unlock()
            await unlock_with(desk, password)
        await wait_until(ui.dashboard.withdraw_button.isEnabled, 30, "Withdraw on")
        ui.dashboard.withdraw_button.click()
        flow = ui.withdraw
        await wait_until(lambda: flow.dialog is not None and flow.dialog.isVisible(), 30)
        assert "withdraw" in flow.dialog.fields["Action"].text().lower()
        flow.dialog.sign_button.click()
        assert await flow.task is not None, "the withdrawal was mined"
        await wait_until(lambda: ui.dashboard.withdrawable_wei == 0, 60, "nothing left to withdraw")

        # Help > First-run guide again, clicked through: it shows what is, changes nothing
        settings_file = paths.config_dir() / "settings.toml"
        before = settings_file.read_bytes()
        gui.window.first_run_action.trigger()
        await wait_until(lambda: gui.first_run is not guide and gui.first_run.isVisible(), 10)
        again = gui.first_run
        assert again.name_page.name.text() == NAME
        again.next()
        assert address in again.wallet_page.status.text()
        again.next()
        assert again.sources_page.sources() == Sources("testsrc", "none", "tone")
        await wait_until(lambda: again.check.state == "previewing", 60, "the preview")
        again.next()
        again.next()
        again.button(QWizard.WizardButton.FinishButton).click()
        await wait_until(lambda: not again.isVisible(), 10, "the guide to close")
        await wait_until(lambda: all(t.done() for t in again.tasks), 30, "the sources closed")
        assert again.check.session.state == "ended"
        assert settings_file.read_bytes() == before, "nothing the artist did not touch"
        assert gui.studio.settings.get("artist_name") == NAME

    qasync_loop.run_until_complete(asyncio.wait_for(quit_after(scenario), 600))


async def unlock_with(desk, password: str) -> None:  # type: ignore[no-untyped-def]
    from widgets.wallet.unlock_dialog import UnlockDialog

    dialog = await next_dialog(UnlockDialog)
    dialog.password.setText(password)
    dialog.unlock_button.click()
    await wait_until(lambda: desk.studio.wallet.unlocked, 60, "the wallet to unlock")


def test_every_step_skips_and_skipping_keeps_only_what_was_confirmed(  # type: ignore[no-untyped-def]
    qtbot, qasync_loop, tmp_path: Path
) -> None:
    """Next keeps a step, Skip the guide leaves the rest: a name confirmed is kept, sources
    changed but not confirmed are not, and the guide does not come back at the next start."""
    from studio.first_run import needs_first_run
    from studio.profiles import LOCAL
    from studio.settings import Settings
    from widgets.dialogs import show
    from widgets.first_run import FirstRunGuide

    QApplication.instance().setQuitOnLastWindowClosed(False)  # as the app: the tray keeps it
    path = tmp_path / "settings.toml"
    studio = Studio(LOCAL, Settings.open(path), tmp_path / "data", tmp_path / "logs")
    guide = FirstRunGuide(studio)  # a studio not started: no wallet, no backend
    qtbot.addWidget(guide)

    async def scenario() -> None:
        show(guide)
        guide.name_page.name.setText(NAME)
        guide.next()
        assert not guide.wallet_page.create_button.isEnabled()
        assert "no chain" in guide.wallet_page.create_button.toolTip()
        guide.next()
        pick(guide.sources_page.video, "testsrc")
        pick(guide.sources_page.audio, "tone")
        await wait_until(lambda: guide.check.state == "previewing", 60, "the preview")
        guide.button(QWizard.WizardButton.CancelButton).click()  # "Skip the guide"
        await wait_until(lambda: all(t.done() for t in guide.tasks), 30, "the sources closed")
        assert guide.check.session.state == "ended"

    assert guide.button(QWizard.WizardButton.CancelButton).text() == "Skip the guide"
    qasync_loop.run_until_complete(asyncio.wait_for(scenario(), 120))
    kept = tomllib.loads(path.read_text())
    assert kept["artist_name"] == NAME and kept["first_run_done"] is True
    assert "sources" not in kept, "sources not confirmed with Next are not kept"
    assert not needs_first_run(Settings.open(path))
    assert "no backend" in guide.fans_page.link.text()
    assert not guide.fans_page.copy_button.isEnabled()
