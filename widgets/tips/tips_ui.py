"""The tips journey in the window, in one call:

    ui = attach_tips(window, tray, tips, wallet_session)   # tips: studio.tips.service.TipService

puts the alert feed in the Alerts dock, the revenue dashboard in a Revenue page (with a
Sales tab when the network has a marketplace; Withdraw
through the wallet's confirmation dialog when a wallet session is given; Export CSV), and
shows every new tip as a desktop notification ("Thank in chat" posts in `chat_room`, a
studio.social.chat_room.ChatRoom, while the show is on air).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from chain import contracts
from studio.tips.service import TipService
from studio.wallet.session import WalletSession
from widgets.market.sales_view import SalesView
from widgets.tips.revenue_dashboard import RevenueDashboard
from widgets.tips.tip_notifier import TipNotifier, attach
from widgets.wallet.withdraw_flow import WithdrawFlow


class _FiguresBridge(QObject):
    """RevenueService.changed(summary, chain) and WalletSession.changed on the GUI thread."""

    fired = Signal(object, object)
    sales = Signal(object)  # RevenueService.sales_changed(SalesSummary)
    wallet_changed = Signal()  # the wallet locked, unlocked or changed account


@dataclass
class TipsUi:
    notifier: TipNotifier
    dashboard: RevenueDashboard
    withdraw: WithdrawFlow | None
    bridge: _FiguresBridge
    sales: SalesView | None = None


def attach_tips(
    window: QWidget,
    tray: QSystemTrayIcon | None,
    tips: TipService,
    session: WalletSession | None = None,
    sound: bool = True,
    chat_room: Any = None,
    title_of: Callable[[str], str | None] | None = None,
) -> TipsUi:
    """`title_of(cid)`: a track's title for the Sales tab (shown when sales are followed)."""
    notifier = attach(tray, window, tips.alerts, sound=sound, queue=tips.queue, chat_room=chat_room)
    withdraw = WithdrawFlow(window, session, tips.revenue) if session is not None else None
    dashboard = RevenueDashboard(
        tips.network.symbol,
        on_withdraw=withdraw,
        on_export=tips.revenue.export_csv,
        withdraw_blocked=withdraw.blocked_reason if withdraw is not None else None,
    )
    bridge = _FiguresBridge(window)
    bridge.fired.connect(dashboard.show_summary)
    tips.revenue.changed.connect(bridge.fired.emit)
    sales = None
    if tips.market_watcher is not None:
        flows: dict[str, WithdrawFlow] = {}
        if session is not None:
            flows = {
                contract: WithdrawFlow(window, session, tips.revenue, contract=contract)
                for contract in (contracts.MARKETPLACE, contracts.SUBSCRIPTIONS)
            }
        sales = SalesView(tips.network.symbol, title_of or (lambda _cid: None), flows)
        dashboard.tables.addTab(sales, "Sales")
        if session is not None:
            bridge.wallet_changed.connect(sales.update_actions)
        bridge.sales.connect(sales.show_sales)
        tips.revenue.sales_changed.connect(bridge.sales.emit)
        if tips.revenue.sales_summary is not None:
            sales.show_sales(tips.revenue.sales_summary)
    if withdraw is not None and session is not None:
        withdraw.state_changed = dashboard.update_actions
        bridge.wallet_changed.connect(dashboard.update_actions)
        session.changed.connect(bridge.wallet_changed.emit)
    set_page = getattr(window, "set_page", None)
    if callable(set_page):
        set_page("revenue", "Revenue", dashboard)
    return TipsUi(notifier, dashboard, withdraw, bridge, sales)
