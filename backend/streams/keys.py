"""Who may publish: WHIP ingest Bearer tokens.

Two kinds of token are accepted:
- the *ingest token* of this backend: 32 random bytes (URL-safe base64), created at first start
  in `<data-dir>/ingest-token` with mode 0600. It may publish to any stream name. The studio's
  `local` profile reads it from there (it started this backend with that data dir).
- *stream keys*: issued per stream by `POST /relay/keys/{stream}` (authorised by the ingest
  token today; meant to move behind the artist's sign-in JWT). Only their SHA-256 is kept, in
  `<data-dir>/stream-keys.json` (0600); a key may publish to its own stream only.

Tokens are compared in constant time and never logged.
"""

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path

INGEST_TOKEN_FILE = "ingest-token"
STREAM_KEYS_FILE = "stream-keys.json"


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_ingest_token(data_dir: Path) -> str:
    """The backend's ingest token (what a local studio reads to publish)."""
    return (data_dir / INGEST_TOKEN_FILE).read_text(encoding="utf-8").strip()


class StreamKeys:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        token_path = data_dir / INGEST_TOKEN_FILE
        if not token_path.exists():
            _write_private(token_path, secrets.token_urlsafe(32) + "\n")
        self._ingest_digest = _digest(read_ingest_token(data_dir))
        self._keys_path = data_dir / STREAM_KEYS_FILE
        self._stream_digests: dict[str, str] = {}
        if self._keys_path.exists():
            self._stream_digests = json.loads(self._keys_path.read_text(encoding="utf-8"))

    def is_ingest_token(self, token: str) -> bool:
        return hmac.compare_digest(_digest(token), self._ingest_digest)

    def may_publish(self, stream: str, token: str) -> bool:
        if self.is_ingest_token(token):
            return True
        expected = self._stream_digests.get(stream)
        return expected is not None and hmac.compare_digest(_digest(token), expected)

    def issue(self, stream: str) -> str:
        """A new key for `stream` (replacing any earlier one); shown once, stored hashed."""
        key = secrets.token_urlsafe(32)
        self._stream_digests[stream] = _digest(key)
        _write_private(self._keys_path, json.dumps(self._stream_digests, indent=1, sort_keys=True))
        return key
