"""Chain fixtures: anvil (npm @foundry-rs/anvil) and the embedded devnet served over HTTP,
both on loopback; gnome-keyring in a private D-Bus session for the wallet tests."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3 import Web3

from chain import contracts
from chain.devnet import dev_accounts
from studio.local_backend import free_port
from tests.support.secret_service import SecretServiceSession

ROOT = Path(__file__).resolve().parents[2]
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"
ANVIL_CHAIN_ID = 1114


def wait_for_rpc(url: str, timeout: float = 30.0) -> Web3:
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if w3.eth.chain_id:
                return w3
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"no JSON-RPC answer from {url} within {timeout} s")


class AnvilProcess:
    """One anvil on a free loopback port; restartable (same port) for 'node went down' tests."""

    def __init__(self, chain_id: int = ANVIL_CHAIN_ID, automine: bool = True) -> None:
        self.port = free_port()
        self.chain_id = chain_id
        self.automine = automine
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Web3:
        cmd = [
            str(ANVIL), "--host", "127.0.0.1", "--port", str(self.port),
            "--chain-id", str(self.chain_id), "--hardfork", "shanghai",
            "--balance", "1000000", "--silent",
        ] + ([] if self.automine else ["--no-mining"])  # fmt: skip
        self.process = subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL
        )
        return wait_for_rpc(self.url)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _need_anvil() -> None:
    if not ANVIL.exists():
        pytest.skip(f"anvil is not installed ({ANVIL}); run `npm ci`")


@pytest.fixture(scope="session")
def anvil() -> Iterator[AnvilProcess]:
    _need_anvil()
    node = AnvilProcess()
    node.start()
    yield node
    node.stop()


@pytest.fixture
def anvil_factory() -> Iterator[Callable[..., AnvilProcess]]:
    """Anvils of this test's own (e.g. without automining), which it may stop and restart."""
    _need_anvil()
    nodes: list[AnvilProcess] = []

    def make(**kwargs: object) -> AnvilProcess:
        node = AnvilProcess(**kwargs)  # type: ignore[arg-type]
        node.start()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.stop()


class DevnetServer:
    """The devnet routes of the backend (backend.devnet) served by uvicorn in a thread."""

    def __init__(self) -> None:
        import uvicorn
        from fastapi import FastAPI

        from backend.devnet import mount_devnet

        self.app = FastAPI()
        self.holder = mount_devnet(self.app, enabled=True)
        self.port = free_port()
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        wait_for_rpc(f"{self.url}/rpc", timeout=60)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def devnet_server() -> Iterator[DevnetServer]:
    server = DevnetServer()
    server.start()
    yield server
    server.stop()


@dataclass
class ChainUnderTest:
    kind: str  # "devnet" | "anvil"
    rpc_url: str
    w3: Web3
    accounts: list[LocalAccount]


@pytest.fixture(params=["devnet", "anvil"])
def chain(request: pytest.FixtureRequest) -> ChainUnderTest:
    if request.param == "anvil":
        node: AnvilProcess = request.getfixturevalue("anvil")
        url = node.url
    else:
        server: DevnetServer = request.getfixturevalue("devnet_server")
        url = f"{server.url}/rpc"
    return ChainUnderTest(request.param, url, wait_for_rpc(url), dev_accounts())


@dataclass
class Deployed:
    tipping: object
    registry: object
    nft: object
    market: object
    subscriptions: object


@pytest.fixture
def deployed(chain: ChainUnderTest) -> Deployed:
    """Fresh contracts for each test, deployed by dev account 0."""
    addresses = contracts.deploy_all(chain.w3, chain.accounts[0])
    return Deployed(
        tipping=contracts.deployed(contracts.TIPPING, chain.w3, addresses[contracts.TIPPING]),
        registry=contracts.deployed(
            contracts.CONTENT_REGISTRY, chain.w3, addresses[contracts.CONTENT_REGISTRY]
        ),
        nft=contracts.deployed(contracts.TRACK_NFT, chain.w3, addresses[contracts.TRACK_NFT]),
        market=contracts.deployed(
            contracts.MARKETPLACE, chain.w3, addresses[contracts.MARKETPLACE]
        ),
        subscriptions=contracts.deployed(
            contracts.SUBSCRIPTIONS, chain.w3, addresses[contracts.SUBSCRIPTIONS]
        ),
    )


@pytest.fixture
def vault(
    secret_service: SecretServiceSession,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
):
    """A KeyringVault on the real Secret Service, under a service name of this test's own.

    DBUS_SESSION_BUS_ADDRESS is set for this test only, so other areas' tests never see
    the private bus."""
    from keyring.backends import SecretService

    from chain.wallet import KeyringVault

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    return KeyringVault(
        backend=SecretService.Keyring(), service=f"harmonie-test-{request.node.name}"
    )
