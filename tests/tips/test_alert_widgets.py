"""The alert feed and the tray notifier, offscreen with pytest-qt."""

import html
import logging

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel

from studio.core import Studio
from studio.profiles import load_profile
from studio.settings import Settings
from studio.tips.alerts import TipAlert, TipAlerts
from studio.tips.sound import TipSound, chime
from studio.tips.store import CONFIRMED, PENDING, AlertRecord, Tip, TipStore
from widgets.main_window import MainWindow
from widgets.tips.alerts_feed import AlertsFeed
from widgets.tips.tip_notifier import TipNotifier, attach

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
MARKUP = "<b>bold</b> <a href='https://x.y'>link</a> &amp;"


def record(n: int, message: str = "", status: str = CONFIRMED, wei: int = 10**18) -> AlertRecord:
    return AlertRecord(
        tx_hash="0x" + f"{n:02x}" * 32,
        log_index=0,
        source="chain",
        alerted_at=1_700_000_000.0 + n,
        fan=FAN,
        fan_name=None,
        amount_wei=wei,
        message=message,
        status=status,
        block_number=n,
    )


def tip(n: int, message: str = "", status: str = CONFIRMED, wei: int = 10**18) -> Tip:
    r = record(n, message, status, wei)
    return Tip(r.tx_hash, 0, n, "0x" + "ee" * 32, 1_700_000_000, ARTIST, FAN, wei, message, status)


def test_feed_lists_newest_first_as_plain_text(qtbot) -> None:
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    assert feed.empty.isVisibleTo(feed)
    feed.load([TipAlert(record(1, "one"), "ETH"), TipAlert(record(2, MARKUP), "ETH")])
    feed.add(TipAlert(record(3, "", wei=1), "ETH"))
    entries = feed.entries()
    assert entries[0] == "0x3C44…93BC tipped 0.000000000000000001 ETH"
    assert entries[1] == f"0x3C44…93BC tipped 1 ETH\n{MARKUP}", "markup shown as typed"
    assert entries[2].endswith("\none")
    assert not feed.empty.isVisibleTo(feed)

    item = feed.list.item(1)
    assert item.toolTip() == f"<p style='white-space:pre-wrap'>{html.escape(MARKUP)}</p>"
    feed.list.setCurrentItem(item)
    assert feed.detail.textFormat() == Qt.TextFormat.PlainText
    assert feed.detail.text().endswith(MARKUP)
    assert all(label.textFormat() == Qt.TextFormat.PlainText for label in feed.findChildren(QLabel))


def test_feed_updates_status_in_place_and_ignores_repeats(qtbot) -> None:
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    feed.add(TipAlert(record(1, "hey", status=PENDING), "ETH", fiat="≈ 2.00 USD"))
    assert "[pending]" in feed.entries()[0]
    feed.add(TipAlert(record(1, "hey", status=CONFIRMED), "ETH"))
    assert len(feed.entries()) == 1
    assert feed.entries()[0] == "0x3C44…93BC tipped 1 ETH (≈ 2.00 USD)\nhey"


def test_ten_kilobyte_message_is_capped_in_the_list_and_whole_in_the_detail(qtbot) -> None:
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    message = "a" * 10_240
    feed.add(TipAlert(record(1, message), "ETH"))
    assert len(feed.entries()[0]) < 600
    feed.list.setCurrentRow(0)
    assert feed.detail.text().endswith(message)


@pytest.fixture
def store(tmp_path) -> TipStore:
    s = TipStore(tmp_path / "tips.sqlite3")
    yield s
    s.close()


def test_notifier_logs_tray_messages_fills_the_feed_and_does_not_repeat(
    qtbot, store, caplog
) -> None:
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    feed = AlertsFeed()
    qtbot.addWidget(feed)
    notifier = TipNotifier(None, alerts, feed, TipSound(enabled=False))
    caplog.set_level(logging.INFO, logger="widgets.tips.tip_notifier")
    alerts.on_chain_tip(tip(1, "first"))
    alerts.on_chain_tip(tip(2, MARKUP, wei=1))
    alerts.on_chain_tip(tip(1, "first"))
    trays = [r for r in caplog.records if getattr(r, "event", "") == "tray_message"]
    assert [r.tx_hash for r in trays] == ["0x" + "01" * 32, "0x" + "02" * 32]
    assert trays[1].title == "Tip from 0x3C44…93BC: 0.000000000000000001 tCORE2"
    assert trays[1].body == "‹b›bold‹/b› ‹a href='https://x.y'›link‹/a› &amp;"
    assert notifier.shown == 2
    assert len(feed.entries()) == 2
    notifier.close()


def test_attach_puts_the_feed_in_the_alerts_dock_with_history(qtbot, tmp_path, store) -> None:
    alerts = TipAlerts(store, ARTIST, "tCORE2")
    alerts.on_chain_tip(tip(1, "from before"))
    settings = Settings.open(tmp_path / "settings.toml")
    studio = Studio(load_profile("local"), settings, tmp_path / "data", tmp_path / "log")
    window = MainWindow(studio)
    qtbot.addWidget(window)
    notifier = attach(None, window, alerts, sound=False)
    assert window.docks["alerts"].widget() is notifier.feed
    assert notifier.feed is not None and notifier.feed.entries()[0].endswith("from before")
    alerts.on_chain_tip(tip(2, "now"))
    assert notifier.feed.entries()[0].endswith("\nnow")


def test_chime_is_short_and_never_clips() -> None:
    samples = chime()
    assert 0.2 < len(samples) / 48_000 < 0.3
    assert 0.1 < float(abs(samples).max()) <= 0.35
    assert TipSound(enabled=False).play() is False
