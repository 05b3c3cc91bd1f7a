"""Opt-in error reports through sentry-sdk to a DSN the operator (or the artist) sets.

Off unless a DSN is given. Stack frames are sent without their variables. Every event and
breadcrumb goes through `scrub` before it leaves:
values under secret-sounding keys are dropped, and wallet keys, JWTs, bearer tokens, long
random tokens, recovery phrases (BIP-39 runs), wallet and email addresses and URL passwords
are cut out of every string, messages, log records and breadcrumbs included. The studio uses the
same function (studio.core), so one scrubber guards both.
"""

import re
from functools import cache
from typing import Any

FILTERED = "[Filtered]"

_SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[_-]?key|private|^key$|_key$|keystore|mnemonic|"
    r"seed|phrase|authorization|cookie|jwt|dsn|signature|credential|email|^address$|wallet",
    re.IGNORECASE,
)
_SECRET_NAME = r"(?:pass(?:word|wd|phrase)?|secret|token|api[_-]?key|private[_-]?key|mnemonic|seed)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # `password: "..."`, `"token": '...'`, `secret=...` inside text (JSON, argv, query strings)
    (re.compile(rf"""(?i)(\w*{_SECRET_NAME}\w*["']?\s*[:=]\s*)(["'])(.*?)\2"""),
     r"\1\2" + FILTERED + r"\2"),
    (re.compile(rf"""(?i)(\w*{_SECRET_NAME}\w*\s*[:=]\s*)([^\s"',;&]+)"""), r"\1" + FILTERED),
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), FILTERED),  # JWT
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + FILTERED),
    (re.compile(r"(?i)\b(0x)?[0-9a-f]{64}\b"), FILTERED),  # private keys (and hashes)
    (re.compile(r"(?i)\b0x[0-9a-f]{40}\b"), FILTERED),  # wallet addresses
    # email addresses
    (re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"), FILTERED),
    (re.compile(r"(://)[^/\s:@]+:[^/\s@]+@"), r"\1" + FILTERED + "@"),  # URL user:password
    # random tokens (token_urlsafe, API keys): long, with upper and lower case and a digit
    (re.compile(r"\b(?=[A-Za-z0-9_-]*[A-Z])(?=[A-Za-z0-9_-]*[a-z])(?=[A-Za-z0-9_-]*\d)"
                r"[A-Za-z0-9_-]{24,}\b"), FILTERED),
)  # fmt: skip
_WORDS = re.compile(r"[a-z]+(?:[\s,]+[a-z]+){11,}")
PHRASE_MIN_WORDS = 12


@cache
def _bip39_words() -> frozenset[str]:
    from eth_account.hdaccount.mnemonic import Mnemonic
    from eth_account.types import Language

    return frozenset(Mnemonic(Language.ENGLISH).wordlist)


def _cut_phrases(text: str) -> str:
    """Replace every run of 12 or more BIP-39 words (a recovery phrase) with FILTERED."""

    def runs(match: re.Match[str]) -> str:
        words = re.split(r"([\s,]+)", match.group(0))
        known = _bip39_words()
        out: list[str] = []
        run: list[str] = []
        for index in range(0, len(words), 2):
            word, gap = words[index], words[index + 1] if index + 1 < len(words) else ""
            if word in known:
                run.append(word + gap)
                continue
            out.append(FILTERED + " " if len(run) >= PHRASE_MIN_WORDS else "".join(run))
            run = []
            out.append(word + gap)
        out.append(FILTERED if len(run) >= PHRASE_MIN_WORDS else "".join(run))
        return "".join(out)

    return _WORDS.sub(runs, text)


def scrub_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return _cut_phrases(text)


def scrub(value: Any) -> Any:
    """`value` with secrets removed: dicts by key and value, lists item by item, strings by
    pattern."""
    if isinstance(value, dict):
        return {
            key: FILTERED
            if isinstance(key, str)
            and _SECRET_KEY.search(key)
            and isinstance(item, str | bytes | int | float)
            else scrub(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    event.pop("user", None)
    event.pop("server_name", None)
    request = event.get("request")
    if isinstance(request, dict):
        for part in ("cookies", "data", "headers", "env"):
            request.pop(part, None)
    return scrub(event)  # type: ignore[no-any-return]


def _before_breadcrumb(crumb: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    return scrub(crumb)  # type: ignore[no-any-return]


def start_error_reports(dsn: str, *, component: str, release: str) -> bool:
    """Send errors to `dsn` from now on (nothing when `dsn` is empty). True when started."""
    if not dsn:
        return False
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        release=f"{component}@{release}",
        send_default_pii=False,
        # A frame's variables hold secrets no pattern can recognise (a driver's connection
        # parameters carry the bare database password): reports name the frames, not their values.
        include_local_variables=False,
        before_send=_before_send,  # type: ignore[arg-type]
        before_breadcrumb=_before_breadcrumb,  # type: ignore[arg-type]
        traces_sample_rate=0,
        server_name="",
    )
    sentry_sdk.set_tag("component", component)
    return True
