"""The program: audio channels summed with gain/mute through a limiter, and the picture
composed from a main source with an optional picture-in-picture overlay (the layouts of before
scenes; the pipeline composes scenes with media.compositor).

Both run on the output clock (see media.pipeline); neither waits on a device.
"""

import threading
from dataclasses import dataclass, field

import av
import numpy as np

from media.compositor import SceneCompositor
from media.feeds import AudioFeed
from media.limiter import Limiter
from media.meters import MeterReading, ProgramMeter, peak_rms_db
from media.scenes import Layout, SceneSet, layout_scene

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


class VideoCompositor:
    """The three layouts of before scenes (media.scenes.layout_scene), for callers that
    compose a main picture and an overlay directly."""

    def __init__(self, width: int, height: int, layout: Layout = Layout.PIP) -> None:
        self.width, self.height = width, height
        self.layout = layout
        aspect = width / height
        self._compositors = {
            lay: SceneCompositor(width, height, SceneSet((layout_scene(lay, aspect, False),)))
            for lay in Layout
        }

    def compose(self, main: av.VideoFrame | None, overlay: av.VideoFrame | None) -> av.VideoFrame:
        """The program picture. A missing source leaves black (or the other source alone)."""
        layout = self.layout
        if layout is Layout.PIP and main is None:
            layout = Layout.OVERLAY
        return self._compositors[layout].compose({"video": main, "overlay": overlay})
