"""One setting in the Settings window: its editor, the reason it is refused, when it applies.

The editor matches the field's kind (a checkbox for yes/no, a list for a fixed choice, a line
for the rest); every change is parsed by the field at once and a refusal is shown beside it.
"""

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from studio.settings_schema import Field, InvalidSetting

ERROR_STYLE = "color: #ff6b6b;"
NOTE_STYLE = "color: #8b949e; font-size: 11px;"


class FieldRow(QWidget):
    """Shows `field`'s value as loaded; `dirty` once the person changed it; `value()` parses."""

    edited = Signal()

    def __init__(self, field: Field, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.setObjectName(f"setting:{field.key}")
        self._loaded = ""
        self.editor: QLineEdit | QCheckBox | QComboBox
        if field.kind == "bool":
            self.editor = QCheckBox("On")
            self.editor.toggled.connect(lambda _on: self._changed())
        elif field.kind == "choice":
            self.editor = QComboBox()
            default = f"Default ({field.default})" if field.default is not None else "Default"
            self.editor.addItem(default, "")
            for choice in field.choices:
                self.editor.addItem(choice, choice)
            self.editor.currentIndexChanged.connect(lambda _i: self._changed())
        else:
            self.editor = QLineEdit()
            if field.example:
                self.editor.setPlaceholderText(
                    f"default: {field.format(field.default)}"
                    if field.default is not None
                    else f"e.g. {field.example}"
                )
            self.editor.textChanged.connect(lambda _t: self._changed())
        self.editor.setToolTip(field.help)
        self.error = QLabel("")
        self.error.setObjectName("settingError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.note = QLabel(field.applies)
        self.note.setObjectName("settingNote")
        self.note.setStyleSheet(NOTE_STYLE)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor, 3)
        layout.addWidget(self.error, 2)
        layout.addWidget(self.note)

    # ---- text in and out ------------------------------------------------------------------

    def text(self) -> str:
        editor = self.editor
        if isinstance(editor, QCheckBox):
            return "true" if editor.isChecked() else "false"
        if isinstance(editor, QComboBox):
            return str(editor.currentData() or "")
        return editor.text()

    def set_text(self, text: str) -> None:
        """What the person would type (tests and the loader go through the same editor)."""
        editor = self.editor
        if isinstance(editor, QCheckBox):
            editor.setChecked(self.field.parse(text) if text else bool(self.field.default))
        elif isinstance(editor, QComboBox):
            index = editor.findData(text)
            if index < 0:  # a hand-edited value that is not a choice: shown, and refused
                editor.addItem(text, text)
                index = editor.count() - 1
            editor.setCurrentIndex(index)
        else:
            editor.setText(text)

    def load(self, value: Any) -> None:
        """Show the value the TOML holds (None: absent, the default applies)."""
        text = self.field.format(value)
        problem = None
        try:
            self.set_text(text)
        except InvalidSetting as exc:  # a checkbox cannot show a hand-edited "maybe"
            self.set_text("")
            problem = f"The file holds '{text}', which is not used: {exc}"
        self._loaded = self.text()
        self._changed()
        if problem:
            self.error.setText(problem)

    # ---- state ------------------------------------------------------------------------------

    @property
    def dirty(self) -> bool:
        return self.text() != self._loaded

    def reason(self) -> str | None:
        """Why the shown value is refused, or None when it is valid."""
        try:
            self.field.parse(self.text())
        except InvalidSetting as exc:
            return str(exc)
        return None

    def value(self) -> Any:
        """The parsed value (None: remove the key). Raises InvalidSetting."""
        return self.field.parse(self.text())

    def mark_saved(self) -> None:
        self._loaded = self.text()

    def _changed(self) -> None:
        reason = self.reason()
        self.error.setText(reason or "")
        self.edited.emit()
