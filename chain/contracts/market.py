"""The marketplace's and the subscriptions' events: their topics and their decoding.

    Listed(seller indexed, token_id indexed, price)
    Sold(seller indexed, buyer indexed, artist indexed, token_id, price, royalty)
    Subscribed / Renewed(fan indexed, artist indexed, tier, periods, amount, active_until)

Every event of both contracts decodes through `decode_event`, from the compiled ABI; the
dataclasses below are the ones the sales and subscription followers hand on.
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from chain.contracts import MARKETPLACE, SUBSCRIPTIONS, abi
from chain.contracts.tipping import hex_text


def _signature(entry: dict[str, Any]) -> str:
    return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"


@cache
def _events(contract: str) -> dict[str, dict[str, Any]]:
    """topic -> event ABI entry, for one contract."""
    entries = [e for e in abi(contract) if e["type"] == "event"]
    return {"0x" + keccak(text=_signature(e)).hex(): e for e in entries}


def event_topic(contract: str, name: str) -> str:
    """The topic0 of event `name` of `contract` (e.g. MARKETPLACE, "Sold")."""
    for topic, entry in _events(contract).items():
        if entry["name"] == name:
            return topic
    raise KeyError(f"the {contract} contract has no event {name}")


@dataclass(frozen=True)
class ChainEvent:
    """One decoded log: its place on chain, its name and its arguments (addresses checksummed)."""

    name: str
    args: dict[str, Any]
    tx_hash: str  # lowercase 0x-hex
    log_index: int
    block_number: int
    block_hash: str  # lowercase 0x-hex


def _decode_value(kind: str, value: Any) -> Any:
    if kind == "address":
        return to_checksum_address(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def decode_event(contract: str, log_entry: Any) -> ChainEvent:
    """A log of `contract` -> ChainEvent. ValueError when it is none of its events."""
    topics = [hex_text(t) for t in log_entry["topics"]]
    entry = _events(contract).get(topics[0]) if topics else None
    if entry is None:
        raise ValueError(f"not an event of the {contract} contract")
    indexed = [i for i in entry["inputs"] if i["indexed"]]
    plain = [i for i in entry["inputs"] if not i["indexed"]]
    if len(topics) != len(indexed) + 1:
        raise ValueError(f"a malformed {entry['name']} event")
    data = log_entry["data"]
    raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes.fromhex(hex_text(data)[2:])
    args: dict[str, Any] = {}
    for item, topic in zip(indexed, topics[1:], strict=True):
        (value,) = abi_decode([item["type"]], bytes.fromhex(topic[2:]))
        args[item["name"]] = _decode_value(item["type"], value)
    values = abi_decode([i["type"] for i in plain], raw)
    for item, value in zip(plain, values, strict=True):
        args[item["name"]] = _decode_value(item["type"], value)
    return ChainEvent(
        name=entry["name"],
        args=args,
        tx_hash=hex_text(log_entry["transactionHash"]),
        log_index=int(log_entry["logIndex"]),
        block_number=int(log_entry["blockNumber"]),
        block_hash=hex_text(log_entry["blockHash"]),
    )


LISTED_TOPIC = event_topic(MARKETPLACE, "Listed")
SOLD_TOPIC = event_topic(MARKETPLACE, "Sold")
SUBSCRIBED_TOPIC = event_topic(SUBSCRIPTIONS, "Subscribed")
RENEWED_TOPIC = event_topic(SUBSCRIPTIONS, "Renewed")


@dataclass(frozen=True)
class Sale:
    tx_hash: str
    log_index: int
    block_number: int
    seller: str
    buyer: str
    artist: str  # the royalty receiver (zero address when the token has no royalty)
    token_id: int
    price_wei: int
    royalty_wei: int


def decode_sold(log_entry: Any) -> Sale:
    """A marketplace `Sold` log -> Sale (ValueError for any other log)."""
    event = decode_event(MARKETPLACE, log_entry)
    if event.name != "Sold":
        raise ValueError("not a Sold event")
    a = event.args
    return Sale(
        event.tx_hash, event.log_index, event.block_number,
        a["seller"], a["buyer"], a["artist"], a["token_id"], a["price"], a["royalty"],
    )  # fmt: skip


@dataclass(frozen=True)
class SupportPayment:
    """A `Subscribed` (renewal False) or `Renewed` (renewal True) log."""

    tx_hash: str
    log_index: int
    block_number: int
    renewal: bool
    fan: str
    artist: str
    tier: int
    periods: int
    amount_wei: int
    active_until: int  # unix time


def decode_support(log_entry: Any) -> SupportPayment:
    """A `Subscribed` or `Renewed` log -> SupportPayment (ValueError for any other log)."""
    event = decode_event(SUBSCRIPTIONS, log_entry)
    if event.name not in ("Subscribed", "Renewed"):
        raise ValueError("not a Subscribed or Renewed event")
    a = event.args
    return SupportPayment(
        event.tx_hash, event.log_index, event.block_number, event.name == "Renewed",
        a["fan"], a["artist"], a["tier"], a["periods"], a["amount"], a["active_until"],
    )  # fmt: skip
