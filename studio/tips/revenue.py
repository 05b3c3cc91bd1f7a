"""Where the artist's money came from: totals over time, top supporters, per stream and per
track, split payouts, what can be withdrawn, and a CSV of every tip.

Totals are computed from the tips the watcher stored (confirmed ones count; pending ones
are shown apart; dropped ones never count). What the contract holds for the artist (the
withdrawable balance, the lifetime total, the split and each payee's credits) is read from
the chain, so the dashboard can show both and they can be compared.
"""

import csv
import io
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from eth_utils import keccak, to_checksum_address
from web3 import AsyncWeb3

from chain import contracts
from studio.signals import Signal
from studio.tips.format import format_amount
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


@dataclass(frozen=True)
class Total:
    label: str
    total_wei: int
    count: int


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
        top_supporters=top_supporters(counted, top_n),
        by_stream=totals_by_interval(counted, streams),
        by_track=totals_by_interval(counted, tracks),
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


def top_supporters(tips: Sequence[Tip], n: int = 10) -> list[Supporter]:
    per_fan: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for tip in tips:
        entry = per_fan[tip.fan]
        entry[0] += tip.amount_wei
        entry[1] += 1
        entry[2] = max(entry[2], tip.timestamp)
    ranked = sorted(per_fan.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    return [Supporter(fan, total, count, last) for fan, (total, count, last) in ranked[:n]]


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
        head = int(await self.w3.eth.block_number)
        artist_topic = "0x" + "00" * 12 + to_checksum_address(artist)[2:].lower()
        totals: dict[str, int] = defaultdict(int)
        start = from_block
        while start <= head:
            end = min(start + self.log_chunk - 1, head)
            logs = await self.w3.eth.get_logs(
                {
                    "fromBlock": start,
                    "toBlock": end,
                    "address": self.address,
                    "topics": [CREDITED_TOPIC, None, artist_topic],
                }
            )
            for entry in logs:
                payee = to_checksum_address("0x" + bytes(entry["topics"][1])[-20:].hex())
                totals[payee] += int.from_bytes(bytes(entry["data"])[:32], "big")
            start = end + 1
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
    """What the dashboard shows, refreshed on demand; `changed(summary, chain_state)`."""

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
        self.streams: list[Interval] = []
        self.tracks: list[Interval] = []
        self.changed = Signal()
        self.summary = Summary()
        self.chain_state: ChainState | None = None

    def tips(self) -> list[Tip]:
        return self.store.tips(self.scope) if self.scope else []

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
        )
        if self.chain is not None:
            self.chain_state = await self.chain.state(self.artist)
        self.changed.emit(self.summary, self.chain_state)
        return self.summary, self.chain_state

    def export_csv(self, path: Path) -> int:
        return export_csv(self.tips(), path, self.symbol)
