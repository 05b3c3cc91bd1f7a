"""Sales and subscriptions go the tips' way (issue 16): the one event follower, a decoder for
`Sold` / `Subscribed` / `Renewed`, then the same store, alerts, revenue and CSV; and the Sales
view's figures read from the chain. On anvil, with every contract deployed."""

import asyncio
import csv
from pathlib import Path

from web3 import Web3

from chain import contracts
from chain.devnet import dev_accounts
from chain.networks import custom_network
from harness.fan import buy_edition, subscribe
from harness.market import list_for_sale, mint_editions, send
from studio.tips.alerts import TipAlert
from studio.tips.service import TipService
from studio.tips.store import RENEWAL, ROYALTY, SALE, SUBSCRIPTION
from tests.support.waiting import wait_until
from tests.tips.conftest import Anvil

PRICE = 10**17
ROYALTY_BPS = 1_000
TIER_PRICE = 3 * 10**16


async def test_sales_subscriptions_and_renewals_are_alerted_once_and_counted(
    anvil: Anvil, tmp_path: Path
) -> None:
    w3 = Web3(Web3.HTTPProvider(anvil.http_url))
    deployer, artist, fan, second_fan, other_artist = dev_accounts(6)[1:6]
    addresses = contracts.deploy_all(w3, deployer)
    registry, nft, market, subs = (
        contracts.deployed(name, w3, addresses[name])
        for name in (
            contracts.CONTENT_REGISTRY,
            contracts.TRACK_NFT,
            contracts.MARKETPLACE,
            contracts.SUBSCRIPTIONS,
        )
    )
    network = custom_network(anvil.ws_url, 1114, symbol="tCORE2", contracts=addresses)
    shown: list[TipAlert] = []
    service = TipService(network, artist.address, tmp_path, poll_interval_s=0.05)
    assert service.market_watcher is not None
    service.market_watcher.follower.start_block = w3.eth.block_number
    service.alerts.alerted.connect(shown.append)
    await service.start()
    try:
        ids = await asyncio.to_thread(
            mint_editions, w3, registry, nft, artist, "bafkreiaudio1", 2, ROYALTY_BPS
        )
        await asyncio.to_thread(list_for_sale, w3, market, nft, artist, ids, PRICE)
        # another artist's sale on the same marketplace is not this artist's money
        other = await asyncio.to_thread(
            mint_editions, w3, registry, nft, other_artist, "bafkreiother", 1, ROYALTY_BPS
        )
        await asyncio.to_thread(list_for_sale, w3, market, nft, other_artist, other, PRICE)
        await asyncio.to_thread(buy_edition, w3, market, second_fan, other[0])
        # first sale, then the fan resells: the artist earns the royalty
        await asyncio.to_thread(buy_edition, w3, market, fan, ids[0])
        await asyncio.to_thread(list_for_sale, w3, market, nft, fan, [ids[0]], 2 * PRICE)
        await asyncio.to_thread(buy_edition, w3, market, second_fan, ids[0])
        await asyncio.to_thread(
            send, w3, artist, subs.functions.set_tiers(["Supporter"], [TIER_PRICE])
        )
        await asyncio.to_thread(subscribe, w3, subs, fan, artist.address, 0, 2)
        await asyncio.to_thread(subscribe, w3, subs, fan, artist.address, 0, 1)
        await wait_until(lambda: len(shown) == 4, 30, "four alerts")
        await asyncio.sleep(0.5)  # a repeat would show up here
        service.schedule_refresh()
        await wait_until(
            lambda: (
                service.revenue.sales_summary is not None and service.revenue.summary.count == 4
            ),
            30,
            "the revenue and sales figures",
        )
    finally:
        await service.stop()

    assert [a.record.kind for a in shown] == [SALE, ROYALTY, SUBSCRIPTION, RENEWAL]
    royalty = 2 * PRICE * ROYALTY_BPS // 10_000
    assert [a.record.amount_wei for a in shown] == [PRICE, royalty, 2 * TIER_PRICE, TIER_PRICE]
    buyers = [fan.address, second_fan.address, fan.address, fan.address]
    assert [a.record.fan for a in shown] == buyers, "the fan who paid, each time"
    assert shown[0].tray_title == f"{shown[0].fan_label} bought NFT #{ids[0]} for 0.1 tCORE2"
    assert shown[1].feed_text.startswith("Royalty of 0.02 tCORE2: ")
    assert shown[2].feed_text.startswith(f"{shown[2].fan_label} subscribed for 0.06 tCORE2")
    summary = service.revenue.summary
    assert summary.total_wei == PRICE + royalty + 3 * TIER_PRICE
    assert sum(bar.count for bar in summary.chart.bars) == 4, "each one once on the chart"
    sales = service.revenue.sales_summary
    assert [(s.token_id, s.price_wei, s.track_cid, s.edition) for s in sales.listed] == [
        (ids[1], PRICE, "bafkreiaudio1", 2)
    ]
    assert (sales.sold_count, sales.sold_wei) == (1, PRICE)
    assert (sales.royalty_count, sales.royalties_wei) == (1, royalty)
    assert sales.withdrawable == {
        contracts.MARKETPLACE: PRICE + royalty,  # no split set: every royalty is the artist's
        contracts.SUBSCRIPTIONS: 3 * TIER_PRICE,
    }

    exported = tmp_path / "revenue.csv"
    again = TipService(network, artist.address, tmp_path, poll_interval_s=0.05)
    again.alerts.alerted.connect(shown.append)
    await again.start()
    try:
        head = w3.eth.block_number
        await wait_until(lambda: (again.market_watcher.head or 0) >= head, 30, "caught up")
        again.revenue.scope, again.revenue.market_scope = (
            again.watcher.scope,
            again.market_watcher.scope,
        )
        assert again.revenue.export_csv(exported) == 4
    finally:
        await again.stop()
    assert len(shown) == 4, "a restart shows nothing twice"
    with exported.open(encoding="utf-8-sig") as file:
        rows = list(csv.DictReader(file))
    assert [r["kind"] for r in rows] == [SALE, ROYALTY, SUBSCRIPTION, RENEWAL]
    assert [int(r["amount_wei"]) for r in rows] == [PRICE, royalty, 2 * TIER_PRICE, TIER_PRICE]
