"""The soak's figures on inputs with known answers: a recording with holes punched in its
audio, frame-count samples with a stall."""

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from harness.soak import audio_gaps, worst_window, worst_window_fps

RATE = 48_000
FRAME = 960  # 20 ms


def record_with_holes(path: Path, seconds: float, holes: dict[float, float]) -> None:
    """Opus in Matroska, like the studio's recordings; at each `at` second, `length` seconds
    of audio are missing (the pts jump over them)."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("libopus", rate=RATE, layout="stereo")
        pts = 0
        skipped = set()
        while pts < seconds * RATE:
            for at, length in holes.items():
                if at not in skipped and pts >= at * RATE:
                    skipped.add(at)
                    pts += int(length * RATE)
            samples = np.zeros((1, 2 * FRAME), dtype=np.int16)
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = RATE, pts, Fraction(1, RATE)
            for packet in stream.encode(frame):
                container.mux(packet)
            pts += FRAME
        for packet in stream.encode(None):
            container.mux(packet)


def test_gaps_after_the_first_second_are_counted_and_those_before_are_not(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "holes.mkv"
    record_with_holes(path, 6.0, {0.5: 0.2, 2.0: 0.1, 4.0: 0.5})
    gaps = audio_gaps(path)
    assert [round(g, 2) for g in gaps] == [0.1, 0.5]


def test_a_clean_recording_has_no_gap(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "clean.mkv"
    record_with_holes(path, 5.0, {})
    assert audio_gaps(path) == []


def test_a_hole_just_over_20_ms_counts(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "small.mkv"
    record_with_holes(path, 4.0, {2.0: 0.04})
    assert len(audio_gaps(path)) == 1


def test_worst_window_finds_a_stall_and_ignores_the_wait_for_the_first_frame() -> None:
    samples = [(float(t), 0) for t in range(5)]  # connecting: not counted
    frames = 0
    for t in range(5, 60):
        frames += 0 if 30 <= t < 33 else 30  # a 3-second stall
        samples.append((float(t), frames))
    assert worst_window_fps(samples) == pytest.approx(21.0)
    steady = [(float(t), 30 * t) for t in range(1, 40)]
    assert worst_window_fps(steady) == pytest.approx(30.0)
    assert worst_window_fps([(0.0, 0), (12.0, 0)]) == 0.0
    fps, at = worst_window(samples)
    assert fps == pytest.approx(21.0) and 20.0 <= at <= 30.0  # a stretch holding the stall


def test_frames_sent_add_up_across_reconnects(tmp_path: Path) -> None:
    """The publisher counts frames per connection: a reconnect starts again from 0."""
    import json

    from harness.soak import SoakResult, _studio_health
    from harness.studio_process import log_path

    env = {"XDG_STATE_HOME": str(tmp_path)}
    log = log_path(env)
    log.parent.mkdir(parents=True)
    stats = [(0, 0, 0), (10, 300, 0), (20, 600, 0), (30, 200, 1), (40, 500, 1), (50, 800, 1)]
    log.write_text(
        "".join(
            json.dumps({"event": "live_stats", "elapsed_s": t, "frames_sent": n, "reconnects": r})
            + "\n"
            for t, n, r in stats
        )
    )
    result = SoakResult(minutes=1.0)
    _studio_health(env, result)
    assert result.whip_reconnects == 1
    assert result.min_fps_sent is not None and result.min_fps_sent >= 20.0  # never negative
