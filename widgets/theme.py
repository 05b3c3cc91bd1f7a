"""The dark theme: Fusion style, a dark palette and a small stylesheet."""

from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication

from resources import resource_path


def app_icon() -> QIcon:
    return QIcon(str(resource_path("icons", "harmonie.svg")))


def apply_dark_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#18181e",
        QPalette.ColorRole.WindowText: "#e8e8f0",
        QPalette.ColorRole.Base: "#121217",
        QPalette.ColorRole.AlternateBase: "#1d1d24",
        QPalette.ColorRole.ToolTipBase: "#2b2b35",
        QPalette.ColorRole.ToolTipText: "#f0f0f5",
        QPalette.ColorRole.Text: "#e8e8f0",
        QPalette.ColorRole.Button: "#24242c",
        QPalette.ColorRole.ButtonText: "#e8e8f0",
        QPalette.ColorRole.BrightText: "#ff5252",
        QPalette.ColorRole.Link: "#ff9e80",
        QPalette.ColorRole.Highlight: "#ff7a59",
        QPalette.ColorRole.HighlightedText: "#101014",
        QPalette.ColorRole.PlaceholderText: "#7d7d8a",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (
        QPalette.ColorRole.Text,
        QPalette.ColorRole.ButtonText,
        QPalette.ColorRole.WindowText,
    ):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6e6e7a"))
    app.setPalette(palette)
    app.setStyleSheet(resource_path("style.qss").read_text(encoding="utf-8"))
    app.setWindowIcon(app_icon())
