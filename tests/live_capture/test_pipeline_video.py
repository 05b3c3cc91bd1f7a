"""The live pipeline's pictures keep their frame rate through a short stall and skip ahead,
never pile up, when the machine cannot keep up."""

import time
from dataclasses import replace

import av
import numpy as np

from media.encoder import VideoEncoder, VideoSettings
from media.pipeline import LivePipeline
from media.sources import pattern_source


class StallingFilter:
    """Holds the video thread up for `stall_s` at the pictures numbered in `at`, as a collector
    pass or a busy machine does."""

    def __init__(self, at: set[int], stall_s: float) -> None:
        self.at, self.stall_s, self.seen = at, stall_s, 0

    def __call__(self, frame: av.VideoFrame) -> av.VideoFrame:
        if self.seen in self.at:
            time.sleep(self.stall_s)
        self.seen += 1
        return frame


def run(stalls: StallingFilter, seconds: float) -> tuple[LivePipeline, np.ndarray]:
    settings = VideoSettings(width=320, height=240, fps=30, bitrate=300_000)
    pipeline = LivePipeline(
        settings, None, main=pattern_source(320, 240, 30), picture_filters=[stalls]
    )
    assert pipeline.video_encoder is not None
    packets: list[av.Packet] = []
    pipeline.video_encoder.packets.subscribe(packets.append)
    pipeline.start()
    time.sleep(seconds)
    pipeline.stop()
    return pipeline, np.array(sorted(p.pts for p in packets))


def test_a_short_stall_repeats_the_picture_so_the_video_has_no_hole() -> None:
    pipeline, pts = run(StallingFilter({10}, 0.3), 1.5)
    assert np.diff(pts).max() == 1, "one picture per tick, none missing"
    assert pts[0] == 0 and len(pts) >= 40
    assert pipeline.frames_repeated >= 8 and pipeline.frames_skipped == 0


def test_stall_after_stall_skips_ahead_instead_of_piling_up() -> None:
    # Held up 0.3 s at every tenth picture: the machine cannot keep up.
    pipeline, pts = run(StallingFilter(set(range(10, 400, 10)), 0.3), 2.5)
    assert pipeline.frames_skipped > 0, "repeats do not pile up behind a stall that comes back"
    assert pipeline.frames_repeated <= 15 + 3 * 3, "repeats come from a small budget"
    assert np.diff(pts).max() > 1


def wait_for_packets(packets: list[av.Packet], count: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while len(packets) < count:
        assert time.monotonic() < deadline, f"fewer than {count} packets in {timeout} s"
        time.sleep(0.05)


def test_change_video_reaches_every_encoder_at_one_picture_from_a_keyframe() -> None:
    """A step-down on a VP8 show that restreams in H.264: both encoders (one composition)
    go on at the new size from the same picture, each from a keyframe, with no hole."""
    settings = VideoSettings(width=320, height=240, fps=30, bitrate=300_000, keyframe_interval_s=10)
    pipeline = LivePipeline(settings, None, main=pattern_source(320, 240, 30))
    side = VideoEncoder(replace(settings, codec="h264"))
    pipeline.side_video_encoders.append(side)
    assert pipeline.video_encoder is not None
    got: dict[str, list[av.Packet]] = {"vp8": [], "h264": []}
    pipeline.video_encoder.packets.subscribe(got["vp8"].append)
    side.packets.subscribe(got["h264"].append)
    pipeline.start()
    try:
        wait_for_packets(got["vp8"], 15)
        pipeline.change_video(160, 120, 150_000)
        wait_for_packets(got["vp8"], 40)
    finally:
        pipeline.stop()

    changed_at = []
    for codec, packets in got.items():
        decoder = av.CodecContext.create(codec, "r")
        sizes = [(f.width, f.height, p.pts) for p in packets for f in decoder.decode(p)]
        first_small = next(pts for w, h, pts in sizes if (w, h) == (160, 120))
        assert {(w, h) for w, h, pts in sizes if pts < first_small} == {(320, 240)}
        assert {(w, h) for w, h, pts in sizes if pts >= first_small} == {(160, 120)}
        assert next(p for p in packets if p.pts == first_small).is_keyframe
        changed_at.append(first_small)
    assert changed_at[0] == changed_at[1]  # the same picture for both
    assert pipeline.video_encoder.settings.bitrate == side.settings.bitrate == 150_000
    assert side.settings.codec == "h264" and pipeline.video_encoder.settings.codec == "vp8"
