"""Headless Chromium on the fan page watches the studio's stream through a Janus edge: the page
learns from /relay/live that this stream takes the server-offer flow and answers Janus."""

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.janus.test_janus_stream import go_live
from tests.live_relay.conftest import wait_until
from tests.live_relay.packet_source import EncodedTestSource

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "tests" / "live_relay" / "fan_page_check.mjs"
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is not installed (Debian package chromium)"
    if shutil.which("node") is None or not (ROOT / "node_modules" / "playwright-core").exists():
        return "node and node_modules/playwright-core are needed (make node)"
    return None


async def test_chromium_on_the_fan_page_gets_frames_and_tone_through_an_edge(
    edge_backend, janus
) -> None:
    missing = _missing()
    if missing:
        pytest.skip(missing)
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    publisher = await go_live(edge_backend, source)
    watched_on: set[str] = set()

    async def note_where_viewers_are() -> None:
        while True:
            counts = edge_backend.media.viewers_by_instance()
            watched_on.update(url for url, n in counts.items() if n)
            await asyncio.sleep(0.1)

    sampler = asyncio.ensure_future(note_where_viewers_are())
    try:
        check = await asyncio.create_subprocess_exec(
            "node", str(CHECK), "--url", edge_backend.url, "--stream", "show", "--seconds", "3",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        out, err = await asyncio.wait_for(check.communicate(), 120)
    finally:
        sampler.cancel()
        await publisher.stop()
        source.stop()
    lines = [line for line in out.decode().splitlines() if line.startswith("RESULT ")]
    assert lines, err.decode()[-3000:]
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert "error" not in result, result["error"]
    assert result["listed"] == [["show", 1]]
    seen = result["phases"][0]["viewers"][0]
    assert (seen["width"], seen["height"]) == (320, 240)
    assert seen["fps"] > 0, seen
    assert seen["tone_hz"] is not None and abs(seen["tone_hz"] - 1000) < 15, seen
    assert seen["audio_samples"] > 0
    # The page's player went through an edge (Janus offered, the page answered), not the origin.
    assert len(watched_on) == 1 and watched_on < {janus["edge-a"].url, janus["edge-b"].url}


async def test_the_fan_page_comes_back_through_the_other_edge_when_its_edge_dies(
    edge_backend, janus
) -> None:
    missing = _missing()
    if missing:
        pytest.skip(missing)
    media = edge_backend.media
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    publisher = await go_live(edge_backend, source)
    check = await asyncio.create_subprocess_exec(
        "node", str(CHECK), "--url", edge_backend.url, "--stream", "show", "--seconds", "3",
        "--phases", "2",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        stdin=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert check.stdout is not None and check.stdin is not None

    async def line_starting(prefix: str) -> str:
        while True:
            line = (await asyncio.wait_for(check.stdout.readline(), 120)).decode()
            assert line, f"fan_page_check ended before {prefix}"
            if line.startswith(prefix):
                return line.removeprefix(prefix)

    try:
        await line_starting("PHASE ")
        (dead,) = [url for url, n in media.viewers_by_instance().items() if n]
        survivor = ({janus["edge-a"].url, janus["edge-b"].url} - {dead}).pop()
        next(s for s in janus.values() if s.url == dead).kill()
        await wait_until(
            lambda: media.viewers_by_instance()[survivor] == 1,
            timeout=90,
            what="the page to reconnect through the surviving edge",
        )
        check.stdin.write(b"go on\n")
        await check.stdin.drain()
        result = json.loads(await line_starting("RESULT "))
        await check.wait()
    finally:
        if check.returncode is None:
            check.kill()
            await check.wait()
        await publisher.stop()
        source.stop()
    assert "error" not in result, result["error"]
    assert result["reconnects"] >= 1
    after = result["phases"][1]["viewers"][0]
    assert after["connection"] == "connected" and after["fps"] > 0, after
    assert after["tone_hz"] is not None and abs(after["tone_hz"] - 1000) < 15, after
