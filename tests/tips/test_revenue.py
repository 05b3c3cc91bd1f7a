"""Revenue: totals, supporters, intervals, CSV, and the contract's side on anvil."""

import asyncio
import csv
import io
from pathlib import Path

from web3 import AsyncWeb3

from chain.rpc_provider import AsyncRpcProvider
from studio.tips.revenue import (
    ChainRevenue,
    Interval,
    RevenueService,
    export_csv,
    summarize,
    write_csv,
)
from studio.tips.store import CONFIRMED, DROPPED, PENDING, Tip, TipStore
from studio.tips.watcher import TipWatcher, WatchTarget
from tests.support.waiting import wait_until
from tests.tips.conftest import TipChain

ARTIST = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
ALICE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
BOB = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
DAY = 86_400
T0 = 1_700_006_400  # a UTC midnight


def tip(n: int, fan: str, wei: int, at: int, status: str = CONFIRMED, message: str = "") -> Tip:
    return Tip(
        "0x" + f"{n:02x}" * 32, 0, n, "0x" + "ee" * 32, at, ARTIST, fan, wei, message, status
    )


def test_summary_counts_confirmed_keeps_pending_apart_and_ignores_dropped() -> None:
    tips = [
        tip(1, ALICE, 5, T0 + 10),
        tip(2, BOB, 7, T0 + 20),
        tip(3, ALICE, 1, T0 + 2 * DAY + 5),
        tip(4, BOB, 100, T0 + 2 * DAY + 6, status=PENDING),
        tip(5, BOB, 1000, T0 + 2 * DAY + 7, status=DROPPED),
    ]
    summary = summarize(tips)
    assert (summary.total_wei, summary.count) == (13, 3)
    assert (summary.pending_wei, summary.pending_count) == (100, 1)
    assert [(b.start, b.total_wei, b.count) for b in summary.over_time] == [
        (T0, 12, 2),
        (T0 + DAY, 0, 0),
        (T0 + 2 * DAY, 1, 1),
    ]
    assert [(s.fan, s.total_wei, s.count) for s in summary.top_supporters] == [
        (BOB, 7, 1),
        (ALICE, 6, 2),
    ]


def test_streams_and_tracks_total_the_tips_inside_them() -> None:
    tips = [tip(1, ALICE, 5, T0 + 10), tip(2, BOB, 7, T0 + 100), tip(3, BOB, 9, T0 + 500)]
    summary = summarize(
        tips,
        streams=[Interval("Friday live", T0, T0 + 200), Interval("Sunday", T0 + 400, T0 + 600)],
        tracks=[Interval("Song A", T0, T0 + 50), Interval("Song B", T0 + 50, T0 + 120)],
    )
    assert [(t.label, t.total_wei, t.count) for t in summary.by_stream] == [
        ("Friday live", 12, 2),
        ("Sunday", 9, 1),
    ]
    assert [(t.label, t.total_wei) for t in summary.by_track] == [("Song A", 5), ("Song B", 7)]


def test_long_histories_get_coarser_buckets() -> None:
    tips = [tip(1, ALICE, 1, T0), tip(2, ALICE, 2, T0 + 5000 * DAY)]
    buckets = summarize(tips).over_time
    assert len(buckets) <= 1000
    assert sum(b.total_wei for b in buckets) == 3


def test_csv_is_exact_and_defuses_formulas(tmp_path: Path) -> None:
    tips = [
        tip(1, ALICE, 1, T0, message='=HYPERLINK("http://x","click")'),
        tip(2, BOB, 1234 * 10**18 + 1, T0 + 1, message='line one\nline, two "quoted"'),
        tip(3, BOB, 10**18, T0 + 2, message="+1 -2 @me"),
    ]
    buffer = io.StringIO()
    assert write_csv(tips, buffer, "tCORE2") == 3
    rows = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert rows[0]["message"] == '\'=HYPERLINK("http://x","click")'
    assert rows[0]["amount"] == "0.000000000000000001" and rows[0]["amount_wei"] == "1"
    assert rows[1]["message"] == 'line one\nline, two "quoted"'
    assert rows[1]["amount"] == "1234.000000000000000001"
    assert rows[2]["message"] == "'+1 -2 @me"
    assert rows[0]["time_utc"] == "2023-11-15T00:00:00Z"
    path = tmp_path / "tips.csv"
    export_csv(tips, path, "tCORE2")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")


async def test_dashboard_totals_match_the_chain_with_a_split_and_a_withdrawal(
    tip_chain: TipChain, tip_store: TipStore
) -> None:
    artist, fans = tip_chain.artist, tip_chain.fans
    collaborator = fans[3]
    split = tip_chain.tipping.functions.set_split(
        [artist.address, collaborator.address], [7000, 3000]
    )
    await asyncio.to_thread(
        tip_chain.send, artist, split.build_transaction({"from": artist.address})
    )
    amounts = [(0, 10**18), (1, 1), (0, 3 * 10**17), (2, 999)]
    for fan, wei in amounts:
        await asyncio.to_thread(tip_chain.tip, fans[fan], wei, "")

    target = WatchTarget(tip_chain.node.http_url, tip_chain.address, artist.address, 1, 1114)
    watcher = TipWatcher(target, tip_store, start_block=0, poll_interval_s=0.05)
    seen: list[Tip] = []
    watcher.tip_seen.connect(seen.append)
    watcher.start()
    w3 = AsyncWeb3(AsyncRpcProvider(tip_chain.node.http_url))
    try:
        await wait_until(lambda: len(seen) == len(amounts))
        service = RevenueService(
            tip_store, artist.address, "tCORE2", ChainRevenue(w3, tip_chain.address)
        )
        service.scope = watcher.scope
        summary, state = await service.refresh()
        assert state is not None
        on_chain_total = tip_chain.tipping.functions.tipped_total(artist.address).call()
        assert summary.total_wei == on_chain_total == sum(w for _, w in amounts)
        assert state.tipped_total_wei == on_chain_total
        assert state.withdrawable_wei == tip_chain.tipping.functions.balances(artist.address).call()
        payouts = {p.payee: p for p in state.payouts}
        assert payouts[artist.address].share_bps == 7000
        assert payouts[collaborator.address].share_bps == 3000
        assert payouts[artist.address].credited_wei == state.withdrawable_wei
        assert (
            payouts[artist.address].credited_wei + payouts[collaborator.address].credited_wei
            == on_chain_total
        ), "no wei lost or created in the split"
        assert summary.top_supporters[0].fan == fans[0].address

        call = service.chain.withdraw_call()  # type: ignore[union-attr]
        tx = await call.build_transaction({"from": artist.address})
        await asyncio.to_thread(tip_chain.send, artist, dict(tx))
        _, after = await service.refresh()
        assert after is not None
        assert after.withdrawable_wei == 0
        assert after.tipped_total_wei == on_chain_total
    finally:
        await watcher.stop()
        await w3.provider.disconnect()


async def test_streams_and_tracks_on_air_are_kept_and_totalled(tip_store: TipStore) -> None:
    now = [float(T0)]
    service = RevenueService(tip_store, ARTIST, "tCORE2", clock=lambda: now[0])
    service.scope = "1114:x:y"
    stream = service.begin("stream", "Friday live")
    song = service.begin("track", "Song A")
    now[0] += 100
    service.end(song)
    service.begin("track", "Song B")  # still playing
    now[0] += 100
    service.end(stream)
    with tip_store.transaction() as db:
        for t in (tip(1, ALICE, 5, T0 + 10), tip(2, BOB, 7, T0 + 150), tip(3, BOB, 9, T0 + 500)):
            tip_store.put_tip("1114:x:y", t, db)
    now[0] = T0 + 1000  # Song B is still on air: it counts up to now
    summary, _ = await service.refresh()
    assert [(t.label, t.total_wei) for t in summary.by_stream] == [("Friday live", 12)]
    assert [(t.label, t.total_wei) for t in summary.by_track] == [("Song A", 5), ("Song B", 16)]
