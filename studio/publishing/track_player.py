"""Play a published track (a file or a gateway URL) with PyAV and sounddevice.

QtMultimedia is not part of PySide6-Essentials, so decoding is PyAV's (which also reads
`http://.../ipfs/<cid>` directly) and the output is a sounddevice stream, fed from a thread.
"""

import logging
import threading
from collections.abc import Callable

import av
import numpy as np

log = logging.getLogger(__name__)

RATE = 48_000


class PlayerThread:
    """Plays `source` in a thread of its own (`_run`, which ends early once `_stop` is set)."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.source: str | None = None

    @property
    def playing(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def play(self, source: str) -> None:
        self.stop()
        self.source = source
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, args=(source,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._thread = None

    def _run(self, source: str) -> None:
        raise NotImplementedError


class TrackPlayer(PlayerThread):
    def __init__(self, on_state: Callable[[str, str], None] | None = None) -> None:
        """`on_state(state, detail)`: 'playing', 'stopped' or 'error' with a reason."""
        super().__init__()
        self._on_state = on_state or (lambda state, detail: None)

    def _run(self, source: str) -> None:
        try:
            import sounddevice

            with (
                av.open(source, timeout=10) as container,
                sounddevice.OutputStream(samplerate=RATE, channels=2, dtype="float32") as out,
            ):
                self._on_state("playing", source)
                resampler = av.AudioResampler(format="flt", layout="stereo", rate=RATE)
                for frame in container.decode(audio=0):
                    if self._stop.is_set():
                        break
                    for chunk in resampler.resample(frame):
                        out.write(np.ascontiguousarray(chunk.to_ndarray().reshape(-1, 2)))
            self._on_state("stopped", "")
        except Exception as exc:  # no device, unreachable gateway, undecodable file
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            log.warning("playback failed: %s", reason)
            self._on_state("error", f"Cannot play this track: {reason}")
