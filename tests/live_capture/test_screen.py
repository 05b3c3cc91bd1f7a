from fractions import Fraction
from itertools import islice

import pytest

from media.errors import NoDeviceError
from media.sources import ScreenSource

from .conftest import XServer


def test_screen_capture_gives_frames_of_the_screen_size(xvfb: XServer) -> None:
    screen = ScreenSource(xvfb.display, fps=30)
    try:
        assert (screen.width, screen.height) == (640, 480)
        assert screen.fps == Fraction(30)
        frames = list(islice(screen.frames(), 10))
    finally:
        screen.close()
    assert len(frames) == 10
    assert {(f.width, f.height) for f in frames} == {(640, 480)}
    times = [float(f.time) for f in frames]
    assert times == sorted(times)


def test_missing_display_is_a_no_device_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(NoDeviceError, match="DISPLAY is not set"):
        ScreenSource()
    with pytest.raises(NoDeviceError, match="could not be captured"):
        ScreenSource(":987")


async def test_session_puts_an_overlay_over_the_screen(xvfb: XServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import numpy as np

    from media.mixer import Layout
    from studio.live.session import LiveOptions, LiveSession

    from .conftest import decode_video

    session = LiveSession()
    path = tmp_path / "pip.mkv"
    options = LiveOptions(
        video=f"screen:{xvfb.display}", overlay="testsrc", layout=Layout.PIP, audio=["none"],
        width=640, height=360, record_path=path,
    )  # fmt: skip
    await session.start(options)
    await asyncio.sleep(1.5)
    await session.stop()
    last = decode_video(path)[-1].to_ndarray(format="rgb24")
    overlay = last[280:340, 500:600]  # bottom right: the test pattern's colours
    screen = last[20:100, 20:200]  # top left: the (plain) X screen
    assert overlay.std() > 20
    assert screen.std() < overlay.std()
    assert np.abs(overlay.mean(axis=(0, 1)) - screen.mean(axis=(0, 1))).max() > 10


async def test_display_lost_mid_stream_is_reported_and_recording_goes_on(
    xvfb: XServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    import numpy as np

    from studio.live.session import LiveOptions, LiveSession

    from .conftest import decode_video

    session = LiveSession()
    path = tmp_path / "lost.mkv"
    options = LiveOptions(
        video=f"screen:{xvfb.display}", audio=["tone"], width=320, height=240, record_path=path
    )
    await session.start(options)
    await asyncio.sleep(1.0)
    xvfb.kill()
    await asyncio.sleep(1.5)
    assert session.state == "live"
    await session.stop()
    assert any("stopped delivering pictures" in m for m in session.messages)
    times = np.array([float(f.time) for f in decode_video(path)])
    assert times[-1] - times[0] == pytest.approx(session.elapsed_s, abs=0.4)
    assert np.diff(times).max() < 0.25  # black pictures after the loss, not a hole
