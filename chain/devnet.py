"""The embedded devnet: an in-process EVM (eth-tester + py-evm) answering JSON-RPC.

`Devnet.handle(request)` takes a JSON-RPC request object (or a batch) and returns the
response object, hex-encoded as a real node would, so that web3 over HTTP, a fan's script or
the fan page all see an ordinary node. The chain runs the Shanghai rules, like Core.

Dev accounts are the well-known test mnemonic's (the same ones anvil funds), so a local tool
configured for anvil also works here. eth-tester's chain id cannot be set: `chain_id` is
whatever it reports.

With a `store_path`, the chain lives on disk (chain.devnet_store) and a devnet started again
on the same file continues it: same blocks, balances, contracts and instance id. Without one
it lives in memory and is a new chain, with a new instance id, every time.
"""

import logging
import re
import secrets
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth.exceptions import TransactionNotFound as EvmTransactionNotFound
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.backends.pyevm.serializers import (
    serialize_transaction,
    serialize_transaction_receipt,
)
from eth_tester.exceptions import TransactionFailed, TransactionNotFound, ValidationError
from eth_utils import ValidationError as EvmValidationError
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import BlockNotFound

from chain import contracts
from chain.devnet_store import ChainStore, DamagedChainStore, keep_aside

log = logging.getLogger(__name__)

# Public test mnemonic (hardhat/anvil). Never holds real funds.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
DEV_HD_PATH = "m/44'/60'/0'/0"
DEV_ACCOUNT_COUNT = 10
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)

Account.enable_unaudited_hdwallet_features()


def dev_accounts(count: int = DEV_ACCOUNT_COUNT) -> list[LocalAccount]:
    return [
        Account.from_mnemonic(DEV_MNEMONIC, account_path=f"{DEV_HD_PATH}/{i}") for i in range(count)
    ]


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.title() for part in rest)


def _rpc_object(value: Mapping[str, Any]) -> dict[str, Any]:
    obj = {_camel(k): _to_rpc(v, _camel(k)) for k, v in value.items()}
    if {"nonce", "from", "data"} <= obj.keys():  # a transaction nested in a block
        obj["input"] = obj.pop("data")
        obj["to"] = obj.get("to") or None
    return obj


def _to_rpc(value: Any, key: str = "") -> Any:
    """eth-tester's Python values -> JSON-RPC wire values (quantities and data as hex)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if key == "logsBloom":
            return "0x" + value.to_bytes(256, "big").hex()
        return hex(value)
    if isinstance(value, bytes | bytearray | HexBytes):
        return "0x" + bytes(value).hex()
    if isinstance(value, Mapping):
        return _rpc_object(value)
    if isinstance(value, list | tuple):
        return [_to_rpc(v, key) for v in value]
    return value


_NONCE = re.compile(r"Invalid transaction nonce: Expected (\d+), but got (\d+)")


def _node_error(exc: Exception) -> dict[str, Any]:
    """py-evm's validation messages -> the wording geth (and so Core) uses, code -32000."""
    text = str(exc) or type(exc).__name__
    if match := _NONCE.search(text):
        expected, got = int(match[1]), int(match[2])
        kind = "nonce too low" if got < expected else "nonce too high"
        text = f"{kind}: next nonce {expected}, tx nonce {got}"
    elif "cannot afford" in text or "enough balance" in text:
        text = "insufficient funds for gas * price + value"
    elif "lower than block's base fee" in text:
        text = "max fee per gas less than block base fee"
    return {"code": -32000, "message": text}


def _revert_error(exc: TransactionFailed) -> dict[str, Any]:
    message = str(exc.args[0]) if exc.args else "execution reverted"
    reason = message.removeprefix("execution reverted: ").removeprefix("execution reverted")
    error: dict[str, Any] = {"code": 3, "message": message}
    if reason and reason != "b''":
        error["data"] = "0x" + (ERROR_SELECTOR + abi_encode(["string"], [reason])).hex()
    return error


METADATA_METHOD = "harmonie_devnetMetadata"


class IndexedBackend(PyEVMBackend):
    """eth-tester finds a transaction by reading every block back from the head (O(blocks),
    1 s for 1,000 blocks, on every receipt poll); py-evm indexes the canonical chain's
    transactions by hash: look there, then in the pending block. A chain kept on disk for
    months holds many blocks."""

    def _find(self, tx_hash: bytes) -> tuple[Any, Any, int]:
        chain = self.chain
        try:
            number, index = chain.chaindb.get_transaction_index(tx_hash)
        except EvmTransactionNotFound:
            pending = chain.get_block()
            for index, tx in enumerate(pending.transactions):
                if tx.hash == tx_hash:
                    return pending, tx, index
            raise TransactionNotFound(f"No transaction found for hash 0x{tx_hash.hex()}") from None
        block = chain.get_canonical_block_by_number(number)
        return block, block.transactions[index], index

    def get_transaction_by_hash(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._find(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        return serialize_transaction(block, transaction, index, is_pending)

    def get_transaction_receipt(self, transaction_hash: bytes) -> Any:
        block, transaction, index = self._find(transaction_hash)
        is_pending = block.number == self.chain.get_block().number
        receipts = block.get_receipts(self.chain.chaindb)
        return serialize_transaction_receipt(
            block, receipts, transaction, index, is_pending, self.chain.get_vm()
        )


class Devnet:
    """One chain, shared by every caller; calls are serialised (py-evm is not thread-safe)."""

    def __init__(
        self, account_count: int = DEV_ACCOUNT_COUNT, store_path: Path | None = None
    ) -> None:
        from eth.vm.forks import ShanghaiVM

        backend = IndexedBackend.from_mnemonic(
            DEV_MNEMONIC,
            num_accounts=account_count,
            vm_configuration=((0, ShanghaiVM),),
            hd_path=DEV_HD_PATH,
        )
        self.store: ChainStore | None = None
        # set when the store on disk was damaged and kept aside: a sentence for the artist
        self.notice: str | None = None
        self.contracts: dict[str, str] = {}
        # A chain in memory is new on every start and can look block for block like the last
        # one (same second, same transactions): watchers tell them apart by this id, as with
        # anvil's. A chain on disk keeps its id for as long as its file lives.
        self.instance_id = secrets.token_hex(16)
        if store_path is not None:
            self._open_store(backend, store_path, account_count)
        self.provider = EthereumTesterProvider(EthereumTester(backend))
        self.w3 = Web3(self.provider)
        self._request = self.provider.request_func(self.w3, self.w3.middleware_onion)
        self._lock = threading.Lock()
        self.accounts = dev_accounts(account_count)
        self.chain_id: int = self.w3.eth.chain_id
        self._commit()

    def _open_store(self, backend: PyEVMBackend, path: Path, account_count: int) -> None:
        """Put `backend`'s chain on the store at `path`: the one it holds, or a new one."""
        chain_class = type(backend.chain)
        try:
            store = ChainStore(path)
            if not store.is_new:
                backend.chain = self._load(chain_class, backend.account_keys, store)
        except DamagedChainStore as exc:
            aside = keep_aside(path)
            self.notice = (
                f"The local chain in {path} could not be read ({exc}). It was kept as "
                f"{aside.name} and a new local chain was started."
            )
            log.error(self.notice, extra={"event": "devnet_store_damaged", "kept": str(aside)})
            store = ChainStore(path)
        if store.is_new:
            genesis_state = PyEVMBackend.generate_genesis_state(
                mnemonic=DEV_MNEMONIC, num_accounts=account_count, hd_path=DEV_HD_PATH
            )
            backend.chain = chain_class.from_genesis(
                store.db, PyEVMBackend.generate_genesis_params(), genesis_state
            )
            store.set_meta("instance_id", self.instance_id)
        self.instance_id = str(store.meta("instance_id"))
        self.contracts = dict(store.meta("contracts") or {})
        self.store = store

    @staticmethod
    def _load(chain_class: Any, account_keys: Any, store: ChainStore) -> Any:
        """The chain in `store`, its head block's state and the contracts' code read once:
        DamagedChainStore if any is missing (py-evm reads lazily; better to know now than
        in the middle of a request)."""
        try:
            if not isinstance(store.meta("instance_id"), str):
                raise ValueError("no instance id")
            chain = chain_class(store.db)
            state = chain.get_vm(chain.get_canonical_head()).state
            for key in account_keys:
                state.get_balance(key.public_key.to_canonical_address())
            for name, address in (store.meta("contracts") or {}).items():
                if not state.get_code(bytes.fromhex(address.removeprefix("0x"))):
                    raise ValueError(f"no code for the {name} contract at {address}")
            return chain
        except Exception as exc:
            store.abandon()
            raise DamagedChainStore(f"{type(exc).__name__}: {exc}") from exc

    def _commit(self) -> None:
        """Make what the last call did durable (the caller holds the lock, or is __init__)."""
        if self.store is not None:
            self.store.commit()

    def close(self) -> None:
        with self._lock:
            if self.store is not None:
                self.store.close()
                self.store = None

    def missing_contracts(self) -> list[str]:
        """The contracts this chain has not deployed yet (all of them on a new chain; the
        ones added since, on a chain stored by an older version)."""
        return [name for name in contracts.NAMES if name not in self.contracts]

    def deploy_contracts(self) -> dict[str, str]:
        """Deploy the missing contracts; those already deployed keep their address."""
        with self._lock:
            self.contracts = contracts.deploy_all(self.w3, self.accounts[0], self.contracts)
            if self.store is not None:
                self.store.set_meta("contracts", self.contracts)
            self._commit()
        log.info("devnet contracts deployed", extra={"event": "devnet_deployed", **self.contracts})
        return self.contracts

    def block_number(self) -> int:
        with self._lock:
            return int(self.w3.eth.block_number)

    def fund(self, address: str, wei: int) -> str:
        """Send `wei` from the last dev account to `address`; returns the transaction hash."""
        funder = self.accounts[-1]
        with self._lock:
            tx = {
                "to": to_checksum_address(address),
                "value": wei,
                "gas": 21_000,
                "nonce": self.w3.eth.get_transaction_count(funder.address, "pending"),
                "chainId": self.chain_id,
                "maxFeePerGas": 2 * self.w3.eth.get_block("latest")["baseFeePerGas"] + 10**9,
                "maxPriorityFeePerGas": 10**9,
            }
            signed = funder.sign_transaction(tx)
            try:
                return self.w3.eth.send_raw_transaction(signed.raw_transaction).to_0x_hex()
            finally:
                self._commit()

    def handle(self, request: Any) -> Any:
        """Answer one JSON-RPC request object or a batch (list) of them."""
        if isinstance(request, list):
            return [self._handle_one(r) for r in request] if request else self._invalid(None)
        return self._handle_one(request)

    def _block_hash_filter_to_range(self, params: Any) -> Any:
        """eth-tester's get_logs has no `blockHash` filter (EIP-234); watchers use it to read
        exactly one block, so answer it as the range of that block (unknown hash: an error)."""
        if not (isinstance(params, list) and params and isinstance(params[0], dict)):
            return params
        query = dict(params[0])
        block_hash = query.pop("blockHash", None)
        if block_hash is None:
            return params
        try:
            number = self.w3.eth.get_block(block_hash)["number"]
        except BlockNotFound:
            raise ValueError(f"unknown block {block_hash}") from None
        query["fromBlock"] = query["toBlock"] = hex(number)
        return [query, *params[1:]]

    @staticmethod
    def _invalid(request_id: Any, message: str = "Invalid Request") -> dict[str, Any]:
        return {"jsonrpc": "2.0", "id": request_id, "error": {"code": -32600, "message": message}}

    def _handle_one(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return self._invalid(request.get("id") if isinstance(request, dict) else None)
        request_id = request.get("id")
        method, params = request["method"], request.get("params") or []
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
        if method == METADATA_METHOD:
            reply["result"] = {"instanceId": self.instance_id, "chainId": self.chain_id}
            return reply
        try:
            with self._lock:
                if method == "eth_getLogs":
                    params = self._block_hash_filter_to_range(params)
                try:
                    response = self._request(method, params)
                finally:
                    self._commit()
        except TransactionFailed as exc:
            reply["error"] = _revert_error(exc)
            return reply
        except (ValidationError, EvmValidationError, ValueError, TypeError, KeyError) as exc:
            reply["error"] = _node_error(exc)
            return reply
        except Exception as exc:  # a bug here must not kill the server: report it as an RPC error
            log.exception("devnet request %s failed", method)
            reply["error"] = {"code": -32603, "message": f"internal error: {exc}"}
            return reply
        if "error" in response:
            reply["error"] = response["error"]
        else:
            reply["result"] = _to_rpc(response.get("result"))
        return reply
