"""The embedded devnet in a process of its own, answering the same calls over a pipe.

py-evm is pure Python: while it mines a block or scans logs it holds the GIL, and a thread
waiting on a socket gets it back only at the interpreter's switch interval, after every
system call (CPython's convoy effect). In the local backend that waiting thread is the one
relaying the show: measured here, a devnet thread busy with transfers and `eth_getLogs` cut
the event loop's UDP rate from 4,200 to 1,200 packets/s and stretched a loop turn to 145 ms,
and in a 30-minute soak the studio lost its ingest's receiver reports for 4 s (and
reconnected) right after fans' tips. In a child process the chain has its own GIL; the
backend's thread only waits on the pipe, which releases it.

The child builds the chain (from its store, deploying contracts it lacks) and then serves
calls one at a time; it ends when the pipe closes, so it never outlives its parent, however
the parent ends.
"""

import logging
import multiprocessing
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from chain.errors import ChainError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0


class DevnetProcessError(ChainError):
    """The devnet's process failed to start, or a call failed in it."""


@dataclass(frozen=True)
class DevnetInfo:
    chain_id: int
    contracts: dict[str, str]
    account_addresses: list[str]
    instance_id: str
    notice: str | None


def _serve(conn: Connection, store_path: Path | None) -> None:
    from chain.devnet import Devnet  # web3 + py-evm: loaded in the child only

    try:
        devnet = Devnet(store_path=store_path)
        # a new chain, one stopped before they were deployed, or one stored by a version that
        # had fewer contracts
        if devnet.missing_contracts():
            devnet.deploy_contracts()
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(
        (
            "ready",
            DevnetInfo(
                devnet.chain_id,
                dict(devnet.contracts),
                [a.address for a in devnet.accounts],
                devnet.instance_id,
                devnet.notice,
            ),
        )
    )
    calls = {"handle": devnet.handle, "fund": devnet.fund, "block_number": devnet.block_number}
    try:
        while True:
            try:
                name, args = conn.recv()
            except EOFError:  # the parent is gone or closed us
                return
            try:
                conn.send((True, calls[name](*args)))
            except Exception as exc:
                conn.send((False, f"{type(exc).__name__}: {exc}"))
    finally:
        devnet.close()


class DevnetProcess:
    """A `chain.devnet.Devnet` running in a child process. Blocking calls: use from a worker
    thread, never from an event loop."""

    def __init__(self, store_path: Path | None = None) -> None:
        context = multiprocessing.get_context("spawn")  # no fork of a threaded parent
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, store_path), name="harmonie-devnet", daemon=True
        )
        self._process.start()
        child.close()
        self._lock = threading.Lock()
        if not self._conn.poll(START_TIMEOUT_S):
            self.close()
            raise DevnetProcessError(f"the devnet did not start within {START_TIMEOUT_S:.0f} s")
        try:
            kind, value = self._conn.recv()
        except EOFError:
            self.close()
            raise DevnetProcessError(
                f"the devnet's process ended while starting (exit code {self._process.exitcode})"
            ) from None
        if kind != "ready":
            self.close()
            raise DevnetProcessError(value)
        self.info: DevnetInfo = value
        self.chain_id = self.info.chain_id
        self.contracts = self.info.contracts
        self.instance_id = self.info.instance_id
        self.notice = self.info.notice

    @property
    def pid(self) -> int | None:
        return self._process.pid

    def _call(self, name: str, *args: Any) -> Any:
        with self._lock:
            try:
                self._conn.send((name, args))
                ok, value = self._conn.recv()
            except (EOFError, OSError) as exc:
                raise DevnetProcessError(
                    f"the devnet's process is gone (exit code {self._process.exitcode})"
                ) from exc
        if not ok:
            raise DevnetProcessError(value)
        return value

    def handle(self, request: Any) -> Any:
        """Answer one JSON-RPC request object or a batch, as `Devnet.handle`."""
        return self._call("handle", request)

    def fund(self, address: str, wei: int) -> str:
        return str(self._call("fund", address, wei))

    def block_number(self) -> int:
        return int(self._call("block_number"))

    def close(self, timeout: float = 10.0) -> None:
        """End the child: it commits and closes its store when the pipe closes."""
        with self._lock:
            self._conn.close()
        self._process.join(timeout)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(5)
