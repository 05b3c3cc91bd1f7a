"""What is about to be signed, in words: network, contract and function, value, max fee."""

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from studio.wallet.session import PreparedTx, WalletSession


class TxConfirmDialog(QDialog):
    def __init__(
        self, session: WalletSession, prepared: PreparedTx, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Confirm transaction")
        self.prepared = prepared
        described = session.describe(prepared)
        network = session.network
        fees = prepared.fees
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        rows = [
            ("Action", described.summary),
            ("Network", f"{network.name} (chain {prepared.chain_id})"),
            ("From", prepared.sender),
            ("Contract", f"{described.contract} — {prepared.to}"),
            ("Function", described.function),
            ("Value", session.format(prepared.value)),
            ("Max network fee", session.format(prepared.max_fee_wei)),
            ("Max total", session.format(prepared.max_total_wei)),
            ("Gas limit", f"{prepared.gas:,}"),
            (
                "Fee per gas",
                f"up to {fees.max_fee_per_gas / 1e9:.2f} gwei "
                + (
                    f"(tip {fees.max_priority_fee_per_gas / 1e9:.2f} gwei)"
                    if fees.eip1559
                    else "(legacy)"
                ),
            ),
        ]
        for name, text in rows:
            label = QLabel(text)
            label.setWordWrap(True)
            label.setObjectName(f"confirm_{name.lower().replace(' ', '_')}")
            self.fields[name] = label
            form.addRow(f"{name}:", label)
        note = QLabel(
            "You pay at most the max network fee; usually less. Check the action and the "
            "network before you sign."
        )
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.sign_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.sign_button.setText("Sign and send")
        if not session.unlocked:
            self.sign_button.setText("Unlock, sign and send")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
