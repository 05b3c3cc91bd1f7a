"""Wallet actions the window starts but does not run: withdrawing tips, keystore files.

Qt-free. A flow asks the person through a `Consent` callback the window supplies (its
confirmation dialog); everything else (prepare, fee check, send, wait, refresh, files) is
here, so widgets only ask and show.

    outcome = await Withdrawal(session, revenue, consent).run()
    await export_keystore_file(session, password, Path("keystore.json"))
"""

import asyncio
import contextlib
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from chain import contracts
from chain.errors import ChainError
from studio.errors import StudioError
from studio.logs import event
from studio.tips.revenue import RevenueService
from studio.wallet.session import PreparedTx, WalletSession

log = logging.getLogger(__name__)

Consent = Callable[[PreparedTx], Awaitable[bool]]

WITHDRAWN, DECLINED, FAILED = "withdrawn", "declined", "failed"


@dataclass(frozen=True)
class WithdrawOutcome:
    status: str  # withdrawn | declined | failed
    tx_hash: str | None = None
    error: str = ""  # a human sentence when failed


class Withdrawal:
    """prepare `withdraw()` -> check the fee can be paid -> consent -> send -> wait -> refresh.

    `contract`: where the balance is: the tipping contract (tips), the marketplace (sales and
    royalties) or the subscriptions contract; all pay out with the same `withdraw()`."""

    def __init__(
        self,
        session: WalletSession,
        revenue: RevenueService,
        consent: Consent,
        contract: str = contracts.TIPPING,
    ) -> None:
        self.session = session
        self.revenue = revenue
        self.consent = consent
        self.contract = contract

    async def run(self) -> WithdrawOutcome:
        session = self.session
        try:
            prepared = await session.prepare_call(self.contract, "withdraw")
            balance = await session.balance()
            if balance < prepared.max_total_wei:
                return self._failed(
                    f"Your wallet holds {session.format(balance)}, and the network fee for "
                    f"this withdrawal can be up to {session.format(prepared.max_fee_wei)}. "
                    f"Add {session.network.symbol} to your wallet, then withdraw again."
                )
            if not await self.consent(prepared):
                return WithdrawOutcome(DECLINED)
            sent = await session.send(prepared)
            outcome = await session.wait(sent.hash)
        except ChainError as exc:
            return self._failed(str(exc))
        if outcome.status != "mined":
            return self._failed(
                f"The withdrawal did not go through: {outcome.error or outcome.status}."
            )
        event(log, "tips_withdrawn", tx_hash=outcome.hash, contract=self.contract)
        try:
            await self.revenue.refresh()
        except Exception:  # the coin is withdrawn; the figures catch up at the next refresh
            log.warning("revenue refresh after a withdrawal failed", exc_info=True)
        return WithdrawOutcome(WITHDRAWN, outcome.hash)

    @staticmethod
    def _failed(text: str) -> WithdrawOutcome:
        event(log, "withdraw_failed", error=text)
        return WithdrawOutcome(FAILED, error=text)


# -- keystore files ---------------------------------------------------------------------------


class KeystoreFileError(StudioError):
    pass


def write_private_file(path: Path, text: str) -> None:
    """Write `text` to `path`, readable by its owner only from the moment it exists.

    A new file beside `path` is created with mode 0600 (O_EXCL: never someone else's file or
    link), written, and renamed over `path`; a file already there with a looser mode is
    replaced, not reused. Nothing is written first and restricted after.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(temp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


async def export_keystore_file(session: WalletSession, password: str, target: Path) -> None:
    """The wallet's encrypted keystore to `target` (0600), once the password opens it.

    Raises ChainError (wrong password, no wallet) or KeystoreFileError (cannot write)."""
    text = await session.export_keystore(password)
    try:
        await asyncio.to_thread(write_private_file, target, text)
    except OSError as exc:
        raise KeystoreFileError(f"Cannot write {target}: {exc.strerror or exc}.") from None
    event(log, "keystore_exported", address=session.address)


def read_keystore_file(path: Path) -> str:
    """A keystore file's text for the import dialog; KeystoreFileError in plain words."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise KeystoreFileError(f"{path.name} is not a keystore file (not text).") from None
    except OSError as exc:
        raise KeystoreFileError(f"Cannot read {path.name}: {exc.strerror or exc}.") from None
