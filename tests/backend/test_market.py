"""The backend's marketplace (backend.market) on its embedded devnet: sales and subscriptions
indexed through the shared event follower, listings and holdings served, the artist told once
per sale and subscription over the notifications WebSocket, and supporters-only tracks whose
key only an active supporter gets (checked on chain, refused after the chain's clock passed
the subscription's end)."""

import asyncio
import base64
import logging
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eth_account.signers.local import LocalAccount
from web3 import Web3

from backend.config import BackendConfig
from backend.gated import MASTER_KEY_FILE
from backend.market import ADDRESS_ENV
from chain import contracts
from chain.devnet import dev_accounts
from harness.anvil import wait_for_rpc
from harness.backend_session import Backend, next_frame, notification_socket, serve, sign_in
from harness.market import expected_payouts, list_for_sale, mint_editions, send
from tests.support.waiting import wait_until

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
PERIOD = 30 * 86400
ETHER = 10**18
TIER_PRICE = 10**16 + 1


@pytest.fixture
def devnet_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONIE_DEVNET", "1")
    for name in ("HARMONIE_TIP_RPC_URL", "HARMONIE_TIPPING_ADDRESS", "HARMONIE_GATED_MASTER_KEY"):
        monkeypatch.delenv(name, raising=False)


def config(tmp_path: Path) -> BackendConfig:
    tmp_path.mkdir(parents=True, exist_ok=True)
    return BackendConfig(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'backend.db'}",
        data_dir=tmp_path,
        jwt_secret="market-test-secret-0123456789abcdef0123456789",
    )


class Chain:
    """The backend's devnet seen by a wallet: signed transactions over /rpc."""

    def __init__(self, backend: Backend, info: dict[str, Any]) -> None:
        self.w3: Web3 = wait_for_rpc(f"{backend.url}/rpc")
        self.chain_id = int(info["chain_id"])
        found = info["contracts"]
        self.c = {name: contracts.deployed(name, self.w3, found[name]) for name in found}
        self.tipping = self.c[contracts.TIPPING]
        self.registry = self.c[contracts.CONTENT_REGISTRY]
        self.nft = self.c[contracts.TRACK_NFT]
        self.market = self.c[contracts.MARKETPLACE]
        self.subs = self.c[contracts.SUBSCRIPTIONS]

    def send(self, account: LocalAccount, call: Any, value: int = 0) -> Any:
        return send(self.w3, account, call, value)

    def advance_time(self, seconds: int) -> int:
        target = self.w3.eth.get_block("latest")["timestamp"] + seconds
        # eth-tester travels to an absolute time and mines a block a second before it
        reply = self.w3.provider.make_request("testing_timeTravel", [target + 1])
        assert "error" not in reply, reply
        return int(self.w3.eth.get_block("latest")["timestamp"])


async def chain_of(client: httpx.AsyncClient, backend: Backend) -> Chain:
    info = (await client.get(f"{backend.url}/chain")).json()
    return await asyncio.to_thread(Chain, backend, info)


async def market_caught_up(backend: Backend, chain: Chain) -> None:
    """The index has read every block mined so far."""
    head = await asyncio.to_thread(lambda: chain.w3.eth.block_number)
    watcher = backend.app.state.market.watcher
    await wait_until(lambda: (watcher.head or -1) >= head, timeout=30, what="the market index")


async def notes_of(ws: Any, count: int) -> list[dict[str, Any]]:
    return [
        (await next_frame(ws, "notification", timeout=20))["notification"] for _ in range(count)
    ]


def owed(market: Any, addresses: list[str]) -> Counter[str]:
    return Counter({a: market.functions.balances(a).call() for a in addresses})


async def test_editions_sold_resold_and_a_subscription_are_indexed_and_told_once(
    devnet_env: None, tmp_path: Path
) -> None:
    _, artist, fan, second_fan, producer, singer = dev_accounts(6)
    split = ([producer.address, singer.address, artist.address], [2500, 1333, 6167])
    first_price, resale_price = ETHER + 7, 3 * ETHER + 13
    everyone = [artist.address, fan.address, second_fan.address, producer.address, singer.address]
    async with httpx.AsyncClient(timeout=30) as client:
        async with serve(config(tmp_path)) as backend:
            chain = await chain_of(client, backend)
            ws = await notification_socket(backend, await sign_in(client, backend, artist))
            try:
                assert (await next_frame(ws, "backlog"))["notifications"] == []

                def sell() -> tuple[list[int], Counter[str], Counter[str]]:
                    chain.send(artist, chain.tipping.functions.set_split(*split))
                    editions = mint_editions(
                        chain.w3, chain.registry, chain.nft, artist, CID, 3, royalty_bps=1000
                    )
                    list_for_sale(chain.w3, chain.market, chain.nft, artist, editions, first_price)
                    chain.send(fan, chain.market.functions.buy(editions[1]), value=first_price)
                    after_first = owed(chain.market, everyone)
                    list_for_sale(
                        chain.w3, chain.market, chain.nft, fan, [editions[1]], resale_price
                    )
                    chain.send(
                        second_fan, chain.market.functions.buy(editions[1]), value=resale_price
                    )
                    return editions, after_first, owed(chain.market, everyone)

                editions, after_first, after_resale = await asyncio.to_thread(sell)
                first = expected_payouts(
                    first_price, 1000, artist.address, *split, seller=artist.address
                )
                second = expected_payouts(
                    resale_price, 1000, artist.address, *split, seller=fan.address
                )
                # seller, artist and each split payee: exact to the wei
                assert after_first == first
                assert after_resale == first + second
                assert after_resale[fan.address] == resale_price - resale_price // 10
                assert after_resale[producer.address] == (
                    (first_price // 10) * 2500 // 10_000 + (resale_price // 10) * 2500 // 10_000
                )

                sold = await notes_of(ws, 2)
                assert [n["kind"] for n in sold] == ["track_sold", "track_sold"]
                one, two = (n["data"] for n in sold)
                assert (one["seller"], one["buyer"], one["resale"]) == (
                    artist.address, fan.address, False
                )  # fmt: skip
                assert (two["seller"], two["buyer"], two["resale"]) == (
                    fan.address, second_fan.address, True
                )  # fmt: skip
                assert two["price_wei"] == str(resale_price)
                assert two["royalty_wei"] == str(resale_price // 10)
                assert two["token_id"] == str(editions[1]) and two["cid"] == CID
                assert two["artist"] == artist.address and two["chain_id"] == chain.chain_id

                def subscribe() -> None:
                    chain.send(artist, chain.subs.functions.set_tiers(["Fan"], [TIER_PRICE]))
                    call = chain.subs.functions.subscribe(artist.address, 0, 2)
                    chain.send(fan, call, value=2 * TIER_PRICE)

                await asyncio.to_thread(subscribe)
                (support,) = await notes_of(ws, 1)
                assert support["kind"] == "supporter_subscribed"
                data = support["data"]
                assert (data["fan"], data["periods"], data["renewal"]) == (fan.address, 2, False)
                assert data["amount_wei"] == str(2 * TIER_PRICE)

                await market_caught_up(backend, chain)
                listed = (
                    await client.get(
                        f"{backend.url}/market/listings", params={"artist": artist.address}
                    )
                ).json()
                assert sorted(int(i["token_id"]) for i in listed) == [editions[0], editions[2]]
                assert {i["price_wei"] for i in listed} == {str(first_price)}
                held = await client.get(f"{backend.url}/market/holdings/{second_fan.address}")
                assert [t["token_id"] for t in held.json()["tokens"]] == [str(editions[1])]
                fan_held = (await client.get(f"{backend.url}/market/holdings/{fan.address}")).json()
                assert fan_held["tokens"] == []
                assert [s["artist"] for s in fan_held["subscriptions"]] == [artist.address]
                tiers = (await client.get(f"{backend.url}/market/tiers/{artist.address}")).json()
                assert tiers == [{"index": 0, "name": "Fan", "price_wei": str(TIER_PRICE)}]
            finally:
                await ws.close()

        # the index forgets where it stopped and reads the whole chain again: nobody is told twice
        (tmp_path / "market_watcher.json").unlink()
        async with serve(config(tmp_path)) as backend:
            chain = await chain_of(client, backend)
            await market_caught_up(backend, chain)
            assert backend.app.state.market.watcher.notified == 0
            token = await sign_in(client, backend, artist)
            listed = await client.get(
                f"{backend.url}/notifications",
                params={"limit": 50},
                headers={"Authorization": f"Bearer {token}"},
            )
            kinds = [i["kind"] for i in reversed(listed.json()["items"])]
            assert kinds == ["track_sold", "track_sold", "supporter_subscribed"]
            again = (
                await client.get(
                    f"{backend.url}/market/listings", params={"artist": artist.address}
                )
            ).json()
            assert len(again) == 2


async def test_supporters_only_track_key_goes_to_an_active_supporter_only(
    devnet_env: None, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, artist, fan, stranger = dev_accounts(4)
    audio = b"ID3 supporters-only master " + bytes(range(256)) * 400
    async with httpx.AsyncClient(timeout=30) as client, serve(config(tmp_path)) as backend:
        chain = await chain_of(client, backend)
        artist_auth = {"Authorization": f"Bearer {await sign_in(client, backend, artist)}"}
        fan_auth = {"Authorization": f"Bearer {await sign_in(client, backend, fan)}"}
        stranger_auth = {"Authorization": f"Bearer {await sign_in(client, backend, stranger)}"}

        added = await client.post(
            f"{backend.url}/market/gated",
            params={"title": "Demo (supporters)"},
            content=audio,
            headers=artist_auth,
        )
        assert added.status_code == 201, added.text
        cid = added.json()["cid"]
        assert added.json()["artist"] == artist.address and added.json()["size"] == len(audio)
        stored = (await client.get(f"{backend.url}/ipfs/{cid}")).content
        assert len(stored) == len(audio) + 12 + 16 and audio[:64] not in stored
        listed = await client.get(f"{backend.url}/market/gated", params={"artist": artist.address})
        assert [t["cid"] for t in listed.json()] == [cid]

        key_url = f"{backend.url}/market/gated/{cid}/key"
        assert (await client.post(key_url)).status_code == 401
        refused = await client.post(key_url, headers=fan_auth)
        assert refused.status_code == 403
        assert "subscribe to" in refused.json()["detail"]
        missing = await client.post(f"{backend.url}/market/gated/{CID}/key", headers=fan_auth)
        assert missing.status_code == 404

        def subscribe() -> int:
            chain.send(artist, chain.subs.functions.set_tiers(["Fan"], [TIER_PRICE]))
            chain.send(
                fan, chain.subs.functions.subscribe(artist.address, 0, 2), value=2 * TIER_PRICE
            )
            return int(chain.subs.functions.active_until(fan.address, artist.address).call())

        until = await asyncio.to_thread(subscribe)
        granted = await client.post(key_url, headers=fan_auth)
        assert granted.status_code == 200, granted.text
        body = granted.json()
        assert body["algorithm"] == "AES-256-GCM" and body["active_until"] == until
        assert granted.headers["cache-control"] == "no-store"
        key = base64.b64decode(body["key"])
        assert AESGCM(key).decrypt(stored[:12], stored[12:], None) == audio
        # the artist opens their own track; someone else's subscription opens nothing
        assert (await client.post(key_url, headers=artist_auth)).status_code == 200
        assert (await client.post(key_url, headers=stranger_auth)).status_code == 403

        # still active a little before the end of the second period
        await asyncio.to_thread(chain.advance_time, 2 * PERIOD - 3600)
        assert (await client.post(key_url, headers=fan_auth)).status_code == 200
        # the chain's clock passes the end: refused, saying when it ended
        await asyncio.to_thread(chain.advance_time, 7200)
        expired = await client.post(key_url, headers=fan_auth)
        assert expired.status_code == 403
        assert "ended on" in expired.json()["detail"] and "renew" in expired.json()["detail"]

    # the key never reached the logs, the content store or the database in plaintext
    assert body["key"] not in caplog.text and key.hex() not in caplog.text
    master = (tmp_path / MASTER_KEY_FILE).read_bytes()
    assert (tmp_path / MASTER_KEY_FILE).stat().st_mode & 0o077 == 0
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != tmp_path / MASTER_KEY_FILE:
            content = path.read_bytes()
            assert key not in content and master not in content, path


async def test_without_a_chain_or_with_its_node_down_the_market_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("HARMONIE_DEVNET", raising=False)
    monkeypatch.delenv("HARMONIE_TIP_RPC_URL", raising=False)
    artist = dev_accounts(2)[1]
    async with httpx.AsyncClient(timeout=30) as client:
        async with serve(config(tmp_path / "nochain")) as backend:
            assert backend.app.state.market.watcher is None
            tiers = await client.get(f"{backend.url}/market/tiers/{artist.address}")
            assert tiers.status_code == 404 and "follows no chain" in tiers.json()["detail"]
            assert (await client.get(f"{backend.url}/market/listings")).json() == []
            auth = {"Authorization": f"Bearer {await sign_in(client, backend, artist)}"}
            empty = await client.post(
                f"{backend.url}/market/gated", params={"title": "x"}, content=b"", headers=auth
            )
            assert empty.status_code == 400 and "empty" in empty.json()["detail"]
            bad = await client.post(f"{backend.url}/market/gated/not-a-cid/key", headers=auth)
            assert bad.status_code == 404 and "not a CID" in bad.json()["detail"]

        # a node that cannot be reached: a 503 saying so, and /health shows the index degraded
        monkeypatch.setenv("HARMONIE_TIP_RPC_URL", "http://127.0.0.1:9")
        for name in ADDRESS_ENV.values():
            monkeypatch.setenv(name, "0x" + "11" * 20)
        async with serve(config(tmp_path / "down")) as backend:
            tiers = await client.get(f"{backend.url}/market/tiers/{artist.address}")
            assert tiers.status_code == 503 and "cannot be reached" in tiers.json()["detail"]
            watcher = backend.app.state.market.watcher
            await wait_until(lambda: watcher.state == "reconnecting", what="the watcher to fail")
            health = (await client.get(f"{backend.url}/health")).json()
            assert health["components"]["market"]["status"] == "degraded"
