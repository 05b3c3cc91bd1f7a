"""The backend's tip watcher: anvil (and the embedded devnet) -> tip_received notifications
for the artist, resumed after a restart, merged with the studio's chain source."""

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.config import BackendConfig
from harness.backend_session import Backend, next_frame, notification_socket, serve, sign_in
from studio.tips.alerts import TipAlert, TipAlerts
from studio.tips.store import TipStore
from studio.tips.watcher import TipWatcher, WatchTarget
from tests.support.waiting import wait_until
from tests.tips.conftest import TipChain


@pytest.fixture
def chain_env(tip_chain: TipChain, monkeypatch: pytest.MonkeyPatch) -> TipChain:
    monkeypatch.delenv("HARMONIE_DEVNET", raising=False)
    monkeypatch.setenv("HARMONIE_TIP_RPC_URL", tip_chain.node.ws_url)
    monkeypatch.setenv("HARMONIE_TIPPING_ADDRESS", tip_chain.address)
    return tip_chain


def config(tmp_path: Path) -> BackendConfig:
    return BackendConfig(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'backend.db'}",
        data_dir=tmp_path,
        jwt_secret="tips-test-secret-0123456789abcdef0123456789",
    )


async def watching(backend: Backend) -> None:
    watcher = backend.app.state.tip_watcher
    await wait_until(lambda: watcher.state == "watching" and watcher.passes > 0)


async def test_tips_become_notifications_for_the_artist_once_each_across_a_restart(
    chain_env: TipChain, tmp_path: Path
) -> None:
    chain = chain_env
    artist, fans = chain.artist, chain.fans
    sent: list[str] = []
    async with httpx.AsyncClient(timeout=10) as client:
        async with serve(config(tmp_path)) as backend:
            await watching(backend)
            fan_token = await sign_in(client, backend, fans[0])
            profile = await client.put(
                f"{backend.url}/profiles/{fans[0].address}",
                json={"role": "fan", "display_name": "Alice <b>", "bio": ""},
                headers={"Authorization": f"Bearer {fan_token}"},
            )
            assert profile.status_code == 200, profile.text
            token = await sign_in(client, backend, artist)
            ws = await notification_socket(backend, token)
            try:
                assert (await next_frame(ws, "backlog"))["notifications"] == []
                for i, (wei, text) in enumerate([(10**18, "<i>hi</i>"), (1, ""), (5, "x" * 280)]):
                    sent.append(await asyncio.to_thread(chain.tip, fans[i], wei, text))
                    note = (await next_frame(ws, "notification"))["notification"]
                    assert note["kind"] == "tip_received"
                    data = note["data"]
                    assert data["tx_hash"] == sent[-1]
                    assert data["amount_wei"] == str(wei) and data["message"] == text
                    assert data["artist"] == artist.address and data["fan"] == fans[i].address
                    assert data["chain_id"] == 1114
                assert health_ok(await client.get(f"{backend.url}/health"))
            finally:
                await ws.close()
            # a tip to someone else notifies them, not this artist
            call = chain.tipping.functions.tip(fans[3].address, "")
            await asyncio.to_thread(
                chain.send, fans[0], call.build_transaction({"from": fans[0].address, "value": 1})
            )
            await wait_until(lambda: backend.app.state.tip_watcher.announced == 4)

        sent.append(await asyncio.to_thread(chain.tip, fans[1], 9, "while the backend was down"))

        async with serve(config(tmp_path)) as backend:
            await watching(backend)
            token = await sign_in(client, backend, artist)
            await wait_until(lambda: backend.app.state.tip_watcher.announced == 1)
            listed = await client.get(
                f"{backend.url}/notifications",
                params={"limit": 50},
                headers={"Authorization": f"Bearer {token}"},
            )
            items = listed.json()["items"]
    assert [i["data"]["tx_hash"] for i in reversed(items)] == sent, "each once, in order"
    names = [i["data"]["fan_name"] for i in reversed(items)]
    assert names == ["Alice <b>", None, None, None]


def health_ok(response: httpx.Response) -> bool:
    tips = response.json()["components"]["tips"]
    return tips["status"] == "ok" and tips["detail"] == "watching"


async def test_backend_and_chain_sources_show_each_tip_once(
    chain_env: TipChain, tmp_path: Path
) -> None:
    chain = chain_env
    store = TipStore(tmp_path / "studio" / "tips.sqlite3")
    alerts = TipAlerts(store, chain.artist.address, "tCORE2")
    shown: list[TipAlert] = []
    alerts.alerted.connect(shown.append)
    target = WatchTarget(chain.node.ws_url, chain.address, chain.artist.address, 1, 1114)
    watcher = TipWatcher(target, store, start_block=0)
    alerts.follow(watcher)
    async with httpx.AsyncClient(timeout=10) as client, serve(config(tmp_path)) as backend:
        await watching(backend)
        ws = await notification_socket(backend, await sign_in(client, backend, chain.artist))
        frames = 0

        async def pump() -> None:
            nonlocal frames
            while True:
                alerts.on_backend_frame(await next_frame(ws, timeout=60))
                frames += 1

        pumping = asyncio.create_task(pump())
        watcher.start()
        try:
            sent = [await asyncio.to_thread(chain.tip, chain.fans[i], i + 1, "") for i in range(3)]
            await wait_until(lambda: len(shown) == 3 and frames >= 4, what="both sources")
            await asyncio.sleep(0.3)
        finally:
            pumping.cancel()
            await watcher.stop()
            await ws.close()
    assert [a.record.tx_hash for a in shown] == sent
    assert len(alerts.history()) == 3
    store.close()


async def test_backend_watches_its_embedded_devnet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from chain import contracts
    from chain.devnet import dev_accounts
    from tests.tips.conftest import wait_for_rpc

    monkeypatch.setenv("HARMONIE_DEVNET", "1")
    monkeypatch.delenv("HARMONIE_TIP_RPC_URL", raising=False)
    monkeypatch.delenv("HARMONIE_TIPPING_ADDRESS", raising=False)
    artist, fan = dev_accounts(3)[1:3]
    async with httpx.AsyncClient(timeout=30) as client, serve(config(tmp_path)) as backend:
        info = (await client.get(f"{backend.url}/chain")).json()
        await watching(backend)
        token = await sign_in(client, backend, artist)
        ws = await notification_socket(backend, token)
        try:
            await next_frame(ws, "backlog")
            w3 = await asyncio.to_thread(wait_for_rpc, f"{backend.url}/rpc")
            tipping = contracts.deployed(contracts.TIPPING, w3, info["contracts"]["tipping"])

            def send_tip() -> str:
                tx = tipping.functions.tip(artist.address, "devnet tip").build_transaction(
                    {
                        "from": fan.address,
                        "value": 3,
                        "nonce": w3.eth.get_transaction_count(fan.address, "pending"),
                    }
                )
                tx_hash = w3.eth.send_raw_transaction(fan.sign_transaction(tx).raw_transaction)
                w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
                return "0x" + bytes(tx_hash).hex()

            sent = await asyncio.to_thread(send_tip)
            note = (await next_frame(ws, "notification", timeout=20))["notification"]
        finally:
            await ws.close()
    assert note["data"]["tx_hash"] == sent
    assert note["data"]["message"] == "devnet tip" and note["data"]["amount_wei"] == "3"


async def test_studio_backend_client_feeds_tip_alerts(chain_env: TipChain, tmp_path: Path) -> None:
    from eth_account.messages import encode_defunct

    from studio.social.backend_client import BackendClient, CallableSigner

    chain = chain_env
    artist = chain.artist
    store = TipStore(tmp_path / "studio" / "tips.sqlite3")
    alerts = TipAlerts(store, artist.address, "tCORE2")
    shown: list[TipAlert] = []
    alerts.alerted.connect(shown.append)

    def sign(text: str) -> str:
        return "0x" + artist.sign_message(encode_defunct(text=text)).signature.hex().removeprefix(
            "0x"
        )

    async with serve(config(tmp_path)) as backend:
        await watching(backend)
        client = BackendClient(backend.url, CallableSigner(artist.address, sign), chain_id=1114)
        await client.sign_in()
        following = asyncio.create_task(alerts.follow_backend(client.notifications()))
        try:
            sent = await asyncio.to_thread(chain.tip, chain.fans[0], 12345, "via the backend")
            await wait_until(lambda: len(shown) == 1, what="the backend's tip")
        finally:
            following.cancel()
            await client.aclose()
    assert shown[0].record.tx_hash == sent and shown[0].record.source == "backend"
    assert shown[0].record.amount_wei == 12345 and shown[0].message == "via the backend"
    store.close()


async def test_hostile_backend_tip_text_is_rendered_safely_in_tray_and_feed(
    chain_env: TipChain, tmp_path: Path, qtbot, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    from eth_account.messages import encode_defunct

    from backend import notifications
    from studio.social.backend_client import BackendClient, CallableSigner
    from studio.tips.sound import TipSound
    from widgets.tips.alerts_feed import AlertsFeed
    from widgets.tips.tip_notifier import TipNotifier

    artist = chain_env.artist
    store = TipStore(tmp_path / "studio" / "tips.sqlite3")
    alerts = TipAlerts(store, artist.address, "tCORE2", chain_id=1114)
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    notifier = TipNotifier(None, alerts, feed, TipSound(enabled=False))
    caplog.set_level(logging.INFO, logger="widgets.tips.tip_notifier")
    hostile = "<script>alert(1)</script><b>" + "x" * 10_240 + "\u202e\n\x00end"

    def sign(text: str) -> str:
        signed = artist.sign_message(encode_defunct(text=text))
        return "0x" + signed.signature.hex().removeprefix("0x")

    async with serve(config(tmp_path)) as backend:
        client = BackendClient(backend.url, CallableSigner(artist.address, sign), chain_id=1114)
        await client.sign_in()
        received: list[object] = []

        async def counted(stream):  # type: ignore[no-untyped-def]
            async for item in stream:
                received.append(item)
                yield item

        following = asyncio.create_task(alerts.follow_backend(counted(client.notifications())))
        try:
            data = {
                "tx_hash": "0x" + "5a" * 32, "log_index": 0, "block_number": 1,
                "chain_id": 1114, "artist": artist.address, "fan": chain_env.fans[0].address,
                "fan_name": "<img src=x>", "amount_wei": "1", "message": hostile,
            }  # fmt: skip
            await notifications.publish(
                backend.app, recipient=artist.address, kind="tip_received", data=data
            )
            await notifications.publish(
                backend.app, recipient=artist.address, kind="tip_received", data=data
            )
            await wait_until(lambda: len(received) == 2, what="both notifications")
        finally:
            following.cancel()
            await client.aclose()
    tray = next(r for r in caplog.records if getattr(r, "event", "") == "tray_message")
    assert notifier.shown == 1, "published twice, shown once"
    assert len(tray.body) <= 140 and "<" not in tray.body and "\u202e" not in tray.body
    assert tray.title == "Tip from ‹img src=x›: 0.000000000000000001 tCORE2"
    entry = feed.entries()[0]
    assert entry.startswith("<img src=x> tipped 0.000000000000000001 tCORE2 [pending]\n<script>")
    assert len(entry) < 600 and "\x00" not in entry
    feed.list.setCurrentRow(0)
    assert "x" * 10_240 in feed.detail.text(), "the full message is kept"
    store.close()


async def test_studio_watcher_on_the_local_profiles_devnet(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The `local` profile: the studio's watcher polls the embedded devnet's /rpc."""
    from chain import contracts
    from chain.devnet import dev_accounts
    from tests.tips.conftest import wait_for_rpc

    monkeypatch.setenv("HARMONIE_DEVNET", "1")
    monkeypatch.delenv("HARMONIE_TIP_RPC_URL", raising=False)
    artist, fan = dev_accounts(4)[2:4]
    store = TipStore(tmp_path / "studio" / "tips.sqlite3")
    async with httpx.AsyncClient(timeout=30) as client, serve(config(tmp_path)) as backend:
        info = (await client.get(f"{backend.url}/chain")).json()
        target = WatchTarget(
            f"{backend.url}/rpc", info["contracts"]["tipping"], artist.address, 1, info["chain_id"]
        )
        watcher = TipWatcher(target, store, start_block=0, poll_interval_s=0.1)
        seen: list = []
        watcher.tip_seen.connect(seen.append)
        watcher.start()
        try:
            w3 = await asyncio.to_thread(wait_for_rpc, f"{backend.url}/rpc")
            tipping = contracts.deployed(contracts.TIPPING, w3, info["contracts"]["tipping"])

            def send_tip(wei: int, message: str) -> str:
                tx = tipping.functions.tip(artist.address, message).build_transaction(
                    {
                        "from": fan.address,
                        "value": wei,
                        "nonce": w3.eth.get_transaction_count(fan.address, "pending"),
                    }
                )
                tx_hash = w3.eth.send_raw_transaction(fan.sign_transaction(tx).raw_transaction)
                w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
                return "0x" + bytes(tx_hash).hex()

            sent = [await asyncio.to_thread(send_tip, 1 + i, f"devnet {i}") for i in range(2)]
            await wait_until(lambda: len(seen) == 2, what="devnet tips", timeout=30)
        finally:
            await watcher.stop()
    store.close()
    assert [t.tx_hash for t in seen] == sent
    assert [t.amount_wei for t in seen] == [1, 2]


async def test_followers_are_told_too_but_not_the_fan_who_tipped(
    chain_env: TipChain, tmp_path: Path
) -> None:
    chain = chain_env
    artist, tipper, follower = chain.artist, chain.fans[0], chain.fans[2]
    async with httpx.AsyncClient(timeout=10) as client, serve(config(tmp_path)) as backend:
        await watching(backend)
        artist_token = await sign_in(client, backend, artist)
        made = await client.put(
            f"{backend.url}/profiles/{artist.address}",
            json={"role": "artist", "display_name": "Nova", "bio": ""},
            headers={"Authorization": f"Bearer {artist_token}"},
        )
        assert made.status_code == 200, made.text
        sockets = {}
        for who in (tipper, follower):
            token = await sign_in(client, backend, who)
            followed = await client.put(
                f"{backend.url}/artists/{artist.address}/follow",
                headers={"Authorization": f"Bearer {token}"},
            )
            assert followed.status_code == 200, followed.text
            sockets[who.address] = await notification_socket(backend, token)
            await next_frame(sockets[who.address], "backlog")
        try:
            sent = await asyncio.to_thread(chain.tip, tipper, 77, "for Nova")
            note = (await next_frame(sockets[follower.address], "notification"))["notification"]
            assert note["kind"] == "tip_received"
            assert note["data"]["tx_hash"] == sent
            assert note["data"]["artist"] == artist.address
            assert note["data"]["artist_name"] == "Nova"
            with pytest.raises(TimeoutError):
                await next_frame(sockets[tipper.address], "notification", timeout=1.0)
        finally:
            for ws in sockets.values():
                await ws.close()


async def test_a_restarted_local_devnet_is_a_new_chain_for_the_studio(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Each studio start brings a fresh devnet that can match the last one block for block
    (same contracts, even the same transaction hashes): the same first tip on each is shown."""
    from chain import contracts
    from chain.devnet import dev_accounts
    from studio.tips.alerts import TipAlerts
    from tests.tips.conftest import wait_for_rpc

    monkeypatch.setenv("HARMONIE_DEVNET", "1")
    monkeypatch.delenv("HARMONIE_TIP_RPC_URL", raising=False)
    artist, fan = dev_accounts(4)[2:4]
    store = TipStore(tmp_path / "studio" / "tips.sqlite3")  # kept across studio starts
    shown: list = []
    sent: list[str] = []
    for run in range(2):
        async with (
            httpx.AsyncClient(timeout=30) as client,
            serve(config(tmp_path / f"r{run}")) as backend,
        ):
            info = (await client.get(f"{backend.url}/chain")).json()
            tipping_address = info["contracts"]["tipping"]
            target = WatchTarget(
                f"{backend.url}/rpc", tipping_address, artist.address, 1, info["chain_id"]
            )
            alerts = TipAlerts(store, artist.address, "DEV")
            alerts.alerted.connect(shown.append)
            watcher = TipWatcher(target, store, start_block=0, poll_interval_s=0.1)
            alerts.follow(watcher)
            watcher.start()
            try:
                w3 = await asyncio.to_thread(wait_for_rpc, f"{backend.url}/rpc")
                tipping = contracts.deployed(contracts.TIPPING, w3, tipping_address)

                def send_first_tip(w3: Any = w3, tipping: Any = tipping) -> str:  # off the loop
                    tx = tipping.functions.tip(artist.address, "same tip").build_transaction(
                        {"from": fan.address, "value": 7, "nonce": 0, "gas": 200_000}
                    )
                    raw = fan.sign_transaction(tx).raw_transaction
                    tx_hash = w3.eth.send_raw_transaction(raw)
                    w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)
                    return "0x" + bytes(tx_hash).hex()

                sent.append(await asyncio.to_thread(send_first_tip))
                await wait_until(lambda n=run: len(shown) == n + 1, what=f"run {run}", timeout=30)
            finally:
                await watcher.stop()
    store.close()
    assert [a.record.tx_hash for a in shown] == sent


async def test_backend_polls_a_node_that_refuses_subscriptions(
    chain_env: TipChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many hosted nodes take WebSockets but not eth_subscribe: the backend polls instead
    of reconnecting forever."""
    from tests.support.rpc_proxy import NoSubscriptions

    chain = chain_env
    proxy = await NoSubscriptions(chain.node.http_url).start()
    monkeypatch.setenv("HARMONIE_TIP_RPC_URL", proxy.ws_url)
    try:
        async with serve(config(tmp_path)) as backend:
            await watching(backend)
            sent = await asyncio.to_thread(chain.tip, chain.fans[0], 3, "no subscriptions here")
            await wait_until(lambda: backend.app.state.tip_watcher.announced == 1)
            announced = await tips_told(backend, chain.artist)
    finally:
        await proxy.close()
    assert announced == [sent]
    assert "eth_subscribe" in proxy.methods


async def test_backend_catches_up_through_a_node_that_limits_log_ranges(
    chain_env: TipChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.rpc_proxy import LogRangeLimit

    chain = chain_env
    proxy = await LogRangeLimit(chain.node.http_url, max_blocks=16).start()
    monkeypatch.setenv("HARMONIE_TIP_RPC_URL", proxy.url)
    try:
        async with serve(config(tmp_path)) as backend:
            await watching(backend)
        sent = await asyncio.to_thread(chain.tip, chain.fans[1], 4, "while the backend was down")
        await asyncio.to_thread(chain.mine, 60)
        async with serve(config(tmp_path)) as backend:
            await wait_until(lambda: backend.app.state.tip_watcher.announced == 1)
            announced = await tips_told(backend, chain.artist)
    finally:
        await proxy.close()
    assert announced == [sent]
    assert proxy.refused >= 1 and max(proxy.spans) <= 16


async def test_backend_reads_again_blocks_a_reorg_replaced_while_it_was_down(
    chain_env: TipChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chain went back and grew again to the same height while the backend was down:
    the blocks it had read are gone, and the tip in the new ones is announced."""
    chain = chain_env
    monkeypatch.setenv("HARMONIE_TIP_RPC_URL", chain.node.http_url)
    async with serve(config(tmp_path)) as backend:
        await watching(backend)
        snapshot = await asyncio.to_thread(chain.snapshot)
        await asyncio.to_thread(chain.mine, 2)
        head = await asyncio.to_thread(lambda: chain.w3.eth.block_number)
        follower = backend.app.state.tip_watcher.follower
        await wait_until(lambda: (follower.head or 0) >= head, what="the backend at the head")
    await asyncio.to_thread(chain.revert, snapshot)
    sent = await asyncio.to_thread(chain.tip, chain.fans[2], 5, "in the new chain")
    await asyncio.to_thread(chain.mine, 1)
    assert await asyncio.to_thread(lambda: chain.w3.eth.block_number) == head
    async with serve(config(tmp_path)) as backend:
        watcher = backend.app.state.tip_watcher
        await wait_until(lambda: watcher.announced == 1, what="the new chain's tip")
        assert await tips_told(backend, chain.artist) == [sent]


async def tips_told(backend: Backend, artist: Any) -> list[str]:
    """The transactions of the tip notifications the artist has, oldest first."""
    async with httpx.AsyncClient(timeout=10) as client:
        token = await sign_in(client, backend, artist)
        listed = await client.get(
            f"{backend.url}/notifications", headers={"Authorization": f"Bearer {token}"}
        )
    return [i["data"]["tx_hash"] for i in reversed(listed.json()["items"])]


async def test_backend_resumes_from_a_cursor_file_of_the_watcher_before_the_follower(
    chain_env: TipChain, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An upgraded backend finds the old watcher's {"scope", "last_block"} file: the tip
    sent while it was being upgraded is still announced."""
    import json

    chain = chain_env
    monkeypatch.setenv("HARMONIE_TIP_RPC_URL", chain.node.http_url)
    last = await asyncio.to_thread(lambda: chain.w3.eth.block_number)
    genesis = "0x" + bytes((await asyncio.to_thread(chain.w3.eth.get_block, 0))["hash"]).hex()
    old = {"scope": f"1114:{genesis}:{chain.address.lower()}", "last_block": last}
    (tmp_path / "tip_watcher.json").write_text(json.dumps(old), encoding="utf-8")
    sent = await asyncio.to_thread(chain.tip, chain.fans[3], 6, "during the upgrade")
    await asyncio.to_thread(chain.mine, 1)
    async with serve(config(tmp_path)) as backend:
        await wait_until(lambda: backend.app.state.tip_watcher.announced == 1)
        assert await tips_told(backend, chain.artist) == [sent]
