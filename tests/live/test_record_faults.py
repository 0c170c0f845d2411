"""A recording under the faults of review-live.md: it replays to the venue's book whatever the REST
latency (finding 1), stores no crossed snapshot and backs off (7), takes overlapping diffs whole (12),
keeps a never-subscribed symbol's downtime inside a gap (13), and stops with a reason when its table
batcher fails (15c). The fake venue runs in its own thread; the recorder is fx record's, in-process."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from fxcli.exchange.connection import ManagerConfig
from fxcli.exchange.venues import VENUES, ResolvedEndpoints
from fxcli.live.record import RecordConfig, RecordError, RecordSummary, record
from fxcli.live.recorder import DOWNTIME_DETAIL, Recorder
from fxcli.model.events import GapReason
from fxcli.store.rows import TableRows
from fxcli.store.schema import Table
from fxcli.tasks.record import DEFAULT_KINDS
from tests.conftest import REPO, run_fx
from tests.fake_mexc import FakeMexc, Venue
from tests.live.store_check import check_book, missed_trades
from tests.live.support import FAST
from tests.live.test_record import EXCHANGE, table
from tests.live.test_record_inprocess import venue_in_thread

SYMBOLS = ["AUSDT", "BUSDT"]


def recording(
    venue: FakeMexc, data_dir: Path, seconds: float, *, symbols: list[str] = SYMBOLS, **knobs: float
) -> Callable[..., RecordSummary]:
    """fx record's recorder on the fake venue for `seconds`, the venue noting its books every 0.1 s."""
    exchange = EXCHANGE[venue.venue]
    config = RecordConfig(
        venue=VENUES[exchange],
        symbols=tuple(symbols) if venue.venue is Venue.SPOT else tuple(venue.markets),
        kinds=DEFAULT_KINDS,
        data_dir=data_dir,
        endpoints=ResolvedEndpoints(
            exchange, venue.endpoints.ws_url, "test", venue.endpoints.rest_url, "test"
        ),
        flush_s=0.25,
        **knobs,  # type: ignore[arg-type]
    )

    def run(manager: ManagerConfig = FAST, recorder_type: type[Recorder] = Recorder) -> RecordSummary:
        loop = venue.loop
        assert loop is not None
        ticking = asyncio.run_coroutine_threadsafe(_checkpoints(venue), loop)
        stop_at = time.monotonic() + seconds
        try:
            return record(
                config,
                manager_config=manager,
                stop=lambda: time.monotonic() >= stop_at,
                recorder_type=recorder_type,
            )
        finally:
            ticking.cancel()

    return run


async def _checkpoints(venue: FakeMexc) -> None:
    while True:
        venue.checkpoint()
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("kind", [Venue.SPOT, Venue.FUTURES])
def test_a_recording_replays_to_the_venues_book_when_rest_answers_late(kind: Venue, tmp_path: Path) -> None:
    symbols = SYMBOLS if kind is Venue.SPOT else ["A_USDT", "B_USDT"]
    with venue_in_thread(symbols, tick_s=0.02, kind=kind, sizes={"A_USDT": "0.001"}) as venue:
        venue.snapshot_delay_s = 0.25  # taken at once, answered after a dozen diffs went by
        recording(venue, tmp_path, 3.0)()

        for symbol in symbols:
            check = check_book(tmp_path, EXCHANGE[kind], symbol, venue.checkpoints[symbol])
            assert check.mismatches == []
            assert check.broken == 0
            assert check.checked >= 15, check
            made, missed = missed_trades(venue, tmp_path, EXCHANGE[kind], symbol)
            assert made > 50
            assert missed == []


def test_crossed_snapshots_are_not_stored_and_fetched_again_only_after_a_growing_wait(tmp_path: Path) -> None:
    with venue_in_thread(["AUSDT"], tick_s=0.02) as venue:
        venue.cross_next_snapshots("AUSDT", 4)
        recording(venue, tmp_path, 4.0, symbols=["AUSDT"])()

        snapshots = table(tmp_path, "mexc-spot", "AUSDT", Table.BOOK_SNAPSHOTS)
        assert snapshots["version"].n_unique() == 1  # only the good one, not four crossed ones
        assert venue.depth_requests["AUSDT"] == 5  # before: ~5 a second, each one stored
        gaps = table(tmp_path, "mexc-spot", "AUSDT", Table.GAPS)
        assert gaps.height == 1  # the book was unknown from the start until the good snapshot
        assert "crossed snapshot" not in gaps["detail"][0] or gaps["reason"][0] == GapReason.RESYNC
        check = check_book(tmp_path, "mexc-spot", "AUSDT", venue.checkpoints["AUSDT"])
        assert check.mismatches == []
        assert check.checked > 0


def test_diffs_batched_differently_per_connection_cross_rotations_without_a_resync(tmp_path: Path) -> None:
    with venue_in_thread(SYMBOLS, tick_s=0.01) as venue:
        venue.batch_diffs = True  # connection k merges 1 + k % 3 diffs: ranges overlap at a rotation
        recording(venue, tmp_path, 4.0, rotate_after_s=0.8)()

        for symbol in SYMBOLS:
            gaps = table(tmp_path, "mexc-spot", symbol, Table.GAPS)
            assert GapReason.VERSION_JUMP not in gaps["reason"].to_list()
            assert gaps.height == 1  # only the wait for the first snapshot
            check = check_book(tmp_path, "mexc-spot", symbol, venue.checkpoints[symbol])
            assert check.mismatches == []
            assert check.broken == 0


def test_a_symbol_never_subscribed_in_a_run_keeps_its_downtime_inside_a_gap(tmp_path: Path) -> None:
    with venue_in_thread(SYMBOLS, tick_s=0.02) as venue:
        recording(venue, tmp_path, 1.5)()
        venue.block("BUSDT")  # from now on the venue refuses every BUSDT subscription
        before = time.time_ns()
        recording(venue, tmp_path, 1.5)()
        after = time.time_ns()

        gaps = table(tmp_path, "mexc-spot", "BUSDT", Table.GAPS)
        downtime = gaps.filter(gaps["detail"].str.contains("not subscribed before the recorder stopped"))
        assert downtime.height == 1
        assert downtime["start_ns"][0] < before
        assert before < downtime["end_ns"][0] <= after
        _, missed = missed_trades(venue, tmp_path, "mexc-spot", "AUSDT")
        assert missed == []
        # After the restart, AUSDT's trades before its first new snapshot never meet the old book
        # (review finding 14): a resync gap covers them, from its first event to that snapshot.
        a_gaps = table(tmp_path, "mexc-spot", "AUSDT", Table.GAPS)
        since = a_gaps.filter(a_gaps["detail"].str.starts_with(DOWNTIME_DETAIL))["start_ns"][0]
        live = table(tmp_path, "mexc-spot", "AUSDT", Table.TRADES).filter(~pl.col("backfilled"))
        first_trade = min(t for t in live["exchange_ts_ns"] if t > since)  # fetched ones fill the downtime
        snapshots = table(tmp_path, "mexc-spot", "AUSDT", Table.BOOK_SNAPSHOTS)["exchange_ts_ns"]
        first_book = min(t for t in snapshots if t > since)
        resync = [
            g for g in a_gaps.iter_rows(named=True) if g["reason"] == "resync" and g["start_ns"] > since
        ]
        assert len(resync) == 1
        assert resync[0]["start_ns"] < first_trade
        assert resync[0]["end_ns"] >= first_book
        check = check_book(tmp_path, "mexc-spot", "AUSDT", venue.checkpoints["AUSDT"])
        assert check.mismatches == []
        assert check.broken == 0


def test_a_failing_table_batcher_stops_the_recorder_with_its_reason(tmp_path: Path) -> None:
    class Poisoned(TableRows):
        def take(self) -> object:  # type: ignore[override]
            raise RuntimeError("rows that cannot become a frame")

    class PoisonedRecorder(Recorder):
        def _table(self, symbol: str) -> TableRows:
            rows = self._rows.get(symbol)
            if rows is None:
                rows = self._rows[symbol] = Poisoned()
            return rows

    with (
        venue_in_thread(["AUSDT"], tick_s=0.02) as venue,
        pytest.raises(RecordError, match="table batcher failed"),
    ):
        recording(venue, tmp_path, 30.0, symbols=["AUSDT"])(recorder_type=PoisonedRecorder)


def test_a_fresh_recording_backtests_without_allow_gaps(tmp_path: Path) -> None:
    with venue_in_thread(["AUSDT"], tick_s=0.02) as venue:
        recording(venue, tmp_path / "data", 2.0, symbols=["AUSDT"])()

    gaps = table(tmp_path / "data", "mexc-spot", "AUSDT", Table.GAPS)
    result = run_fx(
        "backtest",
        "momentum_scalper",
        "--symbol",
        "AUSDT",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "results"),
        "--no-chart",
        "--json",
        cwd=REPO,
    )

    assert gaps["detail"].to_list() == ["waiting for the first snapshot"]  # the book was not known yet
    assert result.returncode == 0, result.stderr  # that is not a hole: no --allow-gaps needed
    assert json.loads(result.stdout)["symbols"]["AUSDT"]["gaps_flagged"][0]["reason"] == "resync"
