"""Transactions: EIP-1559 fees, nonces across restarts, replacement, outages, revert messages."""

import os
from collections.abc import Callable

import pytest
from eth_account import Account
from web3 import Web3

from chain import contracts, txstore
from chain.errors import (
    InsufficientFundsError,
    RpcUnavailableError,
    TransactionRevertedError,
    WrongChainError,
)
from chain.fees import Fees, estimate_fees
from chain.networks import Network, connect, custom_network
from chain.transactions import TxManager
from chain.txstore import TxStore
from chain.wallet import UnlockedKey
from tests.chain.conftest import free_port


def manager_for(url: str, store_path, chain_id: int | None = None) -> TxManager:
    w3, network = connect(custom_network(url, chain_id))
    return TxManager(w3, network, TxStore(store_path))


def mine(w3: Web3, blocks: int = 1) -> None:
    w3.provider.make_request("evm_mine", [])
    for _ in range(blocks - 1):
        w3.provider.make_request("evm_mine", [])


@pytest.fixture
def signer(chain) -> UnlockedKey:
    return UnlockedKey(chain.accounts[4])


def test_tip_is_sent_with_eip1559_fees_and_followed_to_its_receipt(
    chain, deployed, signer, tmp_path
):
    txs = manager_for(chain.rpc_url, tmp_path / "tx.db")
    artist = chain.accounts[1].address
    prepared = txs.prepare_call(
        signer.address, deployed.tipping.functions.tip(artist, "hello"), value=10**15,
        description="Tip",
    )  # fmt: skip
    assert prepared.fees.eip1559
    assert prepared.fees.max_fee_per_gas >= 2 * prepared.fees.base_fee
    assert prepared.max_total_wei == 10**15 + prepared.gas * prepared.fees.max_fee_per_gas
    sent = txs.send(prepared, signer)
    outcome = txs.wait(sent.hash, poll=0.02).raise_for_status()
    assert outcome.status == txstore.MINED and outcome.confirmations >= 1
    (event,) = deployed.tipping.events.Tipped().process_receipt(outcome.receipt)
    assert event["args"]["message"] == "hello" and event["args"]["fan"] == signer.address
    assert txs.recent(signer.address)[0].status == txstore.MINED


def test_a_revert_is_explained_before_anything_is_signed(chain, deployed, signer, tmp_path):
    txs = manager_for(chain.rpc_url, tmp_path / "tx.db")
    with pytest.raises(TransactionRevertedError) as info:
        txs.prepare_call(signer.address, deployed.tipping.functions.withdraw())
    assert str(info.value) == "The contract refused: nothing to withdraw."
    assert info.value.reason and "nothing to withdraw" in info.value.reason
    assert txs.recent(signer.address) == []


def test_a_mined_failure_is_decoded(chain, deployed, tmp_path):
    # A fresh account: a shared dev account may hold a balance from another test's tips
    # (the split tests pick payees among them), and then withdraw() would succeed.
    signer = UnlockedKey(Account.create())
    txs = manager_for(chain.rpc_url, tmp_path / "tx.db")
    funding = txs.prepare(chain.accounts[0].address, signer.address, value=10**18, gas=21_000)
    txs.wait(txs.send(funding, UnlockedKey(chain.accounts[0])).hash, poll=0.02)
    call = deployed.tipping.functions.withdraw()
    prepared = txs.prepare(
        signer.address, call.address, call._encode_transaction_data(), gas=100_000
    )  # no estimate: the node gets a transaction that will revert
    try:
        sent = txs.send(prepared, signer)
    except TransactionRevertedError as refused:  # eth-tester refuses it before mining
        assert "nothing to withdraw" in str(refused)
        return
    outcome = txs.wait(sent.hash, poll=0.02)  # anvil mines it with status 0
    assert outcome.status == txstore.FAILED, f"expected a mined failure, got {outcome}"
    with pytest.raises(TransactionRevertedError, match="nothing to withdraw"):
        outcome.raise_for_status()


def test_insufficient_funds_is_clear_and_leaves_nothing_pending(chain, deployed, tmp_path):
    poor = UnlockedKey(Account.create())
    txs = manager_for(chain.rpc_url, tmp_path / "tx.db")
    with pytest.raises(InsufficientFundsError, match="Not enough funds"):
        prepared = txs.prepare(poor.address, chain.accounts[1].address, value=10**18, gas=21_000)
        txs.send(prepared, poor)
    assert [r.status for r in txs.recent(poor.address)] in ([], [txstore.REJECTED])
    assert txs.next_nonce(poor.address) == 0


def test_wrong_chain_id_is_refused_on_connect(anvil):
    with pytest.raises(WrongChainError, match="on chain 1114, not the expected chain 1116"):
        connect(Network("mainnet", "Core", 1116, anvil.url))
    _w3, network = connect(Network("testnet", "Core Testnet2", 1114, anvil.url))
    assert network.chain_id == 1114


def test_rpc_down_on_connect_is_clear():
    with pytest.raises(RpcUnavailableError, match="Cannot reach the node"):
        connect(
            custom_network(
                f"http://127.0.0.1:{free_port()}",
                1114,
            )
        )


def test_two_in_flight_then_a_restart_keeps_nonces_in_order(anvil_factory, tmp_path):
    node = anvil_factory(automine=False)
    account = UnlockedKey(Account.from_mnemonic(
        "test test test test test test test test test test test junk",
        account_path="m/44'/60'/0'/0/5",
    ))  # fmt: skip
    to = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    txs = manager_for(node.url, tmp_path / "tx.db", 1114)
    first = txs.send(txs.prepare(account.address, to, value=1, description="one"), account)
    second = txs.send(txs.prepare(account.address, to, value=2, description="two"), account)
    assert (first.nonce, second.nonce) == (0, 1)
    txs.store.close()

    restarted = manager_for(node.url, tmp_path / "tx.db", 1114)  # the studio starts again
    outcomes = restarted.resume(account.address)
    assert [o.status for o in outcomes] == [txstore.PENDING, txstore.PENDING]
    third = restarted.send(restarted.prepare(account.address, to, value=3), account)
    assert third.nonce == 2
    mine(restarted.w3)
    for sent in (first, second, third):
        assert restarted.wait(sent.hash, poll=0.02).status == txstore.MINED
    assert restarted.w3.eth.get_balance(to) == 6
    assert restarted.w3.eth.get_transaction_count(account.address) == 3


class CuttableProvider(Web3.HTTPProvider):
    """A real HTTP provider that stops the node just before the next broadcast."""

    cut: Callable[[], None] | None = None

    def make_request(self, method, params):
        if method == "eth_sendRawTransaction" and self.cut is not None:
            cut, self.cut = self.cut, None
            cut()
        return super().make_request(method, params)


def test_rpc_down_mid_transaction_sends_once_when_back(anvil_factory, tmp_path):
    node = anvil_factory()
    account = UnlockedKey(Account.from_mnemonic(
        "test test test test test test test test test test test junk",
        account_path="m/44'/60'/0'/0/6",
    ))  # fmt: skip
    to = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    provider = CuttableProvider(node.url)
    network = custom_network(node.url, 1114)
    txs = TxManager(Web3(provider), network, TxStore(tmp_path / "tx.db"))
    prepared = txs.prepare(account.address, to, value=5, description="during outage")
    provider.cut = node.stop  # the node dies after the nonce is known, before the broadcast
    with pytest.raises(RpcUnavailableError, match="saved and will be sent"):
        txs.send(prepared, account)
    with pytest.raises(RpcUnavailableError, match="Cannot reach"):  # still down: nothing new
        txs.send(prepared, account)
    (record,) = txs.recent(account.address)
    assert record.status == txstore.PENDING and not record.broadcast
    txs.store.close()

    node.start()  # same port; a fresh chain, as after a node restart
    restarted = manager_for(node.url, tmp_path / "tx.db", 1114)
    restarted.resume(account.address)
    assert restarted.wait(record.hash, poll=0.02).status == txstore.MINED
    again = restarted.send(restarted.prepare(account.address, to, value=7), account)
    assert again.nonce == 1
    restarted.wait(again.hash, poll=0.02).raise_for_status()
    assert restarted.w3.eth.get_transaction_count(account.address) == 2
    assert restarted.w3.eth.get_balance(to) == 12
    assert len(restarted.store.with_nonce(restarted.chain_id, account.address, 0)) == 1


def test_speed_up_replaces_with_higher_fees(anvil_factory, tmp_path):
    node = anvil_factory(automine=False)
    account = UnlockedKey(Account.from_mnemonic(
        "test test test test test test test test test test test junk",
        account_path="m/44'/60'/0'/0/7",
    ))  # fmt: skip
    to = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    txs = manager_for(node.url, tmp_path / "tx.db", 1114)
    base = estimate_fees(txs.w3)
    slow = Fees(base.base_fee + 1, 1, base.base_fee)
    sent = txs.send(
        txs.prepare(account.address, to, value=9, fees=slow, description="tip"), account
    )
    faster = txs.speed_up(sent.hash, account)
    assert faster.nonce == sent.nonce and faster.hash != sent.hash
    record = txs.store.get(faster.hash)
    assert record.fields["maxPriorityFeePerGas"] > 1
    assert record.fields["maxFeePerGas"] > slow.max_fee_per_gas * 1.1
    mine(txs.w3)
    outcome = txs.wait(sent.hash, poll=0.02)
    assert outcome.status == txstore.REPLACED and outcome.hash == faster.hash
    assert txs.store.get(sent.hash).status == txstore.REPLACED
    assert txs.store.get(faster.hash).status == txstore.MINED
    assert txs.w3.eth.get_balance(to) == 9  # paid once


def test_cancel_replaces_with_a_self_transfer(anvil_factory, tmp_path):
    node = anvil_factory(automine=False)
    account = UnlockedKey(Account.from_mnemonic(
        "test test test test test test test test test test test junk",
        account_path="m/44'/60'/0'/0/8",
    ))  # fmt: skip
    to = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    txs = manager_for(node.url, tmp_path / "tx.db", 1114)
    sent = txs.send(txs.prepare(account.address, to, value=10**18, description="oops"), account)
    cancel = txs.cancel(sent.hash, account)
    mine(txs.w3)
    outcome = txs.wait(sent.hash, poll=0.02)
    assert outcome.status == txstore.REPLACED and outcome.hash == cancel.hash
    assert txs.w3.eth.get_balance(to) == 0
    assert txs.store.get(cancel.hash).kind == "cancel"
    with pytest.raises(Exception, match=r"no longer pending|Only a pending"):
        txs.speed_up(sent.hash, account)


def test_replacement_fees_follow_the_node_rule():
    fees = Fees(100, 10, 45)
    bumped = fees.bumped()
    assert bumped.max_priority_fee_per_gas >= 11.25 and bumped.max_fee_per_gas >= 112.5
    market = Fees(1000, 50, 475)
    assert fees.bumped(market).max_fee_per_gas == 1000
    legacy = Fees(20, 20, None)
    assert legacy.tx_fields() == {"gasPrice": 20}


def test_contract_addresses_come_from_configuration(anvil):
    network = Network("testnet", "Core Testnet2", 1114, anvil.url)
    with pytest.raises(Exception, match="No tipping contract is configured"):
        network.contract_address(contracts.TIPPING)
    configured = network.with_contracts({contracts.TIPPING: "0x" + "ab" * 20})
    assert configured.contract_address(contracts.TIPPING) == Web3.to_checksum_address(
        "0x" + "ab" * 20
    )
    assert configured.tx_url("0x12") is None


def test_transactions_of_a_chain_that_is_gone_are_marked_previous_chain(tmp_path):
    store = TxStore(tmp_path / "tx.db")
    fields = dict(chain_id=1337, sender="0xa", nonce=0, raw=b"x", fields={}, kind="send")
    store.add(tx_hash="0x1", description="tip", **fields)
    store.update("0x1", status=txstore.MINED, block=5)
    assert store.adopt_chain(1337, "0xg", "one") is None, "the first chain seen"
    assert store.adopt_chain(1337, "0xg", "one") is None
    assert store.get("0x1").status == txstore.MINED
    assert store.adopt_chain(1337, "0xg", "two") == 1
    assert store.get("0x1").status == txstore.PREVIOUS_CHAIN
    assert store.pending(1337, "0xa") == []
    assert store.adopt_chain(1337, "0xg", "two") is None, "said once"
    # the same signed bytes sent again on the new chain are its own transaction there
    store.add(tx_hash="0x1", description="tip", **fields)
    assert store.get("0x1").status == txstore.PENDING
    store.close()
