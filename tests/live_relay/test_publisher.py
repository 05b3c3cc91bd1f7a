"""WhipPublisher against the relay and against ingests that refuse: errors, reconnection."""

import asyncio
import json
import os

import pytest
from fastapi import FastAPI, Request, Response

from media.whep import WhepPlayer
from media.whip import WhipPublisher
from media.whip_errors import WhipAuthError, WhipNoCommonCodec, WhipUnreachable
from tests.live_relay.conftest import free_port, serve, wait_until
from tests.live_relay.packet_source import EncodedTestSource

pytestmark = pytest.mark.slow


@pytest.fixture
async def source():  # type: ignore[no-untyped-def]
    src = EncodedTestSource(width=160, height=120, fps=30)
    src.start()
    yield src
    src.stop()


VP9_ONLY_ANSWER = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1
m=audio 9 UDP/TLS/RTP/SAVPF 111
c=IN IP4 127.0.0.1
a=mid:0
a=recvonly
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
{fingerprint}
a=setup:passive
m=video 9 UDP/TLS/RTP/SAVPF 98
c=IN IP4 127.0.0.1
a=mid:1
a=recvonly
a=rtcp-mux
a=rtpmap:98 VP9/90000
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
{fingerprint}
a=setup:passive
""".format(fingerprint="a=fingerprint:sha-256 " + ":".join(["00", "11", "AA", "FF"] * 8)).replace(
    "\n", "\r\n"
)


@pytest.fixture
async def refusing_ingest():  # type: ignore[no-untyped-def]
    """An ingest that speaks WHIP but refuses in the ways real ones do."""
    app = FastAPI()
    deleted: list[str] = []

    @app.post("/refuse-codecs")
    async def refuse() -> Response:
        return Response("no supported codec in offer", status_code=406)

    @app.post("/vp9-only")
    async def vp9(request: Request) -> Response:
        await request.body()
        return Response(
            VP9_ONLY_ANSWER,
            status_code=201,
            media_type="application/sdp",
            headers={"Location": "/session/1"},
        )

    @app.delete("/session/{sid}")
    async def delete(sid: str) -> Response:
        deleted.append(sid)
        return Response(status_code=200)

    url, server, task = await serve(app)
    app.state.deleted = deleted
    yield url, deleted
    server.should_exit = True
    await asyncio.wait_for(task, 15)


async def test_refused_token_is_an_auth_error_that_does_not_show_the_token(
    relay_server, source
) -> None:
    wrong = "not-the-key-" + "x" * 20
    publisher = WhipPublisher(f"{relay_server.url}/whip/show", wrong, [source.audio, source.video])
    with pytest.raises(WhipAuthError, match="403") as caught:
        await publisher.start()
    assert wrong not in str(caught.value) and wrong not in repr(publisher)
    assert publisher.state == "failed" and publisher.last_error is caught.value
    await publisher.stop()

    anonymous = WhipPublisher(f"{relay_server.url}/whip/show", None, [source.video])
    with pytest.raises(WhipAuthError, match="401"):
        await anonymous.start()
    await anonymous.stop()


async def test_unreachable_ingest_is_retryable_and_clear(source) -> None:
    url = f"http://127.0.0.1:{free_port()}/whip/show"
    publisher = WhipPublisher(url, "secret-token", [source.video], http_timeout_s=3)
    with pytest.raises(WhipUnreachable, match="cannot be reached") as caught:
        await publisher.start()
    assert caught.value.retryable
    assert "secret-token" not in str(caught.value)
    await publisher.stop()


async def test_ingest_without_a_common_codec(refusing_ingest, source) -> None:
    url, deleted = refusing_ingest
    refused = WhipPublisher(f"{url}/refuse-codecs", "t", [source.audio, source.video])
    with pytest.raises(WhipNoCommonCodec, match="406"):
        await refused.start()
    await refused.stop()

    vp9 = WhipPublisher(f"{url}/vp9-only", "t", [source.audio, source.video])
    with pytest.raises(WhipNoCommonCodec, match="video"):
        await vp9.start()
    assert not vp9.last_error.retryable
    await vp9.stop()
    assert deleted == ["1"]  # the half-made session was ended


async def test_publisher_reconnects_and_viewers_keep_watching(relay_server, source) -> None:
    states: list[str] = []
    publisher = WhipPublisher(
        f"{relay_server.url}/whip/show",
        relay_server.token,
        [source.audio, source.video],
        feedback_timeout_s=2.0,
        on_state=lambda state, error: states.append(state),
    )
    await publisher.start()
    viewer = WhepPlayer(f"{relay_server.url}/whep/show", decode=False)
    try:
        await viewer.start()
        await wait_until(lambda: viewer.counts.frames["video"] >= 20, what="first frames")

        # The ingest drops the artist's connection (as a crashed or restarted relay would).
        relay = relay_server.relay
        await relay._end_ingest(relay._ingests["show"])
        fed_before = sum(f.frames_in for f in publisher._feeds)
        await wait_until(lambda: publisher.reconnects >= 1, what="the drop to be noticed")
        await wait_until(lambda: publisher.state == "live", what="the publisher to reconnect")
        # The source kept being consumed (the recording does not stall on the network).
        assert sum(f.frames_in for f in publisher._feeds) > fed_before

        frames_after = viewer.counts.frames["video"]
        await wait_until(
            lambda: viewer.counts.frames["video"] >= frames_after + 30,
            what="the same viewer to get frames from the new ingest",
        )
        assert viewer.connection_state == "connected"
        assert relay.broadcast("show").generation == 2
        assert states[:2] == ["connecting", "live"] and "reconnecting" in states
        assert states[-1] == "live"
    finally:
        await viewer.stop()
        await publisher.stop()


def _hold_back_receiver_reports(relay, stream: str) -> list:  # type: ignore[no-untyped-def]
    """Stop the ingest's RTCP receiver reports (its receivers' report loops); return them."""
    receivers = [t.receiver for t in relay._ingests[stream].pc.getTransceivers()]
    for receiver in receivers:
        receiver._RTCRtpReceiver__rtcp_task.cancel()  # aiortc 1.16, private
    return receivers


async def _publishing(relay_server, source) -> WhipPublisher:  # type: ignore[no-untyped-def]
    """A publisher live on the relay's "show" for a second, noticing silence after 1.5 s."""
    publisher = WhipPublisher(
        f"{relay_server.url}/whip/show",
        relay_server.token,
        [source.audio, source.video],
        feedback_timeout_s=1.5,
    )
    await publisher.start()
    await wait_until(lambda: "show" in relay_server.relay._ingests, what="the ingest")
    await asyncio.sleep(1.0)
    return publisher


async def test_publisher_stays_on_an_ingest_whose_reports_are_late_but_which_talks(
    relay_server, source
) -> None:
    """An ingest that still sends feedback (here PLIs) is alive, whatever its reports do.

    The soak's reconnects: the studio's busy loop read its socket slowly and the reports came
    seconds late behind other feedback; the publisher took the ingest for gone."""
    publisher = await _publishing(relay_server, source)
    try:
        receivers = _hold_back_receiver_reports(relay_server.relay, "show")
        video = next(r for r in receivers if r.track is not None and r.track.kind == "video")
        ssrc = video.getSynchronizationSources()[0].source
        for _ in range(20):  # 5 s: more than three times the timeout
            await video._send_rtcp_pli(ssrc)
            await asyncio.sleep(0.25)
        assert publisher.reconnects == 0
        assert publisher.state == "live"
    finally:
        await publisher.stop()


async def test_publisher_reconnects_when_the_ingest_falls_silent(relay_server, source) -> None:
    publisher = await _publishing(relay_server, source)
    try:
        _hold_back_receiver_reports(relay_server.relay, "show")
        await wait_until(lambda: publisher.reconnects >= 1, what="the silence to be noticed")
        await wait_until(lambda: publisher.state == "live", what="the publisher to reconnect")
    finally:
        await publisher.stop()


async def test_the_ingest_answers_without_abs_send_time(relay_server, http) -> None:
    """Without abs-send-time the ingest runs no bandwidth estimator and sends no REMB storm."""
    from aiortc import RTCPeerConnection

    pc = RTCPeerConnection()
    try:
        for kind in ("audio", "video"):
            pc.addTransceiver(kind, direction="sendonly")
        await pc.setLocalDescription(await pc.createOffer())
        assert "abs-send-time" in pc.localDescription.sdp  # aiortc offers it
        answer = await http.post(
            f"{relay_server.url}/whip/show",
            content=pc.localDescription.sdp.encode(),
            headers={
                "Authorization": f"Bearer {relay_server.token}",
                "Content-Type": "application/sdp",
            },
        )
        assert answer.status_code == 201, answer.text
        assert "a=extmap" in answer.text and "abs-send-time" not in answer.text
    finally:
        await pc.close()


async def test_stream_keys_publish_to_their_own_stream_only(relay_server, http) -> None:
    url = relay_server.url
    issued = await http.post(
        f"{url}/relay/keys/show", headers={"Authorization": f"Bearer {relay_server.token}"}
    )
    assert issued.status_code == 201
    key = issued.json()["key"]
    assert (await http.post(f"{url}/relay/keys/show")).status_code == 401
    assert (
        await http.post(f"{url}/relay/keys/show", headers={"Authorization": f"Bearer {key}"})
    ).status_code == 401  # a stream key cannot issue keys

    def offer(stream: str):  # type: ignore[no-untyped-def]
        return http.post(
            f"{url}/whip/{stream}",
            content=b"v=0\r\n",
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/sdp"},
        )

    assert (await offer("other")).status_code == 403
    mine = await offer("show")
    assert mine.status_code == 400 and "m-line" in mine.text  # past auth, refused as SDP

    stored = relay_server.data_dir / "stream-keys.json"
    assert key not in stored.read_text() and "show" in json.loads(stored.read_text())
    for name in ("stream-keys.json", "ingest-token"):
        assert os.stat(relay_server.data_dir / name).st_mode & 0o777 == 0o600


async def test_whip_requires_sdp_content_type(relay_server, http) -> None:
    response = await http.post(
        f"{relay_server.url}/whip/show",
        content=b"{}",
        headers={
            "Authorization": f"Bearer {relay_server.token}",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 415


async def test_relay_refuses_an_offer_it_cannot_relay_with_406(relay_server, http) -> None:
    from media.ice import peer_connection

    pc = peer_connection()
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    lines = pc.localDescription.sdp.splitlines()
    await pc.close()
    # Keep only VP8 and call it VP9: a codec the relay does not forward.
    vp8 = next(line.split()[0].split(":")[1] for line in lines if "VP8/90000" in line)
    sdp = []
    for line in lines:
        if line.startswith("m=video"):
            line = " ".join([*line.split()[:3], vp8])
        elif line.startswith(("a=rtpmap:", "a=fmtp:", "a=rtcp-fb:")):
            if line.split()[0].split(":")[1] != vp8:
                continue
            line = line.replace("VP8/90000", "VP9/90000")
        sdp.append(line)
    response = await http.post(
        f"{relay_server.url}/whip/show",
        content="\r\n".join(sdp) + "\r\n",
        headers={
            "Authorization": f"Bearer {relay_server.token}",
            "Content-Type": "application/sdp",
        },
    )
    assert response.status_code == 406
    assert "VP9" in response.text and "VP8" in response.text
    assert relay_server.relay.live_streams() == []
