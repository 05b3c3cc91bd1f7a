"""Merging the chain and backend sources, and formatting tips safely."""

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from studio.tips.alerts import BACKEND, CHAIN, FixedPrice, TipAlert, TipAlerts
from studio.tips.format import (
    TRAY_MESSAGE_CHARS,
    format_amount,
    format_fiat,
    native_symbol,
    short_address,
    tray_text,
)
from studio.tips.store import CONFIRMED, DROPPED, PENDING, Tip, TipStore
from studio.tips.watcher import TipWatcher, WatchTarget
from tests.support.waiting import wait_until
from tests.tips.conftest import TipChain

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
FAN = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
TX = "0x" + "ab" * 32


def chain_tip(tx: str = TX, log_index: int = 0, status: str = CONFIRMED, **kw: object) -> Tip:
    values: dict = dict(
        tx_hash=tx,
        log_index=log_index,
        block_number=10,
        block_hash="0x" + "11" * 32,
        timestamp=1_700_000_000,
        artist=ARTIST,
        fan=FAN,
        amount_wei=10**18,
        message="thanks!",
        status=status,
    )
    values.update(kw)
    return Tip(**values)


def backend_notification(tx: str = TX, log_index: int = 0, **data: object) -> dict:
    body: dict = {
        "tx_hash": tx,
        "log_index": log_index,
        "block_number": 10,
        "fan": FAN,
        "fan_name": "Alice",
        "artist": ARTIST,
        "amount_wei": str(10**18),
        "message": "thanks!",
        "chain_id": 1114,
    }
    body.update(data)
    return {"id": 1, "kind": "tip_received", "data": body, "created_at": "x", "read": False}


class Shown:
    def __init__(self, alerts: TipAlerts) -> None:
        self.alerted: list[TipAlert] = []
        self.updated: list[TipAlert] = []
        alerts.alerted.connect(self.alerted.append)
        alerts.updated.connect(self.updated.append)


def make_alerts(store: TipStore, **kw: object) -> tuple[TipAlerts, Shown]:
    alerts = TipAlerts(store, ARTIST, "tCORE2", **kw)  # type: ignore[arg-type]
    return alerts, Shown(alerts)


# -- formatting ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wei", "text"),
    [
        (1, "0.000000000000000001"),
        (10**18, "1"),
        (15 * 10**17, "1.5"),
        (1234 * 10**18 + 5, "1,234.000000000000000005"),
        (2**256 - 1, f"{(2**256 - 1) // 10**18:,}.{(2**256 - 1) % 10**18:018d}".rstrip("0")),
        (0, "0"),
    ],
)
def test_amounts_are_exact(wei: int, text: str) -> None:
    assert format_amount(wei) == text


def test_fiat_rounds_to_cents_and_says_when_below_a_cent() -> None:
    assert format_fiat(10**18, Decimal("0.8123"), "USD") == "≈ 0.81 USD"
    assert format_fiat(1, Decimal("0.81"), "USD") == "under 0.01 USD"
    assert format_fiat(2500 * 10**18, Decimal("1.2"), "EUR") == "≈ 3,000.00 EUR"


def test_symbols_and_short_addresses() -> None:
    assert native_symbol(1116) == "CORE"
    assert native_symbol(1114) == "tCORE2"
    assert native_symbol(31337) == "ETH"
    assert short_address(FAN) == "0x3C44…93BC"


def test_markup_never_reaches_the_tray_as_markup() -> None:
    hostile = '<b>rich</b> <img src=x onerror="alert(1)"> &amp; <a href="javascript:x">y</a>'
    text = tray_text(hostile)
    assert "<" not in text and ">" not in text
    assert "‹b›rich‹/b›" in text
    assert "&amp;" in text, "entities are shown as typed, not decoded"


def test_controls_and_direction_overrides_are_removed() -> None:
    alert = TipAlert(
        chain_tip_record(message="a\u202eb\x00c\x1bd\u2066e\r\nnext line\tf"), "tCORE2"
    )
    assert alert.message == "abcde\nnext line\tf"
    assert "\n" not in alert.tray_body


def chain_tip_record(**kw: object):  # type: ignore[no-untyped-def]
    from studio.tips.store import AlertRecord

    values: dict = dict(
        tx_hash=TX,
        log_index=0,
        source=CHAIN,
        alerted_at=0.0,
        fan=FAN,
        fan_name=None,
        amount_wei=1,
        message="",
        status=CONFIRMED,
        block_number=1,
    )
    values.update(kw)
    return AlertRecord(**values)


def test_ten_kilobytes_are_cut_for_the_tray_and_capped_in_the_feed() -> None:
    message = ("word " * 2100)[:10_240]
    alert = TipAlert(chain_tip_record(message=message), "tCORE2")
    assert len(alert.tray_body) <= TRAY_MESSAGE_CHARS
    assert alert.tray_body.endswith("…")
    assert len(alert.feed_text) < 700
    assert alert.message == message.strip(), "the full text stays available"


def test_one_wei_tip_reads_exactly() -> None:
    alert = TipAlert(chain_tip_record(amount_wei=1), "tCORE2", fiat="under 0.01 USD")
    assert alert.tray_title == "Tip from 0x3C44…93BC: 0.000000000000000001 tCORE2"
    assert alert.tray_body == "under 0.01 USD"
    assert alert.feed_text == "0x3C44…93BC tipped 0.000000000000000001 tCORE2 (under 0.01 USD)"


def test_fan_name_with_markup_is_plain_in_the_title() -> None:
    alert = TipAlert(chain_tip_record(fan_name="<i>Bob</i>\n"), "CORE")
    assert alert.tray_title == "Tip from ‹i›Bob‹/i›: 0.000000000000000001 CORE"


# -- merging ------------------------------------------------------------------------------------


def test_chain_then_backend_is_one_alert_and_gains_the_name(tip_store: TipStore) -> None:
    alerts, shown = make_alerts(tip_store, price=FixedPrice(Decimal("2")))
    alerts.on_chain_tip(chain_tip())
    assert alerts.on_backend_notification(backend_notification()) is False
    assert len(shown.alerted) == 1
    assert shown.alerted[0].record.source == CHAIN
    assert shown.alerted[0].fiat == "≈ 2.00 USD"
    assert [u.fan_label for u in shown.updated] == ["Alice"]


def test_backend_then_chain_is_one_alert_and_gains_the_status(tip_store: TipStore) -> None:
    alerts, shown = make_alerts(tip_store)
    assert alerts.on_backend_notification(backend_notification()) is True
    alerts.on_chain_tip(chain_tip(status=CONFIRMED))
    assert len(shown.alerted) == 1
    assert shown.alerted[0].record.source == BACKEND
    assert shown.alerted[0].record.status == PENDING
    assert [u.record.status for u in shown.updated] == [CONFIRMED]
    assert shown.updated[0].fan_label == "Alice"


def test_hash_case_and_backlog_repeats_do_not_repeat_the_alert(tip_store: TipStore) -> None:
    alerts, shown = make_alerts(tip_store)
    alerts.on_backend_frame({"type": "notification", "notification": backend_notification()})
    upper = backend_notification(tx="0x" + "AB" * 32)
    alerts.on_backend_frame({"type": "backlog", "notifications": [upper, backend_notification()]})
    alerts.on_chain_tip(chain_tip())
    assert len(shown.alerted) == 1


def test_same_transaction_other_log_index_is_another_tip(tip_store: TipStore) -> None:
    alerts, shown = make_alerts(tip_store)
    alerts.on_chain_tip(chain_tip(log_index=0))
    alerts.on_chain_tip(chain_tip(log_index=1))
    assert len(shown.alerted) == 2


def test_shown_tips_stay_shown_across_restarts(tmp_path: Path) -> None:
    store = TipStore(tmp_path / "tips.sqlite3")
    alerts, shown = make_alerts(store)
    alerts.on_chain_tip(chain_tip())
    store.close()

    store = TipStore(tmp_path / "tips.sqlite3")
    alerts, shown = make_alerts(store)
    alerts.on_chain_tip(chain_tip())
    alerts.on_backend_notification(backend_notification())
    assert shown.alerted == []
    assert [a.record.tx_hash for a in alerts.history()] == [TX]
    store.close()


def test_dropped_tip_updates_the_shown_alert_and_unknown_dropped_is_ignored(
    tip_store: TipStore,
) -> None:
    alerts, shown = make_alerts(tip_store)
    alerts.on_chain_tip(chain_tip(status=PENDING))
    alerts.on_chain_tip(chain_tip(status=DROPPED))
    alerts.on_chain_tip(chain_tip(tx="0x" + "cd" * 32, status=DROPPED))
    assert len(shown.alerted) == 1
    assert [u.record.status for u in shown.updated] == [DROPPED]
    assert "[dropped]" in shown.updated[0].feed_text


@pytest.mark.parametrize(
    "bad",
    [
        {"tx_hash": "0x1234"},
        {"tx_hash": None},
        {"log_index": -1},
        {"log_index": "0"},
        {"log_index": True},
        {"fan": "not an address"},
        {"artist": "0x" + "00" * 20},
        {"amount_wei": "-5"},
        {"amount_wei": "1e18"},
        {"amount_wei": 1.5},
        {"amount_wei": "9" * 100},
    ],
)
def test_malformed_backend_tips_are_ignored(tip_store: TipStore, bad: dict) -> None:
    alerts, shown = make_alerts(tip_store)
    assert alerts.on_backend_notification(backend_notification(**bad)) is False
    alerts.on_backend_frame({"type": "notification", "notification": "garbage"})
    alerts.on_backend_frame({"type": "backlog", "notifications": [1, None, {"kind": "x"}]})
    assert alerts.on_backend_notification({"kind": "tip_received", "data": None}) is False
    assert shown.alerted == []


def test_backend_tips_from_another_chain_are_ignored(tip_store: TipStore) -> None:
    alerts = TipAlerts(tip_store, ARTIST, "CORE", chain_id=1116)
    shown = Shown(alerts)
    assert alerts.on_backend_notification(backend_notification(chain_id=1114)) is False
    assert alerts.on_backend_notification(backend_notification(chain_id=1116)) is True
    assert len(shown.alerted) == 1


def test_other_notification_kinds_are_not_tips(tip_store: TipStore) -> None:
    alerts, shown = make_alerts(tip_store)
    note = backend_notification()
    note["kind"] = "new_follower"
    assert alerts.on_backend_notification(note) is False
    assert shown.alerted == []


# -- both sources, real chain -------------------------------------------------------------------


async def test_chain_and_backend_delivering_the_same_tips_show_each_once(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    target = WatchTarget(
        tip_chain.node.ws_url, tip_chain.address, tip_chain.artist.address, 1, 1114
    )
    watcher = TipWatcher(target, tip_store, start_block=0)
    alerts = TipAlerts(tip_store, tip_chain.artist.address, "tCORE2")
    shown = Shown(alerts)
    alerts.follow(watcher)
    watcher.start()
    sent = []
    try:
        for i, (wei, text) in enumerate([(1, "<b>hi</b>"), (2 * 10**18, "two"), (3, "")]):
            tx = await asyncio.to_thread(tip_chain.tip, tip_chain.fans[i], wei, text)
            sent.append(tx)
            receipt = await asyncio.to_thread(tip_chain.w3.eth.get_transaction_receipt, tx)
            log_index = receipt["logs"][-1]["logIndex"]
            # the backend tells about the first tip before the chain does, the others after
            note = backend_notification(
                tx=tx, log_index=log_index, fan=tip_chain.fans[i].address,
                artist=tip_chain.artist.address, amount_wei=str(wei), message=text,
            )  # fmt: skip
            if i == 0:
                alerts.on_backend_notification(note)
            await wait_until(lambda n=i: len(shown.alerted) == n + 1)
            if i > 0:
                alerts.on_backend_notification(note)
        await wait_until(lambda: watcher.passes > 3)
    finally:
        await watcher.stop()
    assert [a.record.tx_hash for a in shown.alerted] == sent
    assert [a.record.amount_wei for a in shown.alerted] == [1, 2 * 10**18, 3]
    assert len(alerts.history()) == 3


def test_fiat_rate_comes_from_settings(tmp_path: Path) -> None:
    from studio.settings import Settings
    from studio.tips.alerts import price_from_settings

    settings = Settings.open(tmp_path / "settings.toml")
    assert price_from_settings(settings) is None
    settings.set("tips", {"fiat_per_coin": "0.85", "fiat_currency": "eur"})
    assert price_from_settings(settings) == FixedPrice(Decimal("0.85"), "EUR")
    for bad in ("lots", "-1", "NaN", "0"):
        settings.set("tips", {"fiat_per_coin": bad})
        assert price_from_settings(settings) is None
