"""The Go Live panel's restream rows: per destination a switch for this show, the stream key
(typed once, then kept in the system keyring by the session) and its state while live."""

from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QLineEdit, QWidget

from media.rtmp_output import RtmpDestination
from studio.live.restream import RestreamChoice

STATE_TEXT = {
    "connecting": ("connecting…", "#d29922"),
    "live": ("● live", "#3fb950"),
    "reconnecting": ("reconnecting…", "#d29922"),
    "failed": ("failed", "#f85149"),
    "stopped": ("ended", "#8b949e"),
}
KEY_HINT = "Stream key (empty: the saved one)"


class RestreamRow:
    def __init__(self, choice: RestreamChoice, parent: QWidget) -> None:
        service = choice.service
        self.choice = choice
        self.enabled = QCheckBox(service.label, parent)
        self.enabled.setObjectName(f"restream_{service.id}")
        self.enabled.setChecked(choice.enabled)
        self.url = QLineEdit(choice.url, parent)
        self.url.setPlaceholderText("rtmp://server/app")
        self.url.setToolTip("The RTMP(S) server URL, without the key.")
        self.key = QLineEdit(parent)
        self.key.setObjectName(f"restreamKey_{service.id}")
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText(KEY_HINT)
        self.state = QLabel("", parent)
        self.state.setObjectName(f"restreamState_{service.id}")
        self.state.setMinimumWidth(96)  # the row does not move as the state changes

    def destination(self) -> RtmpDestination | None:
        if not self.enabled.isChecked():
            return None
        return RtmpDestination(self.choice.service.label, self.url.text().strip(), self.key.text())

    def show_state(self, state: str | None) -> None:
        text, colour = STATE_TEXT.get(state or "", ("", ""))
        self.state.setText(text)
        self.state.setStyleSheet(f"color: {colour};" if colour else "")


class RestreamSection(QWidget):
    def __init__(self, choices: list[RestreamChoice], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("restreamSection")
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        self.rows = [RestreamRow(choice, self) for choice in choices]
        for i, row in enumerate(self.rows):
            grid.addWidget(row.enabled, i, 0)
            if row.choice.service.default_url:  # a known service: its URL is in Settings
                row.url.hide()
                grid.addWidget(row.key, i, 1, 1, 2)
            else:
                grid.addWidget(row.url, i, 1)
                grid.addWidget(row.key, i, 2)
            grid.addWidget(row.state, i, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(2, 1)

    def destinations(self) -> list[RtmpDestination]:
        """The destinations switched on for this show."""
        return [d for d in (row.destination() for row in self.rows) if d is not None]

    def show_states(self, states: dict[str, str]) -> None:
        """Each destination's state (by name) as the session reports it; blank when off."""
        for row in self.rows:
            row.show_state(states.get(row.choice.service.label))
