"""Audio meters: sample peak and RMS per block, and loudness per ITU-R BS.1770-4 / EBU R128.

`LoudnessMeter` K-weights the live signal with media.loudness's filter (the one a published
file's loudness uses), sums mean squares per 100 ms hop and reports momentary (400 ms),
short-term (3 s) and integrated loudness (media.loudness's gating) in LUFS. Channel weights
are 1.0 (mono and stereo carry no surround channels).
"""

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from media.loudness import KWeighting, gated_loudness, lufs

SILENCE_DB = -120.0


def to_db(value: float | np.ndarray) -> np.ndarray:
    return 20.0 * np.log10(np.maximum(np.asarray(value, dtype=np.float64), 1e-6))


def peak_rms_db(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel sample peak and RMS of a (samples, channels) block, in dBFS."""
    if len(block) == 0:
        silent = np.full(block.shape[1], SILENCE_DB)
        return silent, silent
    peak = np.max(np.abs(block), axis=0)
    rms = np.sqrt(np.mean(np.square(block, dtype=np.float64), axis=0))
    return to_db(peak), to_db(rms)


class LoudnessMeter:
    """Streaming BS.1770 loudness. Feed (samples, channels) float blocks of any length."""

    HOP_S = 0.1

    def __init__(self, sample_rate: int, channels: int) -> None:
        # Built before a show's clocks start: KWeighting loads scipy, whose import stalled the
        # live audio clock's first block and turned the first seconds of every show into holes.
        self.sample_rate = sample_rate
        self.channels = channels
        self._filter = KWeighting(sample_rate, channels)
        self._hop = round(sample_rate * self.HOP_S)
        self._partial_sum = 0.0  # sum over channels of squared K-weighted samples
        self._partial_n = 0
        self._hops: deque[float] = deque(maxlen=30)  # per-hop channel-summed mean squares
        self._blocks: list[float] = []  # 400 ms gating blocks (75 % overlap), mean squares

    def reset(self) -> None:
        self.__init__(self.sample_rate, self.channels)  # type: ignore[misc]

    def add(self, block: np.ndarray) -> None:
        squares = np.sum(np.square(self._filter.apply(block)), axis=1)
        pos = 0
        while pos < len(squares):
            take = min(self._hop - self._partial_n, len(squares) - pos)
            self._partial_sum += float(np.sum(squares[pos : pos + take]))
            self._partial_n += take
            pos += take
            if self._partial_n == self._hop:
                self._hops.append(self._partial_sum / self._hop)
                self._partial_sum, self._partial_n = 0.0, 0
                if len(self._hops) >= 4:
                    self._blocks.append(sum(list(self._hops)[-4:]) / 4)

    @property
    def momentary(self) -> float:
        """Loudness of the last 400 ms (LUFS); -inf until 400 ms have been measured."""
        if len(self._hops) < 4:
            return -math.inf
        return lufs(sum(list(self._hops)[-4:]) / 4)

    @property
    def short_term(self) -> float:
        """Loudness of the last 3 s (LUFS); over what there is until 3 s have passed."""
        if len(self._hops) < 4:
            return -math.inf
        return lufs(sum(self._hops) / len(self._hops))

    @property
    def integrated(self) -> float:
        """Gated loudness since the start (absolute gate -70 LUFS, relative gate -10 LU)."""
        integrated = gated_loudness(np.asarray(self._blocks))
        return -math.inf if integrated is None else integrated


@dataclass(frozen=True)
class MeterReading:
    peak_db: tuple[float, ...]
    rms_db: tuple[float, ...]
    momentary_lufs: float = -math.inf
    short_term_lufs: float = -math.inf
    integrated_lufs: float = -math.inf


class ProgramMeter:
    """Peak/RMS of every block plus loudness of the whole program."""

    def __init__(self, sample_rate: int, channels: int) -> None:
        self.loudness = LoudnessMeter(sample_rate, channels)

    def measure(self, block: np.ndarray) -> MeterReading:
        peak, rms = peak_rms_db(block)
        self.loudness.add(block)
        return MeterReading(
            peak_db=tuple(float(v) for v in peak),
            rms_db=tuple(float(v) for v in rms),
            momentary_lufs=self.loudness.momentary,
            short_term_lufs=self.loudness.short_term,
            integrated_lufs=self.loudness.integrated,
        )
