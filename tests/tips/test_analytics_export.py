"""studio.analytics: the report as chart series and as CSV (exact wei, titles that look like
formulas kept as text), and the range the backend serves checked before asking."""

import csv
import io
from datetime import UTC, date, datetime, timedelta

from backend.wire import AnalyticsReport
from studio.analytics.service import (
    MAX_LINES,
    check_range,
    followers_series,
    income_series,
    plays_series,
    viewers_series,
    write_csv,
)

DAYS = [date(2026, 11, 25) + timedelta(days=i) for i in range(3)]
START = datetime(2026, 11, 26, 20, tzinfo=UTC)


def report(tracks: int = 2) -> AnalyticsReport:
    return AnalyticsReport.model_validate(
        {
            "artist": "0x" + "1" * 40,
            "from_day": DAYS[0],
            "to_day": DAYS[-1],
            "sample_interval_s": 10,
            "days": [
                {
                    "day": d,
                    "plays": i,
                    "followers": 10 + i,
                    "followers_gained": 1,
                    "followers_lost": 0,
                    "tips": 1,
                    "tips_wei": str(2**80 + i),
                    "sales": 0,
                    "sales_wei": "0",
                    "subscriptions": 0,
                    "subscriptions_wei": "0",
                }
                for i, d in enumerate(DAYS)
            ],
            "tracks": [
                {
                    "track_id": n + 1,
                    "title": "=HYPERLINK(1)" if n == 0 else f"Song {n}",
                    "plays": 3 * (n + 1),
                    "listeners": 1,
                    "daily_plays": [n + 1, 0, 2 * (n + 1)],
                }
                for n in range(tracks)
            ],
            "shows": [
                {
                    "stream_id": "s1",
                    "title": "Friday",
                    "started_at": START,
                    "ended_at": None,
                    "peak_viewers": 4,
                    "average_viewers": 2.5,
                    "samples": [
                        {"at": START + timedelta(seconds=10 * k), "viewers": k} for k in range(5)
                    ],
                }
            ],
        }
    )


def test_series_are_per_day_at_utc_midnight_and_the_busiest_lines() -> None:
    shown = report(tracks=MAX_LINES + 2)
    lines = plays_series(shown)
    assert len(lines) == MAX_LINES, "only the most played tracks are drawn"
    assert lines[0].name == f"Song {MAX_LINES + 1}"
    midnight = datetime(2026, 11, 25, tzinfo=UTC).timestamp()
    assert [x for x, _ in lines[0].points] == [midnight + 86400 * i for i in range(3)]
    assert [y for _, y in lines[0].points] == [MAX_LINES + 2, 0, 2 * (MAX_LINES + 2)]
    (show,) = viewers_series(shown)
    assert show.name == "Friday (2026-11-26)"
    assert show.points[1] == (START.timestamp() + 10, 1.0)
    assert [y for _, y in followers_series(shown)[0].points] == [10, 11, 12]
    tips = income_series(shown)[0]
    assert tips.name == "Tips" and round(tips.points[0][1], 6) == round(2**80 / 10**18, 6)


def test_csv_keeps_exact_wei_and_quotes_formulas() -> None:
    out = io.StringIO()
    rows = write_csv(report(), out, "CORE")
    lines = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows == len(lines)
    tips = [r for r in lines if r["metric"] == "tips_wei"]
    assert [r["value"] for r in tips] == [str(2**80 + i) for i in range(3)]
    assert tips[0]["coins"] == "1208925.819614629174706176" and tips[0]["subject"] == "CORE"
    titles = {r["subject"] for r in lines if r["metric"] == "track_plays"}
    assert titles == {"'=HYPERLINK(1)", "Song 1"}, "a title is never run as a formula"
    assert [r["value"] for r in lines if r["metric"] == "show_viewers"] == list("01234")
    assert lines[-1]["time"] == "2026-11-26T20:00:40Z"


def test_ranges_the_backend_refuses_are_said_first() -> None:
    assert check_range(date(2026, 1, 2), date(2026, 1, 1)) == (
        "From (2026-01-02) is after To (2026-01-01)."
    )
    assert check_range(date(2025, 1, 1), date(2026, 1, 1)) is None, "366 days"
    assert check_range(date(2025, 1, 1), date(2026, 1, 2)) == (
        "367 days is too long: at most 366 days at once."
    )
    assert check_range(date(2026, 1, 1), date(2026, 1, 1)) is None
