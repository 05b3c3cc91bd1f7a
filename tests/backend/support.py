"""Helpers for backend tests: run a real uvicorn server in-process, sign in with SIWE."""

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection

from backend.app import create_app
from backend.config import BackendConfig
from backend.server import server_config
from backend.siwe import SiweMessage

DEVNET_CHAIN_ID = 1114
ROOT = Path(__file__).resolve().parents[2]


def listening_socket(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class RunningBackend:
    app: FastAPI | None  # None when the backend runs as a separate process
    url: str
    config: BackendConfig

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]


def _server(app: FastAPI, config: BackendConfig) -> uvicorn.Server:
    """The server the backend runs in (backend.server), quieter and quicker to stop."""
    return uvicorn.Server(
        server_config(app, config, log_level="warning", timeout_graceful_shutdown=2)
    )


@contextlib.asynccontextmanager
async def serve(config: BackendConfig, port: int = 0) -> AsyncIterator[RunningBackend]:
    """A real backend on a loopback port (free, or `port` to restart on the same one), in this
    event loop."""
    sock = listening_socket(port)
    port = sock.getsockname()[1]
    config = replace(config, host="127.0.0.1", port=port)
    app = create_app(config)
    server = _server(app, config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the backend stopped while starting")
        await asyncio.sleep(0.01)
    try:
        yield RunningBackend(app=app, url=f"http://127.0.0.1:{port}", config=config)
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def serve_process(config: BackendConfig, log_path: Path) -> AsyncIterator[RunningBackend]:
    """`python -m backend` as its own OS process (what an operator runs), on a free port."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "backend", "--port", str(port), "--log-level", "warning"]
    command += ["--database-url", config.database_url, "--data-dir", str(config.data_dir)]
    if config.redis_url:
        command += ["--redis-url", config.redis_url]
    env = {**os.environ, "HARMONIE_JWT_SECRET": config.jwt_secret or ""}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            for _ in range(300):
                if process.poll() is not None:
                    raise RuntimeError(f"backend process exited: {log_path.read_text()[-2000:]}")
                try:
                    if (await http.get(f"{url}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("backend process did not become healthy")
        yield RunningBackend(app=None, url=url, config=replace(config, port=port))
    finally:
        process.terminate()
        try:
            await asyncio.to_thread(process.wait, 15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def serve_in_thread(config: BackendConfig) -> Iterator[RunningBackend]:
    """The same, on its own thread and loop (for synchronous clients such as schemathesis)."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    config = replace(config, host="127.0.0.1", port=port)
    app = create_app(config)
    server = _server(app, config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        if not thread.is_alive():
            raise RuntimeError("the backend stopped while starting")
        threading.Event().wait(0.02)
    try:
        yield RunningBackend(app=app, url=f"http://127.0.0.1:{port}", config=config)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def siwe_message(
    backend: RunningBackend, account: LocalAccount, nonce: str, **overrides: Any
) -> SiweMessage:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "domain": backend.domain,
        "address": account.address,
        "statement": "Sign in to HarmonieCORE.",
        "uri": backend.url,
        "chain_id": DEVNET_CHAIN_ID,
        "nonce": nonce,
        "issued_at": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expiration_time": (now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    fields.update(overrides)
    return SiweMessage(**fields)


def sign(account: LocalAccount, text: str) -> str:
    signed = account.sign_message(encode_defunct(text=text))
    return "0x" + signed.signature.hex().removeprefix("0x")


async def sign_in(
    client: httpx.AsyncClient, backend: RunningBackend, account: LocalAccount | None = None
) -> tuple[LocalAccount, dict[str, Any]]:
    account = account or Account.create()
    nonce = (await client.get(f"{backend.url}/auth/nonce")).json()["nonce"]
    text = siwe_message(backend, account, nonce).to_text()
    response = await client.post(
        f"{backend.url}/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert response.status_code == 200, response.text
    return account, response.json()


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def make_profile(
    client: httpx.AsyncClient,
    backend: RunningBackend,
    role: str = "artist",
    name: str = "Nova",
    bio: str = "",
) -> tuple[LocalAccount, dict[str, Any]]:
    account, tokens = await sign_in(client, backend)
    response = await client.put(
        f"{backend.url}/profiles/{account.address}",
        json={"role": role, "display_name": name, "bio": bio},
        headers=bearer(tokens),
    )
    assert response.status_code == 200, response.text
    return account, tokens


async def next_frame(
    ws: ClientConnection, kind: str | None = None, timeout: float = 5.0
) -> dict[str, Any]:
    """The next frame (of `kind`, skipping others)."""
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if kind is None or data["type"] == kind:
            return data  # type: ignore[no-any-return]


async def upload(
    client: httpx.AsyncClient, backend: RunningBackend, tokens: dict[str, Any], data: bytes
) -> str:
    """Store `data` in the backend's content store as the signed-in account; its CID."""
    response = await client.post(
        f"{backend.url}/api/v0/add",
        params={"cid-version": "1"},
        files={"file": ("track.bin", data)},
        headers=bearer(tokens),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["Hash"])


def cid(n: int) -> str:
    """A syntactically valid CIDv1 (base32) that is distinct per n."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    body = ""
    while n or len(body) < 8:
        body += alphabet[n % 32]
        n //= 32
    return "bafkrei" + body.ljust(52, "a")
