"""`harmonie-backend` as a process: a fresh SQLite file just works (migrations at startup)."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from alembic.script import ScriptDirectory
from eth_account import Account

from backend.database import MIGRATIONS
from backend.siwe import SiweMessage
from tests.backend.conftest import free_port
from tests.backend.support import sign

ROOT = Path(__file__).resolve().parents[2]


def _start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--port", str(port), "--data-dir", str(tmp_path), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "HARMONIE_JWT_SECRET": "cli-test-secret-0123456789abcdef"},
    )
    return process, port


def _wait_healthy(process: subprocess.Popen[bytes], port: int) -> dict:  # type: ignore[type-arg]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            if response.status_code == 200:
                return response.json()  # type: ignore[no-any-return]
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("backend did not become healthy")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def test_fresh_sqlite_file_is_migrated_and_serves_sign_in(tmp_path: Path) -> None:
    db = tmp_path / "fresh.db"
    process, port = _start(
        tmp_path, "--database-url", f"sqlite+aiosqlite:///{db}", "--chain-id", "1114"
    )
    try:
        health = _wait_healthy(process, port)
        assert health["status"] == "ok"
        assert health["components"]["database"]["status"] == "ok"
        assert health["components"]["redis"]["status"] == "disabled"
        assert set(health["components"]) >= {"database", "redis", "relay"}

        account = Account.create()
        nonce = httpx.get(f"http://127.0.0.1:{port}/auth/nonce").json()["nonce"]
        text = SiweMessage(
            domain=f"127.0.0.1:{port}",
            address=account.address,
            uri=f"http://127.0.0.1:{port}/",
            chain_id=1114,
            nonce=nonce,
            issued_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        ).to_text()
        response = httpx.post(
            f"http://127.0.0.1:{port}/auth/verify",
            json={"message": text, "signature": sign(account, text)},
        )
        assert response.status_code == 200, response.text
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert 'harmonie_http_requests_total{method="POST",status="200"} 1' in metrics.text
    finally:
        _stop(process)
    with sqlite3.connect(db) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        assert revision == ScriptDirectory(str(MIGRATIONS)).get_current_head()


@pytest.mark.parametrize("url", ["postgresql+asyncpg://nobody@127.0.0.1:1/none"])
def test_unreachable_database_fails_with_a_clear_message(tmp_path: Path, url: str) -> None:
    process, _ = _start(tmp_path, "--database-url", url)
    output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert b"cannot prepare the database postgresql+asyncpg://nobody@127.0.0.1:1/none" in output
