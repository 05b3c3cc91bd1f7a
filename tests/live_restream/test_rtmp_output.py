"""The RTMP restream against a real nginx-rtmp: pictures and the tone arrive, a server restart
mid-show is survived, a dead destination does not stop another."""

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from harness.nginx_rtmp import NginxRtmp
from media.encoder import AudioSettings, VideoEncoder, VideoSettings
from media.pipeline import LivePipeline
from media.rtmp_output import RtmpDestination, RtmpOutput
from media.sources import pattern_source, tone_source
from tests.live_capture.conftest import dominant_frequency
from tests.live_restream.conftest import Player, read_back

W, H, FPS = 320, 180, 30
TONE_HZ = 1000.0


@dataclass
class States:
    """Every (destination, state, error) the output reported, in order."""

    seen: list[tuple[str, str, str | None]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __call__(self, name: str, state: str, error: str | None) -> None:
        with self.changed:
            self.seen.append((name, state, error))
            self.changed.notify_all()

    def wait_for(self, name: str, state: str, after: int = 0, timeout: float = 30.0) -> int:
        """Index of the first `state` of `name` reported at or after index `after`."""

        def found() -> int | None:
            for i, (n, s, _) in enumerate(self.seen[after:], after):
                if n == name and s == state:
                    return i
            return None

        with self.changed:
            self.changed.wait_for(lambda: found() is not None, timeout)
            index = found()
        assert index is not None, f"{name} never became {state}: {self.seen}"
        return index


@dataclass
class Show:
    pipeline: LivePipeline
    output: RtmpOutput
    states: States
    ended: bool = False

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            self.pipeline.stop()
            self.output.close()


@pytest.fixture
def show() -> Iterator[Callable[..., Show]]:
    shows: list[Show] = []

    def start(destinations: list[RtmpDestination], codec: str = "h264", **kw: object) -> Show:
        pipeline = LivePipeline(
            VideoSettings(codec=codec, width=W, height=H, fps=FPS, bitrate=600_000),
            AudioSettings(),
            main=pattern_source(W, H, FPS),
            audio_sources=[tone_source(TONE_HZ, -20.0)],
        )
        assert pipeline.video_encoder is not None
        video = pipeline.video_encoder
        if codec != "h264":  # what the session does for a VP8 show: one extra H.264 encode
            video = VideoEncoder(VideoSettings(codec="h264", width=W, height=H, fps=FPS))
            pipeline.side_video_encoders.append(video)
        states = States()
        output = RtmpOutput(video, AudioSettings(), destinations, on_state=states, **kw)  # type: ignore[arg-type]
        pipeline.program_taps.append(output.feed_audio)
        pipeline.start()
        shows.append(Show(pipeline, output, states))
        return shows[-1]

    yield start
    for s in shows:
        s.end()


def test_pictures_and_tone_arrive(nginx_rtmp: NginxRtmp, show: Callable[..., Show]) -> None:
    s = show([RtmpDestination("Custom", nginx_rtmp.server_url, "secret-key-1")])
    got = read_back(nginx_rtmp.url("secret-key-1"), frames=90)
    assert got.error is None, got.error
    assert got.frames == 90
    assert got.sizes == {(W, H)}
    assert (got.video_codec, got.audio_codec) == ("h264", "aac")
    samples = got.samples()
    assert len(samples) >= got.audio_rate  # at least a second of sound beside 3 s of video
    assert abs(dominant_frequency(samples, got.audio_rate) - TONE_HZ) < 20
    assert s.output.states() == {"Custom": "live"}
    assert s.states.seen[0][:2] == ("Custom", "live")


def test_vp8_show_restreams_one_extra_h264_encode(
    nginx_rtmp: NginxRtmp, show: Callable[..., Show]
) -> None:
    destinations = [
        RtmpDestination("A", nginx_rtmp.server_url, "a"),
        RtmpDestination("B", nginx_rtmp.server_url, "b"),
    ]
    s = show(destinations, codec="vp8")
    a, b = Player(nginx_rtmp.url("a"), 30), Player(nginx_rtmp.url("b"), 30)
    for got in (a.join(), b.join()):
        assert got.error is None and got.frames == 30 and got.video_codec == "h264"
    # both destinations are fed from the one side encoder: one subscription each
    side = s.pipeline.side_video_encoders[0]
    main = s.pipeline.video_encoder
    assert side.packets.subscriber_count == 2
    assert main is not None and main.codec_name == "vp8"
    s.end()
    # the encoder figures count what each picture costs: both encodes
    assert s.pipeline.stats()["encode_ms"] == main.stats.encode_ms + side.stats.encode_ms
    assert side.stats.frames >= 30 and side.stats.encode_ms > 0


def test_server_restart_mid_show_is_survived(
    nginx_rtmp: NginxRtmp, show: Callable[..., Show]
) -> None:
    key = "restart-secret-key"
    s = show([RtmpDestination("Custom", nginx_rtmp.server_url, key)], backoff=(0.3, 0.6))
    assert read_back(nginx_rtmp.url(key), frames=30).frames == 30
    live_at = s.states.wait_for("Custom", "live")
    nginx_rtmp.restart()
    lost = s.states.wait_for("Custom", "reconnecting", after=live_at)
    s.states.wait_for("Custom", "live", after=lost)
    got = read_back(nginx_rtmp.url(key), frames=60)
    assert got.error is None, got.error
    assert got.frames == 60
    assert abs(dominant_frequency(got.samples(), got.audio_rate) - TONE_HZ) < 20
    assert s.output.stats()["Custom"]["connections"] == 2
    # FFmpeg names the URL (which holds the key) in its errors: what we report never does
    errors = [e for _, _, e in s.states.seen if e]
    assert errors and all(key not in e for e in errors), errors


def test_dead_destination_does_not_stop_another(
    nginx_rtmp: NginxRtmp, show: Callable[..., Show]
) -> None:
    dead = NginxRtmp(nginx_rtmp.root.parent / "dead")  # configured, never started
    s = show(
        [
            RtmpDestination("Dead", dead.server_url, "dead-secret-key"),
            RtmpDestination("Good", nginx_rtmp.server_url, "good"),
        ],
        backoff=(0.1,),
        max_attempts=3,
    )
    s.states.wait_for("Dead", "failed")
    got = read_back(nginx_rtmp.url("good"), frames=60)
    assert got.error is None and got.frames == 60
    assert s.output.states() == {"Dead": "failed", "Good": "live"}
    errors = [e for n, _, e in s.states.seen if n == "Dead" and e]
    assert errors and all("dead-secret-key" not in e for e in errors), errors
    assert "refused" in errors[-1].lower()
    # a destination that gave up takes no more copies of the show's packets
    assert s.output.video is not None and s.output.video.packets.subscriber_count == 1
    assert s.output.audio.packets.subscriber_count == 1
    assert s.pipeline.frames_encoded > 0  # the show's clocks went on


def test_a_server_that_never_answers_holds_nothing_up(
    nginx_rtmp: NginxRtmp, show: Callable[..., Show]
) -> None:
    """A server that takes the connection and then says nothing (a hung ingest). PyAV would
    wait for it holding the GIL, freezing every thread: the destination knocks first, gives
    up after its handshake timeout and retries; the other destination and the show go on."""
    hung = socket.create_server(("127.0.0.1", 0))  # listens (the kernel accepts), never talks
    port = hung.getsockname()[1]
    try:
        s = show(
            [
                RtmpDestination("Hung", f"rtmp://127.0.0.1:{port}/live", "hung-key"),
                RtmpDestination("Good", nginx_rtmp.server_url, "good"),
            ],
            handshake_timeout=1.0,
            backoff=(0.5,),
        )
        s.states.wait_for("Hung", "reconnecting")
        got = read_back(nginx_rtmp.url("good"), frames=60)
        assert got.error is None and got.frames == 60
        assert s.output.states()["Good"] == "live"
        hung_errors = [e for n, _, e in s.states.seen if n == "Hung" and e]
        assert hung_errors[0] == "the server did not answer within 1 s"
        assert s.pipeline.frames_encoded >= 60  # the clocks never froze
    finally:
        hung.close()
