"""Fixtures for the publishing tests: a real js-ipfs node (harness.ipfs_node: offline,
loopback only) and audio.
"""

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from harness.ipfs_node import JSIPFS, IpfsNode, jsipfs_node
from studio.local_backend import free_port
from tests.conftest import ROOT


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    if not JSIPFS.exists():
        pytest.skip(f"js-ipfs is not installed ({JSIPFS} missing; run `make node`)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    with jsipfs_node(tmp_path_factory.mktemp("jsipfs")) as node:
        yield node


@dataclass(frozen=True)
class ContentStoreServer:
    url: str
    data_dir: Path


@pytest.fixture
def content_store(tmp_path: Path) -> Iterator[ContentStoreServer]:
    """The backend's content store router served by uvicorn on a loopback port."""
    import threading

    import uvicorn
    from fastapi import FastAPI

    from backend.content_store import content_store_router

    data_dir = tmp_path / "backend-data"
    app = FastAPI()
    app.include_router(content_store_router(data_dir))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("content store server did not start")
        time.sleep(0.05)
    try:
        yield ContentStoreServer(f"http://127.0.0.1:{port}", data_dir)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# --- chain (anvil) and the real backend, for registration and listing -----------------------

ANVIL = ROOT / "node_modules" / ".bin" / "anvil"


@dataclass(frozen=True)
class Chain:
    rpc_url: str
    registry_address: str
    process: subprocess.Popen[bytes]


def _wait_http(
    url: str, process: subprocess.Popen[bytes], what: str, method: str = "GET", **kw
) -> None:
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            httpx.request(method, url, timeout=2, **kw)
            return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within 60 s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """anvil mining a block every second (so a registration stays pending for a moment),
    with the ContentRegistry deployed from the project's compiled artifact."""
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed ({ANVIL} missing; run `make node`)")
    from web3 import Web3

    from chain import contracts
    from chain.devnet import dev_accounts

    port = free_port()
    log_path = tmp_path_factory.mktemp("anvil") / "anvil.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--block-time", "1"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    rpc_url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(
            rpc_url,
            process,
            "anvil",
            "POST",
            json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        )
        w3 = Web3(Web3.HTTPProvider(rpc_url))
        registry = contracts.deploy(w3, contracts.CONTENT_REGISTRY, (), dev_accounts(1)[0])
        yield Chain(rpc_url, registry.address, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass(frozen=True)
class Backend:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]


@pytest.fixture(scope="session")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    """`python -m backend` on a loopback port: listings, and the content store as IPFS."""
    import sys

    data_dir = tmp_path_factory.mktemp("backend")
    port = free_port()
    with (data_dir / "backend.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "backend",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--database-url",
                f"sqlite+aiosqlite:///{data_dir / 'backend.db'}",
                "--data-dir",
                str(data_dir),
                "--local",  # as the studio runs it: its content store takes files unsigned
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_http(f"{url}/health", process, "backend")
        version = httpx.post(f"{url}/api/v0/version")
        assert version.status_code == 200, f"the backend's content store is not mounted: {version}"
        yield Backend(url, data_dir, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


def siwe_token(backend_url: str, account) -> str:
    """Sign in with Ethereum as `account` and make it an artist; returns the access token."""
    from datetime import UTC, datetime
    from urllib.parse import urlparse

    from eth_account.messages import encode_defunct

    from backend.siwe import SiweMessage

    nonce = httpx.get(f"{backend_url}/auth/nonce").json()["nonce"]
    message = SiweMessage(
        domain=urlparse(backend_url).netloc,
        address=account.address,
        uri=backend_url,
        chain_id=31337,
        nonce=nonce,
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        statement="Sign in to HarmonieCORE",
    ).to_text()
    signature = account.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
    answer = httpx.post(
        f"{backend_url}/auth/verify", json={"message": message, "signature": signature}
    )
    answer.raise_for_status()
    token = answer.json()["access_token"]
    profile = httpx.put(
        f"{backend_url}/profiles/{account.address}",
        json={"role": "artist", "display_name": "Test Artist"},
        headers={"Authorization": f"Bearer {token}"},
    )
    profile.raise_for_status()
    return token


_next_account = iter(range(1, 10))


@pytest.fixture
def artist(backend):
    """A fresh dev account per test (each test's tracks are its own), signed in as an artist."""
    from chain.devnet import dev_accounts

    account = dev_accounts(10)[next(_next_account)]
    return account, siwe_token(backend.url, account)


def registrar_for(chain, account, confirm=None):
    from web3 import Web3

    from studio.publishing.registrar import ContentRegistryRegistrar, always_confirm

    w3 = Web3(Web3.HTTPProvider(chain.rpc_url))
    return ContentRegistryRegistrar(w3, chain.registry_address, account, confirm or always_confirm)


def lister_for(backend, token: str):
    async def get_token() -> str:
        return token

    from studio.publishing.publisher import BackendLister

    return BackendLister(backend.url, get_token)
