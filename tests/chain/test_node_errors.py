"""Node errors in the wording of geth (Core's RPC), anvil and the devnet -> one human message."""

import pytest
import requests
from eth_abi import encode
from web3.exceptions import ContractLogicError, Web3RPCError

from chain.errors import (
    InsufficientFundsError,
    RpcUnavailableError,
    TransactionRejectedError,
    TransactionRevertedError,
)
from chain.reverts import AlreadyKnown, NonceTooLow, Underpriced, decode_revert_data, explain
from studio.profiles import MAINNET, TESTNET
from studio.wallet.session import network_for_profile


def rpc_error(message: str, code: int = -32000, data: str | None = None) -> Web3RPCError:
    error = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return Web3RPCError(str(error), rpc_response={"jsonrpc": "2.0", "id": 1, "error": error})


def error_string(reason: str) -> str:
    return "0x08c379a0" + encode(["string"], [reason]).hex()


@pytest.mark.parametrize(
    ("message", "kind", "words"),
    [
        ("insufficient funds for gas * price + value: address 0xab have 0 want 10",
         InsufficientFundsError, "Not enough funds"),
        ("Insufficient funds for gas * price + value", InsufficientFundsError, "Not enough funds"),
        ("nonce too low: next nonce 5, tx nonce 3", NonceTooLow, "nonce"),
        ("already known", AlreadyKnown, "already has"),
        ("transaction already imported", AlreadyKnown, "already has"),
        ("replacement transaction underpriced", Underpriced, "higher fee"),
        ("max fee per gas less than block base fee: address 0xab, maxFeePerGas: 1, baseFee: 7",
         TransactionRejectedError, "fee went up"),
        ("intrinsic gas too low", TransactionRejectedError, "gas limit"),
        ("something new and strange", TransactionRejectedError, "something new and strange"),
    ],
)  # fmt: skip
def test_node_refusals(message, kind, words):
    explained = explain(rpc_error(message))
    assert type(explained) is kind
    assert words in str(explained)


def test_reverts_from_every_node_shape():
    # geth / Core / anvil: code 3 with Error(string) data
    geth = explain(
        rpc_error(
            "execution reverted: tipping: nothing to withdraw",
            3,
            error_string("tipping: nothing to withdraw"),
        )
    )
    assert isinstance(geth, TransactionRevertedError)
    assert str(geth) == "The contract refused: nothing to withdraw."
    # web3's own ContractLogicError (eth_call / estimateGas)
    logic = explain(
        ContractLogicError(
            "execution reverted: registry: CID already registered",
            data=error_string("registry: CID already registered"),
        )
    )
    assert str(logic) == "The contract refused: CID already registered."
    # a revert without a reason (Vyper bounds checks, plain `revert`)
    bare = explain(rpc_error("execution reverted", 3))
    assert str(bare) == "The contract refused the transaction without giving a reason."
    panic = "0x4e487b71" + encode(["uint256"], [0x11]).hex()
    assert decode_revert_data(panic) == "a number overflowed"
    assert decode_revert_data("0x1234") is None
    assert decode_revert_data(None) is None


def test_network_failures_are_rpc_unavailable():
    down = explain(requests.ConnectionError("Connection refused"), "https://rpc.test2.btcs.network")
    assert isinstance(down, RpcUnavailableError)
    assert "Cannot reach https://rpc.test2.btcs.network" in str(down)
    assert isinstance(explain(requests.Timeout()), RpcUnavailableError)


async def test_profiles_map_to_networks():
    testnet = await network_for_profile(TESTNET.chain, None)
    assert (testnet.key, testnet.chain_id, testnet.symbol) == ("testnet", 1114, "tCORE2")
    assert testnet.tx_url("0xab") == "https://scan.test2.btcs.network/tx/0xab"
    mainnet = await network_for_profile(MAINNET.chain, None)
    assert (mainnet.key, mainnet.chain_id, mainnet.symbol, mainnet.confirmations) == (
        "mainnet",
        1116,
        "CORE",
        6,
    )
