"""Every subscriber of an encoder's fan-out owns its packets: nothing crosses threads shared."""

from itertools import islice

import av

from media.encoder import VideoEncoder, VideoSettings
from media.packet_fanout import PacketFanout
from media.sources import pattern_source


def test_each_subscriber_gets_its_own_packet_with_its_own_data() -> None:
    encoder = VideoEncoder(VideoSettings(width=160, height=120, keyframe_interval_s=1.0))
    recorder_side: list[av.Packet] = []
    network_side: list[av.Packet] = []
    encoder.packets.subscribe(recorder_side.append)
    encoder.packets.subscribe(network_side.append)
    source = pattern_source(160, 120, 30, realtime=False)
    kept: list[av.Packet] = []
    for index, frame in enumerate(islice(source.frames(), 31)):
        kept += encoder.encode(frame, index)
    source.close()

    assert len(kept) == len(recorder_side) == len(network_side) == 31
    for mine, a, b in zip(kept, recorder_side, network_side, strict=True):
        assert len({id(mine), id(a), id(b)}) == 3  # three objects...
        assert len({mine.buffer_ptr, a.buffer_ptr, b.buffer_ptr}) == 3  # ...three buffers
        assert bytes(a) == bytes(b) == bytes(mine)
        assert (a.pts, a.dts, a.duration, a.is_keyframe, a.time_base) == (
            mine.pts, mine.dts, mine.duration, mine.is_keyframe, mine.time_base,
        )  # fmt: skip
    # What one subscriber does to its packet (the recorder rebases and muxes in place) the
    # other never sees.
    recorder_side[30].pts -= 30
    assert network_side[30].pts == kept[30].pts == 30
    assert [p.pts for p in network_side if p.is_keyframe] == [0, 30]


def test_a_failing_subscriber_is_dropped_and_the_others_still_get_copies() -> None:
    from media.packet_fanout import copy_packet

    fanout = PacketFanout("test")
    got: list[av.Packet] = []

    def broken(packet: av.Packet) -> None:
        raise RuntimeError("boom")

    fanout.subscribe(broken)
    fanout.subscribe(got.append)
    original = av.Packet(b"\x01\x02\x03")
    original.pts = 7
    fanout.publish(original)
    fanout.publish(original)
    assert fanout.subscriber_count == 1
    assert [bytes(p) for p in got] == [b"\x01\x02\x03"] * 2
    assert all(p is not original and p.pts == 7 for p in got)
    assert copy_packet(original).buffer_ptr != original.buffer_ptr
