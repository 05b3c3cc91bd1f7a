"""The wallet against a real Secret Service (gnome-keyring in a private D-Bus session)."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account
from keyring.backends import fail

from chain.errors import (
    InvalidMnemonicError,
    InvalidPrivateKeyError,
    KeyringUnavailableError,
    KeystoreCorruptError,
    WalletError,
    WalletNotFoundError,
    WrongPasswordError,
)
from chain.wallet import (
    KeyringVault,
    Wallet,
    confirm_words,
    confirmation_positions,
    new_mnemonic,
)

FAST_SCRYPT = 2**12  # tests only: the real work factor is 2**18
PASSWORD = "correct horse battery"
# the public test mnemonic and its first account (m/44'/60'/0'/0/0)
TEST_MNEMONIC = "test test test test test test test test test test test junk"
TEST_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


@pytest.fixture
def wallet(vault: KeyringVault) -> Wallet:
    return Wallet(vault, scrypt_n=FAST_SCRYPT)


def _all_secret_service_text(secret_service) -> str:
    """Everything gnome-keyring wrote to disk, to check no plaintext key is among it."""
    chunks = []
    for root, _dirs, files in os.walk(secret_service.home):
        for name in files:
            path = Path(root) / name
            if path.is_file():
                chunks.append(path.read_bytes().decode("latin-1"))
    return "\n".join(chunks)


def test_create_from_a_new_mnemonic_after_confirmation(wallet, secret_service):
    phrase = new_mnemonic()
    assert len(phrase.split()) == 12
    positions = confirmation_positions(phrase)
    words = phrase.split()
    assert not confirm_words(phrase, {p: "wrong" for p in positions})
    assert confirm_words(phrase, {p: words[p - 1].upper() + " " for p in positions})

    address = wallet.create_from_mnemonic(phrase, PASSWORD)
    assert address == Account.from_mnemonic(phrase).address
    assert wallet.accounts() == [address]
    unlocked = wallet.unlock(address, PASSWORD)
    assert unlocked.address == address
    assert repr(unlocked) == str(unlocked) == f"UnlockedKey({address})"


def test_keystore_in_the_keyring_is_encrypted_and_no_plaintext_anywhere(
    wallet, vault, secret_service, tmp_path, caplog
):
    caplog.set_level(logging.DEBUG)
    key = Account.create()
    key_hex = key.key.hex()
    address = wallet.import_private_key("0x" + key_hex, PASSWORD)
    assert address == key.address
    stored = vault.load(address)
    assert stored["version"] == 3 and stored["crypto"]["kdf"] == "scrypt"
    assert key_hex not in json.dumps(stored)
    assert key_hex not in _all_secret_service_text(secret_service)
    assert key_hex not in caplog.text
    for root, _dirs, files in os.walk(tmp_path.parent):
        for name in files:
            path = os.path.join(root, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    assert key_hex.encode() not in f.read()


def test_the_keystore_survives_a_new_process(wallet, vault, secret_service):
    address = wallet.import_mnemonic(TEST_MNEMONIC, PASSWORD)
    assert address == TEST_ADDRESS
    script = (
        "from keyring.backends import SecretService; "
        "from chain.wallet import KeyringVault, Wallet; "
        f"w = Wallet(KeyringVault(SecretService.Keyring(), {vault.service!r})); "
        f"print(w.accounts()[0], w.unlock({address!r}, {PASSWORD!r}).address)"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=secret_service.env, capture_output=True, text=True,
        timeout=60, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [address, address]


def test_wrong_password_is_a_clear_error_and_the_wallet_stays(wallet):
    address = wallet.import_mnemonic(TEST_MNEMONIC, PASSWORD)
    with pytest.raises(WrongPasswordError, match="Wrong password") as info:
        wallet.unlock(address, "not the password")
    assert info.value.__suppress_context__  # raised `from None`: no inner exception text
    assert "not the password" not in str(info.value)
    assert wallet.unlock(address, PASSWORD).address == address
    with pytest.raises(WrongPasswordError):
        wallet.export_keystore(address, "nope nope")


def test_export_and_import_a_keystore(wallet, vault, secret_service):
    address = wallet.import_mnemonic(TEST_MNEMONIC, PASSWORD)
    exported = wallet.export_keystore(address, PASSWORD)
    assert (
        Account.decrypt(json.loads(exported), PASSWORD) == Account.from_mnemonic(TEST_MNEMONIC).key
    )
    other = Wallet(KeyringVault(vault.backend, vault.service + "-other"), scrypt_n=FAST_SCRYPT)
    assert other.import_keystore(exported, PASSWORD) == address
    assert other.unlock(address, PASSWORD).address == address
    with pytest.raises(WrongPasswordError):
        other.import_keystore(exported, "wrong password!")


def test_corrupted_keystores_are_refused_clearly(wallet, vault):
    good = json.loads(Wallet(vault, FAST_SCRYPT).export_keystore(
        wallet.import_mnemonic(TEST_MNEMONIC, PASSWORD), PASSWORD
    ))  # fmt: skip
    with pytest.raises(KeystoreCorruptError, match="not valid JSON"):
        wallet.import_keystore("{this is not json", PASSWORD)
    with pytest.raises(KeystoreCorruptError, match="version"):
        wallet.import_keystore(json.dumps({**good, "version": 2}), PASSWORD)
    broken = json.loads(json.dumps(good))
    del broken["crypto"]["mac"]
    with pytest.raises(KeystoreCorruptError, match="incomplete"):
        wallet.import_keystore(json.dumps(broken), PASSWORD)
    tampered = json.loads(json.dumps(good))
    tampered["crypto"]["kdfparams"]["n"] = "lots"
    with pytest.raises(KeystoreCorruptError):
        wallet.import_keystore(json.dumps(tampered), PASSWORD)
    # a keystore damaged inside the keyring: unlock fails clearly, other entries are intact
    vault._set(TEST_ADDRESS.lower(), "garbage")
    with pytest.raises(KeystoreCorruptError):
        wallet.unlock(TEST_ADDRESS, PASSWORD)


def test_bad_mnemonics_keys_and_passwords(wallet):
    with pytest.raises(InvalidMnemonicError, match="12, 15"):
        wallet.import_mnemonic("test test test", PASSWORD)
    with pytest.raises(InvalidMnemonicError, match="positions 2") as info:
        wallet.import_mnemonic("test notaword " + "test " * 9 + "junk", PASSWORD)
    assert "notaword" not in str(info.value)
    with pytest.raises(InvalidMnemonicError, match="checksum") as info:
        wallet.import_mnemonic("test " * 11 + "test", PASSWORD)
    assert "test test" not in str(info.value)
    with pytest.raises(InvalidPrivateKeyError) as info:
        wallet.import_private_key("0x1234abcd", PASSWORD)
    assert "1234abcd" not in str(info.value)
    with pytest.raises(InvalidPrivateKeyError):
        wallet.import_private_key("00" * 32, PASSWORD)  # zero is not a valid key
    with pytest.raises(WalletError, match="at least 8"):
        wallet.import_mnemonic(TEST_MNEMONIC, "short")
    assert wallet.accounts() == []


def test_unknown_address_and_removal(wallet):
    with pytest.raises(WalletNotFoundError):
        wallet.unlock(TEST_ADDRESS, PASSWORD)
    address = wallet.import_mnemonic(TEST_MNEMONIC, PASSWORD)
    wallet.remove(address)
    assert wallet.accounts() == []
    with pytest.raises(WalletNotFoundError):
        wallet.unlock(address, PASSWORD)


def test_no_keyring_backend_is_a_clear_error():
    wallet = Wallet(KeyringVault(backend=fail.Keyring()), scrypt_n=FAST_SCRYPT)
    with pytest.raises(KeyringUnavailableError, match="gnome-keyring"):
        wallet.accounts()
    with pytest.raises(KeyringUnavailableError):
        wallet.import_mnemonic(TEST_MNEMONIC, PASSWORD)


def test_secret_service_gone_is_a_clear_error(secret_service, monkeypatch):
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
    wallet = Wallet(KeyringVault(SecretService.Keyring(), "harmonie-test-gone"), FAST_SCRYPT)
    with pytest.raises(KeyringUnavailableError, match="keyring"):
        wallet.accounts()
