"""The Go Live panel's restream rows offscreen (pytest-qt), on a real LiveSession, a real
keyring and a real nginx-rtmp: switched on from Settings, key typed once, state shown."""

import asyncio
from pathlib import Path

import pytest

qasync = pytest.importorskip("qasync")

from harness.nginx_rtmp import NginxRtmp  # noqa: E402
from studio.live.restream import StreamKeyVault  # noqa: E402
from studio.live.session import LiveSession  # noqa: E402
from studio.settings import Settings  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402
from widgets.live.golive_panel import GoLivePanel  # noqa: E402

from .conftest import read_back  # noqa: E402


def test_panel_restreams_and_shows_each_state(  # type: ignore[no-untyped-def]
    qtbot,
    qasync_loop,
    tmp_path: Path,
    nginx_rtmp: NginxRtmp,
    stream_keys: StreamKeyVault,
    artifacts_dir: Path,
) -> None:
    settings = Settings.open(tmp_path / "settings.toml")
    settings.set_path("restream.twitch.enabled", True)
    settings.set_path("restream.twitch.url", nginx_rtmp.server_url)
    settings.set_path("restream.custom.enabled", True)
    settings.set_path("restream.custom.url", "rtmp://127.0.0.1:1/live")  # nobody listens
    settings.set_path("video.width", 320)
    settings.set_path("video.height", 180)
    settings.save()
    session = LiveSession(stream_keys=stream_keys)
    panel = GoLivePanel(session, runner=qasync_loop.create_task, settings=settings)
    qtbot.addWidget(panel)
    panel.resize(1000, 700)
    panel.show()
    rows = {row.choice.service.id: row for row in panel.restream.rows}
    assert [r.enabled.isChecked() for r in rows.values()] == [False, True, True]
    rows["twitch"].key.setText("twitch-key-typed")
    rows["custom"].key.setText("custom-key")
    panel.record.setChecked(False)
    panel.title.setText("Restream night")

    async def scenario() -> None:
        panel.go_live.click()
        await wait_until(lambda: session.restream_states.get("Twitch") == "live", 30, "Twitch")
        assert rows["twitch"].state.text() == "● live"
        assert panel.live_badge.text() == "● LIVE"  # on air through the restream alone
        assert not rows["twitch"].key.isEnabled()  # settings are locked while live
        got = await asyncio.get_running_loop().run_in_executor(
            None, read_back, nginx_rtmp.url("twitch-key-typed"), 30
        )
        assert got.error is None and got.frames == 30
        # the dead custom server: refused, retried with backoff
        await wait_until(lambda: session.restream_states.get("Custom") == "reconnecting", 15)
        assert rows["custom"].state.text() == "reconnecting…"
        assert rows["twitch"].state.text() == "● live"  # unaffected
        assert rows["youtube"].state.text() == ""  # off for this show
        panel.grab().save(str(artifacts_dir / "golive_restream.png"))
        panel.end.click()
        await wait_until(lambda: session.state == "ended", 20, "the show to end")

    qasync_loop.run_until_complete(scenario())
    assert session.state == "ended"
    assert stream_keys.key("twitch") == "twitch-key-typed"
    assert "twitch-key-typed" not in panel.message_label.text()
