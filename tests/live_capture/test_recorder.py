from dataclasses import replace
from itertools import islice
from pathlib import Path

import av
import numpy as np
import pytest

from media.encoder import AudioEncoder, VideoEncoder, VideoSettings
from media.errors import UnsupportedError
from media.recorder import Recorder
from media.sources import pattern_source, tone_source

from .conftest import decode_audio, decode_video, dominant_frequency

# each container with each codec it holds
EVERY_CONTAINER = pytest.mark.parametrize(
    ("name", "codec"),
    [("out.mkv", "vp8"), ("out.webm", "vp8"), ("out.mp4", "h264"), ("h.mkv", "h264")],
)


def record(path: Path, codec: str, seconds: int = 2, fps: int = 30) -> None:
    video = VideoEncoder(
        VideoSettings(codec=codec, width=320, height=240, fps=fps, keyframe_interval_s=1.0)
    )
    audio = AudioEncoder()
    recorder = Recorder(path, video, audio)
    frames = pattern_source(320, 240, fps, realtime=False).frames()
    samples = np.concatenate(
        list(islice(tone_source(440.0, realtime=False).blocks(), seconds * 50 + 5))
    )
    samples_per_frame = 48_000 // fps
    sent = 0
    for index, frame in enumerate(islice(frames, seconds * fps)):
        video.encode(frame, index)
        while sent + 960 <= (index + 1) * samples_per_frame:
            audio.encode(samples[sent : sent + 960], sent)
            sent += 960
    recorder.close()
    assert recorder.error is None


@EVERY_CONTAINER
def test_recording_plays_with_the_expected_duration_and_no_gap(
    tmp_path: Path, name: str, codec: str
) -> None:
    path = tmp_path / name
    record(path, codec, seconds=2)

    pictures = decode_video(path)
    assert len(pictures) == 60
    assert {(f.width, f.height) for f in pictures} == {(320, 240)}
    times = [float(f.time) for f in pictures]
    steps = np.diff(times)
    assert steps.max() == pytest.approx(1 / 30, abs=0.002)  # no gap anywhere
    assert times[-1] - times[0] == pytest.approx(59 / 30, abs=0.01)

    sound = decode_audio(path)
    assert len(sound) / 48_000 == pytest.approx(2.0, abs=0.05)
    assert dominant_frequency(sound, 48_000) == pytest.approx(440.0, abs=2.0)
    with av.open(str(path)) as container:
        assert container.duration / 1e6 == pytest.approx(2.0, abs=0.1)


def test_container_that_cannot_hold_the_codec_is_refused(tmp_path: Path) -> None:
    video = VideoEncoder(VideoSettings(codec="h264", width=160, height=120))
    with pytest.raises(UnsupportedError, match=r"cannot hold H264; record to \.mkv"):
        Recorder(tmp_path / "x.webm", video)
    with pytest.raises(UnsupportedError, match=r"\.mkv, \.webm or \.mp4"):
        Recorder(tmp_path / "x.avi", video)
    assert not (tmp_path / "x.webm").exists()


def test_sound_encoded_before_the_first_picture_starts_with_it(tmp_path: Path) -> None:
    # The first keyframe takes longest to encode: the first 100 ms of sound reach the
    # recorder before it. The file's sound must still start with its first picture.
    video = VideoEncoder(VideoSettings(width=320, height=240, fps=30, keyframe_interval_s=1.0))
    audio = AudioEncoder()
    path = tmp_path / "early.mkv"
    recorder = Recorder(path, video, audio)
    samples = np.concatenate(list(islice(tone_source(440.0, realtime=False).blocks(), 60)))
    for block in range(5):
        audio.encode(samples[block * 960 : (block + 1) * 960], block * 960)
    for index, frame in enumerate(
        islice(pattern_source(320, 240, 30, realtime=False).frames(), 30)
    ):
        video.encode(frame, index)
    for block in range(5, 50):
        audio.encode(samples[block * 960 : (block + 1) * 960], block * 960)
    recorder.close()

    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        first = next(p for p in container.demux(stream) if p.pts is not None)
        assert float(first.pts * stream.time_base) <= 0.0  # with the picture at 0, not later
    assert len(decode_audio(path)) / 48_000 >= 0.99


@EVERY_CONTAINER
def test_a_step_down_mid_recording_keeps_one_file_playing_through(
    tmp_path: Path, name: str, codec: str
) -> None:
    """An automatic step-down reconfigures the encoder the recorder listens to: the one file
    goes on at the smaller size from a keyframe, with no gap in its timeline."""
    settings = VideoSettings(codec=codec, width=640, height=360, fps=30, keyframe_interval_s=2)
    video = VideoEncoder(settings)
    path = tmp_path / name
    recorder = Recorder(path, video)
    frames = pattern_source(640, 360, 30, realtime=False).frames()
    for index, frame in enumerate(islice(frames, 60)):
        if index == 25:  # between two keyframes
            video.reconfigure(replace(settings, width=480, height=270, bitrate=800_000))
        video.encode(frame, index)
    recorder.close()
    assert recorder.error is None

    pictures = decode_video(path)
    assert [(f.width, f.height) for f in pictures] == [(640, 360)] * 25 + [(480, 270)] * 35
    times = np.array([float(f.time) for f in pictures])
    assert np.diff(times).max() == pytest.approx(1 / 30, abs=0.002)
