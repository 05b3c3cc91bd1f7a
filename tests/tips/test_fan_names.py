"""Fans by name: a chain tip is shown under the fan's profile name on the real backend (tray
title, feed), under a short address when the fan has none or the backend is away."""

import logging
from pathlib import Path

import pytest
from eth_account import Account

from backend.wire import ProfileIn
from studio.local_backend import free_port
from studio.social.backend_client import BackendClient
from studio.tips.alerts import TipAlerts
from studio.tips.fan_names import FanNames, profile_lookup
from studio.tips.format import short_address
from studio.tips.revenue import summarize
from studio.tips.sound import TipSound
from studio.tips.store import CONFIRMED, Tip, TipStore
from tests.studio_chat.conftest import CHAIN_ID, key_signer, serve_backend
from tests.support.waiting import wait_until
from widgets.tips.alerts_feed import AlertsFeed
from widgets.tips.revenue_dashboard import RevenueDashboard
from widgets.tips.tip_notifier import TipNotifier

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def chain_tip(n: int, fan: str, wei: int = 10**18) -> Tip:
    return Tip(
        "0x" + f"{n:02x}" * 32, 0, n, "0x" + "ee" * 32, 1_700_000_000, ARTIST, fan, wei,
        f"tip {n}", CONFIRMED,
    )  # fmt: skip


def tray_titles(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.title for r in caplog.records if getattr(r, "event", "") == "tray_message"]


async def test_chain_tips_show_the_fans_profile_name_or_a_short_address(
    tmp_path: Path, qtbot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    store = TipStore(tmp_path / "tips.sqlite3")
    async with serve_backend(tmp_path) as backend:
        ann_key, nameless = Account.create(), Account.create()
        ann = BackendClient(backend.url, key_signer(ann_key), chain_id=CHAIN_ID)
        studio = BackendClient(backend.url, None, chain_id=CHAIN_ID)  # profiles are public
        try:
            await ann.sign_in()
            await ann.save_profile(ProfileIn(role="fan", display_name="Ann\u202e <i>Rivers</i>"))
            alerts = TipAlerts(store, ARTIST, "tCORE2")
            alerts.names = FanNames(profile_lookup(studio))
            alerts.name_wait_s = 30  # behaviour, not speed: the name always comes in time
            feed = AlertsFeed()
            qtbot.addWidget(feed)
            notifier = TipNotifier(None, alerts, feed, TipSound(enabled=False))

            alerts.on_chain_tip(chain_tip(1, ann_key.address))
            await wait_until(lambda: len(feed.entries()) == 1, what="Ann's tip in the feed")
            alerts.on_chain_tip(chain_tip(2, nameless.address, 5))
            await wait_until(lambda: len(feed.entries()) == 2, what="the nameless tip")
            alerts.on_chain_tip(chain_tip(3, ann_key.address))  # known now: shown at once
            assert len(feed.entries()) == 3

            # a name slower than the wait: shown by address first, then named in place
            bea_key = Account.create()
            bea = BackendClient(backend.url, key_signer(bea_key), chain_id=CHAIN_ID)
            await bea.sign_in()
            await bea.save_profile(ProfileIn(role="fan", display_name="Bea"))
            await bea.aclose()
            alerts.name_wait_s = 0
            alerts.on_chain_tip(chain_tip(4, bea_key.address))
            await wait_until(lambda: len(feed.entries()) == 4, what="Bea's tip")
            await wait_until(
                lambda: feed.entries()[0].startswith("Bea tipped"), what="Bea's name in the feed"
            )
        finally:
            await ann.aclose()
            await studio.aclose()
    assert tray_titles(caplog) == [
        "Tip from Ann ‹i›Rivers‹/i›: 1 tCORE2",
        f"Tip from {short_address(nameless.address)}: 0.000000000000000005 tCORE2",
        "Tip from Ann ‹i›Rivers‹/i›: 1 tCORE2",
        f"Tip from {short_address(bea_key.address)}: 1 tCORE2",
    ]
    assert feed.entries()[3].startswith("Ann <i>Rivers</i> tipped 1 tCORE2")
    assert feed.entries()[2].startswith(f"{short_address(nameless.address)} tipped")
    # the name is kept with the alert: the history after a restart shows it too
    labels = {a.record.tx_hash: a.fan_label for a in alerts.history()}
    assert labels["0x" + "01" * 32] == "Ann <i>Rivers</i>" and labels["0x" + "04" * 32] == "Bea"

    # the Revenue page's top supporters by name too
    dashboard = RevenueDashboard("tCORE2")
    qtbot.addWidget(dashboard)
    tips = [
        chain_tip(1, ann_key.address), chain_tip(2, nameless.address, 5),
        chain_tip(3, ann_key.address), chain_tip(4, bea_key.address, 10**17),
    ]  # fmt: skip
    dashboard.show_summary(summarize(tips, names=store.fan_names()), None)
    rows = [dashboard.supporters.item(r, 0).text() for r in range(3)]
    assert rows == ["Ann <i>Rivers</i>", "Bea", short_address(nameless.address)]
    assert dashboard.supporters.item(0, 0).toolTip().startswith(ann_key.address)
    notifier.close()
    store.close()


async def test_a_backend_that_is_away_leaves_the_short_address_and_loses_nothing(
    tmp_path: Path, qtbot
) -> None:
    store = TipStore(tmp_path / "tips.sqlite3")
    away = BackendClient(f"http://127.0.0.1:{free_port()}", None, chain_id=CHAIN_ID)
    fan = Account.create().address
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    alerts.names = FanNames(profile_lookup(away))
    shown: list[str] = []
    alerts.alerted.connect(lambda alert: shown.append(alert.fan_label))
    try:
        alerts.on_chain_tip(chain_tip(1, fan))
        await wait_until(lambda: len(shown) == 1, what="the tip shown without a name")
    finally:
        await away.aclose()
    assert shown == [short_address(fan)]
    assert store.alert(("0x" + "01" * 32, 0)) is not None
    store.close()


async def test_tips_are_shown_in_the_order_they_came_whoever_is_named_first(
    tmp_path: Path,
) -> None:
    """A slow name lookup for the first fan must not let a later, already-named tip jump
    ahead (the tray showed a tip's 1 wei before the 0.5 coin sent first)."""
    import asyncio

    store = TipStore(tmp_path / "tips.sqlite3")
    slow, known = Account.create().address, Account.create().address

    async def lookup(address: str) -> str | None:
        if address == slow:
            await asyncio.sleep(0.1)
            return "Slow"
        return "Known"

    alerts = TipAlerts(store, ARTIST, "tCORE2")
    alerts.names = FanNames(lookup)
    alerts.name_wait_s = 30
    await alerts.names.resolve(known)  # this fan's name is already known
    shown: list[str] = []
    alerts.alerted.connect(lambda alert: shown.append(alert.fan_label))
    alerts.on_chain_tip(chain_tip(1, slow))
    alerts.on_chain_tip(chain_tip(2, known))
    await wait_until(lambda: len(shown) == 2, what="both tips shown")
    assert shown == ["Slow", "Known"]
    store.close()
