"""Restream benchmark: the fps a player gets back from an RTMP server the show restreams to.

    .venv/bin/python bench/restream.py [--seconds 10] [--codec vp8] [--destinations 1]

The product path: a `LiveSession` (720p30 test pattern and a tone, recording to a temporary
file, no WHIP) restreams to a real nginx-rtmp (Debian's libnginx-mod-rtmp, started here on
a free loopback port). A PyAV player per destination reads the stream back from nginx and
counts the pictures that arrive over `--seconds` after a warm-up: `restream_fps` is the
slowest destination's (target >= 29). With `--codec vp8` (the studio's default) the
restream's H.264 is the one extra encode; `--codec h264` shares the show's encoder.

Prints one JSON object as its last line (with the load average it ran under).
"""

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402

from bench.common import report  # noqa: E402
from harness.nginx_rtmp import NginxRtmp, have_nginx_rtmp  # noqa: E402
from media.rtmp_output import RtmpDestination  # noqa: E402
from studio.live.session import LiveOptions, LiveSession  # noqa: E402

TARGET_FPS = 29.0
WARMUP_S = 3.0


def count_pictures(url: str, warmup_s: float, seconds: float, out: dict[str, float]) -> None:
    """Demux `url` (no decoding: the player's CPU is not the figure) and count the video
    packets arriving in the window [warm-up, warm-up + seconds) after the first one."""
    with av.open(url, timeout=20) as container:
        first: float | None = None
        frames = 0
        for packet in container.demux(video=0):
            if packet.size == 0:
                continue
            now = time.monotonic()
            first = first if first is not None else now
            if now - first < warmup_s:
                continue
            if now - first >= warmup_s + seconds:
                break
            frames += 1
    out["fps"] = frames / seconds


async def run(args: argparse.Namespace) -> dict[str, object]:
    if not have_nginx_rtmp():
        raise SystemExit("nginx with libnginx-mod-rtmp is not installed")
    with tempfile.TemporaryDirectory(prefix="restream-bench-") as tmp:
        server = NginxRtmp(Path(tmp) / "nginx")
        server.start()
        try:
            keys = [f"bench{i}" for i in range(args.destinations)]
            options = LiveOptions(
                video="testsrc", audio=["tone:1000"], width=1280, height=720, fps=30,
                video_codec=args.codec, record_path=Path(tmp) / "show.mkv",
                restream=[RtmpDestination(f"Bench {k}", server.server_url, k) for k in keys],
            )  # fmt: skip
            session = LiveSession()
            results: list[dict[str, float]] = [{} for _ in keys]
            players = [
                threading.Thread(
                    target=count_pictures,
                    args=(server.url(k), WARMUP_S, args.seconds, r),
                    daemon=True,
                )
                for k, r in zip(keys, results, strict=True)
            ]
            await session.start(options)
            assert session.pipeline is not None
            cpu0, wall0 = time.process_time(), time.monotonic()
            encoded0 = session.pipeline.frames_encoded
            for player in players:
                player.start()
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: [p.join(args.seconds + WARMUP_S + 30) for p in players]
            )
            wall = time.monotonic() - wall0
            cpu_pct = 100 * (time.process_time() - cpu0) / wall
            # what the show itself encoded meanwhile: restream_fps cannot be more
            show_fps = (session.pipeline.frames_encoded - encoded0) / wall
            stats = session.stats()
            await session.stop()
        finally:
            server.stop()
    fps = [r.get("fps", 0.0) for r in results]
    return {
        "restream_fps": round(min(fps), 2),
        "restream_fps_target": TARGET_FPS,
        "per_destination_fps": [round(f, 2) for f in fps],
        "show_fps": round(show_fps, 2),
        "frames_skipped": stats.get("frames_skipped"),
        "restream_states": stats.get("restream"),
        "studio_cpu_pct": round(cpu_pct, 1),
        "codec": args.codec,
        "destinations": args.destinations,
        "seconds": args.seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--codec", choices=("vp8", "h264"), default="vp8")
    parser.add_argument("--destinations", type=int, choices=(1, 2, 3), default=1)
    args = parser.parse_args()
    report(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
