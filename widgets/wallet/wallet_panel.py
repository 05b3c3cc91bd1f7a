"""The Wallet panel: account, address (copy, QR), balance, network, lock state, history.

A plain QWidget over a studio.wallet.session.WalletSession; the main window docks it.
`confirm_and_send(prepared)` is the one way the rest of the UI signs: confirmation dialog,
unlock if needed, send.
"""

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import qrcode
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.wallet.session import (
    NETWORKS,
    START_COIN_WEI,
    ChainError,
    Network,
    PreparedTx,
    SentTx,
    WalletSession,
    short_address,
)
from widgets.buttons import enable
from widgets.dialogs import ask, show
from widgets.wallet.tx_confirm_dialog import TxConfirmDialog
from widgets.wallet.unlock_dialog import UnlockDialog
from widgets.wallet.wallet_dialogs import (
    CreateWalletDialog,
    ExportKeystoreDialog,
    ImportWalletDialog,
)

Runner = Callable[[Coroutine[Any, Any, Any]], Any]
TICK_MS = 1000
BALANCE_EVERY_TICKS = 5
STATUS_TEXT = {
    "pending": "… pending",
    "mined": "✔ confirmed",
    "failed": "✖ failed",
    "replaced": "↷ replaced",
    "rejected": "✖ refused",
    "dropped": "✖ dropped",
    "previous chain": "⌀ on a previous local chain",
}

BALANCE_HELP = (
    "Balance: coin in your wallet; it pays the network fees. "
    "Withdrawable (Revenue page): tips waiting for you in the tipping contract; "
    "Withdraw moves them into your wallet."
)


def qr_pixmap(text: str, size: int = 132) -> QPixmap:
    """A QR code drawn from qrcode's module matrix (no imaging library needed)."""
    qr = qrcode.QRCode(border=2, error_correction=qrcode.constants.ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    matrix = qr.get_matrix()
    cell = max(1, size // len(matrix))
    pixmap = QPixmap(cell * len(matrix), cell * len(matrix))
    pixmap.fill(QColor("white"))
    painter = QPainter(pixmap)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                painter.fillRect(x * cell, y * cell, cell, cell, QColor("black"))
    painter.end()
    return pixmap


class _Relay(QObject):
    """Studio signals may fire from worker threads: re-emit on the GUI thread."""

    changed = Signal()


class WalletPanel(QWidget):
    def __init__(
        self,
        session: WalletSession,
        parent: QWidget | None = None,
        runner: Runner | None = None,
        networks: list[Network] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("walletPanel")
        self.session = session
        self._run: Runner = runner or asyncio.ensure_future
        self._ticks = 0
        self.tasks: list[Any] = []
        self._qr_address: str | None = None  # the address the QR code shows
        self._history_shown: list[tuple[object, ...]] = []  # see _history_row
        self._build(networks or self._default_networks())
        self._relay = _Relay(self)
        self._relay.changed.connect(self.render)
        session.changed.connect(self._relay.changed.emit)
        session.tx_updated.connect(lambda _outcome: self._relay.changed.emit())
        self._timer = QTimer(self)
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.render()

    def _default_networks(self) -> list[Network]:
        known = [n for n in NETWORKS.values() if n.key != self.session.network.key]
        return [self.session.network, *known]

    # ---- layout -------------------------------------------------------------------------

    def _build(self, networks: list[Network]) -> None:
        self.account_picker = QComboBox()
        self.account_picker.currentIndexChanged.connect(self._account_chosen)
        self.create_button = QPushButton("Create…")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.create_button.clicked.connect(lambda: self._open(CreateWalletDialog))
        self.import_button.clicked.connect(lambda: self._open(ImportWalletDialog))
        self.export_button.clicked.connect(lambda: self._open(ExportKeystoreDialog))

        self.address = QLabel("No wallet yet: create or import one.")
        self.address.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.address.setStyleSheet("font-family: monospace;")
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(self.copy_address)
        self.qr = QLabel()
        self.qr.setFixedSize(140, 140)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.balance = QLabel("Balance: –")
        self.balance.setObjectName("walletBalance")
        self.balance_help = QLabel(BALANCE_HELP)
        self.balance_help.setObjectName("walletBalanceHelp")
        self.balance_help.setWordWrap(True)
        self.balance_help.setStyleSheet("color: #8b949e;")
        self.coin_button = QPushButton("Get test coin")
        self.coin_button.setObjectName("getTestCoin")
        self.coin_button.clicked.connect(self.get_test_coin)

        self.network_picker = QComboBox()
        for network in networks:
            self.network_picker.addItem(network.name, network)
        self.network_picker.activated.connect(self._network_chosen)
        self.network_status = QLabel("")
        self.network_status.setWordWrap(True)

        self.lock_state = QLabel("")
        self.unlock_button = QPushButton("Unlock…")
        self.unlock_button.clicked.connect(self.open_unlock)
        self.lock_button = QPushButton("Lock")
        self.lock_button.clicked.connect(self.session.lock)
        self.message = QLabel("")
        self.message.setObjectName("walletMessage")
        self.message.setWordWrap(True)

        self.history = QTableWidget(0, 4)
        self.history.setHorizontalHeaderLabels(["Status", "What", "Transaction", ""])
        self.history.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.account_picker, 1)
        for button in (self.create_button, self.import_button, self.export_button):
            top.addWidget(button)
        layout.addLayout(top)
        middle = QHBoxLayout()
        details = QVBoxLayout()
        address_row = QHBoxLayout()
        address_row.addWidget(self.address, 1)
        address_row.addWidget(self.copy_button)
        details.addLayout(address_row)
        balance_row = QHBoxLayout()
        balance_row.addWidget(self.balance, 1)
        balance_row.addWidget(self.coin_button)
        details.addLayout(balance_row)
        network_row = QHBoxLayout()
        network_row.addWidget(QLabel("Network:"))
        network_row.addWidget(self.network_picker, 1)
        details.addLayout(network_row)
        details.addWidget(self.network_status)
        lock_row = QHBoxLayout()
        lock_row.addWidget(self.lock_state, 1)
        lock_row.addWidget(self.unlock_button)
        lock_row.addWidget(self.lock_button)
        details.addLayout(lock_row)
        middle.addLayout(details, 1)
        middle.addWidget(self.qr)
        layout.addLayout(middle)
        layout.addWidget(self.balance_help)  # full width: a wrapped label beside the QR was cut
        layout.addWidget(self.message)
        layout.addWidget(QLabel("Recent transactions"))
        layout.addWidget(self.history, 1)

    # ---- rendering ----------------------------------------------------------------------

    def render(self) -> None:
        session = self.session
        address = session.address
        no_wallet = "Create or import a wallet first."
        enable(self.copy_button, address is not None, "Copy the address.", no_wallet)
        enable(self.export_button, address is not None, "Save the encrypted keystore.", no_wallet)
        if address:
            self.address.setText(address)
            if address != self._qr_address:  # drawing a QR code costs: once per address
                self.qr.setPixmap(qr_pixmap(address))
                self._qr_address = address
            if self.account_picker.findData(address) < 0:
                self.account_picker.addItem(short_address(address), address)
            self.account_picker.blockSignals(True)
            self.account_picker.setCurrentIndex(self.account_picker.findData(address))
            self.account_picker.blockSignals(False)
        self._render_coin_button()
        unlocked = session.unlocked
        self._render_lock_state()
        self.unlock_button.setVisible(address is not None and not unlocked)
        self.lock_button.setVisible(unlocked)
        index = self.network_picker.findText(session.network.name)
        if index >= 0:
            self.network_picker.setCurrentIndex(index)
        self._render_history()

    def _render_lock_state(self) -> None:
        session = self.session
        if session.address is None:
            self.lock_state.setText("")
        elif session.unlocked:
            remaining = int(session.unlock_remaining_s)
            self.lock_state.setText(f"Unlocked · locks in {remaining // 60}:{remaining % 60:02d}")
        else:
            self.lock_state.setText("Locked")

    def _render_coin_button(self) -> None:
        """On the local chain the studio's faucet; on a testnet its faucet page; else none."""
        session = self.session
        local, page = session.test_coin_available, session.network.faucet_url
        self.coin_button.setVisible(local or page is not None)
        enable(
            self.coin_button,
            session.address is not None,
            f"Have the local faucet send {session.format(START_COIN_WEI)} to this wallet."
            if local
            else "Copy your address and open the network's test coin page in your browser.",
            "Create or import a wallet first.",
        )

    def _render_history(self) -> None:
        unlocked = self.session.unlocked
        records = self.session.recent()
        shown = [self._history_row(record, unlocked) for record in records]
        self.history.setRowCount(len(records))
        for row, record in enumerate(records):
            if row < len(self._history_shown) and self._history_shown[row] == shown[row]:
                continue  # the row's widgets already say this
            self.history.setItem(
                row, 0, QTableWidgetItem(STATUS_TEXT.get(record.status, record.status))
            )
            what = QTableWidgetItem(record.description or record.kind)
            what.setToolTip(record.error or record.description)
            self.history.setItem(row, 1, what)
            url = self.session.explorer_tx_url(record.hash)
            link = QLabel(
                f'<a href="{url}">{short_address(record.hash)}</a>'
                if url
                else short_address(record.hash)
            )
            link.setOpenExternalLinks(True)
            link.setToolTip(record.hash)
            self.history.setCellWidget(row, 2, link)
            if record.status == "pending" and record.kind == "send":
                actions = QWidget()
                box = QHBoxLayout(actions)
                box.setContentsMargins(0, 0, 0, 0)
                speed = QPushButton("Speed up")
                cancel = QPushButton("Cancel")
                locked = "Unlock the wallet to replace this transaction."
                enable(speed, unlocked, "Send it again with a higher fee.", locked)
                enable(cancel, unlocked, "Replace it with an empty transaction.", locked)
                speed.clicked.connect(
                    lambda _=False, h=record.hash: self._act(self.session.speed_up(h))
                )
                cancel.clicked.connect(
                    lambda _=False, h=record.hash: self._act(self.session.cancel(h))
                )
                box.addWidget(speed)
                box.addWidget(cancel)
                self.history.setCellWidget(row, 3, actions)
            else:
                self.history.removeCellWidget(row, 3)
        self._history_shown = shown

    def _history_row(self, record: Any, unlocked: bool) -> tuple[object, ...]:
        """What a history row shows of `record`: equal tuples, the same row."""
        replaceable = record.status == "pending" and record.kind == "send"
        return (
            record.hash,
            record.status,
            record.kind,
            record.description,
            record.error,
            self.session.explorer_tx_url(record.hash),
            replaceable and unlocked,
        )

    def _tick(self) -> None:
        self.session.check_expiry()  # on expiry the session's `changed` renders it all
        if self.session.unlocked:
            self._render_lock_state()  # the countdown: all that moves with time
        self._ticks += 1
        if self._ticks % BALANCE_EVERY_TICKS == 0:
            self.refresh_balance()

    # ---- actions ------------------------------------------------------------------------

    def _act(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        async def run() -> Any:
            try:
                return await coroutine
            except ChainError as exc:
                self.message.setText(str(exc))
                return None
            finally:
                self.render()

        task = self._run(run())
        self.tasks.append(task)
        return task

    def refresh(self) -> Any:
        """Reload the account list and the balance."""

        async def load() -> None:
            accounts = await self.session.accounts()
            self.account_picker.blockSignals(True)
            self.account_picker.clear()
            for address in accounts:
                self.account_picker.addItem(short_address(address), address)
            self.account_picker.blockSignals(False)
            if accounts and self.session.address is None:
                self.session.select(accounts[0])
            await self._load_balance()

        return self._act(load())

    def refresh_balance(self) -> Any:
        if self.session.txs is None or self.session.address is None:
            return None
        return self._act(self._load_balance())

    async def _load_balance(self) -> None:
        if self.session.txs is None or self.session.address is None:
            self.balance.setText("Balance: –")
            return
        wei = await self.session.balance()
        self.balance.setText(f"Balance: {self.session.format(wei)}")

    def get_test_coin(self) -> Any:
        """Local: the faucet sends coin and the panel says how much arrived. Testnet: the
        address goes to the clipboard and the faucet page opens in the browser."""
        session = self.session
        if session.address is None:
            return None
        if not session.test_coin_available:
            page = session.network.faucet_url
            if page is None:
                return None
            QGuiApplication.clipboard().setText(session.address)
            QDesktopServices.openUrl(QUrl(page))
            self.message.setText(
                f"Your address is copied. The {session.network.name} faucet opens in your "
                "browser: paste the address there, and the coin shows here in a minute."
            )
            return None

        async def fetch() -> None:
            self.coin_button.setEnabled(False)
            self.message.setText("Asking the local faucet for test coin…")
            before = await session.balance()
            await session.get_test_coin()
            after = await session.balance()
            self.balance.setText(f"Balance: {session.format(after)}")
            self.message.setText(f"{session.format(after - before)} arrived from the local faucet.")

        return self._act(fetch())

    def copy_address(self) -> None:
        if self.session.address:
            QGuiApplication.clipboard().setText(self.session.address)
            self.message.setText("Address copied.")

    def _account_chosen(self, index: int) -> None:
        address = self.account_picker.itemData(index)
        if address:
            self.session.select(address)
            self.refresh_balance()

    def _network_chosen(self, index: int) -> None:
        network: Network = self.network_picker.itemData(index)
        self.network_status.setText(f"Connecting to {network.name}…")

        async def switch() -> None:
            try:
                connected = await self.session.connect(network)
            except ChainError as exc:
                self.network_status.setText(str(exc))
                return
            self.network_status.setText(
                f"Connected to {connected.name} (chain {connected.chain_id})."
            )
            await self._load_balance()

        self._act(switch())

    def _open(self, dialog_class: type[QDialog]) -> QDialog:
        dialog = dialog_class(self.session, self, self._run)  # type: ignore[call-arg]
        dialog.finished.connect(lambda _result: self.refresh())
        show(dialog)
        return dialog

    def open_unlock(self) -> UnlockDialog:
        dialog = UnlockDialog(self.session, self, self._run)
        show(dialog)
        return dialog

    async def confirm_and_send(self, prepared: PreparedTx) -> SentTx | None:
        """Show what is signed; unlock if needed; send. None if the person declines."""
        self.confirm_dialog = TxConfirmDialog(self.session, prepared, self)
        if not await ask(self.confirm_dialog):
            return None
        if not self.session.unlocked:
            self.unlock_dialog = UnlockDialog(self.session, self, self._run)
            if not await ask(self.unlock_dialog):
                return None
        try:
            sent = await self.session.send(prepared)
        except ChainError as exc:
            self.message.setText(str(exc))
            return None
        self.message.setText("Sent. Waiting for the network to confirm…")
        self.render()
        return sent
