"""The artist's alert rules, kept in the settings TOML under `[alerts]`.

    [alerts]
    min_amount = "0.01"            # coins; tips below it join the feed but play no alert
    message_min_amount = "0"       # the fan's message is shown from this amount
    moderation_delay_s = 0         # 0-30: an alert waits this long, and can be dropped meanwhile
    blocked_words = ["badword"]    # masked in shown messages; a message holding one is never spoken

    [[alerts.tiers]]               # by amount range [min_amount, max_amount); no overlaps
    min_amount = "0"
    max_amount = "1"               # omitted: no upper bound
    sound = ""                     # an audio file; "" = the built-in chime
    volume = 0.35                  # 0-1
    image = ""                     # an image or animated GIF shown with the alert
    duration_s = 5
    template = "{fan} tipped {amount}"

    [alerts.largest]               # the largest tip of this show so far (a tier of its own)
    enabled = true
    ...same keys as a tier, without the amounts

    [alerts.tts]                   # speech of the fan's message (espeak-ng), off by default
    enabled = false
    min_amount = "1"
    max_chars = 200
    voice = "en"

Every value is checked when read: `AlertRules.from_settings` raises `RulesError` with a reason
a person can act on, so a bad value is refused before it is written (`save_rules`).
"""

import itertools
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from studio.tips.format import WEI_DECIMALS, format_amount

SECTION = "alerts"
MAX_MODERATION_DELAY_S = 30
MAX_DURATION_S = 60.0
MAX_TEMPLATE_CHARS = 200
MAX_BLOCKED_WORDS = 500
MAX_TTS_CHARS = 500
TEMPLATE_FIELDS = ("fan", "amount", "fiat", "message")
DEFAULT_TEMPLATE = "{fan} tipped {amount}"
_VOICE = re.compile(r"^[A-Za-z0-9_+-]{1,32}$")


class RulesError(ValueError):
    """A rule that cannot be used; the message says which and why."""


def parse_amount(value: Any, what: str) -> int:
    """An amount in whole coins ("0.5", 2, 0.25) -> wei; RulesError if it is not one."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RulesError(f'{what} must be an amount in coins, like "0.5"')
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise RulesError(f'{what} must be an amount in coins, like "0.5" (got {value!r})') from None
    if not amount.is_finite() or amount < 0:
        raise RulesError(f"{what} must be zero or more (got {value!r})")
    wei = amount * 10**WEI_DECIMALS
    if wei != wei.to_integral_value():
        raise RulesError(f"{what} has more than {WEI_DECIMALS} decimals")
    return int(wei)


def amount_text(wei: int) -> str:
    """wei -> the plain coin text the TOML keeps ("0.5"), without thousands separators."""
    return format_amount(wei).replace(",", "")


def _number(value: Any, what: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RulesError(f"{what} must be a number from {low:g} to {high:g}")
    if not low <= float(value) <= high:
        raise RulesError(f"{what} must be from {low:g} to {high:g} (got {value!r})")
    return float(value)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise RulesError(f"{what} must be text")
    return value.strip()


def check_template(template: str, what: str) -> str:
    if not template:
        raise RulesError(f"{what} is empty")
    if len(template) > MAX_TEMPLATE_CHARS:
        raise RulesError(f"{what} is longer than {MAX_TEMPLATE_CHARS} characters")
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise RulesError(
            f"{what} is not a valid template ({exc}); write {{fan}}, {{amount}}"
        ) from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in TEMPLATE_FIELDS or spec or conversion:
            allowed = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            raise RulesError(f"{what} uses {{{name}}}; only {allowed} can be used")
    return template


def _file(value: Any, what: str) -> str:
    path = _text(value, what)
    if path and not Path(path).expanduser().is_file():
        raise RulesError(f"{what}: no file at {path}")
    return path


@dataclass(frozen=True)
class AlertLook:
    """How one alert plays: sound, image, how long, what it says."""

    sound: str = ""  # "" = the built-in chime
    volume: float = 0.35
    image: str = ""
    duration_s: float = 5.0
    template: str = DEFAULT_TEMPLATE

    @classmethod
    def parse(cls, data: Mapping[str, Any], what: str) -> "AlertLook":
        base = cls()
        return cls(
            sound=_file(data.get("sound", base.sound), f"{what}: sound"),
            volume=_number(data.get("volume", base.volume), f"{what}: volume", 0, 1),
            image=_file(data.get("image", base.image), f"{what}: image"),
            duration_s=_number(
                data.get("duration_s", base.duration_s), f"{what}: duration", 0.5, MAX_DURATION_S
            ),
            template=check_template(
                _text(data.get("template", base.template), f"{what}: text"), f"{what}: text"
            ),
        )

    def to_toml(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(AlertLook)}

    def render(self, values: Mapping[str, str]) -> str:
        return self.template.format_map({k: values.get(k, "") for k in TEMPLATE_FIELDS}).strip()


@dataclass(frozen=True)
class Tier:
    min_wei: int
    max_wei: int | None  # exclusive; None = no upper bound
    look: AlertLook = field(default_factory=AlertLook)

    def holds(self, wei: int) -> bool:
        return wei >= self.min_wei and (self.max_wei is None or wei < self.max_wei)

    def to_toml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"min_amount": amount_text(self.min_wei)}
        if self.max_wei is not None:
            data["max_amount"] = amount_text(self.max_wei)
        return {**data, **self.look.to_toml()}


@dataclass(frozen=True)
class SpeechRules:
    enabled: bool = False
    min_wei: int = 10**WEI_DECIMALS
    max_chars: int = 200
    voice: str = "en"

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> "SpeechRules":
        base = cls()
        enabled = data.get("enabled", base.enabled)
        if not isinstance(enabled, bool):
            raise RulesError("text-to-speech: enabled must be true or false")
        max_chars = data.get("max_chars", base.max_chars)
        if isinstance(max_chars, bool) or not isinstance(max_chars, int):
            raise RulesError("text-to-speech: maximum length must be a whole number")
        if not 1 <= max_chars <= MAX_TTS_CHARS:
            raise RulesError(f"text-to-speech: maximum length must be from 1 to {MAX_TTS_CHARS}")
        voice = _text(data.get("voice", base.voice), "text-to-speech: voice")
        if not _VOICE.match(voice):
            raise RulesError(f"text-to-speech: {voice!r} is not a voice name (like en or en-us)")
        return cls(
            enabled=enabled,
            min_wei=parse_amount(
                data.get("min_amount", amount_text(base.min_wei)), "text-to-speech: minimum"
            ),
            max_chars=max_chars,
            voice=voice,
        )

    def to_toml(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "min_amount": amount_text(self.min_wei),
            "max_chars": self.max_chars,
            "voice": self.voice,
        }


@dataclass(frozen=True)
class AlertRules:
    min_wei: int = 0
    message_min_wei: int = 0
    moderation_delay_s: float = 0.0
    blocked_words: tuple[str, ...] = ()
    tiers: tuple[Tier, ...] = ()
    default_look: AlertLook = field(default_factory=AlertLook)
    largest_enabled: bool = False
    largest: AlertLook = field(default_factory=lambda: AlertLook(duration_s=8.0))
    tts: SpeechRules = field(default_factory=SpeechRules)

    @classmethod
    def parse(cls, data: Any) -> "AlertRules":
        """The `[alerts]` table -> rules; RulesError naming the first bad value."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise RulesError("[alerts] must be a table")
        delay = _number(
            data.get("moderation_delay_s", 0), "moderation delay", 0, MAX_MODERATION_DELAY_S
        )
        words = data.get("blocked_words", [])
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise RulesError("blocked words must be a list of words")
        cleaned = tuple(dict.fromkeys(w.strip().casefold() for w in words if w.strip()))
        if len(cleaned) > MAX_BLOCKED_WORDS:
            raise RulesError(f"at most {MAX_BLOCKED_WORDS} blocked words")
        raw_tiers = data.get("tiers", [])
        if not isinstance(raw_tiers, list) or not all(isinstance(t, Mapping) for t in raw_tiers):
            raise RulesError("tiers must be a list of tables ([[alerts.tiers]])")
        tiers = tuple(_parse_tier(t, i + 1) for i, t in enumerate(raw_tiers))
        _check_overlaps(tiers)
        largest = data.get("largest", {})
        if not isinstance(largest, Mapping):
            raise RulesError("[alerts.largest] must be a table")
        largest_enabled = largest.get("enabled", False)
        if not isinstance(largest_enabled, bool):
            raise RulesError("largest tip: enabled must be true or false")
        tts = data.get("tts", {})
        if not isinstance(tts, Mapping):
            raise RulesError("[alerts.tts] must be a table")
        default = data.get("default", {})
        if not isinstance(default, Mapping):
            raise RulesError("[alerts.default] must be a table")
        return cls(
            min_wei=parse_amount(data.get("min_amount", "0"), "minimum amount to alert"),
            message_min_wei=parse_amount(
                data.get("message_min_amount", "0"), "minimum amount to show the message"
            ),
            moderation_delay_s=delay,
            blocked_words=cleaned,
            tiers=tiers,
            default_look=AlertLook.parse(default, "default alert"),
            largest_enabled=largest_enabled,
            largest=AlertLook.parse(
                {"duration_s": cls().largest.duration_s, **largest}, "largest tip"
            ),
            tts=SpeechRules.parse(tts),
        )

    @classmethod
    def from_settings(cls, settings: Any) -> "AlertRules":
        return cls.parse(settings.get(SECTION))

    def to_toml(self) -> dict[str, Any]:
        return {
            "min_amount": amount_text(self.min_wei),
            "message_min_amount": amount_text(self.message_min_wei),
            "moderation_delay_s": self.moderation_delay_s,
            "blocked_words": list(self.blocked_words),
            "tiers": [t.to_toml() for t in self.tiers],
            "default": self.default_look.to_toml(),
            "largest": {"enabled": self.largest_enabled, **self.largest.to_toml()},
            "tts": self.tts.to_toml(),
        }

    def look_for(self, wei: int, largest_of_show: bool) -> tuple[str, AlertLook]:
        """(the tier's name, its look) for a tip of `wei`."""
        if largest_of_show and self.largest_enabled:
            return "largest", self.largest
        for index, tier in enumerate(self.tiers):
            if tier.holds(wei):
                return f"tier {index + 1}", tier.look
        return "default", self.default_look

    def with_changes(self, **changes: Any) -> "AlertRules":
        return replace(self, **changes)


def _parse_tier(data: Mapping[str, Any], number: int) -> Tier:
    what = f"tier {number}"
    low = parse_amount(data.get("min_amount", "0"), f"{what}: from")
    high_raw = data.get("max_amount")
    high = None if high_raw in (None, "") else parse_amount(high_raw, f"{what}: up to")
    if high is not None and high <= low:
        raise RulesError(f"{what}: 'up to' must be more than 'from'")
    return Tier(low, high, AlertLook.parse(data, what))


def _check_overlaps(tiers: tuple[Tier, ...]) -> None:
    ordered = sorted(enumerate(tiers, 1), key=lambda item: item[1].min_wei)
    for (a_no, a), (b_no, b) in itertools.pairwise(ordered):
        if a.max_wei is None or a.max_wei > b.min_wei:
            raise RulesError(f"tiers {a_no} and {b_no} overlap: each amount must fit one tier")


def save_rules(settings: Any, rules: AlertRules) -> None:
    """Check the rules as they would be read back, then write them; RulesError writes nothing."""
    data = rules.to_toml()
    AlertRules.parse(data)
    if getattr(settings, "read_only", False):
        raise RulesError("the settings file could not be read, so it is not overwritten")
    settings.set(SECTION, data)
    settings.save()


_WORD_CHARS = r"[\w']"


def mask_blocked(text: str, blocked: tuple[str, ...]) -> tuple[str, bool]:
    """(text with each blocked word or phrase starred, whether any was found); case-insensitive,
    whole words only (a blocked "ass" leaves "class" alone)."""
    found = False
    for word in blocked:
        pattern = re.compile(
            rf"(?<!{_WORD_CHARS}){re.escape(word)}(?!{_WORD_CHARS})", re.IGNORECASE
        )
        text, count = pattern.subn(lambda m: "*" * len(m.group(0)), text)
        found = found or count > 0
    return text, found
