"""A Janus guarded by an API secret: the backend sends it (POSTs and the long poll) and no log
line ever shows it."""

import asyncio
import logging
import secrets
from pathlib import Path

import httpx
import pytest

from backend.streams.janus_server import JanusMediaServer
from harness.janus import start_janus
from harness.processes import end
from media.ice import peer_connection
from tests.janus.conftest import backend_on
from tests.janus.test_janus_stream import Viewer, go_live
from tests.live_relay.packet_source import EncodedTestSource

pytestmark = pytest.mark.slow


async def test_a_janus_api_secret_is_sent_and_never_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, janus_runs: None
) -> None:
    secret = secrets.token_urlsafe(16)
    server = await asyncio.to_thread(start_janus, tmp_path / "janus", "guarded", secret)
    caplog.set_level(logging.INFO)
    try:
        # Without the secret Janus refuses, and the studio is told why.
        pc = peer_connection()
        pc.addTransceiver("audio", direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        await pc.close()
        async for backend in backend_on(tmp_path / "unkeyed", JanusMediaServer(server.url)):
            async with httpx.AsyncClient(timeout=10) as http:
                refused = await http.post(
                    f"{backend.url}/whip/show",
                    content=pc.localDescription.sdp.encode(),
                    headers={
                        "Content-Type": "application/sdp",
                        "Authorization": f"Bearer {backend.token}",
                    },
                )
            assert refused.status_code == 502 and "refused (403" in refused.text, refused.text

        media = JanusMediaServer(server.url, api_secret=secret)
        async for backend in backend_on(tmp_path / "keyed", media):
            source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
            publisher = await go_live(backend, source)
            viewer = Viewer(backend)
            try:
                await viewer.player.start()
                await viewer.frames_and_tone()
            finally:
                await viewer.player.stop()
                await publisher.stop()
                source.stop()
    finally:
        end(server.process)
    assert "apisecret=***" in caplog.text  # the long poll was logged, without the secret
    assert secret not in caplog.text
