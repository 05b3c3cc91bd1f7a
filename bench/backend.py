"""Backend benchmark: chat fan-out latency to 1,000 WebSocket clients, fan-out capacity of one
instance, and search latency over 100,000 tracks (SQLite FTS5), all on loopback.

    .venv/bin/python bench/backend.py [--clients 1000] [--tracks 100000] [--start-rate 2]

The backend runs as its own process (uvicorn, one worker); the WebSocket clients run in two
more processes, so the figures include real sockets and real parsing on both sides.

- fanout_p50_ms / fanout_p99_ms: one chat message at a time (the next sent once every client
  has the last), sender -> each client.
- deliveries_per_s_at_p99_150ms: capacity. One sender sends chat messages at an offered rate
  for `--step-seconds`; every client's receive time gives each delivery's latency. The rate
  starts at `--start-rate` messages/s and grows by `--step-factor` each step until the step's
  p99 passes 150 ms or a delivery is lost (or `--max-steps` / `--max-seconds` run out, said in
  `capacity_stopped_by`). The figure is the delivery rate (messages x receivers per second,
  as received) of the last step that held; `capacity_steps` lists every step.

Analytics recording stays on throughout (as in production): the live bench show's viewers
are sampled every 10 s, and a fourth process reports plays of random seeded tracks by random
listeners at `--plays-per-s` (POST /plays, as fan pages do) during the fan-out and capacity
phases: `plays_counted`, `play_p50_ms` / `play_p99_ms`, `viewer_samples`.

The last line printed is one JSON object (bench.common.report: with the load average).
"""

import argparse
import asyncio
import base64
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, percentile, report  # noqa: E402
from studio.local_backend import free_port  # noqa: E402

JWT_SECRET = "bench-secret-0123456789abcdef0123456789"
CHAIN_ID = 1114


P99_LIMIT_MS = 150.0


# -- roles run in child processes ----------------------------------------------------------


def serve(port: int, database: Path) -> None:
    import uvicorn

    from backend.app import create_app
    from backend.config import BackendConfig

    config = BackendConfig(
        port=port,
        database_url=f"sqlite+aiosqlite:///{database}",
        data_dir=database.parent,  # the bench's temp dir (mounted routers keep files there)
        jwt_secret=JWT_SECRET,
        chat_burst=1_000_000,
        chat_rate_per_s=1_000_000.0,
        ws_frame_burst=1_000_000,  # the one sender socket sends the whole load
        ws_frame_rate_per_s=1_000_000.0,
        ws_max_per_client=0,  # every client socket comes from 127.0.0.1
        play_burst=1_000_000,  # every play report comes from 127.0.0.1
        play_rate_per_s=1_000_000.0,
    )
    uvicorn.run(
        create_app(config),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        backlog=4096,
        ws_per_message_deflate=False,  # as harmonie-backend runs it
    )


class SinkClient(asyncio.Protocol):
    """A minimal WebSocket reader (RFC 6455) for the 1,000 listening clients: it parses frames
    straight from the socket without a task per message, so the clients' own cost does not hide
    the server's. It answers pings, and records what arrives."""

    def __init__(self, path: str, host: str, sink: "Sink") -> None:
        self.path, self.host, self.sink = path, host, sink
        self.buffer = bytearray()
        self.upgraded = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        key = base64.b64encode(os.urandom(16)).decode()
        self.transport.write(  # type: ignore[attr-defined]
            f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.upgraded:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not self.buffer.startswith(b"HTTP/1.1 101"):
                self.opened.set_exception(RuntimeError(bytes(self.buffer[:80]).decode()))
                return
            del self.buffer[: end + 4]
            self.upgraded = True
        while len(self.buffer) >= 2:
            opcode, length, offset = self.buffer[0] & 0x0F, self.buffer[1] & 0x7F, 2
            if length == 126:
                if len(self.buffer) < 4:
                    return
                length, offset = int.from_bytes(self.buffer[2:4], "big"), 4
            elif length == 127:
                if len(self.buffer) < 10:
                    return
                length, offset = int.from_bytes(self.buffer[2:10], "big"), 10
            if len(self.buffer) < offset + length:
                return
            payload = bytes(self.buffer[offset : offset + length])
            del self.buffer[: offset + length]
            if opcode == 0x9:  # ping -> masked pong
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)  # type: ignore[attr-defined]
            elif opcode == 0x1:
                self.sink.frame(payload, now)
                if not self.opened.done():
                    self.opened.set_result(None)  # the history frame: joined

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed"))


class Sink:
    """Per step: each delivery's latency (sender's clock in the text -> received here) and the
    last arrival. A step's figures are printed once every client here has its "end" marker."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.latencies: dict[bytes, list[float]] = {}
        self.last: dict[bytes, float] = {}
        self.ended: dict[bytes, int] = {}
        self.finished = 0
        self.done = asyncio.Event()

    def frame(self, payload: bytes, now: float) -> None:
        at = payload.find(b'"text":"')
        if at < 0:
            return
        text = payload[at + 8 : payload.find(b'"', at + 8)]
        step, _, rest = text.partition(b" ")
        if step == b"end":
            self.ended[rest] = self.ended.get(rest, 0) + 1
            if self.ended[rest] == self.count:
                latencies = [round((x) * 1000, 3) for x in self.latencies.pop(rest, [])]
                line = {
                    "step": rest.decode(),
                    "latencies_ms": latencies,
                    "last": self.last.get(rest),
                }
                print(json.dumps(line), flush=True)
        elif step == b"done":
            self.finished += 1
            if self.finished == self.count:
                self.done.set()
        elif rest:
            self.latencies.setdefault(step, []).append(now - float(rest))
            self.last[step] = now


async def run_clients(url: str, count: int) -> None:
    """Open `count` chat sockets; record receive times (the monotonic clock is system-wide)."""
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    sink = Sink(count)
    for i in range(0, count, 50):
        batch = []
        for _ in range(min(50, count - i)):
            _, protocol = await loop.create_connection(
                lambda: SinkClient(parts.path, parts.netloc, sink), parts.hostname, parts.port
            )
            batch.append(protocol.opened)
        await asyncio.gather(*batch)
    print("READY", flush=True)
    await asyncio.wait_for(sink.done.wait(), timeout=900)


async def run_plays(url: str, rate: float, tracks: int) -> None:
    """POST /plays at `rate` per second (random track, random listener) until stdin closes;
    then print one JSON line of what was counted and how long each report took."""
    import httpx

    rng = random.Random(30)
    timings: list[float] = []
    answers: dict[str, int] = {}
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stdin_closed() -> None:  # closed (or a line): stop
        loop.remove_reader(sys.stdin.fileno())
        stop.set()

    loop.add_reader(sys.stdin.fileno(), stdin_closed)

    async def one(client: httpx.AsyncClient) -> None:
        body = {
            "track_id": rng.randint(1, tracks),
            "listener": f"bench-listener-{rng.randrange(10**9):09d}",
            "played_s": 30.0,
        }
        t0 = time.perf_counter()
        try:
            response = await client.post(f"{url}/plays", json=body)
            key = str(response.json().get("counted")) if response.status_code == 200 else "error"
        except httpx.HTTPError:
            key = "error"
        timings.append((time.perf_counter() - t0) * 1000)
        answers[key] = answers.get(key, 0) + 1

    async with httpx.AsyncClient(timeout=30) as client:
        print("READY", flush=True)
        pending: set[asyncio.Task[None]] = set()
        started = time.monotonic()
        sent = 0
        while not stop.is_set():
            while sent < (time.monotonic() - started) * rate:
                task = asyncio.create_task(one(client))
                pending.add(task)
                task.add_done_callback(pending.discard)
                sent += 1
            await asyncio.sleep(0.01)
        await asyncio.gather(*pending)
    print(json.dumps({"timings_ms": timings, "answers": answers}), flush=True)


def analytics_rows(database: Path) -> dict[str, int]:
    with sqlite3.connect(database) as db:
        plays = db.execute("SELECT count(*) FROM analytics_plays").fetchone()[0]
        samples = db.execute("SELECT count(*) FROM analytics_viewer_samples").fetchone()[0]
    return {"plays_stored": int(plays), "viewer_samples": int(samples)}


# -- the orchestrator ------------------------------------------------------------------------


def seed_tracks(database: Path, tracks: int, rng: random.Random) -> list[str]:
    """Insert artists and tracks straight into the migrated SQLite file (FTS triggers fire)."""
    syllables = ["ka", "lo", "mi", "ra", "ve", "su", "to", "ne", "di", "sha", "mor", "lin", "tra",
                 "bel", "cor", "fen", "gal", "hux", "jin", "zor"]  # fmt: skip
    words = sorted({"".join(rng.choices(syllables, k=rng.randint(2, 3))) for _ in range(4000)})
    now = datetime.now(UTC).isoformat(sep=" ")
    artists = [
        (f"0x{i:040x}", f"{rng.choice(words).title()} {rng.choice(words).title()}")
        for i in range(1, 501)
    ]
    with sqlite3.connect(database) as db:
        db.executemany(
            "INSERT INTO accounts (address, role, display_name, bio, links, created_at, "
            "updated_at) VALUES (?, 'artist', ?, '', '[]', ?, ?)",
            [(a, n, now, now) for a, n in artists],
        )
        rows = []
        for i in range(tracks):
            address, name = artists[i % len(artists)]
            title = " ".join(rng.choice(words).title() for _ in range(rng.randint(1, 4)))
            rows.append((address, name, title, f"bafkrei{i:052d}", 120.0 + i % 200, -14.0, now))
        db.executemany(
            "INSERT INTO tracks (artist_address, artist_name, title, cid, duration_s, "
            "loudness_lufs, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        db.execute("INSERT INTO tracks_fts(tracks_fts) VALUES ('optimize')")
    return words


def sign_in(http, base: str, account) -> dict:  # type: ignore[no-untyped-def]
    from eth_account.messages import encode_defunct

    from backend.siwe import SiweMessage

    nonce = http.get(f"{base}/auth/nonce").json()["nonce"]
    text = SiweMessage(
        domain=base.split("://")[1],
        address=account.address,
        uri=base + "/",
        chain_id=CHAIN_ID,
        nonce=nonce,
        issued_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    ).to_text()
    signature = account.sign_message(encode_defunct(text=text)).signature.hex()
    response = http.post(
        f"{base}/auth/verify",
        json={"message": text, "signature": "0x" + signature.removeprefix("0x")},
    )
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


async def step_report(procs: list[subprocess.Popen[str]], step: str) -> tuple[list[float], float]:
    """Every client process's latencies (ms) for `step`, and the last arrival (monotonic)."""
    latencies: list[float] = []
    last = 0.0
    for proc in procs:
        assert proc.stdout is not None
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 120)
        data = json.loads(line)
        assert data["step"] == step, data
        latencies += data["latencies_ms"]
        last = max(last, data["last"] or 0.0)
    return latencies, last


async def fanout_and_capacity(
    base: str, clients: int, args: argparse.Namespace, server_pid: int
) -> dict:
    import httpx
    from eth_account import Account
    from websockets.asyncio.client import connect

    account = Account.create()
    with httpx.Client(timeout=30) as http:
        tokens = sign_in(http, base, account)
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        profile = {"role": "artist", "display_name": "Bench"}
        http.put(
            f"{base}/profiles/{account.address}", json=profile, headers=headers
        ).raise_for_status()
        stream = http.post(f"{base}/streams", json={"title": "bench"}, headers=headers).json()

    ws_url = base.replace("http://", "ws://") + f"/streams/{stream['id']}/chat/ws"
    groups = [clients // 2, clients - clients // 2]
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--role", "clients", "--url", ws_url, "--count", str(n)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in groups
        if n
    ]
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "READY":
            raise RuntimeError(f"client process failed: {line!r}")

    async with connect(ws_url, max_queue=None) as sender:
        await sender.recv()
        await sender.send(json.dumps({"type": "auth", "token": tokens["access_token"]}))

        async def say(text: str) -> None:
            await sender.send(json.dumps({"type": "send", "text": text}))

        # Fan-out latency: one message at a time, the next once every client has the last.
        idle: list[float] = []
        for index in range(60):
            await say(f"i{index} {time.monotonic():.6f}")
            await say(f"end i{index}")
            idle += (await step_report(procs, f"i{index}"))[0]

        # Capacity: offered rate stepped up until p99 passes 150 ms (or a delivery is lost).
        steps: list[dict] = []
        best: dict | None = None
        stopped_by = "steps"
        rate = args.start_rate
        search_deadline = time.monotonic() + args.max_seconds
        for index in range(1, args.max_steps + 1):
            await asyncio.sleep(1.0)
            tag = f"s{index}"
            pids = [server_pid]
            server_cpu0 = cpu_seconds(pids)
            clients_cpu0 = cpu_seconds(p.pid for p in procs)
            started = time.monotonic()
            sent = 0
            while (elapsed := time.monotonic() - started) < args.step_seconds:
                while sent < elapsed * rate:
                    await say(f"{tag} {time.monotonic():.6f}")
                    sent += 1
                await asyncio.sleep(0.002)
            await say(f"end {tag}")
            latencies, last = await step_report(procs, tag)
            wall = time.monotonic() - started
            span = max(args.step_seconds, last - started)
            p99 = percentile(latencies, 99)
            step = {
                "offered_msgs_per_s": round(rate, 1),
                "deliveries_per_s": round(len(latencies) / span),
                "p50_ms": round(percentile(latencies, 50), 1),
                "p99_ms": round(p99, 1),
                "lost": sent * clients - len(latencies),
                "server_cpu_pct": round(100 * (cpu_seconds(pids) - server_cpu0) / wall),
                "clients_cpu_pct": round(
                    100 * (cpu_seconds(p.pid for p in procs) - clients_cpu0) / wall
                ),
            }
            steps.append(step)
            if step["lost"] or not p99 <= P99_LIMIT_MS:
                stopped_by = "p99" if step["lost"] == 0 else "lost deliveries"
                break
            best = step
            if time.monotonic() > search_deadline:
                stopped_by = "time"
                break
            rate *= args.step_factor
        await say("done")
        for proc in procs:
            await asyncio.to_thread(proc.wait, 60)
    return {
        "fanout_p50_ms": round(percentile(idle, 50), 2),
        "fanout_p99_ms": round(percentile(idle, 99), 2),
        "fanout_samples": len(idle),
        "deliveries_per_s_at_p99_150ms": best["deliveries_per_s"] if best else 0,
        "msgs_per_s_at_p99_150ms": best["offered_msgs_per_s"] if best else 0,
        "capacity_stopped_by": stopped_by,
        "capacity_steps": steps,
    }


def search_latency(base: str, words: list[str], rng: random.Random, queries: int) -> dict:
    import httpx

    timings: list[float] = []
    with httpx.Client(timeout=30) as http:
        for i in range(queries + 20):
            q = " ".join(rng.choice(words)[: rng.randint(3, 6)] for _ in range(rng.randint(1, 2)))
            t0 = time.perf_counter()
            response = http.get(f"{base}/search/tracks", params={"q": q, "limit": 20})
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            if i >= 20:
                timings.append(elapsed)
    return {
        "search_p50_ms": round(percentile(timings, 50), 2),
        "search_p99_ms": round(percentile(timings, 99), 2),
        "search_queries": len(timings),
    }


def wait_healthy(base: str, proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("backend exited while starting")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("backend did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--role", default="main", choices=["main", "server", "clients", "plays"])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--start-rate", type=float, default=2.0, help="messages/s, first step")
    parser.add_argument("--step-factor", type=float, default=1.5)
    parser.add_argument("--step-seconds", type=float, default=3.0)
    parser.add_argument("--max-steps", type=int, default=12)
    parser.add_argument("--max-seconds", type=float, default=120.0, help="bound of the search")
    parser.add_argument("--plays-per-s", type=float, default=20.0, help="analytics load")
    parser.add_argument("--port", type=int)
    parser.add_argument("--database", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--count", type=int)
    args = parser.parse_args()
    if args.role == "server":
        serve(args.port, args.database)
        return
    if args.role == "clients":
        asyncio.run(run_clients(args.url, args.count))
        return
    if args.role == "plays":
        asyncio.run(run_plays(args.url, args.plays_per_s, args.tracks))
        return

    import asyncio as _asyncio

    from backend.database import make_engine, migrate

    rng = random.Random(4361)
    with tempfile.TemporaryDirectory(prefix="harmonie-bench-") as tmp:
        database = Path(tmp) / "bench.db"

        async def prepare() -> None:
            engine = make_engine(f"sqlite+aiosqlite:///{database}")
            await migrate(engine)
            await engine.dispose()

        _asyncio.run(prepare())
        t0 = time.perf_counter()
        words = seed_tracks(database, args.tracks, rng)
        seed_s = time.perf_counter() - t0
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--role",
                "server",
                "--port",
                str(port),
                "--database",
                str(database),
            ],
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        plays: subprocess.Popen[str] | None = None
        try:
            wait_healthy(base, server)
            results = search_latency(base, words, rng, queries=300)
            plays = subprocess.Popen(
                [sys.executable, __file__, "--role", "plays", "--url", base,
                 "--plays-per-s", str(args.plays_per_s), "--tracks", str(args.tracks)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            assert plays.stdin is not None and plays.stdout is not None
            if plays.stdout.readline().strip() != "READY":
                raise RuntimeError("the plays process failed to start")
            results.update(_asyncio.run(fanout_and_capacity(base, args.clients, args, server.pid)))
            plays.stdin.close()
            played = json.loads(plays.stdout.readline())
            plays.wait(60)
            results.update(
                {
                    "plays_per_s_offered": args.plays_per_s,
                    "plays_counted": played["answers"].get("True", 0),
                    "plays_errors": played["answers"].get("error", 0),
                    "play_p50_ms": round(percentile(played["timings_ms"], 50), 2),
                    "play_p99_ms": round(percentile(played["timings_ms"], 99), 2),
                    **analytics_rows(database),
                }
            )
        finally:
            if plays is not None and plays.poll() is None:
                plays.kill()
                plays.wait(15)
            server.terminate()
            server.wait(15)
    results.update(
        {
            "clients": args.clients,
            "tracks": args.tracks,
            "seed_s": round(seed_s, 1),
            "p99_limit_ms": P99_LIMIT_MS,
        }
    )
    report(results)


if __name__ == "__main__":
    main()
