"""The wallet reconciles its transaction store with the chain before every send: a
transaction the node forgot, or never had (its chain was started afresh), is marked
dropped and its nonce used again; the registration behind one is retried once, never
duplicated. Against anvil (whose pool a test can empty) and the embedded devnet."""

import os
import threading
from collections.abc import Callable, Iterator

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


class DroppingMiner:
    """Mines a block every few milliseconds; while `dropping`, empties the node's pool
    first (a node that keeps losing what it is sent)."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3
        self.dropping = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.03):
            if self.dropping:
                rpc(self.w3, "anvil_dropAllTransactions")
            rpc(self.w3, "evm_mine")

    def __enter__(self) -> "DroppingMiner":
        rpc(self.w3, "evm_setAutomine", False)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)


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
    network = custom_network(node.url, 1114, contracts=addresses)
    session = WalletSession(Wallet(vault, scrypt_n=2**12), network, tmp_path / "tx.db")
    artist = dev_accounts(4)[3]
    await session.import_private_key(artist.key.hex(), PASSWORD)
    await session.unlock(PASSWORD)
    await session.connect()

    miner = DroppingMiner(node_w3)
    asked: list[str] = []
    submitted: list[str] = []

    async def confirm(prepared, tracks=None) -> bool:  # type: ignore[no-untyped-def]
        asked.append(prepared.description)
        miner.dropping = len(asked) == 1  # the node loses the first one, keeps the retry
        return True

    cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
    registrar = WalletRegistrar(session, confirm, receipt_timeout_s=30)
    try:
        with miner:
            registration = await registrar.register(cid, "bafkmeta", submitted.append)
    finally:
        await session.close()
    assert registration.mine and registration.artist == artist.address
    assert len(asked) == 2 and len(submitted) == 2, (asked, submitted)
    assert registration.tx_hash == submitted[1]
    assert registry.functions.artist_of(cid).call() == artist.address
    assert registry.functions.track_count(artist.address).call() == 1
    assert node_w3.eth.get_transaction_count(artist.address) == 1  # sent once, mined once
    store = txstore.TxStore(tmp_path / "tx.db")
    statuses = [store.get(h).status for h in submitted]
    assert statuses == [txstore.DROPPED, txstore.MINED]
    assert {store.get(h).nonce for h in submitted} == {0}  # the dropped one's nonce, reused
    store.close()
