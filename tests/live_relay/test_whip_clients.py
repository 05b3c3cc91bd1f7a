"""Other WHIP publishers than ours into the built-in relay, each watched by a WHEP viewer:
FFmpeg's own WHIP muxer (PyAV's bundled FFmpeg 8, GnuTLS DTLS) and Chromium's
RTCPeerConnection. docs/whip-clients.md has what each needs (and OBS)."""

import asyncio
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from media.whep import WhepPlayer
from tests.live_relay.conftest import wait_until
from tests.live_relay.test_relay import dominant_frequency

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"


async def spawn(log: Path, *command: str) -> asyncio.subprocess.Process:
    """A helper process with stdin/stdout piped; its stderr (FFmpeg's or the browser's log)
    goes to `log`, so a chatty child can never block on a full pipe."""
    with log.open("wb") as stderr:
        return await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            cwd=ROOT,
        )


async def start_ffmpeg(
    url: str, token: str, log: Path, *options: str
) -> asyncio.subprocess.Process:
    script = str(HERE / "ffmpeg_whip_publisher.py")
    return await spawn(log, sys.executable, script, f"{url}/whip/show", token, *options)


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
    await process.wait()


def audio_collector() -> tuple[list[np.ndarray], list[int], Callable[[str, object], None]]:
    chunks: list[np.ndarray] = []
    rates: list[int] = []

    def on_frame(kind: str, frame) -> None:  # type: ignore[no-untyped-def]
        if kind == "audio":
            chunks.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
            rates.append(frame.sample_rate)

    return chunks, rates, on_frame


async def test_ffmpeg_whip_muxer_publishes_h264_and_opus_to_a_viewer(
    relay_server, tmp_path
) -> None:
    # A P-256 key of our making: FFmpeg's own (GnuTLS) key is refused, see the next test.
    log = tmp_path / "ffmpeg.log"
    publisher = await start_ffmpeg(
        relay_server.url, relay_server.token, log, "--seconds", "8", "--p256-cert", str(tmp_path)
    )
    chunks, rates, on_frame = audio_collector()
    viewer = WhepPlayer(f"{relay_server.url}/whep/show", on_frame=on_frame)
    try:
        relay = relay_server.relay
        await wait_until(
            lambda: relay.live_streams() or publisher.returncode is not None,
            timeout=60,
            what="FFmpeg's offer",
        )
        assert publisher.returncode is None, tail(log)
        [live] = relay.live_streams()
        assert (live.video_codec, live.audio_codec) == ("H264", "opus")

        await viewer.start()
        await wait_until(
            lambda: viewer.counts.frames["video"] >= 45 and len(chunks) >= 50,
            timeout=30,
            what="1.5 s of FFmpeg's pictures and 1 s of its tone at the viewer",
        )
        assert viewer.counts.video_size == (320, 240)
        pcm = np.concatenate(chunks[-50:]).astype(np.float64)
        assert abs(dominant_frequency(pcm, rates[-1]) - 1000.0) < 25

        await asyncio.wait_for(publisher.wait(), 30)
        out = (await publisher.stdout.read()).decode()
        assert publisher.returncode == 0, tail(log)
        sent = json.loads(out.split("PUBLISHED ", 1)[1])
        assert sent["video"] >= 200 and sent["audio"] >= 350
    finally:
        await viewer.stop()
        await stop(publisher)


async def test_ffmpeg_whip_muxer_with_its_own_key_is_refused_with_the_reason(
    relay_server, caplog, tmp_path
) -> None:
    """FFmpeg 8 with GnuTLS makes its DTLS key with GNUTLS_SEC_PARAM_MEDIUM, which GnuTLS maps
    to a P-224 ECDSA key; OpenSSL (under aiortc) does not negotiate that curve, so it sends a
    fatal illegal_parameter alert after the ServerKeyExchange ("A TLS fatal alert has been
    received" in FFmpeg's log). Nothing on our side can accept the key; the operator is told
    why and what to give FFmpeg instead."""
    caplog.set_level(logging.WARNING, logger="backend.streams.relay")
    log = tmp_path / "ffmpeg.log"
    publisher = await start_ffmpeg(relay_server.url, relay_server.token, log, "--seconds", "3")
    try:
        await asyncio.wait_for(publisher.wait(), 60)
        stderr = log.read_text(errors="replace")
        assert publisher.returncode == 1, (
            "FFmpeg's own key was accepted: its GnuTLS backend may make P-256 keys now, "
            "update docs/whip-clients.md"
        )
        assert "FFmpeg WHIP muxer failed" in stderr, stderr[-2000:]
        await wait_until(
            lambda: any("refused" in r.getMessage() for r in caplog.records),
            what="the relay's reason",
        )
    finally:
        await stop(publisher)
    [reason] = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert "secp224r1" in reason and "cert_file" in reason and "key_file" in reason, reason
