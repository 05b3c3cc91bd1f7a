"""Fixtures for the go-live announcement and the studio's chat: a real backend (uvicorn,
SQLite in tmp) on a loopback port in the test's loop, studio BackendClients signed in with
eth_account keys, and a real WalletSession on a private gnome-keyring for the locked wallet."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount

from backend.app import create_app
from backend.config import BackendConfig
from backend.wire import ProfileIn
from harness.backend_session import listening_socket
from studio.social.backend_client import BackendClient, CallableSigner
from tests.support.secret_service import SecretServiceSession

CHAIN_ID = 1114
JWT_SECRET = "studio-chat-test-secret-0123456789abcdef"


@dataclass
class Backend:
    url: str
    app: object
    data_dir: Path


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")  # media stays on 127.0.0.1


@contextlib.asynccontextmanager
async def serve_backend(tmp_path: Path, **overrides: Any) -> AsyncIterator[Backend]:
    """The whole backend app on a free loopback port, SQLite in `tmp_path`; `overrides` go to
    BackendConfig (e.g. a short access_token_ttl_s)."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    data_dir = tmp_path / "backend"
    data_dir.mkdir()
    config = BackendConfig(
        host="127.0.0.1",
        port=port,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'backend.db'}",
        data_dir=data_dir,
        jwt_secret=JWT_SECRET,
        **overrides,
    )
    app = create_app(config)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2)
    )
    task = asyncio.ensure_future(server.serve(sockets=[sock]))
    await wait_until(lambda: server.started or task.done(), what="the backend to start")
    if task.done():
        task.result()
    try:
        yield Backend(url=f"http://127.0.0.1:{port}", app=app, data_dir=data_dir)
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 15)
        sock.close()


@pytest.fixture
async def backend(tmp_path: Path) -> AsyncIterator[Backend]:
    async with serve_backend(tmp_path) as served:
        yield served


def key_signer(account: LocalAccount) -> CallableSigner:
    def sign(text: str) -> str:
        return "0x" + account.sign_message(encode_defunct(text=text)).signature.hex().removeprefix(
            "0x"
        )

    return CallableSigner(address=account.address, sign=sign)


@pytest.fixture
async def clients(
    backend: Backend,
) -> AsyncIterator[Callable[..., "asyncio.Future[BackendClient]"]]:
    """make(role, name) -> a BackendClient signed in with a fresh key and that profile."""
    made: list[BackendClient] = []

    async def make(role: str = "fan", name: str = "Fan") -> BackendClient:
        client = BackendClient(backend.url, key_signer(Account.create()), chain_id=CHAIN_ID)
        made.append(client)
        await client.sign_in()
        await client.save_profile(ProfileIn(role=role, display_name=name))
        return client

    yield make  # type: ignore[misc]
    for client in made:
        await client.aclose()


@pytest.fixture
def vault(
    secret_service: SecretServiceSession,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    from keyring.backends import SecretService

    from chain.wallet import KeyringVault

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    return KeyringVault(
        backend=SecretService.Keyring(), service=f"harmonie-test-{request.node.name}"
    )


async def wait_until(predicate, timeout: float = 20.0, what: str = "condition") -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate()` until true; fail with `what` after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)
