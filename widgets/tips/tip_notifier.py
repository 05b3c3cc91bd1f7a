"""Tips to the person: a desktop notification, a chime, and an entry in the alert feed.

`attach(tray, window, tip_alerts, chat_room)` is all the main window needs: it puts the feed
in the window's Alerts dock (when the window has one) and shows each new tip as a desktop
notification (studio.tips.desktop_notifications: "Open" raises the window, "Thank in chat"
posts in the show's chat), even with the window hidden; Qt's tray balloon only when no
notification server is there. Every alert is also logged as a `tray_message` event (with the
transaction hash and `via`: dbus, native or fallback), which is how tests and the benchmark
see it.
"""

import asyncio
import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from resources import resource_path
from studio.logs import event
from studio.tips.alerts import TipAlert, TipAlerts, loop_running
from studio.tips.desktop_notifications import FALLBACK, Delivery, DesktopNotifications
from studio.tips.sound import TipSound
from widgets.bridge import SignalBridge
from widgets.tips.alerts_feed import AlertsFeed

log = logging.getLogger(__name__)

TRAY_MESSAGE_MS = 8000


class TipNotifier(QObject):
    def __init__(
        self,
        tray: QSystemTrayIcon | None,
        tip_alerts: TipAlerts,
        feed: AlertsFeed | None = None,
        sound: TipSound | None = None,
        parent: QObject | None = None,
        desktop: DesktopNotifications | None = None,
    ) -> None:
        super().__init__(parent)
        self.tray = tray
        self.tip_alerts = tip_alerts
        self.feed = feed
        self.sound = sound if sound is not None else TipSound()
        self.desktop = desktop
        if desktop is not None:
            desktop.fallback = self.show_balloon
            QTimer.singleShot(0, self._prepare)  # once the event loop runs
        self.shown = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        # tips may be emitted from any asyncio callback: bridges queue them onto the GUI thread
        self._alerted = SignalBridge(tip_alerts.alerted, self)
        self._alerted.fired.connect(self.show_alert)
        self._updated = SignalBridge(tip_alerts.updated, self)
        self._updated.fired.connect(self._on_updated)
        if feed is not None:
            feed.load(tip_alerts.history())

    def show_alert(self, alert: TipAlert) -> None:
        """The sink the alerts (or an alert queue) call: notification, feed, chime."""
        self.shown += 1
        if self.desktop is not None and loop_running():
            self._keep(asyncio.ensure_future(self._notify(alert, self.desktop)))
        else:
            in_tray = self.show_balloon(alert.tray_title, alert.tray_body)
            self._told(alert, in_tray, FALLBACK)
        if self.feed is not None:
            self.feed.add(alert)
        self.sound.play()

    def _prepare(self) -> None:
        if self.desktop is not None and loop_running():
            self._keep(asyncio.ensure_future(self.desktop.prepare()))

    def _keep(self, task: "asyncio.Future[Any]") -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def show_balloon(self, title: str, body: str) -> bool:
        """Qt's tray message: the last fallback. True if a tray host showed it."""
        if self.tray is None or not self.tray.isVisible():
            return False
        self.tray.showMessage(title, body, QSystemTrayIcon.MessageIcon.Information, TRAY_MESSAGE_MS)
        return True

    async def _notify(self, alert: TipAlert, desktop: DesktopNotifications) -> None:
        try:
            delivery = await desktop.notify(alert)
        except Exception:  # never lose the alert: the balloon still tells
            log.exception("desktop notification failed")
            delivery = Delivery(FALLBACK, self.show_balloon(alert.tray_title, alert.tray_body))
        self._told(alert, delivery.backend == FALLBACK and delivery.shown, delivery.backend)

    def _told(self, alert: TipAlert, in_tray: bool, via: str) -> None:
        event(
            log,
            "tray_message",
            tx_hash=alert.record.tx_hash,
            log_index=alert.record.log_index,
            title=alert.tray_title,
            body=alert.tray_body,
            in_tray=in_tray,
            via=via,
            shown_at=time.time(),
        )

    def _on_updated(self, alert: TipAlert) -> None:
        if self.feed is not None:
            self.feed.update_alert(alert)

    def close(self) -> None:
        self._alerted.close()
        self._updated.close()
        for task in self._tasks:
            task.cancel()


def raise_window(window: QWidget) -> None:
    window.showNormal()
    window.raise_()
    window.activateWindow()


def desktop_notifications(window: QWidget | None, chat_room: Any = None) -> DesktopNotifications:
    """Notifications whose "Open" raises `window` and whose "Thank in chat" posts in
    `chat_room` (studio.social.chat_room.ChatRoom) while its show is on air."""
    thank = chat_room.send if chat_room is not None else None
    return DesktopNotifications(
        on_open=(lambda: raise_window(window)) if window is not None else (lambda: None),
        thank=thank,
        can_thank=(lambda: chat_room.state == "open") if chat_room is not None else None,
        icon_path=str(resource_path("icons", "harmonie.svg")),
    )


def attach(
    tray: QSystemTrayIcon | None,
    window: QWidget | None,
    tip_alerts: TipAlerts,
    sound: bool = True,
    chat_room: Any = None,
) -> TipNotifier:
    """Wire tip alerts into desktop notifications (tray balloon as the fallback) and the
    window's Alerts dock; returns the notifier."""
    feed = AlertsFeed()
    set_dock: Any = getattr(window, "set_dock", None)
    if callable(set_dock):
        set_dock("alerts", "Alerts", feed, Qt.DockWidgetArea.RightDockWidgetArea)
    desktop = desktop_notifications(window, chat_room)
    return TipNotifier(
        tray, tip_alerts, feed, TipSound(enabled=sound), parent=window, desktop=desktop
    )
