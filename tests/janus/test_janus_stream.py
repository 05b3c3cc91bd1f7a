"""The studio's WHIP publish through Janus (Debian's janus 1.1.2, real processes), to viewers
answering Janus's offers: on the origin's VideoRoom, and on edges fed by RTP forwarders."""

import asyncio

import httpx
import numpy as np
import pytest
from aiortc import RTCRtpSender

from backend.streams.janus_server import VIDEOROOM, JanusInstance, JanusMediaServer
from media.ice import peer_connection
from media.whep import WhepPlayer
from media.whip import WhipPublisher
from media.whip_errors import WhipRejected, WhipServerError
from studio.local_backend import free_port
from tests.janus.conftest import JanusBackend, backend_on
from tests.live_relay.conftest import wait_until
from tests.live_relay.packet_source import EncodedTestSource
from tests.live_relay.test_relay import dominant_frequency

pytestmark = pytest.mark.slow


async def janus_participants(url: str, room: int) -> list[dict]:  # type: ignore[type-arg]
    """Ask Janus itself (not the backend) who publishes in `room`."""
    async with httpx.AsyncClient(timeout=10) as client:
        instance = JanusInstance(url, client)
        handle = await instance.attach(VIDEOROOM)
        data, _ = await instance.message(handle, {"request": "listparticipants", "room": room})
        await instance.close()
        return list(data["participants"])


class Viewer:
    """A player on the /watch flow that keeps the decoded audio, like a fan's page."""

    def __init__(self, backend: JanusBackend, stream: str = "show") -> None:
        self.audio: list[np.ndarray] = []
        self.rate = 48000
        self.player = WhepPlayer(
            f"{backend.url}/watch/{stream}", server_offer=True, on_frame=self.on_frame
        )

    def on_frame(self, kind: str, frame) -> None:  # type: ignore[no-untyped-def]
        if kind == "audio":
            self.audio.append(frame.to_ndarray().reshape(-1, len(frame.layout.channels))[:, 0])
            self.rate = frame.sample_rate

    @property
    def video_frames(self) -> int:
        return self.player.counts.frames["video"]

    async def frames_and_tone(self, frames: int = 45) -> None:
        start = self.video_frames
        await wait_until(
            lambda: self.video_frames >= start + frames and len(self.audio) >= 60,
            what=f"{frames} video frames and 1 s of audio",
        )
        assert self.player.counts.video_size == (320, 240)
        pcm = np.concatenate(self.audio[-50:]).astype(np.float64)
        assert abs(dominant_frequency(pcm, self.rate) - 1000.0) < 25


async def go_live(backend: JanusBackend, source: EncodedTestSource) -> WhipPublisher:
    source.start()
    publisher = WhipPublisher(
        f"{backend.url}/whip/show", backend.token, [source.audio, source.video]
    )
    await publisher.start()
    return publisher


async def test_the_studio_publishes_into_janus_and_a_viewer_gets_frames_and_tone(
    origin_backend, janus, http
) -> None:
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    publisher = await go_live(origin_backend, source)
    viewer = Viewer(origin_backend)
    try:
        assert publisher.codecs == {"audio": "opus", "video": "VP8"}
        config = (await http.get(f"{origin_backend.url}/relay/config")).json()
        assert config == {"media_server": "JanusMediaServer", "viewer_flow": "server-offer"}
        room = origin_backend.media._streams["show"].room
        participants = await janus_participants(janus["origin"].url, room)
        assert [(p["display"], p["publisher"]) for p in participants] == [("show", True)]

        await viewer.player.start()
        await viewer.frames_and_tone()
        live = (await http.get(f"{origin_backend.url}/relay/live")).json()
        assert [(s["stream"], s["viewers"], s["video_codec"], s["watch"]) for s in live] == [
            ("show", 1, "VP8", "/watch/show")
        ]
    finally:
        await viewer.player.stop()
        await publisher.stop()
        source.stop()
    assert (await http.get(f"{origin_backend.url}/relay/live")).json() == []
    with pytest.raises(Exception, match="426"):  # the room is gone from Janus too
        await janus_participants(janus["origin"].url, room)


async def test_viewers_of_janus_are_told_what_to_do(origin_backend, http) -> None:
    # Not live: 404 on the watch flow.
    response = await http.post(f"{origin_backend.url}/watch/nobody")
    assert response.status_code == 404 and "not live" in response.text

    source = EncodedTestSource(width=320, height=240, fps=30)
    publisher = await go_live(origin_backend, source)
    try:
        # A WHEP player's offer: Janus makes its own offers, so the player is told where to go.
        with pytest.raises(WhipRejected, match=r"409.*POST /watch/show"):
            await WhepPlayer(f"{origin_backend.url}/whep/show").start()
        # An answer that is not SDP is a 400 and leaves the session as it was.
        offer = await http.post(f"{origin_backend.url}/watch/show")
        assert offer.status_code == 201 and offer.text.startswith("v=0")
        session = origin_backend.url + offer.headers["location"]
        bad = await http.put(session, content=b"hello", headers={"Content-Type": "application/sdp"})
        assert bad.status_code == 400 and "cannot be parsed" in bad.text
        assert (await http.put(session, content=b"v=0", headers={})).status_code == 415
        assert (await http.delete(session)).status_code == 200
        assert (await http.delete(session)).status_code == 404
    finally:
        await publisher.stop()
        source.stop()


async def test_an_offer_janus_cannot_take_is_refused_with_the_reason(origin_backend, http) -> None:
    pc = peer_connection()
    transceiver = pc.addTransceiver("audio", direction="sendonly")
    pcmu = [c for c in RTCRtpSender.getCapabilities("audio").codecs if c.name == "PCMU"]
    transceiver.setCodecPreferences(pcmu)
    await pc.setLocalDescription(await pc.createOffer())
    try:
        response = await http.post(
            f"{origin_backend.url}/whip/show",
            content=pc.localDescription.sdp.encode(),
            headers={
                "Content-Type": "application/sdp",
                "Authorization": f"Bearer {origin_backend.token}",
            },
        )
    finally:
        await pc.close()
    assert response.status_code == 406 and "Opus, VP8 and H.264" in response.text
    assert (await http.get(f"{origin_backend.url}/relay/live")).json() == []
    assert origin_backend.media._streams == {}


async def test_janus_that_does_not_answer_is_a_503_the_studio_retries(tmp_path) -> None:
    media = JanusMediaServer(f"http://127.0.0.1:{free_port()}/janus")
    async for backend in backend_on(tmp_path, media):
        source = EncodedTestSource(width=320, height=240, fps=30)
        source.start()
        publisher = WhipPublisher(
            f"{backend.url}/whip/show", backend.token, [source.audio, source.video]
        )
        try:
            with pytest.raises(WhipServerError, match=r"503.*does not answer") as raised:
                await publisher.start()
            assert raised.value.retryable
        finally:
            await publisher.stop()
            source.stop()


async def test_viewers_spread_over_edges_and_survive_an_edge_dying(edge_backend, janus) -> None:
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    publisher = await go_live(edge_backend, source)
    first, second = Viewer(edge_backend), Viewer(edge_backend)
    replacement: Viewer | None = None
    try:
        await first.player.start()
        await second.player.start()
        edges = {janus["edge-a"].url, janus["edge-b"].url}
        # One viewer per edge (least loaded first), none on the origin.
        assert edge_backend.media.viewers_by_instance() == {
            janus["origin"].url: 0,
            janus["edge-a"].url: 1,
            janus["edge-b"].url: 1,
        }
        await first.frames_and_tone()
        await second.frames_and_tone()

        # Kill the edge the first viewer is on: its player reconnects and lands on the other.
        viewer = next(iter(edge_backend.media._viewers.values()))
        dead = viewer.instance.url
        assert dead in edges
        survivor = (edges - {dead}).pop()
        on_dead = first if viewer.resource_id in first.player._location else second
        on_survivor = second if on_dead is first else first
        next(s for s in janus.values() if s.url == dead).kill()
        await wait_until(
            lambda: edge_backend.media.viewers_by_instance()[dead] == 0,
            what="the backend to let go of the dead edge's viewers",
        )
        await on_dead.player.stop()
        replacement = Viewer(edge_backend)
        await replacement.player.start()
        assert edge_backend.media.viewers_by_instance()[survivor] == 2
        await replacement.frames_and_tone()
        await on_survivor.frames_and_tone()  # the show went on for the other viewer
    finally:
        for v in (first, second, replacement):
            if v is not None:
                await v.player.stop()
        await publisher.stop()
        source.stop()
        await asyncio.sleep(0)


async def test_an_artist_who_reconnects_keeps_the_origins_viewers(origin_backend) -> None:
    """A second publish of the show (the studio reconnecting) takes over: the viewer hears the
    new connection's tone without connecting again."""
    first_source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    second_source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=500.0)
    first = await go_live(origin_backend, first_source)
    viewer = Viewer(origin_backend)
    second: WhipPublisher | None = None
    try:
        await viewer.player.start()
        await viewer.frames_and_tone()
        second = await go_live(origin_backend, second_source)
        # The old connection goes, as a dropped one would (its DELETE names a session the
        # new one replaced: 404, nothing ends).
        await first.stop()
        heard: list[float] = []

        def hears_the_new_tone() -> bool:
            if len(viewer.audio) < 50:
                return False
            pcm = np.concatenate(viewer.audio[-50:]).astype(np.float64)
            heard.append(dominant_frequency(pcm, viewer.rate))
            return abs(heard[-1] - 500.0) < 25

        await wait_until(hears_the_new_tone, what="the new connection's 500 Hz tone")
        frames = viewer.video_frames
        await wait_until(lambda: viewer.video_frames >= frames + 30, what="pictures after it")
        assert viewer.player.connection_state == "connected"
    finally:
        await viewer.player.stop()
        if second is not None:
            await second.stop()
        await first.stop()
        first_source.stop()
        second_source.stop()


async def test_a_restarted_janus_gets_the_show_back_from_the_studios_reconnect(
    origin_backend, janus, http
) -> None:
    source = EncodedTestSource(width=320, height=240, fps=30, tone_hz=1000.0)
    publisher = await go_live(origin_backend, source)
    viewer: Viewer | None = None
    try:
        await asyncio.to_thread(janus["origin"].restart)  # no rooms, no sessions any more
        await wait_until(
            lambda: publisher.reconnects >= 1 and publisher.state == "live",
            timeout=60,
            what="the studio to publish again into the restarted Janus",
        )
        room = origin_backend.media._streams["show"].room
        participants = await janus_participants(janus["origin"].url, room)
        assert [p["display"] for p in participants] == ["show"]
        viewer = Viewer(origin_backend)
        await viewer.player.start()
        await viewer.frames_and_tone()
        live = (await http.get(f"{origin_backend.url}/relay/live")).json()
        assert [(s["stream"], s["viewers"]) for s in live] == [("show", 1)]
    finally:
        if viewer is not None:
            await viewer.player.stop()
        await publisher.stop()
        source.stop()
