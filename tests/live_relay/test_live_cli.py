"""`harmonie-studio live` (a real process) against the backend's real WHIP ingest: a viewer
hears the show without holes, and a refused stream key ends the show at once."""

import asyncio
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from media.whep import WhepPlayer
from tests.live_capture.audio_gaps import silent_stretches, timeline_gaps
from tests.live_relay.conftest import wait_until

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


async def start_live(*args: str, token: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "widgets.main", "live", *args,
        cwd=ROOT,
        env={**os.environ, "HARMONIE_WHIP_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process, timeout: float) -> tuple[str, str]:
    """Its stdout and stderr once it exits; killed (and the test failed) after `timeout` s."""
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"harmonie-studio live was still running after {timeout} s") from None
    return out.decode(), err.decode()


async def test_a_viewer_hears_the_show_without_a_gap_after_100_ms(relay_server, http) -> None:
    live = await start_live(
        "--video", "testsrc", "--audio", "tone", "--size", "320x240",
        "--video-bitrate", "400000", "--whip", f"{relay_server.url}/whip/show",
        "--duration", "12",
        token=relay_server.token,
    )  # fmt: skip
    frames: list[tuple[int, int, np.ndarray]] = []

    def on_frame(kind: str, frame) -> None:  # type: ignore[no-untyped-def]
        if kind == "audio":
            pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels)) / 32768.0
            frames.append((frame.pts, frame.samples, pcm))

    viewer = WhepPlayer(f"{relay_server.url}/whep/show", on_frame=on_frame)
    try:
        listed: list[str] = []

        async def poll() -> None:
            listed[:] = [
                s["stream"] for s in (await http.get(f"{relay_server.url}/relay/live")).json()
            ]

        for _ in range(600):  # join as soon as the show is on the relay
            await poll()
            if "show" in listed or live.returncode is not None:
                break
            await asyncio.sleep(0.05)
        assert "show" in listed, "the show never reached the relay"
        await viewer.start()
        await wait_until(lambda: len(frames) >= 200, 30, "4 s of sound at the viewer")
    finally:
        await viewer.stop()
        out, err = await finish(live, 60)
    assert live.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1])["publish_state"] == "live"

    # aiortc's frames carry the RTP clock (48 kHz for Opus) as pts: a lost or late packet
    # is a hole in that timeline, a hole in our audio a stretch of silence in the tone.
    assert timeline_gaps([(pts, n) for pts, n, _ in frames], Fraction(1, 48_000)) == []
    assert silent_stretches(np.concatenate([pcm for _, _, pcm in frames]), 48_000) == []


@pytest.mark.parametrize(
    ("key", "refusal"),
    [("", "refused the stream key (401)"), ("not-the-key-0123456789", "(403)")],
    ids=["no key", "wrong key"],
)
async def test_a_refused_stream_stops_the_show_with_a_clear_line(
    relay_server, tmp_path: Path, key: str, refusal: str
) -> None:
    recording = tmp_path / "kept.mkv"
    live = await start_live(
        "--size", "320x240", "--record", str(recording),
        "--whip", f"{relay_server.url}/whip/show", "--duration", "600",
        token=key,
    )  # fmt: skip
    out, err = await finish(live, 90)  # not the 600 s asked for
    assert live.returncode == 2, err
    line = next(x for x in err.splitlines() if x.startswith("harmonie-studio: "))
    assert "publishing failed, the show stopped: " in line and refusal in line, line
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["state"] == "ended" and summary["publish_state"] == "failed"
    assert key not in out + err or not key
    assert recording.stat().st_size > 0  # what was recorded until then is kept
