"""One client cannot take every viewer session: a per-address and per-account cap, 429."""

from dataclasses import replace

import httpx
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import AudioStreamTrack

from backend.config import BackendConfig
from backend.streams.keys import read_ingest_token
from media.ice import peer_connection
from tests.backend.support import bearer, serve, sign_in


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARMONIE_ICE_LOOPBACK", "only")


async def _offer(pc: RTCPeerConnection) -> str:
    await pc.setLocalDescription(await pc.createOffer())
    return pc.localDescription.sdp


async def test_viewer_sessions_are_capped_per_address_and_per_account(
    backend_config: BackendConfig,
) -> None:
    config = replace(backend_config, viewer_sessions_per_client=2, trusted_proxies=("127.0.0.1",))
    peers: list[RTCPeerConnection] = []
    sessions: list[str] = []  # Location of every session the server opened, to end them
    async with serve(config) as running, httpx.AsyncClient(timeout=20) as http:
        try:
            artist = peer_connection()
            peers.append(artist)
            artist.addTransceiver(AudioStreamTrack(), direction="sendonly")
            published = await http.post(
                f"{running.url}/whip/show",
                content=await _offer(artist),
                headers={
                    "Content-Type": "application/sdp",
                    "Authorization": f"Bearer {read_ingest_token(running.config.data_dir)}",
                },
            )
            assert published.status_code == 201, published.text
            sessions.append(published.headers["Location"])
            answer = RTCSessionDescription(sdp=published.text, type="answer")
            await artist.setRemoteDescription(answer)

            # One viewer offer serves every request: the cap is about sessions the server
            # opens, and fewer client peer connections leave fewer ICE tasks to wind down.
            viewer = peer_connection()
            peers.append(viewer)
            viewer.addTransceiver("audio", direction="recvonly")
            viewer_offer = await _offer(viewer)

            async def watch(client_ip: str, token: dict[str, str] | None = None) -> httpx.Response:
                headers = {"Content-Type": "application/sdp", "X-Forwarded-For": client_ip}
                if token is not None:
                    headers.update(bearer(token))
                answer = await http.post(
                    f"{running.url}/whep/show", content=viewer_offer, headers=headers
                )
                if answer.status_code == 201:
                    sessions.append(answer.headers["Location"])
                return answer

            assert [(await watch("203.0.113.1")).status_code for _ in range(2)] == [201, 201]
            third = await watch("203.0.113.1")
            assert third.status_code == 429
            assert third.headers["Retry-After"] == str(config.viewer_retry_after_s)
            assert "at once" in third.text
            # Other fans still get in.
            assert (await watch("203.0.113.2")).status_code == 201
            # One account spread over addresses is held to the same share.
            _fan, tokens = await sign_in(http, running)
            assert (await watch("198.51.100.1", tokens)).status_code == 201
            assert (await watch("198.51.100.2", tokens)).status_code == 201
            assert (await watch("198.51.100.3", tokens)).status_code == 429
        finally:
            token = {"Authorization": f"Bearer {read_ingest_token(running.config.data_dir)}"}
            for location in reversed(sessions):  # the server closes its side of each
                await http.delete(httpx.URL(running.url).join(location), headers=token)
            for pc in peers:
                await pc.close()
