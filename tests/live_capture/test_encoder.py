from dataclasses import replace
from itertools import islice

import av
import numpy as np
import pytest

from media.encoder import (
    AudioEncoder,
    AudioSettings,
    VideoEncoder,
    VideoSettings,
    choose_video_codec,
)
from media.errors import UnsupportedError
from media.sources import pattern_source, tone_source

from .conftest import dominant_frequency


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_video_packets_decode_back_at_the_right_size(codec: str) -> None:
    encoder = VideoEncoder(
        VideoSettings(codec=codec, width=320, height=240, fps=30, keyframe_interval_s=1.0)
    )
    seen: list[av.Packet] = []
    encoder.packets.subscribe(seen.append)
    source = pattern_source(640, 480, 30, realtime=False)  # scaled by the encoder
    for index, frame in enumerate(islice(source.frames(), 65)):
        encoder.encode(frame, index)
    encoder.flush()
    source.close()

    decoder = av.CodecContext.create(codec, "r")
    pictures = [f for p in seen for f in decoder.decode(p)]
    assert len(pictures) == 65
    assert {(f.width, f.height) for f in pictures} == {(320, 240)}
    # Fixed keyframe interval: pictures 0, 30, 60 and no others.
    assert [p.pts for p in seen if p.is_keyframe] == [0, 30, 60]
    assert all(p.time_base == encoder.time_base for p in seen)


def test_keyframe_on_request() -> None:
    encoder = VideoEncoder(VideoSettings(width=160, height=120, keyframe_interval_s=10))
    source = pattern_source(160, 120, 30, realtime=False)
    keyframes = []
    for index, frame in enumerate(islice(source.frames(), 10)):
        if index == 7:
            encoder.request_keyframe()
        keyframes += [p.pts for p in encoder.encode(frame, index) if p.is_keyframe]
    source.close()
    assert keyframes == [0, 7]


def test_opus_packets_decode_back_to_the_tone() -> None:
    encoder = AudioEncoder(AudioSettings(channels=2, bitrate=96_000))
    packets: list[av.Packet] = []
    encoder.packets.subscribe(packets.append)
    samples = np.concatenate(list(islice(tone_source(880.0, realtime=False).blocks(), 50)))
    usable = len(samples) // 960 * 960
    for start in range(0, usable, 960):
        encoder.encode(samples[start : start + 960], start)
    assert len(packets) >= usable // 960 - 2
    assert all(p.duration == 960 for p in packets)
    decoder = av.CodecContext.create("opus", "r")
    decoded = np.concatenate([f.to_ndarray().T for p in packets for f in decoder.decode(p)])
    assert dominant_frequency(decoded, 48_000) == pytest.approx(880.0, abs=2.0)


def test_codec_choice_follows_what_the_ingest_accepts() -> None:
    assert choose_video_codec(["H264"]) == "h264"
    assert choose_video_codec(["VP8", "H264"], preferred="vp8") == "vp8"
    with pytest.raises(UnsupportedError, match="accepts no video codec"):
        choose_video_codec(["AV1"])


def test_odd_sizes_are_refused_clearly() -> None:
    with pytest.raises(UnsupportedError, match="even"):
        VideoEncoder(VideoSettings(width=321, height=240))


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_a_running_encoder_steps_down_at_a_keyframe_and_one_decoder_follows(codec: str) -> None:
    """Step-down: the same encoder (the same subscribers) goes on at a smaller size and a
    lower bitrate from a keyframe, and one decoder reads across the change."""
    settings = VideoSettings(codec=codec, width=640, height=360, fps=30, keyframe_interval_s=10)
    encoder = VideoEncoder(settings)
    seen: list[av.Packet] = []
    encoder.packets.subscribe(seen.append)
    source = pattern_source(640, 360, 30, realtime=False)
    for index, frame in enumerate(islice(source.frames(), 40)):
        if index == 20:
            encoder.reconfigure(replace(settings, width=480, height=270, bitrate=1_000_000))
        encoder.encode(frame, index)
    encoder.flush()
    source.close()

    assert [p.pts for p in seen] == list(range(40))  # no picture lost, no gap
    assert [p.pts for p in seen if p.is_keyframe] == [0, 20]
    decoder = av.CodecContext.create(codec, "r")
    pictures = [f for p in seen for f in decoder.decode(p)]
    assert [(f.width, f.height) for f in pictures] == [(640, 360)] * 20 + [(480, 270)] * 20
    with pytest.raises(UnsupportedError, match="size and bitrate only"):
        encoder.reconfigure(VideoSettings(codec=codec, width=480, height=270, fps=25))


def test_vp8_encodes_at_a_fixed_speed_not_a_share_of_the_frame_time() -> None:
    """libvpx's positive `cpu-used` makes the encoder spend that share of each frame's time
    (8: half of it), so on a busy machine the show's encode took CPU the rest of the studio
    needed and sped up only once pictures were already late. A negative value is a speed."""
    encoder = VideoEncoder(VideoSettings(codec="vp8", width=320, height=240))
    assert int(encoder.codec_options["cpu-used"]) < 0
