"""Restream a show to up to three RTMP(S) destinations (YouTube, Twitch, a custom server).

The server URLs and whether each is on by default are settings (`restream.<id>.*`); the
stream keys are secrets and live only in the OS keyring (`StreamKeyVault`), never in the
settings file or a log. A key typed in the Go Live panel is saved there when the show
starts; an empty key field means the saved one.

`attach_restream` hangs the restream on a show's pipeline: the show's own H.264 encoder when
it is H.264, else one extra H.264 encoder for all destinations; AAC from the program's
blocks (media.rtmp_output).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from chain.errors import KeyringUnavailableError
from chain.wallet import KeyringVault
from media.encoder import AudioSettings, VideoEncoder
from media.pipeline import LivePipeline
from media.rtmp_output import RtmpDestination, RtmpOutput, StateCallback, check_rtmp_url
from studio.settings import Settings
from studio.settings_schema import RESTREAM_SERVICES, RestreamService, valid_value

log = logging.getLogger(__name__)

KEYRING_SERVICE = "HarmonieCORE Studio restream keys"


BY_LABEL = {s.label: s for s in RESTREAM_SERVICES}


@dataclass(frozen=True)
class RestreamChoice:
    """A destination as the Go Live panel offers it: the settings' URL and default switch."""

    service: RestreamService
    url: str
    enabled: bool


def restream_choices(settings: Settings | None) -> list[RestreamChoice]:
    """The destinations to offer, with the URLs and default switches from the settings."""
    choices = []
    for service in RESTREAM_SERVICES:
        url = valid_value(settings, f"restream.{service.id}.url") if settings else None
        on = valid_value(settings, f"restream.{service.id}.enabled") if settings else None
        choices.append(RestreamChoice(service, url or service.default_url, bool(on)))
    return choices


@dataclass(frozen=True)
class StreamKeyVault(KeyringVault):
    """Stream keys in the OS keyring, one entry per service id."""

    service: str = KEYRING_SERVICE

    def key(self, service_id: str) -> str | None:
        return self._get(service_id)

    def save_key(self, service_id: str, key: str) -> None:
        self._set(service_id, key)


def with_stream_keys(
    destinations: Sequence[RtmpDestination], vault: StreamKeyVault
) -> tuple[list[RtmpDestination], list[str]]:
    """Each destination with its key: a typed one is saved to the keyring, a missing one is
    read from it. Returns the destinations ready to go and, for the others, why not (in
    words; a destination without its key is left out, the show goes on). Blocking: the
    keyring is D-Bus."""
    ready: list[RtmpDestination] = []
    problems: list[str] = []
    for destination in destinations:
        service = BY_LABEL.get(destination.name)
        try:
            check_rtmp_url(destination.url)
            if service is not None and destination.key:
                try:
                    vault.save_key(service.id, destination.key)
                except KeyringUnavailableError as exc:
                    problems.append(f"The {destination.name} key is used for this show only: {exc}")
            elif service is not None:
                saved = vault.key(service.id)
                if saved:
                    destination = replace(destination, key=saved)
                elif service.id != "custom":  # a custom URL may hold its key itself
                    raise ValueError("no stream key: paste it in Go Live (it is kept safe)")
        except (ValueError, KeyringUnavailableError) as exc:
            problems.append(f"Not restreaming to {destination.name}: {exc}")
            continue
        ready.append(destination)
    return ready, problems


def attach_restream(
    pipeline: LivePipeline,
    audio: AudioSettings,
    destinations: Sequence[RtmpDestination],
    on_state: StateCallback,
) -> RtmpOutput:
    """Start restreaming `pipeline`'s program to `destinations` (before or while it runs)."""
    video = pipeline.video_encoder
    if video is not None and video.codec_name != "h264":
        video = VideoEncoder(replace(video.settings, codec="h264"))
        pipeline.side_video_encoders.append(video)
    output = RtmpOutput(video, audio, destinations, on_state=on_state)
    pipeline.program_taps.append(output.feed_audio)
    return output
