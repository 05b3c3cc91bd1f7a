"""The `local` profile's backend: `harmonie-backend` as a child process on 127.0.0.1."""

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from studio.errors import BackendStartError
from studio.logs import event

log = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _still_starting(response: httpx.Response) -> bool:
    """The devnet deploys its contracts after the server answers: wait for that too."""
    try:
        components = response.json().get("components", {})
    except ValueError:
        return False
    return any(c.get("status") == "starting" for c in components.values() if isinstance(c, dict))


class LocalBackend:
    """Starts the backend on a free loopback port with SQLite in the user data dir; stops it."""

    def __init__(self, data_dir: Path, log_dir: Path, host: str = "127.0.0.1") -> None:
        self.data_dir = data_dir
        self.log_path = log_dir / "backend.log"
        self.host = host
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("backend not started")
        return f"http://{self.host}:{self.port}"

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.data_dir / 'backend.db'}"

    async def start(self, attempts: int = 3) -> str:
        """Start and wait for /health. Retries on another port if the chosen one was taken."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        last_error: BackendStartError | None = None
        for _ in range(attempts):
            try:
                return await self._start_once(free_port(self.host))
            except BackendStartError as exc:
                last_error = exc
                await self.stop()
        assert last_error is not None
        raise last_error

    async def _start_once(self, port: int) -> str:
        self.port = port
        cmd = [
            sys.executable,
            "-m",
            "backend",
            "--host",
            self.host,
            "--port",
            str(port),
            "--database-url",
            self.database_url,
            "--data-dir",
            str(self.data_dir),
            "--local",
        ]
        log_file = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child process
        try:
            self.process = subprocess.Popen(
                cmd,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # HARMONIE_DEVNET: this backend also serves the local devnet chain
                env={**os.environ, "PYTHONUNBUFFERED": "1", "HARMONIE_DEVNET": "1"},
            )
        finally:
            log_file.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise BackendStartError(
                        f"The local backend stopped while starting (exit code "
                        f"{self.process.returncode}): {self._log_tail()}"
                    )
                try:
                    response = await client.get(f"{self.url}/health")
                    if response.status_code == 200 and not _still_starting(response):
                        event(log, "backend_started", url=self.url, pid=self.process.pid)
                        return self.url
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
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        for _ in range(50):
            if process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        else:
            process.kill()
            process.wait()
        event(log, "backend_stopped", pid=process.pid, returncode=process.returncode)
