"""Exchange and symbol names the store cannot hold as a folder ('../x', 'A/B', '', 300 characters,
non-ASCII, the reserved `raw`) skip their line, not the file, and never write outside the data dir
(probe cases I20, I21, I23, I24, I25, I47, I48, I49)."""

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

NOT_A_NAME = "is not a valid name (letters, digits, '.', '_', '-')"
HFT = hft_lines()
HFT_TRADE = first_with(HFT, b"@trade", AT)
CF = cryptofeed_lines()
BITMEX = "bitmex_trades_XBTUSD.csv"


@pytest.fixture(scope="module")
def good_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Counts]:
    """What the good lines alone store, per capture file name."""
    out: dict[str, Counts] = {}
    for kind, name, lines in [
        ("binance", "spot.txt", HFT),
        ("binance", "BINANCE_DELIVERY.ws.1.0", CF),
        ("tardis", BITMEX, tardis_lines(BITMEX)),
    ]:
        tmp = tmp_path_factory.mktemp("good")
        imported = import_capture(kind, write(tmp / "in", name, lines), tmp)
        assert imported.result.returncode == 0, imported.result.stderr
        out[name] = imported.rows
    return out


BAD_SYMBOLS = [
    pytest.param("../../escape", f"symbol '../../escape' {NOT_A_NAME}", id="I20-path-traversal"),
    pytest.param("A/B", f"symbol 'A/B' {NOT_A_NAME}", id="I21-slash"),
    pytest.param("A" * 300, f"symbol '{'A' * 300}' {NOT_A_NAME}", id="I23-300-characters"),
    pytest.param("", f"symbol '' {NOT_A_NAME}", id="I24-empty"),
    pytest.param("BTCÜSDT", f"symbol 'BTCÜSDT' {NOT_A_NAME}", id="I25-non-ascii"),
    pytest.param("raw", "symbol 'raw' is a reserved name (the folder of raw frames)", id="reserved-raw"),
]


@pytest.mark.parametrize(("symbol", "reason"), BAD_SYMBOLS)
def test_import_binance_frame_with_bad_symbol_is_skipped_and_nothing_lands_outside(
    tmp_path: Path, good_rows: dict[str, Counts], symbol: str, reason: str
) -> None:
    bad = damaged(HFT_TRADE, rb'"s":"BTCUSDT"', f'"s":"{symbol}"'.encode())
    capture = write(tmp_path / "in", "spot.txt", with_line(HFT, bad))

    imported = import_capture("binance", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [f"skipped spot.txt:{AT + 1}: {reason}"]
    assert imported.rows == good_rows["spot.txt"]
    assert imported.written_outside == set()


def test_import_cryptofeed_snapshot_url_with_overlong_symbol_is_skipped(
    tmp_path: Path, good_rows: dict[str, Counts]
) -> None:
    name, symbol = "BINANCE_DELIVERY.ws.1.0", "A" * 300
    bad = (
        f"https://dapi.binance.com/dapi/v1/depth?symbol={symbol}&limit=1000 -> 1626916404.543838: "
        '{"lastUpdateId":167006089178,"E":1626916404580,"T":1626916404574,'
        '"bids":[["427.90","169"]],"asks":[["427.95","12"]]}'
    ).encode()
    capture = write(tmp_path / "in", name, with_line(CF, bad))

    imported = import_capture("binance", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [f"skipped {name}:{AT + 1}: symbol '{symbol}' {NOT_A_NAME}"]
    assert imported.rows == good_rows[name]
    assert imported.written_outside == set()


def _bitmex_row(column: int, value: str) -> bytes:
    cols = tardis_lines(BITMEX)[2].split(b",")
    cols[column] = value.encode()
    return b",".join(cols)


BAD_TARDIS_NAMES = [
    pytest.param(1, "../../escape", f"symbol '../../escape' {NOT_A_NAME}", id="I47-symbol-traversal"),
    pytest.param(0, "../../escape", f"exchange '../../escape' {NOT_A_NAME}", id="I48-exchange-traversal"),
    pytest.param(1, "raw", "symbol 'raw' is a reserved name (the folder of raw frames)", id="I49-symbol-raw"),
    pytest.param(1, "", f"symbol '' {NOT_A_NAME}", id="empty-symbol"),
    pytest.param(0, "bit mex", f"exchange 'bit mex' {NOT_A_NAME}", id="exchange-with-space"),
]


@pytest.mark.parametrize(("column", "name", "reason"), BAD_TARDIS_NAMES)
def test_import_tardis_row_with_bad_exchange_or_symbol_is_skipped_and_nothing_lands_outside(
    tmp_path: Path, good_rows: dict[str, Counts], column: int, name: str, reason: str
) -> None:
    capture = write(tmp_path / "in", BITMEX, with_line(tardis_lines(BITMEX), _bitmex_row(column, name), at=4))

    imported = import_capture("tardis", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.stderr_lines == [f"skipped {BITMEX}:5: {reason}"]
    assert imported.rows == good_rows[BITMEX]
    assert imported.written_outside == set()


def test_import_tardis_file_of_symbol_raw_only_stores_nothing_unreachable(tmp_path: Path) -> None:
    lines = tardis_lines(BITMEX)
    raw_rows = [line.replace(b",XBTUSD,", b",raw,") for line in lines[1:]]
    capture = write(tmp_path / "in", "t_symraw.csv", [lines[0], *raw_rows])

    imported = import_capture("tardis", capture, tmp_path)

    assert imported.result.returncode == 1, imported.result.stderr
    assert imported.report["skipped_lines"] == len(raw_rows)
    assert (
        imported.stderr_lines[0]
        == "skipped t_symraw.csv:2: symbol 'raw' is a reserved name (the folder of raw frames)"
    )
    assert imported.rows == {}
