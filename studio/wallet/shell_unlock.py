"""The wallet for `harmonie-studio publish`: which account, its password, unlocked, and
the consent to the transactions it sends.

The wallet itself is composed by `Studio.start_wallet()`, exactly as for the window; this
module only chooses the account and unlocks it from the shell. The password comes from a
file, the environment or a terminal prompt, and never reaches argv, logs, output or errors.
Consent is explicit: `--yes` for every transaction of the run, else a question per
transaction on the terminal; without either the command refuses before anything is sent.
"""

import asyncio
import getpass
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from studio.errors import StudioError

PASSWORD_ENV = "HARMONIE_WALLET_PASSWORD"
# The command line is the consent for the whole run: the unlock must not lapse between two
# tracks of a long upload. The key is dropped when the command ends (Studio.stop).
HEADLESS_UNLOCK_S = 24 * 3600.0


class PublishWalletError(StudioError):
    pass


def read_password(
    password_file: Path | None,
    environ: dict[str, str] | None = None,
    is_tty: Callable[[], bool] = lambda: sys.stdin.isatty(),
    prompt: Callable[[str], str] = getpass.getpass,
    what: str = "the wallet",
) -> str:
    """--password-file's first line, else $HARMONIE_WALLET_PASSWORD, else a prompt on a
    terminal. The variable is removed from `environ` once read, so that child processes (the
    local backend) do not inherit it."""
    env = os.environ if environ is None else environ
    if password_file is not None:
        try:
            text = password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PublishWalletError(
                f"Cannot read the password file {password_file} ({type(exc).__name__})."
            ) from None
        lines = text.splitlines()
        password = lines[0] if lines else ""
        if not password:
            raise PublishWalletError(f"The password file {password_file} has an empty first line.")
        return password
    password = env.pop(PASSWORD_ENV, None)
    if password:
        return password
    if is_tty():
        password = prompt(f"Password for {what}: ")
        if password:
            return password
        raise PublishWalletError("No password entered: nothing was published.")
    raise PublishWalletError(
        f"Publishing needs the wallet's password: give --password-file FILE, set {PASSWORD_ENV}, "
        "or run the command in a terminal to be asked for it."
    )


def choose_account(accounts: list[str], requested: str | None, remembered: str | None) -> str:
    """--account, else the account remembered in Settings, else the only one in the keyring."""
    by_lower = {a.lower(): a for a in accounts}
    listing = ", ".join(accounts)
    if requested:
        chosen = by_lower.get(requested.strip().lower())
        if chosen is None:
            raise PublishWalletError(
                f"The account {requested} is not in the system keyring; "
                f"the wallets there are: {listing or 'none'}."
            )
        return chosen
    if remembered and remembered.lower() in by_lower:
        return by_lower[remembered.lower()]
    if len(accounts) == 1:
        return accounts[0]
    raise PublishWalletError(
        f"The system keyring holds {len(accounts)} wallets: {listing}. "
        "Choose the one to publish with: --account ADDRESS."
    )


def ask_on_terminal(question: str) -> str:
    """The question on stderr (stdout carries the JSON lines), one answer line from stdin."""
    sys.stderr.write(question)
    sys.stderr.flush()
    return sys.stdin.readline()


def command_line_consent(
    yes: bool,
    account: str,
    format_fee: Callable[[int], str],
    is_tty: Callable[[], bool] = lambda: sys.stdin.isatty(),
    ask: Callable[[str], str] = ask_on_terminal,
) -> Callable[[Any], Awaitable[bool]]:
    """The consent `publish` sends transactions with (a `PreparedTx` -> yes or no)."""
    if yes:

        async def given(_prepared: Any, _tracks: Sequence[Any] = ()) -> bool:
            return True

        return given
    if not is_tty():
        raise PublishWalletError(
            f"Publishing sends a content-registry transaction per track from the wallet "
            f"{account}, and nothing is sent without your consent: add --yes to consent to "
            "them, or run the command in a terminal to be asked for each one."
        )

    async def asked(prepared: Any, tracks: Sequence[Any] = ()) -> bool:
        titles = ", ".join(f"“{t.title}”" for t in tracks)
        question = (
            f"{prepared.description}{f' ({titles})' if titles else ''}. From {account}, "
            "network fee at most "
            f"{format_fee(prepared.max_fee_wei)}. Send it? [y/N] "
        )
        answer = await asyncio.to_thread(ask, question)
        return answer.strip().lower() in ("y", "yes")

    return asked
