"""From a tip's block being mined to the artist being told, over 100 tips.

Run: .venv/bin/python bench/tips.py [--tips 100] [--ws-tips 100] [--profile testnet|local]
Prints one JSON object as its last line:
  tray_p50_ms, tray_p99_ms        anvil mining the block -> the tray message shown (a real GUI
                                  process, harness.tray_app: tray icon, feed and the studio's
                                  TipService under Xvfb with trayer; the offscreen platform
                                  when those are not installed)
  desktop_notify_p50_ms, desktop_notify_p99_ms
                                  the tray process receiving the tip (its `tip_alert` event:
                                  the first of chain or backend to tell it) -> its Notify call
                                  to the desktop's notification server (dunst on a private
                                  D-Bus session), as dbus-monitor sees it on the bus.
                                  Target: p99 <= 300 ms.
  notify_p50_ms, notify_p99_ms    the same block -> the backend's tip_received notification
                                  reaching a WebSocket client signed in as the artist
  tray_ws_p50_ms, tray_ws_p99_ms, notify_ws_p50_ms, notify_ws_p99_ms
                                  the same over a ws:// node URL (newHeads subscription)
  overlay_p50_ms, overlay_p99_ms  the studio receiving a tip (TipAlerts, as from its chain
                                  watcher) -> the alert visible on the OBS alert page in headless
                                  Chromium (the queue, its rules and the page's server in one
                                  process, as in the studio; each tip sent after the previous
                                  alert ended, so no queueing is counted)
Target: p99 under 500 ms for all three.

The main figures use the node as every built-in profile does, over HTTP: the tray process
takes the profile's chain with the node's URL set (as a user's settings do) and TipService
chooses transport and interval itself (polling; 0.5 s on Core profiles, 0.25 s on the local
devnet); the backend gets HARMONIE_TIP_RPC_URL=http://... and its default poll interval. The
second run gives both a ws:// URL, so they subscribe to newHeads. Each tip is sent after a
random pause (up to 0.5 s), so blocks land at random points of the polling cycle.

Anvil runs with automine off: each tip waits in the mempool and the clock starts right before
`evm_mine`, so sending the transaction is not counted.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from web3 import Web3  # noqa: E402
from web3.contract import Contract  # noqa: E402

from backend.tip_watcher import TipWatchConfig  # noqa: E402
from bench.common import percentile, report  # noqa: E402
from chain import contracts  # noqa: E402
from chain.devnet import dev_accounts  # noqa: E402
from harness.anvil import ANVIL, ANVIL_CHAIN_ID, anvil_command, wait_for_rpc  # noqa: E402
from harness.backend_session import Backend, next_frame, notification_socket, sign_in  # noqa: E402
from harness.notification_server import NotifyMonitor, dunst, private_bus  # noqa: E402
from harness.xserver import xvfb_with_tray  # noqa: E402
from studio.local_backend import free_port  # noqa: E402

PYTHON = sys.executable
MAX_PAUSE_S = 0.5  # the longest polling interval of the built-in profiles


class LogTail:
    """tip_alert and tray_message events from the tray process's JSON log, read as they are
    written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.received: dict[str, float] = {}
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
            elif entry.get("event") == "tip_alert":
                self.received[entry["tx_hash"]] = float(entry["ts"])

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


@dataclass
class Chain:
    w3: Web3
    tipping: Contract
    artist: LocalAccount
    fans: list[LocalAccount]


async def wait_backend_watching(client: httpx.AsyncClient, url: str) -> None:
    for _ in range(300):
        try:
            health = (await client.get(f"{url}/health")).json()
            if health["components"].get("tips", {}).get("detail") == "watching":
                return
        except (httpx.HTTPError, ValueError):
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the backend's tip watcher did not start")


async def measure(
    chain: Chain, node_url: str, count: int, display_env: dict[str, str], profile: str, home: Path
) -> dict:
    """Backend and tray process both given `node_url`; `count` tips, block -> told, in ms."""
    env = {**os.environ, **display_env}
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(home / var.lower())
    processes: list[subprocess.Popen[bytes]] = []
    desktop = ExitStack()
    monitor: NotifyMonitor | None = None
    try:
        if "DISPLAY" in display_env and shutil.which("dunst"):
            home.mkdir(parents=True, exist_ok=True)
            bus = desktop.enter_context(private_bus(home / "dbus"))
            desktop.enter_context(dunst(bus, display_env, home))
            monitor = desktop.enter_context(NotifyMonitor(bus, home / "notify.log"))
            env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
        backend_port = free_port()
        backend_env = {
            **env,
            "HARMONIE_TIP_RPC_URL": node_url,
            "HARMONIE_TIPPING_ADDRESS": chain.tipping.address,
        }
        backend_env.pop("HARMONIE_DEVNET", None)
        backend_env.pop("HARMONIE_TIP_POLL_S", None)  # the backend's own default
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
        processes.append(
            start(
                [
                    PYTHON, "-m", "harness.tray_app", "--rpc", node_url, "--profile", profile,
                    "--contract", chain.tipping.address, "--artist", chain.artist.address,
                    "--chain-id", str(ANVIL_CHAIN_ID),
                    "--backend", f"http://127.0.0.1:{backend_port}",
                ],
                env,
            )
        )  # fmt: skip
        tail = LogTail(Path(env["XDG_STATE_HOME"]) / "harmonie-studio" / "log" / "studio.log")
        network = await tail.wait("tray_network")
        ready = await tail.wait("tray_ready")
        await tail.wait("watcher_synced")

        backend = Backend(app=None, url=f"http://127.0.0.1:{backend_port}")  # type: ignore[arg-type]
        async with httpx.AsyncClient(timeout=10) as client:
            await wait_backend_watching(client, backend.url)
            token = await sign_in(client, backend, chain.artist)
            for n, fan in enumerate(chain.fans):  # alerts name fans by their profiles
                fan_token = await sign_in(client, backend, fan)
                saved = await client.put(
                    f"{backend.url}/profiles/{fan.address}",
                    json={"role": "fan", "display_name": f"Bench fan {n}"},
                    headers={"Authorization": f"Bearer {fan_token}"},
                )
                saved.raise_for_status()
        ws = await notification_socket(backend, token)
        await next_frame(ws, "backlog")
        notified: dict[str, float] = {}

        async def receive() -> None:
            while True:
                data = json.loads(await ws.recv())
                if data.get("type") == "notification":
                    notified[data["notification"]["data"]["tx_hash"]] = time.time()

        async def follow_tray() -> None:
            while True:
                tail.poll()
                await asyncio.sleep(0.002)

        followers = [asyncio.create_task(receive()), asyncio.create_task(follow_tray())]
        w3, fans = chain.w3, chain.fans
        nonces = {f.address: w3.eth.get_transaction_count(f.address) for f in fans}
        base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
        pauses = random.Random(1114)
        tray_ms: list[float] = []
        notify_ms: list[float] = []
        desktop_ms: list[float] = []
        named = 0  # notifications that name the fan (profile looked up within the wait)
        for i in range(count):
            await asyncio.sleep(pauses.uniform(0, MAX_PAUSE_S))
            fan = fans[i % len(fans)]
            tx = chain.tipping.functions.tip(chain.artist.address, f"bench tip {i}")
            tx = tx.build_transaction(
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
            if monitor is not None:  # the tip's message is the notification's body
                call = None
                while call is None:
                    call = next((c for c in monitor.calls() if c.body == f"bench tip {i}"), None)
                    if call is None and time.monotonic() > deadline:
                        raise TimeoutError(f"tip {i}: no Notify call on the bus within 10 s")
                    await asyncio.sleep(0.005)
                desktop_ms.append((call.seen_at - tail.received[tx_hash]) * 1000)
                named += call.summary.startswith("Tip from Bench fan ")
        for task in followers:
            task.cancel()
        await ws.close()
        return {
            "tray_ms": tray_ms,
            "notify_ms": notify_ms,
            "desktop_ms": desktop_ms,
            "named": named,
            "tray_available": ready.get("tray_available"),
            "network": network,
        }
    finally:
        for process in reversed(processes):
            stop(process)
        desktop.close()


async def measure_overlay(count: int, home: Path) -> dict:
    """`count` tips received -> each shown on the OBS page in Chromium, in ms."""
    from studio.tips.alert_queue import AlertQueue
    from studio.tips.alert_rules import AlertLook, AlertRules
    from studio.tips.alerts import TipAlerts
    from studio.tips.overlay_page import OverlayServer
    from studio.tips.store import Tip, TipStore

    artist, fan = dev_accounts(2)[1].address, dev_accounts(3)[2].address
    store = TipStore(home / "overlay" / "tips.sqlite3")
    alerts = TipAlerts(store, artist, "ETH")
    rules = AlertRules(default_look=AlertLook(duration_s=0.5))  # the shortest the rules allow
    queue = AlertQueue(home / "overlay" / "alert_queue.sqlite3", rules)
    alerts.alerted.connect(queue.offer_tip)
    ended: set[int] = set()
    queue.finished.connect(lambda alert, _how: ended.add(alert.id))
    server = OverlayServer(queue, secrets.token_urlsafe(24))
    await server.start()
    page = await asyncio.create_subprocess_exec(
        "node", str(ROOT / "tests" / "tips" / "overlay_page_check.mjs"),
        "--page", server.url, "--bad", server.url + "x", "--count", str(count),
        "--timeout", str(count * 5000), "--settle", "200",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert page.stdout is not None
    try:
        if (await asyncio.wait_for(page.stdout.readline(), 60)).strip() != b"READY":
            raise RuntimeError("the overlay page did not open in Chromium")
        queue.start()
        received: dict[int, float] = {}
        pauses = random.Random(1116)
        for i in range(count):
            await asyncio.sleep(pauses.uniform(0, MAX_PAUSE_S))
            queued: list = []
            queue.played.connect(queued.append)
            tx_hash, block_hash = f"0x{i + 1:064x}", "0x" + "ee" * 32
            tip = Tip(tx_hash, 0, i + 1, block_hash, 0, artist, fan, 10**15 + i, f"tip {i}")
            at = time.time()
            alerts.on_chain_tip(tip)
            deadline = time.monotonic() + 10
            while not queued or queued[0].id not in ended:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"overlay tip {i} did not play within 10 s")
                await asyncio.sleep(0.005)
            queue.played.disconnect(queued.append)
            received[queued[0].id] = at
        out = await asyncio.wait_for(page.stdout.read(), 120)
    finally:
        if page.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                page.terminate()
        await page.wait()
        await queue.stop()
        await server.stop()
        queue.close()
        store.close()
    lines = [x for x in out.decode().splitlines() if x.startswith("RESULT ")]
    result = json.loads(lines[-1][len("RESULT ") :]) if lines else {"error": "no RESULT"}
    if "error" in result:
        raise RuntimeError(f"overlay page: {result['error']}")
    shown = {entry["id"]: entry["at"] / 1000 for entry in result["shown"]}
    if sorted(shown) != sorted(received) or len(result["shown"]) != count:
        raise RuntimeError("the overlay page did not show every tip exactly once")
    return {"overlay_ms": [(shown[i] - received[i]) * 1000 for i in received]}


def figures(prefix: str, values: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": round(percentile(values, 50), 1),
        f"{prefix}_p99_ms": round(percentile(values, 99), 1),
        f"{prefix}_max_ms": round(max(values), 1),
    }


async def run(
    count: int, ws_count: int, display_env: dict[str, str], platform: str, profile: str, home: Path
) -> dict:
    anvil_port = free_port()
    node = start(anvil_command(anvil_port), dict(os.environ))
    try:
        http_url, ws_url = f"http://127.0.0.1:{anvil_port}", f"ws://127.0.0.1:{anvil_port}"
        w3 = wait_for_rpc(http_url)
        accounts = dev_accounts(4)
        tipping = contracts.deploy(w3, contracts.TIPPING, (), accounts[0])
        w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
        chain = Chain(w3, tipping, accounts[1], accounts[2:])
        polled = await measure(chain, http_url, count, display_env, profile, home / "http")
        result: dict = {
            "tips": count,
            **figures("tray", polled["tray_ms"]),
            **figures("notify", polled["notify_ms"]),
        }
        if polled["desktop_ms"]:
            result.update(figures("desktop_notify", polled["desktop_ms"]))
            result["desktop_notify_target_p99_ms"] = 300
            result["desktop_notify_named"] = polled["named"]
        if ws_count:
            pushed = await measure(chain, ws_url, ws_count, display_env, profile, home / "ws")
            result.update(
                ws_tips=ws_count,
                **figures("tray_ws", pushed["tray_ms"]),
                **figures("notify_ws", pushed["notify_ms"]),
            )
            if pushed["desktop_ms"]:
                result.update(figures("desktop_notify_ws", pushed["desktop_ms"]))
        network = polled["network"]
        return {
            **result,
            "profile": profile,
            "tray_network": network.get("key"),
            "tray_poll_s": network.get("poll_s"),
            "backend_poll_s": TipWatchConfig.from_env({}).poll_s,
            "node_transport": "http polling (main); ws newHeads (_ws figures)",
            "platform": platform,
            "tray_available": polled["tray_available"],
            "target_p99_ms": 500,
        }
    finally:
        stop(node)


async def run_overlay(count: int, home: Path) -> dict:
    overlay = await measure_overlay(count, home)
    return {
        "overlay_tips": count,
        **figures("overlay", overlay["overlay_ms"]),
        "overlay_target_p99_ms": 500,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tips", type=int, default=100)
    parser.add_argument("--ws-tips", type=int, default=100, help="0: no WebSocket run")
    parser.add_argument("--profile", choices=("testnet", "local"), default="testnet")
    parser.add_argument("--overlay-tips", type=int, default=100, help="0: no OBS page run")
    parser.add_argument("--overlay-only", action="store_true", help="only the OBS page figures")
    args = parser.parse_args()
    if args.overlay_only:
        with tempfile.TemporaryDirectory() as home:
            report(asyncio.run(run_overlay(args.overlay_tips, Path(home))))
        return
    if not ANVIL.exists():
        print(json.dumps({"error": f"anvil is not installed ({ANVIL}); run `make node`"}))
        sys.exit(1)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as home:
        if shutil.which("Xvfb") and shutil.which("trayer"):
            server = stack.enter_context(xvfb_with_tray())
            display_env, platform = server.env, "xcb+trayer"
        else:
            display_env, platform = {"QT_QPA_PLATFORM": "offscreen"}, "offscreen"
        result = asyncio.run(
            run(args.tips, args.ws_tips, display_env, platform, args.profile, Path(home))
        )
        if args.overlay_tips:
            result.update(asyncio.run(run_overlay(args.overlay_tips, Path(home))))
    report(result)


if __name__ == "__main__":
    main()
