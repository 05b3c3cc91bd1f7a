"""Build, sign, send and follow transactions from one wallet, safely across restarts.

- `prepare`: fill gas (estimated; a revert is caught and explained here, before signing)
  and EIP-1559 fees (legacy gas price on chains without a base fee).
- `send`: reconcile the store with the chain, assign the nonce (the node's pending count,
  past the nonces our own pending transactions hold), sign, store the signed bytes, then
  broadcast. An outage after storing keeps the bytes to send again; nothing is ever signed
  twice for one request.
- `wait`: follow to a receipt with the network's confirmations; notices a replacement and
  a transaction the node has lost (status `dropped`).
- `speed_up` / `cancel`: replace a pending transaction (same nonce, higher fees).
- `reconcile` (before every send, while waiting, and as `resume` after a restart): settle
  what was mined; send again, byte for byte, what the node lacks; mark dropped what it can
  no longer mine, so that its nonce is used again and the action behind it (a registration,
  a withdrawal) can be retried by its owner after checking the chain. Dropped means: the
  chain was started afresh since it was sent (the block it was sent on is gone), a nonce
  before it is free, or the node lost it and has not had it back for `drop_after_blocks`.
"""

# Over 450 lines on purpose: TxManager owns a transaction's whole life (prepare, send,
# reconcile with the node, speed up, cancel, wait); nonce rules must not be split across modules.

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import BlockNotFound

from chain import txstore
from chain.errors import ChainError, RpcUnavailableError, TransactionRevertedError
from chain.fees import Fees, estimate_fees
from chain.networks import Network
from chain.reverts import AlreadyKnown, NonceTooLow, decode_revert_data, explain, humanise_reason
from chain.txstore import TxRecord, TxStore

log = logging.getLogger(__name__)

GAS_MARGIN = 1.2
TRANSFER_GAS = 21_000
# A transaction the node has lost, and still lacks this many blocks after we sent it again,
# is given up (about a minute on Core).
DROP_AFTER_BLOCKS = 20
RECONCILE_EVERY_S = 1.0  # while waiting for a receipt, how often to look for a lost one


class Signer(Protocol):
    @property
    def address(self) -> str: ...

    def sign_transaction(self, tx: dict[str, Any]) -> bytes: ...


@dataclass(frozen=True)
class PreparedTx:
    """Everything the confirmation dialog shows before signing."""

    chain_id: int
    sender: str
    to: str
    value: int
    data: str
    gas: int
    fees: Fees
    description: str

    @property
    def max_fee_wei(self) -> int:
        return self.gas * self.fees.max_fee_per_gas

    @property
    def max_total_wei(self) -> int:
        return self.value + self.max_fee_wei


@dataclass(frozen=True)
class SentTx:
    hash: str
    nonce: int
    broadcast: bool


@dataclass(frozen=True)
class TxOutcome:
    hash: str  # the transaction that was mined (a replacement's hash if one won)
    status: str  # mined | failed | replaced | pending | dropped
    block: int | None = None
    confirmations: int = 0
    gas_used: int | None = None
    error: str | None = None
    receipt: dict[str, Any] = field(default_factory=dict, repr=False)

    def raise_for_status(self) -> "TxOutcome":
        if self.status == txstore.FAILED:
            raise TransactionRevertedError(self.error or humanise_reason(None), tx_hash=self.hash)
        return self


class TxManager:
    def __init__(
        self,
        w3: Web3,
        network: Network,
        store: TxStore,
        drop_after_blocks: int = DROP_AFTER_BLOCKS,
    ) -> None:
        if network.chain_id is None:
            raise ValueError("connect() the network first: its chain id must be known")
        self.w3 = w3
        self.network = network
        self.chain_id: int = network.chain_id
        self.store = store
        self.drop_after_blocks = drop_after_blocks
        self.reconcile_every_s = RECONCILE_EVERY_S
        self._nonce_lock = threading.Lock()

    # ---- helpers --------------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ChainError:
            raise
        except Exception as exc:
            raise explain(exc, self.network.rpc_url or self.network.name) from None

    def _broadcast(self, raw: bytes) -> None:
        self._call(self.w3.eth.send_raw_transaction, raw)

    # ---- prepare / send -------------------------------------------------------------------

    def prepare(
        self,
        sender: str,
        to: str,
        data: str | bytes = b"",
        value: int = 0,
        description: str = "",
        gas: int | None = None,
        fees: Fees | None = None,
    ) -> PreparedTx:
        sender, to = to_checksum_address(sender), to_checksum_address(to)
        data_hex = HexBytes(data).to_0x_hex() if data else "0x"
        if gas is None:
            request = {"from": sender, "to": to, "value": value, "data": data_hex}
            estimated = self._call(self.w3.eth.estimate_gas, request)
            gas = estimated if estimated == TRANSFER_GAS else int(estimated * GAS_MARGIN)
        if fees is None:
            fees = self._call(estimate_fees, self.w3)
        return PreparedTx(self.chain_id, sender, to, value, data_hex, gas, fees, description)

    def prepare_call(
        self, sender: str, call: Any, value: int = 0, description: str = ""
    ) -> PreparedTx:
        """`call` is a web3 contract function call, e.g. tipping.functions.tip(artist, msg)."""
        return self.prepare(
            sender, call.address, call._encode_transaction_data(), value, description
        )

    def _fields(self, prepared: PreparedTx, nonce: int) -> dict[str, Any]:
        return {
            "chainId": self.chain_id,
            "nonce": nonce,
            "to": prepared.to,
            "value": prepared.value,
            "data": prepared.data,
            "gas": prepared.gas,
            **prepared.fees.tx_fields(),
        }

    def next_nonce(self, sender: str) -> int:
        """The node's pending count, past the nonces our own pending transactions hold (the
        node may not have seen them yet); a nonce freed by a dropped transaction is reused."""
        nonce = int(self._call(self.w3.eth.get_transaction_count, sender, "pending"))
        taken = self.store.open_nonces(self.chain_id, sender)
        while nonce in taken:
            nonce += 1
        return nonce

    def send(self, prepared: PreparedTx, signer: Signer) -> SentTx:
        if signer.address != prepared.sender:
            raise ChainError(
                "The unlocked wallet is not the one this transaction was prepared for."
            )
        with self._nonce_lock:
            self._reconcile(prepared.sender)
            nonce = self.next_nonce(prepared.sender)
            fields = self._fields(prepared, nonce)
            return self._sign_store_broadcast(signer, fields, "send", prepared.description)

    def _sign_store_broadcast(
        self,
        signer: Signer,
        fields: dict[str, Any],
        kind: str,
        description: str,
        replaces: str | None = None,
    ) -> SentTx:
        head = self._call(self.w3.eth.get_block, "latest")
        raw = signer.sign_transaction(fields)
        tx_hash = Web3.keccak(raw).to_0x_hex()
        self.store.add(
            tx_hash=tx_hash, chain_id=self.chain_id, sender=signer.address, nonce=fields["nonce"],
            raw=raw, fields=fields, kind=kind, description=description, replaces=replaces,
            sent_block=int(head["number"]), sent_block_hash=HexBytes(head["hash"]).to_0x_hex(),
        )  # fmt: skip
        try:
            self._broadcast(raw)
        except RpcUnavailableError as exc:
            log.warning("transaction %s stored, not yet sent: %s", tx_hash, exc)
            raise RpcUnavailableError(
                f"{exc} The signed transaction is saved and will be sent when the node is "
                "reachable again (it will not be sent twice)."
            ) from None
        except AlreadyKnown:
            pass
        except ChainError as exc:
            # refused outright: the nonce was not used, so free it
            self.store.update(tx_hash, status=txstore.REJECTED, error=str(exc))
            raise
        self.store.update(tx_hash, broadcast=1)
        return SentTx(tx_hash, fields["nonce"], True)

    def _rebroadcast(self, record: TxRecord) -> str | None:
        """Send the stored bytes (again); the node's refusal, if it refused them."""
        try:
            self._broadcast(record.raw)
        except (AlreadyKnown, NonceTooLow):
            pass  # the node has it, or its nonce is used: `refresh` settles which
        except RpcUnavailableError:
            raise
        except ChainError as exc:
            return str(exc)
        self.store.update(record.hash, broadcast=1)
        return None

    # ---- reconcile ------------------------------------------------------------------------

    def reconcile(self, sender: str) -> list[TxOutcome]:
        """Bring the store in line with the chain (see the module's docstring); one outcome
        per transaction that was pending."""
        with self._nonce_lock:
            return self._reconcile(to_checksum_address(sender))

    def _reconcile(self, sender: str) -> list[TxOutcome]:
        by_nonce: dict[int, list[TxRecord]] = {}
        for record in self.store.pending(self.chain_id, sender):
            by_nonce.setdefault(record.nonce, []).append(record)
        if not by_nonce:
            return []
        head = int(self._call(lambda: self.w3.eth.block_number))
        # the nonce the node would mine next, counting what we (re)send in this pass
        expected = int(self._call(self.w3.eth.get_transaction_count, sender, "pending"))
        outcomes: list[TxOutcome] = []
        for nonce in sorted(by_nonce):
            settled = self.refresh(by_nonce[nonce][0].hash)
            group = [
                r for r in self.store.with_nonce(self.chain_id, sender, nonce)
                if r.status == txstore.PENDING
            ]  # fmt: skip
            if settled.status != txstore.PENDING or not group:
                outcomes.append(settled)
                continue
            if any(self._call(self._node_has, r.hash) for r in group):
                reason = None
            else:
                reason = self._lost(group, expected, head)
            if reason is None:
                expected = max(expected, nonce + 1)
                outcomes += [TxOutcome(r.hash, txstore.PENDING) for r in by_nonce[nonce]]
                continue
            for record in group:
                log.warning("transaction %s (nonce %d) dropped: %s", record.hash, nonce, reason)
                self.store.update(record.hash, status=txstore.DROPPED, error=reason)
            outcomes += [TxOutcome(r.hash, txstore.DROPPED, error=reason) for r in group]
        return outcomes

    def _lost(self, group: list[TxRecord], expected: int, head: int) -> str | None:
        """For transactions of one nonce that the node does not have: why they are to be
        dropped, or None when they were sent again (the stored bytes, never a new signature)."""
        nonce = group[0].nonce
        if nonce > expected:
            return (
                f"The node cannot mine it: nonce {expected} before it was never used, "
                "so its number is given to the next transaction."
            )
        if any(r.broadcast and self._chain_gone(r) for r in group):
            return "The node never had it: the chain was started afresh after it was sent."
        since = [r.missing_since for r in group if r.missing_since is not None]
        if not since:
            for record in group:
                self.store.update(record.hash, missing_since=head)
        elif head - min(since) >= self.drop_after_blocks:
            return f"The node lost it and has not mined it for {head - min(since)} blocks."
        latest = max(group, key=lambda r: r.created)  # a speed-up's replacement, if any
        refused = self._rebroadcast(latest)
        return f"The node refused it when it was sent again: {refused}" if refused else None

    def _chain_gone(self, record: TxRecord) -> bool:
        """Is the block that was the head when `record` was sent no longer on this chain?"""
        if record.sent_block is None or record.sent_block_hash is None:
            return False  # stored before heads were kept: the other rules decide
        try:
            block = self.w3.eth.get_block(record.sent_block)
        except BlockNotFound:
            return True
        except Exception as exc:
            raise explain(exc, self.network.rpc_url) from None
        return HexBytes(block["hash"]).to_0x_hex() != record.sent_block_hash

    # ---- follow ---------------------------------------------------------------------------

    def _receipt(self, tx_hash: str) -> dict[str, Any] | None:
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return None
            raise explain(exc, self.network.rpc_url) from None
        return dict(receipt) if receipt else None

    def refresh(self, tx_hash: str) -> TxOutcome:
        """One look at the chain: has this transaction, or one replacing it, been mined?"""
        record = self._record(tx_hash)
        if record.status in (txstore.MINED, txstore.FAILED):
            return self._settled_outcome(record)
        siblings = self.store.with_nonce(self.chain_id, record.sender, record.nonce)
        # The nonce first, then the receipts: a block mined between the two reads is then
        # seen with its receipt, never taken for another transaction having used the nonce.
        node_nonce = self._call(self.w3.eth.get_transaction_count, record.sender, "latest")
        for candidate in siblings:
            receipt = self._receipt(candidate.hash)
            if receipt is not None:
                return self._settle(record.sender, record.nonce, candidate, receipt, tx_hash)
        if node_nonce > record.nonce:
            # another transaction (not ours, or a record we lost) used this nonce
            for candidate in siblings:
                if candidate.status == txstore.PENDING:
                    self.store.update(candidate.hash, status=txstore.REPLACED)
            return TxOutcome(
                tx_hash, txstore.REPLACED, error="Another transaction used this nonce."
            )
        if record.status == txstore.DROPPED:
            return TxOutcome(tx_hash, txstore.DROPPED, error=record.error)
        return TxOutcome(tx_hash, txstore.PENDING)

    def _record(self, tx_hash: str) -> TxRecord:
        record = self.store.get(tx_hash)
        if record is None:
            raise ChainError(f"Transaction {tx_hash} is not one this wallet sent.")
        return record

    def _settle(
        self, sender: str, nonce: int, winner: TxRecord, receipt: dict[str, Any], asked: str
    ) -> TxOutcome:
        status = txstore.MINED if receipt["status"] == 1 else txstore.FAILED
        error = None if status == txstore.MINED else self._revert_reason(winner, receipt)
        block = int(receipt["blockNumber"])
        self.store.update(winner.hash, status=status, block=block, error=error, broadcast=1)
        for other in self.store.with_nonce(self.chain_id, sender, nonce):
            if other.hash != winner.hash and other.status == txstore.PENDING:
                self.store.update(other.hash, status=txstore.REPLACED)
        head = self._call(lambda: self.w3.eth.block_number)
        outcome_status = status if winner.hash == asked else txstore.REPLACED
        return TxOutcome(
            winner.hash,
            outcome_status,
            block,
            head - block + 1,
            int(receipt["gasUsed"]),
            error,
            receipt,
        )

    def _settled_outcome(self, record: TxRecord) -> TxOutcome:
        head = self._call(lambda: self.w3.eth.block_number)
        confirmations = head - record.block + 1 if record.block is not None else 0
        return TxOutcome(
            record.hash, record.status, record.block, confirmations, None, record.error
        )

    def _revert_reason(self, record: TxRecord, receipt: dict[str, Any]) -> str:
        """Replay a failed transaction as a call on the state before its block to learn why."""
        fields = record.fields
        call = {"from": record.sender, "to": fields["to"], "value": fields["value"],
                "data": fields["data"], "gas": fields["gas"]}  # fmt: skip
        try:
            self.w3.eth.call(call, int(receipt["blockNumber"]) - 1)
        except Exception as exc:
            explained = explain(exc, self.network.rpc_url)
            if isinstance(explained, TransactionRevertedError):
                return str(explained)
        if receipt.get("gasUsed") == fields["gas"]:
            return "The transaction ran out of gas."
        return humanise_reason(decode_revert_data(receipt.get("revertReason")))

    def wait(
        self,
        tx_hash: str,
        confirmations: int | None = None,
        timeout: float = 120.0,
        poll: float = 0.1,
    ) -> TxOutcome:
        """Poll until mined with `confirmations` (the network's by default), replaced, failed
        or dropped (every `reconcile_every_s` the wallet's pending transactions are reconciled).

        A node outage while waiting is ridden out until `timeout`; the transaction stays
        tracked either way (RpcUnavailableError at the end if the node never came back)."""
        wanted = self.network.confirmations if confirmations is None else confirmations
        sender = self._record(tx_hash).sender
        deadline = time.monotonic() + timeout
        next_reconcile = time.monotonic() + self.reconcile_every_s
        last_error: RpcUnavailableError | None = None
        while True:
            try:
                outcome = self.refresh(tx_hash)
                if outcome.status == txstore.PENDING and time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + self.reconcile_every_s
                    self.reconcile(sender)
                    outcome = self.refresh(tx_hash)
                last_error = None
                if outcome.status == txstore.DROPPED:
                    return outcome
                if outcome.status in (txstore.FAILED, txstore.REPLACED) and outcome.hash == tx_hash:
                    return outcome
                if outcome.status != txstore.PENDING and outcome.confirmations >= wanted:
                    return outcome
            except RpcUnavailableError as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                if last_error is not None:
                    raise last_error
                return self.refresh(tx_hash)
            time.sleep(poll)

    # ---- replace --------------------------------------------------------------------------

    def _replaceable(self, tx_hash: str) -> TxRecord:
        record = self.store.get(tx_hash)
        if record is None or record.status != txstore.PENDING:
            raise ChainError("Only a pending transaction sent from this wallet can be replaced.")
        outcome = self.refresh(tx_hash)
        if outcome.status != txstore.PENDING:
            raise ChainError(
                "This transaction is no longer pending: it has been mined or replaced."
            )
        return record

    def _highest_fees(self, record: TxRecord) -> Fees:
        fees = [r.fields for r in self.store.with_nonce(self.chain_id, record.sender, record.nonce)]
        if "gasPrice" in record.fields:
            price = max(f.get("gasPrice", 0) for f in fees)
            return Fees(price, price, None)
        cap = max(f.get("maxFeePerGas", 0) for f in fees)
        tip = max(f.get("maxPriorityFeePerGas", 0) for f in fees)
        return Fees(cap, tip, 0)

    def speed_up(self, tx_hash: str, signer: Signer) -> SentTx:
        """The same transaction with fees raised past the node's replacement rule."""
        record = self._replaceable(tx_hash)
        fees = self._highest_fees(record).bumped(self._call(estimate_fees, self.w3))
        fields = {**record.fields, **fees.tx_fields()}
        with self._nonce_lock:
            return self._sign_store_broadcast(
                signer, fields, "speedup", f"Speed up: {record.description}", replaces=record.hash
            )

    def cancel(self, tx_hash: str, signer: Signer) -> SentTx:
        """Replace with a zero-value transfer to oneself at higher fees."""
        record = self._replaceable(tx_hash)
        fees = self._highest_fees(record).bumped(self._call(estimate_fees, self.w3))
        fields = {
            "chainId": self.chain_id, "nonce": record.nonce, "to": record.sender, "value": 0,
            "data": "0x", "gas": TRANSFER_GAS, **fees.tx_fields(),
        }  # fmt: skip
        with self._nonce_lock:
            return self._sign_store_broadcast(
                signer, fields, "cancel", f"Cancel: {record.description}", replaces=record.hash
            )

    # ---- restart --------------------------------------------------------------------------

    def resume(self, sender: str) -> list[TxOutcome]:
        """After a restart: `reconcile`."""
        return self.reconcile(sender)

    def in_flight(self, sender: str, to: str, data: str) -> TxRecord | None:
        """Our pending transaction with this call, after reconciling: an action (a
        registration) resumed after a crash waits for it rather than sending it twice."""
        sender, to = to_checksum_address(sender), to_checksum_address(to)
        self.reconcile(sender)
        for record in self.store.pending(self.chain_id, sender):
            fields = record.fields
            same_call = HexBytes(fields["data"]) == HexBytes(data)
            if same_call and to_checksum_address(fields["to"]) == to:
                return record
        return None

    def _node_has(self, tx_hash: str) -> bool:
        try:
            return self.w3.eth.get_transaction(tx_hash) is not None
        except Exception as exc:
            if type(exc).__name__ == "TransactionNotFound":
                return False
            raise

    def recent(self, sender: str, limit: int = 20) -> list[TxRecord]:
        return self.store.recent(self.chain_id, to_checksum_address(sender), limit)
