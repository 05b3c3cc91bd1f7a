"""Microphone capture for real: sounddevice -> PortAudio -> ALSA pulse plugin -> PulseAudio,
from a null sink's monitor fed by paplay."""

import asyncio
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from media.errors import DeviceLostError, NoDeviceError
from media.sources import MicrophoneSource, list_microphones
from studio.live.session import LiveOptions, LiveSession

from .conftest import PulseServer, decode_audio, dominant_frequency, write_tone_wav


def audible(samples: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """The stretch from the first to the last sample above `threshold`."""
    loud = np.flatnonzero(np.abs(samples).max(axis=1) > threshold)
    return samples[loud[0] : loud[-1] + 1] if len(loud) else samples[:0]


def test_microphone_hears_the_tone_played_into_pulse(pulse: PulseServer, tmp_path: Path) -> None:
    devices = list_microphones(refresh=True)  # re-scan: PortAudio now sees our server
    assert "pulse" in [d.label for d in devices]
    player = pulse.play(write_tone_wav(tmp_path / "tone.wav", 700.0, 4.0, level=0.3))
    mic = MicrophoneSource("pulse", channels=2)
    try:
        assert (mic.channels, mic.sample_rate) == (2, 48_000)
        blocks = list(islice(mic.blocks(), 400))  # 480-sample blocks: 4 s at most
    finally:
        mic.close()
        player.kill()
    samples = np.concatenate(blocks)
    assert samples.dtype == np.float32 and samples.shape[1] == 2
    loud = audible(samples)
    assert len(loud) > 48_000 * 0.5
    assert dominant_frequency(loud, 48_000) == pytest.approx(700.0, abs=2.0)
    assert np.abs(loud).max() == pytest.approx(0.3, abs=0.02)


def test_unplugged_microphone_is_reported_not_a_crash(pulse: PulseServer) -> None:
    list_microphones(refresh=True)
    mic = MicrophoneSource("pulse", channels=1)
    blocks = mic.blocks()
    next(blocks)
    pulse.kill()
    with pytest.raises(DeviceLostError, match="microphone 'pulse'"):
        for _ in blocks:
            pass
    mic.close()


def test_absent_microphone_is_a_no_device_error() -> None:
    with pytest.raises(NoDeviceError, match="No microphone found"):
        MicrophoneSource("no-such-microphone-anywhere")


def warm_up_microphone() -> None:
    """Open the capture path once: a process's first stream through ALSA's pulse plugin
    takes a second or two to deliver, which would eat into a timed scenario."""
    list_microphones(refresh=True)
    mic = MicrophoneSource("pulse", channels=1)
    try:
        next(iter(mic.blocks()))
    finally:
        mic.close()


async def test_live_session_records_the_microphone_and_survives_its_loss(
    pulse: PulseServer, tmp_path: Path
) -> None:
    warm_up_microphone()
    player = pulse.play(write_tone_wav(tmp_path / "tone.wav", 523.0, 8.0, level=0.25))
    session = LiveSession()
    path = tmp_path / "mic.mkv"
    options = LiveOptions(width=320, height=240, audio=["mic:pulse"], record_path=path)
    await session.start(options)
    try:
        await asyncio.sleep(3.0)
        pulse.kill()  # the microphone goes away mid-stream
        await asyncio.sleep(3.0)  # the loss is noticed within the 2 s silence timeout
        assert session.state == "live"
    finally:
        await session.stop()
        player.kill()
    assert any("microphone 'pulse'" in m for m in session.messages)
    sound = decode_audio(path)
    assert len(sound) / 48_000 == pytest.approx(6.0, abs=0.4)  # no gap after the loss
    heard = sound[: int(48_000 * 2.8)]
    assert dominant_frequency(audible(heard), 48_000) == pytest.approx(523.0, abs=2.0)
    assert np.abs(sound[-48_000:]).max() < 1e-3  # silence once the device is gone


def test_refreshing_devices_does_not_cut_an_open_microphone(pulse: PulseServer) -> None:
    list_microphones(refresh=True)
    mic = MicrophoneSource("pulse", channels=1)
    try:
        blocks = mic.blocks()
        next(blocks)
        assert "pulse" in [d.label for d in list_microphones(refresh=True)]
        assert len(list(islice(blocks, 20))) == 20  # still capturing
    finally:
        mic.close()
