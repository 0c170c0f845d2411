"""Every documented variant of Binance's public archive through `fx import binance-vision`'s task.

Fixture files are written to the documented layouts (tests/data/vision_files.py): spot trades and
aggTrades without a header, in milliseconds and in microseconds (spot from 2025-01-01); USD-M trades
and aggTrades with and without their header row; USD-M bookTicker.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import polars as pl
import pytest

from fxcli.errors import FxError
from fxcli.exchange.binance import Market
from fxcli.exchange.captures.binance_vision import Kind
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.tasks.vision import import_vision
from tests.data.vision_files import csv_text, day_ms, ticker_rows, trade_rows, write_archive

NS_PER_MS = 1_000_000

VARIANTS = [
    (Market.SPOT, Kind.TRADES, False, False, "2024-08-08"),
    (Market.SPOT, Kind.TRADES, False, True, "2025-01-02"),
    (Market.SPOT, Kind.AGG_TRADES, False, False, "2024-08-08"),
    (Market.SPOT, Kind.AGG_TRADES, False, True, "2025-01-02"),
    (Market.USDM, Kind.TRADES, False, False, "2020-03-01"),
    (Market.USDM, Kind.TRADES, True, False, "2024-08-08"),
    (Market.USDM, Kind.AGG_TRADES, False, False, "2020-03-01"),
    (Market.USDM, Kind.AGG_TRADES, True, False, "2024-08-08"),
]


def _stored(data_dir: Path, exchange: str, table: Table) -> pl.DataFrame:
    return StoreReader(data_dir).scan(exchange, "BTCUSDT", table).collect()


@pytest.mark.parametrize(
    ("market", "kind", "header", "micro", "day"),
    VARIANTS,
    ids=[f"{m.value}-{k}-h{h}-us{u}" for m, k, h, u, _ in VARIANTS],
)
def test_import_vision_trade_variant_stores_every_row_with_its_id_side_and_time(
    tmp_path: Path, market: Market, kind: Kind, header: bool, micro: bool, day: str
) -> None:
    start = day_ms(day)
    rows = trade_rows(market, kind, start, list(range(500, 520)), micro=micro)
    path = write_archive(
        tmp_path / "archive", market, kind, "BTCUSDT", day, csv_text(market, kind, rows, header=header)
    )

    report = import_vision([path], tmp_path / "data")

    assert report.skipped == 0
    assert report.inputs[0].exchange == market.value
    trades = _stored(tmp_path / "data", market.value, Table.TRADES)
    assert trades["trade_id"].to_list() == list(range(500, 520))
    assert trades["exchange_ts_ns"].to_list() == [(start + n * 1000) * NS_PER_MS for n in range(20)]
    assert trades["received_ts_ns"].to_list() == trades["exchange_ts_ns"].to_list()
    # The first row of each file is buyer-maker: the aggressor sold.
    assert trades["side"].to_list()[:4] == [-1, 1, -1, 1]
    assert trades["price"][3] == pytest.approx(101.5)
    assert trades["qty"][3] == pytest.approx(1.0)
    assert _stored(tmp_path / "data", market.value, Table.GAPS).height == 0


def test_import_vision_usdm_book_ticker_keeps_transaction_time_and_event_time(tmp_path: Path) -> None:
    start = day_ms("2023-06-15")
    text = csv_text(Market.USDM, Kind.BOOK_TICKER, ticker_rows(start, 10), header=True)
    path = write_archive(tmp_path / "archive", Market.USDM, Kind.BOOK_TICKER, "BTCUSDT", "2023-06-15", text)

    report = import_vision([path], tmp_path / "data")

    assert report.skipped == 0
    tickers = _stored(tmp_path / "data", "binance-usdm", Table.BOOK_TICKER)
    assert tickers["update_id"].to_list() == list(range(1000, 1010))
    assert tickers["exchange_ts_ns"][2] == (start + 1000) * NS_PER_MS
    assert tickers["received_ts_ns"][2] == (start + 1007) * NS_PER_MS
    assert (tickers["bid_price"][2], tickers["bid_qty"][2]) == (102.0, 3.0)
    assert (tickers["ask_price"][2], tickers["ask_qty"][2]) == (102.5, 4.0)
    assert not tickers["ts_estimated"].any()


def test_import_vision_trade_id_hole_inside_and_across_files_is_an_import_hole_gap(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    day1 = trade_rows(Market.SPOT, Kind.TRADES, day_ms("2024-08-08"), [1, 2, 3, 7, 8])
    day2 = trade_rows(Market.SPOT, Kind.TRADES, day_ms("2024-08-09"), [9, 10, 20])
    second = write_archive(
        archive,
        Market.SPOT,
        Kind.TRADES,
        "BTCUSDT",
        "2024-08-09",
        csv_text(Market.SPOT, Kind.TRADES, day2, header=False),
    )
    first = write_archive(
        archive,
        Market.SPOT,
        Kind.TRADES,
        "BTCUSDT",
        "2024-08-08",
        csv_text(Market.SPOT, Kind.TRADES, day1, header=False),
    )

    import_vision([second, first], tmp_path / "data")  # given out of order: read in date order

    gaps = _stored(tmp_path / "data", "binance", Table.GAPS)
    assert sorted(gaps["detail"].to_list()) == ["trade ids 11..19 missing", "trade ids 4..6 missing"]
    assert set(gaps["reason"].to_list()) == {"import_hole"}

    # The same two days with the hole between them: the gap spans the files' boundary.
    day3 = trade_rows(Market.SPOT, Kind.TRADES, day_ms("2024-08-10"), [25, 26])
    third = write_archive(
        archive,
        Market.SPOT,
        Kind.TRADES,
        "BTCUSDT",
        "2024-08-10",
        csv_text(Market.SPOT, Kind.TRADES, day3, header=False),
    )
    import_vision([second, third], tmp_path / "data")
    details = _stored(tmp_path / "data", "binance", Table.GAPS)["detail"].to_list()
    assert "trade ids 21..24 missing" in details


def test_import_vision_bad_lines_are_counted_with_their_line_numbers(tmp_path: Path) -> None:
    rows = trade_rows(Market.USDM, Kind.TRADES, day_ms("2024-08-08"), [1, 2, 3, 4, 5, 6])
    rows[1] = "2,abc,1,1,1723075201000,true"
    rows[2] = "3,1.5,1,1"
    rows[3] = "4,1.5,1,1,17,true"
    rows[4] = "5,1.5,-2,1,1723075204000,true"
    rows[5] = "6,1.5,1,1,1723075205000,maybe"
    text = csv_text(Market.USDM, Kind.TRADES, rows, header=True)
    path = write_archive(tmp_path / "archive", Market.USDM, Kind.TRADES, "BTCUSDT", "2024-08-08", text)

    report = import_vision([path], tmp_path / "data")

    examples = report.inputs[0].issues.examples
    assert [line for line, _ in examples] == [3, 4, 5, 6, 7]  # line 1 is the header
    assert "price 'abc'" in examples[0][1] or "price abc" in examples[0][1]
    assert examples[1][1] == "expected 6 columns, got 4"
    assert "outside 2000-01-01" in examples[2][1]
    assert "qty -2 is not a finite number >= 0" in examples[3][1]
    assert "maybe" in examples[4][1]
    assert _stored(tmp_path / "data", "binance-usdm", Table.TRADES)["trade_id"].to_list() == [1]


@pytest.mark.parametrize("damage", ["truncated", "flipped", "html", "two members"])
def test_import_vision_damaged_zip_is_one_error_naming_it_and_nothing_is_written(
    tmp_path: Path, damage: str
) -> None:
    archive = tmp_path / "archive"
    good = write_archive(
        archive,
        Market.SPOT,
        Kind.TRADES,
        "BTCUSDT",
        "2024-08-08",
        csv_text(
            Market.SPOT,
            Kind.TRADES,
            trade_rows(Market.SPOT, Kind.TRADES, day_ms("2024-08-08"), list(range(1, 3000))),
            header=False,
        ),
    )
    bad = good.with_name("BTCUSDT-trades-2024-08-09.zip")
    data = good.read_bytes()
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        flipped = bytearray(data)
        flipped[len(data) // 3] ^= 0xFF
        bad.write_bytes(bytes(flipped))
    elif damage == "html":
        bad.write_bytes(b"<html><body>Not Found</body></html>")
    else:
        with zipfile.ZipFile(bad, "w") as two:
            two.writestr("a.csv", "1")
            two.writestr("b.csv", "2")

    with pytest.raises(FxError) as raised:
        import_vision([good, bad], tmp_path / "data")

    assert str(bad) in str(raised.value)
    assert not (tmp_path / "data").exists()


def test_import_vision_renamed_file_needs_market_and_symbol_and_is_sniffed(tmp_path: Path) -> None:
    rows = trade_rows(Market.USDM, Kind.AGG_TRADES, day_ms("2024-08-08"), [1, 2, 3])
    path = write_archive(
        tmp_path,
        Market.USDM,
        Kind.AGG_TRADES,
        "BTCUSDT",
        "2024-08-08",
        csv_text(Market.USDM, Kind.AGG_TRADES, rows, header=False),
    )
    renamed = path.rename(tmp_path / "mine.zip")

    with pytest.raises(FxError, match="give --market and --symbol"):
        import_vision([renamed], tmp_path / "data")
    with pytest.raises(FxError, match="not spot"):
        import_vision([renamed], tmp_path / "data", market="spot", symbol="BTCUSDT")
    report = import_vision([renamed], tmp_path / "data", market="usdm", symbol="BTCUSDT")

    assert report.inputs[0].format == "binance-vision aggTrades"
    assert _stored(tmp_path / "data", "binance-usdm", Table.TRADES)["trade_id"].to_list() == [1, 2, 3]


def test_import_vision_twice_adds_nothing(tmp_path: Path) -> None:
    rows = trade_rows(Market.SPOT, Kind.TRADES, day_ms("2024-08-08"), list(range(1, 50)))
    path = write_archive(
        tmp_path,
        Market.SPOT,
        Kind.TRADES,
        "BTCUSDT",
        "2024-08-08",
        csv_text(Market.SPOT, Kind.TRADES, rows, header=False),
    )
    import_vision([path], tmp_path / "data")

    again = import_vision([path], tmp_path / "data")

    assert again.rows_added == 0
    assert _stored(tmp_path / "data", "binance", Table.TRADES).height == 49
