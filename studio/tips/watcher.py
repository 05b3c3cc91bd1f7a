"""The tipping contract's `Tipped` events for one artist -> the tip store and the alerts.
Sales and subscriptions come the same way: a `Followed` (contracts, topics, decoder) makes
the same watcher follow them into the same store (studio.tips.market_events).

chain.event_follower reads the chain (subscription or polling, reorgs, ranges, the cursor in
the tip store); this module keeps each tip's status: "pending" until `confirmations` blocks
(its own included) are on top of the chain as the follower linked it, then "confirmed";
"dropped" when a reorg took its block away (it may come back, in another block).
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from chain.contracts.tipping import TIPPED_TOPIC, address_topic, decode_tipped
from chain.event_follower import EventFollower
from chain.follower_events import (
    Addresses,
    FollowerConsumer,
    FollowerEvent,
    LogBatch,
    Rewound,
    StateChanged,
    Synced,
)
from studio.logs import event
from studio.signals import Signal
from studio.tips.store import CONFIRMED, DROPPED, PENDING, Tip, TipStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WatchTarget:
    rpc_url: str
    contract: str
    artist: str
    confirmations: int = 1
    chain_id: int | None = None  # checked against the node when set


# (log, its block's unix time, status) -> the Tip it brings the artist; None: not theirs.
# Raises ValueError when the log is malformed.
Decode = Callable[[Any, int, str], Tip | None]


@dataclass(frozen=True)
class Followed:
    """What a watcher follows: the contracts, the eth_getLogs topic filter, the decoder, and
    a key that keeps its cursor apart from other watchers on the same store."""

    address: Addresses
    topics: Sequence[Any]
    decode: Decode
    scope_key: str
    what: str = "Tipped"  # for the log line of a malformed event


def tips_followed(target: "WatchTarget") -> Followed:
    """The tipping contract's `Tipped` events to `target.artist`."""
    artist = to_checksum_address(target.artist)
    return Followed(
        target.contract, [TIPPED_TOPIC, address_topic(artist)], tip_from_log, artist.lower()
    )


def tip_from_log(log_entry: Any, timestamp: int, status: str = PENDING) -> Tip:
    """A `Tipped` log -> Tip. Raises ValueError when the log is not a well-formed Tipped."""
    tipped = decode_tipped(log_entry)
    return Tip(
        tx_hash=tipped.tx_hash,
        log_index=tipped.log_index,
        block_number=tipped.block_number,
        block_hash=tipped.block_hash,
        timestamp=int(timestamp),
        artist=tipped.artist,
        fan=tipped.fan,
        amount_wei=tipped.amount_wei,
        message=tipped.message,
        status=status,
    )


class TipWatcher(FollowerConsumer):
    """Signals (plain callbacks, emitted on the asyncio loop):

    - `tip_seen(tip)`: a tip seen for the first time (pending or already confirmed)
    - `tip_changed(tip)`: a known tip changed status (confirmed, dropped, back in a block)
    - `state_changed(state, detail)`: "connecting" | "watching" | "reconnecting" | "error"
    - `synced(head)`: after each pass over the chain
    """

    def __init__(
        self,
        target: WatchTarget,
        store: TipStore,
        *,
        poll_interval_s: float = 0.5,
        websocket_fallback_poll_s: float = 5.0,
        history_blocks: int = 200_000,
        start_block: int | None = None,
        log_chunk: int = 2_000,
        reorg_window: int | None = None,
        followed: Followed | None = None,
    ) -> None:
        """`followed`: what to follow (default: the tips to `target.artist`)."""
        self.target = target
        self.followed = followed or tips_followed(target)
        self.store = store
        self.artist = to_checksum_address(target.artist)
        self.tip_seen = Signal()
        self.tip_changed = Signal()
        self.state_changed = Signal()
        self.synced = Signal()
        self.follower = EventFollower(
            target.rpc_url,
            store,
            self._handle,
            address=self.followed.address,
            topics=self.followed.topics,
            scope_key=self.followed.scope_key,  # one cursor per (chain, contracts, key)
            chain_id=target.chain_id,
            confirmations=target.confirmations,
            timestamps=True,
            poll_interval_s=poll_interval_s,
            subscription_fallback_poll_s=websocket_fallback_poll_s,
            history_blocks=history_blocks,
            start_block=start_block,
            log_chunk=log_chunk,
            reorg_window=reorg_window,
        )

    async def _handle(self, item: FollowerEvent) -> None:
        if isinstance(item, LogBatch):
            status = CONFIRMED if item.final else PENDING
            self._store_and_announce(self._decode_all(item, status))
        elif isinstance(item, Rewound):
            above = self.store.tips_above(self._scope, item.fork)
            self._store_and_announce([t.with_status(DROPPED) for t in above])
        elif isinstance(item, Synced):
            ready = [
                t.with_status(CONFIRMED)
                for t in self.store.tips(self._scope, [PENDING])
                if t.block_number <= item.confirmed
            ]
            self._store_and_announce(ready)
            self.synced.emit(item.head)
        elif isinstance(item, StateChanged):
            self.state_changed.emit(item.state, item.detail)

    @property
    def _scope(self) -> str:
        scope = self.follower.scope
        assert scope is not None, "the follower delivers only once it knows the chain"
        return scope

    def _decode_all(self, batch: LogBatch, status: str) -> list[Tip]:
        tips = []
        for entry in batch.logs:
            try:
                timestamp = batch.timestamps[int(entry["blockNumber"])]
                tip = self.followed.decode(entry, timestamp, status)
            except Exception as exc:  # a malformed log must not stop the others
                log.warning("skipped a malformed %s log: %s", self.followed.what, exc)
                continue
            if tip is not None:
                tips.append(tip)
        return tips

    def _store_and_announce(self, tips: list[Tip]) -> None:
        """Store tips (new or with a new status) in one transaction, then tell who listens.
        A batch delivered again (after a crash) finds its tips stored and announces nothing."""
        new, changed = [], []
        with self.store.transaction() as db:
            for tip in tips:
                old = self.store.get_tip(self._scope, tip.key)
                if old is not None and old.status == CONFIRMED and tip.status == PENDING:
                    tip = tip.with_status(CONFIRMED) if old.block_hash == tip.block_hash else tip
                self.store.put_tip(self._scope, tip, db)
                if old is None:
                    new.append(tip)
                elif (old.status, old.block_hash) != (tip.status, tip.block_hash):
                    changed.append(tip)
        for tip in new:
            event(
                log,
                "tip_seen",
                tx_hash=tip.tx_hash,
                log_index=tip.log_index,
                block=tip.block_number,
                status=tip.status,
            )
            self.tip_seen.emit(tip)
        for tip in changed:
            event(log, "tip_status", tx_hash=tip.tx_hash, status=tip.status)
            self.tip_changed.emit(tip)
