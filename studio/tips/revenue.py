"""Where the artist's money came from: totals over time, top supporters, per stream and per
track, split payouts, what can be withdrawn, and a CSV of every tip. Sales and subscriptions
(the tip store's other kinds) count in the totals, the chart and the CSV like tips; the Sales
view's figures (listed, sold, royalties) are read from the chain (studio.tips.sales).

Totals are computed from the tips the watcher stored (confirmed ones count; pending ones
are shown apart; dropped ones never count). What the contract holds for the artist (the
withdrawable balance, the lifetime total, the split and each payee's credits) is read from
the chain, so the dashboard can show both and they can be compared.
"""

import csv
import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, TextIO

from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3

from chain import contracts
from studio.signals import Signal
from studio.tips.format import format_amount, format_coin
from studio.tips.store import CONFIRMED, PENDING, Tip, TipStore

STREAM = "stream"
TRACK = "track"
CREDITED_TOPIC = "0x" + keccak(text="Credited(address,address,uint256)").hex()
DAY_S = 86_400
MAX_BUCKETS = 1_000
CSV_COLUMNS = (
    "time_utc",
    "block",
    "tx_hash",
    "log_index",
    "fan",
    "amount_wei",
    "amount",
    "symbol",
    "status",
    "message",
    "kind",
)


@dataclass(frozen=True)
class Interval:
    """A live stream or a track's time on air: tips in [start, end) count towards it."""

    label: str
    start: float
    end: float


@dataclass(frozen=True)
class Bucket:
    start: int  # unix seconds, aligned to the bucket size (UTC)
    total_wei: int
    count: int


@dataclass(frozen=True)
class Supporter:
    fan: str
    total_wei: int
    count: int
    last_at: int
    name: str | None = None  # the fan's backend profile name, when one is known


@dataclass(frozen=True)
class Total:
    label: str
    total_wei: int
    count: int


HOUR = "hour"
DAY = "day"
WEEK = "week"
_PERIOD = {HOUR: timedelta(hours=1), DAY: timedelta(days=1), WEEK: timedelta(weeks=1)}
MAX_AXIS_LABELS = 8


@dataclass(frozen=True)
class ChartBar:
    """One period of the revenue chart: [start, end) in unix seconds, local calendar."""

    start: float
    end: float
    period: str  # "Fri 27 Nov 2026, 14:00–15:00", "Fri 27 Nov 2026", "Week of Mon 23 Nov 2026"
    total_wei: int
    count: int

    def tooltip(self, symbol: str) -> str:
        tips = "1 tip" if self.count == 1 else f"{self.count} tips"
        return f"{self.period}\n{format_coin(self.total_wei, symbol)} from {tips}"


@dataclass(frozen=True)
class RevenueChart:
    """Bars per hour, day or week on a real time axis, with the axis labels to draw."""

    period: str = DAY  # hour, day or week
    bars: list[ChartBar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)  # (bar centre, label)

    @property
    def empty(self) -> bool:
        return not any(bar.count for bar in self.bars)


@dataclass(frozen=True)
class Summary:
    total_wei: int = 0
    count: int = 0
    pending_wei: int = 0
    pending_count: int = 0
    over_time: list[Bucket] = field(default_factory=list)
    top_supporters: list[Supporter] = field(default_factory=list)
    by_stream: list[Total] = field(default_factory=list)
    by_track: list[Total] = field(default_factory=list)
    chart: RevenueChart = field(default_factory=RevenueChart)


@dataclass(frozen=True)
class Payout:
    payee: str
    share_bps: int | None  # in the current split; None: credited earlier, no longer in it
    credited_wei: int


@dataclass(frozen=True)
class ChainState:
    withdrawable_wei: int
    tipped_total_wei: int
    payouts: list[Payout]


def summarize(
    tips: Iterable[Tip],
    *,
    bucket_s: int = DAY_S,
    top_n: int = 10,
    streams: Sequence[Interval] = (),
    tracks: Sequence[Interval] = (),
    tz: tzinfo | None = None,
    names: Mapping[str, str] | None = None,
) -> Summary:
    live = [t for t in tips if t.status in (CONFIRMED, PENDING)]
    counted = [t for t in live if t.status == CONFIRMED]
    pending = [t for t in live if t.status == PENDING]
    return Summary(
        total_wei=sum(t.amount_wei for t in counted),
        count=len(counted),
        pending_wei=sum(t.amount_wei for t in pending),
        pending_count=len(pending),
        over_time=over_time(counted, bucket_s),
        top_supporters=top_supporters(counted, top_n, names),
        by_stream=totals_by_interval(counted, streams),
        by_track=totals_by_interval(counted, tracks),
        chart=revenue_chart(counted, tz=tz),
    )


def over_time(tips: Sequence[Tip], bucket_s: int = DAY_S) -> list[Bucket]:
    """Totals per bucket from the first tip's to the last's, empty buckets included."""
    if not tips:
        return []
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for tip in tips:
        slot = sums[tip.timestamp - tip.timestamp % bucket_s]
        slot[0] += tip.amount_wei
        slot[1] += 1
    first, last = min(sums), max(sums)
    step = bucket_s
    while (last - first) // step + 1 > MAX_BUCKETS:  # a long history: coarser buckets
        step *= 2
    if step != bucket_s:
        return over_time(tips, step)
    return [Bucket(start, *sums.get(start, [0, 0])) for start in range(first, last + step, step)]


def chart_period(first: float, last: float) -> str:
    """Hours for up to two days of tips, days up to ~two months, weeks beyond."""
    span = last - first
    if span < 2 * DAY_S:
        return HOUR
    if span < 62 * DAY_S:
        return DAY
    return WEEK


def _period_start(moment: datetime, period: str) -> datetime:
    start = moment.replace(minute=0, second=0, microsecond=0)
    if period != HOUR:
        start = start.replace(hour=0)
    if period == WEEK:
        start -= timedelta(days=start.weekday())  # weeks start on Monday
    return start


def _next(start: datetime, period: str) -> datetime:
    # calendar arithmetic on the wall clock, re-localised: a DST change keeps days whole
    naive = start.replace(tzinfo=None) + _PERIOD[period]
    return naive.replace(tzinfo=start.tzinfo) if start.tzinfo else naive


def _period_text(start: datetime, end: datetime, period: str) -> str:
    day = f"{start:%a} {start.day} {start:%b %Y}"
    if period == HOUR:
        return f"{day}, {start:%H:%M}–{end:%H:%M}"
    if period == DAY:
        return day
    return f"Week of {day}"


def _tick_text(start: datetime, period: str, previous: datetime | None) -> str:
    if period == HOUR and previous is not None and previous.date() == start.date():
        return f"{start:%H:%M}"
    if period == HOUR:
        return f"{start.day} {start:%b} {start:%H:%M}"
    if previous is None or previous.year != start.year:
        return f"{start.day} {start:%b %Y}"
    return f"{start.day} {start:%b}"


def revenue_chart(
    tips: Sequence[Tip], tz: tzinfo | None = None, min_bars: int = 7, max_bars: int = 400
) -> RevenueChart:
    """Bars from the first tip's period to the last's (empty periods included, at least
    `min_bars`, so a single tip sits on a dated axis, not alone as a wide block)."""
    if not tips:
        return RevenueChart()
    local = tz or datetime.now().astimezone().tzinfo
    first, last = min(t.timestamp for t in tips), max(t.timestamp for t in tips)
    period = chart_period(first, last)
    start = _period_start(datetime.fromtimestamp(first, local), period)
    stop = _period_start(datetime.fromtimestamp(last, local), period)
    starts = [start]
    while starts[-1] < stop and len(starts) < max_bars:
        starts.append(_next(starts[-1], period))
    while len(starts) < min_bars:  # pad around the tips, mostly before them
        if len(starts) % 3 == 2:
            starts.append(_next(starts[-1], period))
        else:
            before = starts[0].replace(tzinfo=None) - _PERIOD[period]
            starts.insert(0, before.replace(tzinfo=local))
    ends = [*starts[1:], _next(starts[-1], period)]
    edges = [s.timestamp() for s in starts]
    sums: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for tip in tips:
        index = max(i for i, edge in enumerate(edges) if edge <= tip.timestamp)
        sums[index][0] += tip.amount_wei
        sums[index][1] += 1
    bars = [
        ChartBar(s.timestamp(), e.timestamp(), _period_text(s, e, period), *sums.get(i, [0, 0]))
        for i, (s, e) in enumerate(zip(starts, ends, strict=True))
    ]
    every = max(1, -(-len(starts) // MAX_AXIS_LABELS))
    ticks: list[tuple[float, str]] = []
    previous: datetime | None = None
    for i in range(0, len(starts), every):
        s = starts[i]
        ticks.append(((bars[i].start + bars[i].end) / 2, _tick_text(s, period, previous)))
        previous = s
    return RevenueChart(period, bars, ticks)


def top_supporters(
    tips: Sequence[Tip], n: int = 10, names: Mapping[str, str] | None = None
) -> list[Supporter]:
    per_fan: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for tip in tips:
        entry = per_fan[tip.fan]
        entry[0] += tip.amount_wei
        entry[1] += 1
        entry[2] = max(entry[2], tip.timestamp)
    ranked = sorted(per_fan.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    names = names or {}
    return [
        Supporter(fan, total, count, last, names.get(fan))
        for fan, (total, count, last) in ranked[:n]
    ]


def totals_by_interval(tips: Sequence[Tip], intervals: Sequence[Interval]) -> list[Total]:
    """One total per interval (label), in the intervals' order; overlapping ones both count."""
    result: dict[str, list[int]] = {}
    for interval in intervals:
        slot = result.setdefault(interval.label, [0, 0])
        for tip in tips:
            if interval.start <= tip.timestamp < interval.end:
                slot[0] += tip.amount_wei
                slot[1] += 1
    return [Total(label, total, count) for label, (total, count) in result.items()]


# -- CSV --------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    """Spreadsheets run cells that start with = + - @ (or a tab/CR) as formulas: quote them."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def write_csv(tips: Iterable[Tip], out: TextIO, symbol: str) -> int:
    """Every tip as one row (exact amounts as text); returns the number of rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    rows = 0
    for tip in tips:
        writer.writerow(
            [
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(tip.timestamp)),
                tip.block_number,
                tip.tx_hash,
                tip.log_index,
                tip.fan,
                str(tip.amount_wei),
                format_amount(tip.amount_wei).replace(",", ""),
                symbol,
                tip.status,
                _cell(tip.message),
                tip.kind,
            ]
        )
        rows += 1
    return rows


def export_csv(tips: Iterable[Tip], path: Path, symbol: str) -> int:
    buffer = io.StringIO()
    rows = write_csv(tips, buffer, symbol)
    path.write_text(buffer.getvalue(), encoding="utf-8-sig")  # the BOM: Excel reads UTF-8
    return rows


# -- the contract's side ------------------------------------------------------------------------


async def chunked_logs(
    w3: AsyncWeb3, where: dict[str, Any], from_block: int = 0, chunk: int = 5_000
) -> list[Any]:
    """eth_getLogs for `where` (address, topics) from `from_block` to the head, `chunk`
    blocks at a time (nodes cap a query's range)."""
    head = int(await w3.eth.block_number)
    found: list[Any] = []
    start = from_block
    while start <= head:
        end = min(start + chunk - 1, head)
        found += await w3.eth.get_logs({**where, "fromBlock": start, "toBlock": end})
        start = end + 1
    return found


class ChainRevenue:
    """Reads the Tipping contract: balances, lifetime total, split and credits."""

    def __init__(self, w3: AsyncWeb3, contract: str, log_chunk: int = 5_000) -> None:
        self.w3 = w3
        self.address = to_checksum_address(contract)
        self.contract = w3.eth.contract(address=self.address, abi=contracts.abi("tipping"))
        self.log_chunk = log_chunk

    async def withdrawable(self, payee: str) -> int:
        return int(await self.contract.functions.balances(to_checksum_address(payee)).call())

    async def tipped_total(self, artist: str) -> int:
        return int(await self.contract.functions.tipped_total(to_checksum_address(artist)).call())

    async def split(self, artist: str) -> list[tuple[str, int]]:
        payees, shares = await self.contract.functions.split_of(to_checksum_address(artist)).call()
        return [(to_checksum_address(p), int(s)) for p, s in zip(payees, shares, strict=True)]

    async def credited(self, artist: str, from_block: int = 0) -> dict[str, int]:
        """Everything credited to each payee from `artist`'s tips (Credited events)."""
        artist_topic = "0x" + "00" * 12 + to_checksum_address(artist)[2:].lower()
        totals: dict[str, int] = defaultdict(int)
        where = {"address": self.address, "topics": [CREDITED_TOPIC, None, artist_topic]}
        for entry in await chunked_logs(self.w3, where, from_block, self.log_chunk):
            payee = to_checksum_address("0x" + bytes(entry["topics"][1])[-20:].hex())
            totals[payee] += int.from_bytes(bytes(entry["data"])[:32], "big")
        return dict(totals)

    async def state(self, artist: str, from_block: int = 0) -> ChainState:
        split = await self.split(artist)
        credited = await self.credited(artist, from_block)
        payouts = [Payout(p, bps, credited.get(p, 0)) for p, bps in split]
        in_split = {p for p, _ in split}
        payouts += [
            Payout(p, None, wei)
            for p, wei in sorted(credited.items(), key=lambda kv: -kv[1])
            if p not in in_split
        ]
        return ChainState(
            withdrawable_wei=await self.withdrawable(artist),
            tipped_total_wei=await self.tipped_total(artist),
            payouts=payouts,
        )

    def withdraw_call(self) -> Any:
        """The contract call the wallet signs and sends (through the confirmation dialog)."""
        return self.contract.functions.withdraw()


class RevenueService:
    """What the dashboard shows, refreshed on demand; `changed(summary, chain_state)`, and
    `sales_changed(SalesSummary)` when a marketplace is followed (`sales` set)."""

    def __init__(
        self,
        store: TipStore,
        artist: str,
        symbol: str,
        chain: ChainRevenue | None = None,
        bucket_s: int = DAY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.store = store
        self.artist = to_checksum_address(artist)
        self.symbol = symbol
        self.chain = chain
        self.bucket_s = bucket_s
        self.scope: str | None = None
        self.market_scope: str | None = None  # the sales and subscriptions followed
        self.sales: Any = None  # studio.tips.sales.ChainSales
        self.sales_changed = Signal()
        self.sales_summary: Any = None
        self.streams: list[Interval] = []
        self.tracks: list[Interval] = []
        self.changed = Signal()
        self.summary = Summary()
        self.chain_state: ChainState | None = None

    def tips(self) -> list[Tip]:
        """Tips, sales and subscriptions, in chain order."""
        scopes = [scope for scope in (self.scope, self.market_scope) if scope]
        found = [tip for scope in scopes for tip in self.store.tips(scope)]
        return sorted(found, key=lambda tip: (tip.block_number, tip.log_index))

    # -- what was on air, for per-stream and per-track totals ---------------------------------

    def begin(self, kind: str, label: str) -> int:
        """A stream ("stream") or a track ("track") goes on air now; returns its id for `end`."""
        return self.store.open_interval(kind, label, self.clock())

    def end(self, interval_id: int) -> None:
        self.store.close_interval(interval_id, self.clock())

    def _intervals(self, kind: str, extra: list[Interval]) -> list[Interval]:
        now = self.clock()
        stored = [
            Interval(label, start, end if end is not None else now + 1)
            for label, start, end in self.store.intervals(kind)
        ]
        return stored + extra

    async def refresh(self) -> tuple[Summary, ChainState | None]:
        self.summary = summarize(
            self.tips(),
            bucket_s=self.bucket_s,
            streams=self._intervals(STREAM, self.streams),
            tracks=self._intervals(TRACK, self.tracks),
            names=self.store.fan_names(),
        )
        if self.chain is not None:
            self.chain_state = await self.chain.state(self.artist)
        self.changed.emit(self.summary, self.chain_state)
        if self.sales is not None:
            self.sales_summary = await self.sales.summary(self.artist)
            self.sales_changed.emit(self.sales_summary)
        return self.summary, self.chain_state

    def export_csv(self, path: Path) -> int:
        return export_csv(self.tips(), path, self.symbol)
