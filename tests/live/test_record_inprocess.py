"""The recorder in-process: a stalled disk never stalls the event loop, and rotation de-duplication.

The fake venue runs on its own event loop in a thread, so anything that blocked the recorder's loop
would show as latency between the venue making a trade and the recorder deciding about it.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from fxcli.exchange.adapter import Decoded, Kind
from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.venues import VENUES, ResolvedEndpoints
from fxcli.live.dedup import Dedup
from fxcli.live.record import RecordConfig, record
from fxcli.live.recorder import Recorder
from fxcli.model.events import BookSnapshot, BookTicker, Trade
from fxcli.model.frames import RawFrame
from fxcli.store.encoding import write_durably
from fxcli.store.raw import RawWriter
from fxcli.store.schema import Table
from fxcli.store.writer import StoreWriter
from fxcli.tasks.record import DEFAULT_KINDS
from tests.fake_mexc import FakeMexc, Venue
from tests.fake_mexc.market import SymbolMarket, TradeRecord
from tests.live.test_record import check_trades, table

SYMBOLS = [f"S{i}USDT" for i in range(5)]
TICK_S = 0.005  # ~200 market ticks a second: a p99 over a few seconds rests on several ticks, not one
HOUR_NS = 1_795_550_400 * 10**9


@contextmanager
def venue_in_thread(
    symbols: list[str], tick_s: float = TICK_S, kind: Venue = Venue.SPOT, sizes: dict[str, str] | None = None
) -> Iterator[FakeMexc]:
    """A fake venue (spot unless `kind` says; futures `sizes`) serving from its own thread and event loop."""
    loop = asyncio.new_event_loop()
    venue = FakeMexc(kind, symbols, tick_s=tick_s, contract_sizes=sizes)
    thread = threading.Thread(target=loop.run_forever, name="fake-mexc", daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(venue.start(), loop).result(10.0)
    try:
        yield venue
    finally:
        asyncio.run_coroutine_threadsafe(venue.stop(), loop).result(10.0)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
        loop.close()


def stamp_trades(venue: FakeMexc) -> dict[tuple[str, int], int]:
    """Monotonic ns at which the venue made each trade (the 'tick')."""
    made: dict[tuple[str, int], int] = {}

    def stamped(market: SymbolMarket) -> Callable[[], TradeRecord]:
        original = market.next_trade

        def next_trade() -> TradeRecord:
            trade = original()
            made[(trade.symbol, trade.trade_id)] = time.monotonic_ns()
            return trade

        return next_trade

    for market in venue.markets.values():
        market.next_trade = stamped(market)  # type: ignore[method-assign]
    return made


def timed_recorder(decided: dict[tuple[str, int], int]) -> type[Recorder]:
    """A Recorder that notes when each trade reached its decision (`on_decoded` done)."""

    class Timed(Recorder):
        def on_decoded(self, frame: RawFrame, decoded: Decoded) -> None:
            super().on_decoded(frame, decoded)
            now = time.monotonic_ns()
            for event in decoded.events:
                if isinstance(event, Trade) and event.trade_id is not None:
                    decided.setdefault((event.symbol, event.trade_id), now)

    return Timed


def p99_ms(made: dict[tuple[str, int], int], decided: dict[tuple[str, int], int], lo: int, hi: int) -> float:
    """99th percentile of tick-to-decision latency for trades made in [lo, hi) (monotonic ns)."""
    latencies = [decided[k] - t for k, t in made.items() if lo <= t < hi and k in decided]
    assert len(latencies) > 2000, len(latencies)
    return statistics.quantiles(latencies, n=100)[98] / 1e6


def print_profile(
    made: dict[tuple[str, int], int], decided: dict[tuple[str, int], int], start: float, seconds: int
) -> None:
    """Latency per second of the run (shown with the failure, to tell a stall from a noisy neighbour)."""
    for second in range(seconds):
        lo, hi = int((start + second) * 1e9), int((start + second + 1) * 1e9)
        window = sorted(decided[k] - t for k, t in made.items() if lo <= t < hi and k in decided)
        if window:
            p99, worst = window[int(len(window) * 0.99)] / 1e6, [round(x / 1e6, 1) for x in window[-3:]]
            print(f"{second:3d} s  trades {len(window):4d}  p99 {p99:6.2f} ms  worst {worst}")


@pytest.mark.slow
def test_stalled_disk_keeps_loop_latency_and_becomes_writer_overflow_gaps(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    decided: dict[tuple[str, int], int] = {}
    start = time.monotonic()
    # steady state from 2.5 s (5 books synced at the REST bucket's 5/s); the disk hangs at 6.5 s for 5 s
    warm, stall_at, stall_s, stop_at = start + 2.5, start + 6.5, 5.0, start + 12.0
    stalls: list[float] = []

    def stalling_sink(payload: bytes, path: Path) -> None:  # the disk hangs for 5 s, once
        if time.monotonic() >= stall_at and not stalls:
            stalls.append(time.monotonic())
            time.sleep(stall_s)
        write_durably(payload, path)

    with venue_in_thread(SYMBOLS) as venue:
        made = stamp_trades(venue)
        config = RecordConfig(
            venue=VENUES["mexc-spot"],
            symbols=tuple(SYMBOLS),
            kinds=DEFAULT_KINDS,
            data_dir=data_dir,
            endpoints=ResolvedEndpoints(
                "mexc-spot", venue.endpoints.ws_url, "test", venue.endpoints.rest_url, "test"
            ),
            flush_s=1.0,
            writer_queue=3 * 2 * len(SYMBOLS),  # three flushes of trades and diffs: 5 s of stall overflows
        )
        summary = record(
            config,
            write_file=stalling_sink,
            stop=lambda: time.monotonic() >= stop_at,
            recorder_type=timed_recorder(decided),
        )
        returned = time.monotonic()
        coverage = check_trades(venue, data_dir)

    ns = 1e9  # time.monotonic() is time.monotonic_ns() in seconds
    normal = p99_ms(made, decided, int(warm * ns), int(stall_at * ns))
    # up to 0.25 s before the disk wakes: then the writer's backlog is recovery, not the stall
    stalled = p99_ms(made, decided, int(stalls[0] * ns), int((stalls[0] + stall_s - 0.25) * ns))
    print(f"\ntick-to-decision p99: {normal:.2f} ms, disk stalled {stalled:.2f} ms ({stalled / normal:.2f}x)")
    print_profile(made, decided, start, int(stop_at - start))

    assert stalls, "the disk never stalled"
    assert stalled <= 1.2 * normal
    assert returned - stop_at < 4.0  # the stop did not hang on the writer's backlog
    assert summary.stats.overflow_rows > 0
    reasons = {
        reason for s in SYMBOLS for reason in table(data_dir, "mexc-spot", s, Table.GAPS)["reason"].to_list()
    }
    assert "writer_overflow" in reasons
    assert sum(c["gapped"] for c in coverage.values()) > 0  # dropped rows are covered by those gaps


def test_dedup_without_trade_ids_keeps_genuine_repeats_and_drops_overlap_copies() -> None:
    dedup = Dedup(window_ns=10 * 10**9)
    same_print = ("t", 1_000, 1.5, 2.0, 1)  # two equal prints in one ms: both real

    first = [dedup.admit(same_print, conn_id=1, now_ns=5, is_overlap=False) for _ in range(2)]
    copies = [dedup.admit(same_print, conn_id=2, now_ns=6, is_overlap=True) for _ in range(2)]
    third = dedup.admit(same_print, conn_id=2, now_ns=7, is_overlap=True)
    later = dedup.admit(same_print, conn_id=2, now_ns=20 * 10**9, is_overlap=True)

    assert first == [True, True]
    assert copies == [False, False]  # connection 2 delivered what connection 1 already did
    assert third is True  # but a third print that connection 1 missed is kept
    assert later is True  # outside the window a key is new again


def test_recorder_writes_tickers_and_top_books_once_across_a_rotation_overlap(tmp_path: Path) -> None:
    nan = float("nan")
    ticker = BookTicker(
        HOUR_NS + 1_000, HOUR_NS + 2_000, "BTC_USDT", 100.5, nan, 100.6, nan
    )  # futures: no sizes
    top = BookSnapshot(
        HOUR_NS + 1_000, HOUR_NS + 2_000, "BTC_USDT", [(100.5, 3.0)], [(100.6, 4.0)], 7, "ws_top20"
    )
    trade = Trade(HOUR_NS + 1_000, HOUR_NS + 2_000, "BTC_USDT", 100.5, 2.0, 1, None)
    writer, raw = StoreWriter(tmp_path), RawWriter(tmp_path, "mexc-futures")
    channels = MexcFutures().channels("BTC_USDT", frozenset({Kind.TICKER, Kind.TOP, Kind.TRADES}))
    recorder = Recorder("mexc-futures", channels, writer, raw, slots=1)

    for conn_id, overlap in ((1, None), (2, 1)):  # the replacement delivers the same three pushes
        frame = RawFrame(0, conn_id, 1, HOUR_NS + 2_000, 5, "text", "{}", overlap)
        recorder.on_frame(frame)
        recorder.on_decoded(frame, Decoded(events=[ticker, top, trade, trade]))
    recorder.flush()
    recorder.close()
    writer.close()
    raw.close()

    assert table(tmp_path, "mexc-futures", "BTC_USDT", Table.BOOK_TICKER).height == 1
    snapshots = table(tmp_path, "mexc-futures", "BTC_USDT", Table.BOOK_SNAPSHOTS)
    assert snapshots["source"].to_list() == ["ws_top20", "ws_top20"]  # one book of two levels
    assert table(tmp_path, "mexc-futures", "BTC_USDT", Table.TRADES).height == 2  # two equal prints, kept
    assert recorder.copies.dropped == 4
