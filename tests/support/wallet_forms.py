"""Answering the wallet dialogs as an artist does (typed into their fields)."""

from typing import Any


def answer_create_dialog(dialog: Any, password: str) -> None:
    """widgets.wallet.wallet_dialogs.CreateWalletDialog: the phrase written down, three of its
    words typed back, the password twice (Create is left for the caller to press)."""
    words = dialog.phrase.split()
    dialog.written_button.click()
    for position, field in dialog.word_inputs.items():
        field.setText(words[position - 1])
    dialog.password.setText(password)
    dialog.password_again.setText(password)
