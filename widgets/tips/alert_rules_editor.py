"""The alert rules editor: the "Alerts" page of the Settings window.

    editor = AlertRulesEditor(AlertRules.from_settings(settings),
                              save=lambda rules: save_rules(settings, rules))
    editor.saved.connect(tips.set_rules)      # the running queue takes them from now on

Every field is read back through `AlertRules.parse`, the same check the settings file gets, so
a bad value is refused with its reason (shown under the form) and `save` is never called.
"""

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.tips.alert_rules import (
    MAX_DURATION_S,
    MAX_MODERATION_DELAY_S,
    MAX_TTS_CHARS,
    TEMPLATE_FIELDS,
    AlertLook,
    AlertRules,
    RulesError,
    amount_text,
)

TIER_COLUMNS = ("From", "Up to", "Sound file", "Volume", "Image", "Seconds", "Text")
_KEYS = ("min_amount", "max_amount", "sound", "volume", "image", "duration_s", "template")


class LookFields(QWidget):
    """Sound, volume, image, duration and text of one alert look (the largest-tip tier)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sound = QLineEdit()
        self.sound.setPlaceholderText("the built-in chime")
        self.volume = QDoubleSpinBox()
        self.volume.setRange(0, 1)
        self.volume.setSingleStep(0.05)
        self.image = QLineEdit()
        self.image.setPlaceholderText("no image")
        self.duration = QDoubleSpinBox()
        self.duration.setRange(0.5, MAX_DURATION_S)
        self.duration.setSuffix(" s")
        self.template = QLineEdit()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Sound file", self.sound)
        form.addRow("Volume", self.volume)
        form.addRow("Image or GIF", self.image)
        form.addRow("Duration", self.duration)
        form.addRow("Text", self.template)

    def set_look(self, look: AlertLook) -> None:
        self.sound.setText(look.sound)
        self.volume.setValue(look.volume)
        self.image.setText(look.image)
        self.duration.setValue(look.duration_s)
        self.template.setText(look.template)

    def data(self) -> dict[str, Any]:
        return {
            "sound": self.sound.text(),
            "volume": self.volume.value(),
            "image": self.image.text(),
            "duration_s": self.duration.value(),
            "template": self.template.text(),
        }


class AlertRulesEditor(QWidget):
    saved = Signal(object)  # AlertRules, once written

    def __init__(
        self,
        rules: AlertRules,
        save: Callable[[AlertRules], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._save = save
        self._rules = rules
        self.min_amount = QLineEdit()
        self.message_min = QLineEdit()
        self.delay = QSpinBox()
        self.delay.setRange(0, MAX_MODERATION_DELAY_S)
        self.delay.setSuffix(" s")
        self.delay.setToolTip("Each alert waits this long; Drop in the Alerts dock removes it")
        self.blocked = QPlainTextEdit()
        self.blocked.setPlaceholderText("one word or phrase a line")
        self.blocked.setMaximumHeight(90)
        general = QGroupBox("Alerts")
        form = QFormLayout(general)
        form.addRow("Alert from (coins)", self.min_amount)
        form.addRow("Show the message from (coins)", self.message_min)
        form.addRow("Moderation delay", self.delay)
        form.addRow("Blocked words", self.blocked)

        self.tiers = QTableWidget(0, len(TIER_COLUMNS))
        self.tiers.setHorizontalHeaderLabels(TIER_COLUMNS)
        self.tiers.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.add_tier = QPushButton("Add tier")
        self.remove_tier = QPushButton("Remove tier")
        self.add_tier.clicked.connect(lambda: self._add_tier_row(None))
        self.remove_tier.clicked.connect(self._remove_tier_row)
        tiers_box = QGroupBox("Tiers by amount (an empty 'Up to' has no limit)")
        tiers_layout = QVBoxLayout(tiers_box)
        tiers_layout.addWidget(self.tiers)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_tier)
        buttons.addWidget(self.remove_tier)
        buttons.addStretch(1)
        tiers_layout.addLayout(buttons)
        fields_help = QLabel("Text can use " + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS))
        tiers_layout.addWidget(fields_help)

        self.largest_enabled = QCheckBox("A tier of its own for the largest tip of the show")
        self.largest = LookFields()
        largest_box = QGroupBox("Largest tip of this show")
        largest_layout = QVBoxLayout(largest_box)
        largest_layout.addWidget(self.largest_enabled)
        largest_layout.addWidget(self.largest)

        self.tts_enabled = QCheckBox("Read the fan's message aloud (espeak-ng)")
        self.tts_min = QLineEdit()
        self.tts_max = QSpinBox()
        self.tts_max.setRange(1, MAX_TTS_CHARS)
        self.tts_max.setSuffix(" characters")
        self.tts_voice = QLineEdit()
        tts_box = QGroupBox("Text-to-speech")
        tts_form = QFormLayout(tts_box)
        tts_form.addRow(self.tts_enabled)
        tts_form.addRow("Speak from (coins)", self.tts_min)
        tts_form.addRow("At most", self.tts_max)
        tts_form.addRow("Voice", self.tts_voice)

        self.error = QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setObjectName("alertRulesError")
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.apply)
        self.revert_button = QPushButton("Revert")
        self.revert_button.clicked.connect(lambda: self.set_rules(self._rules))
        actions = QHBoxLayout()
        actions.addWidget(self.error, 1)
        actions.addWidget(self.revert_button)
        actions.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        for box in (general, tiers_box, largest_box, tts_box):
            layout.addWidget(box)
        layout.addLayout(actions)
        self.set_rules(rules)

    # -- rules <-> fields ---------------------------------------------------------------------

    def set_rules(self, rules: AlertRules) -> None:
        self._rules = rules
        self.min_amount.setText(amount_text(rules.min_wei))
        self.message_min.setText(amount_text(rules.message_min_wei))
        self.delay.setValue(int(rules.moderation_delay_s))
        self.blocked.setPlainText("\n".join(rules.blocked_words))
        self.tiers.setRowCount(0)
        for tier in rules.tiers:
            self._add_tier_row(tier.to_toml())
        self.largest_enabled.setChecked(rules.largest_enabled)
        self.largest.set_look(rules.largest)
        self.tts_enabled.setChecked(rules.tts.enabled)
        self.tts_min.setText(amount_text(rules.tts.min_wei))
        self.tts_max.setValue(rules.tts.max_chars)
        self.tts_voice.setText(rules.tts.voice)
        self.error.clear()

    def _add_tier_row(self, data: dict[str, Any] | None) -> None:
        if data is None:
            data = {"min_amount": "0", **AlertLook().to_toml()}
        row = self.tiers.rowCount()
        self.tiers.insertRow(row)
        for column, key in enumerate(_KEYS):
            value = data.get(key, "")
            self.tiers.setItem(row, column, QTableWidgetItem("" if value is None else str(value)))

    def _remove_tier_row(self) -> None:
        row = self.tiers.currentRow()
        self.tiers.removeRow(row if row >= 0 else self.tiers.rowCount() - 1)

    def _tier_data(self, row: int) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for column, key in enumerate(_KEYS):
            item = self.tiers.item(row, column)
            text = item.text().strip() if item is not None else ""
            if key in ("volume", "duration_s"):
                try:
                    data[key] = float(text)
                except ValueError:
                    raise RulesError(
                        f"tier {row + 1}: {TIER_COLUMNS[column]} must be a number"
                    ) from None
            elif key == "max_amount":
                if text:
                    data[key] = text
            else:
                data[key] = text
        return data

    def data(self) -> dict[str, Any]:
        """The `[alerts]` table the fields describe (not checked yet)."""
        words = [w.strip() for w in self.blocked.toPlainText().splitlines() if w.strip()]
        return {
            "min_amount": self.min_amount.text().strip() or "0",
            "message_min_amount": self.message_min.text().strip() or "0",
            "moderation_delay_s": self.delay.value(),
            "blocked_words": words,
            "tiers": [self._tier_data(row) for row in range(self.tiers.rowCount())],
            "default": self._rules.default_look.to_toml(),
            "largest": {"enabled": self.largest_enabled.isChecked(), **self.largest.data()},
            "tts": {
                "enabled": self.tts_enabled.isChecked(),
                "min_amount": self.tts_min.text().strip() or "0",
                "max_chars": self.tts_max.value(),
                "voice": self.tts_voice.text().strip(),
            },
        }

    def rules(self) -> AlertRules:
        """The rules the fields describe; RulesError with the reason if one is wrong."""
        return AlertRules.parse(self.data())

    def apply(self) -> bool:
        """Check, then save; a refused value is explained under the form and nothing is saved."""
        try:
            rules = self.rules()
            if self._save is not None:
                self._save(rules)
        except RulesError as exc:
            self.error.setText(f"Not saved: {exc}.")
            return False
        self._rules = rules
        self.error.setText("Saved.")
        self.saved.emit(rules)
        return True
