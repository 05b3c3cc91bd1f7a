"""Small pieces: Link header ICE servers, frame assembly from RTP, keyframe detection and
requests."""

import pytest
from aiortc.rtp import RtpPacket

from backend.streams import broadcast as broadcast_module
from backend.streams.broadcast import Broadcast, RelayFrame
from media.encoded_tap import FrameAssembler, is_keyframe
from media.whip_signaling import parse_ice_server_links


def test_ice_servers_come_from_link_headers_with_credentials() -> None:
    servers = parse_ice_server_links(
        [
            '<stun:stun.example.net>; rel="ice-server"',
            '<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; '
            'credential="pa;ss"; credential-type="password", <https://x.example>; rel="next"',
        ]
    )
    assert [(s.urls, s.username, s.credential) for s in servers] == [
        ("stun:stun.example.net", None, None),
        ("turn:turn.example.net?transport=udp", "user", "pa;ss"),
    ]
    assert parse_ice_server_links(['<http://not-ice>; rel="ice-server"']) == []


def packet(seq: int, ts: int, data: bytes, marker: bool = False) -> RtpPacket:
    p = RtpPacket(payload_type=97, sequence_number=seq, timestamp=ts, marker=int(marker))
    p._data = data  # type: ignore[attr-defined]
    return p


def test_video_frames_are_released_at_their_marker_and_in_order() -> None:
    out: list[tuple[int, bytes]] = []
    assembler = FrameAssembler("video", lambda pt, f: out.append((f.timestamp, f.data)))
    assembler.add(packet(65534, 0, b"x", marker=True))  # joins after the first marker
    assembler.add(packet(65535, 3000, b"a"))
    assert out == []
    assembler.add(packet(0, 3000, b"b", marker=True))  # sequence numbers wrap
    assert out == [(3000, b"ab")]
    # A lost packet held back by its successor, then retransmitted: both frames come out.
    assembler.add(packet(2, 6000, b"d", marker=True))
    assembler.add(packet(3, 9000, b"e", marker=True))
    assert out == [(3000, b"ab")]
    assembler.add(packet(1, 6000, b"c"))
    assert out == [(3000, b"ab"), (6000, b"cd"), (9000, b"e")]


def test_a_packet_never_retransmitted_is_skipped_with_a_keyframe_request() -> None:
    out: list[int] = []
    assembler = FrameAssembler("video", lambda pt, f: out.append(f.timestamp))
    assembler.add(packet(10, 0, b"", marker=True))
    # packet 11 (frame 3000) is lost for good
    assembler.add(packet(12, 3000, b"", marker=True))
    assembler.add(packet(13, 6000, b"", marker=True))
    pli, _ = assembler.add(packet(14, 9000, b"", marker=True))
    assert pli and out == [6000, 9000]
    assembler.add(packet(15, 12000, b"", marker=True))
    assert out == [6000, 9000, 12000]


def test_audio_packets_are_frames_and_late_ones_are_dropped() -> None:
    out: list[int] = []
    assembler = FrameAssembler("audio", lambda pt, f: out.append(f.timestamp))
    for seq, ts in ((5, 0), (6, 960), (5, 0), (8, 2880), (7, 1920)):
        assembler.add(packet(seq, ts, b"o"))
    assert out == [0, 960, 2880]


def test_keyframes_are_recognised() -> None:
    assert is_keyframe("VP8", bytes([0x10, 0x02, 0x00]))  # P bit clear
    assert not is_keyframe("VP8", bytes([0x11, 0x02, 0x00]))
    assert is_keyframe("H264", b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x01\x65")
    assert not is_keyframe("H264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("opus", b"\x00")


def test_a_stream_key_is_never_sent_unencrypted_off_this_machine() -> None:
    import pytest

    from media.whip_errors import WhipRejected
    from media.whip_signaling import check_token_transport

    with pytest.raises(WhipRejected, match="https") as caught:
        check_token_transport("http://ingest.example.net/whip/show", "sk_secret")
    assert "sk_secret" not in str(caught.value)
    check_token_transport("https://ingest.example.net/whip/show", "sk_secret")
    check_token_transport("http://127.0.0.1:8000/whip/show", "sk_secret")
    check_token_transport("http://ingest.example.net/whip/show", None)  # nothing to leak
    with pytest.raises(WhipRejected, match="not an http"):
        check_token_transport("rtmp://ingest.example.net/live", "sk_secret")


async def test_a_token_provider_is_never_given_a_clear_text_url_off_this_machine() -> None:
    import pytest
    from aiortc.mediastreams import AudioStreamTrack

    from media.whip import WhipPublisher
    from media.whip_errors import WhipRejected

    asked: list[str] = []

    async def provider() -> str:
        asked.append("asked")
        return "fresh-token"

    with pytest.raises(WhipRejected, match="https"):
        WhipPublisher("http://ingest.example.net/whip/show", provider, [AudioStreamTrack()])
    assert asked == []  # refused before any key was fetched
    publisher = WhipPublisher("http://127.0.0.1:9/whip/show", provider, [AudioStreamTrack()])
    assert await publisher._current_token() == "fresh-token" and asked == ["asked"]
    assert "fresh-token" not in repr(publisher)
    await publisher.stop()


def test_a_viewer_waiting_for_a_keyframe_asks_again_until_one_comes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A browser publisher sends keyframes only when asked: a viewer whose first request found
    no sender yet (or was lost) must not wait forever."""
    now = [100.0]
    monkeypatch.setattr(broadcast_module.time, "monotonic", lambda: now[0])
    requests: list[float] = []
    show = Broadcast("show")
    show.new_ingest({}, lambda: requests.append(now[0]))
    track = show.subscribe("video")
    assert requests == [100.0]

    def offer(keyframe: bool) -> None:
        track.offer(RelayFrame(data=b"x", timestamp=0, keyframe=keyframe, generation=1))

    for _ in range(40):  # 2 s of delta frames at 20 fps
        now[0] += 0.05
        offer(keyframe=False)
    assert len(requests) == 4, requests  # one each 0.5 s or so, not one a frame
    offer(keyframe=True)
    asked = len(requests)
    for _ in range(30):
        now[0] += 0.05
        offer(keyframe=False)
    assert len(requests) == asked, "once a keyframe came, delta frames ask for nothing"
    track.stop()
