"""Sign-In with Ethereum (EIP-4361): the message format, parsing, rendering and verification.

Implemented from the specification's ABNF rather than the `siwe` package (which cannot be
installed next to web3 8). Parsing is strict: a message that does not match the grammar line
for line is refused, because the text the wallet showed the person is what was signed.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import to_checksum_address

HEADER_SUFFIX = " wants you to sign in with your Ethereum account:"
MAX_MESSAGE_CHARS = 4096
CLOCK_SKEW = timedelta(seconds=60)

_UNRESERVED = r"A-Za-z0-9\-._~"
_SUB_DELIMS = r"!$&'()*+,;="
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+\-.]*")
_AUTHORITY = re.compile(
    rf"(?:[{_UNRESERVED}%{_SUB_DELIMS}:]*@)?"
    rf"(?:\[[0-9A-Fa-f:.]+\]|[{_UNRESERVED}%{_SUB_DELIMS}]+)"
    r"(?::[0-9]*)?"
)
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_STATEMENT = re.compile(rf"[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@ ]+")
_URI = re.compile(rf"[A-Za-z][A-Za-z0-9+\-.]*:[{_UNRESERVED}{_SUB_DELIMS}:/?#\[\]@%]*")
_NONCE = re.compile(r"[A-Za-z0-9]{8,}")
_CHAIN_ID = re.compile(r"[0-9]{1,20}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)
_REQUEST_ID = re.compile(rf"[{_UNRESERVED}%{_SUB_DELIMS}:@]*")


class SiweError(ValueError):
    """Why a message was refused. `code` is stable (for clients and tests), str() is for people."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def parse_datetime(value: str) -> datetime:
    if not _DATE_TIME.fullmatch(value):
        raise SiweError("malformed", f"not an RFC 3339 date-time: {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise SiweError("malformed", f"not a valid date-time: {value!r}") from exc


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: str
    version: str = "1"
    statement: str | None = None
    scheme: str | None = None
    expiration_time: str | None = None
    not_before: str | None = None
    request_id: str | None = None
    resources: tuple[str, ...] = field(default_factory=tuple)

    def to_text(self) -> str:
        """The exact text a wallet signs (EIP-4361 ABNF)."""
        origin = f"{self.scheme}://{self.domain}" if self.scheme else self.domain
        lines = [origin + HEADER_SUFFIX, self.address, ""]
        if self.statement is not None:
            lines.append(self.statement)
        lines += [
            "",
            f"URI: {self.uri}",
            f"Version: {self.version}",
            f"Chain ID: {self.chain_id}",
            f"Nonce: {self.nonce}",
            f"Issued At: {self.issued_at}",
        ]
        if self.expiration_time is not None:
            lines.append(f"Expiration Time: {self.expiration_time}")
        if self.not_before is not None:
            lines.append(f"Not Before: {self.not_before}")
        if self.request_id is not None:
            lines.append(f"Request ID: {self.request_id}")
        if self.resources:
            lines.append("Resources:")
            lines += [f"- {resource}" for resource in self.resources]
        return "\n".join(lines)

    @classmethod
    def parse(cls, text: str) -> "SiweMessage":
        if len(text) > MAX_MESSAGE_CHARS:
            raise SiweError("malformed", "the message is too long")
        return _Parser(text.split("\n")).message()


class _Parser:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.at = 0

    def _next(self, what: str) -> str:
        if self.at >= len(self.lines):
            raise SiweError("malformed", f"the message ends before {what}")
        line = self.lines[self.at]
        self.at += 1
        return line

    def _peek(self) -> str | None:
        return self.lines[self.at] if self.at < len(self.lines) else None

    def _field(self, label: str, pattern: re.Pattern[str]) -> str:
        line = self._next(f"'{label}:'")
        prefix = f"{label}: "
        if not line.startswith(prefix):
            raise SiweError("malformed", f"expected '{label}:' on line {self.at}")
        value = line[len(prefix) :]
        if not pattern.fullmatch(value):
            raise SiweError("malformed", f"invalid {label}: {value[:80]!r}")
        return value

    def _optional(self, label: str, pattern: re.Pattern[str]) -> str | None:
        line = self._peek()
        if line is None or not line.startswith(f"{label}: "):
            return None
        return self._field(label, pattern)

    def message(self) -> SiweMessage:
        header = self._next("the header")
        if not header.endswith(HEADER_SUFFIX):
            raise SiweError("malformed", "not a Sign-In with Ethereum message")
        origin = header[: -len(HEADER_SUFFIX)]
        scheme, _, domain = origin.rpartition("://")
        if scheme and not _SCHEME.fullmatch(scheme):
            raise SiweError("malformed", "invalid scheme")
        if not _AUTHORITY.fullmatch(domain):
            raise SiweError("malformed", "invalid domain")
        address = self._next("the address")
        if not _ADDRESS.fullmatch(address):
            raise SiweError("malformed", "invalid address")
        if address != to_checksum_address(address):
            raise SiweError("malformed", "the address is not EIP-55 checksummed")
        if self._next("the blank line") != "":
            raise SiweError("malformed", "expected a blank line after the address")
        statement: str | None = None
        line = self._next("the statement")
        if line != "":
            if not _STATEMENT.fullmatch(line):
                raise SiweError("malformed", "invalid statement")
            statement = line
            if self._next("the blank line") != "":
                raise SiweError("malformed", "expected a blank line after the statement")
        uri = self._field("URI", _URI)
        version = self._field("Version", re.compile("1"))
        chain_id = int(self._field("Chain ID", _CHAIN_ID))
        nonce = self._field("Nonce", _NONCE)
        issued_at = self._field("Issued At", _DATE_TIME)
        expiration_time = self._optional("Expiration Time", _DATE_TIME)
        not_before = self._optional("Not Before", _DATE_TIME)
        request_id = self._optional("Request ID", _REQUEST_ID)
        resources: list[str] = []
        if self._peek() == "Resources:":
            self.at += 1
            while (line := self._peek()) is not None and line.startswith("- "):
                if not _URI.fullmatch(line[2:]):
                    raise SiweError("malformed", f"invalid resource: {line[2:80]!r}")
                resources.append(line[2:])
                self.at += 1
        if self.at != len(self.lines):
            raise SiweError("malformed", f"unexpected text on line {self.at + 1}")
        for stamp in (issued_at, expiration_time, not_before):
            if stamp is not None:
                parse_datetime(stamp)
        return SiweMessage(
            domain=domain,
            address=address,
            uri=uri,
            version=version,
            chain_id=chain_id,
            nonce=nonce,
            issued_at=issued_at,
            statement=statement,
            scheme=scheme or None,
            expiration_time=expiration_time,
            not_before=not_before,
            request_id=request_id,
            resources=tuple(resources),
        )


def recover_signer(text: str, signature: str) -> str:
    """The EIP-191 (personal_sign) signer of `text`; SiweError if the signature is unusable."""
    try:
        return Account.recover_message(encode_defunct(text=text), signature=signature)
    except Exception as exc:  # malformed r/s/v raise assorted errors from eth_keys
        raise SiweError("signature", "the signature is not valid") from exc


def verify(
    text: str,
    signature: str,
    *,
    domains: tuple[str, ...],
    chain_ids: tuple[int, ...],
    now: datetime,
    max_age: timedelta,
) -> SiweMessage:
    """Check everything but the nonce's freshness (that needs the store). Returns the message."""
    message = SiweMessage.parse(text)
    if message.domain not in domains:
        raise SiweError("domain", f"the message is for {message.domain!r}, not this server")
    if message.scheme is not None and message.scheme not in ("http", "https"):
        raise SiweError("domain", "the message's scheme must be http or https")
    uri = urlsplit(message.uri)
    if uri.scheme not in ("http", "https") or uri.netloc != message.domain:
        raise SiweError("uri", "the message's URI is not on its domain")
    if message.chain_id not in chain_ids:
        raise SiweError("chain_id", f"chain id {message.chain_id} is not accepted here")
    issued_at = parse_datetime(message.issued_at)
    if issued_at > now + CLOCK_SKEW:
        raise SiweError("issued_at", "the message was issued in the future")
    if issued_at < now - max_age:
        raise SiweError("expired", "the message was issued too long ago")
    if message.expiration_time is not None and parse_datetime(message.expiration_time) <= now:
        raise SiweError("expired", "the message has expired")
    if message.not_before is not None and parse_datetime(message.not_before) > now + CLOCK_SKEW:
        raise SiweError("not_yet_valid", "the message is not valid yet")
    if recover_signer(text, signature) != message.address:
        raise SiweError("signature", "the signature was not made by the message's address")
    return message
