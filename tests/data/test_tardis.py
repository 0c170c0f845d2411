"""tardis.dev CSV samples (from nautilus_trader's test data) through `fx import`, held against the CSV rows.

The CSV side is read with the `csv` module; expected figures are in
../shared/data/nautilus_trader/README.md. tardis times are microseconds: fx stores them times 1000 as ns.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.tasks.import_ import import_tardis

pytestmark = pytest.mark.data

FOLDER = Path("nautilus_trader/tardis")
Ladder = list[tuple[float, float]]


@dataclass(frozen=True)
class Sample:
    """One tardis CSV file and where fx should store it."""

    file: str
    exchange: str
    symbol: str
    table: Table


TRADES = Sample("bitmex_trades_XBTUSD.csv", "bitmex", "XBTUSD", Table.TRADES)
TOP5 = Sample(
    "binance-futures_book_snapshot_5_BTCUSDT.csv", "binance-futures", "BTCUSDT", Table.BOOK_SNAPSHOTS
)
TOP25 = Sample(
    "binance-futures_book_snapshot_25_BTCUSDT.csv", "binance-futures", "BTCUSDT", Table.BOOK_SNAPSHOTS
)
DERIBIT = Sample(
    "deribit_incremental_book_L2_BTC-PERPETUAL.csv", "deribit", "BTC-PERPETUAL", Table.BOOK_SNAPSHOTS
)
QUOTES = Sample("huobi-dm-swap_quotes_BTC-USD.csv", "huobi-dm-swap", "BTC-USD", Table.BOOK_TICKER)
SAMPLES = [TRADES, TOP5, TOP25, DERIBIT, QUOTES]


def _csv_rows(shared_data: Path, sample: Sample) -> list[dict[str, str]]:
    with (shared_data / FOLDER / sample.file).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _import(shared_data: Path, data_dir: Path, sample: Sample) -> pl.DataFrame:
    import_tardis([shared_data / FOLDER / sample.file], data_dir)
    return StoreReader(data_dir).scan(sample.exchange, sample.symbol, sample.table).collect()


def _ladders(rows: pl.DataFrame) -> dict[tuple[int, int], tuple[Ladder, Ladder]]:
    """Stored snapshot rows grouped per snapshot (by its two times): bids and asks in level order."""
    out: dict[tuple[int, int], tuple[Ladder, Ladder]] = {}
    for row in rows.sort("exchange_ts_ns", "received_ts_ns", "side", "level").iter_rows(named=True):
        bids, asks = out.setdefault((row["exchange_ts_ns"], row["received_ts_ns"]), ([], []))
        (bids if row["side"] == 1 else asks).append((row["price"], row["qty"]))
    return out


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_import_tardis_file_skips_no_lines_and_stores_under_its_exchange(
    shared_data: Path, data_dir: Path, sample: Sample
) -> None:
    path = shared_data / FOLDER / sample.file

    report = import_tardis([path], data_dir)

    assert report.skipped == 0
    assert [(r.exchange, sorted(r.symbols)) for r in report.inputs] == [(sample.exchange, [sample.symbol])]


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.file for s in SAMPLES])
def test_import_tardis_times_are_microseconds_times_1000(
    shared_data: Path, data_dir: Path, sample: Sample
) -> None:
    rows = _csv_rows(shared_data, sample)
    expected = {(int(r["timestamp"]) * 1_000, int(r["local_timestamp"]) * 1_000) for r in rows}

    stored = _import(shared_data, data_dir, sample)
    pairs = list(stored.select("exchange_ts_ns", "received_ts_ns").iter_rows())

    assert sorted(set(pairs)) == sorted(expected)
    if sample.table is not Table.BOOK_SNAPSHOTS:
        assert sorted(pairs) == sorted(
            (int(r["timestamp"]) * 1_000, int(r["local_timestamp"]) * 1_000) for r in rows
        )


def test_import_tardis_bitmex_trades_stores_ten_sells_starting_at_8531_5_for_2152(
    shared_data: Path, data_dir: Path
) -> None:
    rows = _csv_rows(shared_data, TRADES)

    stored = _import(shared_data, data_dir, TRADES)

    assert stored.height == 10
    assert set(stored.get_column("side").to_list()) == {-1}
    assert stored.row(0, named=True)["price"] == 8531.5
    assert stored.row(0, named=True)["qty"] == 2152.0
    assert sorted(stored.select("price", "qty").iter_rows()) == sorted(
        (float(r["price"]), float(r["amount"])) for r in rows
    )


@pytest.mark.parametrize(("sample", "depth"), [(TOP5, 5), (TOP25, 25)], ids=["top5", "top25"])
def test_import_tardis_binance_futures_top_n_stores_ten_snapshots_equal_to_csv_rows(
    shared_data: Path, data_dir: Path, sample: Sample, depth: int
) -> None:
    expected = {
        (int(r["timestamp"]) * 1_000, int(r["local_timestamp"]) * 1_000): (
            [(float(r[f"bids[{i}].price"]), float(r[f"bids[{i}].amount"])) for i in range(depth)],
            [(float(r[f"asks[{i}].price"]), float(r[f"asks[{i}].amount"])) for i in range(depth)],
        )
        for r in _csv_rows(shared_data, sample)
    }

    stored = _import(shared_data, data_dir, sample)

    assert stored.height == 10 * 2 * depth
    assert len(expected) == 10
    assert _ladders(stored) == expected
    assert set(stored.get_column("level").to_list()) == set(range(depth))


def test_import_tardis_deribit_snapshot_stores_one_snapshot_of_15_asks(
    shared_data: Path, data_dir: Path
) -> None:
    rows = _csv_rows(shared_data, DERIBIT)
    asks = sorted((float(r["price"]), float(r["amount"])) for r in rows)
    times = (int(rows[0]["timestamp"]) * 1_000, int(rows[0]["local_timestamp"]) * 1_000)

    stored = _import(shared_data, data_dir, DERIBIT)

    assert stored.height == 15
    assert _ladders(stored) == {times: ([], asks)}
    assert stored.get_column("level").sort().to_list() == list(range(15))


def test_import_tardis_huobi_quotes_maps_ask_amount_ask_price_bid_price_bid_amount(
    shared_data: Path, data_dir: Path
) -> None:
    rows = _csv_rows(shared_data, QUOTES)
    expected = [
        (float(r["bid_price"]), float(r["bid_amount"]), float(r["ask_price"]), float(r["ask_amount"]))
        for r in rows
    ]

    stored = _import(shared_data, data_dir, QUOTES)
    quotes = list(stored.select("bid_price", "bid_qty", "ask_price", "ask_qty").iter_rows())

    assert len(quotes) == 10
    assert quotes[0] == (8629.2, 806.0, 8629.3, 5494.0)
    assert quotes == expected
