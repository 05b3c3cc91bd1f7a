"""Errors the chain layer raises: str(error) is a complete sentence fit for a person.

None of them ever carries a key, a mnemonic or a password, and they are raised `from None`
where the underlying exception could.
"""


class ChainError(Exception):
    """Base class for everything chain/ raises on purpose."""


class RpcUnavailableError(ChainError):
    """The node could not be reached (down, refused, timed out)."""


class WrongChainError(ChainError):
    def __init__(self, expected: int, actual: int, rpc_url: str) -> None:
        self.expected, self.actual, self.rpc_url = expected, actual, rpc_url
        super().__init__(
            f"The node at {rpc_url} is on chain {actual}, not the expected chain {expected}. "
            "Check the RPC URL for this network in Settings."
        )


class ContractNotConfiguredError(ChainError):
    pass


class TransactionRejectedError(ChainError):
    """The node refused a transaction before mining it (funds, fees, nonce...)."""


class InsufficientFundsError(TransactionRejectedError):
    pass


class TransactionRevertedError(ChainError):
    """The contract refused the call: `reason` is the decoded revert reason, if any."""

    def __init__(self, message: str, reason: str | None = None, tx_hash: str | None = None) -> None:
        self.reason, self.tx_hash = reason, tx_hash
        super().__init__(message)


class WalletError(ChainError):
    pass


class WrongPasswordError(WalletError):
    pass


class KeystoreCorruptError(WalletError):
    pass


class KeyringUnavailableError(WalletError):
    pass


class WalletLockedError(WalletError):
    pass


class WalletNotFoundError(WalletError):
    pass


class InvalidMnemonicError(WalletError):
    pass


class InvalidPrivateKeyError(WalletError):
    pass
