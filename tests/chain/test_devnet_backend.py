"""The backend process serves the devnet: /health's chain component, GET /chain, POST /rpc."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from web3 import Web3

from chain import contracts
from chain.networks import LOCAL_DEVNET, connect
from tests.chain.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def backend_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("backend")
    port = free_port()
    log = open(data / "backend.log", "wb")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port),
         "--database-url", f"sqlite+aiosqlite:///{data / 'b.db'}", "--data-dir", str(data)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        env={**os.environ, "HARMONIE_DEVNET": "1"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert process.poll() is None, (data / "backend.log").read_text()
            try:
                health = httpx.get(f"{url}/health", timeout=2).json()
                if health["components"].get("chain", {}).get("status") == "ok":
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError("the backend's chain never became ready")
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def test_health_reports_the_chain(backend_url):
    chain = httpx.get(f"{backend_url}/health").json()["components"]["chain"]
    assert chain["status"] == "ok" and chain["kind"] == "devnet"
    assert chain["rpc_path"] == "/rpc" and chain["block"] >= 3


def test_chain_info_and_rpc_share_one_chain_with_the_contracts_deployed(backend_url):
    info = httpx.get(f"{backend_url}/chain").json()
    assert set(info["contracts"]) == set(contracts.NAMES)
    network = LOCAL_DEVNET.with_contracts(info["contracts"])
    network = type(network)(**{**vars(network), "rpc_url": backend_url + info["rpc_path"]})
    w3, connected = connect(network)
    assert connected.chain_id == info["chain_id"]
    for address in info["contracts"].values():
        assert len(w3.eth.get_code(address)) > 100
    registry = contracts.deployed(
        "content_registry", w3, network.contract_address("content_registry")
    )
    assert registry.functions.track_total().call() == 0


def test_faucet_funds_a_fresh_address(backend_url):
    fresh = Web3.to_checksum_address("0x" + os.urandom(20).hex())
    reply = httpx.post(f"{backend_url}/chain/faucet", json={"address": fresh, "wei": 5 * 10**18})
    assert reply.status_code == 200, reply.text
    w3 = Web3(Web3.HTTPProvider(f"{backend_url}/rpc"))
    assert w3.eth.get_balance(fresh) == 5 * 10**18
    bad = httpx.post(f"{backend_url}/chain/faucet", json={"address": "nope"})
    assert bad.status_code == 422


def test_rpc_batch_errors_and_bad_json(backend_url):
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "eth_noSuchMethod", "params": []},
        {"jsonrpc": "2.0", "id": 3, "method": "eth_blockNumber"},
    ]
    replies = httpx.post(f"{backend_url}/rpc", json=batch).json()
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert replies[0]["result"].startswith("0x")
    assert "error" in replies[1]
    assert int(replies[2]["result"], 16) >= 3
    bad = httpx.post(
        f"{backend_url}/rpc", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert bad.json()["error"]["code"] == -32700


def children_of(pid: int) -> dict[int, str]:
    """pid -> command line of the processes whose parent is `pid` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found[int(entry.name)] = cmdline
    return found


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_chain_runs_in_a_process_of_its_own_that_dies_with_the_backend(tmp_path: Path):
    """py-evm holding the GIL would stall the relay's media: the chain has its own process,
    and a backend killed with -9 leaves no chain process behind."""
    port = free_port()
    backend = subprocess.Popen(
        [sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port),
         "--database-url", f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", "--data-dir", str(tmp_path)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
        env={**os.environ, "HARMONIE_DEVNET": "1"},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        ready = False
        while not ready and time.monotonic() < deadline:
            assert backend.poll() is None
            try:
                health = httpx.get(f"{url}/health", timeout=2).json()
                ready = health["components"]["chain"]["status"] == "ok"
            except (httpx.HTTPError, KeyError):
                time.sleep(0.2)
        assert ready, "the backend's chain never became ready"
        children = children_of(backend.pid)
        chain = [p for p, cmd in children.items() if "spawn_main" in cmd]
        assert len(chain) == 1, children
        assert Web3(Web3.HTTPProvider(f"{url}/rpc")).eth.block_number >= 3
        assert cpu_seconds(chain[0]) > 0.5, "the chain's work (deploying) is done in its process"
        backend.kill()
        backend.wait(10)
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{p}").exists() for p in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Path(f"/proc/{chain[0]}").exists(), "the chain outlived its backend"
        assert not any(Path(f"/proc/{p}").exists() for p in children), children
    finally:
        if backend.poll() is None:
            backend.kill()
            backend.wait(10)
