"""Withdraw from the dashboard: prepare `withdraw()` with the wallet, show the confirmation
dialog (widgets.tx_confirm_dialog), send, wait for it to be mined, refresh the dashboard.

    dashboard = RevenueDashboard(symbol, on_withdraw=WithdrawFlow(window, session, revenue))
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from PySide6.QtWidgets import QDialog, QMessageBox, QWidget

from chain import contracts
from chain.errors import ChainError
from studio.logs import event
from studio.revenue import RevenueService
from studio.wallet_session import PreparedTx, WalletSession
from widgets.tx_confirm_dialog import TxConfirmDialog

log = logging.getLogger(__name__)

Confirm = Callable[[PreparedTx], Awaitable[bool]]


class WithdrawFlow:
    def __init__(
        self,
        parent: QWidget,
        session: WalletSession,
        revenue: RevenueService,
        confirm: Confirm | None = None,
    ) -> None:
        self.parent = parent
        self.session = session
        self.revenue = revenue
        self.confirm = confirm or self._confirm_in_dialog
        self.dialog: TxConfirmDialog | None = None
        self.task: asyncio.Task[str | None] | None = None

    def __call__(self, _amount_wei: int) -> None:
        """The dashboard's on_withdraw: one withdrawal at a time."""
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self.run())

    async def run(self) -> str | None:
        """The mined transaction's hash, or None when cancelled or refused (the person is told)."""
        try:
            prepared = await self.session.prepare_call(contracts.TIPPING, "withdraw")
            if not await self.confirm(prepared):
                return None
            sent = await self.session.send(prepared)
            outcome = await self.session.wait(sent.hash)
        except ChainError as exc:
            self._tell(str(exc))
            return None
        if outcome.status != "mined":
            self._tell(f"The withdrawal did not go through: {outcome.error or outcome.status}.")
            return None
        event(log, "tips_withdrawn", tx_hash=outcome.hash)
        await self.revenue.refresh()
        return outcome.hash

    async def _confirm_in_dialog(self, prepared: PreparedTx) -> bool:
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self.dialog = TxConfirmDialog(self.session, prepared, self.parent)

        def finished(result: int) -> None:
            if not answered.done():
                answered.set_result(result == QDialog.DialogCode.Accepted)

        self.dialog.finished.connect(finished)
        self.dialog.open()
        try:
            return await answered
        finally:
            self.dialog.deleteLater()
            self.dialog = None

    def _tell(self, text: str) -> None:
        log.warning("withdrawal failed: %s", text)
        QMessageBox.warning(self.parent, "Withdrawal failed", text)
