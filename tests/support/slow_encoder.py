"""A video encoder too slow for the machine, on purpose: each picture costs time in proportion
to its pixels, as a real encoder's does, so a smaller picture relieves it. Tests use it to
starve the show's encode and watch the dropped frames, the warnings and the step-down."""

import time
from typing import Any

import av
import pytest

from media.encoder import VideoEncoder


class SlowContext:
    """An opened codec context whose `encode` first sleeps for the picture's pixels."""

    def __init__(self, context: av.VideoCodecContext, seconds_per_pixel: float) -> None:
        self.context = context
        self.seconds_per_pixel = seconds_per_pixel

    def encode(self, frame: av.VideoFrame | None = None) -> list[av.Packet]:
        if frame is not None:
            time.sleep(self.seconds_per_pixel * frame.width * frame.height)
        return self.context.encode(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)


def starve_video_encoders(
    monkeypatch: pytest.MonkeyPatch, seconds: float, size: tuple[int, int]
) -> None:
    """From now on every video encoder opened (a reconfigured one too) spends `seconds` on a
    picture of `size`, and proportionally on one of another size."""
    per_pixel = seconds / (size[0] * size[1])
    open_context = VideoEncoder._open

    def slow_open(encoder: VideoEncoder) -> Any:
        return SlowContext(open_context(encoder), per_pixel)

    monkeypatch.setattr(VideoEncoder, "_open", slow_open)
