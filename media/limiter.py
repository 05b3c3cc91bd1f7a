"""A look-ahead brickwall limiter: the output never exceeds the ceiling.

Per sample, the attenuation needed to stay under the ceiling is held with an exponential
release (computed without a Python loop: in dB a linear decay, so a running maximum of
`needed + n * step` does it), spread over the look-ahead window (a sliding maximum, then a
moving average of the same length) and applied to the signal delayed by that window. Every
averaged value is at least the attenuation the delayed sample needs, so the gain is always
low enough; a final clip only guards against rounding.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


class Limiter:
    def __init__(
        self,
        sample_rate: int,
        channels: int,
        ceiling_db: float = -1.0,
        lookahead_ms: float = 1.5,
        release_ms: float = 150.0,
    ) -> None:
        self.ceiling_db = ceiling_db
        self.ceiling = 10 ** (ceiling_db / 20)
        self.window = max(2, round(sample_rate * lookahead_ms / 1000))
        # dB per sample for a ~release_ms recovery of 20 dB.
        self.release_step = 20.0 / max(1.0, sample_rate * release_ms / 1000)
        self._delay = np.zeros((self.window - 1, channels), dtype=np.float32)
        self._held_db = 0.0  # release envelope at the end of the previous block
        self._held_tail = np.zeros(self.window - 1)  # last envelope values (for the max)
        self._max_tail = np.zeros(self.window - 1)  # last sliding-max values (for the mean)
        self.gain_reduction_db = 0.0  # deepest reduction in the last block, for a meter

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit a (samples, channels) float block; output is delayed by window - 1 samples."""
        n = len(block)
        if n == 0:
            return block
        level_db = 20 * np.log10(np.maximum(np.max(np.abs(block), axis=1), 1e-9))
        needed = np.maximum(level_db - self.ceiling_db, 0.0)
        # Release: held[i] = max(needed[i], held[i-1] - step).
        ramp = np.arange(1, n + 1) * self.release_step
        held = np.maximum.accumulate(np.maximum(needed + ramp, self._held_db)) - ramp
        held = np.maximum(held, 0.0)
        self._held_db = float(held[-1])
        # Look-ahead: sliding max over the window, then its moving average.
        held_ext = np.concatenate([self._held_tail, held])
        maxed = sliding_window_view(held_ext, self.window).max(axis=1)
        maxed_ext = np.concatenate([self._max_tail, maxed])
        smoothed = sliding_window_view(maxed_ext, self.window).mean(axis=1)
        self._held_tail = held_ext[-(self.window - 1) :]
        self._max_tail = maxed_ext[-(self.window - 1) :]
        gain = 10 ** (-smoothed / 20)
        delayed = np.concatenate([self._delay, block.astype(np.float32)])
        self._delay = delayed[-(self.window - 1) :]
        out = delayed[:n] * gain[:, None].astype(np.float32)
        self.gain_reduction_db = float(smoothed.max())
        return np.clip(out, -self.ceiling, self.ceiling)
