"""The WHIP figures a feed keeps over its connections (the Stats dock's WHIP row): pictures a
connection lost because it fell behind, not those from before its first keyframe, and
pictures its sender took late."""

import asyncio
from fractions import Fraction

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from media.whip_feed import LATE_AFTER_S, MAX_QUEUED, Feed


class QueueSource(MediaStreamTrack):
    """Already-encoded pictures put in by the test."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[av.Packet | None] = asyncio.Queue()

    def put(self, pts: int, key: bool) -> None:
        packet = av.Packet(bytes(10))
        packet.pts, packet.time_base, packet.is_keyframe = pts, Fraction(1, 30), key
        self.queue.put_nowait(packet)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        packet = await self.queue.get()
        if packet is None:
            raise MediaStreamError
        return packet


async def test_a_feed_counts_the_pictures_its_connections_lost_or_sent_late() -> None:
    source = QueueSource()
    feed = Feed(source)
    feed.start()
    connection = feed.attach()
    try:
        for pts in range(3):  # before the connection's first keyframe: nobody's loss
            source.put(pts, key=False)
        await asyncio.sleep(0.05)
        assert feed.dropped == 0
        # a keyframe and 30 more pictures the sender does not take: the last finds the
        # queue full, all queued go, and it goes too (no keyframe to start again from)
        full = MAX_QUEUED["video"]
        for pts in range(3, 3 + full + 1):
            source.put(pts, key=pts == 3)
        await asyncio.sleep(0.05)
        assert feed.dropped == full + 1
        source.put(100, key=True)  # the connection starts again at a keyframe
        await asyncio.sleep(LATE_AFTER_S + 0.1)  # ...that its sender takes only now
        assert (await connection.recv()).pts == 100
        assert feed.late == 1 and feed.dropped == full + 1
    finally:
        connection.stop()
        source.queue.put_nowait(None)
        await feed.stop()
