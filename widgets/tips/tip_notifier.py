"""Tips to the person: a tray message, a chime, and an entry in the alert feed.

`attach(tray, window, tip_alerts)` is all the main window needs: it puts the feed in the
window's Alerts dock (when the window has one) and shows each new tip in the tray, even
with the window hidden. Every tray message is also logged as a `tray_message` event (with
the transaction hash), which is how tests and the benchmark see it.

Given the alert queue (`queue=`), the tray, the feed and the sound wait for their turn: each
tip shows when the queue plays it, with its tier's sound and volume (none while muted); a tip
under the alert minimum only joins the feed. The Alerts dock then also holds the queue's
controls, the tray menu gets Skip / Pause / Mute, and the window the shortcuts.
"""

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QShortcut
from PySide6.QtWidgets import QSystemTrayIcon, QVBoxLayout, QWidget

from studio.logs import event
from studio.tips.alert_queue import AlertQueue, QueuedAlert
from studio.tips.alerts import TipAlert, TipAlerts
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
        queue: AlertQueue | None = None,
    ) -> None:
        super().__init__(parent)
        self.tray = tray
        self.tip_alerts = tip_alerts
        self.feed = feed
        self.sound = sound if sound is not None else TipSound()
        self.shown = 0
        # tips may be emitted from any asyncio callback: bridges queue them onto the GUI thread
        self.queue = queue
        self.controls: AlertControls | None = None
        self.hotkeys: dict[str, QShortcut] = {}
        self.tray_actions: TrayAlertActions | None = None
        self._bridges: list[SignalBridge] = []
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
            self._tell(queued.key, 0, tray_text(queued.text, 120), "")
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

    def _tell(self, tx_hash: str, log_index: int, title: str, body: str) -> bool:
        shown_in_tray = False
        if self.tray is not None and self.tray.isVisible():
            self.tray.showMessage(
                title, body, QSystemTrayIcon.MessageIcon.Information, TRAY_MESSAGE_MS
            )
            shown_in_tray = True
        self.shown += 1
        event(
            log,
            "tray_message",
            tx_hash=tx_hash,
            log_index=log_index,
            title=title,
            body=body,
            in_tray=shown_in_tray,
            shown_at=time.time(),
        )
        return shown_in_tray

    def show_alert(
        self,
        alert: TipAlert,
        title: str | None = None,
        body: str | None = None,
        sound: bool = True,
        sound_file: str = "",
        volume: float = VOLUME,
    ) -> None:
        title = alert.tray_title if title is None else title
        body = alert.tray_body if body is None else body
        self._tell(alert.record.tx_hash, alert.record.log_index, title, body)
        if self.feed is not None:
            self.feed.add(alert)
        if sound:
            self.sound.play(sound_file, volume)

    def _on_updated(self, alert: TipAlert) -> None:
        if self.feed is not None:
            self.feed.update_alert(alert)

    def close(self) -> None:
        self._alerted.close()
        self._updated.close()
        for bridge in self._bridges:
            bridge.close()
        remove_hotkeys(self.hotkeys)
        if self.tray_actions is not None:
            self.tray_actions.remove()
            self.tray_actions = None
        if self.controls is not None:
            self.controls.close_link()


def attach(
    tray: QSystemTrayIcon | None,
    window: QWidget | None,
    tip_alerts: TipAlerts,
    sound: bool = True,
    queue: AlertQueue | None = None,
) -> TipNotifier:
    """Wire tip alerts into the tray and the window's Alerts dock; returns the notifier."""
    feed = AlertsFeed()
    dock: QWidget = feed
    notifier = TipNotifier(
        tray, tip_alerts, feed, TipSound(enabled=sound), parent=window, queue=queue
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
