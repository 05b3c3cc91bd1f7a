"""The revenue dashboard: tips over time, top supporters, per stream and track, split payouts,
the withdrawable balance with a Withdraw button, and CSV export.

It renders a `studio.tips.revenue.Summary` and `ChainState`; it does no I/O itself. Withdraw calls
`on_withdraw(amount_wei)`, which sends the transaction through the wallet's confirmation
dialog; Export asks for a file and calls `on_export(path)`. `withdraw_blocked()` (optional)
says why Withdraw cannot be used now (wallet locked, one under way), or None;
`update_actions()` re-reads it.
"""

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.tips.format import WEI_DECIMALS, fan_label, format_coin, short_address
from studio.tips.revenue import ChainState, ChartBar, RevenueChart, Summary, Total
from widgets.buttons import enable, start_once
from widgets.dialogs import link_label, save_path, write_export


def _plain_label(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def _table(headers: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def _tips(count: int) -> str:
    return "1 tip" if count == 1 else f"{count} tips"


def _fill(table: QTableWidget, rows: list[list[str]], tooltips: list[str] | None = None) -> None:
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            if c > 0:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if tooltips and c == 0:
                item.setToolTip(tooltips[r])
            table.setItem(r, c, item)


class RevenueDashboard(QWidget):
    def __init__(
        self,
        symbol: str,
        on_withdraw: Callable[[int], None] | None = None,
        on_export: Callable[[Path], int] | None = None,
        parent: QWidget | None = None,
        withdraw_blocked: Callable[[], str | None] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("revenue_dashboard")
        self.symbol = symbol
        self.on_withdraw = on_withdraw
        self.on_export = on_export
        self.withdraw_blocked = withdraw_blocked
        self.withdrawable_wei = 0
        self.chain_known = False
        self.tip_count = 0
        self.exporting: asyncio.Future[None] | None = None

        self.received_label = _plain_label()
        self.pending_label = _plain_label()
        self.lifetime_label = _plain_label()
        self.withdrawable_label = _plain_label()
        self.withdraw_button = QPushButton("Withdraw…")
        self.withdraw_button.setEnabled(False)
        self.withdraw_button.clicked.connect(self._withdraw)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.clicked.connect(self._ask_export)

        totals = QGridLayout()
        totals.addWidget(_plain_label("Received"), 0, 0)
        totals.addWidget(self.received_label, 0, 1)
        totals.addWidget(_plain_label("Pending"), 1, 0)
        totals.addWidget(self.pending_label, 1, 1)
        totals.addWidget(_plain_label("Tipped on chain (lifetime)"), 0, 2)
        totals.addWidget(self.lifetime_label, 0, 3)
        totals.addWidget(_plain_label("Withdrawable"), 1, 2)
        totals.addWidget(self.withdrawable_label, 1, 3)
        # Where the last export went, with a link that opens its folder.
        self.export_status = link_label("exportStatus")
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_status, 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.withdraw_button)

        # the time axis carries the chart's own period labels (local dates and hours)
        self.time_axis = pg.AxisItem(orientation="bottom")
        self.time_axis.enableAutoSIPrefix(False)
        self.chart = pg.PlotWidget(axisItems={"bottom": self.time_axis})
        self.chart.setObjectName("tips_chart")
        self.chart.setLabel("left", f"Tips ({symbol})")
        self.chart.showGrid(y=True, alpha=0.2)
        self.chart.setMouseEnabled(x=False, y=False)
        self.chart.hideButtons()
        self.chart.scene().sigMouseMoved.connect(self._hover)
        self.bars: pg.BarGraphItem | None = None
        self.chart_data = RevenueChart()
        self.no_tips = _plain_label("No tips yet")
        self.no_tips.setObjectName("placeholder")
        self.no_tips.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.chart_stack = QStackedWidget()
        self.chart_stack.addWidget(self.no_tips)
        self.chart_stack.addWidget(self.chart)

        self.supporters = _table(["Supporter", f"Total ({symbol})", "Tips"])
        self.streams = _table(["Stream", f"Total ({symbol})", "Tips"])
        self.tracks = _table(["Track", f"Total ({symbol})", "Tips"])
        self.payouts = _table(["Payee", "Share", f"Credited ({symbol})"])
        self.tables = QTabWidget()
        self.tables.addTab(self.supporters, "Top supporters")
        self.tables.addTab(self.streams, "Streams")
        self.tables.addTab(self.tracks, "Tracks")
        self.tables.addTab(self.payouts, "Split payouts")

        layout = QVBoxLayout(self)
        layout.addLayout(totals)
        layout.addLayout(buttons)
        layout.addWidget(self.chart_stack, 3)
        layout.addWidget(self.tables, 2)
        self.show_summary(Summary(), None)

    # -- rendering ----------------------------------------------------------------------------

    def coin(self, wei: int) -> str:
        return format_coin(wei, self.symbol)

    def show_summary(self, summary: Summary, chain: ChainState | None) -> None:
        self.received_label.setText(f"{self.coin(summary.total_wei)} from {_tips(summary.count)}")
        self.pending_label.setText(
            f"{self.coin(summary.pending_wei)} in {_tips(summary.pending_count)}"
            " awaiting confirmations"
        )
        if chain is None:
            self.lifetime_label.setText("unknown (no chain connection)")
            self.withdrawable_label.setText("unknown")
            self.withdrawable_wei = 0
        else:
            self.lifetime_label.setText(self.coin(chain.tipped_total_wei))
            self.withdrawable_label.setText(self.coin(chain.withdrawable_wei))
            self.withdrawable_wei = chain.withdrawable_wei
        self.chain_known = chain is not None
        self.tip_count = summary.count
        self.update_actions()
        self._draw_chart(summary)
        _fill(
            self.supporters,
            [
                [fan_label(s.name, s.fan), self._amount(s.total_wei), str(s.count)]
                for s in summary.top_supporters
            ],
            [
                f"{s.fan}, last tip {time.strftime('%Y-%m-%d %H:%M', time.localtime(s.last_at))}"
                for s in summary.top_supporters
            ],
        )
        _fill(self.streams, self._total_rows(summary.by_stream))
        _fill(self.tracks, self._total_rows(summary.by_track))
        payouts = chain.payouts if chain is not None else []
        _fill(
            self.payouts,
            [
                [
                    short_address(p.payee),
                    f"{p.share_bps / 100:g} %" if p.share_bps is not None else "former",
                    self._amount(p.credited_wei),
                ]
                for p in payouts
            ],
            [p.payee for p in payouts],
        )

    @staticmethod
    def _amount(wei: int) -> str:
        return format_coin(wei, "").strip()

    def _total_rows(self, totals: list[Total]) -> list[list[str]]:
        return [[t.label, self._amount(t.total_wei), str(t.count)] for t in totals]

    def _draw_chart(self, summary: Summary) -> None:
        if self.bars is not None:
            self.chart.removeItem(self.bars)
            self.bars = None
        chart = self.chart_data = summary.chart
        if chart.empty:
            self.chart_stack.setCurrentWidget(self.no_tips)
            return
        self.chart_stack.setCurrentWidget(self.chart)
        bars = [b for b in chart.bars if b.count]  # empty periods: axis room, no bar
        # display only: float coins are fine for bar heights, never for amounts shown as text
        self.bars = pg.BarGraphItem(
            x=[(b.start + b.end) / 2 for b in bars],
            height=[b.total_wei / 10**WEI_DECIMALS for b in bars],
            width=[(b.end - b.start) * 0.8 for b in bars],
            brush=pg.mkBrush("#e0457b"),
        )
        self.chart.addItem(self.bars)
        self.time_axis.setTicks([chart.ticks, []])
        self.chart.setLabel("bottom", f"Per {chart.period} (local time)")
        self.chart.setXRange(chart.bars[0].start, chart.bars[-1].end, padding=0.02)
        self.chart.setYRange(0, max(b.total_wei for b in bars) / 10**WEI_DECIMALS, padding=0.1)

    def bar_at(self, x: float) -> ChartBar | None:
        """The bar drawn over time `x` (unix seconds), if any."""
        for bar in self.chart_data.bars:
            if bar.count and bar.start <= x < bar.end:
                return bar
        return None

    def _hover(self, scene_pos: QPointF) -> None:
        view = self.chart.getPlotItem().getViewBox()
        x = view.mapSceneToView(scene_pos).x()
        bar = self.bar_at(x) if view.sceneBoundingRect().contains(scene_pos) else None
        self.chart.setToolTip(bar.tooltip(self.symbol) if bar is not None else "")

    def chart_points(self) -> list[tuple[float, float]]:
        """(bucket centre, height) as drawn: what a test can compare to the summary."""
        if self.bars is None:
            return []
        opts = self.bars.opts
        return list(zip(map(float, opts["x"]), map(float, opts["height"]), strict=True))

    # -- actions ------------------------------------------------------------------------------

    def withdraw_reason(self) -> str | None:
        """Why Withdraw cannot be used now, or None when it can."""
        if self.on_withdraw is None:
            return "Withdrawing needs a wallet on this profile's chain."
        if not self.chain_known:
            return "The chain is not reachable, so the withdrawable balance is unknown."
        if self.withdrawable_wei <= 0:
            return "Nothing to withdraw yet: tips are withdrawable once the chain has them."
        return self.withdraw_blocked() if self.withdraw_blocked is not None else None

    def update_actions(self) -> None:
        withdraw_reason = self.withdraw_reason()
        enable(
            self.withdraw_button,
            withdraw_reason is None,
            f"Withdraw {self.coin(self.withdrawable_wei)} to your wallet.",
            withdraw_reason or "",
        )
        if self.on_export is None:
            export_reason: str | None = "Nothing to export from here."
        elif self.tip_count == 0:
            export_reason = "No tips to export yet."
        elif self.exporting is not None and not self.exporting.done():
            export_reason = "An export is under way."
        else:
            export_reason = None
        enable(
            self.export_button,
            export_reason is None,
            "Save every tip as a CSV file.",
            export_reason or "",
        )

    def _withdraw(self) -> None:
        if self.on_withdraw is not None and self.withdraw_reason() is None:
            self.on_withdraw(self.withdrawable_wei)
            self.update_actions()

    def _ask_export(self) -> None:
        self.exporting = start_once(self.exporting, self._export, self.update_actions)

    async def _export(self) -> None:
        path = await save_path(
            self, "Export tips", str(Path.home() / "tips.csv"), "CSV files (*.csv)"
        )
        if path is not None:
            self.export_to(path)

    def export_to(self, path: Path) -> int:
        if self.on_export is None:
            return 0
        return write_export(self, self.export_status, path, self.on_export, "tip")
