"""Scene bench: how fast a scene switch reaches a viewer, and what composing costs per frame.

    .venv/bin/python bench/scenes.py [--switches 20] [--width 1280 --height 720]

- `scene_switch_ms`: the studio's own LiveSession (720p30 VP8 + tone, two full-frame colour
  scenes, cuts) publishes to the real backend (`python -m backend`, its built-in relay); an
  aiortc WHEP viewer decodes every frame. Each switch is timed from `LiveSession.switch_scene`
  (what the panel's list, the tray and Ctrl+1…9 call) to the first decoded frame at the viewer
  showing the new colour: p50 / p95 / max over `--switches` (target p95 <= 150 ms). The viewer
  decodes in the same process as the studio, as a second core would not in real life.
- `compose_ms`: media.compositor per 1280x720 frame for typical scenes (mean of 90 frames):
  a colour, one full-frame video, video + picture-in-picture camera + alerts, a text over
  video, and a fade between two scenes.

Runs in a fresh network namespace holding only `lo` when it can (as bench/live.py does).
Prints one JSON object as its last line.
"""

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import percentile, report  # noqa: E402
from bench.live import in_namespace, start_backend, stop_backend  # noqa: E402

TARGET_P95_MS = 150.0
COLOURS = {"Red": ("#ff0000", (255, 0, 0)), "Blue": ("#0000ff", (0, 0, 255))}


def compose_costs(width: int, height: int, frames: int = 90) -> dict[str, float]:
    from media.compositor import SceneCompositor
    from media.scenes import Layout, Rect, Scene, SceneSet, SceneSource, default_scenes
    from media.sources import pattern_source

    screen = next(iter(pattern_source(width, height, 30, realtime=False, seconds=1).frames()))
    camera = next(iter(pattern_source(640, 480, 30, realtime=False, seconds=1).frames()))
    feeds = {"video": screen, "overlay": camera}
    colour = Scene("Colour", (SceneSource("colour", colour="#203040"),))
    title = SceneSource("text", target="Back in five", rect=Rect(0, 0, 1, 0.15))
    titled = Scene("Titled", (SceneSource("video"), title))
    cases = {
        "colour": SceneSet((colour,)),
        "video": default_scenes(Layout.MAIN),
        "video_pip_alerts": default_scenes(Layout.PIP),
        "video_text": SceneSet((titled,)),
    }
    costs = {}
    for name, scenes in cases.items():
        compositor = SceneCompositor(width, height, scenes)
        compositor.compose(feeds)
        started = time.perf_counter()
        for _ in range(frames):
            compositor.compose(feeds)
        costs[name] = round((time.perf_counter() - started) / frames * 1000, 3)
    fading = SceneCompositor(width, height, SceneSet((titled, colour), fade_ms=2000))
    fading.compose(feeds)
    fading.switch("Colour")
    started = time.perf_counter()
    for _ in range(frames):
        fading.compose(feeds)
    costs["fade"] = round((time.perf_counter() - started) / frames * 1000, 3)
    return costs


async def switch_latency(args: argparse.Namespace) -> dict[str, object]:
    import numpy as np

    from media.scenes import Scene, SceneSet, SceneSource
    from media.whep import WhepPlayer
    from studio.live.options import LiveOptions
    from studio.live.session import LiveSession

    os.environ.setdefault("HARMONIE_ICE_LOOPBACK", "only")
    work = Path(tempfile.mkdtemp(prefix="harmonie-scenes-bench-"))
    port = 21000 + os.getpid() % 2000
    url = f"http://127.0.0.1:{port}"
    backend = await start_backend(work, port)
    token = (work / "ingest-token").read_text().strip()
    scenes = SceneSet(
        tuple(Scene(n, (SceneSource("colour", colour=c),)) for n, (c, _rgb) in COLOURS.items()),
        transition="cut",
    )
    options = LiveOptions(
        video="none", audio=["tone"], width=args.width, height=args.height, fps=30,
        whip_url=f"{url}/whip/bench", whip_token=token, scenes=scenes,
    )  # fmt: skip
    session = LiveSession()
    seen: dict[str, float] = {}  # colour name -> when the viewer first decoded it (this round)

    def on_frame(kind: str, frame: object) -> None:
        if kind != "video":
            return
        picture = frame.to_ndarray(format="rgb24")  # type: ignore[attr-defined]
        mean = picture[::8, ::8].reshape(-1, 3).mean(axis=0)
        for name, (_hex, rgb) in COLOURS.items():
            if name not in seen and np.all(np.abs(mean - rgb) < 40):
                seen[name] = time.perf_counter()

    viewer = WhepPlayer(f"{url}/whep/bench", decode=True, on_frame=on_frame)
    delays: list[float] = []
    try:
        await session.start(options)
        deadline = time.monotonic() + 60
        while session.publish_state != "live" and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await viewer.start()
        while "Red" not in seen and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if "Red" not in seen:
            raise RuntimeError("the viewer never saw the first scene")
        await asyncio.sleep(1.0)
        current = "Red"
        for _ in range(args.switches):
            target = "Blue" if current == "Red" else "Red"
            seen.clear()
            started = time.perf_counter()
            session.switch_scene(target)
            while target not in seen and time.perf_counter() - started < 5:
                await asyncio.sleep(0.002)
            if target not in seen:
                raise RuntimeError(f"the viewer did not see {target} within 5 s")
            delays.append((seen[target] - started) * 1000)
            current = target
            await asyncio.sleep(0.4)
    finally:
        await viewer.stop()
        await session.stop()
        stop_backend(backend)
        shutil.rmtree(work, ignore_errors=True)
    return {
        "scene_switch_ms_p50": round(percentile(delays, 50), 1),
        "scene_switch_ms_p95": round(percentile(delays, 95), 1),
        "scene_switch_ms_max": round(max(delays), 1),
        "scene_switch_target_p95_ms": TARGET_P95_MS,
        "switches": len(delays),
        "resolution": f"{args.width}x{args.height}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    args = parser.parse_args()
    in_namespace([str(Path(__file__).resolve()), *sys.argv[1:]])
    result = {"compose_ms": compose_costs(args.width, args.height)}
    result.update(asyncio.run(switch_latency(args)))
    report(result)


if __name__ == "__main__":
    main()
