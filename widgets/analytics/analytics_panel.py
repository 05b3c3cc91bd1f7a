"""The Analytics tab: plays per track, viewers per show, followers and income, each a chart
with a date axis, for a range of days; CSV export.

It renders `studio.analytics.service` reports and series; the service does the I/O. Refresh
loads the chosen range (From/To, UTC days); Export CSV asks for a file (a non-blocking dialog)
and writes the report shown.
"""

import asyncio
import html
from datetime import UTC, date, datetime
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QDate, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDateEdit,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from backend.wire import AnalyticsReport
from studio.analytics.service import (
    AnalyticsError,
    AnalyticsService,
    Series,
    check_range,
    default_range,
    export_csv,
    followers_series,
    income_series,
    plays_series,
    viewers_series,
)
from studio.tips.format import format_coin
from widgets.buttons import enable, start_once
from widgets.dialogs import link_label, save_path, write_export

COLOURS = ("#e0457b", "#4fa3e0", "#f2b134", "#5cc98a", "#b07cf0", "#e07a45")


def _qdate(day: date) -> QDate:
    return QDate(day.year, day.month, day.day)


def _date(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


class Chart(QWidget):
    """A titled line chart on a date axis, with a legend and a "nothing yet" placeholder."""

    def __init__(self, title: str, unit: str, empty: str) -> None:
        super().__init__()
        self.empty_text = empty
        self.title = QLabel(title)
        self.title.setObjectName("chartTitle")
        # UTC on the axis too: the backend's days are UTC days
        axis = pg.DateAxisItem(orientation="bottom", utcOffset=0)
        self.plot = pg.PlotWidget(axisItems={"bottom": axis})
        self.plot.setLabel("left", unit)
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "UTC")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(10, 5))
        self.placeholder = QLabel(empty)
        self.placeholder.setObjectName("placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.series: list[Series] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.placeholder, 1)
        self.draw([], None)

    def draw(self, series: list[Series], x_range: tuple[float, float] | None) -> None:
        self.plot.clear()
        self.legend.clear()
        self.series = series
        shown = [s for s in series if s.points]
        self.plot.setVisible(bool(shown))
        self.placeholder.setVisible(not shown)
        for i, line in enumerate(shown):
            xs = [x for x, _ in line.points]
            ys = [y for _, y in line.points]
            pen = pg.mkPen(COLOURS[i % len(COLOURS)], width=2)
            self.plot.plot(xs, ys, pen=pen, symbol="o", symbolSize=5, name=line.name,
                           symbolBrush=COLOURS[i % len(COLOURS)])  # fmt: skip
        if x_range is not None and shown:
            self.plot.setXRange(*x_range, padding=0.02)
        elif shown:
            self.plot.enableAutoRange(axis="x")
        top = max((y for s in shown for _, y in s.points), default=0.0)
        self.plot.setYRange(0, top or 1.0, padding=0.1)


class AnalyticsPanel(QWidget):
    def __init__(self, service: AnalyticsService, symbol: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("analytics_panel")
        self.service = service
        self.symbol = symbol
        self.report: AnalyticsReport | None = None
        self.loading: asyncio.Future[None] | None = None
        self.exporting: asyncio.Future[None] | None = None

        start, end = default_range(datetime.now(UTC).date())
        self.from_edit = QDateEdit(_qdate(start))
        self.to_edit = QDateEdit(_qdate(end))
        for edit in (self.from_edit, self.to_edit):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
            edit.dateChanged.connect(self.update_actions)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._ask_export)
        self.status = link_label("analyticsStatus")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.totals = QLabel("")
        self.totals.setTextFormat(Qt.TextFormat.PlainText)
        self.totals.setWordWrap(True)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("From"))
        bar.addWidget(self.from_edit)
        bar.addWidget(QLabel("To"))
        bar.addWidget(self.to_edit)
        bar.addWidget(QLabel("(UTC days)"))
        bar.addWidget(self.refresh_button)
        bar.addStretch(1)
        bar.addWidget(self.export_button)

        self.plays = Chart("Plays per track", "Plays per day", "No plays in these days")
        self.viewers = Chart("Viewers per show", "Viewers", "No shows in these days")
        self.followers = Chart("Followers", "Followers", "No followers yet")
        self.income = Chart(f"Income ({symbol})", f"{symbol} per day", "No income yet")
        grid = QGridLayout()
        grid.addWidget(self.plays, 0, 0)
        grid.addWidget(self.viewers, 0, 1)
        grid.addWidget(self.followers, 1, 0)
        grid.addWidget(self.income, 1, 1)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.totals)
        layout.addLayout(grid, 1)
        self.update_actions()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.report is None and self.loading is None:  # first shown: load the last 30 days
            self.refresh()

    @property
    def charts(self) -> dict[str, Chart]:
        return {
            "plays": self.plays,
            "viewers": self.viewers,
            "followers": self.followers,
            "income": self.income,
        }

    def chosen_range(self) -> tuple[date, date]:
        return _date(self.from_edit.date()), _date(self.to_edit.date())

    # -- loading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        self.loading = start_once(self.loading, self._load, self.update_actions)

    async def _load(self) -> None:
        start, end = self.chosen_range()
        self.status.setText("Loading…")
        try:
            report = await self.service.report(start, end)
        except AnalyticsError as exc:
            self.status.setText(html.escape(str(exc)))
            return
        self.show_report(report)
        self.status.setText(f"{report.from_day} to {report.to_day} (UTC days).")

    def show_report(self, report: AnalyticsReport) -> None:
        self.report = report
        days = report.days
        span = None
        if days:
            start = datetime.combine(days[0].day, datetime.min.time(), UTC).timestamp()
            span = (start, start + len(days) * 86400.0)
        self.plays.draw(plays_series(report), span)
        self.viewers.draw(viewers_series(report), None)  # the shows' own hours
        self.followers.draw(followers_series(report), span)
        self.income.draw(income_series(report), span)
        plays = sum(d.plays for d in days)
        earned = sum(int(d.tips_wei) + int(d.sales_wei) + int(d.subscriptions_wei) for d in days)
        gained = sum(d.followers_gained for d in days) - sum(d.followers_lost for d in days)
        peak = max((s.peak_viewers for s in report.shows), default=0)
        shows = len(report.shows)
        self.totals.setText(
            f"{plays} plays · {shows} show{'s' if shows != 1 else ''} (peak {peak} viewers) · "
            f"{days[-1].followers if days else 0} followers ({gained:+d}) · "
            f"{format_coin(earned, self.symbol)} earned"
        )
        self.update_actions()

    # -- actions ------------------------------------------------------------------------------

    def update_actions(self) -> None:
        busy = self.loading is not None and not self.loading.done()
        problem = check_range(*self.chosen_range())
        enable(
            self.refresh_button,
            problem is None and not busy,
            "Load these days' figures from the backend.",
            problem or ("Loading…" if busy else ""),
        )
        if self.report is None:
            export_reason: str | None = "Refresh first: there is nothing to export yet."
        elif self.exporting is not None and not self.exporting.done():
            export_reason = "An export is under way."
        else:
            export_reason = None
        enable(
            self.export_button,
            export_reason is None,
            "Save the figures shown as a CSV file.",
            export_reason or "",
        )

    def _ask_export(self) -> None:
        self.exporting = start_once(self.exporting, self._export, self.update_actions)

    async def _export(self) -> None:
        report = self.report
        if report is None:
            return
        suggested = Path.home() / f"analytics-{report.from_day}-{report.to_day}.csv"
        path = await save_path(self, "Export analytics", str(suggested), "CSV files (*.csv)")
        if path is not None:
            self.export_to(path)

    def export_to(self, path: Path) -> int:
        report = self.report
        if report is None:
            return 0
        return write_export(
            self, self.status, path, lambda to: export_csv(report, to, self.symbol), "row"
        )
