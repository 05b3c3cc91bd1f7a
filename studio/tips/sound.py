"""The tip chime: a short two-note sound, made here (no asset), played on the default output.

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


class TipSound:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._samples: np.ndarray | None = None
        self._warned = False

    def play(self) -> bool:
        """True if the chime started playing."""
        if not self.enabled:
            return False
        try:
            import sounddevice as sd

            sd.query_devices(kind="output")
            if self._samples is None:
                self._samples = chime()
            sd.play(self._samples, SAMPLE_RATE, blocking=False)
            return True
        except Exception as exc:  # no PortAudio, no device, device busy
            if not self._warned:
                self._warned = True
                log.info("tip sound skipped: no audio output (%s)", type(exc).__name__)
            return False
