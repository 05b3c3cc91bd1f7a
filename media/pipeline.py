"""The live program: feeds -> mixer/compositor -> meters -> encoders, on one output clock.

The picture is the active scene (media.scenes) drawn by media.compositor from the latest frame
of every video feed; `switch_scene` changes it between two frames of the same encode (a cut or
a fade), so a switch never starts a second encoder. Every feed any scene needs runs from the
start, so a switch waits on no device.

With `encode=False` the same program runs without encoders (a preview before the show):
sources, compositor, picture filters, mixer and meters, and nothing is encoded or sent.

Two threads keep time from a shared start instant, so audio and video timestamps line up:
the video thread composes and encodes a picture every 1/fps (a short stall is filled by
repeating the picture, a longer one or one stall after another skips to now, never piling
up); the audio thread mixes, meters, limits and encodes a
20 ms Opus frame every 20 ms (catching up, never skipping, so the sound has no holes).
Devices only ever feed buffers (media.feeds), and the clocks wait on them only briefly:
`start` starts the clocks once every sound source has its margin buffered (at most
AUDIO_START_WAIT_S), so the sound starts without a hole, and the audio clock gives a source
that is late (a busy machine) until AUDIO_PATIENCE_S after a block is due before that block
counts as silence. A wait moves when a block is encoded, never where it sits in time.
"""

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import av
import numpy as np

from media.alert_overlay import AlertOverlay
from media.compositor import SceneCompositor
from media.encoder import AudioEncoder, AudioSettings, VideoEncoder, VideoSettings
from media.feeds import AudioFeed, VideoFeed
from media.meters import MeterReading
from media.mixer import AudioChannel, AudioMixer
from media.scenes import Layout, SceneSet, layout_scene
from media.sources import AUDIO_RATE, AudioSource, VideoSource

log = logging.getLogger(__name__)

PREVIEW_SIZE = (320, 180)
# How long `start` waits for the sound sources' first prebuffer: a device slow to open
# starts the show in silence rather than holding it up.
AUDIO_START_WAIT_S = 1.0
# How late past its due time a block may be mixed while a source catches up.
AUDIO_PATIENCE_S = 0.15
# A video stall up to this long (a collector pass, a moment of a busy machine) is filled with
# the current picture, as OBS repeats frames on rendering lag, so the recording and the stream
# keep their frame rate and a player or an editor sees no hole. Each repeat is one more
# encode, so repeats come from a budget that refills at REPEAT_SHARE of the frame rate: a
# machine that cannot keep up soon has none left, and ticks are skipped instead.
REPEAT_UP_TO_S = 0.5
REPEAT_SHARE = 0.1


@dataclass(frozen=True)
class Meters:
    program: MeterReading
    inputs: dict[str, MeterReading]
    gain_reduction_db: float


class _Rate:
    """Events per second over the last second."""

    def __init__(self) -> None:
        self._times: deque[float] = deque()

    def tick(self) -> None:
        now = time.monotonic()
        self._times.append(now)
        while self._times and now - self._times[0] > 1.0:
            self._times.popleft()

    @property
    def value(self) -> float:
        now = time.monotonic()
        return float(sum(1 for t in self._times if now - t <= 1.0))


def _sleep_until(deadline: float, stop: threading.Event) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        stop.wait(delay)


class LivePipeline:
    def __init__(
        self,
        video: VideoSettings | None,
        audio: AudioSettings | None,
        main: VideoSource | None = None,
        overlay: VideoSource | None = None,
        audio_sources: Sequence[AudioSource] = (),
        layout: Layout = Layout.PIP,
        on_error: Callable[[str, str], None] | None = None,
        on_meters: Callable[[Meters], None] | None = None,
        picture_filters: Sequence[Callable[[av.VideoFrame], av.VideoFrame]] = (),
        encode: bool = True,
        scenes: SceneSet | None = None,
        video_sources: Mapping[str, VideoSource] | None = None,
        alerts: AlertOverlay | None = None,
    ) -> None:
        """`main` and `overlay` are the feeds `video` and `overlay`; `video_sources` more feeds
        by `SceneSource.feed_key()`. Without `scenes`, `layout` says how main and overlay show
        (the layouts of before scenes). `alerts` is drawn where a scene places its alerts."""
        self._on_error = on_error
        # Drawn over the composed picture before encoding (e.g. on-stream tip alerts).
        self.picture_filters = list(picture_filters)
        self.on_meters = on_meters
        self.video_settings = video
        self.video_encoder = VideoEncoder(video) if video is not None and encode else None
        # More encoders fed the same pictures, after the main one (the restream's H.264 when
        # the show is VP8): one composition, one extra encode whatever the number of outputs.
        self.side_video_encoders: list[VideoEncoder] = []
        # Called with each mixed program block and its first sample, on the audio clock
        # (the restream's AAC): must return at once (queue the block and go).
        self.program_taps: list[Callable[[np.ndarray, int], None]] = []
        self.audio_encoder = AudioEncoder(audio) if audio is not None and encode else None
        self.video_feeds: dict[str, VideoFeed] = {}
        self.add_video_sources({"video": main, "overlay": overlay, **(video_sources or {})})
        self.main, self.overlay = self.video_feeds.get("video"), self.video_feeds.get("overlay")
        if scenes is None:
            shown = Layout.OVERLAY if layout is Layout.PIP and main is None else layout
            aspect = video.width / video.height if video is not None else 16 / 9
            scenes = SceneSet((layout_scene(shown, aspect, alerts=alerts is not None),))
        self.compositor = (
            SceneCompositor(video.width, video.height, scenes, alerts, self._source_failed)
            if video is not None
            else None
        )
        self.mixer = AudioMixer(AUDIO_RATE, audio.channels) if audio is not None else None
        self.audio_feeds = [AudioFeed(s, self._source_failed) for s in audio_sources]
        for feed in self.audio_feeds:
            if self.mixer is not None:
                self.mixer.add(feed)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._preview: np.ndarray | None = None
        self._fps = _Rate()
        self.frames_encoded = 0  # composed (and encoded, unless a preview)
        self.frames_skipped = 0  # dropped: ticks never composed because the clock fell behind
        self.frames_repeated = 0  # ticks of a short stall filled with the picture again
        self.frames_late = 0  # composed, but finished after the next tick was due
        self.audio_blocks = 0
        self.started_at: float | None = None
        # A size and bitrate every encoder takes at the next picture (see change_video).
        self._video_change: tuple[int, int, int] | None = None
        self._video_change_lock = threading.Lock()
        self._cpu_mark = (time.monotonic(), time.process_time())
        self.cpu_percent = 0.0

    def _source_failed(self, name: str, message: str) -> None:
        if self._on_error is not None:
            self._on_error(name, message)

    def add_video_sources(self, sources: Mapping[str, VideoSource | None]) -> list[VideoFeed]:
        """Feeds for these sources by key (one feed per source object); the new feeds, which
        the caller starts when the pipeline already runs."""
        feeds = dict(self.video_feeds)  # a new dict: the video clock may be reading the old
        by_source = {id(f.source): f for f in feeds.values()}
        new = []
        for key, source in sources.items():
            if source is None or key in feeds:
                continue
            feed = by_source.get(id(source))
            if feed is None:
                feed = by_source[id(source)] = VideoFeed(source, self._source_failed)
                new.append(feed)
            feeds[key] = feed
        self.video_feeds = feeds
        return new

    def switch_scene(self, name: str, transition: str | None = None) -> None:
        """Put another scene on the air from the next frame (SceneError: no such scene)."""
        if self.compositor is not None:
            self.compositor.switch(name, transition)

    def set_scenes(self, scenes: SceneSet) -> None:
        if self.compositor is not None:
            self.compositor.set_scenes(scenes)

    @property
    def feeds(self) -> list[VideoFeed | AudioFeed]:
        video = list({id(f): f for f in self.video_feeds.values()}.values())
        return [*video, *self.audio_feeds]

    @property
    def audio_inputs(self) -> list[AudioChannel]:
        return self.mixer.inputs if self.mixer is not None else []

    def start(self) -> None:
        """Start the sources, then the clocks once the sound is buffered (blocks up to
        AUDIO_START_WAIT_S: call it off the event loop)."""
        for feed in self.feeds:
            feed.start()
        if self.mixer is not None:
            self._wait_for_sound(AudioEncoder.frame_size, time.monotonic() + AUDIO_START_WAIT_S)
        self.started_at = time.monotonic()
        if self.compositor is not None:
            self._threads.append(threading.Thread(target=self._video_loop, name="video-clock"))
        if self.mixer is not None:
            self._threads.append(threading.Thread(target=self._audio_loop, name="audio-clock"))
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for encoder in (self.video_encoder, *self.side_video_encoders, self.audio_encoder):
            if encoder is not None:
                encoder.flush()
        for feed in self.feeds:
            feed.stop()

    def change_video(self, width: int, height: int, bitrate: int) -> None:
        """From the next picture on, encode at `width` x `height` and `bitrate` (a step-down).

        Every video encoder (the restream's too) reconfigures itself between two pictures on
        the video thread, starting again at a keyframe: no second encode, and the recording
        and the outputs keep their subscriptions. The composition keeps its own size; each
        encoder scales the composed picture. Safe from any thread."""
        with self._video_change_lock:
            self._video_change = (width, height, bitrate)

    def _apply_video_change(self) -> None:
        with self._video_change_lock:
            change, self._video_change = self._video_change, None
        if change is None:
            return
        width, height, bitrate = change
        for encoder in (self.video_encoder, *self.side_video_encoders):
            if encoder is not None:
                new = replace(encoder.settings, width=width, height=height, bitrate=bitrate)
                encoder.reconfigure(new)

    # --- clocks ------------------------------------------------------------------------

    def _video_loop(self) -> None:
        assert self.video_settings is not None and self.compositor is not None
        assert self.started_at is not None
        fps = self.video_settings.fps
        # a preview costs no encode: refresh it at every tick rather than every third
        preview_every = 3 if self.video_encoder is not None else 1
        index = 0
        budget, refilled = REPEAT_UP_TO_S * fps, time.monotonic()  # repeats we may still make
        while not self._stop.is_set():
            _sleep_until(self.started_at + index / fps, self._stop)
            if self._stop.is_set():
                break
            now = time.monotonic()
            due = int((now - self.started_at) * fps)
            first = index  # the ticks this picture fills: first..index
            budget = min(REPEAT_UP_TO_S * fps, budget + (now - refilled) * REPEAT_SHARE * fps)
            refilled = now
            if due > index + 1:  # fell behind
                missed = due - index
                if missed <= budget:
                    budget -= missed
                    self.frames_repeated += missed
                else:  # skip to now rather than queue up
                    self.frames_skipped += missed
                    first = due
                index = due
            try:
                self._apply_video_change()
                frame = self.compositor.compose(
                    {key: feed.latest() for key, feed in self.video_feeds.items()}
                )
                for picture_filter in self.picture_filters:
                    frame = picture_filter(frame)
                for tick in range(first, index + 1):
                    if self.video_encoder is not None:
                        self.video_encoder.encode(frame, tick)
                    for side in self.side_video_encoders:
                        side.encode(frame, tick)
                    self.frames_encoded += 1
                    self._fps.tick()
            except Exception as exc:  # a bad frame must not end the show
                log.exception("video tick %d failed", index)
                self._source_failed("video", f"A picture could not be encoded: {exc}")
                index += 1
                continue
            if time.monotonic() > self.started_at + (index + 1) / fps:
                self.frames_late += 1
            if index % preview_every == 0:
                w, h = PREVIEW_SIZE
                self._preview = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
            index += 1

    def _audio_loop(self) -> None:
        assert self.mixer is not None and self.started_at is not None
        size = AudioEncoder.frame_size
        block = 0
        while not self._stop.is_set():
            # Block k covers [k, k+1) * 20 ms: mix it once its last sample is due.
            due = self.started_at + (block + 1) * size / AUDIO_RATE
            _sleep_until(due, self._stop)
            if self._stop.is_set():
                break
            self._wait_for_sound(size, due + AUDIO_PATIENCE_S)
            program = self.mixer.mix(size)
            if self.audio_encoder is not None:
                self.audio_encoder.encode(program, block * size)
            for tap in self.program_taps:
                try:
                    tap(program, block * size)
                except Exception:  # a listener's fault must not put a hole in the sound
                    log.exception("program tap %r failed", tap)
            self.audio_blocks += 1
            block += 1
            if self.on_meters is not None:
                self.on_meters(
                    Meters(
                        program=self.mixer.program,
                        inputs={c.name: c.reading for c in self.mixer.inputs},
                        gain_reduction_db=self.mixer.limiter.gain_reduction_db,
                    )
                )

    def _wait_for_sound(self, samples: int, deadline: float) -> None:
        """Until every sound source can give `samples` (or has ended), at most to `deadline`."""
        for feed in self.audio_feeds:
            feed.wait_playable(samples, deadline - time.monotonic())

    # --- what the studio shows ---------------------------------------------------------

    def preview(self) -> np.ndarray | None:
        """The latest program picture as a small RGB array (height, width, 3)."""
        return self._preview

    def stats(self) -> dict[str, float]:
        now, cpu = time.monotonic(), time.process_time()
        wall, used = now - self._cpu_mark[0], cpu - self._cpu_mark[1]
        if wall >= 0.5:
            self.cpu_percent = 100.0 * used / wall
            self._cpu_mark = (now, cpu)
        out: dict[str, float] = {
            "elapsed_s": now - self.started_at if self.started_at else 0.0,
            "cpu_pct": self.cpu_percent,
            "frames_encoded": float(self.frames_encoded),
            "frames_skipped": float(self.frames_skipped),
            "frames_repeated": float(self.frames_repeated),
            "frames_late": float(self.frames_late),
        }
        if self.compositor is not None:
            out["fps"] = self._fps.value
        if self.video_encoder is not None:
            v = self.video_encoder
            out["video_bitrate"] = v.stats.bitrate
            # A picture costs every encoder it goes through (the restream's H.264 too).
            encode_ms = v.stats.encode_ms + sum(e.stats.encode_ms for e in self.side_video_encoders)
            out["encode_ms"] = encode_ms
            out["encoder_load_pct"] = 100.0 * encode_ms * v.settings.fps / 1000.0
        if self.audio_encoder is not None:
            out["audio_bitrate"] = self.audio_encoder.stats.bitrate
        return out
