"""Fixtures for the RTMP restream: a real nginx-rtmp on loopback, read back with PyAV."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import numpy as np
import pytest

from harness.nginx_rtmp import NginxRtmp, have_nginx_rtmp
from studio.live.restream import StreamKeyVault
from tests.live_capture.test_codec_fallback import ingest  # noqa: F401 (a codec-picky WHIP)
from tests.live_capture.test_golive_panel import qasync_loop  # noqa: F401 (the panel's loop)
from tests.support.secret_service import SecretServiceSession


@pytest.fixture
def nginx_rtmp(tmp_path: Path) -> Iterator[NginxRtmp]:
    if not have_nginx_rtmp():
        pytest.fail("nginx-rtmp is not installed: see packaging/debian-test-deps.txt")
    server = NginxRtmp(tmp_path / "nginx")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class ReadBack:
    """What a player got from the server: decoded pictures and sound."""

    frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    audio: list[np.ndarray] = field(default_factory=list)
    audio_rate: int = 0
    audio_codec: str = ""
    video_codec: str = ""
    error: str | None = None

    def samples(self) -> np.ndarray:
        return np.concatenate(self.audio) if self.audio else np.zeros((0, 1), np.float32)


def read_back(url: str, frames: int, timeout: float = 20.0) -> ReadBack:
    """Play `url` until `frames` pictures are decoded (or the stream ends / times out)."""
    got = ReadBack()
    try:
        with av.open(url, timeout=timeout) as container:
            video = container.streams.video[0] if container.streams.video else None
            audio = container.streams.audio[0] if container.streams.audio else None
            got.video_codec = video.codec_context.name if video else ""
            got.audio_codec = audio.codec_context.name if audio else ""
            resampler = av.AudioResampler(format="flt", layout="stereo", rate=48_000)
            for frame in container.decode(*(s for s in (video, audio) if s is not None)):
                if isinstance(frame, av.VideoFrame):
                    got.frames += 1
                    got.sizes.add((frame.width, frame.height))
                    if got.frames >= frames:
                        break
                else:
                    got.audio_rate = frame.sample_rate
                    for out in resampler.resample(frame):
                        got.audio.append(out.to_ndarray().reshape(-1, 2))
    except (av.FFmpegError, OSError) as exc:
        got.error = str(exc)
    return got


class Player:
    """`read_back` on a thread, so the test can publish meanwhile."""

    def __init__(self, url: str, frames: int, timeout: float = 20.0) -> None:
        self.result: ReadBack | None = None
        self._thread = threading.Thread(
            target=lambda: setattr(self, "result", read_back(url, frames, timeout)), daemon=True
        )
        self._thread.start()

    def join(self, timeout: float = 60.0) -> ReadBack:
        self._thread.join(timeout)
        assert self.result is not None, "the player never finished"
        return self.result


@pytest.fixture
def stream_keys(
    secret_service: SecretServiceSession,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> StreamKeyVault:
    """Stream keys on the real Secret Service (gnome-keyring on a private bus), under a
    service name of this test's own; the bus address is set for this test only."""
    from keyring.backends import SecretService

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", secret_service.address)
    return StreamKeyVault(
        backend=SecretService.Keyring(), service=f"harmonie-test-{request.node.name}"
    )
