"""Mint as NFT: how many editions, at what price, with what royalty on resales.

The dialog only asks; studio.market.minting.parse_mint_request checks what was typed (the
dialog stays open with the reason while it is wrong) and studio.market.wiring mints.
"""

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.market.minting import MAX_EDITIONS, MintInputError, MintRequest, parse_mint_request


class MintDialog(QDialog):
    def __init__(
        self,
        title: str,
        symbol: str,
        royalty_bps: int = 1000,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Mint as NFT")
        self.symbol = symbol
        self.request: MintRequest | None = None
        heading = QLabel(f"Sell editions of “{title}” to your fans.")
        heading.setWordWrap(True)
        self.editions = QSpinBox()
        self.editions.setObjectName("mint_editions")
        self.editions.setRange(1, MAX_EDITIONS)
        self.editions.setValue(1)
        self.price = QLineEdit()
        self.price.setObjectName("mint_price")
        self.price.setPlaceholderText("0.5")
        self.royalty = QLineEdit(f"{royalty_bps / 100:g}")
        self.royalty.setObjectName("mint_royalty")
        self.royalty.setToolTip("What you get of every later resale, between 0 and 50 %.")
        form = QFormLayout()
        form.addRow("Editions:", self.editions)
        form.addRow(f"Price of each ({symbol}):", self.price)
        form.addRow("Royalty on resales (%):", self.royalty)
        note = QLabel(
            "Each edition is minted to your wallet, then put on sale in the marketplace. "
            "You confirm every transaction."
        )
        note.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("mint_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #f85149;")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.mint_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.mint_button.setText("Mint and sell")
        self.buttons.accepted.connect(self._check_and_accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)

    def _check_and_accept(self) -> None:
        try:
            self.request = parse_mint_request(
                self.editions.value(), self.price.text(), self.royalty.text(), self.symbol
            )
        except MintInputError as exc:
            self.error.setText(str(exc))
            self.error.show()
            return
        self.accept()
