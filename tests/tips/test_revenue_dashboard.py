"""The revenue dashboard renders a summary and the chain's state, offscreen."""

from pathlib import Path

from studio.tips.revenue import ChainState, Interval, Payout, export_csv, summarize
from studio.tips.store import CONFIRMED, PENDING, Tip
from widgets.tips.revenue_dashboard import RevenueDashboard

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ALICE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
BOB = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
T0 = 1_700_006_400


def tip(n: int, fan: str, wei: int, at: int, status: str = CONFIRMED) -> Tip:
    return Tip("0x" + f"{n:02x}" * 32, 0, n, "0x" + "ee" * 32, at, ARTIST, fan, wei, "", status)


TIPS = [
    tip(1, ALICE, 10**18, T0 + 5),
    tip(2, BOB, 1, T0 + 86_400 + 5),
    tip(3, ALICE, 5 * 10**17, T0 + 86_400 + 9),
    tip(4, BOB, 7, T0 + 86_400 + 10, status=PENDING),
]
STATE = ChainState(
    withdrawable_wei=105 * 10**16 + 1,
    tipped_total_wei=15 * 10**17 + 8,
    payouts=[Payout(ARTIST, 7000, 105 * 10**16 + 1), Payout(BOB, 3000, 45 * 10**16)],
)


def test_dashboard_shows_exact_totals_tables_and_chart(qtbot) -> None:
    dashboard = RevenueDashboard("tCORE2", on_withdraw=lambda wei: None)
    qtbot.addWidget(dashboard)
    summary = summarize(TIPS, streams=[Interval("Friday <b>live</b>", T0, T0 + 86_400)])
    dashboard.show_summary(summary, STATE)
    assert dashboard.received_label.text() == "1.500000000000000001 tCORE2 from 3 tips"
    assert dashboard.pending_label.text().startswith("0.000000000000000007 tCORE2 in 1 tip ")
    assert dashboard.lifetime_label.text() == "1.500000000000000008 tCORE2"
    assert dashboard.withdrawable_label.text() == "1.050000000000000001 tCORE2"
    assert dashboard.withdraw_button.isEnabled()

    first = [dashboard.supporters.item(0, c).text() for c in range(3)]
    assert first == ["0x3C44…93BC", "1.5", "2"]
    assert dashboard.supporters.item(0, 0).toolTip().startswith(ALICE)
    assert dashboard.streams.item(0, 0).text() == "Friday <b>live</b>"
    assert [dashboard.payouts.item(r, 1).text() for r in range(2)] == ["70 %", "30 %"]

    points = [(x, h) for x, h in dashboard.chart_points() if h]  # a day apart: hourly bars
    assert [h for _, h in points] == [1.0, 0.5 + 1e-18]
    assert points[1][0] - points[0][0] == 86_400


def test_withdraw_passes_the_balance_and_is_off_without_one(qtbot) -> None:
    asked: list[int] = []
    dashboard = RevenueDashboard("CORE", on_withdraw=asked.append)
    qtbot.addWidget(dashboard)
    assert not dashboard.withdraw_button.isEnabled()
    dashboard.show_summary(summarize(TIPS), STATE)
    dashboard.withdraw_button.click()
    assert asked == [STATE.withdrawable_wei]
    dashboard.show_summary(summarize(TIPS), ChainState(0, STATE.tipped_total_wei, []))
    assert not dashboard.withdraw_button.isEnabled()
    dashboard.show_summary(summarize([]), None)
    assert dashboard.withdrawable_label.text() == "unknown"
    assert dashboard.chart_points() == []


def test_export_writes_the_csv_through_the_callback(qtbot, tmp_path: Path) -> None:
    dashboard = RevenueDashboard("CORE", on_export=lambda p: export_csv(TIPS, p, "CORE"))
    qtbot.addWidget(dashboard)
    path = tmp_path / "tips.csv"
    assert dashboard.export_to(path) == 4
    assert path.read_text(encoding="utf-8-sig").count("\n") == 5


def test_one_tip_is_an_hour_bar_on_a_dated_axis_with_a_tooltip(qtbot, artifacts_dir: Path) -> None:
    from datetime import UTC

    from PySide6.QtCore import QPointF

    dashboard = RevenueDashboard("tCORE2")
    qtbot.addWidget(dashboard)
    dashboard.resize(900, 600)
    at = T0 + 3 * 3600 + 120  # Wed 15 Nov 2023, 03:02 UTC
    dashboard.show_summary(summarize([tip(1, ALICE, 10**18, at)], tz=UTC), None)
    dashboard.show()
    qtbot.waitExposed(dashboard)
    chart = dashboard.chart_data
    assert chart.period == "hour"
    assert dashboard.chart_stack.currentWidget() is dashboard.chart
    drawn = dashboard.chart_points()
    assert drawn == [(T0 + 3 * 3600 + 1800, 1.0)], "one bar, centred on its hour"
    assert list(dashboard.bars.opts["width"]) == [0.8 * 3600]
    assert len(chart.bars) >= 7, "empty hours around it give the axis its dates"
    assert [label for _, label in chart.ticks] == [
        "14 Nov 23:00", "15 Nov 00:00", "01:00", "02:00", "03:00", "04:00", "05:00",
    ]  # fmt: skip
    assert [x for x, _ in chart.ticks] == [(b.start + b.end) / 2 for b in chart.bars]
    assert dashboard.time_axis.labelText.startswith("Per hour")

    # the tooltip of the bar under the pointer: period, total, count
    view = dashboard.chart.getPlotItem().getViewBox()
    over_bar = view.mapViewToScene(QPointF(T0 + 3 * 3600 + 1800, 0.5))
    dashboard._hover(over_bar)
    assert dashboard.chart.toolTip() == "Wed 15 Nov 2023, 03:00–04:00\n1 tCORE2 from 1 tip"
    beside = view.mapViewToScene(QPointF(T0 + 1 * 3600 + 1800, 0.5))
    dashboard._hover(beside)
    assert dashboard.chart.toolTip() == ""
    dashboard.grab().save(str(artifacts_dir / "revenue_chart_one_tip.png"))


def test_days_and_weeks_get_their_own_bars_and_dates(qtbot, artifacts_dir: Path) -> None:
    from datetime import UTC

    dashboard = RevenueDashboard("tCORE2")
    qtbot.addWidget(dashboard)
    dashboard.resize(900, 600)
    days = [tip(n, ALICE, n * 10**17, T0 + n * 86_400 + 7_200) for n in range(1, 11)]
    dashboard.show_summary(summarize(days, tz=UTC), None)
    chart = dashboard.chart_data
    assert chart.period == "day"
    assert [b.count for b in chart.bars if b.count] == [1] * 10
    assert all(b.end - b.start == 86_400 for b in chart.bars)
    assert chart.bars[0].period == "Thu 16 Nov 2023"
    assert chart.ticks[0][1] == "16 Nov 2023" and chart.ticks[1][1] == "18 Nov"
    dashboard.show()
    qtbot.waitExposed(dashboard)
    dashboard.grab().save(str(artifacts_dir / "revenue_chart_days.png"))

    weeks = [tip(n, BOB, 10**18, T0 + n * 7 * 86_400) for n in range(1, 20)]
    chart = summarize(weeks, tz=UTC).chart
    assert chart.period == "week"
    assert all(b.period.startswith("Week of Mon ") for b in chart.bars)
    assert sum(b.count for b in chart.bars) == 19


def test_no_tips_says_so_instead_of_an_empty_axis(qtbot) -> None:
    dashboard = RevenueDashboard("tCORE2")
    qtbot.addWidget(dashboard)
    dashboard.show()
    assert dashboard.chart_stack.currentWidget() is dashboard.no_tips
    assert dashboard.no_tips.isVisible() and dashboard.no_tips.text() == "No tips yet"
    assert not dashboard.chart.isVisible()
    dashboard.show_summary(summarize([tip(1, ALICE, 1, T0)]), None)
    assert dashboard.chart.isVisible() and not dashboard.no_tips.isVisible()
    dashboard.show_summary(summarize([tip(1, ALICE, 1, T0, status=PENDING)]), None)
    assert dashboard.no_tips.isVisible(), "pending tips are not revenue yet"
