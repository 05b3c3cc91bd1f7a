"""Janus beside the built-in relay, in one run: viewers held, server CPU per viewer, latency.

    tests/support/in_netns.sh .venv/bin/python bench/janus.py [--seconds 8] [--step 10]

For each media server in turn: the real backend (`python -m backend`, configured by
`HARMONIE_MEDIA_SERVER` = relay, or janus with an origin and two edges: Debian's janus, three
processes started by harness/janus.py), bench/live.py's publisher process (720p30 VP8 with the
wall clock stamped into its pixels, a tone, WhipPublisher), then
- headless Chromium on the fan page reads the stamp back from each decoded frame: latency
  p50/p95 (through an edge for Janus: the page takes the /watch flow /relay/live names);
- aiortc viewers (encoded frames counted, not decoded: bench/live.py's viewer role) added in
  steps until one falls below 29 fps: `viewers_held`;
- the server's CPU over each step, from /proc: the backend process for the relay; all Janus
  processes (origin and edges) for Janus, with the backend's own (signalling only) beside it.
  `server_cpu_pct_per_viewer`: that CPU (% of one core) over the viewers of the largest step
  held (of the first step when none held).

Janus 1.1.2 (libnice) never gathers a loopback candidate, so this runs in the suite's own
network namespace (tests/support/in_netns.sh: a veth pair of test addresses), never on this
machine's own interface. Prints one JSON object as its last line.
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path

import ifaddr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import live  # noqa: E402
from bench.common import cpu_seconds, report  # noqa: E402
from harness.janus import janus_servers  # noqa: E402
from media.ice import LOOPBACK_ENV  # noqa: E402
from studio.local_backend import free_port  # noqa: E402

# Targets of issue 15 for Janus.
TARGET_CPU_PER_VIEWER = 0.5
TARGET_P95_MS = 150.0


def per_viewer(held: int, steps: list[dict[str, object]], key: str) -> float | None:
    step = next((s for s in steps if s["viewers"] == held), steps[0] if steps else None)
    if step is None:
        return None
    return round(float(step[key]) / int(step["viewers"]), 3)  # type: ignore[arg-type]


async def measure(kind: str, args: argparse.Namespace, work: Path) -> dict[str, object]:
    with ExitStack() as stack:
        env = {"HARMONIE_MEDIA_SERVER": kind}
        janus_pids: list[int] = []
        if kind == "janus":
            servers = stack.enter_context(janus_servers(work / "janus-servers", "origin", "a", "b"))
            env["HARMONIE_JANUS_URL"] = servers["origin"].url
            env["HARMONIE_JANUS_EDGES"] = f"{servers['a'].url},{servers['b'].url}"
            janus_pids = [s.process.pid for s in servers.values()]
        os.environ.update(env)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        data = work / f"{kind}-backend"
        data.mkdir()
        backend = await live.start_backend(data, port)
        token = (data / "ingest-token").read_text().strip()
        result: dict[str, object] = {}
        publisher: asyncio.subprocess.Process | None = None
        try:
            publisher = await live.start_publisher(f"{url}/whip/{live.STREAM}", token)
            result.update(await live.browser_latency(url, args.seconds))
            server = janus_pids or [backend.pid]
            backend0 = cpu_seconds([backend.pid])
            held, steps = await live.viewer_steps(
                f"{url}/{'watch' if kind == 'janus' else 'whep'}/{live.STREAM}",
                args,
                lambda: server,
                server_offer=kind == "janus",
            )
            result.update(
                viewers_held=held,
                server_cpu_pct_per_viewer=per_viewer(held, steps, "server_cpu_pct"),
                viewer_steps=steps,
            )
            if janus_pids:
                result["backend_cpu_s_signalling"] = round(cpu_seconds([backend.pid]) - backend0, 2)
        finally:
            if publisher is not None:
                publisher.kill()
                await publisher.wait()
            live.stop_backend(backend)
            for name in env:
                os.environ.pop(name, None)
        return result


async def orchestrate(args: argparse.Namespace) -> dict[str, object]:
    os.environ.pop(LOOPBACK_ENV, None)
    work = Path(tempfile.mkdtemp(prefix="harmonie-bench-janus-"))
    try:
        relay = await measure("relay", args, work)
        janus = await measure("janus", args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    p95 = janus.get("latency_p95_ms")
    per = janus.get("server_cpu_pct_per_viewer")
    return {
        "resolution": "1280x720",
        "codec": "VP8",
        "janus": janus,
        "relay": relay,
        "janus_meets_cpu_target": per is not None and float(per) <= TARGET_CPU_PER_VIEWER,  # type: ignore[arg-type]
        "janus_meets_latency_target": p95 is not None and float(p95) <= TARGET_P95_MS,  # type: ignore[arg-type]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="latency window")
    parser.add_argument("--viewer-seconds", type=float, default=15.0, help="CPU window a step")
    parser.add_argument("--step", type=int, default=10)
    parser.add_argument("--max-viewers", type=int, default=40)
    parser.add_argument("--per-process", type=int, default=5)
    args = parser.parse_args()
    if not any(adapter.name == "hv0" for adapter in ifaddr.get_adapters()):
        parser.error(
            "run it in the test namespace: tests/support/in_netns.sh .venv/bin/python "
            "bench/janus.py (Janus needs a non-loopback address of our own)"
        )
    report(asyncio.run(orchestrate(args)))


if __name__ == "__main__":
    main()
