"""One show's go-live mail to many followers, with the backend stopped in the middle and
started again on the same data dir: what tests/backend/test_mail_restart.py asserts and
bench/notify.py measures. The backend runs as its own process (`python -m backend`), the SMTP
server is aiosmtpd on loopback (harness.smtp_inbox)."""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from eth_account import Account
from eth_utils import to_checksum_address

from harness.backend_session import Backend, sign_in_tokens
from harness.smtp_inbox import Inbox, smtp_server
from studio.local_backend import free_port

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "mail-fanout-secret-0123456789abcdef"


@dataclass
class FanoutResult:
    followers: int
    delivered: dict[str, int]  # recipient -> mails received
    latencies_s: list[float]  # announcement -> first mail, per recipient reached
    at_restart: int  # recipients reached when the first backend had stopped
    restart_gap_s: float  # the first backend stopped -> the next mail (from the second)

    @property
    def lost(self) -> int:
        return self.followers - len(self.delivered)

    @property
    def repeated(self) -> int:
        return sum(count - 1 for count in self.delivered.values())


def _start(
    data_dir: Path, port: int, smtp_port: int, log: Path, extra: Sequence[str]
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "backend", "--port", str(port), "--data-dir", str(data_dir),
        "--log-level", "warning", "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port),
        "--smtp-security", "none", "--golive-mail-delay", "0", "--mail-retry-max", "1",
        *extra,
    ]  # fmt: skip
    env = {**os.environ, "HARMONIE_JWT_SECRET": JWT_SECRET}
    with open(log, "ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)


async def _healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as http:
        for _ in range(600):
            if process.poll() is not None:
                raise RuntimeError(f"the backend exited: {log.read_text()[-2000:]}")
            try:
                if (await http.get(f"{url}/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the backend did not become healthy")


def _stop(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    if process.poll() is None:
        process.send_signal(how)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def seed_followers(db: Path, artist: str, count: int) -> list[str]:
    """`count` followers of `artist`, each with an email address and go-live mails on."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores it
    emails, follows, prefs = [], [], []
    for i in range(count):
        address = to_checksum_address(os.urandom(20).hex())
        email = f"fan{i}@fans.example"
        emails.append(email)
        follows.append((address, artist, now))
        prefs.append((address, email, True, True, 0, now))
    with sqlite3.connect(db, timeout=30) as conn:
        conn.executemany(
            "INSERT INTO follows (follower, artist, created_at) VALUES (?, ?, ?)", follows
        )
        conn.executemany(
            "INSERT INTO mail_prefs (address, email, live, releases, bounces, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            prefs,
        )
    conn.close()
    return emails


def _unsettled(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        (count,) = conn.execute(
            "SELECT count(*) FROM mail_outbox WHERE status IN ('pending', 'sending')"
        ).fetchone()
    conn.close()
    return int(count)


async def fanout_across_restart(
    workdir: Path,
    followers: int,
    *,
    stop_with: signal.Signals = signal.SIGTERM,
    stop_after: int = 200,
    extra: Sequence[str] = (),
    timeout_s: float = 300.0,
) -> FanoutResult:
    """Announce a show to `followers` mail subscribers; stop the backend with `stop_with` once
    `stop_after` have their mail; start it again; wait until the outbox is settled."""
    data_dir, log = workdir / "backend", workdir / "backend.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    db = data_dir / "backend.db"
    inbox, smtp_port = Inbox(), free_port()
    with smtp_server(inbox, smtp_port):
        port = free_port()
        first = _start(data_dir, port, smtp_port, log, extra)
        try:
            url = f"http://127.0.0.1:{port}"
            await _healthy(url, first, log)
            artist = Account.create()
            async with httpx.AsyncClient(timeout=30) as client:
                tokens = await sign_in_tokens(client, Backend(app=None, url=url), artist)
                auth = {"Authorization": f"Bearer {tokens['access_token']}"}
                profile = await client.put(
                    f"{url}/profiles/{artist.address}",
                    json={"role": "artist", "display_name": "Nova"},
                    headers=auth,
                )
                profile.raise_for_status()
                await asyncio.to_thread(seed_followers, db, artist.address, followers)
                announced = time.time()
                live = await client.post(f"{url}/streams", json={"title": "Live"}, headers=auth)
                live.raise_for_status()
            deadline = time.monotonic() + timeout_s
            while len(inbox.counts()) < stop_after and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
        finally:
            await asyncio.to_thread(_stop, first, stop_with)
        at_restart = len(inbox.counts())
        stopped = time.time()

        port = free_port()
        second = _start(data_dir, port, smtp_port, log, extra)
        try:
            await _healthy(f"http://127.0.0.1:{port}", second, log)
            while await asyncio.to_thread(_unsettled, db) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            await asyncio.to_thread(_stop, second, signal.SIGTERM)
    first_mail: dict[str, float] = {}
    for delivery in inbox.deliveries:
        first_mail.setdefault(delivery.to, delivery.at)
    return FanoutResult(
        followers=followers,
        delivered=dict(inbox.counts()),
        latencies_s=[at - announced for at in first_mail.values()],
        at_restart=at_restart,
        restart_gap_s=min((d.at for d in inbox.deliveries if d.at > stopped), default=stopped)
        - stopped,
    )
