"""The one event follower (chain.event_follower) against the embedded devnet and anvil:
polling, newHeads, a node without subscriptions, a node that limits log ranges, reorgs,
confirmations and the persisted cursor."""

import asyncio
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount

from chain.contracts.tipping import TIPPED_TOPIC, address_topic, decode_tipped
from chain.cursor_store import FileCursorStore
from chain.event_follower import EventFollower
from chain.follower_events import (
    FollowerEvent,
    LogBatch,
    Rewound,
    StateChanged,
    Synced,
)
from tests.chain.conftest import AnvilProcess, ChainUnderTest, Deployed
from tests.chain.helpers import transact
from tests.support.rpc_proxy import LogRangeLimit, NoSubscriptions
from tests.support.waiting import wait_until


class Recorder:
    """The follower's handler: keeps every event, in order."""

    def __init__(self) -> None:
        self.events: list[FollowerEvent] = []

    async def __call__(self, event: FollowerEvent) -> None:
        self.events.append(event)

    @property
    def logs(self) -> list[Any]:
        return [e for b in self.events if isinstance(b, LogBatch) for e in b.logs]

    @property
    def tx_hashes(self) -> list[str]:
        return [decode_tipped(e).tx_hash for e in self.logs]

    @property
    def passes_synced(self) -> int:
        return sum(isinstance(e, Synced) for e in self.events)


def follower(
    url: str, tipping: Any, store_path: Path, recorder: Recorder, **kw: Any
) -> EventFollower:
    kw.setdefault("poll_interval_s", 0.05)
    kw.setdefault("topics", [TIPPED_TOPIC])
    return EventFollower(url, FileCursorStore(store_path), recorder, address=tipping.address, **kw)


async def send_tip(w3: Any, tipping: Any, fan: LocalAccount, artist: str, wei: int = 1) -> str:
    call = tipping.functions.tip(artist, f"{wei} from {fan.address[:8]}")
    receipt = await asyncio.to_thread(transact, w3, fan, call, wei)
    return "0x" + bytes(receipt["transactionHash"]).hex()


async def head_of(w3: Any) -> int:
    return int(await asyncio.to_thread(lambda: w3.eth.block_number))


def rpc(w3: Any, method: str, *params: Any) -> Any:
    response = w3.provider.make_request(method, list(params))
    assert "error" not in response, response
    return response["result"]


async def test_polling_delivers_in_order_filters_by_topic_and_resumes_from_the_cursor(
    chain: ChainUnderTest, deployed: Deployed, tmp_path: Path
) -> None:
    w3, tipping = chain.w3, deployed.tipping
    artist, other, fans = chain.accounts[1], chain.accounts[2], chain.accounts[3:5]
    start = await head_of(w3) + 1
    store_path = tmp_path / "cursor.json"
    first = Recorder()
    same = {"start_block": start, "topics": [TIPPED_TOPIC, address_topic(artist.address)]}
    one = follower(chain.rpc_url, tipping, store_path, first, **same)
    one.start()
    try:
        sent = [await send_tip(w3, tipping, fans[0], artist.address, 5)]
        await send_tip(w3, tipping, fans[1], other.address, 6)  # not for this artist
        sent.append(await send_tip(w3, tipping, fans[1], artist.address, 7))
        await wait_until(lambda: len(first.logs) == 2, what="two tips")
        head = await head_of(w3)
        await wait_until(lambda: (one.head or 0) >= head, what="the follower at the head")
    finally:
        await one.stop()
    assert first.tx_hashes == sent
    assert [decode_tipped(e).amount_wei for e in first.logs] == [5, 7]
    assert isinstance(first.events[-1], StateChanged) and first.events[-1].state == "stopped"

    later = [await send_tip(w3, tipping, fans[0], artist.address, 8) for _ in range(2)]
    second = Recorder()
    two = follower(chain.rpc_url, tipping, store_path, second, **same)
    two.start()
    try:
        await wait_until(lambda: len(second.logs) == 2, what="the tips sent while stopped")
        await wait_until(lambda: second.passes_synced >= 3, what="a few more passes")
    finally:
        await two.stop()
    assert second.tx_hashes == later, "resumed after the cursor: nothing repeated or missed"


async def test_newheads_subscription_wakes_the_follower(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    w3, tipping, accounts = await tipping_on(anvil)
    recorder = Recorder()
    # polls far apart: only the subscription can deliver the tip in time
    one = follower(
        f"ws://127.0.0.1:{anvil.port}",
        tipping,
        tmp_path / "cursor.json",
        recorder,
        poll_interval_s=600,
        subscription_fallback_poll_s=600,
        start_block=await head_of(w3) + 1,
    )
    one.start()
    try:
        await wait_until(lambda: recorder.passes_synced >= 1, what="the first pass")
        assert one.subscribed
        sent = await send_tip(w3, tipping, accounts[2], accounts[1].address)
        await wait_until(lambda: len(recorder.logs) == 1, what="the tip, woken by newHeads")
    finally:
        await one.stop()
    assert recorder.tx_hashes == [sent]


async def tipping_on(node: AnvilProcess) -> tuple[Any, Any, list[LocalAccount]]:
    from chain import contracts
    from chain.devnet import dev_accounts
    from tests.chain.conftest import wait_for_rpc

    w3 = wait_for_rpc(node.url)
    accounts = dev_accounts(6)
    tipping = await asyncio.to_thread(contracts.deploy, w3, contracts.TIPPING, (), accounts[0])
    return w3, tipping, accounts


async def test_a_node_that_refuses_subscriptions_is_polled_over_the_socket(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    w3, tipping, accounts = await tipping_on(anvil)
    proxy = await NoSubscriptions(anvil.url).start()
    recorder = Recorder()
    one = follower(
        proxy.ws_url, tipping, tmp_path / "c.json", recorder, start_block=await head_of(w3) + 1
    )
    one.start()
    try:
        sent = [await send_tip(w3, tipping, accounts[2], accounts[1].address, i) for i in (1, 2)]
        await wait_until(lambda: len(recorder.logs) == 2, what="tips by polling")
    finally:
        await one.stop()
        await proxy.close()
    assert recorder.tx_hashes == sent
    assert "eth_subscribe" in proxy.methods and not one.subscribed
    states = [e.state for e in recorder.events if isinstance(e, StateChanged)]
    assert states == ["connecting", "watching", "stopped"], "no reconnect loop"


async def test_a_refused_large_log_range_is_halved_until_the_node_answers(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    w3, tipping, accounts = await tipping_on(anvil)
    start = await head_of(w3) + 1
    sent = []
    for i in range(3):
        sent.append(await send_tip(w3, tipping, accounts[2 + i], accounts[1].address, i + 1))
        await asyncio.to_thread(rpc, w3, "anvil_mine", hex(40))
    proxy = await LogRangeLimit(anvil.url, max_blocks=16).start()
    recorder = Recorder()
    one = follower(proxy.url, tipping, tmp_path / "c.json", recorder, start_block=start)
    one.start()
    try:
        await wait_until(lambda: len(recorder.logs) == 3, what="every tip, range by range")
        head = await head_of(w3)
        await wait_until(lambda: (one.head or 0) >= head, what="the follower at the head")
    finally:
        await one.stop()
        await proxy.close()
    assert recorder.tx_hashes == sent
    assert proxy.refused >= 1 and max(proxy.spans) <= 16 and one.log_chunk <= 16
    ranges = [(b.first, b.last) for b in recorder.events if isinstance(b, LogBatch)]
    covered = [n for first, last in ranges for n in range(first, last + 1)]
    assert covered == list(range(start, head + 1)), "every block once, in order"


async def test_a_reorg_rewinds_to_the_fork_and_delivers_the_new_chain(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    w3, tipping, accounts = await tipping_on(anvil)
    artist, fans = accounts[1].address, accounts[2:4]
    recorder = Recorder()
    one = follower(
        anvil.url, tipping, tmp_path / "c.json", recorder, start_block=await head_of(w3) + 1
    )
    one.start()
    try:
        fork = await head_of(w3)
        await wait_until(lambda: (one.head or -1) >= fork, what="the follower at the fork")
        snapshot = await asyncio.to_thread(rpc, w3, "evm_snapshot")
        gone = await send_tip(w3, tipping, fans[0], artist, 1)
        await wait_until(lambda: len(recorder.logs) == 1, what="the tip before the reorg")
        await asyncio.to_thread(rpc, w3, "evm_revert", snapshot)
        kept = await send_tip(w3, tipping, fans[1], artist, 2)  # another block at that height
        await asyncio.to_thread(rpc, w3, "anvil_mine", hex(1))
        await wait_until(lambda: len(recorder.logs) == 2, what="the new chain's tip")
    finally:
        await one.stop()
    trail = [
        ("rewound", e.fork) if isinstance(e, Rewound) else ("logs", e.first)
        for e in recorder.events
        if isinstance(e, Rewound) or (isinstance(e, LogBatch) and e.logs)
    ]
    assert trail == [("logs", fork + 1), ("rewound", fork), ("logs", fork + 1)]
    assert recorder.tx_hashes == [gone, kept]


async def test_with_confirmations_late_mode_delivers_only_deep_enough_blocks(
    anvil: AnvilProcess, tmp_path: Path
) -> None:
    w3, tipping, accounts = await tipping_on(anvil)
    recorder = Recorder()
    one = follower(
        anvil.url,
        tipping,
        tmp_path / "c.json",
        recorder,
        start_block=await head_of(w3) + 1,
        confirmations=3,
        early=False,
    )
    one.start()
    try:
        sent = await send_tip(w3, tipping, accounts[2], accounts[1].address)
        await asyncio.to_thread(rpc, w3, "anvil_mine", hex(1))
        passes = recorder.passes_synced
        await wait_until(lambda: recorder.passes_synced >= passes + 3, what="three passes")
        assert recorder.logs == [], "two blocks are not three confirmations"
        await asyncio.to_thread(rpc, w3, "anvil_mine", hex(1))
        await wait_until(lambda: len(recorder.logs) == 1, what="the tip, confirmed")
    finally:
        await one.stop()
    assert recorder.tx_hashes == [sent]
    assert all(b.final for b in recorder.events if isinstance(b, LogBatch))


def test_the_file_cursor_store_persists_and_tells_chains_apart(tmp_path: Path) -> None:
    path = tmp_path / "cursor.json"
    store = FileCursorStore(path)
    assert not store.adopt_chain("s", "0xG1", None), "nothing was recorded: nothing forgotten"
    for number in range(10, 15):
        store.advance("s", number, f"0x{number:02x}", keep_from=number - 2)
    store.advance("s", 20)  # a deep range: no hash
    again = FileCursorStore(path)
    assert again.cursor("s") == 20
    assert again.remembered_blocks("s") == [(14, "0x0e"), (13, "0x0d"), (12, "0x0c")]
    again.rewind("s", 13)
    assert (again.cursor("s"), again.block_hash("s", 14)) == (13, None)
    assert not again.adopt_chain("s", "0xg1", "0xI1"), "same genesis; the id learnt"
    assert not again.adopt_chain("s", "0xg1", None), "no id from the node: genesis decides"
    assert again.adopt_chain("s", "0xg1", "0xi2"), "the devnet restarted"
    assert FileCursorStore(path).cursor("s") is None
    path.write_text("{not json", encoding="utf-8")
    assert FileCursorStore(path).cursor("s") is None, "a damaged file: start afresh"
