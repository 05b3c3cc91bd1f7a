"""The wallet reconciles its transaction store with the chain before every send: a
transaction the node forgot, or never had (its chain was started afresh), is marked
dropped and its nonce used again; the registration behind one is retried once, never
duplicated. Against anvil (whose pool a test can empty) and the embedded devnet."""

import json
import os
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from eth_account import Account
from web3 import Web3

from chain import contracts, txstore
from chain.devnet import dev_accounts
from chain.networks import custom_network
from chain.wallet import UnlockedKey, Wallet
from studio.publishing.registrar import WalletRegistrar
from studio.wallet.session import WalletSession
from tests.chain.conftest import AnvilProcess, DevnetServer
from tests.chain.test_transactions import manager_for, mine

PASSWORD = "a long enough password"


def dev_key(index: int) -> UnlockedKey:
    return UnlockedKey(Account.from_mnemonic(
        "test test test test test test test test test test test junk",
        account_path=f"m/44'/60'/0'/0/{index}",
    ))  # fmt: skip


def somebody() -> str:
    return Web3.to_checksum_address("0x" + os.urandom(20).hex())


def rpc(w3: Web3, method: str, *params: object) -> object:
    answer = w3.provider.make_request(method, list(params))
    assert "error" not in answer, answer
    return answer.get("result")


def test_a_transaction_the_node_forgot_is_dropped_and_its_nonce_reused(anvil_factory, tmp_path):
    node = anvil_factory(automine=False)
    account, to = dev_key(5), somebody()
    txs = manager_for(node.url, tmp_path / "tx.db", 1114)
    txs.drop_after_blocks = 3
    lost = txs.send(txs.prepare(account.address, to, value=1, description="lost"), account)
    assert lost.nonce == 0

    rpc(txs.w3, "anvil_dropTransaction", lost.hash)  # evicted from the node's pool
    (outcome,) = txs.resume(account.address)  # first seen missing: the same bytes go again
    assert outcome.status == txstore.PENDING
    assert txs.w3.eth.get_transaction(lost.hash)["nonce"] == 0

    rpc(txs.w3, "anvil_dropTransaction", lost.hash)  # and evicted again, for good
    mine(txs.w3, txs.drop_after_blocks)
    after = txs.send(txs.prepare(account.address, to, value=2, description="after"), account)
    assert after.nonce == 0, "the forgotten transaction still holds its nonce"
    assert txs.store.get(lost.hash).status == txstore.DROPPED
    assert "lost it" in txs.refresh(lost.hash).error
    mine(txs.w3)
    assert txs.wait(after.hash, poll=0.02).status == txstore.MINED
    assert txs.w3.eth.get_balance(to) == 2
    assert txs.w3.eth.get_transaction_count(account.address) == 1


@pytest.fixture(params=["devnet", "anvil"])
def restartable(
    request: pytest.FixtureRequest, anvil_factory
) -> Iterator[tuple[str, Callable[[], str]]]:
    """(RPC URL of a node, restart() -> RPC URL of the same node started afresh)."""
    if request.param == "anvil":
        node: AnvilProcess = anvil_factory()

        def restart_anvil() -> str:
            node.stop()
            node.start()  # same port, a chain of its own
            return node.url

        yield node.url, restart_anvil
        return
    devnet: DevnetServer = request.getfixturevalue("devnet_server")
    fresh: list[DevnetServer] = []

    def restart_devnet() -> str:
        fresh.append(DevnetServer())  # the studio's next start: a devnet of its own
        fresh[0].start()
        return f"{fresh[0].url}/rpc"

    yield f"{devnet.url}/rpc", restart_devnet
    for server in fresh:
        server.stop()


def test_a_node_started_afresh_unwedges_the_wallet(restartable, tmp_path):
    url, restart = restartable
    account, to = dev_key(9), somebody()
    txs = manager_for(url, tmp_path / "tx.db", None)
    sent = [
        txs.send(txs.prepare(account.address, to, value=i + 1, description=f"{i}"), account)
        for i in range(3)
    ]
    # Killed before it saw the last receipt: the store still says that one is pending.
    pending = txs.store.get(sent[2].hash)
    assert pending.status == txstore.PENDING and pending.nonce >= 2
    txs.store.close()

    fresh_url = restart()  # the studio's next start, on a node of its own
    again = manager_for(fresh_url, tmp_path / "tx.db", txs.chain_id)
    assert again.w3.eth.get_transaction_count(account.address) == 0
    after = again.send(again.prepare(account.address, to, value=10, description="after"), account)
    assert after.nonce == 0, "the store's pending transaction wedged the wallet"
    assert again.wait(after.hash, poll=0.02).status == txstore.MINED
    assert again.store.get(pending.hash).status == txstore.DROPPED
    assert again.store.pending(again.chain_id, account.address) == []
    assert again.w3.eth.get_balance(to) == 10
    assert again.w3.eth.get_transaction_count(account.address) == 1


class Miner:
    """Mines a block every few milliseconds (automine off), as a busy chain would."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.03):
            rpc(self.w3, "evm_mine")

    def __enter__(self) -> "Miner":
        rpc(self.w3, "evm_setAutomine", False)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


class LosingNode:
    """A JSON-RPC front of `upstream` that, while `losing`, answers eth_sendRawTransaction
    as a node does (the hash) and forwards nothing: a node that loses what it is sent.

    (Emptying anvil's pool from a thread raced the miner: under load a transaction sent
    between the drop and the next block was mined, and the test failed.)"""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.losing = False
        self.lost: list[str] = []
        node = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                call = json.loads(body)
                if (
                    node.losing
                    and isinstance(call, dict)
                    and call.get("method") == "eth_sendRawTransaction"
                ):
                    tx_hash = Web3.to_hex(Web3.keccak(hexstr=call["params"][0]))
                    node.lost.append(tx_hash)
                    answer = json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": tx_hash})
                    data = answer.encode()
                else:
                    data = httpx.post(
                        node.upstream,
                        content=body,
                        headers={"Content-Type": "application/json"},
                        timeout=30,
                    ).content
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> "LosingNode":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()


async def test_a_dropped_registration_is_retried_once_and_registered_once(
    anvil_factory, vault, tmp_path
):
    node = anvil_factory()
    addresses = contracts.deploy_all(
        node_w3 := Web3(Web3.HTTPProvider(node.url)), dev_accounts()[0]
    )
    registry = contracts.deployed(
        contracts.CONTENT_REGISTRY, node_w3, addresses[contracts.CONTENT_REGISTRY]
    )
    losing = LosingNode(node.url)
    network = custom_network(losing.url, 1114, contracts=addresses)
    session = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db")
    artist = dev_accounts(4)[3]
    asked: list[str] = []
    submitted: list[str] = []

    async def confirm(prepared, tracks=None) -> bool:  # type: ignore[no-untyped-def]
        asked.append(prepared.description)
        losing.losing = len(asked) == 1  # the node loses the first one, keeps the retry
        return True

    cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    registrar = WalletRegistrar(session, confirm, receipt_timeout_s=30)
    with losing:
        await session.import_private_key(artist.key.hex(), PASSWORD)
        await session.unlock(PASSWORD)
        await session.connect()
        try:
            with Miner(node_w3):
                registration = await registrar.register(cid, "bafkmeta", submitted.append)
        finally:
            await session.close()
    assert registration.mine and registration.artist == artist.address
    assert len(asked) == 2 and len(submitted) == 2, (asked, submitted)
    assert {h.lower() for h in losing.lost} == {submitted[0].lower()}  # sent again, still lost
    assert registration.tx_hash == submitted[1]
    assert registry.functions.artist_of(cid).call() == artist.address
    assert registry.functions.track_count(artist.address).call() == 1
    assert node_w3.eth.get_transaction_count(artist.address) == 1  # sent once, mined once
    store = txstore.TxStore(tmp_path / "tx.db")
    statuses = [store.get(h).status for h in submitted]
    assert statuses == [txstore.DROPPED, txstore.MINED]
    assert {store.get(h).nonce for h in submitted} == {0}  # the dropped one's nonce, reused
    store.close()
