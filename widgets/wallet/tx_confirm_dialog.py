"""What is about to be signed, in the artist's words: what it does (the tracks by title and
artwork), on which network, and what it costs at most, in coin and in the artist's currency.

The contract, function, gas and fee caps are there for whoever wants them, under "Advanced"
(collapsed). The EIP-1559 tip to the block producer is called the priority fee here: a "tip"
in this app is what a fan gives.
"""

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.tips.alerts import PriceSource
from studio.tips.format import format_fiat
from studio.wallet.session import PreparedTx, WalletSession, short_address

THUMBNAIL_PX = 48
MAX_LISTED = 8  # titles shown by name; the rest are counted


def thumbnail(artwork: bytes | None, size: int = THUMBNAIL_PX) -> QPixmap:
    """The track's artwork scaled to a square, or a plain note when it has none."""
    pixmap = QPixmap()
    if artwork and pixmap.loadFromData(artwork):
        return pixmap.scaled(
            size,
            size,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor("#30363d"))
    painter = QPainter(pixmap)
    painter.setPen(QColor("#8b949e"))
    font = painter.font()
    font.setPixelSize(size // 2)
    painter.setFont(font)
    painter.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, "♪")
    painter.end()
    return pixmap


def tracks_headline(function: str, count: int) -> str:
    """What a transaction carrying `count` tracks does, in words."""
    if function == "mint_edition":
        return "Mint an NFT edition of this track" if count == 1 else f"Mint {count} NFT editions"
    return f"Register {count} track{'' if count == 1 else 's'}"


class TxConfirmDialog(QDialog):
    def __init__(
        self,
        session: WalletSession,
        prepared: PreparedTx,
        parent: QWidget | None = None,
        tracks: Sequence[Any] = (),  # studio.publishing.publisher.TrackToRegister
        price: PriceSource | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Confirm")
        self.prepared = prepared
        self._session = session
        self._price = price.price() if price is not None else None
        described = session.describe(prepared)
        network = session.network
        fees = prepared.fees
        self.fields: dict[str, QLabel] = {}

        headline = tracks_headline(described.function, len(tracks)) if tracks else described.summary
        action = self._label("Action", headline)
        action.setObjectName("confirm_headline")
        action.setStyleSheet("font-size: 15px; font-weight: 600;")

        self.track_rows: list[QLabel] = []
        listing = QVBoxLayout()
        for track in list(tracks)[:MAX_LISTED]:
            row = QHBoxLayout()
            art = QLabel()
            art.setObjectName("confirm_artwork")
            art.setPixmap(thumbnail(track.artwork))
            art.setFixedSize(THUMBNAIL_PX, THUMBNAIL_PX)
            title = QLabel(track.title)
            title.setObjectName("confirm_track")
            title.setWordWrap(True)
            self.track_rows.append(title)
            row.addWidget(art)
            row.addWidget(title, 1)
            listing.addLayout(row)
        if len(tracks) > MAX_LISTED:
            listing.addWidget(QLabel(f"and {len(tracks) - MAX_LISTED} more"))

        form = QFormLayout()
        rows = [("Network", network.name), ("From", short_address(prepared.sender))]
        if prepared.value:
            rows.append(("Amount", self._money(prepared.value)))
        rows.append(("Max network fee", self._money(prepared.max_fee_wei)))
        if prepared.value:
            rows.append(("Max total", self._money(prepared.max_total_wei)))
        for name, text in rows:
            form.addRow(f"{name}:", self._label(name, text))

        if fees.eip1559:
            per_gas = [
                ("Max fee per gas", _gwei(fees.max_fee_per_gas)),
                ("Max priority fee per gas", _gwei(fees.max_priority_fee_per_gas)),
            ]
        else:
            per_gas = [("Gas price", _gwei(fees.max_fee_per_gas) + " (legacy)")]
        advanced_rows = [
            ("Contract", f"{described.contract} — {prepared.to}"),
            ("Function", described.function),
            ("Details", described.summary),
            ("Chain", f"{network.name} (chain {prepared.chain_id})"),
            ("From address", prepared.sender),
            ("Gas limit", f"{prepared.gas:,}"),
            *per_gas,
        ]
        self.advanced = QWidget()
        self.advanced.setObjectName("confirm_advanced")
        advanced_form = QFormLayout(self.advanced)
        advanced_form.setContentsMargins(12, 0, 0, 0)
        for name, text in advanced_rows:
            label = self._label(name, text)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            advanced_form.addRow(f"{name}:", label)
        self.advanced.setVisible(False)
        self.advanced_toggle = QToolButton()
        self.advanced_toggle.setObjectName("confirm_advanced_toggle")
        self.advanced_toggle.setText("Advanced")
        self.advanced_toggle.setCheckable(True)
        self.advanced_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced_toggle.setAutoRaise(True)
        self.advanced_toggle.toggled.connect(self._show_advanced)

        note = QLabel(
            "You pay at most the network fee shown; usually less. Check what it does and the "
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
        layout.addWidget(action)
        layout.addLayout(listing)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.advanced_toggle)
        layout.addWidget(self.advanced)
        layout.addWidget(self.buttons)

    def _label(self, name: str, text: str) -> QLabel:
        label = QLabel(text)
        label.setWordWrap(True)
        label.setObjectName(f"confirm_{name.lower().replace(' ', '_')}")
        self.fields[name] = label
        return label

    def _money(self, wei: int) -> str:
        coin = self._session.format(wei)
        if self._price is None:
            return coin
        per_coin, currency = self._price
        return f"{coin} ({format_fiat(wei, per_coin, currency)})"

    def _show_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        arrow = Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow
        self.advanced_toggle.setArrowType(arrow)
        self.adjustSize()


def _gwei(wei: int) -> str:
    return f"{wei / 1e9:.2f} gwei"
