"""What a show captures and where it goes (`LiveOptions`), and opening its sources.

Source specs are strings a person can type; the Go Live panel offers what
`available_video_sources()` and `available_audio_sources()` find.
"""

import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from media.rtmp_output import RtmpDestination
from media.scenes import Layout, SceneSet
from media.sources import (
    AudioSource,
    CameraSource,
    MicrophoneSource,
    ScreenSource,
    VideoSource,
    list_cameras,
    list_microphones,
    pattern_source,
    tone_source,
)
from studio.errors import StudioError

log = logging.getLogger(__name__)

TOKEN_ENV = "HARMONIE_WHIP_TOKEN"


class LiveError(StudioError):
    """Going live cannot start: a device, a setting or the recording target is wrong."""


@dataclass
class LiveOptions:
    """What to capture and where it goes. Source specs are strings a person can type:

    video / overlay: "testsrc", "screen[:DISPLAY]", "camera[:/dev/videoN]", "none"
    audio: "tone[:HZ]", "mic[:DEVICE]", "none" (several may be mixed)
    """

    video: str = "testsrc"
    overlay: str = "none"
    audio: list[str] = field(default_factory=lambda: ["tone"])
    layout: Layout = Layout.PIP  # without scenes: how video and overlay show
    # The scenes the picture is composed of (media.scenes); None: `layout`'s one scene.
    scenes: SceneSet | None = None
    width: int = 1280
    height: int = 720
    fps: int = 30
    video_codec: str = "vp8"
    video_bitrate: int = 2_500_000
    audio_bitrate: int = 128_000
    keyframe_interval_s: float = 2.0
    record_path: Path | None = None
    whip_url: str | None = None
    # The stream key, or an async callable returning a fresh one for each WHIP request (the
    # backend's short-lived access token). Never logged.
    whip_token: "str | Callable[[], Awaitable[str | None]] | None" = field(default=None, repr=False)
    title: str = ""
    # RTMP(S) restream destinations switched on for this show (an empty key: the one saved
    # in the keyring; studio.live.restream).
    restream: list[RtmpDestination] = field(default_factory=list)
    # The artist lets the studio lower the resolution or bitrate when the computer or the
    # network cannot keep up (studio.live.stepdown); off: the Stats dock only warns.
    auto_step_down: bool = False


def open_video_source(spec: str, opts: LiveOptions) -> VideoSource | None:
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("", "none"):
        return None
    if kind in ("testsrc", "test", "pattern"):
        return pattern_source(opts.width, opts.height, opts.fps)
    if kind == "camera":
        return CameraSource(arg or "/dev/video0", opts.width, opts.height, opts.fps)
    if kind == "screen":
        return ScreenSource(arg or None, fps=opts.fps)
    raise LiveError(f"Unknown video source '{spec}': use testsrc, screen, camera or none.")


def open_audio_source(spec: str) -> AudioSource | None:
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("", "none"):
        return None
    if kind == "tone":
        try:
            frequency = float(arg) if arg else 440.0
        except ValueError:
            raise LiveError(f"'{arg}' is not a tone frequency in Hz.") from None
        return tone_source(frequency, -20.0)
    if kind in ("mic", "microphone"):
        return MicrophoneSource(arg or None, channels=2)
    raise LiveError(f"Unknown audio source '{spec}': use tone, mic or none.")


def available_video_sources() -> list[tuple[str, str]]:
    """(spec, label) pairs for the video pickers; cameras only when there are some."""
    choices = [("testsrc", "Test pattern")]
    if os.environ.get("DISPLAY"):
        choices.append(("screen", f"Screen ({os.environ['DISPLAY']})"))
    choices += [(f"camera:{d.id}", d.label) for d in list_cameras()]
    return choices


def available_audio_sources(refresh: bool = False) -> list[tuple[str, str]]:
    """(spec, label) pairs for the audio picker; `refresh` re-scans sound devices."""
    try:
        microphones = list_microphones(refresh=refresh)
    except Exception as exc:  # PortAudio missing or broken: say so in the log, offer the tone
        log.warning("cannot list microphones: %s", exc)
        microphones = []
    return [("tone", "Test tone (440 Hz)")] + [
        (f"mic:{d.id}", f"Microphone: {d.label}") for d in microphones
    ]


def whip_token_from_env() -> str | None:
    return os.environ.get(TOKEN_ENV) or None
