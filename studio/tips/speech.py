"""Text-to-speech of a fan's message, offline, through espeak-ng (Debian package espeak-ng).

The espeak-ng command reads the text on its standard input (never as an argument, so a
message cannot pass options) without SSML (-m is never given), and plays it on the default
sound output through its audio library (PulseAudio where it runs). `speakable` keeps only the
words: markup, URLs, e-mail addresses and bare domains are removed before anything is said.
"""

import asyncio
import contextlib
import html
import logging
import re
import shutil

from studio.tips.format import clean_text

log = logging.getLogger(__name__)

ESPEAK = "espeak-ng"
SPEECH_TIMEOUT_S = 60.0

_TAG = re.compile(r"<[^>]*>?")
_URL = re.compile(r"\b(?:[a-z][a-z0-9+.-]*://|www\.)\S*", re.IGNORECASE)
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_DOMAIN = re.compile(
    r"\b(?:[a-z0-9-]+\.)+(?:[a-z]{2,24})(?::\d+)?(?:/\S*)?(?=\s|$|[,;!?)])", re.IGNORECASE
)
_MARKDOWN = re.compile(r"[*_`~#>|\[\]{}\\]+")
_SPACES = re.compile(r"\s+")


def speakable(message: str, max_chars: int) -> str | None:
    """The words of `message` worth saying, cut at a word within `max_chars`; None if none."""
    text = clean_text(message, keep_newlines=False)
    text = html.unescape(_TAG.sub(" ", text))
    text = _TAG.sub(" ", text)  # markup that was written escaped
    for pattern in (_URL, _EMAIL, _DOMAIN, _MARKDOWN):
        text = pattern.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    if len(text) > max_chars:
        cut = text[:max_chars]
        space = cut.rfind(" ")
        text = (cut[:space] if space > max_chars // 2 else cut).rstrip(" ,;:-")
    return text if any(c.isalnum() for c in text) else None


def available() -> bool:
    return shutil.which(ESPEAK) is not None


class Speaker:
    """Says one text at a time; a new text or `stop()` cuts the one being said."""

    def __init__(self, voice: str = "en", enabled: bool = True) -> None:
        self.voice = voice
        self.enabled = enabled
        self._process: asyncio.subprocess.Process | None = None
        self._warned = False

    @property
    def speaking(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def say(self, text: str) -> bool:
        """True if espeak-ng said all of it (False: disabled, missing, cut or failed)."""
        if not self.enabled or not text:
            return False
        binary = shutil.which(ESPEAK)
        if binary is None:
            if not self._warned:
                self._warned = True
                log.warning("text-to-speech is on but espeak-ng is not installed")
            return False
        await self.stop()
        process = await asyncio.create_subprocess_exec(
            binary, "-v", self.voice, "--stdin",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._process = process
        try:
            _out, err = await asyncio.wait_for(
                process.communicate(text.encode("utf-8")), SPEECH_TIMEOUT_S
            )
        except TimeoutError:
            await self.stop()
            return False
        except asyncio.CancelledError:  # the studio stops: no voice left behind
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
            raise
        finally:
            if self._process is process:
                self._process = None
        if process.returncode and process.returncode > 0:  # < 0: stopped (skip, mute)
            log.warning(
                "espeak-ng failed (%s): %s", process.returncode, err[-300:].decode(errors="replace")
            )
        return process.returncode == 0

    async def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(process.wait(), 5)
