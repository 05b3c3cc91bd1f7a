"""attach_tips on the real main window (offscreen) with the tips stack on anvil."""

import asyncio
from pathlib import Path

from chain.networks import custom_network
from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings
from studio.tips.service import TipService
from tests.support.waiting import wait_until
from tests.tips.conftest import TipChain
from widgets.main_window import MainWindow
from widgets.tips.tips_ui import attach_tips


async def test_window_gets_the_feed_dock_and_a_live_revenue_page(
    qtbot, tip_chain: TipChain, tmp_path: Path
) -> None:
    settings = Settings.open(tmp_path / "settings.toml")
    studio = Studio(load_profile("local"), settings, tmp_path / "data", tmp_path / "log")
    window = MainWindow(studio)
    qtbot.addWidget(window)
    network = custom_network(
        tip_chain.node.http_url, 1114, symbol="tCORE2", contracts={"tipping": tip_chain.address}
    )
    tips = TipService(network, tip_chain.artist.address, tmp_path, poll_interval_s=0.05)
    ui = attach_tips(window, None, tips, session=None, sound=False)
    dock = window.docks["alerts"].widget()  # the queue's controls above the feed
    assert ui.notifier.feed is not None and ui.notifier.feed.parent() is dock
    assert ui.notifier.controls is not None and ui.notifier.controls.parent() is dock
    assert window.pages["revenue"] is ui.dashboard
    assert not ui.dashboard.withdraw_button.isEnabled(), "no wallet session, no Withdraw"

    await tips.start()
    try:
        await asyncio.to_thread(tip_chain.tip, tip_chain.fans[0], 5 * 10**17, "<b>bravo</b>")
        await wait_until(lambda: len(ui.notifier.feed.entries()) == 1)  # type: ignore[union-attr]

        def dashboard_updated() -> bool:
            qtbot.wait(10)  # let queued signals reach the widgets
            return ui.dashboard.received_label.text().startswith("0.5 tCORE2")

        await wait_until(dashboard_updated, what="the dashboard")
        assert ui.dashboard.export_to(tmp_path / "tips.csv") == 1
    finally:
        await tips.stop()
    assert ui.notifier.feed.entries()[0].endswith("\n<b>bravo</b>")  # type: ignore[union-attr]
    assert ui.dashboard.lifetime_label.text() == "0.5 tCORE2"
