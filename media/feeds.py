"""Run a source on its own thread and keep what the output clock needs from it.

The program clock (video ticks, 20 ms audio blocks) never waits long on a device: a
`VideoFeed` holds the latest picture, an `AudioFeed` a short buffer of samples (the audio
clock gives a late one a bounded moment, `wait_playable`). When a device dies the feed
records a human message and the program goes on with black or silence.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable

import av
import numpy as np

from media.errors import MediaError
from media.sources import AudioSource, VideoSource

log = logging.getLogger(__name__)

ErrorCallback = Callable[[str, str], None]  # (source name, message)


class _Feed:
    def __init__(self, name: str, on_error: ErrorCallback | None) -> None:
        self.name = name
        self.error: str | None = None
        self.ended = False
        self._on_error = on_error
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            self._pump()
        except MediaError as exc:
            self._fail(str(exc))
        except Exception as exc:
            log.exception("source %s crashed", self.name)
            self._fail(f"{self.name} failed: {exc}")
        finally:
            self.ended = True

    def _fail(self, message: str) -> None:
        self.error = message
        log.warning("%s", message)
        if self._on_error is not None:
            self._on_error(self.name, message)

    def _pump(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"feed:{self.name}", daemon=True)
        self._thread.start()

    def join(self, timeout: float = 2.0) -> None:
        if self._thread is not None:
            self._thread.join(timeout)


class VideoFeed(_Feed):
    def __init__(self, source: VideoSource, on_error: ErrorCallback | None = None) -> None:
        super().__init__(source.name, on_error)
        self.source = source
        self.frames_in = 0
        self._latest: av.VideoFrame | None = None

    def _pump(self) -> None:
        for frame in self.source.frames():
            self._latest = frame
            self.frames_in += 1

    def latest(self) -> av.VideoFrame | None:
        """The newest picture, or None before the first one and after the device is lost."""
        return None if self.error else self._latest

    def stop(self) -> None:
        self.source.close()
        self.join()


class AudioFeed(_Feed):
    """A bounded FIFO of samples. Reading takes exactly n samples, zero-padded on underrun.

    The feed plays once it holds `prebuffer` samples (60 ms at 48 kHz): that margin absorbs
    a block the device or a busy machine delivers late. `wait_playable` lets the program
    clock start only once it is there (so a show's sound starts without a hole) and give a
    late source a moment before its block counts as silence. After an underrun the feed
    waits for the margin again, so bursty delivery turns into one short gap rather than a
    crackle every block. `max_buffer` (0.5 s) is how long the program clock may stall (a
    slow machine) before the oldest samples are dropped.
    """

    def __init__(
        self,
        source: AudioSource,
        on_error: ErrorCallback | None = None,
        prebuffer: int = 2880,
        max_buffer: int = 24000,
    ) -> None:
        super().__init__(source.name, on_error)
        self.source = source
        self.channels = source.channels
        self._prebuffer = min(prebuffer, max_buffer)
        self._max = max_buffer
        self._chunks: deque[np.ndarray] = deque()
        self._size = 0
        self._primed = False
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # samples came, or the source ended
        self._source_done = False
        self.underruns = 0
        self.dropped = 0

    def _pump(self) -> None:
        try:
            for block in self.source.blocks():
                with self._lock:
                    self._chunks.append(np.asarray(block, dtype=np.float32))
                    self._size += len(block)
                    while self._size > self._max:  # consumer stalled: drop the oldest
                        old = self._chunks.popleft()
                        self._size -= len(old)
                        self.dropped += len(old)
                    self._arrived.notify_all()
        finally:
            with self._lock:
                self._source_done = True
                self._arrived.notify_all()

    def wait_playable(self, n: int, timeout: float) -> bool:
        """Wait at most `timeout` s until reading `n` samples gives sound, not an underrun
        (before the first read and after an underrun: until the prebuffer is in), or the
        source has ended. Whether it did."""
        with self._lock:
            return self._arrived.wait_for(
                lambda: (
                    self._source_done
                    or self._size >= (n if self._primed else max(n, self._prebuffer))
                ),
                max(0.0, timeout),
            )

    def available(self) -> int:
        with self._lock:
            return self._size

    def read(self, n: int) -> np.ndarray:
        out = np.zeros((n, self.channels), dtype=np.float32)
        with self._lock:
            if not self._primed:
                if self._size < self._prebuffer and not self.ended:
                    return out
                self._primed = True
            filled = 0
            while filled < n and self._chunks:
                chunk = self._chunks[0]
                take = min(n - filled, len(chunk))
                out[filled : filled + take] = chunk[:take]
                if take == len(chunk):
                    self._chunks.popleft()
                else:
                    self._chunks[0] = chunk[take:]
                self._size -= take
                filled += take
            if filled < n and not self.ended:
                self.underruns += 1
                self._primed = False
        return out

    def stop(self) -> None:
        self.source.close()
        self.join()
