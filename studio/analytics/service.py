"""The artist's analytics from the backend (GET /me/analytics), as chart series and CSV.

    service = AnalyticsService(backend_client)
    report = await service.report(date(2026, 11, 1), date(2026, 11, 27))
    for line in plays_series(report): ...          # (name, [(unix s, value), ...])
    rows = export_csv(report, path, "CORE")

Qt-free: the window's Analytics tab (widgets.analytics) draws the series. Days are UTC days
as the backend counts them; a day's point sits at the day's start (00:00 UTC).
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

from backend.wire import ANALYTICS_MAX_DAYS as MAX_RANGE_DAYS
from backend.wire import AnalyticsReport
from chain.errors import ChainError, WalletLockedError
from studio.errors import StudioError
from studio.social.backend_client import BackendClient, BackendClientError
from studio.tips.format import WEI_DECIMALS, format_amount
from studio.tips.revenue import _cell as csv_cell  # formulas in titles stay text

MAX_LINES = 6  # tracks or shows drawn at once: the busiest ones


class AnalyticsError(StudioError):
    pass


@dataclass(frozen=True)
class Series:
    name: str
    points: list[tuple[float, float]]  # (unix seconds, value)


def check_range(start: date, end: date) -> str | None:
    """Why (start, end) is not a range the backend serves, in words; None when it is."""
    if start > end:
        return f"From ({start}) is after To ({end})."
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        return f"{days} days is too long: at most {MAX_RANGE_DAYS} days at once."
    return None


class AnalyticsService:
    def __init__(self, client: BackendClient) -> None:
        self.client = client
        self.last: AnalyticsReport | None = None

    async def report(self, start: date, end: date) -> AnalyticsReport:
        """The report for UTC days start..end (both included); AnalyticsError says why not."""
        problem = check_range(start, end)
        if problem is not None:
            raise AnalyticsError(problem)
        try:
            response = await self.client.request(
                "GET",
                "/me/analytics",
                params={"from": start.isoformat(), "to": end.isoformat()},
            )
        except WalletLockedError as exc:
            raise AnalyticsError(
                "Unlock the wallet to sign in to the backend, then refresh."
            ) from exc
        except (BackendClientError, ChainError) as exc:
            raise AnalyticsError(f"Analytics unavailable: {exc}") from exc
        self.last = AnalyticsReport.model_validate(response.json())
        return self.last


def day_start(day: date) -> float:
    return datetime.combine(day, time(), UTC).timestamp()


def _busiest(lines: Iterable[Series]) -> list[Series]:
    ranked = sorted(lines, key=lambda s: -sum(v for _, v in s.points))
    return [s for s in ranked[:MAX_LINES] if any(v for _, v in s.points)]


def plays_series(report: AnalyticsReport) -> list[Series]:
    """Plays per day of the most played tracks, one line each."""
    xs = [day_start(d.day) for d in report.days]
    return _busiest(
        Series(t.title, list(zip(xs, map(float, t.daily_plays), strict=True)))
        for t in report.tracks
    )


def viewers_series(report: AnalyticsReport) -> list[Series]:
    """Viewers over time of the most watched shows, one line each."""
    return _busiest(
        Series(
            f"{s.title} ({s.started_at.astimezone(UTC):%Y-%m-%d})",
            [(p.at.timestamp(), float(p.viewers)) for p in s.samples],
        )
        for s in report.shows
    )


def followers_series(report: AnalyticsReport) -> list[Series]:
    xs = [day_start(d.day) for d in report.days]
    return [
        Series("Followers", [(x, float(d.followers)) for x, d in zip(xs, report.days, strict=True)])
    ]


def income_series(report: AnalyticsReport) -> list[Series]:
    """Tips, sales and subscriptions per day, in coins (for drawing only: amounts shown as
    text come from the wei strings)."""
    xs = [day_start(d.day) for d in report.days]
    scale = 10**WEI_DECIMALS

    def line(name: str, values: list[str]) -> Series:
        return Series(name, [(x, int(v) / scale) for x, v in zip(xs, values, strict=True)])

    return [
        line("Tips", [d.tips_wei for d in report.days]),
        line("Sales", [d.sales_wei for d in report.days]),
        line("Subscriptions", [d.subscriptions_wei for d in report.days]),
    ]


CSV_HEADER = ["time", "metric", "subject", "value", "coins"]


def write_csv(report: AnalyticsReport, out: TextIO, symbol: str) -> int:
    """One row per figure (time, metric, subject, value): days, tracks' plays, shows' viewer
    samples. Income rows hold wei in `value` and the amount in `symbol` in `coins`."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    rows = 0

    def row(at: str, metric: str, subject: str, value: int | str, coins: str = "") -> None:
        nonlocal rows
        writer.writerow([at, metric, csv_cell(subject), value, coins])
        rows += 1

    for d in report.days:
        day = d.day.isoformat()
        row(day, "plays", "", d.plays)
        row(day, "followers", "", d.followers)
        row(day, "followers_gained", "", d.followers_gained)
        row(day, "followers_lost", "", d.followers_lost)
        for kind, count, wei in (
            ("tips", d.tips, d.tips_wei),
            ("sales", d.sales, d.sales_wei),
            ("subscriptions", d.subscriptions, d.subscriptions_wei),
        ):
            row(day, kind, "", count)
            row(day, f"{kind}_wei", symbol, wei, format_amount(int(wei)).replace(",", ""))
    for t in report.tracks:
        for d, plays in zip(report.days, t.daily_plays, strict=True):
            if plays:
                row(d.day.isoformat(), "track_plays", t.title, plays)
    for s in report.shows:
        for p in s.samples:
            at = p.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            row(at, "show_viewers", s.title, p.viewers)
    return rows


def export_csv(report: AnalyticsReport, path: Path, symbol: str) -> int:
    buffer = io.StringIO()
    rows = write_csv(report, buffer, symbol)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")  # the BOM: Excel reads UTF-8
    return rows


def default_range(today: date, days: int = 30) -> tuple[date, date]:
    return today - timedelta(days=days - 1), today
