"""The on-stream alert box: drawn into yuv420p frames for a few seconds, fading, queued."""

import av
import numpy as np

from media.alert_overlay import AlertOverlay, render_box

W, H = 1280, 720


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def black_frame() -> av.VideoFrame:
    array = np.concatenate([np.full((H, W), 16, np.uint8), np.full((H // 2, W), 128, np.uint8)])
    return av.VideoFrame.from_ndarray(array, format="yuv420p")


def luma(frame: av.VideoFrame) -> np.ndarray:
    return frame.to_ndarray()[:H]


def test_no_alert_leaves_the_frame_untouched() -> None:
    overlay = AlertOverlay()
    frame = black_frame()
    assert overlay.apply(frame) is frame


def test_alert_is_drawn_fades_and_ends_then_the_next_one_plays() -> None:
    clock = Clock()
    overlay = AlertOverlay(duration_s=5.0, clock=clock)
    overlay.show("Tip from 0x3C44…93BC: 1 tCORE2", "<b>thanks</b> for the set!")
    overlay.show("Tip from Alice: 2 tCORE2", "second")

    first = luma(overlay.apply(black_frame()))  # t = 0: fading in, fully transparent
    assert (first == 16).all()
    clock.now += 1.0
    shown = luma(overlay.apply(black_frame()))
    changed = np.argwhere(shown != 16)
    top, left = changed.min(axis=0)
    bottom, right = changed.max(axis=0)
    assert 0.35 * W < right - left < 0.45 * W, "the box is about 42 % of the width"
    assert top < H * 0.1 and bottom < H * 0.4, "near the top"
    assert abs((left + right) / 2 - W / 2) < 8, "centred"
    assert shown.max() > 200, "white title glyphs"
    assert (shown[H // 2 :] == 16).all(), "nothing outside the box"

    clock.now += 3.85  # 0.15 s before the end: fading out
    fading = luma(overlay.apply(black_frame()))
    assert 16 < fading.max() < shown.max()
    clock.now += 0.2  # the first is over; the second starts (transparent at its start)
    assert (luma(overlay.apply(black_frame())) == 16).all()
    clock.now += 1.0
    assert luma(overlay.apply(black_frame())).max() > 200
    assert overlay.shown == 2
    clock.now += 10
    overlay.apply(black_frame())
    assert not overlay.active


def test_ten_kilobytes_of_text_stay_within_three_lines() -> None:
    short = render_box("Tip", "hello", W)
    long = render_box("Tip", "word " * 2000 + "x" * 5000, W)
    assert long.shape[1] == short.shape[1]
    assert long.shape[0] < short.shape[0] + 3 * 40
    assert long.shape[0] % 2 == 0 and long.shape[1] % 2 == 0
    unbroken = render_box("T" * 400, "y" * 10_000, W)
    assert unbroken.shape[0] < 300


def test_small_frames_and_timestamps_survive() -> None:
    clock = Clock()
    overlay = AlertOverlay(clock=clock)
    overlay.show("Tip", "small")
    clock.now += 0.01
    frame = av.VideoFrame.from_ndarray(np.zeros((180 * 3 // 2, 320), np.uint8), format="yuv420p")
    frame.pts = 42
    clock.now += 1
    out = overlay.apply(frame)
    assert (out.width, out.height, out.pts) == (320, 180, 42)


def test_tip_alerts_reach_the_overlay_only_while_enabled(tmp_path) -> None:
    from studio.tips.alerts import TipAlerts
    from studio.tips.overlay import TipOverlayLink
    from studio.tips.store import Tip, TipStore

    artist, fan = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x" + "3c" * 20
    store = TipStore(tmp_path / "tips.sqlite3")
    alerts = TipAlerts(store, artist, "tCORE2")
    overlay = AlertOverlay()
    link = TipOverlayLink(alerts, overlay, enabled=False)

    def tip(n: int, message: str) -> Tip:
        return Tip("0x" + f"{n:02x}" * 32, 0, n, "0x" + "ee" * 32, 1, artist, fan, 1, message)

    alerts.on_chain_tip(tip(1, "hidden"))
    assert not overlay.active
    link.enabled = True
    alerts.on_chain_tip(tip(2, "<b>on stream</b>\u202e"))
    assert list(overlay._queue) == [
        ("0x3c3c…3c3c tipped 0.000000000000000001 tCORE2", "<b>on stream</b>", 6.0)
    ]
    link.close()
    store.close()


def test_the_queue_sets_how_long_a_box_plays_and_skip_ends_it(tmp_path) -> None:
    from studio.tips.alert_queue import DONE, SKIPPED, AlertQueue
    from studio.tips.alert_rules import AlertLook, AlertRules
    from studio.tips.overlay import TipOverlayLink

    queue = AlertQueue(tmp_path / "q.sqlite3", AlertRules(default_look=AlertLook(duration_s=2)))
    clock = Clock()
    overlay = AlertOverlay(duration_s=6.0, clock=clock)
    link = TipOverlayLink(queue, overlay)
    first = queue.offer_event("follower", "a", "fan a follows you")
    second = queue.offer_event("follower", "b", "fan b follows you")
    assert first and second
    queue.played.emit(first)  # what the queue's player does as the alert's turn comes
    overlay.apply(black_frame())  # the next picture starts the box
    clock.now += 1.0
    assert luma(overlay.apply(black_frame())).max() > 200
    clock.now += 1.05  # the queue's 2 s, not the overlay's own 6 s
    queue.finished.emit(first, DONE)
    overlay.apply(black_frame())
    assert not overlay.active
    queue.played.emit(second)
    overlay.apply(black_frame())
    clock.now += 1.0
    assert luma(overlay.apply(black_frame())).max() > 200
    queue.finished.emit(second, SKIPPED)  # Skip ends the box on stream at once
    assert not overlay.active and (luma(overlay.apply(black_frame())) == 16).all()
    link.close()
    queue.close()
