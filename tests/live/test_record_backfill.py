"""Trade backfill after a gap, against the fake venue's REST trade tape: a real outage (the venue goes
on trading while the recorder's connections are cut and its dials refused), a restart after downtime,
`--backfill off`, a trade history that is down, futures' short deal history, and paging."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.exchange.rest import RestClient
from fxcli.live.backfill import BackfillTiming, SpotHistory
from fxcli.model.events import Backfill
from fxcli.model.units import NS_PER_MS
from fxcli.store.schema import Table
from tests.conftest import run_fx
from tests.fake_mexc import FakeMexc, Venue
from tests.fake_mexc.market import TradeRecord
from tests.live.support import run, until
from tests.live.test_record import start_recorder, table, trades_stored, wait_exit
from tests.live.test_record_faults import recording
from tests.live.test_record_inprocess import venue_in_thread

QUICK = BackfillTiming(settle_s=0.3, end_margin_ms=300, tail_s=5.0, close_wait_s=3.0)
OUTAGE_S = 1.0


async def outage(venue: FakeMexc, after_s: float = 1.2, seconds: float = OUTAGE_S) -> None:
    """The recorder's sockets dropped and its dials refused for `seconds`; the market goes on."""
    await asyncio.sleep(after_s)
    venue.refuse_dials = 1_000_000
    await venue.disconnect_all(code=None)
    await asyncio.sleep(seconds)
    venue.refuse_dials = 0


def on_venue(venue: FakeMexc, coro: Coroutine[Any, Any, None]) -> None:
    assert venue.loop is not None
    asyncio.run_coroutine_threadsafe(coro, venue.loop)


def content(t: TradeRecord) -> tuple[int, float, float, int]:
    return t.time_ms * NS_PER_MS, float(t.price), float(t.qty), 1 if t.side == 1 else -1


def stored_content(trades: pl.DataFrame) -> Counter[tuple[int, float, float, int]]:
    rows = trades.select("exchange_ts_ns", "price", "qty", "side").iter_rows()
    return Counter((int(ts), float(p), float(q), int(s)) for ts, p, q, s in rows)


def trade_gaps(gaps: pl.DataFrame) -> pl.DataFrame:
    """The outages (not the instant between a futures symbol's two subscription acks at the start)."""
    return gaps.filter(pl.col("reason") == "disconnect", ~pl.col("detail").str.contains("not every channel"))


def assert_every_trade_once(
    venue: FakeMexc, symbol: str, trades: pl.DataFrame, lo_ns: int | None = None
) -> None:
    """Every trade the venue made from `lo_ns` (default: the first stored) to the last stored one is
    stored exactly once (by venue time, price, qty and side)."""
    times = trades["exchange_ts_ns"].to_list()
    lo, hi = min(times) if lo_ns is None else lo_ns, max(times)
    made = Counter(content(t) for t in venue.trades[symbol] if lo <= t.time_ms * NS_PER_MS <= hi)
    stored = stored_content(trades.filter(pl.col("exchange_ts_ns").is_between(lo, hi)))
    assert stored == made, (sum((made - stored).values()), sum((stored - made).values()))


@pytest.mark.parametrize("venue_ahead_ms", [0, -1500])
def test_an_outage_is_backfilled_once_marked_and_the_gap_says_so(venue_ahead_ms: int, tmp_path: Path) -> None:
    with venue_in_thread(["AUSDT"], tick_s=0.02) as venue:
        # A venue clock behind ours, and pushes 0.5 s in flight: prints of the venue's time up to the
        # gap's end on *our* clock come live, after the fetch; only the venue's clock tells them apart.
        venue.clock_offset_ms = venue_ahead_ms
        venue.network_delay_s = 0.5 if venue_ahead_ms else 0.0
        on_venue(venue, outage(venue))
        recording(venue, tmp_path, 4.5, symbols=["AUSDT"], backfill_timing=QUICK)()  # type: ignore[arg-type]

        trades = table(tmp_path, "mexc-spot", "AUSDT", Table.TRADES)
        gaps = trade_gaps(table(tmp_path, "mexc-spot", "AUSDT", Table.GAPS))
        assert gaps.height == 1, gaps
        gap = gaps.row(0, named=True)
        backfilled = trades.filter(pl.col("backfilled"))
        live = trades.filter(~pl.col("backfilled"))
        assert gap["backfill"] == Backfill.RECOVERED
        assert (gap["backfill_from_ns"], gap["backfill_to_ns"]) == (gap["start_ns"], gap["end_ns"])
        assert gap["backfill_trades"] == backfilled.height >= 0.8 * OUTAGE_S / 0.02
        assert "trades recovered over" in gap["detail"]
        assert "book not recoverable" in gap["detail"]
        # live prints carry the push's trade id; the REST tape has none: nothing live is marked
        assert live["trade_id"].null_count() == 0
        assert backfilled["trade_id"].null_count() == backfilled.height
        lo = gap["start_ns"] // NS_PER_MS * NS_PER_MS
        assert backfilled["exchange_ts_ns"].is_between(lo, gap["end_ns"]).all()
        assert_every_trade_once(venue, "AUSDT", trades)
        coverage = run_fx("inspect", "coverage", "AUSDT", "--data-dir", str(tmp_path))
        assert coverage.returncode == 0, coverage.stderr
        assert f"backfill: 1 recovered ({backfilled.height} trades)" in coverage.stdout
        assert "disconnect: trades recovered" in coverage.stdout
        as_json = run_fx("inspect", "coverage", "AUSDT", "--data-dir", str(tmp_path), "--json")
        assert '"backfill": "recovered"' in as_json.stdout


def test_backfill_off_stores_no_backfilled_trades_and_the_gap_says_off(tmp_path: Path) -> None:
    with venue_in_thread(["AUSDT"], tick_s=0.02) as venue:
        on_venue(venue, outage(venue))
        recording(venue, tmp_path, 3.5, symbols=["AUSDT"], backfill=False)()

        trades = table(tmp_path, "mexc-spot", "AUSDT", Table.TRADES)
        gaps = trade_gaps(table(tmp_path, "mexc-spot", "AUSDT", Table.GAPS))
        assert not trades["backfilled"].any()
        assert gaps["backfill"].to_list() == [Backfill.OFF]
        assert not any(r.startswith("/api/v3/aggTrades") for r in venue.rest_requests)
        gap = gaps.row(0, named=True)
        inside = [t for t in venue.trades["AUSDT"] if gap["start_ns"] < t.time_ms * NS_PER_MS < gap["end_ns"]]
        assert len(inside) > 20  # the outage was real: these trades are missing


def test_a_trade_history_that_is_down_leaves_the_gap_unrecovered_and_recording_on(
    tmp_path: Path,
) -> None:
    with venue_in_thread(["AUSDT"], tick_s=0.02) as venue:
        venue.trade_history_down = True
        on_venue(venue, outage(venue))
        summary = recording(venue, tmp_path, 4.0, symbols=["AUSDT"], backfill_timing=QUICK)()  # type: ignore[arg-type]

        trades = table(tmp_path, "mexc-spot", "AUSDT", Table.TRADES)
        gap = trade_gaps(table(tmp_path, "mexc-spot", "AUSDT", Table.GAPS)).row(0, named=True)
        assert gap["backfill"] == Backfill.NOT_RECOVERED
        assert gap["backfill_trades"] == 0
        assert "trades not recovered" in gap["detail"]
        assert "HTTP 503" in gap["detail"]
        assert not trades["backfilled"].any()
        after = trades.filter(pl.col("exchange_ts_ns") > gap["end_ns"])
        assert after.height > 30  # recording went on after the failed fetch
        assert summary.stats.trades == trades.height


def test_futures_recovers_what_its_recent_deals_hold_and_says_what_is_still_missing(tmp_path: Path) -> None:
    with venue_in_thread(["A_USDT"], tick_s=0.01, kind=Venue.FUTURES, sizes={"A_USDT": "0.001"}) as venue:
        on_venue(venue, outage(venue, seconds=1.5))  # ~150 deals: more than the venue's last 100
        recording(venue, tmp_path, 4.5, backfill_timing=QUICK)()  # type: ignore[arg-type]

        trades = table(tmp_path, "mexc-futures", "A_USDT", Table.TRADES)
        gap = trade_gaps(table(tmp_path, "mexc-futures", "A_USDT", Table.GAPS)).row(0, named=True)
        assert gap["backfill"] == Backfill.PARTIAL
        assert gap["start_ns"] < gap["backfill_from_ns"] < gap["backfill_to_ns"] == gap["end_ns"]
        assert "the venue serves only its newest 100 deals" in gap["detail"]
        backfilled = trades.filter(pl.col("backfilled"))
        assert 0 < backfilled.height == gap["backfill_trades"] < 100
        # the recovered span holds every trade once; before it, the gap is honest about the hole
        assert_every_trade_once(venue, "A_USDT", trades, int(gap["backfill_from_ns"]))
        before = trades.filter(
            pl.col("exchange_ts_ns").is_between(gap["start_ns"] + NS_PER_MS, gap["backfill_from_ns"] - 1)
        )
        assert before.height == 0


def test_a_restart_after_a_kill_backfills_the_downtime(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    async def scenario() -> tuple[FakeMexc, int]:
        async with FakeMexc(Venue.SPOT, ["AUSDT"], tick_s=0.02) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.2")
            try:
                await until(
                    lambda: trades_stored(data_dir, "mexc-spot", ["AUSDT"]) > 20, 8.0, "stored trades"
                )
                proc.kill()  # SIGKILL: what the raw log holds beyond the tables is lost with the tables
                proc.wait()
                await asyncio.sleep(1.0)  # downtime: the venue goes on trading
                proc = start_recorder(venue, data_dir, out, "--flush-s", "0.2")
                await until(lambda: '"event":"backfill"' in out.read_text(), 10.0, "the backfill")
                await asyncio.sleep(0.5)
                proc.send_signal(signal.SIGINT)
                return venue, await wait_exit(proc, 10.0)
            finally:
                if proc.poll() is None:
                    proc.kill()

    venue, code = run(scenario(), 30.0)

    assert code == 0, out.with_suffix(".err").read_text()[-2000:]
    trades = table(data_dir, "mexc-spot", "AUSDT", Table.TRADES)
    gaps = table(data_dir, "mexc-spot", "AUSDT", Table.GAPS).filter(
        pl.col("detail").str.contains("not running")
    )
    assert gaps.height == 1, gaps
    gap = gaps.row(0, named=True)
    assert gap["backfill"] == Backfill.RECOVERED
    assert gap["backfill_trades"] == trades["backfilled"].sum() >= 40
    assert_every_trade_once(venue, "AUSDT", trades)


@pytest.mark.parametrize("page", [7, 1000])
def test_spot_history_pages_a_busy_window_by_halving_it_until_each_answer_is_whole(page: int) -> None:
    async def scenario() -> tuple[list[int], list[int], int]:
        async with FakeMexc(Venue.SPOT, ["AUSDT"], tick_s=0.005) as venue:
            await asyncio.sleep(0.6)
            tape = venue.trades["AUSDT"]
            lo, hi = tape[0].time_ms, tape[-1].time_ms
            async with RestClient(timeout_s=5.0) as rest:
                # `page` trades asked per call: a full answer may be cut, its window is split and asked again
                history = SpotHistory(MexcSpot(venue.endpoints), page)
                fetched = await history.fetch(rest, "AUSDT", lo, hi)
            made = sorted(t.time_ms for t in tape if lo <= t.time_ms <= hi)
            calls = sum(1 for r in venue.rest_requests if r.startswith("/api/v3/aggTrades"))
            return made, [t.exchange_ts_ns // NS_PER_MS for t in fetched.trades], calls

    made, got, calls = run(scenario(), 20.0)

    assert got == made
    assert len(made) > 50
    assert (calls > len(made) // 7) if page == 7 else calls == 1
