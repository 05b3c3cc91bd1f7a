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
