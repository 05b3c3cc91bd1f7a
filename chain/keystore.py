"""Keystore v3 (Web3 Secret Storage): encrypt a key, decrypt it, tell bad input apart.

Errors never include the key, the password or the keystore's ciphertext.
"""

import json
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from chain.errors import KeystoreCorruptError, WrongPasswordError

# scrypt n=2**18, r=8, p=1: geth's "standard" work factor (about a second to unlock)
STANDARD_SCRYPT_N = 2**18
MIN_PASSWORD_LENGTH = 8


def encrypt_key(
    private_key: bytes, password: str, scrypt_n: int = STANDARD_SCRYPT_N
) -> dict[str, Any]:
    keystore = Account.encrypt(private_key, password, kdf="scrypt", iterations=scrypt_n)
    return dict(keystore)


def parse_keystore(text: str | bytes) -> dict[str, Any]:
    """Parse and check the shape of a keystore JSON document."""
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise KeystoreCorruptError("This is not a keystore file: it is not valid JSON.") from None
    return check_keystore(data)


def check_keystore(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise KeystoreCorruptError("This is not a keystore file: expected a JSON object.")
    if data.get("version") != 3:
        raise KeystoreCorruptError(
            f"Unsupported keystore version {data.get('version')!r}: only version 3 is supported."
        )
    crypto = data.get("crypto") or data.get("Crypto")
    required = ("cipher", "cipherparams", "ciphertext", "kdf", "kdfparams", "mac")
    if not isinstance(crypto, dict) or any(k not in crypto for k in required):
        raise KeystoreCorruptError("The keystore is damaged: its 'crypto' section is incomplete.")
    if crypto["kdf"] not in ("scrypt", "pbkdf2"):
        raise KeystoreCorruptError(
            f"The keystore uses an unknown key derivation '{crypto['kdf']}'."
        )
    return data


def keystore_address(data: dict[str, Any]) -> str | None:
    address = data.get("address")
    if not address:
        return None
    try:
        return to_checksum_address(address if address.startswith("0x") else "0x" + address)
    except ValueError:
        raise KeystoreCorruptError("The keystore's address field is not an address.") from None


def decrypt_keystore(data: dict[str, Any], password: str) -> bytes:
    """The private key inside `data`. WrongPasswordError or KeystoreCorruptError otherwise."""
    check_keystore(data)
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPasswordError("Wrong password for this wallet.") from None
        raise KeystoreCorruptError(
            f"The keystore is damaged and cannot be decrypted ({type(exc).__name__})."
        ) from None
    except (KeyError, TypeError, AttributeError, IndexError) as exc:
        raise KeystoreCorruptError(
            f"The keystore is damaged and cannot be decrypted ({type(exc).__name__})."
        ) from None
    expected = keystore_address(data)
    if expected and Account.from_key(key).address != expected:
        raise KeystoreCorruptError("The keystore is damaged: its key does not match its address.")
    return bytes(key)
