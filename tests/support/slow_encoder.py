"""A video encoder too slow for the machine, on purpose: each picture of a given size or
larger costs extra time, smaller ones nothing more (a machine that manages 360p but not 540p).
Tests use it to starve the show's encode and watch the dropped frames, the warnings and the
step-down relieve it."""

import time
from typing import Any

import av
import pytest

from media.encoder import VideoEncoder


class SlowContext:
    """An opened codec context whose `encode` first sleeps on pictures of `pixels` or more."""

    def __init__(self, context: av.VideoCodecContext, seconds: float, pixels: int) -> None:
        self.context = context
        self.seconds = seconds
        self.pixels = pixels

    def encode(self, frame: av.VideoFrame | None = None) -> list[av.Packet]:
        if frame is not None and frame.width * frame.height >= self.pixels:
            time.sleep(self.seconds)
        return self.context.encode(frame)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.context, name)


def starve_video_encoders(
    monkeypatch: pytest.MonkeyPatch, seconds: float, size: tuple[int, int]
) -> None:
    """From now on every video encoder opened (a reconfigured one too) spends `seconds` more
    on each picture of `size` or larger."""
    open_context = VideoEncoder._open

    def slow_open(encoder: VideoEncoder) -> Any:
        return SlowContext(open_context(encoder), seconds, size[0] * size[1])

    monkeypatch.setattr(VideoEncoder, "_open", slow_open)
