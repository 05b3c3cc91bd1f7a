"""The automatic step-down policy (studio.live.stepdown): when the encoder stays too busy or
the network keeps losing packets, one step down at a time, then time to show its effect."""

import pytest

from studio.live.stepdown import (
    HOLD_S,
    LOSS_WINDOW_S,
    LOSSY_SECONDS,
    OVERLOAD_S,
    Quality,
    StepDownPolicy,
    next_height,
    smaller,
)

HD = Quality(1920, 1080, 6_000_000)


def busy(policy: StepDownPolicy, seconds: int, load: float = 120.0) -> list:
    return [s for s in (policy.observe(load) for _ in range(seconds)) if s is not None]


def test_a_busy_encoder_steps_the_resolution_down_the_ladder_and_stops_at_the_bottom() -> None:
    policy = StepDownPolicy(HD)
    assert busy(policy, OVERLOAD_S - 1) == []  # not yet ten seconds
    [step] = busy(policy, 1)
    assert (step.before, step.after, step.reason) == (HD, Quality(1280, 720, 6_000_000), "encoder")
    assert "encoder was over 90 % busy for 10 s" in step.message
    assert "now 1280×720 (was 1920×1080)" in step.message
    assert "recording go on" in step.message
    assert busy(policy, HOLD_S + OVERLOAD_S - 1) == []  # the new picture's own figures first
    [step] = busy(policy, 1)
    assert step.after == Quality(960, 540, 6_000_000)
    steps = busy(policy, 10 * (HOLD_S + OVERLOAD_S))
    assert [s.after.height for s in steps] == [360]  # and then no rung is left
    assert [s.after.height for s in policy.steps] == [720, 540, 360]
    assert policy.current == Quality(640, 360, 6_000_000)


def test_a_moment_of_load_or_an_unknown_load_never_steps_down() -> None:
    policy = StepDownPolicy(HD)
    for _ in range(5):
        assert busy(policy, OVERLOAD_S - 1) == []
        assert policy.observe(40.0) is None  # the run of busy seconds is broken
        assert policy.observe(None) is None
    assert policy.steps == [] and policy.current == HD


def test_persistent_packet_loss_lowers_the_bitrate_not_the_size() -> None:
    policy = StepDownPolicy(Quality(1280, 720, 2_500_000))
    # one bad second in ten is not persistent: no step
    for second in range(LOSS_WINDOW_S * 3):
        assert policy.observe(50.0, lost=300 if second % 10 == 0 else 0, sent=1000) is None
    steps = [policy.observe(50.0, lost=50, sent=1000) for _ in range(LOSSY_SECONDS)]
    assert steps[:-1] == [None] * (LOSSY_SECONDS - 1)  # 5 % lost in half the last 10 s: a step
    step = steps[-1]
    assert step is not None and step.reason == "network"
    assert step.after == Quality(1280, 720, 1_875_000)
    assert "bitrate is now 1,875 kbit/s (was 2,500 kbit/s)" in step.message
    for _ in range(20 * (HOLD_S + LOSS_WINDOW_S)):  # loss that never ends: down to the floor
        policy.observe(50.0, lost=50, sent=1000)
    assert policy.current.bitrate == 300_000 and policy.current.height == 720


def test_loss_under_the_limit_keeps_the_bitrate() -> None:
    policy = StepDownPolicy(Quality(1280, 720, 2_500_000))
    for _ in range(5 * LOSS_WINDOW_S):
        assert policy.observe(50.0, lost=1, sent=1000) is None  # 0.1 %: every second, but small


@pytest.mark.parametrize(
    ("start", "heights"),
    [(1080, [720, 540, 360]), (900, [720, 540, 360]), (720, [540, 360]), (360, []), (240, [])],
)
def test_the_ladder_from_any_height(start: int, heights: list[int]) -> None:
    found, height = [], next_height(start)
    while height is not None:
        found.append(height)
        height = next_height(height)
    assert found == heights


def test_a_smaller_picture_keeps_its_aspect_ratio_with_even_sides() -> None:
    assert smaller(Quality(1280, 720, 1), 540) == Quality(960, 540, 1)
    assert smaller(Quality(1440, 1080, 1), 720) == Quality(960, 720, 1)  # 4:3
    assert smaller(Quality(2560, 1080, 1), 360).width % 2 == 0  # 21:9 -> 854, even
