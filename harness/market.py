"""What a marketplace sale should pay, to the wei, and the sales themselves (tests and bench).

`expected_payouts` is the model the contract is checked against: the EIP-2981 royalty
(price * bps // 10000, track_nft's snekmate rule) split like a tip (each payee's share rounded
down, the last payee the rest), the rest of the price to the seller.
"""

from collections import Counter
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.logs import DISCARD

TOTAL_BPS = 10_000


def expected_payouts(
    price: int, royalty_bps: int, artist: str, payees: list[str], shares: list[int], seller: str
) -> Counter[str]:
    """address -> wei credited by one sale at `price`."""
    royalty = price * royalty_bps // TOTAL_BPS
    out: Counter[str] = Counter()
    if royalty:
        if not payees:
            out[artist] += royalty
        else:
            parts = [royalty * bps // TOTAL_BPS for bps in shares[:-1]]
            for payee, part in zip(payees, parts, strict=False):
                out[payee] += part
            out[payees[-1]] += royalty - sum(parts)
    out[seller] += price - royalty
    return out


def send(w3: Web3, account: LocalAccount, call: Any, value: int = 0) -> Any:
    """Sign and send a contract call from `account`; the receipt (AssertionError on revert)."""
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


def mint_editions(
    w3: Web3,
    registry: Any,
    nft: Any,
    artist: LocalAccount,
    cid: str,
    count: int,
    royalty_bps: int,
) -> list[int]:
    """Register `cid` (when not yet) and mint `count` editions of it to the artist."""
    if registry.functions.artist_of(cid).call() != artist.address:
        send(w3, artist, registry.functions.register(cid, "bafkreimeta"))
    ids = []
    for _ in range(count):
        receipt = send(
            w3, artist, nft.functions.mint_edition(cid, "bafkreimeta", artist.address, royalty_bps)
        )
        (event,) = nft.events.EditionMinted().process_receipt(receipt, errors=DISCARD)
        ids.append(event["args"]["token_id"])
    return ids


def list_for_sale(
    w3: Web3, market: Any, nft: Any, seller: LocalAccount, token_ids: list[int], price: int
) -> None:
    """Approve the marketplace for the seller's tokens (once) and list them at `price`."""
    if not nft.functions.isApprovedForAll(seller.address, market.address).call():
        send(w3, seller, nft.functions.setApprovalForAll(market.address, True))
    send(w3, seller, market.functions.list_tokens(token_ids, price))
