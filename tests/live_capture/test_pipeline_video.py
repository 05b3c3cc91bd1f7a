"""The live pipeline's pictures keep their frame rate through a short stall and skip ahead,
never pile up, when the machine cannot keep up."""

import time

import av
import numpy as np

from media.encoder import VideoSettings
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
