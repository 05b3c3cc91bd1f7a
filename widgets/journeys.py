"""Puts each journey's panel into the window once the studio's services are up.

The window opens at once with "loading" places; this module swaps in Go Live, Library,
Wallet, Alerts and Revenue when `Studio.start_services()` is done, and re-attaches the tip
alerts whenever the wallet's account (the artist being watched) changes.
"""

import asyncio
import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QSystemTrayIcon

from studio.core import Studio
from widgets.main_window import MainWindow, placeholder

log = logging.getLogger(__name__)


class _TipsRelay(QObject):
    changed = Signal(object)


class Journeys:
    """Owns the panels and the glue between them (confirmations, tips -> tray/feed/revenue)."""

    def __init__(self, window: MainWindow, tray: QSystemTrayIcon | None, studio: Studio) -> None:
        self.window = window
        self.tray = tray
        self.studio = studio
        self.wallet_panel: Any = None
        self.golive_panel: Any = None
        self.library_panel: Any = None
        self.chat_dock: Any = None
        self.revenue_dashboard: Any = None
        self.notifier: Any = None
        self.revenue: Any = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self._tips_relay = _TipsRelay(window)
        self._tips_relay.changed.connect(self._attach_tips)
        studio.tips_changed.connect(self._tips_relay.changed.emit)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def install(self) -> None:
        studio, window = self.studio, self.window
        if studio.live is not None:
            from widgets.golive_panel import GoLivePanel

            self.golive_panel = GoLivePanel(studio.live, default_whip_url=studio.default_whip_url())
            token = studio.ingest_token
            if token:
                self.golive_panel.stream_key.setText(token)
            window.set_page("golive", "Go Live", self.golive_panel)
        if studio.chat_room is not None:
            from widgets.chat_dock import ChatDock

            self.chat_dock = ChatDock(studio.chat_room)
            window.set_dock("chat", "Chat", self.chat_dock, Qt.DockWidgetArea.RightDockWidgetArea)
        else:
            window.set_dock(
                "chat",
                "Chat",
                placeholder("No chat: this profile has no backend, or no chain to sign in with."),
                Qt.DockWidgetArea.RightDockWidgetArea,
            )
        if studio.publish is not None:
            from widgets.library_panel import LibraryPanel

            self.library_panel = LibraryPanel(studio.publish)
            window.set_page("library", "Library", self.library_panel)
            studio.publish.kick()  # resume whatever the queue held when the studio last quit
        if studio.wallet is not None:
            from widgets.wallet_panel import WalletPanel

            self.wallet_panel = WalletPanel(studio.wallet)
            window.set_dock(
                "wallet", "Wallet", self.wallet_panel, Qt.DockWidgetArea.RightDockWidgetArea
            )
            studio.confirm_transaction = self.confirm_transaction
        else:
            window.set_dock(
                "wallet",
                "Wallet",
                placeholder("No chain for this profile: set its RPC URL in the profile."),
                Qt.DockWidgetArea.RightDockWidgetArea,
            )
        self._attach_tips(studio.tip_alerts)

    async def confirm_transaction(self, prepared: Any) -> bool:
        """The confirmation dialog for transactions other services prepare (registration)."""
        from widgets.tx_confirm_dialog import TxConfirmDialog

        if self.wallet_panel is None or self.studio.wallet is None:
            return False
        dialog = TxConfirmDialog(self.studio.wallet, prepared, self.window)
        return await self.wallet_panel._dialog_accepted(dialog)

    # -- tips ---------------------------------------------------------------------------------
    def _attach_tips(self, tip_alerts: Any) -> None:
        if self.notifier is not None:
            self.notifier.close()
            self.notifier = None
        if tip_alerts is None:
            return
        from widgets import tip_notifier

        sound = bool(self.studio.settings.get("tip_sound", True))
        self.notifier = tip_notifier.attach(self.tray, self.window, tip_alerts, sound=sound)
        self._install_revenue(tip_alerts)

    def _install_revenue(self, tip_alerts: Any) -> None:
        from web3 import AsyncHTTPProvider, AsyncWeb3

        from studio.revenue import ChainRevenue, RevenueService
        from widgets.revenue_dashboard import RevenueDashboard

        wallet = self.studio.wallet
        store = self.studio._tip_store
        if wallet is None or store is None:
            return
        contract = wallet.network.contracts.get("tipping")
        chain = None
        if contract and wallet.network.rpc_url.startswith("http"):
            w3 = AsyncWeb3(AsyncHTTPProvider(wallet.network.rpc_url))
            chain = ChainRevenue(w3, contract)
        self.revenue = RevenueService(store, tip_alerts.artist, tip_alerts.symbol, chain)
        self.revenue_dashboard = RevenueDashboard(
            tip_alerts.symbol, on_withdraw=self._withdraw, on_export=self._export
        )
        self.window.set_page("revenue", "Revenue", self.revenue_dashboard)
        tip_alerts.alerted.connect(lambda _alert: self._spawn(self._refresh_revenue()))
        self._spawn(self._refresh_revenue())

    async def _refresh_revenue(self) -> None:
        if self.revenue is None or self.revenue_dashboard is None:
            return
        try:
            summary, chain_state = await self.revenue.refresh()
        except Exception:  # a node hiccup: the next tip or refresh tries again
            log.warning("revenue refresh failed", exc_info=True)
            return
        self.revenue_dashboard.show_summary(summary, chain_state)

    def _withdraw(self, _wei: int) -> None:
        async def run() -> None:
            wallet = self.studio.wallet
            if wallet is None or self.wallet_panel is None:
                return
            prepared = await wallet.prepare_call("tipping", "withdraw")
            await self.wallet_panel.confirm_and_send(prepared)
            await self._refresh_revenue()

        self._spawn(run())

    def _export(self, path: Path) -> int:
        return self.revenue.export_csv(path) if self.revenue is not None else 0
