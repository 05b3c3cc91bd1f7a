"""The Sales view of the Revenue page: editions on sale now, what sold, royalties earned.

It renders a studio.tips.sales.SalesSummary (read from the chain by the revenue service);
`title_of(cid)` names a track by its title when the Library knows it.
"""

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from chain import contracts
from studio.tips.format import format_coin
from studio.tips.sales import SalesSummary
from widgets.buttons import enable

WITHDRAW_WHAT = {contracts.MARKETPLACE: "sales", contracts.SUBSCRIPTIONS: "subscriptions"}


def _editions(count: int) -> str:
    return "1 edition" if count == 1 else f"{count} editions"


class SalesView(QWidget):
    def __init__(
        self,
        symbol: str,
        title_of: Callable[[str], str | None] = lambda _cid: None,
        withdraw: Mapping[str, Any] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """`withdraw`: contract name -> a WithdrawFlow (widgets.wallet.withdraw_flow) for the
        marketplace's and the subscriptions' balances; none: no Withdraw buttons."""
        super().__init__(parent)
        self.setObjectName("sales_view")
        self.symbol = symbol
        self.title_of = title_of
        self.withdraw = dict(withdraw or {})
        self.balances: dict[str, int] = {}
        self.withdraw_buttons: dict[str, QPushButton] = {}
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for contract, flow in self.withdraw.items():
            button = QPushButton(f"Withdraw {WITHDRAW_WHAT[contract]}…")
            button.setObjectName(f"withdraw_{WITHDRAW_WHAT[contract]}")
            button.clicked.connect(lambda _=False, c=contract: self._withdraw(c))
            flow.state_changed = self.update_actions
            self.withdraw_buttons[contract] = button
            buttons.addWidget(button)
        self.listed_label = QLabel("—")
        self.listed_label.setObjectName("sales_listed")
        self.sold_label = QLabel("—")
        self.sold_label.setObjectName("sales_sold")
        self.royalties_label = QLabel("—")
        self.royalties_label.setObjectName("sales_royalties")
        self.withdrawable_label = QLabel("—")
        self.withdrawable_label.setObjectName("sales_withdrawable")
        figures = QGridLayout()
        for row, (name, label) in enumerate(
            (
                ("On sale", self.listed_label),
                ("Sold", self.sold_label),
                ("Royalties earned", self.royalties_label),
                ("Withdrawable", self.withdrawable_label),
            )
        ):
            figures.addWidget(QLabel(name), row, 0)
            figures.addWidget(label, row, 1)
        figures.setColumnStretch(1, 1)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("sales_table")
        self.table.setHorizontalHeaderLabels(["On sale", "Edition", f"Price ({symbol})"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addLayout(figures)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        self.update_actions()

    def update_actions(self) -> None:
        for contract, button in self.withdraw_buttons.items():
            balance = self.balances.get(contract, 0)
            reason = None if balance > 0 else f"No {WITHDRAW_WHAT[contract]} money to withdraw."
            reason = reason or self.withdraw[contract].blocked_reason()
            what = f"Withdraw {format_coin(balance, self.symbol)} to your wallet."
            enable(button, reason is None, what, reason or "")

    def _withdraw(self, contract: str) -> None:
        balance = self.balances.get(contract, 0)
        if balance > 0:
            self.withdraw[contract](balance)

    def show_sales(self, sales: SalesSummary) -> None:
        self.listed_label.setText(_editions(len(sales.listed)))
        self.sold_label.setText(
            f"{_editions(sales.sold_count)} · {format_coin(sales.sold_wei, self.symbol)}"
        )
        resales = "1 resale" if sales.royalty_count == 1 else f"{sales.royalty_count} resales"
        self.royalties_label.setText(
            f"{format_coin(sales.royalties_wei, self.symbol)} from {resales}"
        )
        self.balances = dict(sales.withdrawable)
        self.withdrawable_label.setText(
            " · ".join(
                f"{format_coin(wei, self.symbol)} from {WITHDRAW_WHAT.get(contract, contract)}"
                for contract, wei in self.balances.items()
            )
            or "—"
        )
        self.update_actions()
        self.table.setRowCount(len(sales.listed))
        for row, on_sale in enumerate(sales.listed):
            title = self.title_of(on_sale.track_cid) or "A track not in this Library"
            price = format_coin(on_sale.price_wei, self.symbol).removesuffix(f" {self.symbol}")
            for column, text in enumerate((title, f"#{on_sale.edition}", price)):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(row, column, item)
