"""The marketplace's `Sold` and the subscriptions' `Subscribed` / `Renewed` events, followed
by the tip watcher (studio.tips.watcher, on chain.event_follower) into the tip store: each
one the artist earns from becomes a `Tip` of its kind, so it is alerted, charted and exported
like a tip.

What the artist earns from a sale: as the seller, the price less the royalty (plus the
royalty when the royalty is theirs too, as on a first sale); as the track's artist on a fan's
resale, the royalty. A subscription or renewal pays its whole amount into the artist's split.
"""

from typing import Any

from eth_utils import to_checksum_address

from chain.contracts.market import (
    RENEWED_TOPIC,
    SOLD_TOPIC,
    SUBSCRIBED_TOPIC,
    decode_sold,
    decode_support,
)
from chain.contracts.tipping import hex_text
from studio.tips.store import RENEWAL, ROYALTY, SALE, SUBSCRIPTION, Tip
from studio.tips.watcher import Followed


def sale_earnings(seller: str, artist: str, me: str, price_wei: int, royalty_wei: int) -> int:
    """What a sale credits `me` (the seller's part, the royalty, or both)."""
    earned = price_wei - royalty_wei if seller == me else 0
    return earned + (royalty_wei if artist == me else 0)


def market_tip(log_entry: Any, timestamp: int, status: str, me: str) -> Tip | None:
    """A Sold / Subscribed / Renewed log -> the Tip it brings `me`; None when nothing."""
    topic = hex_text(log_entry["topics"][0]) if log_entry["topics"] else ""
    block_hash = hex_text(log_entry["blockHash"])
    if topic == SOLD_TOPIC:
        sale = decode_sold(log_entry)
        earned = sale_earnings(sale.seller, sale.artist, me, sale.price_wei, sale.royalty_wei)
        if earned <= 0 and sale.seller != me:
            return None
        return Tip(
            tx_hash=sale.tx_hash,
            log_index=sale.log_index,
            block_number=sale.block_number,
            block_hash=block_hash,
            timestamp=int(timestamp),
            artist=me,
            fan=sale.buyer,
            amount_wei=earned,
            message=f"NFT #{sale.token_id}",
            status=status,
            kind=SALE if sale.seller == me else ROYALTY,
        )
    if topic in (SUBSCRIBED_TOPIC, RENEWED_TOPIC):
        paid = decode_support(log_entry)
        if paid.artist != me:
            return None
        days = 30 * paid.periods
        return Tip(
            tx_hash=paid.tx_hash,
            log_index=paid.log_index,
            block_number=paid.block_number,
            block_hash=block_hash,
            timestamp=int(timestamp),
            artist=me,
            fan=paid.fan,
            amount_wei=paid.amount_wei,
            message=f"Tier {paid.tier + 1}, {days} days",
            status=status,
            kind=RENEWAL if paid.renewal else SUBSCRIPTION,
        )
    return None


def market_followed(marketplace: str, subscriptions: str, artist: str) -> Followed:
    """Sales and subscriptions for `artist`, for a TipWatcher on the tip store.

    The artist sits at a different topic in `Sold` (4th, or 2nd as the seller) and in
    `Subscribed` (3rd), so one filter cannot select them: the node sends the contracts'
    sales and subscriptions and the decoder keeps the artist's."""
    me = to_checksum_address(artist)

    def decode(log_entry: Any, timestamp: int, status: str) -> Tip | None:
        return market_tip(log_entry, timestamp, status, me)

    return Followed(
        [to_checksum_address(marketplace), to_checksum_address(subscriptions)],
        [[SOLD_TOPIC, SUBSCRIBED_TOPIC, RENEWED_TOPIC]],
        decode,
        f"{me.lower()}:market",
        what="sale or subscription",
    )
