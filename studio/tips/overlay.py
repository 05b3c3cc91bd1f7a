"""Tips onto the live picture: each alert becomes an on-stream alert box.

The live session owns the `media.alert_overlay.AlertOverlay` (its video thread applies it to
every picture); this link feeds it while `enabled` (the artist's option): from the alert queue
as each alert plays (the queue's rules: tier text, message minimum, blocked words, duration;
Skip ends the box too), or straight from `TipAlerts` when given no queue.
"""

from media.alert_overlay import AlertOverlay
from studio.tips.alert_queue import SKIPPED, AlertQueue, QueuedAlert
from studio.tips.alerts import TipAlert, TipAlerts
from studio.tips.format import FEED_MESSAGE_CHARS, clean_text, truncate


def overlay_text(alert: TipAlert) -> tuple[str, str]:
    """(title, body) for the box: plain text, drawn as glyphs, so markup stays literal."""
    title = clean_text(f"{alert.fan_label} tipped {alert.amount_text}", keep_newlines=False)
    body = truncate(alert.message, FEED_MESSAGE_CHARS)
    if alert.fiat:
        body = f"{alert.fiat}\n{body}" if body else alert.fiat
    return title, body


def queued_overlay_text(alert: QueuedAlert) -> tuple[str, str]:
    body = "\n".join(part for part in (alert.fiat, alert.message) if part)
    return alert.text, body


class TipOverlayLink:
    def __init__(
        self, source: TipAlerts | AlertQueue, overlay: AlertOverlay, enabled: bool = True
    ) -> None:
        self.overlay = overlay
        self.enabled = enabled
        self._queue = source if isinstance(source, AlertQueue) else None
        self._signal = source.played if self._queue is not None else source.alerted
        self._signal.connect(self._on_alert)
        if self._queue is not None:
            self._queue.finished.connect(self._on_finished)

    def _on_alert(self, alert: TipAlert | QueuedAlert) -> None:
        if not self.enabled:
            return
        if isinstance(alert, QueuedAlert):
            self.overlay.show(*queued_overlay_text(alert), alert.duration_s)
        else:
            self.overlay.show(*overlay_text(alert))

    def _on_finished(self, _alert: QueuedAlert, how: str) -> None:
        if how == SKIPPED:
            self.overlay.clear()

    def close(self) -> None:
        self._signal.disconnect(self._on_alert)
        if self._queue is not None:
            self._queue.finished.disconnect(self._on_finished)
