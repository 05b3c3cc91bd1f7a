"""Coin to start, from the Wallet dock: "Get test coin" on the local chain asks the backend's
faucet and says what arrived; on the testnet it copies the address and opens Core's faucet
page; on mainnet there is no button. A new wallet is unlocked (its password was just typed),
and the dock explains Balance against Withdrawable."""

import asyncio
from dataclasses import replace

import pytest
from eth_account import Account
from PySide6.QtGui import QGuiApplication

from chain.networks import CORE_MAINNET, CORE_TESTNET
from chain.wallet import Wallet, new_mnemonic
from studio.wallet.session import START_COIN_WEI, WalletSession, local_network
from tests.support.url_catcher import catch_urls
from tests.support.wallet_forms import answer_create_dialog
from widgets.wallet.wallet_dialogs import CreateWalletDialog
from widgets.wallet.wallet_panel import WalletPanel

PASSWORD = "coin button password"


@pytest.fixture
def local_session(qasync_loop, vault, devnet_server, tmp_path):  # type: ignore[no-untyped-def]
    network = qasync_loop.run_until_complete(local_network(devnet_server.url))
    session = WalletSession(
        Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db",
        faucet_url=f"{devnet_server.url}/chain/faucet",
    )  # fmt: skip
    qasync_loop.run_until_complete(session.connect())
    yield session
    qasync_loop.run_until_complete(session.close())


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    with catch_urls("https") as catcher:
        yield catcher


def test_local_get_test_coin_says_how_much_arrived(qtbot, qasync_loop, local_session) -> None:  # type: ignore[no-untyped-def]
    panel = WalletPanel(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    assert panel.coin_button.isVisibleTo(panel) and not panel.coin_button.isEnabled()
    local_session.wallet.import_private_key(Account.create().key.hex(), PASSWORD)
    qasync_loop.run_until_complete(panel.refresh())
    assert panel.coin_button.isEnabled()
    before = qasync_loop.run_until_complete(local_session.balance())
    panel.coin_button.click()
    qasync_loop.run_until_complete(asyncio.gather(*panel.tasks))
    assert qasync_loop.run_until_complete(local_session.balance()) == before + START_COIN_WEI
    assert panel.message.text() == "10 DEV arrived from the local faucet.", panel.message.text()
    assert panel.balance.text() == f"Balance: {local_session.format(before + START_COIN_WEI)}"


def test_testnet_opens_the_faucet_page_with_the_address_copied(
    qtbot, qasync_loop, local_session, browser
) -> None:  # type: ignore[no-untyped-def]
    local_session.network = replace(CORE_TESTNET)  # the panel only reads the network
    local_session.faucet_url = None
    address = local_session.wallet.import_private_key(Account.create().key.hex(), PASSWORD)
    local_session.select(address)
    panel = WalletPanel(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    assert panel.coin_button.isVisibleTo(panel) and panel.coin_button.isEnabled()
    QGuiApplication.clipboard().setText("something else")
    panel.coin_button.click()
    assert [u.toString() for u in browser.urls] == ["https://scan.test2.btcs.network/faucet"]
    assert QGuiApplication.clipboard().text() == local_session.address
    assert "address is copied" in panel.message.text()
    assert "browser" in panel.message.text()
    # the balance the panel asked for meanwhile comes from the devnet (the session's node)
    qasync_loop.run_until_complete(asyncio.gather(*panel.tasks))


def test_mainnet_has_no_coin_button(qtbot, qasync_loop, local_session, browser) -> None:  # type: ignore[no-untyped-def]
    local_session.network = replace(CORE_MAINNET)
    local_session.faucet_url = None
    panel = WalletPanel(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.coin_button.isVisible()
    panel.get_test_coin()
    assert browser.urls == []


def test_the_dock_explains_balance_and_withdrawable(qtbot, qasync_loop, local_session) -> None:  # type: ignore[no-untyped-def]
    panel = WalletPanel(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    help_text = panel.balance_help.text()
    assert "Balance: coin in your wallet" in help_text and "fees" in help_text
    assert "Withdrawable" in help_text and "Withdraw moves them into your wallet" in help_text


def test_a_new_wallet_is_unlocked_not_locked(qtbot, qasync_loop, local_session) -> None:  # type: ignore[no-untyped-def]
    panel = WalletPanel(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    dialog = CreateWalletDialog(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(dialog)
    answer_create_dialog(dialog, PASSWORD)
    dialog.try_create()
    qasync_loop.run_until_complete(dialog.busy)
    panel.render()
    assert local_session.unlocked
    assert panel.lock_state.text().startswith("Unlocked"), panel.lock_state.text()
    assert not panel.unlock_button.isVisibleTo(panel)


def test_an_imported_wallet_is_unlocked(qasync_loop, local_session) -> None:  # type: ignore[no-untyped-def]
    qasync_loop.run_until_complete(local_session.create_from_mnemonic(new_mnemonic(), PASSWORD))
    assert local_session.unlocked
    qasync_loop.run_until_complete(
        local_session.import_private_key(Account.create().key.hex(), PASSWORD)
    )
    assert local_session.unlocked


def test_import_dialog_shows_every_tab_without_scroll_arrows(
    qtbot, qasync_loop, local_session, artifacts_dir
) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication, QToolButton

    from widgets.theme import apply_dark_theme
    from widgets.wallet.wallet_dialogs import ImportWalletDialog

    apply_dark_theme(QApplication.instance())
    dialog = ImportWalletDialog(local_session, runner=qasync_loop.create_task)
    qtbot.addWidget(dialog)
    dialog.show()  # at the size it opens with
    qtbot.wait(20)
    bar = dialog.tabs.tabBar()
    arrows = [b for b in bar.findChildren(QToolButton) if b.isVisible()]
    assert arrows == [], "the tabs scroll: one hides behind the arrows"
    for index in range(bar.count()):
        assert bar.rect().contains(bar.tabRect(index)), bar.tabText(index)
    dialog.grab().save(str(artifacts_dir / "import_wallet_dialog.png"))
