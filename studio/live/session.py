"""Go live: sources -> mixer and meters -> one encoder per rendition -> recording and WHIP.

`LiveSession` is what the Go Live panel and `harmonie-studio live` drive. Before the show it
can run a preview (`start_preview`: the same sources, compositor, mixer and meters, without
encoders; nothing is sent or recorded); going live stops it and the show takes over. It owns
the media pipeline (media.pipeline), the local recording (media.recorder) and, when a WHIP URL is
given, the publisher (media.whip). The recording is fed by the encoders directly, so it keeps
going whatever the network or the ingest does; publishing problems become messages. An
ingest that refuses our video codec gets the other one, once (studio.codec_fallback).

Everything a view needs arrives through `studio.signals.Signal`s, always emitted on the
event loop (the media threads hand over with call_soon_threadsafe).
"""

# Over 450 lines on purpose: LiveSession is one state machine (start, publish, codec switch,
# stop, figures) whose steps share its state; its options, sources and viewer count live beside it.

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import numpy as np

from media.alert_overlay import AlertOverlay
from media.encoded_track import EncodedTrack
from media.encoder import AudioSettings, VideoSettings
from media.errors import MediaError
from media.loop_thread import LoopThread
from media.pipeline import LivePipeline
from media.recorder import Recorder, check_recording_target
from media.rtmp_output import RtmpOutput
from media.scenes import SceneSet
from media.sources import (
    AudioSource,
    VideoSource,
)
from studio.live.codec_fallback import (
    CODEC_LABELS,
    is_codec_refusal,
    other_video_codec,
    switch_video_codec,
)
from studio.live.frozen_heap import freeze_for_show, thaw_after_show
from studio.live.health import WHIP, ShowHealth
from studio.live.options import (
    Layout,
    LiveError,
    LiveOptions,
    available_audio_sources,
    available_video_sources,
    open_audio_source,
    open_video_source,
    whip_token_from_env,
)
from studio.live.restream import StreamKeyVault, attach_restream, with_stream_keys
from studio.live.scenes import draws_something, open_scene_sources, running_specs
from studio.live.stepdown import Quality, StepDown, StepDownPolicy
from studio.live.viewers import ViewerCounter, fetch_viewer_count, relay_live_url
from studio.logs import event
from studio.signals import Signal

log = logging.getLogger(__name__)

__all__ = [  # what the panel and the CLI take from here (options and sources live beside it)
    "Layout",
    "LiveError",
    "LiveOptions",
    "LiveSession",
    "available_audio_sources",
    "available_video_sources",
    "fetch_viewer_count",
    "open_audio_source",
    "open_video_source",
    "relay_live_url",
    "whip_token_from_env",
]

STATS_LOG_EVERY = 10  # intervals: a line every 10 s
LOGGED_STATS = (
    "elapsed_s", "frames_encoded", "frames_skipped", "frames_repeated", "frames_sent",
    "publish_state", "reconnects", "viewers",
    "recorded_packets", "bitrate_kbps", "rtt_ms", "packets_lost", "cpu_pct", "encode_ms",
)  # fmt: skip
STATS_INTERVAL_S = 1.0
PUBLISHER_STOP_S = 10.0
PREVIEW_WIDTH = 640  # the preview composes smaller than the show: it is only looked at
PREVIEW_FPS = 15


class Publisher(Protocol):
    """What the session needs of a publisher (media.whip.WhipPublisher)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


PublisherFactory = Callable[["LiveSession", list[EncodedTrack]], Publisher]


def default_publisher_factory() -> PublisherFactory | None:
    """media.whip's publisher when it is there; None means record only."""
    try:
        from media.whip import WhipPublisher
    except ImportError:
        return None

    def make(session: "LiveSession", tracks: list[EncodedTrack]) -> Publisher:
        options = session.options
        assert options is not None and options.whip_url

        def on_state(state: str, error: Exception | None) -> None:
            session.on_publisher_state(state, error)

        return WhipPublisher(options.whip_url, session.publisher_token(), tracks, on_state=on_state)

    return make


class LiveSession:
    def __init__(
        self,
        publisher_factory: PublisherFactory | None = None,
        stream_keys: StreamKeyVault | None = None,
    ) -> None:
        self.state = "idle"  # idle | starting | live | ending | ended | failed
        self.publish_state = "not publishing"
        self.publish_error: str | None = None  # why publishing failed (state "failed")
        self.options: LiveOptions | None = None
        self.messages: list[str] = []
        self.viewers: int | None = None
        self._viewer_counter = ViewerCounter()  # one HTTP client per show, not one a second
        self.pipeline: LivePipeline | None = None
        self.recorder: Recorder | None = None
        self.publisher: Publisher | None = None
        self.tracks: list[EncodedTrack] = []
        self.publisher_stats: dict[str, float] = {}
        self.health = ShowHealth()  # the show's figures over the last minute, and warnings
        self.quality: Quality | None = None  # the picture as encoded now
        self.step_downs: list[StepDown] = []  # taken automatically during this show
        self._step_down: StepDownPolicy | None = None  # with the artist's consent only
        # The picture and the levels before the show (no encoder): see start_preview.
        self.preview_pipeline: LivePipeline | None = None
        self._preview_lock = asyncio.Lock()
        self._preview_wanted = False
        self.restream: RtmpOutput | None = None
        self.restream_states: dict[str, str] = {}  # destination name -> state
        self._stream_keys = stream_keys or StreamKeyVault()
        # On-stream alerts (tips): studio.tip_overlay feeds it, the video thread draws it
        # where the scene places its alerts.
        self.alert_overlay = AlertOverlay()
        self.scenes: SceneSet | None = None  # the show's (or the preview's) scenes
        self._preview_options: LiveOptions | None = None
        self._scene_tasks: set[asyncio.Task[None]] = set()
        self.state_changed = Signal()  # emits the session
        self.message = Signal()  # emits a human sentence
        self.meters_changed = Signal()  # emits media.pipeline.Meters (50 per second)
        self.stats_changed = Signal()  # emits a dict of figures (once per second)
        self._publisher_factory = publisher_factory or default_publisher_factory()
        # Sees the requested options before anything opens and may return others (the
        # stream announcer: the announced stream's WHIP URL and token). Its failure is a
        # message, never a failed show.
        self.options_resolver: Callable[[LiveOptions], Awaitable[LiveOptions]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stats_task: asyncio.Task[None] | None = None
        self._publish_task: asyncio.Task[Any] | None = None
        self._publish_encoder: Any = None  # the video encoder the publisher is fed from
        # The publisher and its tracks live on a loop of their own (media.loop_thread).
        self._net: LoopThread | None = None
        self._tried_codecs: list[str] = []  # video codecs offered to the ingest, in order
        self._started_wall: float | None = None
        self._ended_elapsed = 0.0

    # --- state -------------------------------------------------------------------------

    @property
    def elapsed_s(self) -> float:
        if self._started_wall is None:
            return 0.0
        if self.state in ("live", "ending"):
            return time.monotonic() - self._started_wall
        return self._ended_elapsed

    def _set_state(self, state: str) -> None:
        self.state = state
        self.state_changed.emit(self)

    def set_publish_state(
        self, state: str, message: str | None = None, error: BaseException | None = None
    ) -> None:
        """Called by the publisher (on the loop) as it connects, drops, reconnects."""
        self.publish_state = state
        if state == "failed":
            self.publish_error = str(error) if error is not None else message
        if message:
            self.say(message)
        self.state_changed.emit(self)

    def on_publisher_state(self, state: str, error: Exception | None) -> None:
        """The publisher's state listener (from the publisher's loop: handled on ours)."""
        if not self._on_our_loop():
            self._from_thread(self.on_publisher_state, state, error)
            return
        if state == "failed" and self._will_switch_codec(error):
            reconnecting = self._publish_task is None or self._publish_task.done()
            if reconnecting and self.state == "live":
                self._publish_task = asyncio.ensure_future(self._publish_in_other_codec(error))
            return  # not over: publishing starts again in the other codec
        self.set_publish_state(state, self.publish_message(state, error), error)

    def publish_message(self, state: str, error: Exception | None) -> str | None:
        """The sentence for a publisher state change (None: nothing worth saying)."""
        recording = " The recording goes on." if self.recorder is not None else ""
        if state == "live":
            return "Live: the ingest is receiving the stream."
        if state == "reconnecting":
            return f"Connection lost, reconnecting ({error}).{recording}"
        if state == "failed":
            hint = ""
            if is_codec_refusal(error) and len(self._tried_codecs) > 1:
                tried = " nor ".join(CODEC_LABELS.get(c, c) for c in self._tried_codecs)
                hint = f" It takes neither {tried}."
            elif is_codec_refusal(error) and self._tried_codecs:
                hint = " This build cannot encode another video codec to offer instead."
            return f"Publishing stopped: {error}{hint}{recording}"
        return None

    def _will_switch_codec(self, error: BaseException | None) -> bool:
        """A codec refusal at the first attempt, with another codec we can encode."""
        return (
            is_codec_refusal(error)
            and len(self._tried_codecs) == 1
            and self.pipeline is not None
            and self.pipeline.video_encoder is not None
            and other_video_codec(self._tried_codecs[0]) is not None
        )

    def say(self, message: str) -> None:
        self.messages.append(message)
        log.info("live: %s", message)
        self.message.emit(message)

    def _on_our_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self._loop
        except RuntimeError:
            return False

    def publisher_token(self) -> "str | Callable[[], Awaitable[str | None]] | None":
        """The show's WHIP token for a publisher on the network thread. A token provider
        (the backend client's `access_token`) is bound to this session's loop, where its
        HTTP client lives, so the publisher's requests for a fresh token are run here."""
        assert self.options is not None
        token, loop = self.options.whip_token, self._loop
        if token is None or isinstance(token, str) or loop is None:
            return token
        provider = token

        async def asked() -> str | None:
            return await provider()

        async def from_our_loop() -> str | None:
            if self._on_our_loop():
                return await asked()
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(asked(), loop))

        return from_our_loop

    def _from_thread(self, callback: Callable[..., Any], *args: Any) -> None:
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(callback, *args)

    # --- controls ----------------------------------------------------------------------

    @property
    def _running(self) -> LivePipeline | None:
        """The show's pipeline during the show, else the preview's (an ended show's last
        picture is not shown as if it were live)."""
        if self.state in ("live", "ending"):
            return self.pipeline
        return self.preview_pipeline

    def set_gain(self, name: str, gain_db: float) -> None:
        running = self._running
        if running is not None and running.mixer is not None:
            running.mixer.set_gain(name, gain_db)

    def set_muted(self, name: str, muted: bool) -> None:
        running = self._running
        if running is not None and running.mixer is not None:
            running.mixer.set_muted(name, muted)

    def audio_inputs(self) -> list[str]:
        running = self._running
        return [c.name for c in running.audio_inputs] if running is not None else []

    def preview(self) -> np.ndarray | None:
        running = self._running
        return running.preview() if running is not None else None

    # --- preview before the show -------------------------------------------------------

    @property
    def previewing(self) -> bool:
        return self.preview_pipeline is not None

    async def start_preview(self, options: LiveOptions) -> None:
        """Run the sources, compositor, mixer and meters without encoders, to see and hear
        the show before going live. Replaces a running preview; does nothing while live.
        Raises LiveError when a source cannot be opened."""
        self._preview_wanted = True
        self.scenes = options.scenes  # set_scenes / switch_scene while this opens win
        async with self._preview_lock:
            await self._drop_preview()
            if not self._preview_wanted or self.state in ("starting", "live", "ending"):
                return
            self._loop = loop = asyncio.get_running_loop()
            width = min(options.width, PREVIEW_WIDTH)
            small = dataclasses.replace(
                options,
                width=width,
                height=max(2, round(options.height * width / options.width / 2) * 2),
                fps=min(options.fps, PREVIEW_FPS),
                scenes=self.scenes,
            )
            self._preview_options = small
            try:
                pipeline = await loop.run_in_executor(
                    None, lambda: self._open_pipeline(small, encode=False)
                )
            except MediaError as exc:
                raise LiveError(str(exc)) from exc
            try:
                await loop.run_in_executor(None, pipeline.start)
            except BaseException:
                await loop.run_in_executor(None, pipeline.stop)  # its devices are open
                raise
            self.preview_pipeline = pipeline
            self._catch_up_scenes(pipeline)
            if not self._preview_wanted:  # stopped while it was opening
                await self._drop_preview()

    async def stop_preview(self) -> None:
        """Stop the preview and let go of its devices (idempotent)."""
        self._preview_wanted = False
        async with self._preview_lock:
            await self._drop_preview()

    async def _drop_preview(self) -> None:
        pipeline, self.preview_pipeline = self.preview_pipeline, None
        if pipeline is not None:
            await asyncio.get_running_loop().run_in_executor(None, pipeline.stop)

    # --- start / stop ------------------------------------------------------------------

    async def start(self, options: LiveOptions) -> None:
        """Open the sources, start encoding, recording and (if asked) publishing.

        Raises LiveError for what must be fixed first (a missing device, a bad recording
        name). Publishing failures do not raise: they become messages, the rest goes on.
        """
        if self.state in ("starting", "live", "ending"):
            raise LiveError("Already live: end the current session first.")
        self._loop = asyncio.get_running_loop()
        await self.stop_preview()  # the show takes the devices over
        self.options = options
        self.messages = []
        self.publish_state = "not publishing"
        self.publish_error = None
        self.pipeline = self.recorder = self.publisher = self.restream = None
        self.restream_states = {}
        self.viewers = None
        self.publisher_stats = {}
        self.health.clear()
        self.quality, self.step_downs, self._step_down = None, [], None
        self._tried_codecs = []
        self._set_state("starting")
        self.scenes = options.scenes  # set_scenes / switch_scene while this starts win
        resolved = await self._resolve_options(options)
        options = self.options = dataclasses.replace(resolved, scenes=self.scenes)
        if options.restream:  # the keyring is D-Bus: off the loop
            ready, problems = await self._loop.run_in_executor(
                None, with_stream_keys, options.restream, self._stream_keys
            )
            options = self.options = dataclasses.replace(options, restream=ready)
            for problem in problems:
                self.say(problem)
        try:
            await self._loop.run_in_executor(None, self._build, options)
        except (MediaError, LiveError) as exc:
            self._set_state("failed")
            self.say(str(exc))
            raise LiveError(str(exc)) from exc
        assert self.pipeline is not None
        freeze_for_show()  # before the clocks run: no long collector pause in the show
        # Waits (briefly) for the sound sources' first buffers: off the event loop.
        try:
            await self._loop.run_in_executor(None, self.pipeline.start)
        except BaseException:
            thaw_after_show()
            raise
        self._started_wall = time.monotonic()
        video = self.pipeline.video_encoder
        if video is not None:
            s = video.settings
            self.quality = Quality(s.width, s.height, s.bitrate)
            if options.auto_step_down:
                self._step_down = StepDownPolicy(self.quality)
        self._set_state("live")
        self._catch_up_scenes(self.pipeline)
        event(log, "live_started", video=options.video, audio=",".join(options.audio))
        if options.record_path is not None:
            self.say(f"Recording to {options.record_path}.")
        self._stats_task = asyncio.create_task(self._report_stats())
        if options.whip_url:
            # In the background: connecting can take seconds; we are already recording.
            self._publish_task = asyncio.create_task(self._start_publishing(options))
        else:
            self.say("Not publishing: no WHIP URL given; recording only.")

    async def _resolve_options(self, options: LiveOptions) -> LiveOptions:
        if self.options_resolver is None:
            return options
        try:
            return await self.options_resolver(options)
        except Exception as exc:
            log.warning("live options resolver failed", exc_info=True)
            self.say(f"Going live with the settings as given: {exc}")
            return options

    def _build(self, options: LiveOptions) -> None:
        """Open devices and encoders (blocking: run off the event loop)."""
        codecs = [options.video_codec] if draws_something(options.scenes, options) else []
        if options.record_path is not None:
            check_recording_target(Path(options.record_path), [*codecs, "opus"])
        self.pipeline = self._open_pipeline(options, encode=True)
        try:
            if options.record_path is not None:
                self.recorder = Recorder(
                    options.record_path, self.pipeline.video_encoder, self.pipeline.audio_encoder
                )
            if options.restream:
                self.restream_states = {d.name: "connecting" for d in options.restream}
                self.restream = attach_restream(
                    self.pipeline,
                    AudioSettings(channels=2, bitrate=options.audio_bitrate),
                    options.restream,
                    on_state=lambda *change: self._from_thread(self._restream_changed, *change),
                )
        except Exception:
            if self.restream is not None:
                self.restream.close()
            self.pipeline.stop()  # its sources are open: close them
            self.pipeline = self.recorder = self.restream = None
            raise

    def _open_pipeline(self, options: LiveOptions, *, encode: bool) -> LivePipeline:
        """Open the chosen sources into a pipeline (blocking: run off the event loop)."""
        opened: list[VideoSource | AudioSource] = []
        try:
            main = open_video_source(options.video, options)
            opened += [main] if main else []
            overlay = open_video_source(options.overlay, options)
            opened += [overlay] if overlay else []
            pairs = ((options.video, main), (options.overlay, overlay))
            shared = {spec: source for spec, source in pairs if source}
            scene_sources, problems = open_scene_sources(options.scenes, options, shared)
            opened += [s for s in set(scene_sources.values()) if s not in (main, overlay)]
            for problem in problems:
                self._from_thread(self.say, problem)
            audio_sources = [s for s in (open_audio_source(a) for a in options.audio) if s]
            opened += audio_sources
            return self._assemble(options, main, overlay, audio_sources, encode, scene_sources)
        except Exception:
            for source in opened:  # a microphone stream is already running: close it
                source.close()
            raise

    def _assemble(
        self,
        options: LiveOptions,
        main: VideoSource | None,
        overlay: VideoSource | None,
        audio_sources: list[AudioSource],
        encode: bool,
        scene_sources: dict[str, VideoSource],
    ) -> LivePipeline:
        has_video = bool(main or overlay or scene_sources) or draws_something(
            options.scenes, options
        )
        if not has_video and not audio_sources:
            raise LiveError("Nothing to send: choose a video or an audio source.")
        video = (
            VideoSettings(
                codec=options.video_codec,
                width=options.width,
                height=options.height,
                fps=options.fps,
                bitrate=options.video_bitrate,
                keyframe_interval_s=options.keyframe_interval_s,
            )
            if has_video
            else None
        )
        return LivePipeline(
            video,
            AudioSettings(channels=2, bitrate=options.audio_bitrate),
            main=main,
            overlay=overlay,
            audio_sources=audio_sources,
            layout=options.layout,
            on_error=lambda name, msg: self._from_thread(self.say, msg),
            on_meters=lambda meters: self._from_thread(self.meters_changed.emit, meters),
            encode=encode,
            scenes=options.scenes,
            video_sources=scene_sources,
            alerts=self.alert_overlay,
        )

    # --- scenes --------------------------------------------------------------------------

    def _scene_pipelines(self) -> list[tuple[LivePipeline, LiveOptions | None]]:
        show = self.pipeline if self.state in ("live", "ending") else None
        pairs = [(show, self.options), (self.preview_pipeline, self._preview_options)]
        return [(p, o) for p, o in pairs if p is not None]

    def _catch_up_scenes(self, pipeline: LivePipeline) -> None:
        """Scenes edited or switched while the pipeline was opening: it takes them up now."""
        compositor = pipeline.compositor
        if self.scenes is not None and compositor is not None and compositor.scenes != self.scenes:
            self.set_scenes(self.scenes)

    def switch_scene(self, name: str, transition: str | None = None) -> None:
        """Put the scene `name` on the air from the next frame: the same encode goes on
        (SceneError: no such scene)."""
        if self.scenes is None:
            return
        self.scenes = self.scenes.activating(name)
        for pipeline, _options in self._scene_pipelines():
            pipeline.switch_scene(name, transition)

    def set_scenes(self, scenes: SceneSet) -> None:
        """Edited scenes, drawn from the next frame. A camera, screen or file they add opens in
        the background (it shows once open); one that cannot open is said, not fatal."""
        self.scenes = scenes
        pending = []
        wanted = set(scenes.feed_keys()) - {"video", "overlay"}  # those two open with the show
        for pipeline, options in self._scene_pipelines():
            pipeline.set_scenes(scenes)
            if options is not None and wanted - set(pipeline.video_feeds):
                pending.append((pipeline, dataclasses.replace(options, scenes=scenes)))
        if pending and self._loop is not None and self._loop.is_running():
            task = self._loop.create_task(self._open_scene_feeds(scenes, pending))
            self._scene_tasks.add(task)  # held until done (the loop keeps weak references)
            task.add_done_callback(self._scene_tasks.discard)

    async def _open_scene_feeds(
        self, scenes: SceneSet, pending: list[tuple[LivePipeline, LiveOptions]]
    ) -> None:
        loop = asyncio.get_running_loop()
        for pipeline, options in pending:
            running = {key: feed.source for key, feed in pipeline.video_feeds.items()}
            sources, problems = await loop.run_in_executor(
                None,
                lambda o=options, r=running: open_scene_sources(
                    scenes, o, running_specs(r, o), skip=r.__contains__
                ),
            )
            if pipeline not in (self.pipeline, self.preview_pipeline):  # ended meanwhile
                for source in set(sources.values()) - set(running.values()):
                    source.close()
                continue
            for feed in pipeline.add_video_sources(sources):
                feed.start()
            for problem in problems:
                self.say(problem)

    def _restream_changed(self, name: str, state: str, error: str | None) -> None:
        """A restream destination's new state (on the loop; `error` holds no key)."""
        self.restream_states[name] = state
        if state == "live":
            self.say(f"Restreaming to {name}.")
        elif state == "reconnecting":
            self.say(f"{name}: {error or 'connection lost'}; reconnecting…")
        elif state == "failed":
            self.say(f"Restreaming to {name} stopped: {error}. The show goes on.")
        self.state_changed.emit(self)

    async def _start_publishing(self, options: LiveOptions) -> None:
        assert self.pipeline is not None
        if self._publisher_factory is None:
            self.set_publish_state(
                "not publishing",
                "Not publishing: this build has no WHIP publisher; recording only.",
            )
            return
        video_encoder = self.pipeline.video_encoder
        if video_encoder is not None:
            self._tried_codecs = [video_encoder.codec_name]
        self.set_publish_state("connecting", f"Connecting to {_where(options.whip_url)}…")
        error = await self._publish(video_encoder)
        if error is not None and self._will_switch_codec(error):
            await self._publish_in_other_codec(error)

    async def republish(self, whip_url: str, whip_token: Any) -> None:
        """Publish to another ingest from now on (a show announced mid-way moves to its own
        stream); the show and its recording go on without a break."""
        if self.state != "live" or self.pipeline is None or self._publisher_factory is None:
            return
        assert self.options is not None
        if self._publish_task is not None and not self._publish_task.done():
            self._publish_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publish_task
        encoder = self._publish_encoder
        await self._drop_publisher()
        self.options = dataclasses.replace(self.options, whip_url=whip_url, whip_token=whip_token)
        self.set_publish_state("connecting", f"Connecting to {_where(whip_url)}…")
        self._publish_task = asyncio.create_task(self._publish(encoder))

    async def _publish(self, video_encoder: Any) -> Exception | None:
        """One publisher on these encoders; the error that kept it from starting, if any."""
        assert self.pipeline is not None and self._publisher_factory is not None
        self._publish_encoder = video_encoder
        audio_encoder = self.pipeline.audio_encoder
        net = self._net_loop()

        def open_tracks() -> list[EncodedTrack]:  # on the publisher's loop: they bind to it
            encoders = (("video", video_encoder), ("audio", audio_encoder))
            return [EncodedTrack.for_encoder(k, e) for k, e in encoders if e is not None]

        try:
            self.tracks = await net.call(open_tracks)
            factory = self._publisher_factory
            self.publisher = await net.call(factory, self, self.tracks)
            await net.run(self.publisher.start())
        except Exception as exc:  # the ingest's problem must not stop the recording
            log.warning("publishing failed: %s", exc)
            if self.publish_state != "failed" and not self._will_switch_codec(exc):
                self.set_publish_state("failed", self.publish_message("failed", exc), exc)
            return exc
        return None

    def _net_loop(self) -> LoopThread:
        if self._net is None:
            self._net = LoopThread("publisher")
            self._net.start()
        return self._net

    async def _publish_in_other_codec(self, refusal: Exception) -> None:
        """The ingest refused our video codec: publish again, once, in the other one."""
        assert self.pipeline is not None
        first = self._tried_codecs[0]
        other = other_video_codec(first)
        assert other is not None
        await self._drop_publisher()
        recording = self.recorder is not None
        # The restream keeps the H.264 encoder it is subscribed to, as the recording does.
        restreaming = self.restream is not None and self.restream.video is self._publish_encoder
        publish_encoder = switch_video_codec(
            self.pipeline, other, keep_current=recording or restreaming
        )
        self._tried_codecs.append(other)
        kept = f" The recording stays {CODEC_LABELS[first]}, uninterrupted." if recording else ""
        event(log, "publish_codec_switch", refused=first, now=other)
        self.set_publish_state(
            "connecting",
            f"The ingest does not take {CODEC_LABELS[first]} ({refusal}); "
            f"publishing in {CODEC_LABELS[other]} instead.{kept}",
        )
        await self._publish(publish_encoder)

    async def _drop_publisher(self) -> None:
        if self.publisher is not None and self._net is not None:
            with contextlib.suppress(Exception):
                await self._net.run(self.publisher.stop())
        self.publisher = None
        await self._stop_tracks()

    async def _stop_tracks(self) -> None:
        tracks, self.tracks = self.tracks, []
        if tracks and self._net is not None:
            with contextlib.suppress(Exception):
                await self._net.call(lambda: [track.stop() for track in tracks])

    async def stop(self) -> None:
        """End the session: stop publishing, finish the recording (idempotent)."""
        if self.state != "live":  # nothing runs yet while starting; ended/failed: done
            return
        self._set_state("ending")
        if self._publish_task is not None and not self._publish_task.done():
            self._publish_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publish_task
        self._publish_task = None
        if self.publisher is not None and self._net is not None:
            try:  # an ingest that does not answer must not keep the artist's show running
                await asyncio.wait_for(self._net.run(self.publisher.stop()), PUBLISHER_STOP_S)
            except TimeoutError:
                self.say("The ingest did not answer in time; the show ended here anyway.")
            except Exception as exc:
                self.say(f"The ingest was not told the stream ended: {exc}")
            self.publisher = None
        await self._stop_tracks()
        if self._net is not None:
            await self._net.aclose()
            self._net = None
        if self._stats_task is not None:
            self._stats_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._stats_task
        await self._viewer_counter.aclose()
        self._ended_elapsed = self.elapsed_s
        loop = asyncio.get_running_loop()
        if self.pipeline is not None:
            await loop.run_in_executor(None, self.pipeline.stop)
        if self.restream is not None:
            await loop.run_in_executor(None, self.restream.close)
        if self.recorder is not None:
            await loop.run_in_executor(None, self.recorder.close)
            if self.recorder.error:
                self.say(self.recorder.error)
            else:
                self.say(f"Recording saved: {self.recorder.path}.")
        if self.publish_state != "failed":
            self.publish_state = "not publishing"
        thaw_after_show()
        self._set_state("ended")
        event(log, "live_ended", seconds=round(self._ended_elapsed, 1))

    # --- figures -----------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.pipeline.stats()) if self.pipeline else {}
        out["outputs"] = self._output_stats()
        out["elapsed_s"] = self.elapsed_s
        out.update(self.publisher_stats)  # a snapshot up to a second old...
        out["publish_state"] = self.publish_state  # ...this one is current
        if self.viewers is not None:
            out["viewers"] = self.viewers
        if self.restream is not None:
            out["restream"] = dict(self.restream_states)
        if self.recorder is not None:
            out["recording"] = str(self.recorder.path)
            out["recorded_packets"] = self.recorder.packets_written
            if self.recorder.error:
                out["recording_error"] = self.recorder.error
        return out

    def _output_stats(self) -> dict[str, dict[str, Any]]:
        """Each output's state and figures (studio.live.health.OutputHealth.add reads them)."""
        outputs: dict[str, dict[str, Any]] = {}
        if self.options is not None and self.options.whip_url:
            published = self.publisher_stats
            outputs[WHIP] = {
                "kind": "whip",
                "state": self.publish_state,
                "error": self.publish_error,
                "bitrate_kbps": published.get("bitrate_kbps"),
                "fps": published.get("publish_fps"),
                "rtt_ms": published.get("rtt_ms"),
                "packets_sent": published.get("packets_sent"),
                "packets_lost": published.get("packets_lost"),
                "frames_dropped": published.get("frames_lost"),
                "frames_late": published.get("frames_sent_late"),
            }
        if self.restream is not None:
            for name, figures in self.restream.stats().items():
                outputs[name] = {
                    "kind": "rtmp",
                    "state": self.restream_states.get(name, figures["state"]),
                    "error": figures["error"],
                    "bytes_sent": figures["bytes_sent"],
                    "frames_sent": figures["video_frames"],
                    "frames_dropped": figures["video_dropped"],
                    "frames_late": figures["late"],
                }
        return outputs

    def _consider_step_down(self) -> None:
        """Step the picture down when the policy says so (only with the artist's consent:
        without it there is no policy, and the Stats dock only warns)."""
        policy = self._step_down
        if policy is None or self.pipeline is None or self.state != "live":
            return
        whip = self.health.outputs.get(WHIP)
        step = policy.observe(
            self.health.latest("encoder_load_pct"),
            lost=(whip.latest("lost") or 0.0) if whip else 0.0,
            sent=(whip.latest("sent") or 0.0) if whip else 0.0,
        )
        if step is None:
            return
        after = step.after
        self.pipeline.change_video(after.width, after.height, after.bitrate)
        self.quality = after
        self.step_downs.append(step)
        event(log, "live_step_down", reason=step.reason, size=after.size, bitrate=after.bitrate)
        self.say(step.message)

    async def _report_stats(self) -> None:
        reported_recorder_error = False
        ticks = 0
        while True:
            await asyncio.sleep(STATS_INTERVAL_S)
            ticks += 1
            stats_fn = getattr(self.publisher, "stats", None)
            if callable(stats_fn) and self._net is not None:
                try:
                    result = await self._net.run(_called(stats_fn))
                    if dataclasses.is_dataclass(result) and not isinstance(result, type):
                        result = dataclasses.asdict(result)
                    self.publisher_stats = {
                        f"publish_{k}" if k in ("state", "fps") else k: v
                        for k, v in dict(result or {}).items()
                    }
                except Exception as exc:
                    log.debug("publisher stats failed: %s", exc)
            whip_url = self.options.whip_url if self.options else None
            if whip_url and self.publish_state == "live":
                self.viewers = await self._viewer_counter.count(whip_url)
            if self.recorder is not None and self.recorder.error and not reported_recorder_error:
                reported_recorder_error = True
                self.say(self.recorder.error)
            figures = self.stats()
            self.health.add(figures)
            self._consider_step_down()
            if ticks % STATS_LOG_EVERY == 0:  # the show's health in the log, for after the fact
                event(log, "live_stats", **{k: v for k, v in figures.items() if k in LOGGED_STATS})
            self.stats_changed.emit(figures)


async def _called(function: Callable[[], Any]) -> Any:
    """`function()`, awaited if it gives a coroutine."""
    result = function()
    return await result if asyncio.iscoroutine(result) else result


def _where(url: str) -> str:
    """Scheme, host and path of a URL: no query string or credentials (they may hold keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
