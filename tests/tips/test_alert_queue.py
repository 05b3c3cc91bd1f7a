"""The alert queue: one alert at a time, in order; skip, pause, mute, moderation, persistence."""

import asyncio
from pathlib import Path

import pytest

from studio.tips.alert_queue import DONE, DROPPED, SKIPPED, AlertQueue, QueuedAlert
from studio.tips.alert_rules import AlertLook, AlertRules, SpeechRules
from studio.tips.alerts import TipAlert
from studio.tips.store import AlertRecord
from tests.support.waiting import wait_until

COIN = 10**18
FAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"


def tip(n: int, message: str = "", wei: int = COIN) -> TipAlert:
    record = AlertRecord(
        tx_hash="0x" + f"{n:02x}" * 32,
        log_index=0,
        source="chain",
        alerted_at=1_700_000_000.0 + n,
        fan=FAN,
        fan_name=f"fan {n}",
        amount_wei=wei,
        message=message,
        status="confirmed",
        block_number=n,
    )
    return TipAlert(record, "tCORE2")


def short(seconds: float = 0.05, **changes) -> AlertRules:
    """Rules whose alerts last `seconds` (below the 0.5 s the settings allow: tests only)."""
    return AlertRules(default_look=AlertLook(duration_s=seconds), **changes)


class Recorder:
    def __init__(self, queue: AlertQueue) -> None:
        self.log: list[tuple[str, int]] = []
        self.played: list[QueuedAlert] = []
        self.finished: list[tuple[int, str]] = []
        queue.played.connect(self._played)
        queue.finished.connect(self._finished)

    def _played(self, alert: QueuedAlert) -> None:
        self.log.append(("play", alert.id))
        self.played.append(alert)

    def _finished(self, alert: QueuedAlert, how: str) -> None:
        self.log.append(("end", alert.id))
        self.finished.append((alert.id, how))


@pytest.fixture
async def queue_path(tmp_path: Path) -> Path:
    return tmp_path / "alert_queue.sqlite3"


async def test_alerts_of_every_kind_play_one_at_a_time_in_order_once(queue_path: Path) -> None:
    queue = AlertQueue(queue_path, short())
    seen = Recorder(queue)
    first = queue.offer_tip(tip(1, "hi"))
    follower = queue.offer_event("follower", "0xabc", "fan 9 follows you")
    assert queue.offer_tip(tip(1, "hi")) is None, "a tip is queued once"
    assert queue.offer_event("follower", "0xabc", "again") is None
    third = queue.offer_tip(tip(2))
    assert first and follower and third
    queue.start()
    try:
        await wait_until(lambda: len(seen.finished) == 3, what="three alerts")
    finally:
        await queue.stop()
    ids = [first.id, follower.id, third.id]
    assert seen.log == [x for i in ids for x in (("play", i), ("end", i))], "never overlapping"
    assert [a.kind for a in seen.played] == ["tip", "follower", "tip"]
    assert seen.played[0].text == "fan 1 tipped 1 tCORE2" and seen.played[0].message == "hi"
    assert seen.played[0].tip_alert() == tip(1, "hi")
    assert all(how == DONE for _, how in seen.finished)
    queue.close()


async def test_skip_ends_the_playing_alert_and_the_next_one_plays(queue_path: Path) -> None:
    queue = AlertQueue(queue_path, short(60))
    seen = Recorder(queue)
    a, b = queue.offer_tip(tip(1)), queue.offer_tip(tip(2))
    assert a and b
    assert not queue.skip(), "nothing playing yet"
    queue.start()
    try:
        await wait_until(lambda: queue.current is not None)
        assert queue.skip()
        await wait_until(lambda: queue.current is not None and queue.current.id == b.id)
        assert seen.finished == [(a.id, SKIPPED)]
    finally:
        await queue.stop()
    assert queue.state_of(a.id) == SKIPPED
    queue.close()


async def test_pause_lets_the_alert_finish_then_holds_the_rest_until_resumed(
    queue_path: Path,
) -> None:
    queue = AlertQueue(queue_path, short(0.3))
    seen = Recorder(queue)
    a = queue.offer_tip(tip(1))
    b = queue.offer_tip(tip(2))
    assert a and b
    queue.start()
    try:
        await wait_until(lambda: queue.current is not None)
        queue.set_paused(True)
        await wait_until(lambda: seen.finished == [(a.id, DONE)], what="the playing one ends")
        for _ in range(20):  # the loop runs again and again: still nothing plays
            await asyncio.sleep(0.02)
        assert queue.current is None and [p.id for p in seen.played] == [a.id]
        assert queue.waiting_count == 1
        queue.set_paused(False)
        await wait_until(lambda: len(seen.finished) == 2, what="b after resume")
    finally:
        await queue.stop()
    assert [p.id for p in seen.played] == [a.id, b.id]
    queue.close()


async def test_mute_plays_alerts_silently(queue_path: Path) -> None:
    queue = AlertQueue(queue_path, short(tts=SpeechRules(enabled=True, min_wei=0)))
    seen = Recorder(queue)
    queue.set_muted(True)
    queue.offer_tip(tip(1, "say this"))
    queue.start()
    try:
        await wait_until(lambda: len(seen.finished) == 1)
    finally:
        await queue.stop()
    assert seen.played[0].muted and seen.played[0].speech == "say this"
    assert not seen.played[0].public()["sound"] or not seen.played[0].look.sound
    queue.close()


async def test_nothing_is_shown_twice_or_lost_across_a_restart(queue_path: Path) -> None:
    queue = AlertQueue(queue_path, short(60))
    seen = Recorder(queue)
    ids = [queue.offer_tip(tip(n)).id for n in (1, 2, 3)]  # type: ignore[union-attr]
    queue.set_muted(True)
    queue.start()
    await wait_until(lambda: queue.current is not None)
    await queue.stop()  # the studio stops while the first alert is on screen
    queue.close()
    assert [p.id for p in seen.played] == [ids[0]]

    again = AlertQueue(queue_path, short())
    assert again.muted, "mute survives a restart"
    assert again.offer_tip(tip(1)) is None and again.offer_tip(tip(3)) is None
    after = Recorder(again)
    again.start()
    try:
        for n in (1, 2):  # each keeps the look it was queued with (60 s): skip it
            await wait_until(
                lambda n=n: len(after.played) == n, what=f"alert {n} after the restart"
            )
            assert again.skip()
        await wait_until(lambda: len(after.finished) == 2, what="the two left")
    finally:
        await again.stop()
    assert [p.id for p in after.played] == ids[1:], "the shown one is not shown again"
    assert [again.state_of(i) for i in ids] == [DONE, SKIPPED, SKIPPED]
    again.close()


async def test_an_alert_held_for_moderation_can_be_dropped(queue_path: Path) -> None:
    queue = AlertQueue(queue_path, short(moderation_delay_s=0.5))
    seen = Recorder(queue)
    bad = queue.offer_tip(tip(1, "something nasty"))
    good = queue.offer_tip(tip(2, "lovely"))
    assert bad and good
    assert not queue.drop(), "nothing held before the queue runs"
    queue.start()
    try:
        await wait_until(lambda: queue.held is not None and queue.held.id == bad.id)
        assert seen.played == [], "a held alert does not play"
        assert queue.drop()
        await wait_until(lambda: len(seen.finished) == 1, what="the good one")
    finally:
        await queue.stop()
    assert [p.id for p in seen.played] == [good.id]
    assert queue.state_of(bad.id) == DROPPED
    assert not queue.drop(good.id), "a played alert cannot be dropped"
    queue.close()


async def test_rules_pick_tier_message_and_speech(queue_path: Path) -> None:
    rules = short(
        min_wei=COIN // 10,
        message_min_wei=COIN,
        blocked_words=("darn",),
        largest_enabled=True,
        largest=AlertLook(duration_s=0.05, template="Record! {fan}: {amount} {message}"),
        tts=SpeechRules(enabled=True, min_wei=2 * COIN, max_chars=50),
    )
    queue = AlertQueue(queue_path, rules)
    quiet: list[QueuedAlert] = []
    queue.quiet.connect(quiet.append)
    assert queue.offer_tip(tip(1, "tiny", wei=COIN // 100)) is None, "under the minimum"
    assert [q.key for q in quiet] == ["tip:0x" + "01" * 32 + ":0"]
    small = queue.offer_tip(tip(2, "not shown", wei=COIN // 2))
    bigger = queue.offer_tip(tip(3, "darn good show <b>x</b> https://evil.example/a", wei=3 * COIN))
    blocked_speech = queue.offer_tip(tip(4, "darn it", wei=2 * COIN))
    plain = queue.offer_tip(tip(5, "thanks for the music", wei=2 * COIN))
    assert small and bigger and blocked_speech and plain
    assert small.message == "" and small.speech is None and small.tier == "default"
    assert bigger.tier == "largest", "beats the largest tip of the show so far"
    assert bigger.message == "**** good show <b>x</b> https://evil.example/a"
    assert bigger.text.startswith("Record! fan 3: 3 tCORE2 **** good show")
    assert bigger.speech is None, "a message with a blocked word is never spoken"
    assert blocked_speech.tier == "default", "not larger than 3"
    assert plain.speech == "thanks for the music"

    class Show:  # a LiveSession's signal, as the queue follows it
        def __init__(self) -> None:
            from studio.signals import Signal

            self.state, self.state_changed = "idle", Signal()

    show = Show()
    queue.follow_shows(show)
    show.state = "starting"
    show.state_changed.emit(show)
    first_of_show = queue.offer_tip(tip(6, wei=COIN // 5))
    second = queue.offer_tip(tip(7, wei=COIN // 4))
    assert first_of_show and second
    assert (first_of_show.tier, second.tier) == ("default", "largest")
    queue.close()
