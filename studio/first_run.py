"""The first-run guide's state and work, Qt-free (the wizard in widgets/first_run draws it).

What the guide keeps lives in the settings TOML: `first_run_done` once the guide was shown
through, `artist_name`, and the `sources` the artist picked (video, overlay, audio specs
as studio.live.options reads them). Each is written only when the artist changed it: a guide
run again and clicked through leaves the file as it was.

`SourceCheck` is the media side: a preview of the chosen sources with their level, a short
test recording and its playback, on a LiveSession of its own (never the show's), so the
window only asks and draws.
"""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from media.pipeline import PREVIEW_SIZE, Meters
from studio.live.options import LiveError, LiveOptions
from studio.live.session import LiveSession
from studio.publishing.track_player import PlayerThread, TrackPlayer
from studio.settings import Settings
from studio.signals import Signal

log = logging.getLogger(__name__)

DONE_KEY = "first_run_done"
NAME_KEY = "artist_name"
SOURCES_KEY = "sources"
TEST_SECONDS = 5.0
TEST_RECORDING = "first-run-test.mkv"
# The preview only feeds a small picture and a meter: a light encode on shared cores.
PREVIEW_WIDTH, PREVIEW_HEIGHT, PREVIEW_FPS = 640, 360, 15
LIVE_STATES = ("starting", "live", "ending")


def needs_first_run(settings: Settings) -> bool:
    """True until the guide was shown through once (finished or skipped)."""
    return not settings.get(DONE_KEY, False)


def _save(settings: Settings) -> None:
    try:
        settings.save()
    except OSError as exc:  # kept in memory; saved again at quit
        log.warning("settings not saved: %s", exc)


def mark_done(settings: Settings) -> None:
    if settings.get(DONE_KEY) is not True:
        settings.set(DONE_KEY, True)
        _save(settings)


def set_artist_name(settings: Settings, name: str) -> bool:
    """Keep the name fans see; an empty or unchanged name changes nothing. True if saved."""
    name = name.strip()
    if not name or name == settings.get(NAME_KEY):
        return False
    settings.set(NAME_KEY, name)
    _save(settings)
    return True


@dataclass(frozen=True)
class Sources:
    video: str = "none"
    overlay: str = "none"
    audio: str = "none"

    def check_options(self, record_path: Path | None) -> LiveOptions:
        """A light show of these sources: nothing published, recorded only if asked."""
        return LiveOptions(
            video=self.video,
            overlay=self.overlay,
            audio=[self.audio],
            width=PREVIEW_WIDTH,
            height=PREVIEW_HEIGHT,
            fps=PREVIEW_FPS,
            record_path=record_path,
        )


def suggested_sources(video: list[tuple[str, str]], audio: list[tuple[str, str]]) -> Sources:
    """What an artist most likely wants from what this computer has (the pickers' choices,
    as studio.live.options lists them): the screen with the camera in a corner, else the
    camera, else the test pattern; a microphone, else the test tone."""
    specs = [spec for spec, _label in video]
    cameras = [spec for spec in specs if spec.startswith("camera")]
    screen = next((spec for spec in specs if spec.startswith("screen")), None)
    main = screen or (cameras[0] if cameras else specs[0] if specs else "none")
    overlay = cameras[0] if screen and cameras else "none"
    mics = [spec for spec, _label in audio if spec.startswith("mic")]
    sound = mics[0] if mics else audio[0][0] if audio else "none"
    return Sources(main, overlay, sound)


def saved_sources(settings: Settings) -> Sources | None:
    """The sources the artist picked in the guide, if they ever did."""
    saved = settings.get(SOURCES_KEY)
    if not isinstance(saved, dict):
        return None
    return Sources(
        **{k: str(saved[k]) for k in ("video", "overlay", "audio") if isinstance(saved.get(k), str)}
    )


def set_sources(settings: Settings, sources: Sources) -> bool:
    """Keep the picked sources when they differ from what is saved. True if saved."""
    if saved_sources(settings) == sources:
        return False
    settings.set(SOURCES_KEY, vars(sources).copy())
    _save(settings)
    return True


def fan_page_url(backend_url: str | None) -> str | None:
    """Where fans watch: the backend's fan page (None without a backend)."""
    return f"{backend_url.rstrip('/')}/fan/" if backend_url else None


class SourceCheck:
    """Preview, level and a short test recording of the chosen sources, then its playback.

    `state`: idle | starting | previewing | recording | recorded | playing | failed;
    `changed` is emitted (on the loop) whenever it moves, `message` says what happened.
    """

    def __init__(self, recording_path: Path, show: LiveSession | None = None) -> None:
        self.recording_path = recording_path
        self.show = show  # the studio's own session: no check while it is on air
        self.session = LiveSession()
        self.state = "idle"
        self.message = ""
        self.meters: Meters | None = None
        self.recorded: Path | None = None
        self.changed = Signal()
        self._record_ends = 0.0
        self._sound = TrackPlayer(self._on_sound)
        self._sound_state = "stopped"
        self._sound_error = ""
        self._picture = _FramePlayer()
        self._recorded_sources = Sources()
        self._generation = 0  # moves on at every restart or stop: a late step sees it
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: asyncio.Future[None] | None = None
        self.session.meters_changed.connect(self._on_meters)

    # -- what the window draws ----------------------------------------------------------
    @property
    def on_air(self) -> bool:
        return self.show is not None and self.show.state in LIVE_STATES

    def picture(self) -> np.ndarray | None:
        """The latest picture: the recording's while it plays back, else the sources'."""
        if self.state == "playing":
            return self._picture.frame
        return self.session.preview() if self.session.state == "live" else None

    @property
    def seconds_left(self) -> float:
        return max(0.0, self._record_ends - time.monotonic()) if self.state == "recording" else 0

    def _set(self, state: str, message: str = "") -> None:
        self.state, self.message = state, message
        self.changed.emit(self.state)

    def _on_meters(self, meters: Meters) -> None:
        self.meters = meters

    # -- actions ------------------------------------------------------------------------
    async def preview(self, sources: Sources) -> None:
        """Show `sources` (a preview, nothing recorded, nothing published)."""
        await self._restart(sources, None, "previewing", "")

    async def record(self, sources: Sources, seconds: float = TEST_SECONDS) -> Path | None:
        """Record `seconds` of `sources` to the test file; the path, or None if it failed."""
        self.recorded = None
        if not await self._restart(sources, self.recording_path, "recording", ""):
            return None
        generation = self._generation
        self._record_ends = time.monotonic() + seconds
        self.changed.emit(self.state)
        await asyncio.sleep(seconds)
        if generation != self._generation:  # stopped meanwhile (page left, guide closed)
            return None
        recorder = self.session.recorder
        await self.session.stop()
        self.meters = None
        error = recorder.error if recorder is not None else "Nothing was recorded."
        if error:
            self._set("failed", error)
            return None
        self.recorded = self.recording_path
        self._recorded_sources = sources
        self._set("recorded", f"Recorded {seconds:.0f} seconds. Play it back to check it.")
        return self.recorded

    def play(self) -> None:
        """Play the test recording back: its sound on the speakers, its picture in the page."""
        if self.recorded is None:
            self._set("failed", "Record a test first.")
            return
        self._loop = asyncio.get_running_loop()
        self._sound_error = ""
        if self._recorded_sources.audio != "none":
            self._sound_state = "playing"
            self._sound.play(str(self.recorded))
        if (self._recorded_sources.video, self._recorded_sources.overlay) != ("none", "none"):
            self._picture.play(str(self.recorded))
        self._set("playing", "Playing the test recording…")
        self._work = asyncio.ensure_future(self._until_played())

    async def _until_played(self) -> None:
        while self._sound_state == "playing" or self._picture.playing:
            await asyncio.sleep(0.1)
        if self.state == "playing":
            self._set("recorded", self._sound_error or "Played back. Record again, or go on.")

    def _on_sound(self, state: str, detail: str) -> None:  # from the player's thread
        def settle() -> None:
            self._sound_state = "stopped" if state == "error" else state
            if state == "error":
                self._sound_error = detail

        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(settle)

    async def _restart(
        self, sources: Sources, record: Path | None, state: str, message: str
    ) -> bool:
        await self.stop()
        self._generation += 1
        if self.on_air:
            self._set("idle", "You are live: the check waits until the show ends.")
            return False
        if self.show is not None:  # the Go Live tab's preview lets go of the devices
            await self.show.stop_preview()
        self._set("starting", "Opening the sources…")
        options = sources.check_options(record)
        try:
            await self.session.start(options)
        except LiveError as exc:
            self._set("failed", str(exc))
            return False
        self._set(state, message)
        return True

    async def stop(self) -> None:
        """Close the sources and stop any playback (idempotent)."""
        self._generation += 1
        self._sound.stop()
        self._picture.stop()
        if self._work is not None and not self._work.done():
            self._work.cancel()
        self._sound_state = "stopped"
        await self.session.stop()
        self.meters = None
        if self.state in ("previewing", "recording", "playing", "starting"):
            self._set("recorded" if self.recorded else "idle")


class _FramePlayer(PlayerThread):
    """Decodes a recording's pictures in a thread at their own pace; `frame` is the latest."""

    def __init__(self) -> None:
        super().__init__()
        self.frame: np.ndarray | None = None

    def _run(self, source: str) -> None:
        width, height = PREVIEW_SIZE
        try:
            with av.open(source) as container:
                if not container.streams.video:
                    return
                started = time.monotonic()
                for frame in container.decode(video=0):
                    wait = started + float(frame.time or 0.0) - time.monotonic()
                    if self._stop.wait(max(0.0, wait)):
                        return
                    self.frame = frame.reformat(
                        width=width, height=height, format="rgb24"
                    ).to_ndarray()
        except (av.FFmpegError, OSError) as exc:
            log.warning("the test recording's picture cannot be shown: %s", exc)
