"""`fx record` as a real subprocess against the fake MEXC venue on 127.0.0.1: SIGINT, kill -9, restart.

The truth is the fake venue's log of the trades it wrote to a socket (`trades_sent`); the store must
hold each of them exactly once, or a Gap row must cover its time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from fxcli.exchange.mexc_futures import MexcFutures
from fxcli.exchange.mexc_spot import MexcSpot
from fxcli.model.units import NS_PER_MS
from fxcli.store.raw import frame_bytes, raw_files, read_raw
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from tests.conftest import REPO, run_fx
from tests.fake_mexc import FakeMexc, Venue
from tests.fake_mexc.market import TradeRecord
from tests.live.support import run, until

SPOT = ["AUSDT", "BUSDT", "CUSDT"]
FUTURES = ["A_USDT", "B_USDT"]
EXCHANGE = {Venue.SPOT: "mexc-spot", Venue.FUTURES: "mexc-futures"}
SIZES = {"A_USDT": "0.0001", "B_USDT": "10"}  # futures contract sizes (spot ignores them)


# ------------------------------------------------------------------------------------------ helpers


def start_recorder(venue: FakeMexc, data_dir: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    """`fx record --headless` against the fake venue; stdout (JSON lines) to `out`, stderr beside it."""
    symbols = ",".join(venue.markets)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FX_")}
    args = [
        sys.executable,
        "-m",
        "fxcli",
        "record",
        "--exchange",
        EXCHANGE[venue.venue],
        "--symbols",
        symbols,
    ]
    args += ["--ws-url", venue.endpoints.ws_url, "--rest-url", venue.endpoints.rest_url]
    args += ["--data-dir", str(data_dir), "--headless", "--stats-s", "1", *extra]
    with out.open("ab") as sink, out.with_suffix(".err").open("ab") as errors:
        return subprocess.Popen(args, stdout=sink, stderr=errors, cwd=REPO, env=env)


async def wait_exit(proc: subprocess.Popen[bytes], timeout_s: float) -> int:
    """Wait for the process while the fake venue (same event loop) keeps serving."""
    await until(lambda: proc.poll() is not None, timeout_s, "fx record to exit", step_s=0.05)
    assert proc.returncode is not None
    return proc.returncode


def lines(out: Path) -> list[dict[str, Any]]:
    """The JSON lines `fx record --headless` printed."""
    return [json.loads(line) for line in out.read_text().splitlines() if line.strip()]


def table(data_dir: Path, exchange: str, symbol: str, which: Table) -> pl.DataFrame:
    """Everything stored in one table of one symbol."""
    return StoreReader(data_dir).scan(exchange, symbol, which).collect()


def _print(t: TradeRecord) -> tuple[int, float, float, int]:
    """A trade as stored: venue time, price, qty, aggressor side."""
    return t.time_ms * NS_PER_MS, float(t.price), float(t.qty), 1 if t.side == 1 else -1


def covered_ns(ts_ns: int, gaps: pl.DataFrame) -> bool:
    """A Gap row covers this venue time (ms resolution)."""
    ms = ts_ns // NS_PER_MS
    return any(
        start // NS_PER_MS <= ms <= -(-end // NS_PER_MS)
        for start, end in zip(gaps["start_ns"].to_list(), gaps["end_ns"].to_list(), strict=True)
    )


def covered(trade: TradeRecord, gaps: pl.DataFrame) -> bool:
    """A Gap row covers the trade's time (venue times are whole ms: compare at ms resolution)."""
    return any(
        start // NS_PER_MS <= trade.time_ms <= -(-end // NS_PER_MS)
        for start, end in zip(gaps["start_ns"].to_list(), gaps["end_ns"].to_list(), strict=True)
    )


def check_trades(
    venue: FakeMexc, data_dir: Path, *, sent_before_ms: int | None = None
) -> dict[str, dict[str, int]]:
    """Every trade the venue sent (before `sent_before_ms`) is stored once or covered by a gap, and
    what is stored was sent, with the venue's price, size, side and time. Returns per symbol: sent,
    stored, gapped."""
    exchange = EXCHANGE[venue.venue]
    summary = {}
    for symbol in venue.markets:
        stored = table(data_dir, exchange, symbol, Table.TRADES)
        gaps = table(data_dir, exchange, symbol, Table.GAPS)
        # Trades fetched over REST after a gap have no ids: each one is a trade the venue made inside
        # a gap, and no trade is stored twice (live and fetched)
        is_backfilled = pl.col("backfilled").fill_null(False)
        trades, backfilled = stored.filter(~is_backfilled), stored.filter(is_backfilled)
        made_prints = Counter(_print(t) for t in venue.trades[symbol])
        rows = stored.select("exchange_ts_ns", "price", "qty", "side").iter_rows()
        assert not Counter(rows) - made_prints, f"{symbol}: a trade stored twice, or one never made"
        assert all(covered_ns(ts, gaps) for ts in backfilled["exchange_ts_ns"].to_list())
        ids = trades["trade_id"].to_list()
        made = {t.trade_id: t for t in venue.trades[symbol]}
        sent = [t for t in venue.trades_sent(symbol) if sent_before_ms is None or t.time_ms < sent_before_ms]

        assert len(ids) == len(set(ids)), f"{symbol}: a trade stored twice"
        assert set(ids) <= {t.trade_id for t in venue.trades_sent(symbol)}, f"{symbol}: stored but never sent"
        for row in trades.iter_rows(named=True):  # what is stored is what was sent
            truth = made[row["trade_id"]]
            assert (row["price"], row["qty"]) == (float(truth.price), float(truth.qty))
            assert row["side"] == (1 if truth.side == 1 else -1)
            assert row["exchange_ts_ns"] == truth.time_ms * NS_PER_MS
        missing = [t for t in sent if t.trade_id not in set(ids)]
        uncovered = [t for t in missing if not covered(t, gaps)]
        assert not uncovered, f"{symbol}: {len(uncovered)} sent trades neither stored nor in a gap"
        summary[symbol] = {"sent": len(sent), "stored": stored.height, "gapped": len(missing)}
    return summary


def no_silent_hole(venue: FakeMexc, data_dir: Path, symbol: str) -> pl.DataFrame:
    """Every trade the venue made between the first and the last stored one (connected or not) is
    stored or inside a Gap row; returns the symbol's gaps."""
    stored = table(data_dir, "mexc-spot", symbol, Table.TRADES)
    gaps = table(data_dir, "mexc-spot", symbol, Table.GAPS)
    ids = set(stored["trade_id"].to_list())
    times = stored["exchange_ts_ns"].to_list()
    first_ms, last_ms = min(times) // NS_PER_MS, max(times) // NS_PER_MS
    made = [t for t in venue.trades[symbol] if first_ms <= t.time_ms <= last_ms]
    holes = [t for t in made if t.trade_id not in ids and not covered(t, gaps)]
    assert not holes, f"{symbol}: {len(holes)} of {len(made)} trades neither stored nor in a gap"
    return gaps


def raw_trades(data_dir: Path, venue: FakeMexc) -> tuple[dict[str, set[int]], int]:
    """Trade ids per symbol found by decoding the raw frames again, and the damaged bytes seen."""
    exchange = EXCHANGE[venue.venue]
    adapter = MexcSpot() if venue.venue is Venue.SPOT else MexcFutures()
    found: dict[str, set[int]] = {s: set() for s in venue.markets}
    damaged = 0
    for path in raw_files(data_dir, exchange):
        content = read_raw(path)
        damaged += content.damaged_bytes
        for record in content.records:
            if record["kind"] in ("text", "binary"):
                for event in adapter.decode(frame_bytes(record), record["recv_wall_ns"]).events:
                    trade_id = getattr(event, "trade_id", None)
                    if trade_id is not None:
                        found[event.symbol].add(trade_id)
    return found, damaged


def trades_stored(data_dir: Path, exchange: str, symbols: list[str]) -> int:
    return sum(table(data_dir, exchange, s, Table.TRADES).height for s in symbols)


# -------------------------------------------------------------------------------------------- tests


@pytest.mark.slow
@pytest.mark.parametrize("kind", [Venue.SPOT, Venue.FUTURES])
def test_record_until_sigint_stores_every_sent_trade_once_or_in_a_gap(kind: Venue, tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"
    symbols = SPOT if kind is Venue.SPOT else FUTURES

    async def scenario() -> tuple[int, dict[str, dict[str, int]]]:
        # futures sizes are contracts on the wire: the store must hold the venue's base quantities
        async with FakeMexc(kind, symbols, contract_sizes=SIZES) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.5")
            try:
                await until(
                    lambda: trades_stored(data_dir, EXCHANGE[kind], symbols) > 30, 8.0, "stored trades"
                )
                await venue.disconnect_all(code=None)  # TCP dropped without a close frame: a gap
                await until(lambda: len(venue.open_clients()) == 1, 5.0, "a reconnect")
                await asyncio.sleep(1.0)
                proc.send_signal(signal.SIGINT)
                code = await wait_exit(proc, 8.0)
            finally:
                if proc.poll() is None:
                    proc.kill()
            return code, check_trades(venue, data_dir)

    code, summary = run(scenario(), 25.0)

    assert code == 0, out.with_suffix(".err").read_text()[-2000:]
    assert all(s["stored"] > 30 and s["gapped"] < s["sent"] / 4 for s in summary.values()), summary
    events = lines(out)
    kinds = [e["event"] for e in events]
    assert (kinds[0], kinds[-1]) == ("started", "stopped")
    assert "stats" in kinds
    assert {e["symbol"] for e in events if e["event"] == "gap" and e["reason"] == "disconnect"} == set(
        symbols
    )
    verify = run_fx("inspect", "--verify", "--data-dir", str(data_dir))
    assert verify.returncode == 0, verify.stderr
    assert "every file matches its manifest" in verify.stderr
    reader = StoreReader(data_dir)
    for symbol in symbols:  # each folder says what its quantities are
        meta = reader.meta(EXCHANGE[kind], symbol, Table.TRADES)
        assert meta.get("qty_unit") == "base"
        if kind is Venue.FUTURES:
            assert meta["contract_size"] == float(SIZES[symbol])


def test_record_raw_frames_hold_every_stored_trade_and_decompress_with_zstd(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    async def scenario() -> tuple[dict[str, set[int]], int, FakeMexc]:
        async with FakeMexc(Venue.SPOT, SPOT) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.5")
            try:
                await until(lambda: trades_stored(data_dir, "mexc-spot", SPOT) > 60, 8.0, "stored trades")
                proc.send_signal(signal.SIGTERM)
                assert await wait_exit(proc, 8.0) == 0
            finally:
                if proc.poll() is None:
                    proc.kill()
            found, damaged = raw_trades(data_dir, venue)
            return found, damaged, venue

    found, damaged, venue = run(scenario(), 20.0)

    assert damaged == 0
    for symbol in SPOT:
        stored = set(table(data_dir, "mexc-spot", symbol, Table.TRADES)["trade_id"].to_list())
        assert stored == found[symbol] == {t.trade_id for t in venue.trades_sent(symbol)}
    paths = list(raw_files(data_dir, "mexc-spot"))
    assert [p.name for p in paths] == ["conn-0.jsonl.zst"]
    assert paths[0].relative_to(data_dir).parts[:2] == ("mexc-spot", "raw")
    records = read_raw(paths[0]).records
    assert (records[0]["kind"], records[0]["ws_url"]) == ("session", venue.endpoints.ws_url)
    assert {"snapshot", "control", "binary", "text"} <= {r["kind"] for r in records}
    if shutil.which("zstd"):  # the stock tool reads the multi-frame file too
        listing = subprocess.run(["zstd", "-dc", str(paths[0])], capture_output=True, check=True)
        assert listing.stdout.count(b"\n") == len(records)


@pytest.mark.slow
def test_record_killed_with_sigkill_leaves_readable_files_and_a_restart_appends(tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"
    flush_s = 0.5

    async def scenario() -> tuple[dict[str, dict[str, int]], list[dict[str, Any]], int]:
        async with FakeMexc(Venue.SPOT, SPOT) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", str(flush_s))
            await until(lambda: trades_stored(data_dir, "mexc-spot", SPOT) > 60, 8.0, "stored trades")
            await asyncio.sleep(0.8)
            proc.kill()  # SIGKILL: no flush, no close, no manifest update
            killed_ms = venue.trades[SPOT[0]][-1].time_ms
            await wait_exit(proc, 5.0)
            allowance_ms = int((flush_s + 1.0) * 1000)  # the last flush interval, plus the writer's time
            summary = check_trades(venue, data_dir, sent_before_ms=killed_ms - allowance_ms)
            found, _ = raw_trades(data_dir, venue)  # a kill may cut the last frame: reading still works
            for symbol in SPOT:  # the raw log has every frame up to the last flush, too
                early = {
                    t.trade_id for t in venue.trades_sent(symbol) if t.time_ms < killed_ms - allowance_ms
                }
                assert early <= found[symbol]
            (path,) = raw_files(data_dir, "mexc-spot")
            with path.open("ab") as handle:  # the worst a kill can leave: half a zstd frame
                handle.write(path.read_bytes()[:40])

            again = start_recorder(venue, data_dir, out, "--flush-s", str(flush_s))
            try:
                await asyncio.sleep(2.0)
                again.send_signal(signal.SIGINT)
                assert await wait_exit(again, 8.0) == 0
            finally:
                if again.poll() is None:
                    again.kill()
            content = read_raw(path)
            for symbol in SPOT:  # the market went on while no recorder ran: that time is a gap, not a hole
                gaps = no_silent_hole(venue, data_dir, symbol)
                down = gaps.filter(pl.col("detail").str.starts_with("fx record was not running"))
                assert down.height == 1, gaps
                assert down["reason"][0] == "disconnect"
                assert down["start_ns"][0] // NS_PER_MS >= killed_ms - allowance_ms
            return summary, content.records, content.damaged_bytes

    summary, records, damaged = run(scenario(), 30.0)

    assert all(s["stored"] > 20 for s in summary.values()), summary
    assert damaged == 0  # the restart cut the half frame before appending
    assert sum(1 for r in records if r["kind"] == "session") == 2  # both runs, in one readable file
    # the stop's disconnect is the last thing heard from the venue; a backfill still pending then is
    # fetched at the stop, and its gap (and trades) follow it
    tail = [r for r in records if r.get("event") != "gap" and r["kind"] != "backfill"]
    assert tail[-1] == {**tail[-1], "kind": "control", "event": "disconnected", "reason": "stopped"}
    verify = run_fx("inspect", "--verify", "--data-dir", str(data_dir))
    assert verify.returncode == 0, verify.stderr


@pytest.mark.slow
def test_rows_in_the_raw_log_that_never_reached_the_tables_are_inside_the_downtime_gap(
    tmp_path: Path,
) -> None:
    # Tables flush every 3 s, raw frames every 0.25 s: a kill -9 leaves the raw log ahead of the
    # tables. The restart's gap must start where each symbol's tables stop, not where the raw log does.
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"

    async def scenario() -> None:
        async with FakeMexc(Venue.SPOT, SPOT) as venue:
            args = ("--flush-s", "0.25", "--table-flush-s", "3")
            proc = start_recorder(venue, data_dir, out, *args)
            await until(lambda: trades_stored(data_dir, "mexc-spot", SPOT) > 0, 10.0, "a table flush")
            await asyncio.sleep(1.5)  # raw frames of ~1.5 s that the tables do not have yet
            proc.kill()
            await wait_exit(proc, 5.0)
            again = start_recorder(venue, data_dir, out, *args)
            try:
                await asyncio.sleep(4.0)  # one table flush of the restarted recorder
                again.send_signal(signal.SIGINT)
                assert await wait_exit(again, 8.0) == 0
            finally:
                if again.poll() is None:
                    again.kill()
            for symbol in SPOT:
                no_silent_hole(venue, data_dir, symbol)

    run(scenario(), 40.0)


@pytest.mark.parametrize("kind", [Venue.SPOT, Venue.FUTURES])
def test_record_rotating_connections_store_overlap_duplicates_once(kind: Venue, tmp_path: Path) -> None:
    data_dir, out = tmp_path / "data", tmp_path / "out.jsonl"
    symbols = SPOT if kind is Venue.SPOT else FUTURES

    async def scenario() -> tuple[int, dict[str, dict[str, int]]]:
        async with FakeMexc(kind, symbols) as venue:
            proc = start_recorder(venue, data_dir, out, "--flush-s", "0.5", "--rotate-after-s", "0.8")
            try:
                await until(lambda: len(venue.clients) >= 4, 8.0, "three rotations")
                proc.send_signal(signal.SIGINT)
                code = await wait_exit(proc, 8.0)
            finally:
                if proc.poll() is None:
                    proc.kill()
            return code, check_trades(venue, data_dir)

    code, summary = run(scenario(), 20.0)

    assert code == 0, out.with_suffix(".err").read_text()[-2000:]
    events = lines(out)
    stats = [e for e in events if e["event"] == "stats"]
    rotations = [e for e in events if e["event"] == "connected" and "replacing" in e]
    assert len(rotations) >= 3
    assert stats[-1]["duplicates_dropped"] > 0  # the overlaps did deliver copies...
    assert all(s["gapped"] == 0 for s in summary.values()), summary  # ...and a rotation loses nothing
