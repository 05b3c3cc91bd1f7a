"""The tip watcher against a real anvil: order, resume, confirmations, reorgs, dropped sockets."""

import asyncio
import random
import sqlite3
import time

import pytest

from studio.tips.store import CONFIRMED, DROPPED, PENDING, Tip, TipStore
from studio.tips.watcher import TipWatcher, WatchTarget
from tests.support.rpc_proxy import RpcProxy, rpc_error
from tests.support.waiting import wait_until
from tests.tips.conftest import TcpProxy, TipChain


class Recorder:
    def __init__(self, watcher: TipWatcher) -> None:
        self.seen: list[Tip] = []
        self.changed: list[Tip] = []
        watcher.tip_seen.connect(self.seen.append)
        watcher.tip_changed.connect(self.changed.append)


def make_watcher(
    chain: TipChain, store: TipStore, url: str | None = None, confirmations: int = 1, **kw: object
) -> TipWatcher:
    target = WatchTarget(
        rpc_url=url or chain.node.http_url,
        contract=chain.address,
        artist=chain.artist.address,
        confirmations=confirmations,
        chain_id=1114,
    )
    kw.setdefault("poll_interval_s", 0.05)
    kw.setdefault("start_block", 0)
    return TipWatcher(target, store, **kw)  # type: ignore[arg-type]


async def tip(chain: TipChain, fan_index: int, wei: int, message: str = "") -> str:
    return await asyncio.to_thread(chain.tip, chain.fans[fan_index], wei, message)


async def synced_past(watcher: TipWatcher, chain: TipChain) -> None:
    head = await asyncio.to_thread(lambda: chain.w3.eth.block_number)
    await wait_until(lambda: (watcher.head or -1) >= head, what=f"watcher at block {head}")


@pytest.mark.parametrize("transport", ["http", "websocket"])
async def test_three_tips_arrive_in_order_with_amounts_and_messages(
    tip_chain: TipChain, tip_store: TipStore, transport: str
) -> None:
    url = tip_chain.node.ws_url if transport == "websocket" else tip_chain.node.http_url
    watcher = make_watcher(tip_chain, tip_store, url=url)
    seen = Recorder(watcher)
    watcher.start()
    try:
        sent = [
            await tip(tip_chain, 0, 10**18, "first"),
            await tip(tip_chain, 1, 1, "one wei"),
            await tip(tip_chain, 0, 123_456_789_000, ""),
        ]
        await wait_until(lambda: len(seen.seen) == 3, what="three tips")
        await synced_past(watcher, tip_chain)
    finally:
        await watcher.stop()
    assert [t.tx_hash for t in seen.seen] == sent
    assert [t.amount_wei for t in seen.seen] == [10**18, 1, 123_456_789_000]
    assert [t.message for t in seen.seen] == ["first", "one wei", ""]
    assert [t.fan for t in seen.seen] == [tip_chain.fans[i].address for i in (0, 1, 0)]
    assert all(t.artist == tip_chain.artist.address for t in seen.seen)
    assert all(t.status == CONFIRMED for t in seen.seen), "one confirmation on a devnet"
    assert all(t.timestamp > 1_600_000_000 for t in seen.seen)
    assert seen.changed == []
    stored = tip_store.tips(watcher.scope or "")
    assert [t.tx_hash for t in stored] == sent


async def test_tips_for_other_artists_are_ignored(tip_chain: TipChain, tip_store: TipStore) -> None:
    watcher = make_watcher(tip_chain, tip_store)
    seen = Recorder(watcher)
    call = tip_chain.tipping.functions.tip(tip_chain.fans[3].address, "not for you")
    fan = tip_chain.fans[0]
    await asyncio.to_thread(
        tip_chain.send, fan, call.build_transaction({"from": fan.address, "value": 5})
    )
    mine = await tip(tip_chain, 1, 7, "for you")
    watcher.start()
    try:
        await wait_until(lambda: len(seen.seen) == 1)
        await synced_past(watcher, tip_chain)
    finally:
        await watcher.stop()
    assert [t.tx_hash for t in seen.seen] == [mine]


async def test_restart_between_tips_misses_nothing_and_repeats_nothing(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    all_seen: list[Tip] = []
    first = make_watcher(tip_chain, tip_store)
    first.tip_seen.connect(all_seen.append)
    first.start()
    t1 = await tip(tip_chain, 0, 100, "before the restart")
    await wait_until(lambda: len(all_seen) == 1)
    await first.stop()

    t2 = await tip(tip_chain, 1, 200, "while stopped")
    await asyncio.to_thread(tip_chain.mine, 5)
    t3 = await tip(tip_chain, 2, 300, "also while stopped")

    second = make_watcher(tip_chain, tip_store)
    second.tip_seen.connect(all_seen.append)
    second.start()
    await wait_until(lambda: len(all_seen) == 3)
    await synced_past(second, tip_chain)
    await second.stop()

    third = make_watcher(tip_chain, tip_store)
    third.tip_seen.connect(all_seen.append)
    third.start()
    t4 = await tip(tip_chain, 3, 400, "after the second restart")
    await wait_until(lambda: len(all_seen) == 4)
    await synced_past(third, tip_chain)
    await third.stop()
    assert [t.tx_hash for t in all_seen] == [t1, t2, t3, t4]


async def test_catch_up_over_a_long_gap_uses_ranges_and_keeps_order(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    sent = [await tip(tip_chain, i % 3, i + 1, f"tip {i}") for i in range(5)]
    await asyncio.to_thread(tip_chain.mine, 100)
    watcher = make_watcher(tip_chain, tip_store, reorg_window=8, log_chunk=7)
    seen = Recorder(watcher)
    watcher.start()
    try:
        await wait_until(lambda: len(seen.seen) == 5)
        await synced_past(watcher, tip_chain)
    finally:
        await watcher.stop()
    assert [t.tx_hash for t in seen.seen] == sent
    assert all(t.status == CONFIRMED for t in seen.seen)


async def test_pending_until_confirmation_depth(tip_chain: TipChain, tip_store: TipStore) -> None:
    watcher = make_watcher(tip_chain, tip_store, confirmations=3)
    seen = Recorder(watcher)
    watcher.start()
    try:
        sent = await tip(tip_chain, 0, 42, "wait for it")
        await wait_until(lambda: len(seen.seen) == 1)
        await synced_past(watcher, tip_chain)
        assert seen.seen[0].status == PENDING
        await asyncio.to_thread(tip_chain.mine, 1)
        await synced_past(watcher, tip_chain)
        assert seen.changed == [], "two blocks are not three confirmations"
        await asyncio.to_thread(tip_chain.mine, 1)
        await wait_until(lambda: len(seen.changed) == 1)
    finally:
        await watcher.stop()
    assert (seen.changed[0].tx_hash, seen.changed[0].status) == (sent, CONFIRMED)
    assert len(seen.seen) == 1


async def test_rewound_block_drops_the_tip_and_reinclusion_does_not_repeat_it(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    watcher = make_watcher(tip_chain, tip_store, confirmations=3)
    seen = Recorder(watcher)
    watcher.start()
    try:
        await synced_past(watcher, tip_chain)
        snapshot = await asyncio.to_thread(tip_chain.snapshot)
        fan = tip_chain.fans[0]
        call = tip_chain.tipping.functions.tip(tip_chain.artist.address, "reorged")
        tx = call.build_transaction({"from": fan.address, "value": 77})
        sent = await asyncio.to_thread(tip_chain.send, fan, dict(tx))
        await wait_until(lambda: len(seen.seen) == 1)
        assert seen.seen[0].status == PENDING

        # the node rewinds and mines a different block at the same height
        await asyncio.to_thread(tip_chain.revert, snapshot)
        await asyncio.to_thread(tip_chain.mine, 1)
        await wait_until(lambda: len(seen.changed) == 1, what="the tip dropped")
        assert (seen.changed[0].tx_hash, seen.changed[0].status) == (sent, DROPPED)

        # the same transaction lands again in a later block: a status change, not a new tip
        again = await asyncio.to_thread(tip_chain.send, fan, dict(tx))
        assert again == sent
        await wait_until(lambda: len(seen.changed) == 2, what="the tip back")
        assert seen.changed[1].status == PENDING
        assert seen.changed[1].block_hash != seen.seen[0].block_hash
        await asyncio.to_thread(tip_chain.mine, 2)
        await wait_until(lambda: len(seen.changed) == 3, what="the tip confirmed")
        assert seen.changed[2].status == CONFIRMED
    finally:
        await watcher.stop()
    assert len(seen.seen) == 1
    stored = tip_store.tips(watcher.scope or "")
    assert [(t.tx_hash, t.status) for t in stored] == [(sent, CONFIRMED)]


async def test_node_behind_us_is_waited_for_not_rewound(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    watcher = make_watcher(tip_chain, tip_store, confirmations=2)
    seen = Recorder(watcher)
    watcher.start()
    try:
        await synced_past(watcher, tip_chain)
        snapshot = await asyncio.to_thread(tip_chain.snapshot)
        sent = await tip(tip_chain, 0, 5, "kept")
        await asyncio.to_thread(tip_chain.mine, 2)
        await synced_past(watcher, tip_chain)
        # the head goes back without a competing block yet: same as a lagging node
        await asyncio.to_thread(tip_chain.revert, snapshot)
        passes = watcher.passes
        await wait_until(lambda: watcher.passes >= passes + 5)
    finally:
        await watcher.stop()
    assert [t.tx_hash for t in seen.seen] == [sent]
    assert [t.status for t in seen.changed] in ([], [CONFIRMED]), "not dropped"
    stored = tip_store.tips(watcher.scope or "")
    assert [(t.tx_hash, t.status) for t in stored] == [(sent, CONFIRMED)]


async def test_websocket_dropped_by_the_node_reconnects_and_catches_up(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    proxy = await TcpProxy(tip_chain.node.port).start()
    watcher = make_watcher(tip_chain, tip_store, url=f"ws://127.0.0.1:{proxy.port}")
    seen = Recorder(watcher)
    watcher.start()
    try:
        t1 = await tip(tip_chain, 0, 1, "before the drop")
        await wait_until(lambda: len(seen.seen) == 1)
        proxy.refuse = True
        proxy.drop()
        await wait_until(lambda: watcher.state == "reconnecting", what="the watcher notices")
        t2 = await tip(tip_chain, 1, 2, "during the outage")
        t3 = await tip(tip_chain, 2, 3, "during the outage too")
        await asyncio.sleep(0.3)
        proxy.refuse = False
        await wait_until(lambda: len(seen.seen) == 3, what="tips after reconnecting")
        t4 = await tip(tip_chain, 3, 4, "after reconnecting")
        await wait_until(lambda: len(seen.seen) == 4)
        await synced_past(watcher, tip_chain)
    finally:
        await watcher.stop()
        await proxy.close()
    assert [t.tx_hash for t in seen.seen] == [t1, t2, t3, t4]
    assert proxy.accepted >= 2


async def test_markup_invalid_utf8_and_one_wei_are_decoded_without_stopping(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    watcher = make_watcher(tip_chain, tip_store)
    seen = Recorder(watcher)
    markup = '<b>big</b><img src=x onerror="alert(1)"> & <a href="https://e.x">x</a>'
    watcher.start()
    try:
        await tip(tip_chain, 0, 1, markup)
        await asyncio.to_thread(tip_chain.tip_raw_message, tip_chain.fans[1], 2, b"ok \xff\xfe end")
        await tip(tip_chain, 2, 3, "x" * 280)
        await wait_until(lambda: len(seen.seen) == 3)
    finally:
        await watcher.stop()
    assert seen.seen[0].message == markup
    assert seen.seen[0].amount_wei == 1
    assert seen.seen[1].message == "ok \ufffd\ufffd end"
    assert seen.seen[2].message == "x" * 280


async def test_wrong_chain_is_reported_not_watched(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    target = WatchTarget(
        tip_chain.node.http_url, tip_chain.address, tip_chain.artist.address, 1, 1116
    )
    watcher = TipWatcher(target, tip_store)
    states: list[tuple[str, str]] = []
    watcher.state_changed.connect(lambda s, d: states.append((s, d)))
    watcher.start()
    try:
        await wait_until(lambda: any(s == "error" for s, _ in states))
    finally:
        await watcher.stop()
    detail = next(d for s, d in states if s == "error")
    assert "chain 1114" in detail and "1116" in detail


class LaggingRpc(RpcProxy):
    """An HTTP JSON-RPC proxy in front of anvil that plays a node behind the chain: with
    `lag` set, "latest" is `lag` blocks old and newer blocks do not exist; with `flip`, every
    request in two, at random, goes to that stale node (a load balancer over one good and one
    slow node)."""

    def __init__(self, upstream: str) -> None:
        super().__init__(upstream)
        self.lag = 0
        self.flip = False
        self._coin = random.Random(7)

    async def override(self, body: dict) -> dict | None:
        stale = self.lag > 0 and (not self.flip or self._coin.random() < 0.5)
        if not stale or body.get("method") != "eth_getBlockByNumber":
            return None
        head = int(
            (await self.forward({**body, "method": "eth_blockNumber", "params": []}))["result"], 16
        )
        behind = max(0, head - self.lag)
        wanted = body["params"][0]
        if wanted == "latest":
            return await self.forward({**body, "params": [hex(behind), *body["params"][1:]]})
        if int(wanted, 16) > behind:
            return {"jsonrpc": "2.0", "id": body.get("id"), "result": None}
        return None


async def test_lagging_and_flapping_nodes_neither_drop_nor_repeat_tips(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    proxy = await LaggingRpc(tip_chain.node.http_url).start()
    watcher = make_watcher(tip_chain, tip_store, url=proxy.url, confirmations=2)
    seen = Recorder(watcher)
    watcher.start()
    try:
        t1 = await tip(tip_chain, 0, 1, "before the lag")
        await wait_until(lambda: len(seen.seen) == 1)
        await synced_past(watcher, tip_chain)

        proxy.lag = 4
        t2 = await tip(tip_chain, 1, 2, "while the node lags")
        passes = watcher.passes
        await wait_until(lambda: watcher.passes >= passes + 5)
        assert [t.tx_hash for t in seen.seen] == [t1], "the lagging node has not got it yet"
        assert all(t.status != DROPPED for t in seen.changed), "lag is not a reorg"

        proxy.lag = 0
        await wait_until(lambda: len(seen.seen) == 2, what="the tip once the node caught up")

        proxy.lag, proxy.flip = 3, True
        rest = [await tip(tip_chain, 2, 3 + i, f"flapping {i}") for i in range(3)]
        await asyncio.to_thread(tip_chain.mine, 2)
        await wait_until(lambda: len(seen.seen) == 5, what="tips through a flapping balancer")
        await wait_until(
            lambda: sum(t.status == CONFIRMED for t in tip_store.tips(watcher.scope or "")) == 5,
            what="all confirmed",
        )
    finally:
        await watcher.stop()
        await proxy.close()
    assert [t.tx_hash for t in seen.seen] == [t1, t2, *rest]
    assert all(t.status != DROPPED for t in seen.changed)


async def test_a_fresh_chain_behind_the_same_url_is_watched_afresh(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A local devnet starts anew on every run: same chain id, same contract address, even
    the same transaction hashes. Its tips are seen and shown, nothing is stuck or hidden."""
    from chain import contracts
    from chain.devnet import dev_accounts
    from studio.tips.alerts import TipAlerts
    from tests.tips.conftest import ANVIL, Anvil

    if not ANVIL.exists():
        pytest.skip("anvil is not installed")
    accounts = dev_accounts(4)
    artist, fan = accounts[1], accounts[2]
    node = Anvil()
    store = TipStore(tmp_path / "tips.sqlite3")
    shown: list = []
    hashes = []
    try:
        for run in range(2):
            w3 = node.start()
            tipping = contracts.deploy(w3, contracts.TIPPING, (), accounts[0])
            chain = TipChain(node, w3, tipping, artist, [fan])
            alerts = TipAlerts(store, artist.address, "ETH")
            alerts.alerted.connect(shown.append)
            target = WatchTarget(node.http_url, tipping.address, artist.address, 1, 1114)
            watcher = TipWatcher(target, store, start_block=0, poll_interval_s=0.05)
            alerts.follow(watcher)
            watcher.start()
            try:
                hashes.append(await asyncio.to_thread(chain.tip, fan, 1, "same tip"))
                await wait_until(lambda n=run: len(shown) == n + 1, what=f"run {run}")
                await synced_past(watcher, chain)
            finally:
                await watcher.stop()
            node.stop()
    finally:
        node.stop()
        store.close()
    assert len(shown) == 2
    assert hashes[0] == hashes[1], "the same signed transaction on the new chain"
    assert [a.record.tx_hash for a in shown] == hashes


class SwitchingRpc(RpcProxy):
    """An HTTP JSON-RPC proxy whose upstream node can be swapped under a client that keeps
    its connection (so nothing fails and the client never reconnects). With `hide_devnet` it
    passes for an ordinary node: no client name, no metadata call (no instance id)."""

    def __init__(self, upstream: str, hide_devnet: bool = False) -> None:
        super().__init__(upstream)
        self.hide_devnet = hide_devnet

    async def override(self, body: dict) -> dict | None:
        method = body.get("method", "")
        if self.hide_devnet and method == "web3_clientVersion":
            return {"jsonrpc": "2.0", "id": body.get("id"), "result": "Geth/v1"}
        if self.hide_devnet and method.endswith("_metadata"):
            return rpc_error(body, -32601, "Method not found")
        return None


@pytest.mark.parametrize("node_kind", ["devnet", "ordinary node"])
async def test_a_fresh_chain_swapped_in_under_a_running_watcher_is_watched_afresh(
    tmp_path,  # type: ignore[no-untyped-def]
    node_kind: str,
) -> None:
    """The devnet restarts while the studio keeps watching over the same connection. A devnet
    is told apart by its instance id even when it rebuilt the old chain byte for byte; an
    ordinary node only by its genesis, so there the new chain starts in another second."""
    from chain import contracts
    from chain.devnet import dev_accounts
    from studio.tips.alerts import TipAlerts
    from tests.tips.conftest import ANVIL, Anvil

    if not ANVIL.exists():
        pytest.skip("anvil is not installed")
    accounts = dev_accounts(3)
    artist, fan = accounts[1], accounts[2]
    old_node, new_node = Anvil(), Anvil()
    store = TipStore(tmp_path / "tips.sqlite3")
    shown: list = []
    states: list[str] = []
    proxy: SwitchingRpc | None = None
    try:
        w3 = old_node.start()
        tipping = contracts.deploy(w3, contracts.TIPPING, (), accounts[0])
        old = TipChain(old_node, w3, tipping, artist, [fan])
        proxy = await SwitchingRpc(old_node.http_url, node_kind != "devnet").start()
        alerts = TipAlerts(store, artist.address, "ETH")
        alerts.alerted.connect(shown.append)
        target = WatchTarget(proxy.url, old.address, artist.address, 1, 1114)
        watcher = TipWatcher(target, store, start_block=0, poll_interval_s=0.05)
        watcher.state_changed.connect(lambda state, _detail: states.append(state))
        alerts.follow(watcher)
        watcher.start()
        try:
            first = await tip(old, 0, 1, "same tip")
            await wait_until(lambda: len(shown) == 1, what="the old chain's tip")
            await synced_past(watcher, old)
            if node_kind != "devnet":
                genesis_time = int(old.w3.eth.get_block(0)["timestamp"])
                while time.time() < genesis_time + 1:
                    await asyncio.sleep(0.05)
            w3 = await asyncio.to_thread(new_node.start)
            tipping = await asyncio.to_thread(
                contracts.deploy, w3, contracts.TIPPING, (), accounts[0]
            )
            new = TipChain(new_node, w3, tipping, artist, [fan])
            proxy.upstream = new_node.http_url
            second = await tip(new, 0, 1, "same tip")
            await wait_until(lambda: len(shown) == 2, what="the new chain's tip")
            await synced_past(watcher, new)
        finally:
            await watcher.stop()
    finally:
        if proxy is not None:
            await proxy.close()
        old_node.stop()
        new_node.stop()
        store.close()
    assert first == second, "the same signed transaction on the new chain"
    assert [a.record.tx_hash for a in shown] == [first, second]
    assert states.count("connecting") == 1, "seen while watching, not by reconnecting"


def test_a_new_devnet_instance_is_a_new_chain_but_a_missing_instance_id_is_not(
    tmp_path,  # type: ignore[no-untyped-def]
) -> None:
    path = tmp_path / "tips.sqlite3"
    with sqlite3.connect(path) as db:  # a file from before instance ids were kept
        db.execute("CREATE TABLE scope_chain (scope TEXT PRIMARY KEY, genesis TEXT NOT NULL)")
        db.execute("INSERT INTO scope_chain VALUES ('s', '0xg1')")
    store = TipStore(path)
    try:
        store.set_cursor("s", 7)
        assert not store.adopt_chain("s", "0xG1", "0xI1"), "same genesis, id learnt"
        assert not store.adopt_chain("s", "0xg1", None), "no id from the node: genesis decides"
        assert not store.adopt_chain("s", "0xg1", "0xi1")
        assert store.cursor("s") == 7
        assert store.adopt_chain("s", "0xg1", "0xi2"), "the devnet restarted"
        assert store.cursor("s") is None
        store.set_cursor("s", 3)
        assert store.adopt_chain("s", "0xg2", None), "another genesis"
        assert store.cursor("s") is None
    finally:
        store.close()
