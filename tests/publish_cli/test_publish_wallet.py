"""Where `harmonie-studio publish` takes the account and the password from."""

from pathlib import Path

import pytest

from chain.fees import Fees
from chain.transactions import PreparedTx
from studio.wallet.shell_unlock import (
    PASSWORD_ENV,
    PublishWalletError,
    choose_account,
    command_line_consent,
    read_password,
)

A = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
B = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def no_tty() -> bool:
    return False


def never_prompt(_: str) -> str:
    raise AssertionError("no prompt expected")


def test_password_file_first_line_wins_over_the_environment(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from the file\r\nnext line\n")
    environ = {PASSWORD_ENV: "from the env"}
    assert read_password(secret, environ, no_tty, never_prompt) == "from the file"


def test_environment_variable_is_read_once_and_removed() -> None:
    environ = {PASSWORD_ENV: "from the env", "OTHER": "x"}
    assert read_password(None, environ, no_tty, never_prompt) == "from the env"
    assert environ == {"OTHER": "x"}


def test_prompt_only_on_a_terminal() -> None:
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    assert read_password(None, {}, lambda: True, prompt, what="wallet 0xA") == "typed"
    assert asked == ["Password for wallet 0xA: "]
    with pytest.raises(PublishWalletError, match="--password-file") as missing:
        read_password(None, {}, no_tty, never_prompt)
    assert PASSWORD_ENV in str(missing.value)


@pytest.mark.parametrize("content", ["", "\nsecret on line two\n"])
def test_empty_first_line_is_refused_without_showing_the_file(tmp_path: Path, content: str) -> None:
    secret = tmp_path / "pw"
    secret.write_text(content)
    with pytest.raises(PublishWalletError, match="empty first line") as refused:
        read_password(secret, {}, no_tty, never_prompt)
    assert "secret" not in str(refused.value)


def test_unreadable_password_file(tmp_path: Path) -> None:
    with pytest.raises(PublishWalletError, match="Cannot read the password file"):
        read_password(tmp_path / "missing", {}, no_tty, never_prompt)


def test_account_choice() -> None:
    assert choose_account([A, B], B.lower(), A) == B  # --account first, any case
    assert choose_account([A, B], None, B) == B  # then the remembered one
    assert choose_account([A], None, B) == A  # then the only one
    with pytest.raises(PublishWalletError) as several:
        choose_account([A, B], None, "0x0000000000000000000000000000000000000001")
    assert A in str(several.value) and B in str(several.value)
    assert "--account" in str(several.value)
    with pytest.raises(PublishWalletError, match="not in the system keyring") as unknown:
        choose_account([A], B, None)
    assert A in str(unknown.value)


def prepared() -> PreparedTx:
    fees = Fees(max_fee_per_gas=10**9, max_priority_fee_per_gas=10**9, base_fee=None)
    return PreparedTx(1114, A, B, 0, "0x", 21_000, fees, "Register track bafk in the registry.")


def fee(wei: int) -> str:
    return f"{wei} wei"


async def test_consent_is_explicit_never_assumed() -> None:
    with pytest.raises(PublishWalletError, match="add --yes") as refused:
        command_line_consent(False, A, fee, no_tty, never_prompt)
    assert A in str(refused.value)
    assert await command_line_consent(True, A, fee, no_tty, never_prompt)(prepared()) is True

    questions: list[str] = []
    answers = iter(["y\n", "\n", ""])  # yes; Enter (the default, no); end of input

    def ask(question: str) -> str:
        questions.append(question)
        return next(answers)

    consent = command_line_consent(False, A, fee, lambda: True, ask)
    assert [await consent(prepared()) for _ in range(3)] == [True, False, False]
    assert prepared().description in questions[0] and A in questions[0]
    assert "21000000000000 wei" in questions[0] and questions[0].endswith("[y/N] ")
