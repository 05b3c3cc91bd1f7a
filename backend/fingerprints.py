"""Content checks on listing: is a new track another artist's recording?

Tracks arrive with their Chromaprint raw fingerprint (one 32-bit word per ~0.124 s). Two
fingerprints are compared the standard Chromaprint way: slide one over the other, and at each
offset count the differing bits (popcount of XOR) over the overlapping words; the lowest bit
error rate over all offsets is the score. The same recording, re-encoded at another bitrate or
codec, or trimmed, scores a few percent; different music scores about 0.4 (random bits: 0.5).
"""

import asyncio
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.models import TrackFingerprint, TrackRow

# Measured (tests/backend/test_fingerprints.py, real fpcalc on generated tunes): the same tune
# as MP3 320 kb/s vs Opus 48 kb/s 0.002, trimmed by 3 s at 96 kb/s 0.037; different tunes
# 0.38-0.41. 0.20 sits well between the two.
MATCH_BIT_ERROR_RATE = 0.20
# Offsets whose overlap is shorter than this (about 10 s) are not scored: few words can agree
# by chance. Tracks shorter than this are compared over their whole length.
MIN_OVERLAP_WORDS = 80


# A steady tone or silence gives the same word over and over (noise: ~80% distinct; music:
# ~97%): such fingerprints say nothing about the recording and would all match each other.
MIN_DISTINCT_FRACTION = 0.25


def informative(words: np.ndarray) -> bool:
    """Whether `words` vary enough to tell one recording from another."""
    return len(words) > 0 and len(np.unique(words)) >= MIN_DISTINCT_FRACTION * len(words)


def pack(words: list[int]) -> bytes:
    return np.asarray(words, dtype="<u4").tobytes()


def unpack(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<u4")


def bit_error_rate(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest fraction of differing bits between `a` and `b` over all alignments that
    overlap by at least MIN_OVERLAP_WORDS (or the shorter one's length); 1.0 if either is empty."""
    if len(a) == 0 or len(b) == 0:
        return 1.0
    # errors[i, j]: differing bits of a[i] and b[j]; each diagonal i - j is one alignment.
    errors = np.bitwise_count(a[:, None] ^ b[None, :])
    diagonal = np.subtract.outer(np.arange(len(a)), np.arange(len(b))).ravel() + len(b) - 1
    bits = np.bincount(diagonal, weights=errors.ravel(), minlength=len(a) + len(b) - 1)
    overlap = np.bincount(diagonal, minlength=len(a) + len(b) - 1)
    enough = overlap >= min(MIN_OVERLAP_WORDS, len(a), len(b))
    return float((bits[enough] / (32 * overlap[enough])).min())


@dataclass(frozen=True)
class Match:
    track_id: int
    title: str
    artist_name: str
    bit_error_rate: float

    def reason(self) -> str:
        return (
            f"This recording matches '{self.title}' by {self.artist_name}; it is held for review."
        )


async def find_match(session: AsyncSession, artist: str, words: list[int]) -> Match | None:
    """The listed track of another artist than `artist` that `words` matches best, if any.

    Scans every fingerprint of other artists' listed tracks (fine for a small catalogue; a
    large one needs an index of fingerprint fragments, as AcoustID's server has)."""
    rows = (
        await session.execute(
            select(TrackRow.id, TrackRow.title, TrackRow.artist_name, TrackFingerprint.words)
            .join(TrackFingerprint, TrackFingerprint.track_id == TrackRow.id)
            .where(TrackRow.artist_address != artist, TrackRow.status == "listed")
        )
    ).all()
    new = np.asarray(words, dtype=np.uint32)
    if not rows or not informative(new):
        return None

    def best() -> Match | None:
        found: Match | None = None
        for track_id, title, artist_name, data in rows:
            if not informative(unpack(data)):
                continue
            rate = bit_error_rate(new, unpack(data))
            if rate <= MATCH_BIT_ERROR_RATE and (found is None or rate < found.bit_error_rate):
                found = Match(track_id, title, artist_name, rate)
        return found

    return await asyncio.to_thread(best)
