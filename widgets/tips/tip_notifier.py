"""Tips to the person: a desktop notification, a chime, and an entry in the alert feed.

`attach(tray, window, tip_alerts, queue=..., chat_room=...)` is all the main window needs: it
puts the feed in the window's Alerts dock (when the window has one) and shows each new tip as
a desktop notification (studio.tips.desktop_notifications: "Open" raises the window, "Thank
in chat" posts in the show's chat), even with the window hidden; Qt's tray balloon only when
no notification server is there. Every alert is also logged as a `tray_message` event (with
the transaction hash and `via`: dbus, native or fallback), which is how tests and the
benchmark see it.

Given the alert queue (`queue=`), the notification, the feed and the sound wait for their
turn: each tip shows when the queue plays it, with its tier's sound and volume (none while
muted); a tip under the alert minimum only joins the feed. The Alerts dock then also holds the
queue's controls, the tray menu gets Skip / Pause / Mute, and the window the shortcuts.
"""

import asyncio
import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtGui import QShortcut
from PySide6.QtWidgets import QSystemTrayIcon, QVBoxLayout, QWidget

from resources import resource_path
from studio.logs import event
from studio.tips.alert_queue import AlertQueue, QueuedAlert
from studio.tips.alerts import TipAlert, TipAlerts, loop_running
from studio.tips.desktop_notifications import (
    FALLBACK,
    Delivery,
    DesktopNotifications,
    NotificationText,
)
from studio.tips.format import tray_text
from studio.tips.sound import VOLUME, TipSound
from widgets.bridge import SignalBridge
from widgets.tips.alert_controls import (
    AlertControls,
    TrayAlertActions,
    install_hotkeys,
    remove_hotkeys,
)
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
        queue: AlertQueue | None = None,
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
        self.queue = queue
        self.controls: AlertControls | None = None
        self.hotkeys: dict[str, QShortcut] = {}
        self.tray_actions: TrayAlertActions | None = None
        self._bridges: list[SignalBridge] = []
        # tips may be emitted from any asyncio callback: bridges queue them onto the GUI thread
        if queue is None:
            self._alerted = SignalBridge(tip_alerts.alerted, self)
            self._alerted.fired.connect(self.show_alert)
        else:
            self._alerted = SignalBridge(queue.played, self)
            self._alerted.fired.connect(self.play_queued)
            quiet = SignalBridge(queue.quiet, self)
            quiet.fired.connect(self._on_quiet)
            self._bridges.append(quiet)
        self._updated = SignalBridge(tip_alerts.updated, self)
        self._updated.fired.connect(self._on_updated)
        if feed is not None:
            feed.load(tip_alerts.history())

    def play_queued(self, queued: QueuedAlert) -> None:
        """An alert's turn in the queue has come."""
        look = queued.look
        alert = queued.tip_alert()
        if alert is None:  # a follower, a subscription...
            title = tray_text(queued.text, 120)
            self.shown += 1
            in_tray = self.show_balloon(title, "")
            self._log_told(queued.key, 0, title, "", in_tray, FALLBACK)
            if not queued.muted:
                self.sound.play(look.sound, look.volume)
            return
        # the queue's message: blank under the message minimum, blocked words starred
        body = tray_text(" · ".join(p for p in (queued.fiat, queued.message) if p)) or "No message"
        self.show_alert(
            alert,
            title=tray_text(queued.text, 120),
            body=body,
            sound=not queued.muted,
            sound_file=look.sound,
            volume=look.volume,
        )

    def _on_quiet(self, queued: QueuedAlert) -> None:
        alert = queued.tip_alert()
        if alert is not None and self.feed is not None:
            self.feed.add(alert)

    def show_alert(
        self,
        alert: TipAlert,
        title: str | None = None,
        body: str | None = None,
        sound: bool = True,
        sound_file: str = "",
        volume: float = VOLUME,
    ) -> None:
        """The sink the alerts (or the alert queue) call: notification, feed, chime."""
        text = NotificationText(
            alert.tray_title if title is None else title,
            alert.tray_body if body is None else body,
        )
        self.shown += 1
        if self.desktop is not None and loop_running():
            self._keep(asyncio.ensure_future(self._notify(alert, text, self.desktop)))
        else:
            in_tray = self.show_balloon(text.summary, text.body)
            self._told(alert, text, in_tray, FALLBACK)
        if self.feed is not None:
            self.feed.add(alert)
        if sound:
            self.sound.play(sound_file, volume)

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

    async def _notify(
        self, alert: TipAlert, text: NotificationText, desktop: DesktopNotifications
    ) -> None:
        try:
            delivery = await desktop.notify(alert, text)
        except Exception:  # never lose the alert: the balloon still tells
            log.exception("desktop notification failed")
            delivery = Delivery(FALLBACK, self.show_balloon(text.summary, text.body))
        self._told(alert, text, delivery.backend == FALLBACK and delivery.shown, delivery.backend)

    def _told(self, alert: TipAlert, text: NotificationText, in_tray: bool, via: str) -> None:
        record = alert.record
        self._log_told(record.tx_hash, record.log_index, text.summary, text.body, in_tray, via)

    def _log_told(
        self, key: str, log_index: int, title: str, body: str, in_tray: bool, via: str
    ) -> None:
        event(
            log,
            "tray_message",
            tx_hash=key,
            log_index=log_index,
            title=title,
            body=body,
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
        for bridge in self._bridges:
            bridge.close()
        for task in self._tasks:
            task.cancel()
        remove_hotkeys(self.hotkeys)
        if self.tray_actions is not None:
            self.tray_actions.remove()
            self.tray_actions = None
        if self.controls is not None:
            self.controls.close_link()


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
    queue: AlertQueue | None = None,
    chat_room: Any = None,
) -> TipNotifier:
    """Wire tip alerts into desktop notifications (tray balloon as the fallback) and the
    window's Alerts dock; returns the notifier."""
    feed = AlertsFeed()
    dock: QWidget = feed
    notifier = TipNotifier(
        tray,
        tip_alerts,
        feed,
        TipSound(enabled=sound),
        parent=window,
        desktop=desktop_notifications(window, chat_room),
        queue=queue,
    )
    if queue is not None:
        dock = QWidget()
        layout = QVBoxLayout(dock)
        layout.setContentsMargins(0, 0, 0, 0)
        notifier.controls = AlertControls(queue, dock)
        layout.addWidget(notifier.controls)
        layout.addWidget(feed, 1)
        if window is not None:
            notifier.hotkeys = install_hotkeys(window, queue)
        menu = tray.contextMenu() if tray is not None else None
        if menu is not None:
            notifier.tray_actions = TrayAlertActions(menu, queue)
    set_dock: Any = getattr(window, "set_dock", None)
    if callable(set_dock):
        set_dock("alerts", "Alerts", dock, Qt.DockWidgetArea.RightDockWidgetArea)
    return notifier
