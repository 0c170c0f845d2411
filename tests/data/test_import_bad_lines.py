"""Values a store cannot hold (beyond int64, negative, NaN, <= 0 prices, times outside 2000..2100,
is_snapshot other than true/false) skip their line, not the file: `skipped FILE:LINE: reason`,
the rest stored as without that line, exit 1 (probe cases I15-I18, I27, I50, I53, I54, I59, I66)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.data.damaged_capture import (
    AT,
    Counts,
    cryptofeed_lines,
    damaged,
    first_with,
    hft_lines,
    import_capture,
    tardis_lines,
    with_line,
    write,
)

pytestmark = pytest.mark.data

WINDOW = "is outside 2000-01-01 .. 2100-01-01 UTC"
HFT = hft_lines()
HFT_TRADE = first_with(HFT, b"@trade", AT)  # a copy of the next trade, damaged, goes before it
HFT_DEPTH = first_with(HFT, b"@depth", AT)
CF = cryptofeed_lines()
CF_AGG_TRADE = first_with(CF, b'@aggTrade",')
CF_TICKER = first_with(CF, b'@bookTicker",')
BITMEX = "bitmex_trades_XBTUSD.csv"
DERIBIT = "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
QUOTES = "huobi-dm-swap_quotes_BTC-USD.csv"
TOP5 = "binance-futures_book_snapshot_5_BTCUSDT.csv"


@pytest.fixture(scope="module")
def good_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counts]:
    """What the good lines alone store, per capture file name (the reference for every case)."""
    out: dict[str, Counts] = {}
    for kind, name, lines in [
        ("binance", "spot.txt", HFT),
        ("binance", "BINANCE_DELIVERY.ws.1.0", CF),
        *[("tardis", csv, tardis_lines(csv)) for csv in (BITMEX, DERIBIT, QUOTES, TOP5)],
    ]:
        tmp = tmp_path_factory.mktemp("good")
        imported = import_capture(kind, write(tmp / "in", name, lines), tmp)
        assert imported.result.returncode == 0, imported.result.stderr
        out[name] = imported.rows
    return out


HFT_CASES = [
    pytest.param(
        damaged(HFT_TRADE, rb'"t":\d+', b'"t":999999999999999999999999'),
        "bad frame: Expected `int` <= 9223372036854775807 (int64) - at `$.t`",
        id="I66-trade-id-beyond-int64",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb'"t":\d+', b'"t":-3735683276'),
        "bad frame: Expected `int` >= 0 - at `$.t`",
        id="I16-negative-trade-id",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb'"T":\d+', b'"T":99999999999999999000000'),
        "bad frame: Expected `int` <= 4102444799999 (2099-12-31 in ms) - at `$.T`",
        id="I17-trade-time-beyond-int64",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb'"T":\d+', b'"T":-1723161255342'),
        "bad frame: Expected `int` >= 946684800000 (2000-01-01 in ms) - at `$.T`",
        id="I18-negative-trade-time",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb'"T":\d+', b'"T":1723161255'),
        "bad frame: Expected `int` >= 946684800000 (2000-01-01 in ms) - at `$.T`",
        id="trade-time-in-seconds-lands-in-1970",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb"^\d+", b"99999999999999999999"),
        f"local time 99999999999999999999 ns {WINDOW}",
        id="I27-local-time-beyond-int64",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb"^\d+", b"1723161254371536"),
        f"local time 1723161254371536 ns {WINDOW}",
        id="local-time-in-microseconds-lands-in-1970",
    ),
    pytest.param(
        damaged(HFT_TRADE, rb'"p":"[0-9.]+"', b'"p":"0.00000000"'),
        "bad frame: Expected `float` > 0.0 - at `$.p`",
        id="zero-trade-price",
    ),
    pytest.param(
        damaged(HFT_DEPTH, rb'"b":\[\["[0-9.]+"', b'"b":[["0.00000000"'),
        "bad frame: Expected `float` > 0.0 - at `$.b[0][0]`",
        id="zero-depth-level-price",
    ),
    pytest.param(
        damaged(HFT_DEPTH, rb'"u":\d+', b'"u":9223372036854775808'),
        "bad frame: Expected `int` <= 9223372036854775807 (int64) - at `$.u`",
        id="depth-update-id-beyond-int64",
    ),
]


@pytest.mark.parametrize(("bad", "reason"), HFT_CASES)
def test_import_binance_line_with_unstorable_value_is_skipped_and_the_rest_stored(
    tmp_path: Path, good_rows: dict[str, Counts], bad: bytes, reason: str
) -> None:
    capture = write(tmp_path / "in", "spot.txt", with_line(HFT, bad))

    imported = import_capture("binance", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [f"skipped spot.txt:{AT + 1}: {reason}"]
    assert imported.report["skipped_lines"] == 1
    assert imported.rows == good_rows["spot.txt"]
    assert imported.rows[("binance", "BTCUSDT", "trades")] == sum(b"@trade" in line for line in HFT)
    assert imported.written_outside == set()


def test_import_binance_file_of_one_line_with_trade_id_beyond_int64_stores_nothing_and_exits_1(
    tmp_path: Path,
) -> None:
    bad = damaged(HFT_TRADE, rb'"t":\d+', b'"t":999999999999999999999999')
    capture = write(tmp_path / "in", "bigid.txt", [bad])  # probe case I15

    imported = import_capture("binance", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [
        "skipped bigid.txt:1: bad frame: Expected `int` <= 9223372036854775807 (int64) - at `$.t`"
    ]
    assert imported.rows == {}
    assert imported.written_outside == set()


CRYPTOFEED_CASES = [
    pytest.param(
        damaged(CF_AGG_TRADE, rb'"a":\d+', b'"a":99999999999999999999'),
        "bad frame: Expected `int` <= 9223372036854775807 (int64) - at `$.a`",
        id="agg-trade-id-beyond-int64",
    ),
    pytest.param(
        damaged(CF_AGG_TRADE, rb'"p":"[0-9.]+"', b'"p":"-427.91"'),
        "bad frame: Expected `float` > 0.0 - at `$.p`",
        id="negative-agg-trade-price",
    ),
    pytest.param(
        damaged(CF_TICKER, rb"^[0-9.]+", b"99999999999.5"),
        f"local time 99999999999.5 s {WINDOW}",
        id="local-time-beyond-int64-ns",
    ),
    pytest.param(
        damaged(CF_TICKER, rb"^[0-9.]+", b"946684799.9"),
        f"local time 946684799.9 s {WINDOW}",
        id="local-time-before-2000",
    ),
    pytest.param(
        damaged(CF_TICKER, rb'"E":\d+', b'"E":-1'),
        "bad frame: Expected `int` >= 946684800000 (2000-01-01 in ms) - at `$.E`",
        id="negative-event-time",
    ),
]


@pytest.mark.parametrize(("bad", "reason"), CRYPTOFEED_CASES)
def test_import_cryptofeed_line_with_unstorable_value_is_skipped_and_the_rest_stored(
    tmp_path: Path, good_rows: dict[str, Counts], bad: bytes, reason: str
) -> None:
    name = "BINANCE_DELIVERY.ws.1.0"
    capture = write(tmp_path / "in", name, with_line(CF, bad))

    imported = import_capture("binance", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [f"skipped {name}:{AT + 1}: {reason}"]
    assert imported.rows == good_rows[name]
    assert imported.written_outside == set()


def _tardis_row(csv: str, column: int, value: bytes) -> bytes:
    """A copy of the file's second data row with one column replaced."""
    cols = tardis_lines(csv)[2].split(b",")
    cols[column] = value
    return b",".join(cols)


TARDIS_CASES = [
    pytest.param(
        BITMEX, _tardis_row(BITMEX, 6, b"NaN"), "price 'NaN' is not a finite number > 0", id="I50-nan-price"
    ),
    pytest.param(
        BITMEX, _tardis_row(BITMEX, 6, b"0"), "price '0' is not a finite number > 0", id="zero-price"
    ),
    pytest.param(
        BITMEX, _tardis_row(BITMEX, 7, b"-inf"), "amount '-inf' is not a finite number >= 0", id="inf-amount"
    ),
    pytest.param(
        BITMEX,
        _tardis_row(BITMEX, 2, b"99999999999999999999"),
        f"timestamp 99999999999999999999 us {WINDOW}",
        id="I53-timestamp-beyond-int64",
    ),
    pytest.param(
        BITMEX,
        _tardis_row(BITMEX, 2, b"-1583020803276000"),
        f"timestamp -1583020803276000 us {WINDOW}",
        id="I54-negative-timestamp",
    ),
    pytest.param(
        BITMEX,
        _tardis_row(BITMEX, 3, b"1583020803"),
        f"local_timestamp 1583020803 us {WINDOW}",
        id="local-timestamp-in-seconds-lands-in-1970",
    ),
    pytest.param(
        BITMEX,
        _tardis_row(BITMEX, 4, b"99999999999999999999"),
        "trade id 99999999999999999999 is beyond int64",
        id="trade-id-beyond-int64",
    ),
    pytest.param(BITMEX, _tardis_row(BITMEX, 4, b"-5"), "trade id -5 is negative", id="negative-trade-id"),
    pytest.param(
        DERIBIT,
        _tardis_row(DERIBIT, 4, b"maybe"),
        "is_snapshot 'maybe' is not true or false",
        id="I59-is-snapshot-maybe",
    ),
    pytest.param(
        DERIBIT, _tardis_row(DERIBIT, 6, b"nan"), "price 'nan' is not a finite number > 0", id="l2-nan-price"
    ),
    pytest.param(
        QUOTES, _tardis_row(QUOTES, 5, b"NaN"), "price 'NaN' is not a finite number > 0", id="quote-nan-ask"
    ),
    pytest.param(
        TOP5, _tardis_row(TOP5, 6, b"-1"), "price '-1' is not a finite number > 0", id="snapshot-negative-bid"
    ),
]


@pytest.mark.parametrize(("csv", "bad", "reason"), TARDIS_CASES)
def test_import_tardis_row_with_unstorable_value_is_skipped_and_the_rest_stored(
    tmp_path: Path, good_rows: dict[str, Counts], csv: str, bad: bytes, reason: str
) -> None:
    lines = tardis_lines(csv)
    capture = write(tmp_path / "in", csv, with_line(lines, bad, at=4))

    imported = import_capture("tardis", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [f"skipped {csv}:5: {reason}"]
    assert imported.report["skipped_lines"] == 1
    assert imported.rows == good_rows[csv]
    assert imported.written_outside == set()
