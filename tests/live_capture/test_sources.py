from fractions import Fraction
from itertools import islice

import numpy as np
import pytest

from media.errors import NoDeviceError
from media.sources import (
    AudioSource,
    CameraSource,
    LavfiAudioSource,
    VideoSource,
    pattern_source,
    tone_source,
)

from .conftest import dominant_frequency


def test_pattern_frames_have_the_asked_size_and_rate() -> None:
    source = pattern_source(640, 360, 30, realtime=False)
    assert isinstance(source, VideoSource)
    frames = list(islice(source.frames(), 31))
    source.close()
    assert all((f.width, f.height) == (640, 360) for f in frames)
    times = [f.pts * f.time_base for f in frames]
    assert times[30] - times[0] == 1
    assert source.fps == Fraction(30)


def test_pattern_is_paced_in_real_time() -> None:
    import time

    source = pattern_source(160, 120, 30, realtime=True)
    started = time.monotonic()
    frames = list(islice(source.frames(), 16))
    elapsed = time.monotonic() - started
    source.close()
    assert len(frames) == 16
    assert elapsed >= 0.45  # 15 frame intervals at 30 fps: it waited, not a flood


def test_tone_samples_have_the_level_rate_and_frequency() -> None:
    source = tone_source(1000.0, level_dbfs=-20.0, channels=2, realtime=False)
    assert isinstance(source, AudioSource)
    blocks = list(islice(source.blocks(), 50))
    source.close()
    samples = np.concatenate(blocks)
    assert samples.dtype == np.float32 and samples.shape[1] == 2
    assert len(samples) >= 48_000 * 0.9
    assert np.max(np.abs(samples)) == pytest.approx(0.1, rel=1e-3)
    assert dominant_frequency(samples, 48_000) == pytest.approx(1000.0, abs=2.0)


def test_any_lavfi_audio_graph_is_a_source() -> None:
    source = LavfiAudioSource("anullsrc=r=44100:cl=mono", channels=1, realtime=False)
    block = next(iter(source.blocks()))
    source.close()
    assert block.shape[1] == 1 and not block.any()


def test_missing_camera_is_a_clear_no_device_error() -> None:
    with pytest.raises(NoDeviceError, match="No camera found at /dev/video-missing"):
        CameraSource("/dev/video-missing")
