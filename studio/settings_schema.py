"""Every setting the studio reads, with its type, range and validator (Qt-free).

The Settings window, `harmonie-studio settings` and the tests all go through this one
description: a value is parsed from what a person typed, refused with a reason when it is
wrong (never written), and written to the TOML under its dotted key. A key left empty is
removed from the file, so the built-in default applies again. The TOML stays the storage:
editing it by hand keeps working, and what the window shows is read back from it.

Per-profile keys (`profiles.<name>.backend_url`, ...) are the same overrides a custom profile
file holds; `fields_for(profile)` names them for the profile the studio runs on.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from studio.live.global_hotkeys import DEFAULT_MODIFIERS, check_modifiers
from studio.profiles import BUILTIN_PROFILES, EMBEDDED
from studio.settings import Settings

GROUPS = (
    "Profile and servers", "Video", "Audio", "Recording", "Wallet", "Alerts",
    "Sales and subscriptions", "Restream", "Advanced",
)  # fmt: skip
RESTART_NOTE = "restart needed"
NEXT_SHOW_NOTE = "applies at the next Go Live"

# Keys the studio writes itself and nobody types: the window's geometry and dock layout.
INTERNAL_KEYS = frozenset({"window"})


class InvalidSetting(ValueError):
    """A value a setting cannot take; str() is the reason, in words for the person typing."""


Parser = Callable[[str], Any]
Formatter = Callable[[Any], str]


@dataclass(frozen=True)
class Field:
    key: str  # dotted path in the TOML, e.g. "video.fps"
    label: str
    group: str
    kind: (
        str  # text | url | int | float | decimal | bool | choice | address | path | list | mapping
    )
    default: Any = None  # what applies when the key is absent (None: nothing / built in)
    help: str = ""
    restart: bool = True  # False: applied without restarting (see `applies`)
    applies: str = RESTART_NOTE
    example: str = ""  # a valid value, shown as the field's placeholder
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    schemes: tuple[str, ...] = ("http", "https")
    allow_embedded: bool = False  # "embedded": the local backend's own service
    check: Callable[[Any], str | None] | None = None  # extra rule: a reason, or None

    def parse(self, text: str) -> Any:
        """The typed value of `text`; None for an empty field (the default applies).

        Raises InvalidSetting with the reason."""
        text = text.strip()
        if text == "":
            return None
        value = _PARSERS[self.kind](self, text)
        if self.check is not None:
            reason = self.check(value)
            if reason:
                raise InvalidSetting(reason)
        return value

    def format(self, value: Any) -> str:
        """How `value` (as the TOML holds it) reads in the field; "" for absent."""
        if value is None:
            return ""
        if self.kind == "bool" and isinstance(value, bool):
            return "true" if value else "false"
        if self.kind == "list":
            return (
                ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
            )
        if self.kind == "mapping":
            if isinstance(value, dict):
                return ", ".join(f"{k}={v}" for k, v in value.items())
            return str(value)
        return str(value)

    def read(self, settings: Settings) -> Any:
        return settings.get_path(self.key)

    def write(self, settings: Settings, value: Any) -> None:
        settings.set_path(self.key, value)


# ---- parsers -------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return str(int(value)) if value is not None and float(value).is_integer() else str(value)


def _number(field: Field, text: str, kind: type[Any]) -> Any:
    """`text` as an int, float or Decimal within the field's range; InvalidSetting otherwise."""
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(text.replace("_", "") if kind is int else text)
    except (ValueError, InvalidOperation):
        raise InvalidSetting(f"'{text}' is not {what}.") from None
    if kind is not int and not Decimal(value).is_finite():
        raise InvalidSetting(f"'{text}' is not {what}.")
    low, high = field.minimum, field.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            raise InvalidSetting(f"It must be at least {_num(low)}.")
        raise InvalidSetting(f"It must be between {_num(low)} and {_num(high)}.")
    return value


def _parse_int(field: Field, text: str) -> int:
    return int(_number(field, text, int))


def _parse_float(field: Field, text: str) -> float:
    return float(_number(field, text, float))


def _parse_decimal(field: Field, text: str) -> str:
    """Kept as a string in the TOML: a rate like 0.85 stays exactly 0.85."""
    return str(_number(field, text, Decimal))


def _parse_bool(field: Field, text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "on", "1"):
        return True
    if lowered in ("false", "no", "off", "0"):
        return False
    raise InvalidSetting(f"'{text}' is not yes or no (true / false).")


def _parse_choice(field: Field, text: str) -> str:
    if text not in field.choices:
        raise InvalidSetting(f"Choose one of {', '.join(field.choices)}.")
    return text


def _parse_text(field: Field, text: str) -> str:
    if any(ord(c) < 32 for c in text):
        raise InvalidSetting("Use one line without control characters.")
    if field.maximum is not None and len(text) > field.maximum:
        raise InvalidSetting(f"At most {int(field.maximum)} characters.")
    return text


def check_url(text: str, schemes: Iterable[str] = ("http", "https")) -> str:
    """`text` if it is an absolute URL with one of `schemes` (and a host for http); else
    InvalidSetting."""
    schemes = tuple(schemes)
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise InvalidSetting(f"'{text}' is not a valid URL ({exc}).") from None
    if parts.scheme not in schemes:
        raise InvalidSetting(f"Use a URL that starts with {' or '.join(s + ':' for s in schemes)}")
    if parts.scheme in ("http", "https") and not parts.hostname:
        raise InvalidSetting(f"'{text}' has no host name.")
    if any(c.isspace() for c in text):
        raise InvalidSetting("A URL has no spaces.")
    return text


def _parse_url(field: Field, text: str) -> str:
    if field.allow_embedded and text == EMBEDDED:
        return text
    return check_url(text, field.schemes)


def _parse_address(field: Field, text: str) -> str:
    if not re.fullmatch(r"0x[0-9a-fA-F]{40}", text):
        raise InvalidSetting("An address is 0x followed by 40 hexadecimal digits.")
    from eth_utils import is_checksum_address, to_checksum_address

    if text != text.lower() and not is_checksum_address(text):
        raise InvalidSetting("This address's capital letters do not match (a typo?).")
    return str(to_checksum_address(text))


def _parse_path(field: Field, text: str) -> str:
    path = Path(text).expanduser()
    if not path.is_absolute():
        raise InvalidSetting("Give a full path (starting with / or ~).")
    if path.exists() and not path.is_dir():
        raise InvalidSetting(f"{path} is a file, not a folder.")
    return text


def _parse_list(field: Field, text: str) -> list[str]:
    items = [item.strip() for item in text.replace("\n", ",").split(",") if item.strip()]
    for item in items:
        check_url(item, field.schemes)
    return items


def _parse_mapping(field: Field, text: str) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in (i.strip() for i in text.replace("\n", ",").split(",")):
        if not item:
            continue
        name, sep, address = (part.strip() for part in item.partition("="))
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise InvalidSetting(f"'{item}': write name=0x… (e.g. registry=0x12…).")
        try:
            mapping[name] = _parse_address(field, address)
        except InvalidSetting as exc:
            raise InvalidSetting(f"{name}: {exc}") from None
    return mapping


_PARSERS: dict[str, Callable[[Field, str], Any]] = {
    "text": _parse_text,
    "url": _parse_url,
    "int": _parse_int,
    "float": _parse_float,
    "decimal": _parse_decimal,
    "bool": _parse_bool,
    "choice": _parse_choice,
    "address": _parse_address,
    "path": _parse_path,
    "list": _parse_list,
    "mapping": _parse_mapping,
}


def _even(value: int) -> str | None:
    return "The encoder needs an even number of pixels." if value % 2 else None


def _profile_name(value: str) -> str | None:
    if value in BUILTIN_PROFILES:
        return None
    if value.endswith(".toml"):
        path = Path(value).expanduser()
        return None if path.is_file() else f"The profile file {path} does not exist."
    return f"Choose {', '.join(BUILTIN_PROFILES)}, or the path of a profile .toml file."


def _positive(value: str) -> str | None:
    return None if Decimal(value) > 0 else "It must be more than 0."


def _currency(value: str) -> str | None:
    return None if re.fullmatch(r"[A-Za-z]{3,8}", value) else "A currency code such as EUR."


def _rtmp_host(value: str) -> str | None:
    return None if urlsplit(value).hostname else f"'{value}' has no host name."


@dataclass(frozen=True)
class RestreamService:
    id: str  # settings key segment and keyring entry
    label: str  # what the artist reads; the destination's name
    default_url: str  # "" for a custom server


RESTREAM_SERVICES = (
    RestreamService("youtube", "YouTube", "rtmp://a.rtmp.youtube.com/live2"),
    RestreamService("twitch", "Twitch", "rtmp://live.twitch.tv/app"),
    RestreamService("custom", "Custom", ""),
)


def _restream_fields() -> tuple[Field, ...]:
    """Per destination: on by default at Go Live, and its server URL. The stream keys are
    not settings: they go to the system keyring from the Go Live panel."""
    fields: list[Field] = []
    for service in RESTREAM_SERVICES:
        base = f"restream.{service.id}"
        fields.append(Field(
            f"{base}.enabled", f"Restream to {service.label}", GROUPS[7], "bool", False,
            example="false", help="Ticked in Go Live at each show (you can untick it there).",
            **_LIVE))  # fmt: skip
        fields.append(Field(
            f"{base}.url", f"{service.label} server", GROUPS[7], "url",
            service.default_url or None, schemes=("rtmp", "rtmps"), check=_rtmp_host,
            example=service.default_url or "rtmp://live.example.org/app",
            help="The RTMP(S) URL without the stream key.", **_LIVE))  # fmt: skip
    return tuple(fields)


# ---- the settings --------------------------------------------------------------------------

_LIVE = {"restart": False, "applies": NEXT_SHOW_NOTE}

GLOBAL_FIELDS: tuple[Field, ...] = (
    # Profile and servers
    Field("profile", "Profile", GROUPS[0], "text", "local", check=_profile_name,
          example="local",
          help="local (everything on this computer), testnet, mainnet, or a profile .toml."),
    Field("artist_name", "Artist name", GROUPS[0], "text", maximum=64, example="Nina Blue",
          help="The name fans see on your shows and tracks."),
    Field("whip_url", "Ingest (WHIP) URL", GROUPS[0], "url", example="https://live.example.org/whip/live",
          help="Where Go Live sends the show. Empty: the backend's own ingest."),
    Field("ipfs_api_url", "IPFS API (every profile)", GROUPS[0], "url",
          example="http://127.0.0.1:5001",
          help="A Kubo RPC API; overrides the profile's IPFS API when set."),
    Field("ipfs_gateway_url", "IPFS gateway", GROUPS[0], "url", example="https://ipfs.io",
          help="Where 'Open in gateway' and fans fetch your tracks."),
    # Video: read at each Go Live
    Field("video.width", "Width (pixels)", GROUPS[1], "int", 1280, minimum=160, maximum=3840,
          check=_even, example="1280", **_LIVE),
    Field("video.height", "Height (pixels)", GROUPS[1], "int", 720, minimum=90, maximum=2160,
          check=_even, example="720", **_LIVE),
    Field("video.fps", "Frames per second", GROUPS[1], "int", 30, minimum=1, maximum=60,
          example="30", **_LIVE),
    Field("video.bitrate_kbps", "Video bitrate (kbit/s)", GROUPS[1], "int", 2500, minimum=100,
          maximum=50_000, example="2500", **_LIVE),
    Field("video.keyframe_interval_s", "Keyframe every (seconds)", GROUPS[1], "float", 2.0,
          minimum=0.5, maximum=10, example="2", **_LIVE),
    Field("video.codec", "Codec", GROUPS[1], "choice", "vp8", choices=("vp8", "h264"),
          example="vp8", help="The codec Go Live starts with (its Codec list can change it)."),
    Field("video.auto_step_down", "Step down automatically", GROUPS[1], "bool", False,
          example="false",
          help="When your computer or network cannot keep up during a show, lower the "
               "resolution (1080p, 720p, 540p, 360p) or the bitrate, and say so. Off: the "
               "Stats dock only warns.", **_LIVE),
    Field("hotkeys.scenes", "Scene hotkeys (any window)", GROUPS[1], "text", DEFAULT_MODIFIERS,
          check=check_modifiers, example="Ctrl+Alt",
          help="These keys with 1…9 put scenes 1…9 on the air from any window (an X11 "
               "session; not on Wayland). off: only Ctrl+1…9 in the studio's window."),
    # Audio
    Field("audio.bitrate_kbps", "Audio bitrate (kbit/s)", GROUPS[2], "int", 128, minimum=16,
          maximum=510, example="128", **_LIVE),
    Field("rendition_format", "Streaming copy of tracks", GROUPS[2], "choice", "opus",
          choices=("opus", "mp3", "none"), example="opus",
          help="The lighter copy fans stream when you publish a track."),
    # Recording
    Field("recording.enabled", "Record every show", GROUPS[3], "bool", True, example="true",
          help="Keep a local copy of each show."),
    Field("recording.folder", "Recording folder", GROUPS[3], "path", example="~/Videos",
          help="Where shows are recorded (harmonie-live.mkv). Empty: your home folder."),
    # Wallet
    Field("wallet_address", "Wallet to open", GROUPS[4], "address",
          example="0x0000000000000000000000000000000000000001",
          help="The wallet the studio selects at start (set when you pick one)."),
    Field("tips.fiat_per_coin", "Value of one coin", GROUPS[4], "decimal", check=_positive,
          example="0.85", help="Your own rate, to show tips and fees in money too. Empty: none."),
    Field("tips.fiat_currency", "Currency", GROUPS[4], "text", "USD", check=_currency,
          example="EUR"),
    # Sales and subscriptions (the supporter tiers live on chain: their editor is on this page)
    Field("mint_nft", "Mint an NFT edition per track", GROUPS[6], "bool", False,
          example="false"),
    Field("nft_royalty_bps", "NFT royalty (basis points)", GROUPS[6], "int", 1000, minimum=0,
          maximum=5_000, example="1000",
          help="1000 = 10 % of each resale; also Mint as NFT's starting royalty (at most 50 %)."),
    # Alerts
    Field("tip_sound", "Play a sound for each tip", GROUPS[5], "bool", True, example="true"),
    Field("tip_overlay", "Show tips in the live picture", GROUPS[5], "bool", True,
          example="true"),
    # Advanced
    Field("error_reports_dsn", "Send error reports to (Sentry DSN)", GROUPS[-1], "url",
          example="https://public@sentry.example.org/1",
          help="Off when empty. Reports leave without keys, passwords, tokens, recovery "
               "phrases or addresses."),
    # Restream
    *_restream_fields(),
)  # fmt: skip


def profile_fields(profile: str) -> tuple[Field, ...]:
    """The overrides of `profile` (the keys a profile file holds), under profiles.<profile>."""
    base = f"profiles.{_toml_key(profile)}"
    return (
        Field(f"{base}.backend_url", "Backend URL", GROUPS[0], "url", allow_embedded=True,
              example="https://harmonie.example.org",
              help="The hosted backend; 'embedded': the studio starts its own."),
        Field(f"{base}.ipfs_api_url", "IPFS API (this profile)", GROUPS[0], "url",
              allow_embedded=True, example="http://127.0.0.1:5001"),
        Field(f"{base}.ice_servers", "ICE servers", GROUPS[-1], "list",
              schemes=("stun", "turn", "turns"), example="stun:stun.example.org:3478",
              help="STUN/TURN servers for the live stream, separated by commas."),
        Field(f"{base}.chain.name", "Chain name", GROUPS[-1], "text", maximum=64,
              example="Core Testnet2"),
        Field(f"{base}.chain.rpc_url", "Chain RPC URL", GROUPS[-1], "url", allow_embedded=True,
              example="https://rpc.test2.btcs.network"),
        Field(f"{base}.chain.chain_id", "Chain id", GROUPS[-1], "int", minimum=1,
              maximum=2**53, example="1114"),
        Field(f"{base}.chain.explorer_url", "Explorer URL", GROUPS[-1], "url",
              example="https://scan.test2.btcs.network"),
        Field(f"{base}.chain.confirmations", "Confirmations to wait", GROUPS[-1], "int",
              minimum=0, maximum=100, example="3"),
        Field(f"{base}.chain.contracts", "Contract addresses", GROUPS[-1], "mapping",
              example="registry=0x0000000000000000000000000000000000000002",
              help="name=address pairs, separated by commas."),
    )  # fmt: skip


def fields_for(profile: str) -> tuple[Field, ...]:
    """Every setting for a studio running on `profile`, in page order."""
    every = GLOBAL_FIELDS + profile_fields(profile)
    return tuple(f for group in GROUPS for f in every if f.group == group)


def field_for_key(key: str, profile: str) -> Field:
    for field in fields_for(profile):
        if field.key == key:
            return field
    known = ", ".join(f.key for f in fields_for(profile))
    raise InvalidSetting(f"Unknown setting '{key}'. Known: {known}.")


def _toml_key(name: str) -> str:
    """A profile name as one dotted-path segment (a profile file's path holds dots)."""
    return name.replace(".", "\\.")


def live_overrides(settings: Settings) -> dict[str, Any]:
    """LiveOptions fields from the Video and Audio settings (only those set; the codec is the
    Go Live panel's own choice, which starts from video.codec)."""
    out: dict[str, Any] = {}
    for key, option, scale in (
        ("video.width", "width", 1), ("video.height", "height", 1), ("video.fps", "fps", 1),
        ("video.bitrate_kbps", "video_bitrate", 1000),
        ("video.keyframe_interval_s", "keyframe_interval_s", 1),
        ("video.auto_step_down", "auto_step_down", 1),
        ("audio.bitrate_kbps", "audio_bitrate", 1000),
    ):  # fmt: skip
        value = valid_value(settings, key)
        if value is not None:
            out[option] = value * scale if scale != 1 else value
    return out


def recording_defaults(settings: Settings) -> tuple[bool, Path]:
    """(record every show, the recording file) from the Recording settings."""
    enabled = valid_value(settings, "recording.enabled")
    folder = valid_value(settings, "recording.folder")
    base = Path(folder).expanduser() if folder else Path.home()
    return (True if enabled is None else bool(enabled)), base / "harmonie-live.mkv"


def valid_value(settings: Settings, key: str) -> Any:
    """The typed value at `key` when it passes its field's checks (a hand-edited TOML may not);
    None otherwise, so the default applies."""
    field = next(f for f in GLOBAL_FIELDS if f.key == key)
    value = settings.get_path(key)
    if value is None:
        return None
    try:
        return field.parse(field.format(value))
    except InvalidSetting:
        return None
