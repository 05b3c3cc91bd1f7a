"""The encoder's own packets go over WebRTC (aiortc) unchanged and decode at the far end."""

import asyncio
from itertools import islice

import numpy as np
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError

from media.encoded_track import EncodedTrack, prefer_codec
from media.encoder import AudioEncoder, VideoEncoder, VideoSettings
from media.sources import pattern_source, tone_source

from .conftest import dominant_frequency


async def feed(video: VideoEncoder, audio: AudioEncoder, seconds: float) -> None:
    frames = pattern_source(320, 240, 30, realtime=False).frames()
    blocks = np.concatenate(list(islice(tone_source(660.0, realtime=False).blocks(), 160)))
    sent = 0
    for index, frame in enumerate(islice(frames, int(seconds * 30))):
        video.encode(frame, index)
        while sent + 960 <= (index + 1) * 1600 and sent + 960 <= len(blocks):
            audio.encode(blocks[sent : sent + 960], sent)
            sent += 960
        await asyncio.sleep(1 / 30)


async def collect(track, until: float) -> list:  # type: ignore[no-untyped-def]
    got = []
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        try:
            got.append(await asyncio.wait_for(track.recv(), until - loop.time()))
        except (TimeoutError, MediaStreamError):
            break
    return got


@pytest.mark.parametrize("codec", ["vp8", "h264"])
async def test_packets_reach_a_peer_and_decode(codec: str, loopback_ice: None) -> None:
    video = VideoEncoder(VideoSettings(codec=codec, width=320, height=240, keyframe_interval_s=1))
    audio = AudioEncoder()
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    viewer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    video_track = EncodedTrack.for_encoder("video", video)
    audio_track = EncodedTrack.for_encoder("audio", audio)
    assert video_track.mime_type == ("video/VP8" if codec == "vp8" else "video/H264")
    prefer_codec(sender.addTransceiver(video_track, "sendonly"), video_track.mime_type)
    prefer_codec(sender.addTransceiver(audio_track, "sendonly"), audio_track.mime_type)
    received = {}
    viewer.on("track", lambda track: received.__setitem__(track.kind, track))
    try:
        await sender.setLocalDescription(await sender.createOffer())
        await viewer.setRemoteDescription(sender.localDescription)
        await viewer.setLocalDescription(await viewer.createAnswer())
        await sender.setRemoteDescription(viewer.localDescription)
        assert f"{video_track.mime_type.split('/')[1]}/90000" in viewer.localDescription.sdp

        feeding = asyncio.create_task(feed(video, audio, seconds=3))
        until = asyncio.get_running_loop().time() + 5
        while len(received) < 2:
            await asyncio.sleep(0.05)
        pictures, sounds = await asyncio.gather(
            collect(received["video"], until), collect(received["audio"], until)
        )
        await feeding
    finally:
        await sender.close()
        await viewer.close()
        video_track.stop()
        audio_track.stop()

    assert len(pictures) >= 45  # of 90 sent; loopback loses none, a busy decoder may lag
    assert {(p.width, p.height) for p in pictures} == {(320, 240)}
    pcm = np.concatenate([f.to_ndarray().reshape(-1, 2) for f in sounds]).astype(np.float32)
    assert dominant_frequency(pcm[len(pcm) // 4 :], 48_000) == pytest.approx(660.0, abs=3.0)
    assert video.packets.subscriber_count == 0  # stopping the track unsubscribed it
