import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from media.feeds import AudioFeed
from media.limiter import Limiter
from media.mixer import AudioMixer, Layout, VideoCompositor
from media.sources import LavfiAudioSource, tone_source


@settings(max_examples=60, deadline=None)
@given(
    gain=st.floats(0.5, 40.0),
    seed=st.integers(0, 2**32 - 1),
    block=st.sampled_from([3, 480, 960, 4096]),
    ceiling=st.floats(-12.0, 0.0),
)
def test_limiter_never_exceeds_the_ceiling(
    gain: float, seed: int, block: int, ceiling: float
) -> None:
    rng = np.random.default_rng(seed)
    signal = (rng.standard_normal((9600, 2)) * gain).astype(np.float32)
    signal[rng.integers(0, 9600, 20)] *= 50  # sharp transients
    limiter = Limiter(48_000, 2, ceiling_db=ceiling)
    out = np.concatenate(
        [limiter.process(signal[i : i + block]) for i in range(0, len(signal), block)]
    )
    assert out.shape == signal.shape
    assert np.max(np.abs(out)) <= 10 ** (ceiling / 20) + 1e-6


def test_limiter_leaves_quiet_audio_alone_apart_from_the_delay() -> None:
    limiter = Limiter(48_000, 1, ceiling_db=-1.0)
    x = (0.3 * np.sin(np.arange(4800) / 10.0)).astype(np.float32)[:, None]
    y = limiter.process(x)
    delay = limiter.window - 1
    np.testing.assert_allclose(y[delay:], x[:-delay], atol=1e-6)


def test_limiter_reduces_a_loud_tone_to_the_ceiling_without_clipping_it() -> None:
    limiter = Limiter(48_000, 1, ceiling_db=-1.0)
    x = (2.0 * np.sin(2 * np.pi * 440 * np.arange(48_000) / 48_000)).astype(np.float32)[:, None]
    y = np.concatenate([limiter.process(b) for b in np.split(x, 50)])
    steady = y[24_000:]
    assert np.max(np.abs(steady)) == pytest.approx(10 ** (-1 / 20), abs=0.02)
    # Gain is applied smoothly, not by clipping: few samples sit exactly on the ceiling.
    assert np.mean(np.isclose(np.abs(steady), 10 ** (-1 / 20), atol=1e-5)) < 0.05


def started(feed: AudioFeed) -> AudioFeed:
    feed.start()
    feed.join(timeout=5)  # non-realtime sources end quickly; their samples stay buffered
    return feed


def test_mixer_applies_gain_mute_and_meters_each_input() -> None:
    voice = tone_source(440, -20, channels=1, realtime=False, seconds=0.5)
    voice.name = "voice"
    loud = started(AudioFeed(voice, max_buffer=48_000))
    other = started(
        AudioFeed(
            LavfiAudioSource(
                "aevalsrc=0.1*sin(2*PI*1000*t)|0.1*sin(2*PI*1000*t):s=48000:d=0.5",
                name="music",
                realtime=False,
            ),
            max_buffer=48_000,
        )
    )
    mixer = AudioMixer(48_000, 2)
    mixer.add(loud)
    mixer.add(other)
    mixer.set_gain("voice", -6.0)
    mixer.set_muted("music", True)
    out = np.concatenate([mixer.mix(960) for _ in range(20)])
    assert out.shape == (19_200, 2)
    # Only the voice, at -20 - 6 dBFS peak, copied to both channels.
    assert np.max(np.abs(out[1000:])) == pytest.approx(10 ** (-26 / 20), rel=0.01)
    np.testing.assert_allclose(out[:, 0], out[:, 1])
    voice, music = mixer.inputs
    assert voice.reading.peak_db[0] == pytest.approx(-26.0, abs=0.1)
    assert music.reading.peak_db[0] <= -120.0
    assert mixer.program.peak_db[0] == pytest.approx(-26.0, abs=0.1)


def test_mixer_output_is_limited() -> None:
    feeds = [
        started(AudioFeed(tone_source(f, 0.0, realtime=False, seconds=0.5), max_buffer=48_000))
        for f in (300, 500)
    ]
    mixer = AudioMixer(48_000, 2, ceiling_db=-1.0)
    for f in feeds:
        mixer.add(f)
    out = np.concatenate([mixer.mix(960) for _ in range(10)])
    assert np.max(np.abs(out)) <= 10 ** (-1 / 20) + 1e-6


def solid(width: int, height: int, y: int, u: int, v: int) -> av.VideoFrame:
    data = np.concatenate(
        [
            np.full((height, width), y, np.uint8),
            np.full((height // 4, width), u, np.uint8),
            np.full((height // 4, width), v, np.uint8),
        ]
    )
    return av.VideoFrame.from_ndarray(data, format="yuv420p")


def luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray()[: frame.height]


def test_picture_in_picture_puts_the_camera_bottom_right_over_the_screen() -> None:
    screen, camera = solid(1920, 1080, 200, 128, 128), solid(640, 480, 60, 90, 200)
    out = VideoCompositor(1280, 720, Layout.PIP).compose(screen, camera)
    assert (out.width, out.height, out.format.name) == (1280, 720, "yuv420p")
    y = luma(out)
    assert y[10, 10] == 200 and y[360, 640] == 200  # screen fills the frame
    assert y[600, 1100] == 60 and y[700, 1100] == 200  # camera bottom right, with a margin
    assert y[500, 900] == 200  # ...and only there (28 % of the width)


def test_either_source_alone_and_letterboxing() -> None:
    screen, camera = solid(1280, 720, 200, 128, 128), solid(640, 480, 60, 90, 200)
    main_only = luma(VideoCompositor(1280, 720, Layout.MAIN).compose(screen, camera))
    assert np.all(main_only == 200)
    camera_only = luma(VideoCompositor(1280, 720, Layout.OVERLAY).compose(screen, camera))
    # 4:3 in 16:9: pillarboxed, black (16) at the sides, camera in the middle.
    assert camera_only[360, 20] == 16 and camera_only[360, 640] == 60
    nothing = luma(VideoCompositor(320, 240).compose(None, None))
    assert np.all(nothing == 16)
    camera_fallback = luma(VideoCompositor(320, 240, Layout.PIP).compose(None, camera))
    assert camera_fallback[120, 160] == 60
