"""The local chain lives in the backend's data directory: a backend stopped and started again
continues it (real `python -m backend` processes, started as the studio starts them), and a
store that cannot be read is kept aside, reported, never silently replaced."""

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
from web3 import Web3
from web3.providers.base import BaseProvider

from backend.devnet import STORE_FILE
from chain import contracts
from chain.devnet import METADATA_METHOD, Devnet, dev_accounts
from chain.devnet_process import DevnetProcess
from studio.local_backend import LocalBackend
from tests.chain.helpers import transact

CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
META = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"


def instance_id(w3: Web3) -> str:
    return w3.provider.make_request(METADATA_METHOD, [])["result"]["instanceId"]


def chain_of(url: str) -> tuple[Web3, dict]:
    info = httpx.get(f"{url}/chain").json()
    return Web3(Web3.HTTPProvider(url + info["rpc_path"])), info


async def test_a_restarted_backend_keeps_balances_blocks_contracts_and_tracks(tmp_path):
    backend = LocalBackend(tmp_path / "data", tmp_path / "log")
    fan = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    artist = dev_accounts()[1]
    try:
        url = await backend.start()
        w3, info = chain_of(url)
        reply = httpx.post(f"{url}/chain/faucet", json={"address": fan, "wei": 5 * 10**18})
        assert reply.status_code == 200, reply.text
        registry = contracts.deployed(
            contracts.CONTENT_REGISTRY, w3, info["contracts"][contracts.CONTENT_REGISTRY]
        )
        transact(w3, artist, registry.functions.register(CID, META))
        before = {
            "block": w3.eth.block_number,
            "head": w3.eth.get_block("latest")["hash"],
            "instance": instance_id(w3),
            "artist_nonce": w3.eth.get_transaction_count(artist.address),
        }
    finally:
        await backend.stop()

    try:
        url = await backend.start()
        w3, again = chain_of(url)
        assert again["contracts"] == info["contracts"]
        assert w3.eth.get_balance(fan) == 5 * 10**18
        assert w3.eth.block_number == before["block"]
        assert w3.eth.get_block("latest")["hash"] == before["head"]
        assert instance_id(w3) == before["instance"], "the same chain, for the tip watchers"
        assert w3.eth.get_transaction_count(artist.address) == before["artist_nonce"]
        registry = contracts.deployed(
            contracts.CONTENT_REGISTRY, w3, again["contracts"][contracts.CONTENT_REGISTRY]
        )
        assert registry.functions.artist_of(CID).call() == artist.address
        assert registry.functions.track_total().call() == 1
        # and it goes on from there
        httpx.post(f"{url}/chain/faucet", json={"address": fan, "wei": 10**18}).raise_for_status()
        assert w3.eth.get_balance(fan) == 6 * 10**18
        assert w3.eth.block_number == before["block"] + 1
        assert "notice" not in httpx.get(f"{url}/health").json()["components"]["chain"]
    finally:
        await backend.stop()


async def test_a_damaged_chain_store_is_kept_aside_and_reported(tmp_path):
    data = tmp_path / "data"
    store = data / STORE_FILE
    store.parent.mkdir(parents=True)
    garbage = b"not a chain at all " * 100
    store.write_bytes(garbage)
    backend = LocalBackend(data, tmp_path / "log")
    try:
        url = await backend.start()
        chain = httpx.get(f"{url}/health").json()["components"]["chain"]
        assert chain["status"] == "ok"
        kept = [p for p in store.parent.iterdir() if p.name.startswith("chain.sqlite.damaged-")]
        assert len(kept) == 1 and kept[0].read_bytes() == garbage, "kept as it was"
        assert "could not be read" in chain["notice"] and kept[0].name in chain["notice"]
        assert kept[0].name in httpx.get(f"{url}/chain").json()["notice"]
        w3, info = chain_of(url)
        assert set(info["contracts"]) == set(contracts.NAMES), "a new chain in its place"
        assert len(w3.eth.get_code(info["contracts"][contracts.TIPPING])) > 100
    finally:
        await backend.stop()
    assert kept[0].name in (tmp_path / "log" / "backend.log").read_text()


def _stored_devnet(path: Path) -> tuple[str, dict[str, str]]:
    devnet = Devnet(2, store_path=path)
    if not devnet.contracts:  # as the backend does
        devnet.deploy_contracts()
    result = devnet.instance_id, devnet.contracts
    devnet.close()
    return result


def test_a_store_missing_part_of_its_state_is_kept_aside(tmp_path):
    path = tmp_path / "chain.sqlite"
    first_instance, _ = _stored_devnet(path)
    with closing(sqlite3.connect(path)) as db:  # a readable file whose chain is gone
        db.execute("DELETE FROM kv")
        db.execute("INSERT INTO kv (k, v) VALUES (x'00', x'00')")
        db.commit()
    devnet = Devnet(2, store_path=path)
    try:
        assert devnet.notice is not None and "could not be read" in devnet.notice
        assert devnet.instance_id != first_instance and devnet.contracts == {}
        kept = [
            p
            for p in tmp_path.glob("chain.sqlite.damaged-*")
            if not p.name.endswith(("-wal", "-shm"))
        ]
        assert len(kept) == 1 and kept[0].name in devnet.notice
        with closing(sqlite3.connect(kept[0])) as db:
            assert db.execute("SELECT count(*) FROM kv").fetchone() == (1,)
    finally:
        devnet.close()


def test_a_deleted_store_starts_a_chain_of_another_instance(tmp_path):
    path = tmp_path / "chain.sqlite"
    first_instance, first_contracts = _stored_devnet(path)
    again_instance, again_contracts = _stored_devnet(path)
    assert again_instance == first_instance and again_contracts == first_contracts
    path.unlink()
    for side in tmp_path.glob("chain.sqlite-*"):
        side.unlink()
    new_instance, new_contracts = _stored_devnet(path)
    assert new_instance != first_instance
    assert new_contracts == first_contracts, "same deployer, same nonces: same addresses"


def test_a_chain_stored_before_the_market_contracts_gets_them_and_keeps_the_others(tmp_path):
    """A store written when the devnet had three contracts: the backend's start deploys the
    marketplace and the subscriptions beside them; the old ones keep their address and state."""
    from backend.devnet import DevnetHolder

    path = tmp_path / "chain.sqlite"
    devnet = Devnet(2, store_path=path)
    old_names = (contracts.TIPPING, contracts.CONTENT_REGISTRY, contracts.TRACK_NFT)
    old = {name: devnet.deploy_contracts()[name] for name in old_names}
    devnet.contracts = old  # as an older version recorded them
    devnet.store.set_meta("contracts", old)
    registry = contracts.deployed(contracts.CONTENT_REGISTRY, devnet.w3, old["content_registry"])
    transact(devnet.w3, devnet.accounts[1], registry.functions.register(CID, META))
    instance = devnet.instance_id
    devnet.close()

    holder = DevnetHolder(store_path=path)
    holder._build()
    reopened = holder.devnet
    assert reopened is not None, holder.error
    try:
        assert reopened.instance_id == instance
        assert set(reopened.contracts) == set(contracts.NAMES)
        assert {n: reopened.contracts[n] for n in old_names} == old
        w3 = Web3(OverThePipe(reopened))  # the backend's devnet runs in its own process
        registry = contracts.deployed(contracts.CONTENT_REGISTRY, w3, old["content_registry"])
        assert registry.functions.artist_of(CID).call() == reopened.info.account_addresses[1]
        market = contracts.deployed(
            contracts.MARKETPLACE, w3, reopened.contracts[contracts.MARKETPLACE]
        )
        assert market.functions.nft().call() == old[contracts.TRACK_NFT]
        assert market.functions.splits().call() == old[contracts.TIPPING]
    finally:
        reopened.close()
    again = Devnet(2, store_path=path)  # and the new addresses were stored
    try:
        assert again.contracts == reopened.contracts and not again.missing_contracts()
    finally:
        again.close()


class OverThePipe(BaseProvider):
    """Web3 on the backend's devnet process, the way /rpc reaches it."""

    def __init__(self, devnet: DevnetProcess) -> None:
        super().__init__()
        self.devnet = devnet

    def make_request(self, method: str, params: Any) -> Any:
        return self.devnet.handle({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
