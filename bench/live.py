"""Go-live benchmark: glass-to-glass latency, delivered fps, publisher CPU, viewers held.

    .venv/bin/python bench/live.py [--seconds 10] [--max-viewers 40]

Runs in a fresh network namespace holding only `lo` when it can (root + unshare), otherwise
on this machine's loopback. Inside: the real backend (`python -m backend`), a publisher
process (the studio's encoders from media/ at 720p30 VP8 fed by the lavfi test pattern with
the wall clock stamped into its pixels, plus a tone, published with WhipPublisher), then

- headless Chromium on the fan page reads the stamp back from every decoded frame
  (tests/live_relay/fan_page_check.mjs --latency): latency p50/p95 and delivered fps;
- the publisher's CPU (user+system, % of one core) over the same window;
- aiortc WHEP viewers (no decoding: they count encoded frames) added in steps until one of
  them falls below 29 fps: `viewers_held` is the last step where all held 29 fps.

Prints one JSON object as its last line (with the load average it ran under).
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import cpu_seconds, percentile, report  # noqa: E402

NODE_SCRIPT = ROOT / "tests" / "live_relay" / "fan_page_check.mjs"
STREAM = "bench"
TARGET_FPS = 29.0


def udp_receive_buffer_errors() -> int:
    """Datagrams the kernel dropped because a socket's receive buffer was full (this netns)."""
    lines = [line.split() for line in Path("/proc/net/snmp").read_text().splitlines()]
    header, values = [row for row in lines if row[0] == "Udp:"][:2]
    return int(values[header.index("RcvbufErrors")])


# -- publisher process -------------------------------------------------------------------


async def publisher_role(args: argparse.Namespace) -> None:
    import threading

    from harness.packet_stamp import STAMP_BITS, STAMP_ROWS, stamp_clock
    from media.encoded_track import EncodedTrack
    from media.encoder import AudioEncoder, VideoEncoder, VideoSettings
    from media.sources import pattern_source, tone_source
    from media.whip import WhipPublisher

    settings = VideoSettings(codec="vp8", width=1280, height=720, fps=30)
    video, audio = VideoEncoder(settings), AudioEncoder()
    pattern = pattern_source(settings.width, settings.height, settings.fps)
    tone = tone_source(frequency=1000.0, channels=2)
    block = settings.width // (STAMP_BITS // STAMP_ROWS)

    def encode_video() -> None:
        import av

        for index, frame in enumerate(pattern.frames()):
            planes = frame.reformat(format="yuv420p").to_ndarray()
            stamp_clock(planes, settings.height, int(time.time() * 1000), block)
            stamped = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            video.encode(stamped, index)

    def encode_audio() -> None:
        sample = 0
        for chunk in tone.blocks():
            audio.encode(chunk, sample)
            sample += len(chunk)

    tracks = [EncodedTrack.for_encoder("audio", audio), EncodedTrack.for_encoder("video", video)]
    for target in (encode_video, encode_audio):
        threading.Thread(target=target, daemon=True).start()
    publisher = WhipPublisher(args.url, args.token, tracks)
    await publisher.start()
    print("READY", flush=True)
    await publisher.stats()
    while True:
        await asyncio.sleep(2)
        stats = await publisher.stats()
        line = {"fps": stats.fps, "kbps": stats.bitrate_kbps, "encode_ms": None}
        print("STATS " + json.dumps(line), flush=True)


# -- viewers process ---------------------------------------------------------------------


async def viewers_role(args: argparse.Namespace) -> None:
    from media.whep import WhepPlayer

    players = [
        WhepPlayer(args.url, decode=False, server_offer=args.server_offer)
        for _ in range(args.count)
    ]
    await asyncio.gather(*(p.start() for p in players))
    deadline = time.monotonic() + 15
    while any(p.counts.frames["video"] == 0 for p in players) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await asyncio.sleep(1.0)
    before = [p.counts.frames["video"] for p in players]
    started, cpu0 = time.monotonic(), cpu_seconds([os.getpid()])
    await asyncio.sleep(args.seconds)
    elapsed = time.monotonic() - started
    cpu_pct = 100 * (cpu_seconds([os.getpid()]) - cpu0) / elapsed
    fps = [(p.counts.frames["video"] - b) / elapsed for p, b in zip(players, before, strict=True)]
    await asyncio.gather(*(p.stop() for p in players), return_exceptions=True)
    print("VIEWERS " + json.dumps({"fps": fps, "cpu_pct": cpu_pct}), flush=True)


# -- orchestration -----------------------------------------------------------------------


async def start_backend(work: Path, port: int) -> subprocess.Popen[bytes]:
    import httpx

    log = open(work / "backend.log", "wb")  # noqa: SIM115 - handed to the child
    process = subprocess.Popen(
        [
            sys.executable, "-m", "backend", "--host", "127.0.0.1", "--port", str(port),
            "--data-dir", str(work), "--log-level", "warning",
            "--database-url", f"sqlite+aiosqlite:///{work / 'backend.db'}",
            # every viewer here comes from 127.0.0.1: the per-client cap would stop the count
            "--viewer-sessions-per-client", "0",
        ],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(300):
            if process.poll() is not None:
                raise RuntimeError("backend exited: " + (work / "backend.log").read_text()[-2000:])
            try:
                if (await client.get(f"http://127.0.0.1:{port}/relay/live")).status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("backend did not start")


def stop_backend(backend: subprocess.Popen[bytes]) -> None:
    backend.terminate()
    try:
        backend.wait(10)
    except subprocess.TimeoutExpired:
        backend.kill()


async def spawn(*argv: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv, cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip


async def read_until(process: asyncio.subprocess.Process, prefix: str, timeout: float) -> str:
    assert process.stdout is not None
    while True:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout)).decode()
        if not line:
            raise RuntimeError(f"process ended before printing {prefix}")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()


async def browser_latency(url: str, seconds: float) -> dict[str, object]:
    """One Chromium viewer on the fan page reads the stamped clock back from each frame."""
    node = await spawn(
        "node", str(NODE_SCRIPT), "--url", url, "--stream", STREAM,
        "--seconds", str(seconds), "--latency",
    )  # fmt: skip
    browser = json.loads(await read_until(node, "RESULT ", seconds + 90))
    await node.wait()
    if "error" in browser:
        raise RuntimeError(f"browser: {browser['error']}")
    measured = browser["phases"][0]["viewers"][0]
    delays = [float(d) for d in measured["latency_ms"]]
    return {
        "latency_p50_ms": percentile(delays, 50) if delays else None,
        "latency_p95_ms": percentile(delays, 95) if delays else None,
        "latency_samples": len(delays),
        "fps": round(measured["fps"], 2),
        "decoded_size": f"{measured['width']}x{measured['height']}",
    }


async def viewer_steps(
    watch_url: str,
    args: argparse.Namespace,
    server_pids: Callable[[], list[int]],
    server_offer: bool = False,
) -> tuple[int, list[dict[str, object]]]:
    """Viewers added in steps until one falls below 29 fps: (viewers held, each step), with
    the CPU of `server_pids()` (% of one core) over each step."""
    me = str(Path(__file__).resolve())
    held, steps = 0, []
    for count in range(args.step, args.max_viewers + 1, args.step):
        wall0, server0 = time.monotonic(), cpu_seconds(server_pids())
        drops0 = udp_receive_buffer_errors()
        # Viewers spread over processes so that no single Python process of viewers is
        # what falls behind (they share this machine's 2 cores with the server).
        shares = [args.per_process] * (count // args.per_process)
        if count % args.per_process:
            shares.append(count % args.per_process)
        viewer_args = ["--role", "viewers", "--url", watch_url]
        viewer_args += ["--seconds", str(args.viewer_seconds)]
        viewer_args += ["--server-offer"] if server_offer else []
        groups = [await spawn(sys.executable, me, *viewer_args, "--count", str(n)) for n in shares]
        fps: list[float] = []
        viewer_cpu: list[float] = []
        for group in groups:
            seen = json.loads(await read_until(group, "VIEWERS ", 120))
            fps += seen["fps"]
            viewer_cpu.append(round(seen["cpu_pct"]))
            await group.wait()
        server_pct = 100 * (cpu_seconds(server_pids()) - server0) / (time.monotonic() - wall0)
        steps.append(
            {
                "viewers": count,
                "min_fps": round(min(fps), 2),
                "server_cpu_pct": round(server_pct, 1),
                "viewer_process_cpu_pct": viewer_cpu,
                "udp_receive_buffer_drops": udp_receive_buffer_errors() - drops0,
            }
        )
        if min(fps) < TARGET_FPS:
            break
        held = count
        await asyncio.sleep(1)
    return held, steps


async def start_publisher(whip_url: str, token: str) -> asyncio.subprocess.Process:
    """The publisher process (720p30 VP8 + tone), live once this returns."""
    me = str(Path(__file__).resolve())
    publisher = await spawn(
        sys.executable, me, "--role", "publisher", "--url", whip_url, "--token", token
    )
    try:
        await read_until(publisher, "READY", 60)
    except BaseException:
        publisher.kill()
        await publisher.wait()
        raise
    await asyncio.sleep(2)
    return publisher


async def orchestrate(args: argparse.Namespace) -> dict[str, object]:
    os.environ.setdefault("HARMONIE_ICE_LOOPBACK", "only")
    work = Path(tempfile.mkdtemp(prefix="harmonie-bench-"))
    port = 19000 + os.getpid() % 2000
    url = f"http://127.0.0.1:{port}"
    backend = await start_backend(work, port)
    token = (work / "ingest-token").read_text().strip()
    result: dict[str, object] = {"resolution": "1280x720", "codec": "VP8", "target_fps": 30}
    publisher = await start_publisher(f"{url}/whip/{STREAM}", token)
    try:
        # Latency and delivered fps, one Chromium viewer; publisher CPU over the same window.
        cpu_before, wall_before = cpu_seconds([publisher.pid]), time.monotonic()
        result.update(await browser_latency(url, args.seconds))
        cpu_pct = (
            100 * (cpu_seconds([publisher.pid]) - cpu_before) / (time.monotonic() - wall_before)
        )
        result.update(publisher_cpu_pct=round(cpu_pct, 1))
        held, steps = await viewer_steps(f"{url}/whep/{STREAM}", args, lambda: [backend.pid])
        result.update(viewers_held=held, viewer_steps=steps)
    finally:
        publisher.kill()
        await publisher.wait()
        stop_backend(backend)
        shutil.rmtree(work, ignore_errors=True)
    return result


def in_namespace(argv: list[str]) -> bool:
    """Re-run this script in a new network namespace with only lo; False if not possible."""
    if os.geteuid() != 0 or shutil.which("unshare") is None or os.environ.get("HARMONIE_NETNS"):
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        return False
    command = "ip link set lo up; exec " + " ".join([sys.executable, *argv])
    done = subprocess.run(
        ["unshare", "-n", "--", "sh", "-c", command], env={**os.environ, "HARMONIE_NETNS": "1"}
    )
    sys.exit(done.returncode)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--role", choices=("main", "publisher", "viewers"), default="main")
    parser.add_argument("--url")
    parser.add_argument("--token")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--viewer-seconds", type=float, default=5.0)
    parser.add_argument("--step", type=int, default=5)
    parser.add_argument("--max-viewers", type=int, default=40)
    parser.add_argument("--per-process", type=int, default=5)
    parser.add_argument(
        "--server-offer", action="store_true", help="viewers: the /watch flow (Janus offers)"
    )
    args = parser.parse_args()
    if args.role == "publisher":
        asyncio.run(publisher_role(args))
        return
    if args.role == "viewers":
        asyncio.run(viewers_role(args))
        return
    in_namespace([str(Path(__file__).resolve()), *sys.argv[1:]])
    report(asyncio.run(orchestrate(args)))


if __name__ == "__main__":
    main()
