"""The alert feed: every tip, newest first, with its full message below the list.

Tip messages come from strangers: every text here is set as plain text (list items are
never rich text; the detail label is forced to Qt.PlainText; the tooltip, which Qt would
otherwise guess about, is explicit HTML with the message escaped).
"""

import html
import logging
import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.logs import event
from studio.tips.alerts import TipAlert
from studio.tips.format import truncate

log = logging.getLogger(__name__)

KEY_ROLE = Qt.ItemDataRole.UserRole
TOOLTIP_CHARS = 2000
MAX_ENTRIES = 2000


def escaped_tooltip(text: str) -> str:
    body = html.escape(truncate(text, TOOLTIP_CHARS))
    return f"<p style='white-space:pre-wrap'>{body}</p>"


class AlertsFeed(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("alerts_feed")
        self.list = QListWidget()
        self.list.setObjectName("alerts_list")
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(False)
        self.list.setSpacing(3)
        self.list.setAlternatingRowColors(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.empty = QLabel("Tips will appear here the moment they land.")
        self.empty.setTextFormat(Qt.TextFormat.PlainText)
        self.empty.setObjectName("placeholder")
        self.detail = QLabel()
        self.detail.setObjectName("alert_detail")
        self.detail.setTextFormat(Qt.TextFormat.PlainText)
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.detail)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.list)
        splitter.addWidget(scroll)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.empty)
        layout.addWidget(splitter)

        self._alerts: dict[tuple[str, int], TipAlert] = {}
        self.list.currentItemChanged.connect(self._show_detail)
        self._refresh_empty()

    # -- content ------------------------------------------------------------------------------

    def load(self, history: list[TipAlert]) -> None:
        """Fill from history (oldest first), as at startup."""
        for alert in history:
            self._add(alert)

    def add(self, alert: TipAlert) -> None:
        """A tip as it lands; logs a `feed_entry` event when it is new to the feed."""
        if self._add(alert):
            record = alert.record
            event(
                log,
                "feed_entry",
                tx_hash=record.tx_hash,
                log_index=record.log_index,
                shown_at=time.time(),
            )

    def _add(self, alert: TipAlert) -> bool:
        if alert.key in self._alerts:
            self.update_alert(alert)
            return False
        self._alerts[alert.key] = alert
        item = QListWidgetItem()
        item.setData(KEY_ROLE, alert.key)
        self._fill(item, alert)
        self.list.insertItem(0, item)
        while self.list.count() > MAX_ENTRIES:
            old = self.list.takeItem(self.list.count() - 1)
            self._alerts.pop(tuple(old.data(KEY_ROLE)), None)
        self._refresh_empty()
        return True

    def update_alert(self, alert: TipAlert) -> None:
        """A shown tip changed (confirmed, dropped, a name learned)."""
        item = self._item(alert.key)
        if item is None:
            self.add(alert)
            return
        old = self._alerts[alert.key]
        if old.fiat and not alert.fiat:  # keep the fiat value quoted when it was shown
            alert = TipAlert(alert.record, alert.symbol, old.fiat)
        self._alerts[alert.key] = alert
        self._fill(item, alert)
        if self.list.currentItem() is item:
            self._show_detail(item)

    def entries(self) -> list[str]:
        """The feed's texts as shown, newest first."""
        return [self.list.item(i).text() for i in range(self.list.count())]

    def keys(self) -> list[tuple[str, int]]:
        return [tuple(self.list.item(i).data(KEY_ROLE)) for i in range(self.list.count())]

    # -- internals ----------------------------------------------------------------------------

    def _item(self, key: tuple[str, int]) -> QListWidgetItem | None:
        for i in range(self.list.count()):
            item = self.list.item(i)
            if tuple(item.data(KEY_ROLE)) == key:
                return item
        return None

    @staticmethod
    def _fill(item: QListWidgetItem, alert: TipAlert) -> None:
        item.setText(alert.feed_text)
        item.setToolTip(escaped_tooltip(alert.message or alert.feed_text))

    def _show_detail(self, item: QListWidgetItem | None, _previous: object = None) -> None:
        if item is None:
            self.detail.setText("")
            return
        alert = self._alerts.get(tuple(item.data(KEY_ROLE)))
        if alert is None:
            return
        record = alert.record
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.alerted_at))
        lines = [
            f"{alert.fan_label} tipped {alert.amount_text}"
            + (f" ({alert.fiat})" if alert.fiat else ""),
            f"From {record.fan}",
            f"Status: {record.status}"
            + (f", block {record.block_number}" if record.block_number is not None else ""),
            f"Transaction {record.tx_hash} (log {record.log_index})",
            f"Received {when} via {record.source}",
        ]
        if alert.message:
            lines += ["", alert.message]
        self.detail.setText("\n".join(lines))

    def _refresh_empty(self) -> None:
        self.empty.setVisible(self.list.count() == 0)
