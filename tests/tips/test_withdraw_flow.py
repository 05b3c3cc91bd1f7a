"""Withdraw from the dashboard through the wallet session and the confirmation dialog, on anvil."""

import asyncio
from pathlib import Path

import keyring.backend
import pytest
from web3 import AsyncWeb3

from chain.networks import custom_network
from chain.rpc_provider import AsyncRpcProvider
from chain.wallet import KeyringVault, Wallet
from studio.tips.revenue import ChainRevenue, RevenueService
from studio.tips.store import TipStore
from studio.wallet.session import WalletSession
from tests.tips.conftest import TipChain
from widgets.tips.revenue_dashboard import RevenueDashboard
from widgets.wallet.withdraw_flow import WithdrawFlow

PASSWORD = "a long enough password"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """Stands in for the OS keyring (the wallet's own suite runs on gnome-keyring)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture
async def setup(tip_chain: TipChain, tmp_path: Path, qtbot):  # type: ignore[no-untyped-def]
    network = custom_network(
        tip_chain.node.http_url, 1114, contracts={"tipping": tip_chain.address}
    )
    wallet = Wallet(KeyringVault(backend=MemoryKeyring(), service="tips-test"), scrypt_n=2**12)
    session = WalletSession(wallet, network, tmp_path / "tx.db")
    await session.import_private_key(tip_chain.artist.key.hex(), PASSWORD)
    await session.unlock(PASSWORD)
    await session.connect()
    await asyncio.to_thread(tip_chain.tip, tip_chain.fans[0], 10**18 + 1, "for the withdrawal")
    w3 = AsyncWeb3(AsyncRpcProvider(tip_chain.node.http_url))
    store = TipStore(tmp_path / "tips.sqlite3")
    revenue = RevenueService(
        store, tip_chain.artist.address, "tCORE2", ChainRevenue(w3, tip_chain.address)
    )
    dashboard = RevenueDashboard("tCORE2")
    qtbot.addWidget(dashboard)
    revenue.changed.connect(dashboard.show_summary)
    yield session, revenue, dashboard
    store.close()
    await w3.provider.disconnect()


async def test_withdraw_after_confirming_empties_the_balance(setup, tip_chain: TipChain) -> None:
    session, revenue, dashboard = setup
    flow = WithdrawFlow(dashboard, session, revenue)
    dashboard.on_withdraw = flow
    await revenue.refresh()
    assert dashboard.withdrawable_label.text() == "1.000000000000000001 tCORE2"
    before = tip_chain.w3.eth.get_balance(tip_chain.artist.address)

    dashboard.withdraw_button.click()
    for _ in range(200):
        if flow.dialog is not None and flow.dialog.isVisible():
            break
        await asyncio.sleep(0.02)
    assert flow.dialog is not None, "the confirmation dialog is shown before signing"
    assert "withdraw" in flow.dialog.prepared.description.lower()
    flow.dialog.accept()
    tx_hash = await asyncio.wait_for(flow.task, 60)  # type: ignore[arg-type]

    assert tx_hash is not None
    assert tip_chain.tipping.functions.balances(tip_chain.artist.address).call() == 0
    assert tip_chain.w3.eth.get_balance(tip_chain.artist.address) > before
    assert dashboard.withdrawable_label.text() == "0 tCORE2"
    assert not dashboard.withdraw_button.isEnabled()


async def test_cancelling_the_dialog_sends_nothing(setup, tip_chain: TipChain) -> None:
    session, revenue, dashboard = setup
    flow = WithdrawFlow(dashboard, session, revenue)
    flow(1)
    for _ in range(200):
        if flow.dialog is not None:
            break
        await asyncio.sleep(0.02)
    assert flow.dialog is not None
    flow.dialog.reject()
    assert await asyncio.wait_for(flow.task, 30) is None  # type: ignore[arg-type]
    assert tip_chain.tipping.functions.balances(tip_chain.artist.address).call() == 10**18 + 1
