"""Puts each journey's panel into the window once the studio's services are up.

The window opens at once with "loading" places; this module swaps in Go Live, Library,
Wallet, Alerts, Analytics and Revenue when `Studio.start_services()` is done, and re-attaches
the tip alerts whenever the wallet's account (the artist being watched) changes.
"""

import logging
from collections.abc import Sequence
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
        self.scene_hotkeys: Any = None  # studio.live.global_hotkeys.SceneHotkeys
        self.stats_dock: Any = None
        self.library_panel: Any = None
        self.analytics_panel: Any = None
        self.review_panel: Any = None
        self._review_bridge: Any = None
        self.chat_dock: Any = None
        self.tips_ui: Any = None
        self._tips_relay = _TipsRelay(window)
        self._tips_relay.changed.connect(self._attach_tips)
        studio.tips_changed.connect(self._tips_relay.changed.emit)

    def install(self) -> None:
        studio, window = self.studio, self.window
        if studio.live is not None:
            from widgets.live.golive_panel import GoLivePanel

            self.golive_panel = GoLivePanel(
                studio.live,
                default_whip_url=studio.default_whip_url(),
                settings=studio.settings,
                host=self._show_host(),
            )
            token = studio.ingest_token
            if token:
                self.golive_panel.stream_key.setText(token)
            window.set_page("golive", "Go Live", self.golive_panel)
            self.golive_panel.install_docks(window)  # Scenes and Sources
            self.golive_panel.install_hotkeys(window)  # Ctrl+1…9: scenes
            self._install_scene_hotkeys()
            from widgets.live.stats_dock import StatsDock

            self.stats_dock = StatsDock(studio.live)
            self.stats_dock.notice.connect(window.status_bar.showMessage)  # a step-down
            window.set_dock(
                "stats", "Stats", self.stats_dock, Qt.DockWidgetArea.RightDockWidgetArea
            )
        if studio.chat_room is not None:
            from widgets.social.chat_dock import ChatDock

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
            from widgets.publishing.library_panel import LibraryPanel

            self.library_panel = LibraryPanel(studio.publish)
            window.set_page("library", "Library", self.library_panel)
            studio.publish.kick()  # resume whatever the queue held when the studio last quit
        if studio.analytics is not None:
            from widgets.analytics.analytics_panel import AnalyticsPanel

            symbol = studio.wallet.network.symbol if studio.wallet is not None else "CORE"
            self.analytics_panel = AnalyticsPanel(studio.analytics, symbol)
            window.set_page("analytics", "Analytics", self.analytics_panel)
        if studio.review is not None:
            self._install_review(studio.review)
        if studio.wallet is not None:
            from widgets.wallet.wallet_panel import WalletPanel

            self.wallet_panel = WalletPanel(studio.wallet)
            window.set_dock(
                "wallet", "Wallet", self.wallet_panel, Qt.DockWidgetArea.RightDockWidgetArea
            )
            studio.confirm_transaction = self.confirm_transaction
            if self.library_panel is not None:  # tracks waiting for the wallet ask for it
                self.library_panel.set_unlock_action(self.wallet_panel.open_unlock)
            self._install_market()
        else:
            window.set_dock(
                "wallet",
                "Wallet",
                placeholder("No chain for this profile: set its RPC URL in the profile."),
                Qt.DockWidgetArea.RightDockWidgetArea,
            )
        self._attach_tips(studio.tips)

    def _install_review(self, queue: Any) -> None:
        """The Review page appears once the backend says we review there (after a sign-in);
        its tab says how many tracks wait."""
        from widgets.bridge import SignalBridge
        from widgets.review.review_panel import ReviewPanel, page_title

        def changed(tracks: list[Any]) -> None:
            if queue.allowed and self.review_panel is None:
                self.review_panel = ReviewPanel(queue)
                self.window.set_page("review", page_title(len(tracks)), self.review_panel)
            if self.review_panel is not None:
                tabs = self.window.tabs
                tabs.setTabText(tabs.indexOf(self.review_panel), page_title(len(tracks)))

        self._review_bridge = SignalBridge(queue.changed, self.window)
        self._review_bridge.fired.connect(changed)

    def _install_scene_hotkeys(self) -> None:
        """<modifiers>+1…9 from any window (an X grab); Settings (Video) says what works."""
        import asyncio

        from studio.live.global_hotkeys import DEFAULT_MODIFIERS, SceneHotkeys
        from studio.settings_schema import valid_value

        keys = valid_value(self.studio.settings, "hotkeys.scenes") or DEFAULT_MODIFIERS
        self.scene_hotkeys = SceneHotkeys(str(keys))
        self.scene_hotkeys.start(asyncio.get_running_loop())
        self.golive_panel.install_global_hotkeys(self.scene_hotkeys)
        self.window.destroyed.connect(lambda *_: self.scene_hotkeys.stop())
        extras: Any = getattr(self.window, "settings_extras", None)
        if isinstance(extras, dict):
            extras.setdefault("Video", []).append(self._hotkeys_status)

    def _hotkeys_status(self) -> Any:
        from PySide6.QtWidgets import QLabel

        label = QLabel(f"Scene hotkeys now: {self.scene_hotkeys.status}")
        label.setObjectName("sceneHotkeysStatus")
        label.setWordWrap(True)
        return label

    def _install_market(self) -> None:
        """Mint as NFT in the Library; the supporter tiers in Settings."""
        from widgets.market.mint_action import MintAction

        if self.library_panel is not None:
            say = self.library_panel.show_market_status
            self.library_panel.set_mint_action(MintAction(self.window, self.studio, say))
        extras: Any = getattr(self.window, "settings_extras", None)
        if isinstance(extras, dict):
            extras["Sales and subscriptions"] = [self._tiers_editor]

    def _tiers_editor(self) -> Any:
        from studio.market.tiers import read_tiers
        from studio.market.wiring import blocked_reason, save_tiers
        from widgets.market.tiers_editor import TiersEditor

        studio, wallet = self.studio, self.studio.wallet
        return TiersEditor(
            wallet.network.symbol,
            lambda: read_tiers(wallet),
            lambda tiers: save_tiers(studio, tiers),
            lambda: blocked_reason(studio),
        )

    def _title_of(self, cid: str) -> str | None:
        """A published track's title (the Sales tab names editions by it)."""
        publish = self.studio.publish
        if publish is None:
            return None
        return next((t.title for t in publish.published() if t.cid == cid), None)

    def _show_host(self) -> Any:
        """What Go Live needs beyond the session: the artist's name (the default title),
        the wallet's unlock when announcing a show needs it, the fan-page link."""
        from widgets.live.golive_panel import ShowHost

        studio = self.studio
        wallet = studio.wallet

        def needs_unlock() -> bool:
            return (
                studio.announcer is not None
                and wallet is not None
                and bool(wallet.address)
                and not wallet.unlocked
            )

        async def unlock() -> bool:
            from widgets.dialogs import ask
            from widgets.wallet.unlock_dialog import UnlockDialog

            if wallet is None:
                return False
            return await ask(UnlockDialog(wallet, self.window))

        def fan_page_url() -> str | None:
            return studio.announcer.fan_page_url() if studio.announcer is not None else None

        return ShowHost(
            artist_name=str(studio.settings.get("artist_name") or ""),
            needs_unlock=needs_unlock,
            unlock=unlock if wallet is not None else None,
            fan_page_url=fan_page_url,
        )

    async def confirm_transaction(self, prepared: Any, tracks: Sequence[Any] = ()) -> bool:
        """The confirmation dialog for transactions other services prepare (registration:
        `tracks` are the tracks it registers), fees also in the artist's currency if set."""
        from studio.tips.alerts import price_from_settings
        from widgets.dialogs import ask
        from widgets.wallet.tx_confirm_dialog import TxConfirmDialog

        if self.wallet_panel is None or self.studio.wallet is None:
            return False
        price = price_from_settings(self.studio.settings)
        dialog = TxConfirmDialog(self.studio.wallet, prepared, self.window, tracks, price)
        return await ask(dialog)

    # -- tips ---------------------------------------------------------------------------------
    def _attach_tips(self, tips: Any) -> None:
        """Alerts dock, tray messages and the Revenue page for the artist being watched."""
        if self.tips_ui is not None:
            self.tips_ui.notifier.close()
            self.tips_ui = None
        if tips is None:
            return
        from widgets.tips.tips_ui import attach_tips

        sound = bool(self.studio.settings.get("tip_sound", True))
        self.tips_ui = attach_tips(
            self.window,
            self.tray,
            tips,
            self.studio.wallet,
            sound=sound,
            chat_room=self.studio.chat_room,
            title_of=self._title_of,
        )
        extras: Any = getattr(self.window, "settings_extras", None)
        if isinstance(extras, dict):
            extras["Alerts"] = [lambda: self._alert_settings(tips)]
        tips.schedule_refresh()

    def _alert_settings(self, tips: Any) -> Any:
        from widgets.tips.alert_settings import AlertSettings

        page = self.studio.overlay_page
        return AlertSettings(self.studio.settings, tips, page.url if page is not None else None)
