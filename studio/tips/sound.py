"""The tip chime: a short two-note sound, made here (no asset), played on the default output;
or an alert tier's own sound file (any format PyAV decodes) at the tier's volume.

Playing never blocks and never raises: a machine with no sound card (a server, CI) just
does not chime, and says so once in the log.
"""

import logging

import numpy as np

log = logging.getLogger(__name__)

SAMPLE_RATE = 48_000
NOTES_HZ = (880.0, 1318.5)  # A5 then E6
NOTE_S = 0.12
VOLUME = 0.35


def chime(sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 mono samples in [-VOLUME, VOLUME], each note with a soft attack and decay."""
    n = int(NOTE_S * sample_rate)
    t = np.arange(n, dtype=np.float64) / sample_rate
    envelope = np.minimum(1.0, t / 0.005) * np.exp(-t * 18.0)
    notes = [np.sin(2 * np.pi * f * t) * envelope for f in NOTES_HZ]
    return (np.concatenate(notes) * VOLUME).astype(np.float32)


MAX_SOUND_S = 30


def decode_file(path: str, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float32 mono samples of an audio file at `sample_rate`, at most MAX_SOUND_S long."""
    import av

    chunks: list[np.ndarray] = []
    total, limit = 0, MAX_SOUND_S * sample_rate
    with av.open(path) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunk = out.to_ndarray().reshape(-1)
                chunks.append(chunk)
                total += len(chunk)
            if total >= limit:
                break
    samples = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    return np.clip(samples[:limit], -1.0, 1.0).astype(np.float32)


class TipSound:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._samples: np.ndarray | None = None
        self._warned = False

    def play(self, sound_file: str = "", volume: float = VOLUME) -> bool:
        """True if the sound (the chime, or `sound_file`) started playing."""
        if not self.enabled:
            return False
        try:
            import sounddevice as sd

            sd.query_devices(kind="output")
            if sound_file:
                samples = decode_file(sound_file) * float(volume)
            else:
                if self._samples is None:
                    self._samples = chime()
                samples = self._samples * np.float32(volume / VOLUME)
            sd.play(samples, SAMPLE_RATE, blocking=False)
            return True
        except Exception as exc:  # no PortAudio, no device, device busy
            if not self._warned:
                self._warned = True
                log.info("tip sound skipped: no audio output (%s)", type(exc).__name__)
            return False
