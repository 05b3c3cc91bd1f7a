"""The supporter tiers on the Settings page "Sales and subscriptions": up to 5 rows of a name
and a price per 30 days, read from the Subscriptions contract and written back to it (the
confirmation dialog asks first). The editor only asks and shows: `load` and `save` are the
studio's (studio.market.tiers.read_tiers, studio.market.wiring.save_tiers).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import (
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.errors import StudioError
from studio.market.tiers import MAX_TIERS, SAVED, Tier, TierInputError, TierOutcome, parse_tiers
from studio.tips.format import format_amount

log = logging.getLogger(__name__)


class TiersEditor(QGroupBox):
    def __init__(
        self,
        symbol: str,
        load: Callable[[], Awaitable[list[Tier]]],
        save: Callable[[list[Tier]], Awaitable[TierOutcome]],
        blocked: Callable[[], str | None] = lambda: None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__("Supporter tiers", parent)
        self.setObjectName("tiers_editor")
        self.symbol = symbol
        self._load, self._save, self._blocked = load, save, blocked
        self.task: asyncio.Future[None] | None = None
        self.names: list[QLineEdit] = []
        self.prices: list[QLineEdit] = []
        grid = QGridLayout()
        grid.addWidget(QLabel("Name"), 0, 1)
        grid.addWidget(QLabel(f"Price per 30 days ({symbol})"), 0, 2)
        for row in range(MAX_TIERS):
            name, price = QLineEdit(), QLineEdit()
            name.setObjectName(f"tier_name_{row}")
            price.setObjectName(f"tier_price_{row}")
            name.setMaxLength(64)
            name.setPlaceholderText("Supporter" if row == 0 else "")
            price.setPlaceholderText("0.05" if row == 0 else "")
            grid.addWidget(QLabel(f"{row + 1}."), row + 1, 0)
            grid.addWidget(name, row + 1, 1)
            grid.addWidget(price, row + 1, 2)
            self.names.append(name)
            self.prices.append(price)
        self.save_button = QPushButton("Save tiers…")
        self.save_button.setObjectName("tiers_save")
        self.save_button.setToolTip("Write these tiers to the chain (you confirm it first).")
        self.save_button.clicked.connect(self.save)
        self.status = QLabel()
        self.status.setObjectName("tiers_status")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.save_button)
        note = QLabel(
            "Fans subscribe for one or more periods of 30 days; what they pay goes to your "
            "split, like tips. Leave a row empty to offer fewer tiers."
        )
        note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(note)
        layout.addLayout(grid)
        layout.addLayout(buttons)
        self._render()
        if blocked() is None:
            self.status.setText("Reading your tiers…")
            self._start(self._read())

    def rows(self) -> list[tuple[str, str]]:
        return [(n.text(), p.text()) for n, p in zip(self.names, self.prices, strict=True)]

    def show_tiers(self, tiers: list[Tier]) -> None:
        for row in range(MAX_TIERS):
            tier = tiers[row] if row < len(tiers) else None
            self.names[row].setText(tier.name if tier else "")
            price = format_amount(tier.price_wei).replace(",", "") if tier else ""
            self.prices[row].setText(price)

    def save(self) -> None:
        try:
            tiers = parse_tiers(self.rows(), self.symbol)
        except TierInputError as exc:
            self.status.setText(str(exc))
            return
        self.status.setText("Waiting for your confirmation…")
        self._start(self._write(tiers))

    @property
    def busy(self) -> bool:
        return self.task is not None and not self.task.done()

    def _start(self, work: Awaitable[None]) -> None:
        self.task = asyncio.ensure_future(work)
        self.task.add_done_callback(lambda _task: self._render())
        self._render()

    def _render(self) -> None:
        blocked = self._blocked()
        self.save_button.setEnabled(blocked is None and not self.busy)
        if blocked is not None:
            self.status.setText(blocked)

    async def _read(self) -> None:
        try:
            tiers = await self._load()
        except StudioError as exc:
            self.status.setText(str(exc))
            return
        self.show_tiers(tiers)
        count = len(tiers)
        self.status.setText(
            "No tiers yet: fans cannot subscribe." if not count
            else f"{count} tier{'' if count == 1 else 's'} on chain."
        )  # fmt: skip

    async def _write(self, tiers: list[Tier]) -> None:
        outcome = await self._save(tiers)
        if outcome.status == SAVED:
            count = len(tiers)
            self.status.setText(f"Saved: {count} tier{'' if count == 1 else 's'} on chain.")
        else:
            self.status.setText(outcome.error)
