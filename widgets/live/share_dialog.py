"""Where fans watch the show: the fan-page link, its QR code, and Copy."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from widgets.wallet.wallet_panel import qr_pixmap

QR_PX = 180


class ShareDialog(QDialog):
    def __init__(self, link: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Share your show")
        intro = QLabel("Fans watch and chat at this link. Send it, or let them scan the code.")
        intro.setWordWrap(True)
        self.link = QLineEdit()
        self.link.setObjectName("shareLink")
        self.link.setReadOnly(True)
        self.link.setMinimumWidth(380)  # the whole link, readable before it is copied
        self.copy_button = QPushButton("Copy")
        self.copy_button.setObjectName("shareCopy")
        self.copy_button.clicked.connect(self.copy)
        self.copied = QLabel("")
        self.qr = QLabel()
        self.qr.setObjectName("shareQr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.link, 1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(self.copied)
        layout.addWidget(self.qr)
        layout.addWidget(buttons)
        self.set_link(link)

    def set_link(self, link: str) -> None:
        """Show `link` (the show was announced since: its own stream's link)."""
        if link == self.link.text():
            return
        self.link.setText(link)
        self.link.setCursorPosition(0)
        self.qr.setPixmap(qr_pixmap(link, QR_PX))
        self.copied.setText("")

    def copy(self) -> None:
        QGuiApplication.clipboard().setText(self.link.text())
        self.copied.setText("Link copied.")
