"""Create, import and export a wallet.

Create shows the recovery phrase once, then asks for three of its words back before the
wallet is saved: a phrase that was not written down is caught here, not after a loss.
"""

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.wallet.flows import KeystoreFileError, export_keystore_file, read_keystore_file
from studio.wallet.session import (
    ChainError,
    WalletSession,
    confirm_words,
    confirmation_positions,
    new_mnemonic,
)
from widgets.dialogs import open_path, save_path

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


def password_pair(form: QFormLayout) -> tuple[QLineEdit, QLineEdit]:
    first, second = QLineEdit(), QLineEdit()
    for field, label in ((first, "Password"), (second, "Repeat password")):
        field.setEchoMode(QLineEdit.EchoMode.Password)
        form.addRow(f"{label}:", field)
    return first, second


def password_problem(first: QLineEdit, second: QLineEdit) -> str | None:
    if len(first.text()) < 8:
        return "Choose a password of at least 8 characters."
    if first.text() != second.text():
        return "The two passwords differ."
    return None


class _WalletDialog(QDialog):
    def __init__(
        self, session: WalletSession, parent: QWidget | None, runner: Runner | None
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._run: Runner = runner or asyncio.ensure_future
        self.error = QLabel("")
        self.error.setObjectName("errorLabel")
        self.error.setWordWrap(True)
        self.busy: Any = None
        self.created_address: str | None = None

    def _submit(self, coroutine: Coroutine[Any, Any, str], button: QPushButton) -> None:
        button.setEnabled(False)
        self.error.setText("Encrypting and saving to the system keyring…")

        async def run() -> None:
            try:
                self.created_address = await coroutine
            except ChainError as exc:
                self.error.setText(str(exc))
                button.setEnabled(True)
                return
            self.accept()

        self.busy = self._run(run())


class CreateWalletDialog(_WalletDialog):
    def __init__(
        self, session: WalletSession, parent: QWidget | None = None, runner: Runner | None = None
    ) -> None:
        super().__init__(session, parent, runner)
        self.setWindowTitle("Create a wallet")
        self.phrase = new_mnemonic()
        self.positions = confirmation_positions(self.phrase)
        self.pages = QStackedWidget()

        show = QWidget()
        show_layout = QVBoxLayout(show)
        warning = QLabel(
            "This is your recovery phrase. Write the 12 words down, in order, on paper. "
            "It is shown only now; anyone with it controls the wallet, and without it a lost "
            "password cannot be recovered."
        )
        warning.setWordWrap(True)
        grid = QGridLayout()
        self.word_labels = []
        for i, word in enumerate(self.phrase.split()):
            label = QLabel(f"{i + 1}. {word}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
            grid.addWidget(label, i // 3, i % 3)
            self.word_labels.append(label)
        self.written_button = QPushButton("I have written it down")
        self.written_button.clicked.connect(self.show_confirmation)
        show_layout.addWidget(warning)
        show_layout.addLayout(grid)
        show_layout.addWidget(self.written_button)

        confirm = QWidget()
        form = QFormLayout(confirm)
        form.addRow(QLabel("Type these words of your phrase to show it was written down:"))
        self.word_inputs: dict[int, QLineEdit] = {}
        for position in self.positions:
            field = QLineEdit()
            self.word_inputs[position] = field
            form.addRow(f"Word {position}:", field)
        self.password, self.password_again = password_pair(form)
        self.create_button = QPushButton("Create wallet")
        self.create_button.clicked.connect(self.try_create)
        form.addRow(self.create_button)

        self.pages.addWidget(show)
        self.pages.addWidget(confirm)
        cancel = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        cancel.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        layout.addWidget(self.error)
        layout.addWidget(cancel)

    def show_confirmation(self) -> None:
        for label in self.word_labels:  # shown once: gone from the screen from now on
            label.clear()
        self.pages.setCurrentIndex(1)

    def try_create(self) -> None:
        answers = {pos: field.text() for pos, field in self.word_inputs.items()}
        if not confirm_words(self.phrase, answers):
            self.error.setText(
                "Those words do not match your recovery phrase. Check what you wrote."
            )
            return
        problem = password_problem(self.password, self.password_again)
        if problem:
            self.error.setText(problem)
            return
        phrase, self.phrase = self.phrase, ""
        self._submit(
            self.session.create_from_mnemonic(phrase, self.password.text()), self.create_button
        )


class ImportWalletDialog(_WalletDialog):
    def __init__(
        self, session: WalletSession, parent: QWidget | None = None, runner: Runner | None = None
    ) -> None:
        super().__init__(session, parent, runner)
        self.setWindowTitle("Import a wallet")
        self.tabs = QTabWidget()
        # Three short tabs: the dialog grows to show them all, never a tab behind arrows.
        self.tabs.tabBar().setUsesScrollButtons(False)
        self.tabs.tabBar().setElideMode(Qt.TextElideMode.ElideNone)

        self.phrase = QPlainTextEdit()
        self.phrase.setPlaceholderText("12 or 24 words, separated by spaces")
        self.private_key = QLineEdit()
        self.private_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.private_key.setPlaceholderText("0x… (64 hexadecimal characters)")
        self.keystore_text = QPlainTextEdit()
        self.keystore_text.setPlaceholderText("Paste keystore JSON, or choose a file")
        browse = QPushButton("Choose file…")
        browse.clicked.connect(self.choose_keystore_file)
        for title, widgets in (
            ("Recovery phrase", [self.phrase]),
            ("Private key", [self.private_key]),
            ("Keystore file", [self.keystore_text, browse]),
        ):
            page = QWidget()
            page_layout = QVBoxLayout(page)
            for widget in widgets:
                page_layout.addWidget(widget)
            self.tabs.addTab(page, title)

        form = QFormLayout()
        self.password, self.password_again = password_pair(form)
        self.hint = QLabel("For a keystore file, enter the password it was saved with.")
        self.hint.setWordWrap(True)
        self.import_button = QPushButton("Import")
        self.import_button.clicked.connect(self.try_import)
        cancel = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        cancel.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addLayout(form)
        for widget in (self.hint, self.error, self.import_button, cancel):
            layout.addWidget(widget)

    def choose_keystore_file(self) -> None:
        async def choose() -> None:
            path = await open_path(self, "Keystore file", "", "Keystore (*.json *)")
            if path is not None:
                self.load_keystore_file(path)

        self.busy = self._run(choose())

    def load_keystore_file(self, path: Path) -> None:
        try:
            self.keystore_text.setPlainText(read_keystore_file(path))
        except KeystoreFileError as exc:
            self.error.setText(str(exc))

    def try_import(self) -> None:
        tab = self.tabs.currentIndex()
        if tab == 2:  # the keystore's own password: no repeat needed
            if not self.password.text():
                self.error.setText("Enter the keystore's password.")
                return
            coroutine = self.session.import_keystore(
                self.keystore_text.toPlainText(), self.password.text()
            )
        else:
            problem = password_problem(self.password, self.password_again)
            if problem:
                self.error.setText(problem)
                return
            if tab == 0:
                coroutine = self.session.create_from_mnemonic(
                    self.phrase.toPlainText(), self.password.text()
                )
            else:
                coroutine = self.session.import_private_key(
                    self.private_key.text(), self.password.text()
                )
        self._submit(coroutine, self.import_button)


class ExportKeystoreDialog(QDialog):
    """Writes the (encrypted) keystore to a file once the password proves it can open it."""

    def __init__(
        self,
        session: WalletSession,
        parent: QWidget | None = None,
        runner: Runner | None = None,
        target: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.session = session
        self._run: Runner = runner or asyncio.ensure_future
        self.target = target
        self.setWindowTitle("Export keystore")
        intro = QLabel(
            "The keystore file is encrypted with your wallet password. Keep it and the "
            "password in different places."
        )
        intro.setWordWrap(True)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Wallet password")
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.try_export)
        cancel = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        cancel.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.password, self.error, self.export_button, cancel):
            layout.addWidget(widget)
        self.busy: Any = None

    def try_export(self) -> None:
        """Ask where (unless a target was given), then write the file through the studio."""
        self.export_button.setEnabled(False)

        async def run() -> None:
            target = self.target or await save_path(
                self,
                "Save keystore",
                f"keystore-{self.session.address}.json",
                "Keystore (*.json)",
            )
            if target is None:
                self.export_button.setEnabled(True)
                return
            try:
                await export_keystore_file(self.session, self.password.text(), target)
            except (ChainError, KeystoreFileError) as exc:
                self.error.setText(str(exc))
                self.export_button.setEnabled(True)
                return
            self.accept()

        self.busy = self._run(run())
