"""Unlock the wallet: the password, a clear message when it is wrong, nothing else."""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from studio.wallet.session import ChainError, WalletSession, short_address

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


class UnlockDialog(QDialog):
    def __init__(
        self, session: WalletSession, parent: QWidget | None = None, runner: Runner | None = None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._run: Runner = runner or asyncio.ensure_future
        self.setWindowTitle("Unlock wallet")
        minutes = max(1, round(session.unlock_ttl_s / 60))
        address = short_address(session.address) if session.address else "no wallet"
        intro = QLabel(
            f"Enter the password of wallet {address}. It stays unlocked for {minutes} "
            "minutes, then locks itself."
        )
        intro.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Wallet password")
        self.error = QLabel("")
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.unlock_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.unlock_button.setText("Unlock")
        self.buttons.accepted.connect(self.try_unlock)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.password, self.error, self.buttons):
            layout.addWidget(widget)
        self.busy: Any = None

    def try_unlock(self) -> None:
        password = self.password.text()
        if not password:
            self.error.setText("Type your password.")
            return
        self.unlock_button.setEnabled(False)
        self.error.setText("Unlocking…")
        self.busy = self._run(self._unlock(password))

    async def _unlock(self, password: str) -> None:
        try:
            await self.session.unlock(password)
        except ChainError as exc:
            self.error.setText(str(exc))
            self.password.selectAll()
            self.password.setFocus()
            self.unlock_button.setEnabled(True)
            return
        self.password.clear()
        self.accept()
