"""Everything about tips for one artist on one network, assembled: the tip store, the chain
watcher, the alerts (chain + backend, de-duplicated) and the revenue figures. The artist's
sales and subscriptions (when the network has a marketplace and a subscriptions contract)
come through a second watcher on the same store, into the same alerts, queue and revenue.

    tips = TipService(network, artist, studio.data_dir)      # network: chain.networks.Network
    widgets.tips.tip_notifier.attach(tray, window, tips.alerts, queue=tips.queue)
    await tips.start(backend_client)                          # backend_client optional
    ...
    await tips.stop()

Each new tip goes into the alert queue (`tips.queue`, by the artist's rules), which plays the
alerts one at a time; the fan's message is spoken as an alert plays when the rules say so.

The revenue summary is refreshed after every new or changed tip (at most every
`REFRESH_DEBOUNCE_S`), so a dashboard connected to `tips.revenue.changed` stays current.
"""

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from web3 import AsyncWeb3, WebSocketProvider

from chain import contracts
from chain.networks import Network
from chain.rpc_provider import AsyncRpcProvider
from studio.logs import event
from studio.tips.alert_queue import QUEUE_DB, SKIPPED, AlertQueue, QueuedAlert
from studio.tips.alert_rules import AlertRules
from studio.tips.alerts import PriceSource, TipAlerts
from studio.tips.market_events import market_followed
from studio.tips.revenue import ChainRevenue, RevenueService
from studio.tips.sales import ChainSales
from studio.tips.speech import Speaker
from studio.tips.store import TipStore
from studio.tips.watcher import TipWatcher, WatchTarget

log = logging.getLogger(__name__)

TIP_DB = "tips.sqlite3"
REFRESH_DEBOUNCE_S = 0.5


def watch_target(network: Network, contract: str, artist: str) -> WatchTarget:
    return WatchTarget(
        rpc_url=network.rpc_url,
        contract=contract,
        artist=artist,
        confirmations=network.confirmations,
        chain_id=network.chain_id,
    )


def market_watcher(
    network: Network, artist: str, store: TipStore, poll_interval_s: float
) -> TipWatcher | None:
    """The watcher of the artist's sales and subscriptions (None: the network has no
    marketplace or no subscriptions contract)."""
    market = network.contracts.get(contracts.MARKETPLACE)
    subscriptions = network.contracts.get(contracts.SUBSCRIPTIONS)
    if not market or not subscriptions:
        return None
    target = watch_target(network, market, artist)
    followed = market_followed(market, subscriptions, artist)
    return TipWatcher(target, store, poll_interval_s=poll_interval_s, followed=followed)


class TipService:
    def __init__(
        self,
        network: Network,
        artist: str,
        data_dir: Path,
        price: PriceSource | None = None,
        poll_interval_s: float | None = None,
        rules: AlertRules | None = None,
    ) -> None:
        self.network = network
        contract = network.contract_address(contracts.TIPPING)
        self.store = TipStore(data_dir / TIP_DB)
        target = watch_target(network, contract, artist)
        if poll_interval_s is None:
            poll_interval_s = 0.25 if network.key == "local" else 0.5
        self.watcher = TipWatcher(target, self.store, poll_interval_s=poll_interval_s)
        self.alerts = TipAlerts(
            self.store, artist, network.symbol, price, chain_id=network.chain_id
        )
        self.alerts.follow(self.watcher)
        # sales and subscriptions: the same watcher and alerts, another decoder
        self.market_watcher = market_watcher(network, artist, self.store, poll_interval_s)
        if self.market_watcher is not None:
            self.alerts.follow(self.market_watcher)
        self.queue = AlertQueue(data_dir / QUEUE_DB, rules)
        self.alerts.alerted.connect(self.queue.offer_tip)
        self.speaker = Speaker(self.queue.rules.tts.voice)
        self.queue.played.connect(self._speak)
        self.queue.finished.connect(self._stop_speaking)
        self.queue.changed.connect(self._on_queue_changed)
        self.revenue = RevenueService(self.store, artist, network.symbol)
        self.revenue.scope = self.watcher.scope
        self._contract = contract
        self._w3: AsyncWeb3 | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._refresh_due: asyncio.TimerHandle | None = None
        self.watcher.synced.connect(self._on_synced)
        if self.market_watcher is not None:
            self.market_watcher.synced.connect(self._on_synced)
        self.alerts.alerted.connect(lambda _alert: self.schedule_refresh())
        self.alerts.updated.connect(lambda _alert: self.schedule_refresh())

    async def start(self, backend_client: Any = None) -> None:
        """Watch the chain; also take the backend's tip notifications when a signed-in
        `studio.social.backend_client.BackendClient` is given."""
        if self.network.rpc_url.startswith(("ws://", "wss://")):
            self._w3 = await AsyncWeb3(WebSocketProvider(self.network.rpc_url))
        else:
            self._w3 = AsyncWeb3(AsyncRpcProvider(self.network.rpc_url))
        self.revenue.chain = ChainRevenue(self._w3, self._contract)
        if self.market_watcher is not None:
            if self.network.contracts.get(contracts.TRACK_NFT):
                self.revenue.sales = ChainSales(self._w3, self.network)
            self.market_watcher.start()
        self.watcher.start()
        self.queue.start()
        if backend_client is not None:
            self._tasks.append(
                asyncio.create_task(self.alerts.follow_backend(backend_client.notifications()))
            )

    async def stop(self) -> None:
        if self._refresh_due is not None:
            self._refresh_due.cancel()
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        self.alerts.stop()
        await self.queue.stop()
        await self.speaker.stop()
        self.queue.close()
        await self.watcher.stop()
        if self.market_watcher is not None:
            await self.market_watcher.stop()
        if self._w3 is not None:
            with contextlib.suppress(Exception):
                await self._w3.provider.disconnect()
            self._w3 = None
        self.store.close()

    def set_rules(self, rules: AlertRules) -> None:
        """New rules apply to alerts queued from now on."""
        self.queue.rules = rules
        self.speaker.voice = rules.tts.voice

    def _speak(self, alert: QueuedAlert) -> None:
        if alert.speech and not alert.muted and self.speaker.enabled:
            event(log, "alert_spoken", id=alert.id, key=alert.key, spoken_at=time.time())
            self._track(asyncio.ensure_future(self.speaker.say(alert.speech)))

    def _stop_speaking(self, _alert: QueuedAlert, how: str) -> None:
        if how == SKIPPED:
            self._track(asyncio.ensure_future(self.speaker.stop()))

    def _on_queue_changed(self) -> None:
        if self.queue.muted and self.speaker.speaking:  # muted mid-sentence: silence now
            self._track(asyncio.ensure_future(self.speaker.stop()))

    def _track(self, task: "asyncio.Future[Any]") -> None:
        self._tasks.append(task)  # type: ignore[arg-type]
        task.add_done_callback(lambda t: t in self._tasks and self._tasks.remove(t))  # type: ignore[arg-type]

    def _on_synced(self, _head: int) -> None:
        market_scope = self.market_watcher.scope if self.market_watcher is not None else None
        if (self.revenue.scope, self.revenue.market_scope) != (self.watcher.scope, market_scope):
            self.revenue.scope = self.watcher.scope
            self.revenue.market_scope = market_scope
            self.schedule_refresh()

    def schedule_refresh(self) -> None:
        if self._refresh_due is not None or self.revenue.chain is None:
            return
        loop = asyncio.get_running_loop()
        self._refresh_due = loop.call_later(REFRESH_DEBOUNCE_S, self._refresh_now)

    def _refresh_now(self) -> None:
        self._refresh_due = None
        self._track(asyncio.create_task(self._refresh()))

    async def _refresh(self) -> None:
        try:
            await self.revenue.refresh()
        except Exception as exc:  # the node is away: the next tip tries again
            log.warning("revenue refresh failed: %s", type(exc).__name__)
