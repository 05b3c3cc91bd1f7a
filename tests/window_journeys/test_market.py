"""Issue 16 in the real window: the artist publishes a track, clicks Mint as NFT, answers the
dialogs (a wrong price is refused in words; cancelling the first confirmation sends nothing),
mints two editions and puts them on sale; sets a supporter tier in Settings; a fan buys an
edition and subscribes; the sale and the subscription show once each in the alerts feed, on
the revenue chart and in the Sales tab."""

import asyncio
import logging
import uuid
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDialogButtonBox
from web3 import Web3

from chain import contracts
from chain.devnet import dev_accounts
from harness.fan import buy_edition, subscribe
from studio.publishing.upload_queue import State
from tests.uploads.audio import make_audio
from tests.window_journeys.conftest import Desk, drop_files, next_dialog, wait_until
from tests.window_journeys.test_library import answer_registration, states, unlock

pytestmark = pytest.mark.slow

PRICE = Web3.to_wei("0.1", "ether")
TIER_PRICE = Web3.to_wei("0.05", "ether")


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[dict]:
    return [r.__dict__ for r in caplog.records if getattr(r, "event", "") == name]


async def answer(desk: Desk, accept: bool, shot: Path | None = None) -> str:
    """The next transaction confirmation: sign and send, or cancel; returns what it says it
    does (the headline), after checking no CID or gas figure is in the artist's view."""
    from widgets.wallet.tx_confirm_dialog import TxConfirmDialog

    dialog = await next_dialog(TxConfirmDialog)
    assert not dialog.advanced.isVisible(), "the contract details stay under Advanced"
    for name in ("Action", "Network", "From", "Max network fee"):
        text = dialog.fields[name].text()
        assert "bafk" not in text and "gwei" not in text and "gas" not in text.lower(), text
    headline = dialog.fields["Action"].text()
    if shot is not None:
        dialog.grab().save(str(shot))
    if accept:
        dialog.sign_button.click()
    else:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Cancel).click()
    await wait_until(lambda: not dialog.isVisible(), 10, "the confirmation to close")
    return headline


@pytest.mark.timeout(600)  # a publication and eight transactions, each confirmed by hand
def test_mint_list_sell_and_subscribe_from_the_window(  # type: ignore[no-untyped-def]
    on_desk, tmp_path: Path, artifacts_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    title = f"Dawn {uuid.uuid4().hex[:6]}"
    folder = tmp_path / "tracks"
    folder.mkdir()
    make_audio(folder, "flac", seconds=1.0, name="01 Dawn", title=title)
    fan = dev_accounts(3)[2]

    async def scenario(desk: Desk) -> None:
        from widgets.market.mint_dialog import MintDialog
        from widgets.market.tiers_editor import TiersEditor

        studio, panel = desk.studio, desk.library
        desk.window.tabs.setCurrentWidget(panel)
        drop_files(panel.drop_zone, [folder])
        await wait_until(panel.unlock_button.isVisible, 120, "the panel to ask for the wallet")
        panel.unlock_button.click()
        await unlock(desk)
        assert await answer_registration(desk, accept=True) == [title]
        await wait_until(lambda: states(desk).get(title) is State.LISTED, 90, "published")
        await wait_until(lambda: panel.library_view.topLevelItemCount() == 1, 30, "in Library")
        await wait_until(lambda: desk.journeys.tips_ui is not None, 60, "tips followed")
        tips_ui = desk.journeys.tips_ui
        assert tips_ui.sales is not None, "the Revenue page has a Sales tab"

        network = studio.wallet.network
        w3 = Web3(Web3.HTTPProvider(network.rpc_url))
        nft = contracts.deployed(
            contracts.TRACK_NFT, w3, network.contract_address(contracts.TRACK_NFT)
        )
        market = contracts.deployed(
            contracts.MARKETPLACE, w3, network.contract_address(contracts.MARKETPLACE)
        )
        subs = contracts.deployed(
            contracts.SUBSCRIPTIONS, w3, network.contract_address(contracts.SUBSCRIPTIONS)
        )
        artist = studio.wallet.address
        nonce = w3.eth.get_transaction_count(artist)

        # Mint as NFT: nothing selected, nothing to mint
        panel.library_view.setCurrentItem(None)
        assert not panel.mint_button.isEnabled() and "Select" in panel.mint_button.toolTip()
        panel.library_view.setCurrentItem(panel.library_view.topLevelItem(0))
        assert panel.mint_button.isEnabled(), panel.mint_button.toolTip()

        # a wrong price is refused in words, the dialog stays; then cancel the first mint
        panel.mint_button.click()
        dialog = await next_dialog(MintDialog)
        dialog.editions.setValue(2)
        dialog.price.setText("free")
        dialog.mint_button.click()
        assert dialog.isVisible() and "not a number" in dialog.error.text()
        dialog.price.setText("0.1")
        dialog.royalty.setText("10")
        dialog.mint_button.click()
        headline = await answer(desk, accept=False)
        assert headline == "Mint an NFT edition of this track"
        await wait_until(
            lambda: "nothing was sent" in panel.market_status.text(), 30, "declined, said"
        )
        assert w3.eth.get_transaction_count(artist) == nonce, "cancel sends nothing"
        assert nft.functions.balanceOf(artist).call() == 0
        assert states(desk)[title] is State.LISTED, "the track is as it was"

        # again, accepting every confirmation
        await wait_until(panel.mint_button.isEnabled, 10, "Mint as NFT again")
        panel.mint_button.click()
        dialog = await next_dialog(MintDialog)
        dialog.editions.setValue(2)
        dialog.price.setText("0.1")
        dialog.royalty.setText("10")
        dialog.mint_button.click()
        said = [await answer(desk, accept=True, shot=artifacts_dir / "market-confirm-mint.png")]
        said.append(await answer(desk, accept=True))
        said.append(await answer(desk, True, artifacts_dir / "market-confirm-approve.png"))
        said.append(await answer(desk, True, artifacts_dir / "market-confirm-list.png"))
        assert said[:2] == ["Mint an NFT edition of this track"] * 2
        assert said[2] == "Let the marketplace hand your editions to the fans who buy them"
        assert said[3].startswith("List 2 editions for sale at 0.1 "), said[3]
        await wait_until(
            lambda: panel.market_status.text() == "2 editions minted and on sale.",
            60,
            f"minted and listed (status: {panel.market_status.text()!r})",
        )
        assert nft.functions.balanceOf(artist).call() == 2
        token_ids = [nft.functions.tokenOfOwnerByIndex(artist, i).call() for i in range(2)]
        for token_id in token_ids:
            assert tuple(market.functions.listings(token_id).call()) == (artist, PRICE)
        panel.grab().save(str(artifacts_dir / "market-library-minted.png"))

        # supporter tiers in Settings
        settings = desk.window.open_settings()
        settings.show_page("Sales and subscriptions")
        editor = settings.findChild(TiersEditor)
        assert editor is not None
        await wait_until(lambda: "No tiers yet" in editor.status.text(), 30, "tiers read")
        editor.names[0].setText("Supporter")
        editor.prices[0].setText("0.05")
        editor.save_button.click()
        assert await answer(desk, accept=True) == "Set your supporter tiers (1)"
        await wait_until(
            lambda: editor.status.text() == "Saved: 1 tier on chain.", 60, "tiers saved"
        )
        assert subs.functions.tiers_of(artist).call() == [("Supporter", TIER_PRICE)]
        settings.grab().save(str(artifacts_dir / "market-settings-tiers.png"))
        settings.close()

        # a fan buys an edition and subscribes
        sale_tx = await asyncio.to_thread(buy_edition, w3, market, fan, token_ids[0])
        sub_tx = await asyncio.to_thread(subscribe, w3, subs, fan, artist, 0, 1)
        feed = tips_ui.notifier.feed
        await wait_until(
            lambda: {sale_tx, sub_tx} <= {tx for tx, _index in feed.keys()}  # noqa: SIM118, 60, "both in the feed"
        )
        await wait_until(
            lambda: (
                studio.tips.revenue.summary.count == 2
                and tips_ui.sales.sold_label.text().startswith("1 edition")
            ),
            30,
            "the revenue and the Sales tab",
        )
        await asyncio.sleep(1.0)  # a repeat anywhere would show up here
        entries = feed.entries()
        assert sum(" bought NFT #" in e for e in entries) == 1, entries
        assert sum(" subscribed for 0.05 " in e for e in entries) == 1, entries
        assert [tx for tx, _index in feed.keys()].count(sale_tx)  # noqa: SIM118 == 1
        summary = studio.tips.revenue.summary
        assert summary.total_wei == PRICE + TIER_PRICE
        assert sum(bar.count for bar in summary.chart.bars) == 2, "once each on the chart"
        assert tips_ui.sales.listed_label.text() == "1 edition"
        assert tips_ui.sales.table.item(0, 0).text() == title, "on sale, by the track's title"
        desk.window.tabs.setCurrentWidget(tips_ui.dashboard)
        tips_ui.dashboard.tables.setCurrentWidget(tips_ui.sales)
        await asyncio.sleep(0.2)
        desk.window.grab().save(str(artifacts_dir / "market-revenue-sales.png"))

        # the sale's coin waits in the marketplace (pull payments): withdraw it from the tab
        sales = tips_ui.sales
        assert sales.balances == {
            contracts.MARKETPLACE: PRICE,  # no split set: the royalty is the artist's too
            contracts.SUBSCRIPTIONS: TIER_PRICE,
        }
        button = sales.withdraw_buttons[contracts.MARKETPLACE]
        await wait_until(button.isEnabled, 30, f"Withdraw sales ({button.toolTip()})")
        before = w3.eth.get_balance(artist)
        button.click()
        assert await answer(desk, True) == "Withdraw your marketplace balance to this wallet"
        await wait_until(
            lambda: sales.balances.get(contracts.MARKETPLACE) == 0, 60, "the sales withdrawn"
        )
        assert market.functions.balances(artist).call() == 0
        assert w3.eth.get_balance(artist) > before, "the price, less the network fee"
        assert sales.balances[contracts.SUBSCRIPTIONS] == TIER_PRICE, "the other stays"
        assert not button.isEnabled() and "No sales money" in button.toolTip()

    on_desk(scenario)

    kinds = [e["kind"] for e in events(caplog, "alert_played")]
    assert sorted(kinds) == ["sale", "subscription"], kinds
