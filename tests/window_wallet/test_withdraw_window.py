"""The real main window (pytest-qt, offscreen) over the real studio: its local backend and
devnet, the artist's key in a real gnome-keyring. Withdraw is off with a reason while the
wallet is locked, asks for confirmation once unlocked; cancel sends nothing, accept
withdraws; Quit then ends the studio and its backend."""

import asyncio
from collections.abc import Callable

import httpx
import pytest
from eth_account import Account
from PySide6.QtWidgets import QMessageBox

from chain.wallet import Wallet
from studio.cli import open_settings, parse_args, resolve_profile
from studio.core import Studio
from tests.journeys.test_studio_tips import ARTIST_KEY
from tests.support.studio_process import pid_alive
from tests.window_wallet.conftest import PASSWORD, tip
from widgets.app import StudioGui
from widgets.dialogs import open_dialogs

pytestmark = pytest.mark.slow


async def until(check: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture
def keyring_bus(secret_service, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)


def test_withdraw_locked_cancelled_then_accepted_and_quit(qtbot, qasync_loop, keyring_bus):
    artist = Wallet().import_private_key(ARTIST_KEY, PASSWORD)
    assert artist == Account.from_key(ARTIST_KEY).address
    settings = open_settings()
    gui = StudioGui(Studio(resolve_profile(parse_args([]), settings), settings))
    qtbot.addWidget(gui.window)
    gui.show()

    async def scenario() -> None:
        life = asyncio.ensure_future(gui.lifetime())
        await until(lambda: gui.journeys.tips_ui is not None, "the Revenue page", 120)
        ui, session = gui.journeys.tips_ui, gui.studio.wallet
        dashboard, flow = ui.dashboard, ui.withdraw
        backend = gui.studio.backend_url
        chain = (await httpx.AsyncClient().get(f"{backend}/chain")).json()
        rpc = f"{backend}{chain['rpc_path']}"
        await asyncio.to_thread(tip, rpc, chain["contracts"]["tipping"], artist, 10**18, "hi")
        await until(lambda: dashboard.withdrawable_wei == 10**18, "the tip on the dashboard")

        assert not session.unlocked
        assert not dashboard.withdraw_button.isEnabled(), "locked: Withdraw is off"
        assert "Unlock the wallet" in dashboard.withdraw_button.toolTip()

        unlock = gui.journeys.wallet_panel.open_unlock()
        unlock.password.setText(PASSWORD)
        unlock.try_unlock()
        await unlock.busy
        await until(dashboard.withdraw_button.isEnabled, "Withdraw on once unlocked")
        assert "Withdraw 1 DEV" in dashboard.withdraw_button.toolTip()

        dashboard.withdraw_button.click()
        await until(lambda: flow.dialog is not None and flow.dialog.isVisible(), "confirmation")
        assert not dashboard.withdraw_button.isEnabled(), "one withdrawal at a time"
        assert "under way" in dashboard.withdraw_button.toolTip()
        flow.dialog.reject()
        assert await flow.task is None
        assert session.recent() == [], "cancelled: nothing signed or sent"
        await until(dashboard.withdraw_button.isEnabled, "Withdraw on again after cancel")

        dashboard.withdraw_button.click()
        await until(lambda: flow.dialog is not None and flow.dialog.isVisible(), "confirmation")
        assert "withdraw" in flow.dialog.fields["Action"].text().lower()
        flow.dialog.accept()
        tx_hash = await flow.task
        assert tx_hash is not None and session.recent()[0].status == "mined"
        await until(lambda: dashboard.withdrawable_wei == 0, "the dashboard at 0")
        assert not dashboard.withdraw_button.isEnabled()
        assert "Nothing to withdraw" in dashboard.withdraw_button.toolTip()
        assert not [d for d in open_dialogs() if isinstance(d, QMessageBox)], "no message"

        pid = gui.studio.local_backend.process.pid
        gui.window.quit_requested.emit()  # what File > Quit and the tray's Quit do
        assert await asyncio.wait_for(life, 10) == 0
        assert not pid_alive(pid), "the backend ends with the studio"

    qasync_loop.run_until_complete(scenario())
