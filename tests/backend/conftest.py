"""Backend fixtures: a real backend (uvicorn, SQLite) per test; real PostgreSQL and Redis
servers (Debian packages) started once per session on free loopback ports."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.config import BackendConfig
from studio.local_backend import free_port
from tests.backend.support import RunningBackend, serve

PG_BIN = Path("/usr/lib/postgresql/15/bin")
JWT_SECRET = "test-secret-for-backend-tests-only-0123456789"


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 30
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode} while starting")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port} within {timeout} s")


@pytest.fixture
def backend_config(tmp_path: Path) -> BackendConfig:
    return BackendConfig(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'backend.db'}",
        data_dir=tmp_path,
        jwt_secret=JWT_SECRET,
        chat_history=20,
    )


@pytest.fixture
async def backend(backend_config: BackendConfig) -> AsyncIterator[RunningBackend]:
    async with serve(backend_config) as running:
        yield running


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: drop to `nobody` when we are root."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "nobody", "--", *cmd]


def create_database(postgres_url: str, name: str) -> str:
    """A new, empty database `name` on the session's PostgreSQL; its URL."""
    port = postgres_url.rsplit(":", 1)[1].split("/")[0]
    subprocess.run(
        _as_postgres_user(
            [str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", name]
        ),
        check=True,
        capture_output=True,
    )
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not (PG_BIN / "postgres").exists():
        pytest.skip(f"PostgreSQL server binaries are not installed ({PG_BIN})")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
    base = Path(tempfile.mkdtemp(prefix="harmonie-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        os.chmod(base, 0o755)
        shutil.chown(base, "nobody", "nogroup")
    port = free_port()
    subprocess.run(
        _as_postgres_user(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
            ]
        ),
        check=True,
        capture_output=True,
    )
    log = open(base / "postgres.log", "wb")  # noqa: SIM115 - owned by the server process
    process = subprocess.Popen(
        _as_postgres_user(
            [
                str(PG_BIN / "postgres"),
                "-D", str(data),
                "-p", str(port),
                "-c", "listen_addresses=127.0.0.1",
                "-c", f"unix_socket_directories={base}",
                "-c", "fsync=off",
                "-c", "max_connections=200",
            ]
        ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for_port(port, process, "postgres")
        for _ in range(100):  # listening is not accepting: wait for "ready"
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                capture_output=True,
            )
            if ready.returncode == 0:
                break
            time.sleep(0.1)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{port}/postgres"
    finally:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    base = Path(tempfile.mkdtemp(prefix="harmonie-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(base)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for_port(port, process, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(base, ignore_errors=True)
