"""The program: audio channels summed with gain/mute through a limiter, and the picture
composed from a main source with an optional picture-in-picture overlay.

Both run on the output clock (see media.pipeline); neither waits on a device.
"""

import threading
from dataclasses import dataclass, field
from enum import Enum

import av
import numpy as np

from media.feeds import AudioFeed
from media.limiter import Limiter
from media.meters import MeterReading, ProgramMeter, peak_rms_db

# --- audio ---------------------------------------------------------------------------------


@dataclass
class AudioChannel:
    name: str
    feed: AudioFeed
    gain_db: float = 0.0
    muted: bool = False
    reading: MeterReading = field(default_factory=lambda: MeterReading((-120.0,), (-120.0,)))

    @property
    def gain(self) -> float:
        return 0.0 if self.muted else 10 ** (self.gain_db / 20)


def match_channels(block: np.ndarray, channels: int) -> np.ndarray:
    """Mono to stereo by copying, more channels down to fewer by averaging."""
    have = block.shape[1]
    if have == channels:
        return block
    if have == 1:
        return np.repeat(block, channels, axis=1)
    if channels == 1:
        return block.mean(axis=1, keepdims=True)
    return block[:, :channels]


class AudioMixer:
    def __init__(
        self, sample_rate: int = 48_000, channels: int = 2, ceiling_db: float = -1.0
    ) -> None:
        self.sample_rate = sample_rate
        self.channels = channels
        self.limiter = Limiter(sample_rate, channels, ceiling_db=ceiling_db)
        self.meter = ProgramMeter(sample_rate, channels)
        self.program = MeterReading((-120.0,) * channels, (-120.0,) * channels)
        self._inputs: dict[str, AudioChannel] = {}
        self._lock = threading.Lock()

    def add(self, feed: AudioFeed, name: str | None = None) -> AudioChannel:
        channel = AudioChannel(name or feed.name, feed)
        with self._lock:
            self._inputs[channel.name] = channel
        return channel

    def remove(self, name: str) -> AudioChannel | None:
        with self._lock:
            return self._inputs.pop(name, None)

    @property
    def inputs(self) -> list[AudioChannel]:
        with self._lock:
            return list(self._inputs.values())

    def set_gain(self, name: str, gain_db: float) -> None:
        self._inputs[name].gain_db = float(gain_db)

    def set_muted(self, name: str, muted: bool) -> None:
        self._inputs[name].muted = bool(muted)

    def mix(self, n: int) -> np.ndarray:
        """The next `n` program samples: every input after its fader, summed and limited."""
        total = np.zeros((n, self.channels), dtype=np.float32)
        for channel in self.inputs:
            block = match_channels(channel.feed.read(n), self.channels) * channel.gain
            peak, rms = peak_rms_db(block)
            channel.reading = MeterReading(tuple(map(float, peak)), tuple(map(float, rms)))
            total += block
        out = self.limiter.process(total)
        self.program = self.meter.measure(out)
        return out


# --- video ---------------------------------------------------------------------------------


class Layout(Enum):
    MAIN = "main"  # the main source alone (e.g. the screen)
    OVERLAY = "overlay"  # the overlay source alone, full frame (e.g. the camera)
    PIP = "pip"  # overlay as a small picture over the main one


BLACK_YUV = (16, 128, 128)


def _even(value: float) -> int:
    return max(2, int(value) // 2 * 2)


def _even_offset(value: float) -> int:
    return max(0, int(value) // 2 * 2)


def fit(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    """The largest even size with width:height's aspect that fits in the box."""
    scale = min(box_w / width, box_h / height)
    return min(box_w, _even(width * scale)), min(box_h, _even(height * scale))


class VideoCompositor:
    """Composes yuv420p pictures of a fixed output size with numpy, no RGB round trip."""

    def __init__(
        self,
        width: int,
        height: int,
        layout: Layout = Layout.PIP,
        pip_scale: float = 0.28,
        pip_margin: float = 0.03,
    ) -> None:
        self.width, self.height = width, height
        self.layout = layout
        self.pip_scale = pip_scale
        self.pip_margin = pip_margin

    def _canvas(self) -> list[np.ndarray]:
        y = np.full((self.height, self.width), BLACK_YUV[0], np.uint8)
        u = np.full((self.height // 2, self.width // 2), BLACK_YUV[1], np.uint8)
        v = np.full((self.height // 2, self.width // 2), BLACK_YUV[2], np.uint8)
        return [y, u, v]

    @staticmethod
    def _paste(planes: list[np.ndarray], frame: av.VideoFrame, x: int, y: int) -> None:
        """Copy a yuv420p frame's planes into the canvas at even position (x, y)."""
        array = frame.to_ndarray()  # (h * 3 / 2, w) for yuv420p
        h, w = frame.height, frame.width
        planes[0][y : y + h, x : x + w] = array[:h]
        chroma = array[h:].reshape(2, h // 2, w // 2)
        planes[1][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = chroma[0]
        planes[2][y // 2 : (y + h) // 2, x // 2 : (x + w) // 2] = chroma[1]

    def _place_fitted(
        self, planes: list[np.ndarray], frame: av.VideoFrame, box: tuple[int, int, int, int]
    ) -> None:
        bx, by, bw, bh = box
        w, h = fit(frame.width, frame.height, bw, bh)
        scaled = frame.reformat(width=w, height=h, format="yuv420p")
        self._paste(
            planes, scaled, _even_offset(bx + (bw - w) / 2), _even_offset(by + (bh - h) / 2)
        )

    def compose(self, main: av.VideoFrame | None, overlay: av.VideoFrame | None) -> av.VideoFrame:
        """The program picture. A missing source leaves black (or the other source alone)."""
        full = (0, 0, self.width, self.height)
        background, small = main, overlay
        if self.layout is Layout.OVERLAY or (self.layout is Layout.PIP and main is None):
            background, small = overlay, None
        elif self.layout is Layout.MAIN:
            small = None
        if (
            background is not None
            and small is None
            and (background.width, background.height) == (self.width, self.height)
        ):
            return background.reformat(format="yuv420p")  # nothing to compose
        planes = self._canvas()
        if background is not None:
            self._place_fitted(planes, background, full)
        if small is not None:
            box_w = _even(self.width * self.pip_scale)
            box_h = _even(self.height * self.pip_scale)
            margin = _even(self.width * self.pip_margin)
            w, h = fit(small.width, small.height, box_w, box_h)
            self._place_fitted(
                planes, small, (self.width - w - margin, self.height - h - margin, w, h)
            )
        y, u, v = planes
        stacked = np.concatenate([y, u.reshape(-1, self.width), v.reshape(-1, self.width)])
        return av.VideoFrame.from_ndarray(stacked, format="yuv420p")
