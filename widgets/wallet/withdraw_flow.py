"""Withdraw from the dashboard: the window's side of studio.wallet.flows.Withdrawal.

    dashboard = RevenueDashboard(symbol, on_withdraw=WithdrawFlow(window, session, revenue))

The studio service prepares, checks the fee, sends and waits; this asks for consent (the
confirmation dialog, then the unlock dialog if the wallet locked meanwhile) and shows one
message when it fails. Nothing here blocks: dialogs go through widgets.dialogs.
"""

import asyncio
import logging
from collections.abc import Callable

from PySide6.QtWidgets import QWidget

from chain import contracts
from studio.tips.revenue import RevenueService
from studio.wallet.flows import FAILED, Consent, Withdrawal
from studio.wallet.session import PreparedTx, WalletSession
from widgets.dialogs import ask, message
from widgets.wallet.tx_confirm_dialog import TxConfirmDialog
from widgets.wallet.unlock_dialog import UnlockDialog

log = logging.getLogger(__name__)


class WithdrawFlow:
    def __init__(
        self,
        parent: QWidget,
        session: WalletSession,
        revenue: RevenueService,
        confirm: Consent | None = None,
        contract: str = contracts.TIPPING,  # where the balance is (studio.wallet.flows)
    ) -> None:
        self.parent = parent
        self.contract = contract
        self.session = session
        self.revenue = revenue
        self.confirm = confirm or self._confirm_in_dialog
        self.dialog: TxConfirmDialog | None = None  # the confirmation while it is shown
        self.task: asyncio.Task[str | None] | None = None
        self.state_changed: Callable[[], None] = lambda: None  # running / lock state moved

    def __call__(self, _amount_wei: int) -> None:
        """The dashboard's on_withdraw: one withdrawal at a time."""
        if self.task is None or self.task.done():
            self.task = asyncio.ensure_future(self.run())
            self.task.add_done_callback(lambda _task: self.state_changed())

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    def blocked_reason(self) -> str | None:
        """Why Withdraw cannot start now (the dashboard's tooltip), or None."""
        if self.running:
            return "A withdrawal is under way."
        if self.session.address is None:
            return "Create or import a wallet first."
        if not self.session.unlocked:
            return "Unlock the wallet (Wallet panel, Unlock…) to withdraw."
        return None

    async def run(self) -> str | None:
        """The mined transaction's hash, or None when declined or failed (the person is told,
        once, in a message that does not wait)."""
        outcome = await Withdrawal(self.session, self.revenue, self.confirm, self.contract).run()
        if outcome.status == FAILED:
            log.warning("withdrawal failed: %s", outcome.error)
            message(self.parent, "Withdrawal failed", outcome.error)
        return outcome.tx_hash

    async def _confirm_in_dialog(self, prepared: PreparedTx) -> bool:
        self.dialog = TxConfirmDialog(self.session, prepared, self.parent)
        try:
            if not await ask(self.dialog):
                return False
        finally:
            self.dialog.deleteLater()
            self.dialog = None
        if self.session.unlocked:
            return True
        unlock = UnlockDialog(self.session, self.parent)
        try:
            return await ask(unlock)
        finally:
            unlock.deleteLater()
