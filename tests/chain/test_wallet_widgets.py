"""Wallet panel and dialogs offscreen (pytest-qt), over a real session: devnet + gnome-keyring."""

import asyncio
import json
import os
import sys

import httpx
import pytest

qasync = pytest.importorskip("qasync")

from eth_account import Account  # noqa: E402
from PySide6.QtWidgets import QApplication, QDialog  # noqa: E402

from chain.wallet import Wallet  # noqa: E402
from studio.wallet.session import WalletSession, local_network  # noqa: E402
from widgets.wallet.tx_confirm_dialog import TxConfirmDialog  # noqa: E402
from widgets.wallet.unlock_dialog import UnlockDialog  # noqa: E402
from widgets.wallet.wallet_dialogs import (  # noqa: E402
    CreateWalletDialog,
    ExportKeystoreDialog,
    ImportWalletDialog,
)
from widgets.wallet.wallet_panel import WalletPanel, qr_pixmap  # noqa: E402

PASSWORD = "widget password 1"
ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def session(qasync_loop, vault, devnet_server, tmp_path):  # type: ignore[no-untyped-def]
    network = qasync_loop.run_until_complete(local_network(devnet_server.url))
    session = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db")
    qasync_loop.run_until_complete(session.connect())
    yield session
    qasync_loop.run_until_complete(session.close())


def fund(devnet_server, address: str) -> None:
    httpx.post(f"{devnet_server.url}/chain/faucet", json={"address": address}).raise_for_status()


def test_create_wallet_shows_words_once_and_checks_them(qtbot, qasync_loop, session):
    dialog = CreateWalletDialog(session, runner=qasync_loop.create_task)
    qtbot.addWidget(dialog)
    words = dialog.phrase.split()
    assert [label.text() for label in dialog.word_labels][:2] == [
        f"1. {words[0]}",
        f"2. {words[1]}",
    ]
    dialog.written_button.click()
    assert all(label.text() == "" for label in dialog.word_labels)
    for field in dialog.word_inputs.values():
        field.setText("wrong")
    dialog.password.setText(PASSWORD)
    dialog.password_again.setText(PASSWORD)
    dialog.try_create()
    assert "do not match" in dialog.error.text()
    for position, field in dialog.word_inputs.items():
        field.setText(words[position - 1])
    dialog.password_again.setText("different")
    dialog.try_create()
    assert "differ" in dialog.error.text()
    dialog.password_again.setText(PASSWORD)
    dialog.try_create()
    qasync_loop.run_until_complete(dialog.busy)
    assert dialog.result() == QDialog.DialogCode.Accepted
    assert session.address == Account.from_mnemonic(" ".join(words)).address
    assert dialog.phrase == ""  # not kept in memory by the dialog


def test_import_private_key_and_export_keystore(qtbot, qasync_loop, session, tmp_path):
    key = Account.create()
    dialog = ImportWalletDialog(session, runner=qasync_loop.create_task)
    qtbot.addWidget(dialog)
    dialog.tabs.setCurrentIndex(1)
    dialog.private_key.setText("0x1234")
    dialog.password.setText(PASSWORD)
    dialog.password_again.setText(PASSWORD)
    dialog.try_import()
    qasync_loop.run_until_complete(dialog.busy)
    assert "64 hexadecimal" in dialog.error.text() and "1234" not in dialog.error.text()
    dialog.private_key.setText(key.key.hex())
    dialog.try_import()
    qasync_loop.run_until_complete(dialog.busy)
    assert dialog.result() == QDialog.DialogCode.Accepted and session.address == key.address

    target = tmp_path / "exported.json"
    export = ExportKeystoreDialog(session, runner=qasync_loop.create_task, target=target)
    qtbot.addWidget(export)
    export.password.setText("wrong password")
    export.try_export()
    qasync_loop.run_until_complete(export.busy)
    assert "Wrong password" in export.error.text() and not target.exists()
    export.password.setText(PASSWORD)
    export.try_export()
    qasync_loop.run_until_complete(export.busy)
    assert Account.decrypt(json.loads(target.read_text()), PASSWORD) == key.key
    assert target.stat().st_mode & 0o777 == 0o600


_file_calls: list[tuple[str, tuple]] = []  # (audit event, args) while a test listens


def _audit(name: str, args: tuple) -> None:
    if name in ("open", "os.chmod", "os.fchmod", "os.rename"):
        _file_calls.append((name, args))


sys.addaudithook(_audit)


def test_keystore_export_is_owner_only_from_creation(qtbot, qasync_loop, session, tmp_path):
    """Never written first and restricted after: a file already there with a looser mode
    is replaced by one created 0600, and nothing is chmod-ed."""
    key = Account.create()
    qasync_loop.run_until_complete(session.import_private_key(key.key.hex(), PASSWORD))
    out = tmp_path / "out"
    out.mkdir()
    target = out / "exported.json"
    target.write_text("an older file, world-readable")
    target.chmod(0o644)
    old_umask = os.umask(0)  # the mode must not rely on the umask
    export = ExportKeystoreDialog(session, runner=qasync_loop.create_task, target=target)
    qtbot.addWidget(export)
    export.password.setText(PASSWORD)
    _file_calls.clear()
    try:
        export.try_export()
        qasync_loop.run_until_complete(export.busy)
    finally:
        os.umask(old_umask)
    calls = [(name, args) for name, args in _file_calls if str(out) in str(args)]
    _file_calls.clear()
    assert export.result() == QDialog.DialogCode.Accepted, export.error.text()
    assert target.stat().st_mode & 0o777 == 0o600
    assert Account.decrypt(json.loads(target.read_text()), PASSWORD) == key.key
    assert not [c for c in calls if c[0] in ("os.chmod", "os.fchmod")], calls
    assert not [c for c in calls if c[0] == "open" and c[1][1] not in (None, "r", "rb")], calls
    assert list(out.iterdir()) == [target], "no partial file left beside it"


def test_panel_unlock_confirm_and_send_a_tip(qtbot, qasync_loop, session, devnet_server):
    key = Account.create()
    qasync_loop.run_until_complete(session.import_private_key(key.key.hex(), PASSWORD))
    session.lock()  # an import leaves it unlocked; this test is about unlocking to send
    fund(devnet_server, key.address)
    panel = WalletPanel(session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    panel.show()
    qasync_loop.run_until_complete(panel.refresh())
    assert panel.address.text() == key.address
    assert panel.balance.text() == "Balance: 10 DEV"
    assert not panel.qr.pixmap().isNull()
    assert panel.lock_state.text() == "Locked"
    assert panel.network_picker.currentText() == "Local devnet"
    assert [panel.network_picker.itemText(i) for i in range(panel.network_picker.count())] == [
        "Local devnet", "Core", "Core Testnet2",
    ]  # fmt: skip
    panel.copy_address()
    assert QApplication.clipboard().text() == key.address

    unlock = panel.open_unlock()
    unlock.password.setText("not it")
    unlock.try_unlock()
    qasync_loop.run_until_complete(unlock.busy)
    assert "Wrong password" in unlock.error.text() and not session.unlocked
    unlock.reject()

    prepared = qasync_loop.run_until_complete(session.prepare_tip(ARTIST, 2 * 10**17, "thanks"))

    async def scenario():
        sending = asyncio.ensure_future(panel.confirm_and_send(prepared))
        await asyncio.sleep(0.05)
        dialog = panel.confirm_dialog
        assert "Tip 0.2 DEV" in dialog.fields["Action"].text()
        assert f"chain {session.network.chain_id}" in dialog.fields["Chain"].text()
        assert "Tipping contract" in dialog.fields["Contract"].text()
        assert dialog.fields["Max network fee"].text().endswith("DEV")
        assert dialog.sign_button.text() == "Unlock, sign and send"
        dialog.accept()
        await asyncio.sleep(0.05)
        panel.unlock_dialog.password.setText(PASSWORD)
        panel.unlock_dialog.try_unlock()
        sent = await sending
        assert sent is not None
        await session.wait(sent.hash)
        panel.render()
        return sent

    sent = qasync_loop.run_until_complete(scenario())
    assert session.unlocked and panel.lock_state.text().startswith("Unlocked · locks in")
    assert panel.history.rowCount() == 1
    assert panel.history.item(0, 0).text() == "✔ confirmed"
    assert "Tip 0.2 DEV" in panel.history.item(0, 1).text()
    assert panel.history.cellWidget(0, 2).toolTip() == sent.hash
    panel.lock_button.click()
    assert panel.lock_state.text() == "Locked"


def test_declining_the_confirmation_sends_nothing(qtbot, qasync_loop, session, devnet_server):
    key = Account.create()
    qasync_loop.run_until_complete(session.import_private_key(key.key.hex(), PASSWORD))
    session.lock()  # an import leaves it unlocked; this test is about unlocking to send
    fund(devnet_server, key.address)
    panel = WalletPanel(session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    prepared = qasync_loop.run_until_complete(session.prepare_tip(ARTIST, 1))

    async def scenario():
        sending = asyncio.ensure_future(panel.confirm_and_send(prepared))
        await asyncio.sleep(0.05)
        panel.confirm_dialog.reject()
        return await sending

    assert qasync_loop.run_until_complete(scenario()) is None
    assert session.recent() == []


def test_switching_to_an_unreachable_network_says_so(qtbot, qasync_loop, session):
    from chain.networks import custom_network
    from tests.chain.conftest import free_port

    down = custom_network(f"http://127.0.0.1:{free_port()}", 1114, name="Down node")
    panel = WalletPanel(session, runner=qasync_loop.create_task, networks=[session.network, down])
    qtbot.addWidget(panel)
    panel._network_chosen(1)
    qasync_loop.run_until_complete(panel.tasks[-1])
    assert "Cannot reach the node" in panel.network_status.text()
    assert session.network.key == "local"  # still on the working network


def test_unlock_dialog_and_confirm_dialog_standalone(qtbot, qasync_loop, session, devnet_server):
    key = Account.create()
    qasync_loop.run_until_complete(session.import_private_key(key.key.hex(), PASSWORD))
    fund(devnet_server, key.address)
    dialog = UnlockDialog(session, runner=qasync_loop.create_task)
    qtbot.addWidget(dialog)
    dialog.try_unlock()
    assert dialog.error.text() == "Type your password."
    dialog.password.setText(PASSWORD)
    dialog.try_unlock()
    qasync_loop.run_until_complete(dialog.busy)
    assert dialog.result() == QDialog.DialogCode.Accepted and session.unlocked
    assert dialog.password.text() == ""  # not kept in the widget

    prepared = session.txs.prepare(key.address, ARTIST, value=3 * 10**18)
    confirm = TxConfirmDialog(session, prepared)
    qtbot.addWidget(confirm)
    assert confirm.fields["Action"].text() == "Send 3 DEV to 0x7099…79C8"
    assert confirm.fields["Function"].text() == "transfer"
    assert confirm.fields["Gas limit"].text() == "21,000"
    assert confirm.sign_button.text() == "Sign and send"
    assert not qr_pixmap(key.address).isNull()


def test_the_ticks_move_the_countdown_and_redraw_no_qr_or_history(
    qtbot, qasync_loop, vault, devnet_server, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    from widgets.wallet import wallet_panel

    now = [1000.0]
    network = qasync_loop.run_until_complete(local_network(devnet_server.url))
    session = WalletSession(
        Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db", unlock_ttl_s=300,
        clock=lambda: now[0],
    )  # fmt: skip
    qasync_loop.run_until_complete(session.connect())
    key = Account.create()
    qasync_loop.run_until_complete(session.import_private_key(key.key.hex(), PASSWORD))
    fund(devnet_server, key.address)

    async def tip(message: str) -> str:
        sent = await session.send(await session.prepare_tip(ARTIST, 10**15, message))
        await session.wait(sent.hash)
        return sent.hash

    first = qasync_loop.run_until_complete(tip("first"))
    drawn: list[str] = []
    real_qr = wallet_panel.qr_pixmap
    monkeypatch.setattr(
        wallet_panel, "qr_pixmap", lambda text, size=132: drawn.append(text) or real_qr(text, size)
    )
    panel = WalletPanel(session, runner=qasync_loop.create_task)
    qtbot.addWidget(panel)
    try:
        assert drawn == [key.address] and not panel.qr.pixmap().isNull()
        assert panel.history.rowCount() == 1
        panel.history.cellWidget(0, 2).setProperty("drawn_before", True)
        countdown = []
        for _ in range(4):  # (a fifth would ask the node for the balance)
            now[0] += 1.0
            panel._tick()
            countdown.append(panel.lock_state.text())
        assert countdown == [f"Unlocked · locks in 4:{s}" for s in ("59", "58", "57", "56")]
        panel.render()  # as on any change of the session
        assert drawn == [key.address]  # the QR code of the same address: drawn once
        assert panel.history.cellWidget(0, 2).property("drawn_before")  # the row untouched

        second = qasync_loop.run_until_complete(tip("second"))
        panel.render()
        shown = {panel.history.cellWidget(r, 2).toolTip() for r in range(2)}
        assert shown == {first, second}  # a new transaction: shown
        assert drawn == [key.address]

        now[0] += 300.0  # the unlock runs out: the tick locks it and the panel says so

        async def fifth_tick() -> None:  # (the fifth also reads the balance)
            panel._tick()
            assert panel.lock_state.text() == "Locked" and panel.unlock_button.isVisibleTo(panel)
            await asyncio.gather(*panel.tasks)

        qasync_loop.run_until_complete(fifth_tick())
        assert panel.balance.text().startswith("Balance:")
    finally:
        panel.close()
        qasync_loop.run_until_complete(session.close())
