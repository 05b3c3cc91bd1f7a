"""Integrated loudness (LUFS, ITU-R BS.1770-4 / EBU R128) and true peak, streamed.

pyloudnorm does the same measurement but wants the whole signal as one array; a 1 GB master
would need several GB of floats. Here the K-weighting filters keep their state between
blocks and only one energy per 100 ms per channel is kept, so memory stays flat. The filter
coefficients are the standard's, re-derived for any sample rate (as libebur128 does).
True peak: 4x oversampling (polyphase FIR), carried across block boundaries.
"""

import math
from dataclasses import dataclass

import numpy as np

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
OVERSAMPLE = 4
_HISTORY = 32  # input samples of context either side of a block for the oversampling FIR


def k_weighting(rate: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The two biquads (b, a) of the BS.1770 K-weighting filter at `rate`: the high shelf
    (head effects, +4 dB above ~1.7 kHz), then the RLB high pass at ~38 Hz."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = np.array([vh + vb * k / q + k * k, 2 * (k * k - vh), vh - vb * k / q + k * k]) / a0
    shelf_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    pass_b = np.array([1.0, -2.0, 1.0])
    pass_a = np.array([1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0])
    return [(shelf_b, shelf_a), (pass_b, pass_a)]


class KWeighting:
    """The K-weighting filter over (frames, channels) blocks, its state kept between them."""

    def __init__(self, rate: float, channels: int) -> None:
        # scipy.signal takes 0.5-3 s to import (longer on a busy machine): it loads when a
        # filter is built (before a show's clocks start, off the event loop), never when the
        # studio opens nor on the live audio clock's first block.
        from scipy.signal import lfilter

        self._lfilter = lfilter
        self._stages = k_weighting(rate)
        self._states = [np.zeros((2, channels)) for _ in self._stages]

    def apply(self, block: np.ndarray) -> np.ndarray:
        x = np.asarray(block, dtype=np.float64)
        for i, (b, a) in enumerate(self._stages):
            x, self._states[i] = self._lfilter(b, a, x, axis=0, zi=self._states[i])
        return x


def lufs(mean_square: float) -> float:
    """BS.1770 loudness of a (channel-weighted) mean square; -inf for silence."""
    return -0.691 + 10 * math.log10(mean_square) if mean_square > 0 else -math.inf


def gated_loudness(blocks: np.ndarray) -> float | None:
    """Integrated loudness of 400 ms gating blocks (their channel-weighted mean squares): the
    absolute gate at -70 LUFS, then the relative gate 10 LU under what passed it. None when
    nothing passes (silence)."""
    loud = blocks[blocks > 10 ** ((ABSOLUTE_GATE_LUFS + 0.691) / 10)]
    if loud.size == 0:
        return None
    relative_gate = lufs(float(loud.mean())) + RELATIVE_GATE_LU
    kept = loud[loud > 10 ** ((relative_gate + 0.691) / 10)]
    return lufs(float(kept.mean())) if kept.size else None


def channel_weights(channels: int) -> np.ndarray:
    """1.0 for front channels; 5.1 drops the LFE and weights the surrounds 1.41."""
    if channels == 6:
        return np.array([1.0, 1.0, 1.0, 0.0, 1.41, 1.41])
    return np.ones(channels)


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float | None  # None: silence (nothing above the absolute gate)
    true_peak_dbtp: float | None  # None: digital silence
    sample_peak_dbfs: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "integrated_lufs": _round(self.integrated_lufs),
            "true_peak_dbtp": _round(self.true_peak_dbtp),
            "sample_peak_dbfs": _round(self.sample_peak_dbfs),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


class LoudnessMeter:
    """Feed float32 (frames, channels) blocks in order with `add`, then read `result()`."""

    def __init__(self, rate: int, channels: int) -> None:
        self.rate = rate
        self.channels = channels
        self._filter = KWeighting(rate, channels)
        self._step = round(rate * 0.1)  # 100 ms: blocks of 400 ms overlap by 75%
        self._carry = np.zeros((0, channels))
        self._energies: list[np.ndarray] = []  # mean square per channel per 100 ms
        self._weights = channel_weights(channels)
        self._peak = 0.0
        self._true_peak = 0.0
        self._history = np.zeros((0, channels))

    def add(self, block: np.ndarray) -> None:
        if block.ndim == 1:
            block = block[:, None]
        block = block.astype(np.float64, copy=False)
        if len(block) == 0:
            return
        self._peak = max(self._peak, float(np.max(np.abs(block))))
        self._oversampled_peak(block)
        filtered = self._filter.apply(block)
        data = np.concatenate([self._carry, filtered]) if len(self._carry) else filtered
        whole = len(data) // self._step * self._step
        if whole:
            squares = (data[:whole] ** 2).reshape(-1, self._step, self.channels).mean(axis=1)
            self._energies.extend(squares)
        self._carry = data[whole:]

    def _oversampled_peak(self, block: np.ndarray, final: bool = False) -> None:
        data = np.concatenate([self._history, block]) if len(self._history) else block
        if final:
            data = np.concatenate([data, np.zeros((_HISTORY, self.channels))])
        if len(data) <= 2 * _HISTORY:
            self._history = data
            return
        from scipy import signal

        up = signal.resample_poly(data, OVERSAMPLE, 1, axis=0)
        start = OVERSAMPLE * _HISTORY if len(self._history) else 0
        end = OVERSAMPLE * (len(data) - _HISTORY)
        if end > start:
            self._true_peak = max(self._true_peak, float(np.max(np.abs(up[start:end]))))
        self._history = data[len(data) - 2 * _HISTORY :]

    def result(self) -> Loudness:
        if len(self._history):
            self._oversampled_peak(np.zeros((0, self.channels)), final=True)
        true_peak = max(self._true_peak, self._peak)
        return Loudness(
            integrated_lufs=self._integrated(),
            true_peak_dbtp=20 * math.log10(true_peak) if true_peak > 0 else None,
            sample_peak_dbfs=20 * math.log10(self._peak) if self._peak > 0 else None,
        )

    def _integrated(self) -> float | None:
        if len(self._energies) < 4:
            return None
        energies = np.asarray(self._energies)
        window = np.lib.stride_tricks.sliding_window_view(energies, 4, axis=0)
        blocks = window.mean(axis=-1)  # (blocks, channels): 400 ms gating blocks
        return gated_loudness(blocks @ self._weights)
