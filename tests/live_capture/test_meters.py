import math

import numpy as np
import pyloudnorm
import pytest

from media.meters import LoudnessMeter, ProgramMeter, peak_rms_db

RATE = 48_000


def sine(freq: float, dbfs: float, seconds: float, channels: int = 1) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    x = (10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def feed(meter: LoudnessMeter, signal: np.ndarray, block: int = 960) -> None:
    for start in range(0, len(signal), block):
        meter.add(signal[start : start + block])


def test_peak_and_rms_of_a_minus_20_dbfs_sine() -> None:
    peak, rms = peak_rms_db(sine(1000, -20, 0.02 * 50))
    assert peak[0] == pytest.approx(-20.0, abs=0.01)
    assert rms[0] == pytest.approx(-20.0 - 3.0103, abs=0.01)


def test_one_khz_sine_reads_the_reference_loudness() -> None:
    # BS.1770: a 0 dBFS 1 kHz sine in one channel reads -3.01 LUFS; so -20 dBFS -> -23.01.
    meter = LoudnessMeter(RATE, 1)
    feed(meter, sine(1000, -20, 5))
    assert meter.momentary == pytest.approx(-23.01, abs=0.05)
    assert meter.short_term == pytest.approx(-23.01, abs=0.05)
    assert meter.integrated == pytest.approx(-23.01, abs=0.05)
    stereo = LoudnessMeter(RATE, 2)
    feed(stereo, sine(1000, -20, 5, channels=2))
    assert stereo.integrated == pytest.approx(-20.0, abs=0.05)


@pytest.mark.parametrize("rate", [48_000, 44_100])
def test_integrated_loudness_matches_pyloudnorm(rate: int) -> None:
    rng = np.random.default_rng(7)
    t = np.arange(rate * 12) / rate
    # Programme with quiet and loud passages, so both gates matter.
    envelope = np.where((t % 4) < 1, 0.01, 0.5)
    signal = np.stack(
        [
            envelope * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(len(t)),
            envelope * np.sin(2 * np.pi * 3000 * t) * 0.5,
        ],
        axis=1,
    ).astype(np.float32)
    meter = LoudnessMeter(rate, 2)
    feed(meter, signal, block=1000)
    expected = pyloudnorm.Meter(rate).integrated_loudness(signal.astype(np.float64))
    assert meter.integrated == pytest.approx(expected, abs=0.1)


def test_short_term_follows_the_last_three_seconds_and_silence_is_gated() -> None:
    meter = LoudnessMeter(RATE, 1)
    signal = np.concatenate([sine(1000, -20, 4), np.zeros((RATE * 4, 1), np.float32)])
    feed(meter, signal)
    assert meter.short_term == -math.inf or meter.short_term < -100
    # Silence falls below the gates: only the tone (and its fading edge) counts.
    assert meter.integrated == pytest.approx(-23.01, abs=0.3)
    expected = pyloudnorm.Meter(RATE).integrated_loudness(signal[:, 0].astype(np.float64))
    assert meter.integrated == pytest.approx(expected, abs=0.05)


def test_program_meter_updates_every_20_ms_block() -> None:
    meter = ProgramMeter(RATE, 2)
    readings = [meter.measure(block) for block in np.split(sine(440, -6, 1, 2), 50)]
    assert len(readings) == 50  # 50 readings per second: faster than 30 Hz
    assert readings[-1].peak_db[0] == pytest.approx(-6.0, abs=0.05)
