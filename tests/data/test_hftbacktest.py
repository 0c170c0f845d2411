"""Binance spot and USD-M BTCUSDT (hftbacktest captures of 2024-08-08) through `fx import`, held
against the raw lines.

Expected counts come from ../shared/data/hftbacktest/README.md; volume, VWAP, times and the order
book come from an independent reading of the same files (gzip + json, tests/data/binance_reference.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from fxcli.model.book import Applied
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.tasks.import_ import ImportReport, import_binance
from tests.data.binance_reference import Ladder, RawCapture, ReferenceRun, read_hftbacktest, reference_run
from tests.data.store_book import full_ladders, replay_book

pytestmark = pytest.mark.data

SYMBOL = "BTCUSDT"
CHECKPOINTS = {"first": 0.0, "10pct": 0.1, "50pct": 0.5, "90pct": 0.9, "last": 1.0}


@dataclass(frozen=True)
class Capture:
    """One capture and what its README says about it."""

    path: Path
    exchange: str
    is_futures: bool
    trades: int
    book_tickers: int


CAPTURES = {
    "spot": Capture(Path("hftbacktest/spot/btcusdt_20240808.gz"), "binance", False, 9_757, 28_040),
    "usdm": Capture(Path("hftbacktest/usdm/btcusdt_20240808.gz"), "binance-usdm", True, 21_313, 66_089),
}


@dataclass(frozen=True)
class Imported:
    """One import of a capture into a fresh data dir."""

    capture: Capture
    data_dir: Path
    report: ImportReport

    def table(self, table: Table) -> pl.DataFrame:
        return StoreReader(self.data_dir).scan(self.capture.exchange, SYMBOL, table).collect()


@dataclass(frozen=True)
class StoreRun:
    """Stored book replayed into an OrderBook: each delta's version and outcome, ladders at checkpoints."""

    outcomes: list[tuple[int, Applied]]
    ladders: dict[int, tuple[Ladder, Ladder]]


@pytest.fixture(scope="module", params=list(CAPTURES))
def capture(request: pytest.FixtureRequest) -> Capture:
    return CAPTURES[str(request.param)]


@pytest.fixture(scope="module")
def imported(capture: Capture, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Imported:
    data_dir = tmp_path_factory.mktemp(capture.exchange) / "data"
    return Imported(capture, data_dir, import_binance([shared_data / capture.path], data_dir))


@pytest.fixture(scope="module")
def raw(capture: Capture, shared_data: Path) -> RawCapture:
    return read_hftbacktest(shared_data / capture.path, SYMBOL)


@pytest.fixture(scope="module")
def reference(capture: Capture, raw: RawCapture) -> ReferenceRun:
    return reference_run(raw.book, SYMBOL, futures=capture.is_futures, fractions=CHECKPOINTS)


@pytest.fixture(scope="module")
def store_run(imported: Imported, reference: ReferenceRun) -> StoreRun:
    wanted = set(reference.checkpoints.values())
    outcomes: list[tuple[int, Applied]] = []
    ladders: dict[int, tuple[Ladder, Ladder]] = {}
    for delta, outcome, book in replay_book(imported.data_dir, imported.capture.exchange, SYMBOL):
        outcomes.append((delta.to_version, outcome))
        if delta.to_version in wanted:
            ladders[delta.to_version] = full_ladders(book)
    return StoreRun(outcomes, ladders)


def test_import_capture_stores_every_trade_of_the_readme(imported: Imported) -> None:
    trades = imported.table(Table.TRADES)

    rows = trades.height

    assert rows == imported.capture.trades


def test_import_capture_trade_ids_equal_raw_lines_and_run_contiguously(
    imported: Imported, raw: RawCapture
) -> None:
    trades = imported.table(Table.TRADES)

    ids = sorted(trades.get_column("trade_id").to_list())

    assert ids == sorted(int(t["t"]) for t in raw.trades)
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_import_spot_capture_trade_ids_match_readme_bounds(shared_data: Path, tmp_path: Path) -> None:
    spot = CAPTURES["spot"]
    import_binance([shared_data / spot.path], tmp_path)

    ids = StoreReader(tmp_path).scan(spot.exchange, SYMBOL, Table.TRADES).collect().get_column("trade_id")

    assert (ids.min(), ids.max()) == (3_735_683_259, 3_735_693_015)


def test_import_capture_stores_no_gaps(imported: Imported) -> None:
    gaps = imported.table(Table.GAPS)

    rows = gaps.to_dicts()

    assert rows == []


def test_import_capture_skips_no_lines(imported: Imported) -> None:
    report = imported.report

    skipped = report.skipped

    assert skipped == 0


def test_import_capture_stores_every_book_ticker_update(imported: Imported, raw: RawCapture) -> None:
    tickers = imported.table(Table.BOOK_TICKER)

    update_ids = sorted(tickers.get_column("update_id").to_list())

    assert len(update_ids) == imported.capture.book_tickers
    assert update_ids == sorted(raw.ticker_update_ids)


def test_import_capture_base_volume_equals_raw_lines(imported: Imported, raw: RawCapture) -> None:
    trades = imported.table(Table.TRADES)
    expected = math.fsum(float(Decimal(t["q"])) for t in raw.trades)

    volume = trades.get_column("qty").sum()

    assert volume == pytest.approx(expected, rel=1e-9)


def test_import_capture_vwap_equals_raw_lines(imported: Imported, raw: RawCapture) -> None:
    trades = imported.table(Table.TRADES)
    notional = math.fsum(float(Decimal(t["p"])) * float(Decimal(t["q"])) for t in raw.trades)
    expected = notional / math.fsum(float(Decimal(t["q"])) for t in raw.trades)

    vwap = trades.select((pl.col("price") * pl.col("qty")).sum() / pl.col("qty").sum()).item()

    assert vwap == pytest.approx(expected, rel=1e-9)


def test_import_capture_trade_times_are_trade_time_and_receive_time(
    imported: Imported, raw: RawCapture
) -> None:
    trades = imported.table(Table.TRADES).sort("trade_id")
    expected = sorted((int(t["t"]), int(t["T"]) * 1_000_000, int(t["_local"])) for t in raw.trades)

    stored = list(trades.select("trade_id", "exchange_ts_ns", "received_ts_ns").iter_rows())

    assert stored == expected


def test_import_capture_trade_prices_sizes_and_sides_equal_raw_lines(
    imported: Imported, raw: RawCapture
) -> None:
    trades = imported.table(Table.TRADES).sort("trade_id")
    expected = sorted((int(t["t"]), float(t["p"]), float(t["q"]), -1 if t["m"] else 1) for t in raw.trades)

    stored = list(trades.select("trade_id", "price", "qty", "side").iter_rows())

    assert stored == expected


def test_replay_store_applies_exactly_the_reference_diffs(
    store_run: StoreRun, reference: ReferenceRun
) -> None:
    expected = [(u, Applied.APPLIED) for u in reference.applied]

    outcomes = store_run.outcomes

    assert outcomes == expected


@pytest.mark.parametrize("checkpoint", list(CHECKPOINTS))
def test_replay_store_ladders_equal_reference_at_checkpoint(
    checkpoint: str, store_run: StoreRun, reference: ReferenceRun
) -> None:
    update_id = reference.checkpoints[checkpoint]
    ref_bids, ref_asks = reference.ladders[update_id]

    bids, asks = store_run.ladders.get(update_id, ([], []))

    assert len(ref_bids) > 0
    assert len(ref_asks) > 0
    assert bids == ref_bids
    assert asks == ref_asks
