"""Small helpers for contract tests: send a contract call as a signed raw transaction."""

from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import ContractLogicError


def transact(w3: Web3, account: LocalAccount, call: Any, value: int = 0) -> Any:
    tx = call.build_transaction(
        {
            "from": account.address,
            "value": value,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        }
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.02)
    assert receipt["status"] == 1, f"transaction reverted: {receipt}"
    return receipt


def revert_reason(call: Any, sender: str, value: int = 0) -> str:
    """The revert message of `call` from `sender`; fails the test if it does not revert."""
    try:
        call.call({"from": sender, "value": value})
    except ContractLogicError as exc:
        return str(exc)
    raise AssertionError("the call did not revert")
