"""A real js-ipfs node (offline, loopback only) for the publishing tests and bench/upload.py.

js-ipfs 0.66 comes from the project's npm install (node_modules/.bin/jsipfs). On Node 20 it
needs `Promise.withResolvers`, which we add with a `--require` polyfill; with no swarm
addresses and no bootstrap peers it never dials out.
"""

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from studio.local_backend import free_port

ROOT = Path(__file__).resolve().parents[1]
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


@dataclass(frozen=True)
class IpfsNode:
    api_url: str
    gateway_url: str
    repo: Path
    process: subprocess.Popen[bytes]


def wait_for_api(
    api_url: str, process: subprocess.Popen[bytes], name: str, log: Path | None = None
) -> None:
    """Until the node at `api_url` answers the Kubo RPC (`/api/v0/version`); RuntimeError
    (with the end of `log`) when `process` exits or 90 s pass."""
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            tail = log.read_text()[-2000:] if log is not None else ""
            raise RuntimeError(f"{name} exited ({process.returncode}): {tail}")
        try:
            if httpx.post(f"{api_url}/api/v0/version", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start within 90 s")
        time.sleep(0.3)


def stop(process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def jsipfs_node(base: Path) -> Iterator[IpfsNode]:
    """A js-ipfs daemon with its repo and log (daemon.log) under `base`; stopped on exit.
    Raises RuntimeError when it exits or does not answer within 90 s."""
    repo = base / "repo"
    polyfill = base / "polyfill.cjs"
    polyfill.write_text(POLYFILL)
    env = {**os.environ, "IPFS_PATH": str(repo), "NODE_OPTIONS": f"--require {polyfill}"}
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
    try:
        wait_for_api(api_url, process, "js-ipfs", base / "daemon.log")
        yield IpfsNode(api_url, f"http://127.0.0.1:{gateway_port}", repo, process)
    finally:
        stop(process)
        log.close()
