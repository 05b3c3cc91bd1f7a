"""Fixtures for the publishing tests: a real js-ipfs node (offline, loopback only) and audio.

js-ipfs 0.66 comes from the project's npm install (node_modules/.bin/jsipfs). On Node 20 it
needs `Promise.withResolvers`, which we add with a `--require` polyfill; with no swarm
addresses it never dials out.
"""

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT

JSIPFS = ROOT / "node_modules" / ".bin" / "jsipfs"
POLYFILL = """
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function () {
    let resolve, reject
    const promise = new Promise((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True)
class IpfsNode:
    api_url: str
    gateway_url: str
    repo: Path
    process: subprocess.Popen[bytes]


def _node_env(repo: Path, polyfill: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["IPFS_PATH"] = str(repo)
    env["NODE_OPTIONS"] = f"--require {polyfill}"
    return env


@pytest.fixture(scope="session")
def ipfs_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IpfsNode]:
    if not JSIPFS.exists():
        pytest.skip(f"js-ipfs is not installed ({JSIPFS} missing; run `make node`)")
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    base = tmp_path_factory.mktemp("jsipfs")
    repo = base / "repo"
    polyfill = base / "polyfill.cjs"
    polyfill.write_text(POLYFILL)
    env = _node_env(repo, polyfill)
    subprocess.run(
        [str(JSIPFS), "init", "--profile", "test"],
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )
    api_port, gateway_port, rpc_port = free_port(), free_port(), free_port()
    config_path = repo / "config"
    config = json.loads(config_path.read_text())
    config["Addresses"]["Swarm"] = []
    config["Addresses"]["API"] = f"/ip4/127.0.0.1/tcp/{api_port}"
    config["Addresses"]["Gateway"] = f"/ip4/127.0.0.1/tcp/{gateway_port}"
    config["Addresses"]["RPC"] = f"/ip4/127.0.0.1/tcp/{rpc_port}"
    config["Bootstrap"] = []
    config_path.write_text(json.dumps(config, indent=2))
    log = open(base / "daemon.log", "wb")  # noqa: SIM115 - closed after the daemon stops
    process = subprocess.Popen(
        [str(JSIPFS), "daemon", "--offline"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    api_url = f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + 90
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"js-ipfs exited: {(base / 'daemon.log').read_text()[-2000:]}")
            try:
                if httpx.post(f"{api_url}/api/v0/version", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("js-ipfs did not start within 90 s")
            time.sleep(0.3)
        yield IpfsNode(api_url, f"http://127.0.0.1:{gateway_port}", repo, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


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
