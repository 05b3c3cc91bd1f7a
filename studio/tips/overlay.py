"""Tips onto the live picture: each new tip alert becomes an on-stream alert box.

The live session owns the `media.alert_overlay.AlertOverlay` (its video thread applies it to
every picture); this link feeds it from `TipAlerts` while `enabled` (the artist's option).
"""

from media.alert_overlay import AlertOverlay
from studio.tips.alerts import TipAlert, TipAlerts
from studio.tips.format import FEED_MESSAGE_CHARS, clean_text, truncate


def overlay_text(alert: TipAlert) -> tuple[str, str]:
    """(title, body) for the box: plain text, drawn as glyphs, so markup stays literal."""
    title = clean_text(f"{alert.fan_label} tipped {alert.amount_text}", keep_newlines=False)
    body = truncate(alert.message, FEED_MESSAGE_CHARS)
    if alert.fiat:
        body = f"{alert.fiat}\n{body}" if body else alert.fiat
    return title, body


class TipOverlayLink:
    def __init__(self, tip_alerts: TipAlerts, overlay: AlertOverlay, enabled: bool = True) -> None:
        self.overlay = overlay
        self.enabled = enabled
        self._tip_alerts = tip_alerts
        tip_alerts.alerted.connect(self._on_alert)

    def _on_alert(self, alert: TipAlert) -> None:
        if self.enabled:
            self.overlay.show(*overlay_text(alert))

    def close(self) -> None:
        self._tip_alerts.alerted.disconnect(self._on_alert)
