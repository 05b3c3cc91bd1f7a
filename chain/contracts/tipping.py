"""The Tipping contract's `Tipped` event: its topic and its decoding, for every consumer.

    Tipped(artist indexed, fan indexed, amount, message)

The data is decoded by hand, the message as UTF-8 with replacement: a fan can put any bytes
in the message through raw calldata, and that must not stop whoever follows the events.
"""

from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

TIPPED_TOPIC = "0x" + keccak(text="Tipped(address,address,uint256,string)").hex()


@dataclass(frozen=True)
class Tipped:
    tx_hash: str  # lowercase 0x-hex
    log_index: int
    block_number: int
    block_hash: str  # lowercase 0x-hex
    artist: str  # checksummed
    fan: str  # checksummed
    amount_wei: int
    message: str


def hex_text(value: Any) -> str:
    """Bytes or hex text (any case, with or without 0x) -> lowercase 0x-hex."""
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value).lower()
    return text if text.startswith("0x") else "0x" + text


def address_topic(address: str) -> str:
    """An indexed address as a log topic (to filter on it)."""
    return "0x" + "00" * 12 + to_checksum_address(address)[2:].lower()


def decode_tipped(log_entry: Any) -> Tipped:
    """A `Tipped` log -> Tipped. Raises ValueError when the log is not a well-formed Tipped."""
    topics = [hex_text(t) for t in log_entry["topics"]]
    if len(topics) != 3 or topics[0] != TIPPED_TOPIC:
        raise ValueError("not a Tipped event")
    data = log_entry["data"]
    raw = bytes(data) if isinstance(data, bytes | bytearray) else bytes.fromhex(hex_text(data)[2:])
    # string and bytes share one ABI encoding; decoding as bytes tolerates invalid UTF-8
    amount, message = abi_decode(["uint256", "bytes"], raw)
    return Tipped(
        tx_hash=hex_text(log_entry["transactionHash"]),
        log_index=int(log_entry["logIndex"]),
        block_number=int(log_entry["blockNumber"]),
        block_hash=hex_text(log_entry["blockHash"]),
        artist=to_checksum_address("0x" + topics[1][-40:]),
        fan=to_checksum_address("0x" + topics[2][-40:]),
        amount_wei=int(amount),
        message=message.decode("utf-8", errors="replace"),
    )
