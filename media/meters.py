"""Audio meters: sample peak and RMS per block, and loudness per ITU-R BS.1770-4 / EBU R128.

`LoudnessMeter` K-weights the signal (high shelf + high pass, coefficients derived for any
sample rate as libebur128 does), sums mean squares per 100 ms hop and reports momentary
(400 ms), short-term (3 s) and gated integrated loudness in LUFS. Channel weights are 1.0
(mono and stereo carry no surround channels).
"""

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

SILENCE_DB = -120.0
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0


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


def k_weighting(sample_rate: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two biquads (b, a) of the BS.1770 K-weighting filter at `sample_rate`."""
    # Stage 1: high shelf (head effects), +4 dB above ~1.7 kHz.
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = (
        np.array([(vh + vb * k / q + k * k), 2 * (k * k - vh), (vh - vb * k / q + k * k)]) / a0
    )
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    # Stage 2: RLB high pass at ~38 Hz.
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    pass_b = np.array([1.0, -2.0, 1.0])
    pass_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (pass_b, pass_a)]


def _lufs(mean_square: float) -> float:
    return -0.691 + 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


class LoudnessMeter:
    """Streaming BS.1770 loudness. Feed (samples, channels) float blocks of any length."""

    HOP_S = 0.1

    def __init__(self, sample_rate: int, channels: int) -> None:
        # scipy.signal takes 0.5-3 s to import (longer on a busy machine), so it loads when a
        # meter is built (before a show's clocks start, off the event loop), not when the
        # studio opens, and never on the live audio clock's first block: that stall turned
        # the first seconds of every show into holes.
        from scipy.signal import lfilter

        self._lfilter = lfilter
        self.sample_rate = sample_rate
        self.channels = channels
        self._filters = k_weighting(sample_rate)
        self._states = [np.zeros((2, channels)) for _ in self._filters]
        self._hop = round(sample_rate * self.HOP_S)
        self._partial_sum = 0.0  # sum over channels of squared K-weighted samples
        self._partial_n = 0
        self._hops: deque[float] = deque(maxlen=30)  # per-hop channel-summed mean squares
        self._blocks: list[float] = []  # 400 ms gating blocks (75 % overlap), mean squares

    def reset(self) -> None:
        self.__init__(self.sample_rate, self.channels)  # type: ignore[misc]

    def add(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float64)
        for i, (b, a) in enumerate(self._filters):
            x, self._states[i] = self._lfilter(b, a, x, axis=0, zi=self._states[i])
        squares = np.sum(np.square(x), axis=1)
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
        return _lufs(sum(list(self._hops)[-4:]) / 4)

    @property
    def short_term(self) -> float:
        """Loudness of the last 3 s (LUFS); over what there is until 3 s have passed."""
        if len(self._hops) < 4:
            return -math.inf
        return _lufs(sum(self._hops) / len(self._hops))

    @property
    def integrated(self) -> float:
        """Gated loudness since the start (absolute gate -70 LUFS, relative gate -10 LU)."""
        blocks = np.asarray(self._blocks)
        if blocks.size == 0:
            return -math.inf
        loud = blocks[blocks > 10 ** ((ABSOLUTE_GATE_LUFS + 0.691) / 10)]
        if loud.size == 0:
            return -math.inf
        relative_gate = _lufs(float(loud.mean())) + RELATIVE_GATE_LU
        kept = loud[loud > 10 ** ((relative_gate + 0.691) / 10)]
        return _lufs(float(kept.mean())) if kept.size else -math.inf


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
