"""One alert per tip, whichever source tells first: the chain watcher or the backend.

Both sources name a tip by (transaction hash, log index). The first to arrive is shown (tray,
feed, overlay) under the fan's profile name when the backend knows one (`names`, a FanNames:
asked for at most NAME_WAIT_S, else the short address and the name follows as an update);
the other only updates it (a chain tip gains the fan's display name from the
backend; a backend tip gains its confirmation status from the chain). What was shown is kept
in the tip store, so a restart, a reconnect or a backend backlog never shows a tip twice.
"""

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from eth_utils import is_address, to_checksum_address

from studio.logs import event
from studio.signals import Signal
from studio.tips.fan_names import FanNames
from studio.tips.format import (
    FEED_MESSAGE_CHARS,
    clean_text,
    fan_label,
    format_coin,
    format_fiat,
    tray_text,
    truncate,
)
from studio.tips.store import (
    DROPPED,
    PENDING,
    RENEWAL,
    ROYALTY,
    SALE,
    STATUSES,
    SUBSCRIPTION,
    AlertRecord,
    Tip,
    TipStore,
)

log = logging.getLogger(__name__)

CHAIN = "chain"
BACKEND = "backend"
TIP_RECEIVED = "tip_received"
_TX_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")
MAX_NAME_CHARS = 64
NAME_WAIT_S = 0.15  # how long a new alert waits for the fan's name before it is shown


def loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class PriceSource(Protocol):
    def price(self) -> tuple[Decimal, str] | None:
        """(fiat per whole coin, currency code), or None when no price is known."""


@dataclass(frozen=True)
class FixedPrice:
    """A rate the artist set in Settings (no price feed is assumed)."""

    per_coin: Decimal
    currency: str = "USD"

    def price(self) -> tuple[Decimal, str] | None:
        return (self.per_coin, self.currency)


def price_from_settings(settings: Any) -> PriceSource | None:
    """The artist's own rate from Settings: [tips] fiat_per_coin = "0.85", fiat_currency = "EUR".

    None (no fiat shown) when unset or not a positive number."""
    section = settings.get("tips", {}) or {}
    raw = section.get("fiat_per_coin") if isinstance(section, Mapping) else None
    if raw is None:
        return None
    try:
        rate = Decimal(str(raw))
    except ArithmeticError:
        log.warning("settings: tips.fiat_per_coin is not a number; no fiat shown")
        return None
    if not rate.is_finite() or rate <= 0:
        return None
    currency = str(section.get("fiat_currency") or "USD").strip().upper()[:8] or "USD"
    return FixedPrice(rate, currency)


@dataclass(frozen=True)
class TipAlert:
    record: AlertRecord
    symbol: str
    fiat: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.record.key

    @property
    def fan_label(self) -> str:
        return fan_label(self.record.fan_name, self.record.fan, MAX_NAME_CHARS)

    @property
    def amount_text(self) -> str:
        return format_coin(self.record.amount_wei, self.symbol)

    @property
    def message(self) -> str:
        """The full message as plain text (controls and direction overrides removed)."""
        return clean_text(self.record.message)

    @property
    def headline(self) -> str:
        """Who did what, for how much: a tip, a sale, a royalty, a subscription."""
        who, amount, kind = self.fan_label, self.amount_text, self.record.kind
        if kind == SALE:
            return f"{who} bought {self.message or 'an edition'} for {amount}"
        if kind == ROYALTY:
            return f"Royalty of {amount}: {who} bought {self.message or 'an edition'}"
        if kind == SUBSCRIPTION:
            return f"{who} subscribed for {amount}"
        if kind == RENEWAL:
            return f"{who} renewed their subscription for {amount}"
        return f"{who} tipped {amount}"

    @property
    def tray_title(self) -> str:
        if self.record.kind in (SALE, ROYALTY, SUBSCRIPTION, RENEWAL):
            return tray_text(self.headline, 120)
        return tray_text(f"Tip from {self.fan_label}: {self.amount_text}", 120)

    @property
    def tray_body(self) -> str:
        parts = [self.fiat] if self.fiat else []
        if self.message:
            parts.append(self.message)
        return tray_text(" · ".join(parts)) if parts else "No message"

    @property
    def feed_text(self) -> str:
        """Plain text for the feed: who, how much, status, then the message (capped)."""
        status = "" if self.record.status == "confirmed" else f" [{self.record.status}]"
        fiat = f" ({self.fiat})" if self.fiat else ""
        if self.record.kind in (SALE, ROYALTY):  # the message names the edition: in the head
            return f"{self.headline}{fiat}{status}"
        head = f"{self.headline}{fiat}{status}"
        message = truncate(self.message, FEED_MESSAGE_CHARS)
        return f"{head}\n{message}" if message else head


def parse_tip_notification(data: Mapping[str, Any], artist: str) -> AlertRecord:
    """The backend's tip_received data -> AlertRecord; ValueError with the reason if malformed."""
    tx_hash = data.get("tx_hash")
    if not isinstance(tx_hash, str) or not _TX_HASH.match(tx_hash):
        raise ValueError("tx_hash is not a transaction hash")
    log_index = data.get("log_index")
    if not isinstance(log_index, int) or isinstance(log_index, bool) or log_index < 0:
        raise ValueError("log_index is not a non-negative integer")
    fan, to = data.get("fan"), data.get("artist")
    if not isinstance(fan, str) or not is_address(fan):
        raise ValueError("fan is not an address")
    if not isinstance(to, str) or not is_address(to):
        raise ValueError("artist is not an address")
    if to_checksum_address(to) != to_checksum_address(artist):
        raise ValueError("the tip is for another artist")
    amount = data.get("amount_wei")
    if isinstance(amount, int) and not isinstance(amount, bool):
        amount = str(amount)
    if not isinstance(amount, str) or not amount.isdigit() or len(amount) > 78:
        raise ValueError("amount_wei is not a non-negative integer")
    message = data.get("message", "")
    fan_name = data.get("fan_name")
    block = data.get("block_number")
    return AlertRecord(
        tx_hash=tx_hash.lower(),
        log_index=log_index,
        source=BACKEND,
        alerted_at=0.0,
        fan=to_checksum_address(fan),
        fan_name=fan_name if isinstance(fan_name, str) and fan_name.strip() else None,
        amount_wei=int(amount),
        message=message if isinstance(message, str) else "",
        status=PENDING,
        block_number=block if isinstance(block, int) and not isinstance(block, bool) else None,
    )


class TipAlerts:
    """Signals: `alerted(TipAlert)` once per tip; `updated(TipAlert)` when a shown tip changes."""

    def __init__(
        self,
        store: TipStore,
        artist: str,
        symbol: str,
        price: PriceSource | None = None,
        clock: Callable[[], float] = time.time,
        chain_id: int | None = None,
    ) -> None:
        self.store = store
        self.artist = to_checksum_address(artist)
        self.symbol = symbol
        self.price = price
        self.clock = clock
        self.chain_id = chain_id  # when set, backend tips from other chains are ignored
        self.alerted = Signal()
        self.updated = Signal()
        self.names: FanNames | None = None  # set when a backend can name fans
        self.name_wait_s = NAME_WAIT_S
        self._replayed: set[str] = set()
        self._naming: dict[tuple[str, int], asyncio.Future[None]] = {}

    def stop(self) -> None:
        """Drop alerts still waiting for a name (the store is about to close)."""
        for waiting in self._naming.values():
            waiting.cancel()
        self._naming.clear()

    def history(self, limit: int = 1000) -> list[TipAlert]:
        return [self._alert(r, with_fiat=False) for r in self.store.alert_history(limit)]

    # -- sources ------------------------------------------------------------------------------

    def follow(self, watcher: Any) -> None:
        """Take tips from a TipWatcher (studio.tip_watcher)."""
        watcher.tip_seen.connect(self.on_chain_tip)
        watcher.tip_changed.connect(self.on_chain_tip)
        watcher.synced.connect(lambda _head: self._replay(watcher))

    def _replay(self, watcher: Any) -> None:
        """Tips the watcher stored in a run that stopped before showing them."""
        scope = watcher.scope
        if scope is None or scope in self._replayed:
            return
        self._replayed.add(scope)
        for tip in self.store.unalerted_tips(scope):
            self.on_chain_tip(tip)

    def on_chain_tip(self, tip: Tip) -> None:
        if tip.artist != self.artist:
            return
        record = AlertRecord(
            tx_hash=tip.tx_hash,
            log_index=tip.log_index,
            source=CHAIN,
            alerted_at=self.clock(),
            fan=tip.fan,
            fan_name=None,
            amount_wei=tip.amount_wei,
            message=tip.message,
            status=tip.status,
            block_number=tip.block_number,
            kind=tip.kind,
        )
        self._offer(record)

    async def follow_backend(self, notifications: AsyncIterator[Any]) -> None:
        """Take tips from the backend's notification stream until it ends or is cancelled,
        e.g. `await alerts.follow_backend(backend_client.notifications())`. Items may be
        wire `Notification` models or plain dicts."""
        async for notification in notifications:
            if hasattr(notification, "model_dump"):
                notification = notification.model_dump(mode="json")
            if isinstance(notification, Mapping):
                self.on_backend_notification(notification)

    def on_backend_frame(self, frame: Mapping[str, Any]) -> None:
        """A frame of the backend's notification socket: one notification or a backlog."""
        kind = frame.get("type")
        if kind == "notification" and isinstance(frame.get("notification"), Mapping):
            self.on_backend_notification(frame["notification"])
        elif kind == "backlog" and isinstance(frame.get("notifications"), list):
            for item in frame["notifications"]:
                if isinstance(item, Mapping):
                    self.on_backend_notification(item)

    def on_backend_notification(self, notification: Mapping[str, Any]) -> bool:
        """True if it was a tip this studio had not shown yet."""
        if notification.get("kind") != TIP_RECEIVED:
            return False
        data = notification.get("data")
        try:
            if not isinstance(data, Mapping):
                raise ValueError("no data")
            record = parse_tip_notification(data, self.artist)
            chain_id = data.get("chain_id")
            if self.chain_id is not None and chain_id is not None and chain_id != self.chain_id:
                raise ValueError(f"the tip is on chain {chain_id}, not {self.chain_id}")
        except ValueError as exc:
            log.warning("ignored a tip notification from the backend: %s", exc)
            return False
        return self._offer(replace(record, alerted_at=self.clock()))

    # -- merging ------------------------------------------------------------------------------

    def _offer(self, record: AlertRecord) -> bool:
        if record.status not in STATUSES:
            return False
        shown = self.store.alert(record.key)
        if shown is None:
            if record.status == DROPPED:
                return False  # never shown, and no longer on chain
            if record.source == BACKEND and self.store.of_a_forgotten_chain(record.key):
                return False  # an old chain's tip from the backend's backlog; the chain
                # watcher shows it if the new chain holds the same transaction
            if not self.store.mark_alerted(record):
                return False
            event(
                log,
                "tip_alert",
                tx_hash=record.tx_hash,
                log_index=record.log_index,
                source=record.source,
                status=record.status,
                amount_wei=str(record.amount_wei),
            )
            ask_name = False
            if record.fan_name is None and self.names is not None:
                known, name = self.names.cached(record.fan)
                if known:
                    record = self._named(record, name)
                ask_name = not known
            # An alert still waiting for its fan's name holds back the ones after it: tips
            # are shown in the order they came, whoever's name is known first.
            if (ask_name or self._naming) and loop_running():
                before = list(self._naming.values())
                self._naming[record.key] = asyncio.ensure_future(
                    self._alert_named(record, ask_name, before)
                )
                return True
            self.alerted.emit(self._alert(record, with_fiat=True))
            return True
        merged = self._merge(shown, record)
        if merged != shown:
            self.store.update_alert(merged)
            if record.key not in self._naming:  # not shown yet: shown soon as it is now
                self.updated.emit(self._alert(merged, with_fiat=False))
        return False

    async def _alert_named(
        self, record: AlertRecord, ask_name: bool, before: "list[asyncio.Future[None]]"
    ) -> None:
        """Show `record` once its fan's name is known, or after `name_wait_s` without it (a
        name learned later updates the alert), and after the alerts that came `before` it."""
        name = None
        try:
            if ask_name:
                assert self.names is not None
                asking = self.names.resolve(record.fan)
                try:
                    name = await asyncio.wait_for(asyncio.shield(asking), self.name_wait_s)
                except TimeoutError:
                    asking.add_done_callback(lambda done: self._name_learned(record.key, done))
            for earlier in before:
                with contextlib.suppress(Exception):
                    await asyncio.shield(earlier)
        finally:
            self._naming.pop(record.key, None)
        current = self.store.alert(record.key) or record  # the other source may have merged
        self.alerted.emit(self._alert(self._named(current, name), with_fiat=True))

    def _name_learned(self, key: tuple[str, int], done: "asyncio.Future[str | None]") -> None:
        if done.cancelled() or done.exception() is not None or not done.result():
            return
        shown = self.store.alert(key)
        if shown is not None and not shown.fan_name:
            named = self._named(shown, done.result())
            self.updated.emit(self._alert(named, with_fiat=False))

    def _named(self, record: AlertRecord, name: str | None) -> AlertRecord:
        if not name or record.fan_name:
            return record
        named = replace(record, fan_name=name)
        self.store.update_alert(named)
        return named

    @staticmethod
    def _merge(shown: AlertRecord, incoming: AlertRecord) -> AlertRecord:
        merged = shown
        if incoming.fan_name and not shown.fan_name:
            merged = replace(merged, fan_name=incoming.fan_name)
        if incoming.source == CHAIN:  # the chain is the authority on status and block
            merged = replace(merged, status=incoming.status, block_number=incoming.block_number)
        return merged

    def _alert(self, record: AlertRecord, with_fiat: bool) -> TipAlert:
        fiat = None
        if with_fiat and self.price is not None:
            quote = self.price.price()
            if quote is not None:
                fiat = format_fiat(record.amount_wei, *quote)
        return TipAlert(record=record, symbol=self.symbol, fiat=fiat)
