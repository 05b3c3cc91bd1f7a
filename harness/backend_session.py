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
from backend.siwe import SiweMessage


@dataclass
class Backend:
    app: FastAPI
    url: str

    @property
    def ws_url(self) -> str:
        return "ws" + self.url[len("http") :]


@contextlib.asynccontextmanager
async def serve(config: BackendConfig) -> AsyncIterator[Backend]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    app = create_app(replace(config, host="127.0.0.1", port=port))
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the backend stopped while starting")
        await asyncio.sleep(0.01)
    try:
        yield Backend(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task
        sock.close()


async def sign_in(client: httpx.AsyncClient, backend: Backend, account: LocalAccount) -> str:
    """An access token for `account` (Sign-In with Ethereum)."""
    nonce = (await client.get(f"{backend.url}/auth/nonce")).json()["nonce"]
    now = datetime.now(UTC)
    text = SiweMessage(
        domain=backend.url.split("://", 1)[1],
        address=account.address,
        statement="Sign in to HarmonieCORE.",
        uri=backend.url,
        chain_id=1114,
        nonce=nonce,
        issued_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        expiration_time=(now + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature.hex()
    response = await client.post(
        f"{backend.url}/auth/verify",
        json={"message": text, "signature": "0x" + signature.removeprefix("0x")},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def notification_socket(backend: Backend, token: str, after: int = 0) -> ClientConnection:
    ws = await connect(f"{backend.ws_url}/notifications/ws?after={after}")
    await ws.send(json.dumps({"type": "auth", "token": token}))
    assert (await next_frame(ws))["type"] == "authed"
    return ws


async def next_frame(ws: ClientConnection, kind: str | None = None, timeout: float = 10.0) -> Any:
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        if kind is None or data["type"] == kind:
            return data
