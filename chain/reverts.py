"""Turn whatever a node, web3 or the network raised into one human ChainError.

eth-tester (through the devnet), anvil and Core's geth-based RPC word their errors
differently; this is the one place that knows them all.
"""

from typing import Any

import requests
from eth_abi import decode as abi_decode
from web3.exceptions import (
    ContractLogicError,
    ContractPanicError,
    TimeExhausted,
    Web3RPCError,
)

from chain.errors import (
    ChainError,
    InsufficientFundsError,
    RpcUnavailableError,
    TransactionRejectedError,
    TransactionRevertedError,
)

ERROR_SELECTOR = "08c379a0"  # Error(string)
PANIC_SELECTOR = "4e487b71"  # Panic(uint256)
PANICS = {
    0x01: "an internal check failed",
    0x11: "a number overflowed",
    0x12: "a division by zero",
    0x21: "an invalid enum value",
    0x32: "an index out of range",
    0x41: "too much memory",
}


class NonceTooLow(TransactionRejectedError):
    pass


class AlreadyKnown(TransactionRejectedError):
    pass


class Underpriced(TransactionRejectedError):
    pass


def decode_revert_data(data: Any) -> str | None:
    """The reason string (or panic description) inside revert data, if any."""
    if isinstance(data, bytes | bytearray):
        data = data.hex()
    if not isinstance(data, str):
        return None
    hex_data = data.removeprefix("0x")
    try:
        if hex_data.startswith(ERROR_SELECTOR):
            return abi_decode(["string"], bytes.fromhex(hex_data[8:]))[0]
        if hex_data.startswith(PANIC_SELECTOR):
            code = abi_decode(["uint256"], bytes.fromhex(hex_data[8:]))[0]
            return PANICS.get(code, f"panic code {code:#x}")
    except Exception:
        return None
    return None


def humanise_reason(reason: str | None) -> str:
    """'tipping: nothing to withdraw' -> 'The contract refused: nothing to withdraw.'"""
    if not reason:
        return "The contract refused the transaction without giving a reason."
    text = reason.removeprefix("execution reverted").lstrip(": ").strip()
    if ": " in text and text.split(": ", 1)[0].isidentifier():
        text = text.split(": ", 1)[1]
    if not text:
        return "The contract refused the transaction without giving a reason."
    return f"The contract refused: {text.rstrip('.')}."


def _rpc_message(exc: Exception) -> str:
    if isinstance(exc, Web3RPCError):
        response = getattr(exc, "rpc_response", None) or {}
        error = response.get("error") if isinstance(response, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        return str(exc.message if hasattr(exc, "message") else exc)
    return str(exc)


def explain(exc: BaseException, rpc_url: str = "the node") -> ChainError:
    """One ChainError, with a message fit for a person, for any failure of a chain call."""
    if isinstance(exc, ChainError):
        return exc
    if isinstance(exc, ContractPanicError):
        return TransactionRevertedError(humanise_reason(decode_revert_data(exc.data)))
    if isinstance(exc, ContractLogicError):
        reason = decode_revert_data(exc.data) or (exc.message if exc.message else None)
        return TransactionRevertedError(humanise_reason(reason), reason=reason)
    if isinstance(exc, requests.RequestException | ConnectionError | TimeoutError | OSError):
        return RpcUnavailableError(
            f"Cannot reach {rpc_url} ({type(exc).__name__}). Check your connection; "
            "nothing was sent twice, and anything already signed is kept to send again."
        )
    if isinstance(exc, TimeExhausted):
        return RpcUnavailableError(
            "The transaction was sent but no receipt came in time. It is still tracked and "
            "will be followed when the studio next checks."
        )
    message = _rpc_message(exc)
    lowered = message.lower()
    if "execution reverted" in lowered or "revert" in lowered:
        data = None
        response = getattr(exc, "rpc_response", None)
        if isinstance(response, dict) and isinstance(response.get("error"), dict):
            data = response["error"].get("data")
        reason = decode_revert_data(data) or message
        return TransactionRevertedError(humanise_reason(reason), reason=reason)
    if "insufficient funds" in lowered:
        return InsufficientFundsError(
            "Not enough funds to pay for this transaction and its network fee. "
            "Add funds to this wallet or send a smaller amount."
        )
    if "nonce too low" in lowered:
        return NonceTooLow("The node has already seen a transaction with this number (nonce).")
    if "already known" in lowered or "already imported" in lowered:
        return AlreadyKnown("The node already has this exact transaction.")
    if "underpriced" in lowered:
        return Underpriced(
            "The node wants a higher fee to replace the pending transaction; try again."
        )
    if "base fee" in lowered or "fee cap" in lowered or "feecap" in lowered:
        return TransactionRejectedError(
            "The network fee went up before the transaction was sent; try again."
        )
    if "intrinsic gas too low" in lowered or "gas limit" in lowered:
        return TransactionRejectedError(
            f"The gas limit is not right for this transaction: {message}."
        )
    return TransactionRejectedError(f"The node refused the transaction: {message}.")
