"""The live pipeline's sound has no hole after its first 100 ms, even when a busy machine
holds up a source's thread for longer than the feed's margin."""

import time
from collections.abc import Iterator

import av
import numpy as np

from media.encoder import AudioSettings
from media.pipeline import LivePipeline
from media.sources import tone_source

from .audio_gaps import silent_stretches, timeline_gaps


class StalledTone:
    """A real-time tone whose thread is held up once for `stall_s` after `after_s`, as a
    loaded machine does; it then catches up, as every real-time source does."""

    sample_rate = 48_000
    channels = 2

    def __init__(self, after_s: float, stall_s: float) -> None:
        self.name = "Stalled tone"
        self._tone = tone_source(440.0, -20.0)
        self._after, self._stall = after_s, stall_s

    def blocks(self) -> Iterator[np.ndarray]:
        played = 0
        for block in self._tone.blocks():
            if played <= self._after * self.sample_rate < played + len(block):
                time.sleep(self._stall)
            played += len(block)
            yield block

    def close(self) -> None:
        self._tone.close()


def test_sound_has_no_hole_when_its_source_is_held_up() -> None:
    pipeline = LivePipeline(None, AudioSettings(), audio_sources=[StalledTone(0.6, 0.12)])
    assert pipeline.audio_encoder is not None
    packets: list[av.Packet] = []
    pipeline.audio_encoder.packets.subscribe(packets.append)
    pipeline.start()
    time.sleep(1.5)
    pipeline.stop()

    assert timeline_gaps([(p.pts, p.duration) for p in packets], packets[0].time_base) == []
    decoder = av.CodecContext.create("opus", "r")
    sound = np.concatenate([f.to_ndarray().T for p in packets for f in decoder.decode(p)])
    assert len(sound) / 48_000 >= 1.4
    assert silent_stretches(sound, 48_000) == []
    assert pipeline.audio_feeds[0].underruns == 0
