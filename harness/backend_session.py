"""A client's view of a real backend: serve one (uvicorn, SQLite) in this event loop, sign in
with SIWE, and read the notifications WebSocket. Used by the tip tests and bench/tips.py.
"""

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect

from backend.app import create_app
from backend.config import BackendConfig
from backend.server import server_config
from backend.siwe import SiweMessage

DEVNET_CHAIN_ID = 1114


def listening_socket(port: int = 0) -> socket.socket:
    """A loopback TCP listener for uvicorn. Its protocol is said (IPPROTO_TCP) because asyncio
    turns Nagle off only on sockets that say it: with proto 0 every small response body
    waited 40 ms for the client's delayed ACK, which the backend as run (on uvicorn's own
    socket) never does."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@dataclass
class Backend:
    app: FastAPI | None  # None when the backend runs as a separate process
    url: str
    config: BackendConfig | None = None

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]

    @property
    def domain(self) -> str:
        return self.url.split("://", 1)[1]


def quiet_server(app: FastAPI, config: BackendConfig) -> uvicorn.Server:
    """The server the backend runs in (backend.server), quieter and quicker to stop."""
    return uvicorn.Server(
        server_config(app, config, log_level="warning", timeout_graceful_shutdown=2)
    )


@contextlib.asynccontextmanager
async def serve(config: BackendConfig, port: int = 0) -> AsyncIterator[Backend]:
    """A real backend on a loopback port (free, or `port` to restart on the same one), in this
    event loop."""
    sock = listening_socket(port)
    port = sock.getsockname()[1]
    config = replace(config, host="127.0.0.1", port=port)
    app = create_app(config)
    server = quiet_server(app, config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the backend stopped while starting")
        await asyncio.sleep(0.01)
    try:
        yield Backend(app=app, url=f"http://127.0.0.1:{port}", config=config)
    finally:
        server.should_exit = True
        await task
        sock.close()


def siwe_message(
    backend: Backend, account: LocalAccount, nonce: str, **overrides: Any
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


async def sign_in_tokens(
    client: httpx.AsyncClient, backend: Backend, account: LocalAccount
) -> dict[str, Any]:
    """The backend's token answer for `account` (Sign-In with Ethereum)."""
    nonce = (await client.get(f"{backend.url}/auth/nonce")).json()["nonce"]
    text = siwe_message(backend, account, nonce).to_text()
    response = await client.post(
        f"{backend.url}/auth/verify", json={"message": text, "signature": sign(account, text)}
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def sign_in(client: httpx.AsyncClient, backend: Backend, account: LocalAccount) -> str:
    """An access token for `account`."""
    return str((await sign_in_tokens(client, backend, account))["access_token"])


async def notification_socket(backend: Backend, token: str, after: int = 0) -> ClientConnection:
    ws = await connect(f"{backend.ws_url}/notifications/ws?after={after}")
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert (await next_frame(ws))["type"] == "authed"
    return ws


async def next_frame(ws: ClientConnection, kind: str | None = None, timeout: float = 10.0) -> Any:
    """The next frame (of `kind`, skipping others)."""
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if kind is None or data["type"] == kind:
            return data
