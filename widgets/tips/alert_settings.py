"""What Settings > Alerts adds for tips: the alert rules editor and the OBS page's address."""

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from studio.tips.alert_rules import AlertRules, save_rules
from widgets.tips.alert_rules_editor import AlertRulesEditor


class AlertSettings(QWidget):
    def __init__(self, settings: Any, tips: Any, overlay_url: str | None) -> None:
        super().__init__()
        self.editor = AlertRulesEditor(
            AlertRules.from_settings(settings), save=lambda rules: save_rules(settings, rules)
        )
        self.editor.saved.connect(tips.set_rules)  # the running queue takes them from now on
        self.obs_url = QLabel(overlay_url or "Not served (see the log)")
        self.obs_url.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setEnabled(overlay_url is not None)
        self.copy_button.setToolTip("Paste it as a Browser source in OBS")
        self.copy_button.clicked.connect(
            lambda: QGuiApplication.clipboard().setText(overlay_url or "")
        )
        self._setup_ui()

    def _setup_ui(self) -> None:
        obs = QHBoxLayout()
        obs.addWidget(QLabel("Alert box for OBS (Browser source):"))
        obs.addWidget(self.obs_url, 1)
        obs.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(obs)
        layout.addWidget(self.editor)
