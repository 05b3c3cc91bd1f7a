"""The `local` profile's backend: `harmonie-studio backend` as a child process on 127.0.0.1.

A child process, not a thread of the studio: a crash or a blocking call in the backend
cannot take the window down, and the backend's event loop never competes with Qt's.

The backend ends with the process that started it, however that one ends: it watches the
pipe on its standard input (backend.lifeline), which the kernel closes when we die. One
database has one backend: the backend locks an instance file in the data dir for its whole
life (backend.instance). A studio that finds one running there adopts it while the studio
that started it still runs (the window, and `publish` beside it), and otherwise ends it
before starting its own.
"""

import asyncio
import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx

from backend import instance as backend_instance
from studio.errors import BackendStartError
from studio.logs import event

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
INSTANCE_FILE = "backend.instance"
START_LOCK_FILE = "backend.start.lock"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def backend_command() -> list[str]:
    """How to run `harmonie-studio backend`: from the frozen app its own executable, from a
    checkout the same entry point through this interpreter. One path for both."""
    if getattr(sys, "frozen", False):
        return [sys.executable, "backend"]
    return [sys.executable, "-m", "widgets.main", "backend"]


def _still_starting(response: httpx.Response) -> bool:
    """The devnet deploys its contracts after the server answers: wait for that too."""
    try:
        components = response.json().get("components", {})
    except ValueError:
        return False
    return any(c.get("status") == "starting" for c in components.values() if isinstance(c, dict))


class LocalBackend:
    """Starts the backend on a free loopback port with SQLite in the user data dir; stops it."""

    def __init__(
        self,
        data_dir: Path,
        log_dir: Path,
        host: str = "127.0.0.1",
        registry: tuple[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        # (RPC URL, content registry address) of the chain the studio registers on, when it
        # is not the devnet this backend serves: listings are checked against that registry.
        self.registry = registry
        self.log_path = log_dir / "backend.log"
        self.host = host
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.adopted: backend_instance.Instance | None = None  # another studio's, still running

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("backend not started")
        return f"http://{self.host}:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'backend.db'}"

    @property
    def instance_path(self) -> Path:
        return self.data_dir / INSTANCE_FILE

    async def start(self, attempts: int = 3) -> str:
        """Adopt or end a backend already on this database, else start one and wait for
        /health. Retries on another port if the chosen one was taken."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        async with self._start_lock():
            found = await asyncio.to_thread(backend_instance.running, self.instance_path)
            if found is not None:
                url = await self._adopt_or_end(found)
                if url is not None:
                    return url
            last_error: BackendStartError | None = None
            for _ in range(attempts):
                try:
                    return await self._start_once(free_port(self.host))
                except BackendStartError as exc:
                    last_error = exc
                    await self.stop()
            assert last_error is not None
            raise last_error

    @contextlib.asynccontextmanager
    async def _start_lock(self) -> AsyncIterator[None]:
        """Studios starting at once on one data dir take turns: the second one adopts."""
        fd = os.open(self.data_dir / START_LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S * 2
            while not backend_instance.try_lock(fd):
                if time.monotonic() > deadline:
                    raise BackendStartError(
                        "Another studio has been starting the local backend for "
                        f"{START_TIMEOUT_S * 2:.0f} s; quit it and try again."
                    )
                await asyncio.sleep(0.1)
            yield
        finally:
            os.close(fd)  # closing drops the lock

    async def _adopt_or_end(self, found: backend_instance.Instance) -> str | None:
        """The backend's URL if we adopt it; None once it is ended (start a new one)."""
        if not backend_instance.orphaned(found) and found.database_url == self.database_url:
            self.port = found.port
            try:
                await self._wait_ready(lambda: backend_instance.process_alive(found.pid))
            except BackendStartError as exc:
                log.warning("the running backend (pid %s) does not answer: %s", found.pid, exc)
                self.port = None
            else:
                self.adopted = found
                event(log, "backend_adopted", url=self.url, pid=found.pid, owner=found.parent_pid)
                return self.url
        if not await asyncio.to_thread(backend_instance.end, found, self.instance_path):
            raise BackendStartError(
                f"A local backend (pid {found.pid}) still holds {self.data_dir} and cannot be "
                "stopped; end it and start the studio again."
            )
        event(log, "stale_backend_ended", pid=found.pid, port=found.port, owner=found.parent_pid)
        return None

    async def _start_once(self, port: int) -> str:
        self.port = port
        cmd = [
            *backend_command(),
            "--host",
            self.host,
            "--port",
            str(port),
            "--database-url",
            self.database_url,
            "--data-dir",
            str(self.data_dir),
            "--local",
            "--exit-with-stdin",  # our end of its stdin pipe closes when we die: it ends too
            "--instance-file",
            str(self.instance_path),
        ]
        if self.registry is not None:
            cmd += ["--registry-rpc-url", self.registry[0], "--content-registry", self.registry[1]]
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self.process = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE,  # the lifeline: kept open, never written
                # HARMONIE_DEVNET: this backend also serves the local devnet chain
                env={**os.environ, "PYTHONUNBUFFERED": "1", "HARMONIE_DEVNET": "1"},
            )
        finally:
            log_file.close()
        process = self.process
        await self._wait_ready(lambda: process.poll() is None)
        event(log, "backend_started", url=self.url, pid=process.pid)
        return self.url

    async def _wait_ready(self, alive: Callable[[], bool]) -> None:
        """Until /health answers with everything started; BackendStartError if the process
        ends first or it takes longer than START_TIMEOUT_S."""
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if not alive():
                    code = self.process.returncode if self.process is not None else None
                    raise BackendStartError(
                        f"The local backend stopped while starting (exit code {code}): "
                        f"{self._log_tail()}"
                    )
                try:
                    response = await client.get(f"{self.url}/health")
                    if response.status_code == 200 and not _still_starting(response):
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise BackendStartError(
            f"The local backend did not answer within {START_TIMEOUT_S:.0f} s: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no backend log)"
        return " | ".join(text[-lines:]) or "(backend printed nothing)"

    async def stop(self) -> None:
        """Stop the backend we started; an adopted one is left to the studio that owns it."""
        if self.adopted is not None:
            event(log, "backend_released", pid=self.adopted.pid)
            self.adopted = None
            self.port = None
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is not None:
            self._close_lifeline(process)
            return
        process.terminate()
        for _ in range(50):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            process.kill()
            process.wait()
        self._close_lifeline(process)
        event(log, "backend_stopped", pid=process.pid, returncode=process.returncode)

    @staticmethod
    def _close_lifeline(process: subprocess.Popen[bytes]) -> None:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
