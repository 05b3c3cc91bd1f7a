"""TipService: the assembled tips stack on anvil, across a restart."""

import asyncio
from pathlib import Path

from chain.networks import custom_network
from studio.tips.alerts import TipAlert
from studio.tips.revenue import ChainState, Summary
from studio.tips.service import TipService
from tests.support.waiting import wait_until
from tests.tips.conftest import TipChain


async def test_alerts_and_revenue_follow_the_chain_across_a_restart(
    tip_chain: TipChain, tmp_path: Path
) -> None:
    network = custom_network(
        tip_chain.node.ws_url, 1114, symbol="tCORE2", contracts={"tipping": tip_chain.address}
    )
    shown: list[TipAlert] = []
    figures: list[tuple[Summary, ChainState | None]] = []

    service = TipService(network, tip_chain.artist.address, tmp_path, poll_interval_s=0.05)
    service.watcher.start_block = 0
    service.alerts.alerted.connect(shown.append)
    service.revenue.changed.connect(lambda s, c: figures.append((s, c)))
    await service.start()
    try:
        await asyncio.to_thread(tip_chain.tip, tip_chain.fans[0], 7, "one")
        await asyncio.to_thread(tip_chain.tip, tip_chain.fans[1], 10**18, "two")
        await wait_until(lambda: len(shown) == 2)
        await wait_until(lambda: bool(figures) and figures[-1][0].count == 2, what="revenue")
    finally:
        await service.stop()
    summary, state = figures[-1]
    assert state is not None
    assert summary.total_wei == state.tipped_total_wei == 10**18 + 7
    assert shown[0].amount_text == "0.000000000000000007 tCORE2"

    await asyncio.to_thread(tip_chain.tip, tip_chain.fans[2], 3, "three, while closed")
    again = TipService(network, tip_chain.artist.address, tmp_path, poll_interval_s=0.05)
    again.alerts.alerted.connect(shown.append)
    await again.start()
    try:
        await wait_until(lambda: len(shown) == 3)
        head = tip_chain.w3.eth.block_number
        await wait_until(lambda: (again.watcher.head or 0) >= head)
    finally:
        await again.stop()
    assert [a.message for a in shown] == ["one", "two", "three, while closed"]
