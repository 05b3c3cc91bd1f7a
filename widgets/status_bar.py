"""Status bar: which profile, whether the backend answers, which chain."""

from PySide6.QtWidgets import QLabel, QStatusBar, QWidget

from studio.core import StudioStatus

_BACKEND_TEXT = {
    "connected": ("Backend: connected", "statusGood"),
    "starting": ("Backend: starting…", "statusBusy"),
    "unreachable": ("Backend: unreachable", "statusBad"),
    "failed": ("Backend: failed to start", "statusBad"),
    "not configured": ("Backend: not configured", "statusBusy"),
    "stopped": ("Backend: stopped", "statusBusy"),
}


def _restyle(label: QLabel, object_name: str) -> None:
    label.setObjectName(object_name)
    label.style().unpolish(label)
    label.style().polish(label)


class StudioStatusBar(QStatusBar):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.profile_label = QLabel()
        self.backend_label = QLabel()
        self.chain_label = QLabel()
        for label in (self.profile_label, self.backend_label, self.chain_label):
            self.addPermanentWidget(label)
        self._notice_shown = ""

    def show_status(self, status: StudioStatus) -> None:
        self.profile_label.setText(f"Profile: {status.profile}")
        text, style = _BACKEND_TEXT.get(
            status.backend, (f"Backend: {status.backend}", "statusBusy")
        )
        self.backend_label.setText(text)
        tooltip = status.backend_url or ""
        if status.backend_detail:
            tooltip = f"{tooltip}\n{status.backend_detail}".strip()
        self.backend_label.setToolTip(tooltip)
        _restyle(self.backend_label, style)
        self.chain_label.setText(f"Chain: {status.chain} ({status.chain_state})")
        if status.chain_notice and status.chain_notice != self._notice_shown:
            self._notice_shown = status.chain_notice  # once, not at every status change
            self.showMessage(status.chain_notice)
