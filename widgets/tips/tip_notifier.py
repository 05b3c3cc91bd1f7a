"""Tips to the person: a tray message, a chime, and an entry in the alert feed.

`attach(tray, window, tip_alerts)` is all the main window needs: it puts the feed in the
window's Alerts dock (when the window has one) and shows each new tip in the tray, even
with the window hidden. Every tray message is also logged as a `tray_message` event (with
the transaction hash), which is how tests and the benchmark see it.
"""

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QSystemTrayIcon, QWidget

from studio.logs import event
from studio.tips.alerts import TipAlert, TipAlerts
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
    ) -> None:
        super().__init__(parent)
        self.tray = tray
        self.tip_alerts = tip_alerts
        self.feed = feed
        self.sound = sound if sound is not None else TipSound()
        self.shown = 0
        # tips may be emitted from any asyncio callback: bridges queue them onto the GUI thread
        self._alerted = SignalBridge(tip_alerts.alerted, self)
        self._alerted.fired.connect(self.show_alert)
        self._updated = SignalBridge(tip_alerts.updated, self)
        self._updated.fired.connect(self._on_updated)
        if feed is not None:
            feed.load(tip_alerts.history())

    def show_alert(self, alert: TipAlert) -> None:
        title, body = alert.tray_title, alert.tray_body
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
            tx_hash=alert.record.tx_hash,
            log_index=alert.record.log_index,
            title=title,
            body=body,
            in_tray=shown_in_tray,
            shown_at=time.time(),
        )
        if self.feed is not None:
            self.feed.add(alert)
        self.sound.play()

    def _on_updated(self, alert: TipAlert) -> None:
        if self.feed is not None:
            self.feed.update_alert(alert)

    def close(self) -> None:
        self._alerted.close()
        self._updated.close()


def attach(
    tray: QSystemTrayIcon | None,
    window: QWidget | None,
    tip_alerts: TipAlerts,
    sound: bool = True,
) -> TipNotifier:
    """Wire tip alerts into the tray and the window's Alerts dock; returns the notifier."""
    feed = AlertsFeed()
    set_dock: Any = getattr(window, "set_dock", None)
    if callable(set_dock):
        set_dock("alerts", "Alerts", feed, Qt.DockWidgetArea.RightDockWidgetArea)
    return TipNotifier(tray, tip_alerts, feed, TipSound(enabled=sound), parent=window)
