"""Supporters-only content: AES-256-GCM keys for tracks and the master key that wraps them.

A supporters-only track is encrypted with its own random key before it reaches the content
store (only the ciphertext does); its key is kept in the database wrapped (AES-GCM) by the
backend's master key, bound to the track's CID, so neither a copy of the content store nor
a copy of the database alone gives the audio away. backend.market releases a track's key
to a fan whose subscription is active on chain.

Layout of an encrypted track (and of a wrapped key): a 12-byte nonce, then the AES-GCM
ciphertext with its 16-byte tag (what WebCrypto's AES-GCM decrypt takes after the nonce).

The master key comes from HARMONIE_GATED_MASTER_KEY (64 hex digits) or, if unset, from
<data dir>/secrets/gated-master.key (created once, 0600). Keys are bytes held in objects
whose repr shows nothing; no message here ever contains one.
"""

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32
MASTER_KEY_ENV = "HARMONIE_GATED_MASTER_KEY"
MASTER_KEY_FILE = Path("secrets") / "gated-master.key"


class GatedKeyError(Exception):
    """A wrapped key or a ciphertext that does not open (wrong key, tampered, truncated)."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=8 * KEY_BYTES)


def seal(key: bytes, plaintext: bytes, associated: bytes = b"") -> bytes:
    """nonce || AES-GCM(key, plaintext) (tag included)."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated or None)


def open_sealed(key: bytes, sealed: bytes, associated: bytes = b"") -> bytes:
    """The plaintext of `seal`'s output; GatedKeyError when it does not authenticate."""
    if len(sealed) < NONCE_BYTES + 16:
        raise GatedKeyError("the encrypted data is truncated")
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated or None)
    except InvalidTag:
        raise GatedKeyError("the encrypted data does not open with this key") from None


class MasterKey:
    """Wraps and unwraps track keys; each wrapped key is bound to its track's CID."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the gated-content master key must be {KEY_BYTES} bytes")
        self._key = key

    def __repr__(self) -> str:
        return "MasterKey(<hidden>)"

    def wrap(self, track_key: bytes, cid: str) -> bytes:
        return seal(self._key, track_key, cid.encode())

    def unwrap(self, wrapped: bytes, cid: str) -> bytes:
        return open_sealed(self._key, wrapped, cid.encode())

    @classmethod
    def load(cls, data_dir: Path, env: Mapping[str, str] = os.environ) -> "MasterKey":
        """From the environment, else the key file in `data_dir` (made on first use)."""
        configured = env.get(MASTER_KEY_ENV, "").strip()
        if configured:
            try:
                return cls(bytes.fromhex(configured))
            except ValueError:
                raise ValueError(
                    f"{MASTER_KEY_ENV} must be {2 * KEY_BYTES} hex digits (e.g. from "
                    "`openssl rand -hex 32`)"
                ) from None
        path = Path(data_dir) / MASTER_KEY_FILE
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = path.read_bytes()
            if len(key) != KEY_BYTES:
                raise ValueError(
                    f"{path} is not a gated-content master key ({KEY_BYTES} bytes); "
                    "supporters-only tracks cannot be unlocked without the original"
                ) from None
            return cls(key)
        key = new_key()
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return cls(key)
