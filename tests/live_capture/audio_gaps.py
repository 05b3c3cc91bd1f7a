"""Where a show's sound has holes: packets missing from the timeline, or silence in a tone.

Both the recording test (tests/live_capture) and the viewer test (tests/live_relay) use these:
a gap is a hole between consecutive packets (`next.pts - (pts + duration)`) over 20 ms, or a
stretch of a steady test tone that decodes as silence for 20 ms or more.
"""

from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import numpy as np

GAP_S = 0.020
SILENCE = 1e-3  # peak under -60 dBFS: no tone there


def timeline_gaps(
    packets: list[tuple[int, int]], time_base: Fraction, after_s: float = 0.1
) -> list[tuple[float, float]]:
    """(start s, hole s) for each hole over 20 ms between `(pts, duration)` packets, counting
    from the first packet; holes starting in its first `after_s` seconds are let through."""
    if not packets:
        return []
    origin = packets[0][0]
    gaps = []
    for (pts, duration), (next_pts, _) in pairwise(packets):
        hole = float((next_pts - (pts + duration)) * time_base)
        at = float((pts + duration - origin) * time_base)
        if hole > GAP_S and at >= after_s:
            gaps.append((round(at, 3), round(hole, 3)))
    return gaps


def recorded_audio_packets(path: Path) -> tuple[list[tuple[int, int]], Fraction]:
    """The audio packets' (pts, duration) in `path`, in its audio stream's time base."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        packets = [(p.pts, p.duration or 0) for p in container.demux(stream) if p.pts is not None]
        return packets, stream.time_base


def silent_stretches(
    samples: np.ndarray, rate: int, after_s: float = 0.1
) -> list[tuple[float, float]]:
    """(start s, length s) of each run of 1 ms windows without tone, 20 ms or longer, ending
    after `after_s`. For a steady tone at -20 dBFS, as `harmonie-studio live --audio tone`
    sends; `samples` is (n,) or (n, channels)."""
    mono = np.abs(samples).max(axis=1) if samples.ndim == 2 else np.abs(samples)
    window = rate // 1000
    count = len(mono) // window
    quiet = mono[: count * window].reshape(count, window).max(axis=1) < SILENCE
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    runs = []
    for start, end in zip(edges[::2], edges[1::2], strict=True):
        if (end - start) / 1000 >= GAP_S and end / 1000 > after_s:
            runs.append((float(start) / 1000, float(end - start) / 1000))
    return runs
