"""The registration confirmation in the artist's words (offscreen, pytest-qt), over a real
wallet session on the devnet: tracks by title and artwork, "Register 3 tracks", the fee in
coin and in the artist's currency; CIDs, function, gas and gwei only under Advanced."""

import asyncio
from decimal import Decimal

import pytest
from PySide6.QtWidgets import QDialogButtonBox, QLabel

from chain import contracts
from chain.wallet import Wallet
from studio.publishing.publisher import TrackToRegister
from studio.tips.alerts import FixedPrice
from studio.wallet.session import WalletSession, local_network
from tests.uploads.audio import artwork_png
from widgets.dialogs import ask
from widgets.wallet.tx_confirm_dialog import TxConfirmDialog

ARTIST_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
PASSWORD = "confirm dialog password"
CIDS = [f"bafkreiconfirmdialogtrack{i}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" for i in range(3)]
METAS = [f"bafkreiconfirmdialogmeta{i}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" for i in range(3)]
TITLES = ["Dawn chorus", "Night bus", "Île de paix"]


@pytest.fixture
def session(qasync_loop, vault, devnet_server, tmp_path):  # type: ignore[no-untyped-def]
    network = qasync_loop.run_until_complete(local_network(devnet_server.url))
    session = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db")
    qasync_loop.run_until_complete(session.connect())
    address = qasync_loop.run_until_complete(session.import_private_key(ARTIST_KEY, PASSWORD))
    session.select(address)
    yield session
    qasync_loop.run_until_complete(session.close())


def tracks(count: int) -> list[TrackToRegister]:
    art = artwork_png()
    return [
        TrackToRegister(CIDS[i], METAS[i], TITLES[i], art if i == 0 else None) for i in range(count)
    ]


def prepare(qasync_loop, session, count: int):  # type: ignore[no-untyped-def]
    if count == 1:
        args: tuple = ("register", CIDS[0], METAS[0])
    else:
        args = ("register_many", CIDS[:count], METAS[:count])
    return qasync_loop.run_until_complete(session.prepare_call(contracts.CONTENT_REGISTRY, *args))


def visible_text(dialog: TxConfirmDialog) -> str:
    labels = [label.text() for label in dialog.findChildren(QLabel) if label.isVisibleTo(dialog)]
    buttons = [b.text() for b in dialog.buttons.buttons()]
    return "\n".join([dialog.windowTitle(), *labels, *buttons, dialog.advanced_toggle.text()])


def assert_plain(text: str) -> None:
    for word in ("bafk", "Function", "gwei", "register_many", "Gas", "tip"):
        assert word not in text, f"{word!r} shows outside Advanced:\n{text}"


@pytest.mark.parametrize("count", [1, 3])
def test_the_confirmation_names_the_tracks_and_keeps_the_jargon_under_advanced(
    qtbot, qasync_loop, session, artifacts_dir, count: int
) -> None:
    prepared = prepare(qasync_loop, session, count)
    price = FixedPrice(Decimal("0.85"), "EUR")
    dialog = TxConfirmDialog(session, prepared, None, tracks(count), price)
    qtbot.addWidget(dialog)
    dialog.show()
    text = visible_text(dialog)
    headline = "Register 1 track" if count == 1 else "Register 3 tracks"
    assert dialog.fields["Action"].text() == headline
    assert [label.text() for label in dialog.track_rows] == TITLES[:count]
    artwork = [label.pixmap() for label in dialog.findChildren(QLabel, "confirm_artwork")]
    assert len(artwork) == count and all(not p.isNull() for p in artwork)
    fee = dialog.fields["Max network fee"].text()
    assert fee.startswith(session.format(prepared.max_fee_wei)) and "EUR)" in fee, fee
    assert "Local" in dialog.fields["Network"].text()
    assert_plain(text)
    assert not dialog.advanced.isVisible()

    dialog.advanced_toggle.click()
    assert dialog.advanced.isVisible()
    function = "register" if count == 1 else "register_many"
    assert dialog.fields["Function"].text() == function
    assert dialog.fields["Gas limit"].text() == f"{prepared.gas:,}"
    assert dialog.fields["Max priority fee per gas"].text().endswith("gwei")
    assert "Content registry" in dialog.fields["Contract"].text()
    assert "tip" not in visible_text(dialog).lower()  # the priority fee is not a fan's tip
    dialog.grab().save(str(artifacts_dir / f"confirm-register-{count}.png"))


def test_a_confirmation_without_a_price_shows_the_coin_only(qtbot, qasync_loop, session) -> None:
    prepared = prepare(qasync_loop, session, 3)
    dialog = TxConfirmDialog(session, prepared, None, tracks(3))
    qtbot.addWidget(dialog)
    assert dialog.fields["Max network fee"].text() == session.format(prepared.max_fee_wei)


@pytest.mark.parametrize("accept", [True, False])
def test_sign_accepts_and_cancel_refuses(qtbot, qasync_loop, session, accept: bool) -> None:
    prepared = prepare(qasync_loop, session, 3)
    dialog = TxConfirmDialog(session, prepared, None, tracks(3))
    qtbot.addWidget(dialog)
    answer = asyncio.ensure_future(ask(dialog), loop=qasync_loop)
    qasync_loop.run_until_complete(asyncio.sleep(0.05))
    assert dialog.isVisible()
    if accept:
        dialog.sign_button.click()
    else:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    assert qasync_loop.run_until_complete(answer) is accept
    assert not dialog.isVisible()
