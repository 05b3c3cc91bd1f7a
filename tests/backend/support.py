"""Helpers for backend tests: run a real uvicorn server in-process, sign in with SIWE."""

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from backend.app import create_app
from backend.config import BackendConfig
from harness.backend_session import (  # noqa: F401 - the backend tests' vocabulary
    DEVNET_CHAIN_ID,
    listening_socket,
    next_frame,
    quiet_server,
    serve,
    sign,
    sign_in_tokens,
    siwe_message,
)
from harness.backend_session import Backend as RunningBackend

ROOT = Path(__file__).resolve().parents[2]


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
    server = quiet_server(app, config)
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


async def sign_in(
    client: httpx.AsyncClient, backend: RunningBackend, account: LocalAccount | None = None
) -> tuple[LocalAccount, dict[str, Any]]:
    account = account or Account.create()
    return account, await sign_in_tokens(client, backend, account)


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def make_profile(
    client: httpx.AsyncClient,
    backend: RunningBackend,
    role: str = "artist",
    name: str = "Nova",
    bio: str = "",
    account: LocalAccount | None = None,
) -> tuple[LocalAccount, dict[str, Any]]:
    account, tokens = await sign_in(client, backend, account)
    response = await client.put(
        f"{backend.url}/profiles/{account.address}",
        json={"role": role, "display_name": name, "bio": bio},
        headers=bearer(tokens),
    )
    assert response.status_code == 200, response.text
    return account, tokens


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
