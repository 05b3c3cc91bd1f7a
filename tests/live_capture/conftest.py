"""Fixtures for capture, mixing, encoding and recording tests.

Qt runs offscreen here (set before anything imports Qt). `pulse` starts a private PulseAudio
server with a null sink whose monitor is remapped to a microphone-like source, so the real
sounddevice/PortAudio/ALSA-pulse path captures what `paplay` plays.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import av
import numpy as np
import pytest


def decode_video(path: Path) -> list[av.VideoFrame]:
    with av.open(str(path)) as container:
        return list(container.decode(video=0))


def decode_audio(path: Path) -> np.ndarray:
    """All audio in `path` as float32 (samples, channels) at its own rate."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        layout = stream.codec_context.layout.name
        resampler = av.AudioResampler(format="flt", layout=layout, rate=stream.sample_rate)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1, out.layout.nb_channels))
    return np.concatenate(chunks) if chunks else np.zeros((0, 1), np.float32)


def dominant_frequency(samples: np.ndarray, rate: int) -> float:
    mono = samples.mean(axis=1) if samples.ndim == 2 else samples
    spectrum = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    return float(np.fft.rfftfreq(len(mono), 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture
def loopback_ice(monkeypatch: pytest.MonkeyPatch) -> None:
    """ICE host candidates on 127.0.0.1 only: media in tests never leaves loopback."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
