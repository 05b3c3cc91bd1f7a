"""The wallet: keys live only as encrypted keystores (v3) in the OS keyring.

Create (BIP-39 mnemonic, confirmed before it is stored), import (mnemonic, private key,
keystore JSON), export a keystore, unlock with the password. Nothing in plaintext reaches
disk, logs or exception text; `UnlockedKey` hides its key from repr().
"""

import json
import logging
import secrets
from dataclasses import dataclass
from typing import Any

import keyring
import keyring.backend
import keyring.errors
from eth_account import Account
from eth_account.hdaccount import Language, generate_mnemonic
from eth_account.hdaccount.mnemonic import Mnemonic
from eth_account.messages import SignableMessage
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from chain.errors import (
    InvalidMnemonicError,
    InvalidPrivateKeyError,
    KeyringUnavailableError,
    KeystoreCorruptError,
    WalletError,
    WalletNotFoundError,
)
from chain.keystore import (
    MIN_PASSWORD_LENGTH,
    STANDARD_SCRYPT_N,
    check_keystore,
    decrypt_keystore,
    encrypt_key,
    keystore_address,
    parse_keystore,
)

log = logging.getLogger(__name__)

SERVICE = "HarmonieCORE Studio wallet"
INDEX_ENTRY = "accounts"
DEFAULT_PATH = "m/44'/60'/0'/0/0"

Account.enable_unaudited_hdwallet_features()

NO_KEYRING_HELP = (
    "No system keyring is available to keep your wallet safe. On Linux install and start "
    "gnome-keyring (or KWallet) and log in to a desktop session so that the Secret Service "
    "is running; on macOS and Windows the system keychain is used. Your keys are never "
    "stored anywhere else."
)


class UnlockedKey:
    """A decrypted account held in memory only. Its repr and str never show the key."""

    __slots__ = ("_account",)

    def __init__(self, account: LocalAccount) -> None:
        self._account = account

    @property
    def address(self) -> str:
        return self._account.address

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return bytes(self._account.sign_transaction(tx).raw_transaction)

    def sign_message(self, message: SignableMessage) -> bytes:
        return bytes(self._account.sign_message(message).signature)

    def __repr__(self) -> str:
        return f"UnlockedKey({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickled (and so never written anywhere)
        raise TypeError("an unlocked key cannot be pickled")


def new_mnemonic(words: int = 12) -> str:
    return generate_mnemonic(words, Language.ENGLISH)


def normalise_mnemonic(phrase: str) -> str:
    words = phrase.lower().split()
    if len(words) not in (12, 15, 18, 21, 24):
        raise InvalidMnemonicError(
            f"A recovery phrase has 12, 15, 18, 21 or 24 words; this one has {len(words)}."
        )
    mnemonic = Mnemonic(Language.ENGLISH)
    unknown = [i + 1 for i, w in enumerate(words) if w not in mnemonic.wordlist]
    if unknown:
        positions = ", ".join(str(i) for i in unknown)
        raise InvalidMnemonicError(f"Words at positions {positions} are not BIP-39 English words.")
    text = " ".join(words)
    if not mnemonic.is_mnemonic_valid(text):
        raise InvalidMnemonicError(
            "This recovery phrase has a wrong checksum: "
            "a word is probably mistyped or out of order."
        )
    return text


def confirmation_positions(phrase: str, count: int = 3) -> list[int]:
    """Random 1-based word positions the person must type back before the wallet is saved."""
    total = len(phrase.split())
    return sorted(secrets.SystemRandom().sample(range(1, total + 1), count))


def confirm_words(phrase: str, answers: dict[int, str]) -> bool:
    words = phrase.split()
    return bool(answers) and all(
        1 <= pos <= len(words) and words[pos - 1] == answer.strip().lower()
        for pos, answer in answers.items()
    )


def account_from_mnemonic(phrase: str, path: str = DEFAULT_PATH) -> LocalAccount:
    try:
        return Account.from_mnemonic(normalise_mnemonic(phrase), account_path=path)
    except InvalidMnemonicError:
        raise
    except Exception as exc:
        raise InvalidMnemonicError(
            f"This recovery phrase cannot be used ({type(exc).__name__})."
        ) from None


def account_from_private_key(text: str) -> LocalAccount:
    clean = text.strip().removeprefix("0x").removeprefix("0X")
    if len(clean) != 64 or any(c not in "0123456789abcdefABCDEF" for c in clean):
        raise InvalidPrivateKeyError(
            "A private key is 64 hexadecimal characters (optionally 0x-prefixed)."
        )
    try:
        return Account.from_key(bytes.fromhex(clean))
    except Exception:
        raise InvalidPrivateKeyError("This is not a valid secp256k1 private key.") from None


def check_new_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WalletError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")


@dataclass(frozen=True)
class KeyringVault:
    """Keystores in the OS keyring: one entry per address plus an index of addresses."""

    backend: keyring.backend.KeyringBackend | None = None
    service: str = SERVICE

    def _keyring(self) -> keyring.backend.KeyringBackend:
        backend = self.backend or keyring.get_keyring()
        if _is_unusable(backend):
            raise KeyringUnavailableError(NO_KEYRING_HELP)
        return backend

    def _get(self, name: str) -> str | None:
        backend = self._keyring()
        try:
            return backend.get_password(self.service, name)
        except (
            Exception
        ) as exc:  # D-Bus, Secret Service, locked collection: all the same to a person
            raise KeyringUnavailableError(_keyring_problem(exc)) from None

    def _set(self, name: str, value: str) -> None:
        backend = self._keyring()
        try:
            backend.set_password(self.service, name, value)
        except (
            Exception
        ) as exc:  # D-Bus, Secret Service, locked collection: all the same to a person
            raise KeyringUnavailableError(_keyring_problem(exc)) from None

    def addresses(self) -> list[str]:
        raw = self._get(INDEX_ENTRY)
        if not raw:
            return []
        try:
            return [to_checksum_address(a) for a in json.loads(raw)]
        except (ValueError, TypeError):
            log.warning("wallet index in the keyring is unreadable; rebuilding it empty")
            return []

    def save(self, keystore: dict[str, Any]) -> str:
        address = keystore_address(keystore)
        if address is None:
            raise KeystoreCorruptError("The keystore has no address.")
        self._set(address.lower(), json.dumps(keystore))
        known = self.addresses()
        if address not in known:
            self._set(INDEX_ENTRY, json.dumps([*known, address]))
        return address

    def load(self, address: str) -> dict[str, Any]:
        address = to_checksum_address(address)
        raw = self._get(address.lower())
        if raw is None:
            raise WalletNotFoundError(f"No wallet {address} is stored in the system keyring.")
        return parse_keystore(raw)

    def remove(self, address: str) -> None:
        address = to_checksum_address(address)
        backend = self._keyring()
        try:
            backend.delete_password(self.service, address.lower())
        except keyring.errors.PasswordDeleteError:
            pass
        except (
            Exception
        ) as exc:  # D-Bus, Secret Service, locked collection: all the same to a person
            raise KeyringUnavailableError(_keyring_problem(exc)) from None
        self._set(INDEX_ENTRY, json.dumps([a for a in self.addresses() if a != address]))


def _is_unusable(backend: keyring.backend.KeyringBackend) -> bool:
    from keyring.backends import chainer, fail

    if isinstance(backend, fail.Keyring):
        return True
    if isinstance(backend, chainer.ChainerBackend):
        return not backend.backends
    return False


def _keyring_problem(exc: Exception) -> str:
    return (
        f"The system keyring refused the request ({type(exc).__name__}). It may be locked or "
        "not running: unlock it (log in to your desktop session) and try again. " + NO_KEYRING_HELP
    )


class Wallet:
    """Create, import, export and unlock accounts whose keystores live in `vault`."""

    def __init__(
        self, vault: KeyringVault | None = None, scrypt_n: int = STANDARD_SCRYPT_N
    ) -> None:
        self.vault = vault or KeyringVault()
        self.scrypt_n = scrypt_n

    def accounts(self) -> list[str]:
        return self.vault.addresses()

    def _store_account(self, account: LocalAccount, password: str) -> str:
        check_new_password(password)
        keystore = encrypt_key(account.key, password, self.scrypt_n)
        return self.vault.save(keystore)

    def create_from_mnemonic(self, phrase: str, password: str, path: str = DEFAULT_PATH) -> str:
        """Store the account of a freshly generated (and confirmed) or imported phrase."""
        return self._store_account(account_from_mnemonic(phrase, path), password)

    import_mnemonic = create_from_mnemonic

    def import_private_key(self, key_text: str, password: str) -> str:
        return self._store_account(account_from_private_key(key_text), password)

    def import_keystore(self, keystore_json: str | bytes, password: str) -> str:
        """Keep an existing keystore as it is, after checking the password opens it."""
        keystore = parse_keystore(keystore_json)
        key = decrypt_keystore(keystore, password)
        address = Account.from_key(key).address
        del key
        return self.vault.save({**keystore, "address": address[2:].lower()})

    def export_keystore(self, address: str, password: str) -> str:
        """The keystore JSON for `address`, once the password is shown to open it."""
        keystore = self.vault.load(address)
        decrypt_keystore(keystore, password)
        return json.dumps(keystore, indent=2)

    def unlock(self, address: str, password: str) -> UnlockedKey:
        keystore = self.vault.load(address)
        return UnlockedKey(Account.from_key(decrypt_keystore(keystore, password)))

    def change_password(self, address: str, old: str, new: str) -> None:
        check_new_password(new)
        key = decrypt_keystore(self.vault.load(address), old)
        self.vault.save(encrypt_key(key, new, self.scrypt_n))

    def remove(self, address: str) -> None:
        self.vault.remove(address)


__all__ = [
    "KeyringVault",
    "UnlockedKey",
    "Wallet",
    "account_from_mnemonic",
    "account_from_private_key",
    "check_keystore",
    "confirm_words",
    "confirmation_positions",
    "new_mnemonic",
]
