"""From a tip's block being mined to the artist being told, over 100 tips.

Run: .venv/bin/python bench/tips.py [--tips 100]
Prints one JSON object as its last line:
  tray_p50_ms, tray_p99_ms      anvil mining the block -> the tray message shown (a real GUI
                                process: tray icon, feed and watcher under Xvfb with trayer;
                                the offscreen platform when those are not installed)
  notify_p50_ms, notify_p99_ms  the same block -> the backend's tip_received notification
                                reaching a WebSocket client signed in as the artist
Target: p99 under 500 ms for both.

Anvil runs with automine off: each tip waits in the mempool and the clock starts right before
`evm_mine`, so sending the transaction is not counted.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from chain import contracts  # noqa: E402
from chain.devnet import dev_accounts  # noqa: E402
from tests.support.xserver import xvfb_with_tray  # noqa: E402
from tests.tips.backend_support import Backend, next_frame, notification_socket, sign_in  # noqa: E402
from tests.tips.conftest import ANVIL, ANVIL_CHAIN_ID, free_port, wait_for_rpc  # noqa: E402

PYTHON = sys.executable


def percentile(values: list[float], q: float) -> float:
    ranked = sorted(values)
    index = max(0, min(len(ranked) - 1, round(q / 100 * len(ranked) + 0.5) - 1))
    return round(ranked[index], 1)


class LogTail:
    """tray_message events from the tray process's JSON log, read as they are written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.shown: dict[str, float] = {}
        self.events: dict[str, dict] = {}

    def poll(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        end = chunk.rfind(b"\n") + 1
        self.offset += end
        for line in chunk[:end].splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            self.events.setdefault(entry.get("event", ""), entry)
            if entry.get("event") == "tray_message":
                self.shown[entry["tx_hash"]] = float(entry["shown_at"])

    async def wait(self, name: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while name not in self.events:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {name} in {self.path}")
            self.poll()
            await asyncio.sleep(0.02)
        return self.events[name]


def start(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def run(count: int, display_env: dict[str, str], platform: str, home: Path) -> dict:
    env = {**os.environ, **display_env}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(home / var.lower())
    anvil_port = free_port()
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            start(
                [
                    str(ANVIL), "--host", "127.0.0.1", "--port", str(anvil_port),
                    "--chain-id", str(ANVIL_CHAIN_ID), "--hardfork", "shanghai", "--silent",
                ],
                env,
            )
        )  # fmt: skip
        w3 = wait_for_rpc(f"http://127.0.0.1:{anvil_port}")
        accounts = dev_accounts(4)
        artist, fans = accounts[1], accounts[2:]
        tipping = contracts.deploy(w3, contracts.TIPPING, (), accounts[0])
        ws_rpc = f"ws://127.0.0.1:{anvil_port}"

        backend_port = free_port()
        backend_env = {
            **env,
            "HARMONIE_TIP_RPC_URL": ws_rpc,
            "HARMONIE_TIPPING_ADDRESS": tipping.address,
        }
        backend_env.pop("HARMONIE_DEVNET", None)
        processes.append(
            start(
                [
                    PYTHON, "-m", "backend", "--host", "127.0.0.1", "--port", str(backend_port),
                    "--database-url", f"sqlite+aiosqlite:///{home / 'backend.db'}",
                    "--data-dir", str(home), "--log-level", "warning",
                ],
                backend_env,
            )
        )  # fmt: skip
        tray_app = start(
            [
                PYTHON, "-m", "tests.tips.tray_app", "--rpc", ws_rpc,
                "--contract", tipping.address, "--artist", artist.address,
                "--chain-id", str(ANVIL_CHAIN_ID),
            ],
            env,
        )  # fmt: skip
        processes.append(tray_app)
        tail = LogTail(Path(env["XDG_STATE_HOME"]) / "harmonie-studio" / "log" / "studio.log")
        ready = await tail.wait("tray_ready")
        await tail.wait("watcher_synced")

        backend = Backend(app=None, url=f"http://127.0.0.1:{backend_port}")  # type: ignore[arg-type]
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(300):
                try:
                    health = (await client.get(f"{backend.url}/health")).json()
                    if health["components"].get("tips", {}).get("detail") == "watching":
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the backend's tip watcher did not start")
            token = await sign_in(client, backend, artist)
        ws = await notification_socket(backend, token)
        await next_frame(ws, "backlog")
        notified: dict[str, float] = {}

        async def receive() -> None:
            while True:
                data = json.loads(await ws.recv())
                if data.get("type") == "notification":
                    notified[data["notification"]["data"]["tx_hash"]] = time.time()

        receiver = asyncio.create_task(receive())

        async def follow_tray() -> None:
            while True:
                tail.poll()
                await asyncio.sleep(0.002)

        tray_follower = asyncio.create_task(follow_tray())
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        nonces = {f.address: w3.eth.get_transaction_count(f.address) for f in fans}
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        tray_ms: list[float] = []
        notify_ms: list[float] = []
        for i in range(count):
            fan = fans[i % len(fans)]
            tx = tipping.functions.tip(artist.address, f"bench tip {i}").build_transaction(
                {
                    "from": fan.address,
                    "value": 10**15 + i,
                    "nonce": nonces[fan.address],
                    "gas": 200_000,
                    "maxFeePerGas": 4 * base_fee + 10**9,
                    "maxPriorityFeePerGas": 10**9,
                    "chainId": ANVIL_CHAIN_ID,
                }
            )
            nonces[fan.address] += 1
            raw = fan.sign_transaction(tx).raw_transaction
            tx_hash = "0x" + bytes(await asyncio.to_thread(w3.eth.send_raw_transaction, raw)).hex()
            mined_at = time.time()
            await asyncio.to_thread(w3.provider.make_request, "evm_mine", [])  # type: ignore[arg-type]
            deadline = time.monotonic() + 10
            while tx_hash not in notified or tx_hash not in tail.shown:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"tip {i} not shown/notified within 10 s")
                await asyncio.sleep(0.002)
            tray_ms.append((tail.shown[tx_hash] - mined_at) * 1000)
            notify_ms.append((notified[tx_hash] - mined_at) * 1000)
            await asyncio.sleep(0.05)
        receiver.cancel()
        tray_follower.cancel()
        await ws.close()
        return {
            "tips": count,
            "tray_p50_ms": percentile(tray_ms, 50),
            "tray_p99_ms": percentile(tray_ms, 99),
            "notify_p50_ms": percentile(notify_ms, 50),
            "notify_p99_ms": percentile(notify_ms, 99),
            "tray_max_ms": round(max(tray_ms), 1),
            "notify_max_ms": round(max(notify_ms), 1),
            "platform": platform,
            "tray_available": ready.get("tray_available"),
            "node_transport": "websocket newHeads",
            "target_p99_ms": 500,
        }
    finally:
        for process in reversed(processes):
            stop(process)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tips", type=int, default=100)
    args = parser.parse_args()
    if not ANVIL.exists():
        print(json.dumps({"error": f"anvil is not installed ({ANVIL}); run `make node`"}))
        sys.exit(1)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as home:
        if shutil.which("Xvfb") and shutil.which("trayer"):
            server = stack.enter_context(xvfb_with_tray())
            display_env, platform = server.env, "xcb+trayer"
        else:
            display_env, platform = {"QT_QPA_PLATFORM": "offscreen"}, "offscreen"
        result = asyncio.run(run(args.tips, display_env, platform, Path(home)))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
