"""Malware scanning of uploaded files, behind a small `Scanner` interface. Its real
implementation speaks ClamAV's clamd protocol (INSTREAM) over a Unix or TCP socket.

A scanner that cannot answer refuses the upload (fail closed): a file is never stored
unscanned when a scanner is configured. clamd's StreamMaxLength must be at least the largest
upload the store takes, or large files are refused as unscannable.
"""

import asyncio
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

CHUNK = 256 * 1024
TIMEOUT_S = 120.0


class ScannerUnavailable(Exception):
    """The scanner could not give a verdict; str() says why."""


@dataclass(frozen=True)
class Verdict:
    clean: bool
    signature: str | None = None  # what was found, when not clean


class Scanner(Protocol):
    async def scan(self, path: Path) -> Verdict:
        """The verdict on the file at `path`; ScannerUnavailable if there is none."""
        ...


class ClamdScanner:
    """clamd at `address`: a Unix socket path (`/run/clamav/clamd.ctl`) or `host:port`."""

    def __init__(self, address: str, timeout_s: float = TIMEOUT_S) -> None:
        self.address = address
        self.timeout_s = timeout_s

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.address.startswith("/"):
            return await asyncio.open_unix_connection(self.address)
        host, _, port = self.address.rpartition(":")
        return await asyncio.open_connection(host, int(port))

    async def scan(self, path: Path) -> Verdict:
        try:
            async with asyncio.timeout(self.timeout_s):
                answer = await self._instream(_chunks(path))
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            raise ScannerUnavailable(
                f"the malware scanner (clamd at {self.address}) is not answering "
                f"({exc.__class__.__name__}: {exc})"
            ) from None
        # "stream: OK", "stream: <signature> FOUND", or "<reason> ERROR"
        if answer.endswith(" FOUND"):
            return Verdict(False, answer.removeprefix("stream: ").removesuffix(" FOUND"))
        if answer == "stream: OK":
            return Verdict(True)
        raise ScannerUnavailable(f"the malware scanner (clamd) could not scan it: {answer}")

    async def _instream(self, chunks: AsyncIterator[bytes]) -> str:
        reader, writer = await self._connect()
        try:
            writer.write(b"zINSTREAM\0")
            async for chunk in chunks:
                writer.write(struct.pack("!L", len(chunk)) + chunk)
                await writer.drain()
            writer.write(struct.pack("!L", 0))
            await writer.drain()
            answer = await reader.readuntil(b"\0")
        finally:
            writer.close()
        return answer.rstrip(b"\0").decode("utf-8", "replace").strip()


async def _chunks(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while data := await asyncio.to_thread(f.read, CHUNK):
            yield data
