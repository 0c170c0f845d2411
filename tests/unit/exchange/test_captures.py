"""Capture readers: line formats, damaged files and line numbers."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from fxcli.exchange.binance import Market
from fxcli.exchange.captures import cryptofeed, hftbacktest, tardis
from fxcli.exchange.captures.issues import Issues
from fxcli.exchange.captures.source import CaptureError, first_line

LINE = b'1723161254087896568 {"stream":"btcusdt@trade","data":{"t":1}}\n'


def test_hftbacktest_reader_numbers_lines_and_flags_garbage(tmp_path: Path) -> None:
    path = tmp_path / "c.txt"
    path.write_bytes(
        LINE + b"garbage here\n\n" + b'1723161254206652067 {"lastUpdateId":1,"bids":[],"asks":[]}\n'
    )

    records = list(hftbacktest.read(path))

    assert [(r.line_no, r.kind) for r in records] == [(1, "stream"), (2, "error"), (4, "snapshot")]
    assert records[0].received_ts_ns == 1723161254087896568


def test_hftbacktest_reader_reports_truncated_gzip_after_good_lines(tmp_path: Path) -> None:
    whole = gzip.compress(LINE * 5000)
    path = tmp_path / "c.gz"
    path.write_bytes(whole[: len(whole) // 2])

    records = list(hftbacktest.read(path))

    assert records[-1].kind == "error"
    assert b"truncated" in records[-1].payload
    assert all(r.kind == "stream" for r in records[:-1])
    assert len(records) > 1


def test_cryptofeed_reader_parses_ws_http_and_skips_connect(tmp_path: Path) -> None:
    path = tmp_path / "BINANCE.ws.1.0"
    path.write_text(
        "wss://stream.binance.com:9443/stream?streams=nknusdt@aggTrade <-> 1633998512.0\n"
        '1633998523.957215: {"stream":"nknusdt@aggTrade","data":{}}\n'
        "https://api.binance.com/api/v3/depth?symbol=NKNUSDT&limit=1000 -> 1633998512.320639: "
        '{"lastUpdateId":1}\n'
        "\n"
        "what is this\n"
    )

    records = list(cryptofeed.read(path))

    assert [(r.line_no, r.kind, r.symbol) for r in records] == [
        (2, "stream", None),
        (3, "snapshot", "NKNUSDT"),
        (5, "error", None),
    ]
    assert records[0].received_ts_ns == 1_633_998_523_957_215_000


def test_cryptofeed_names_give_venue_and_siblings(tmp_path: Path) -> None:
    for name in ("BINANCE_FUTURES.ws.1.0", "BINANCE_FUTURES.http.0.0", "BINANCE_FUTURES.0", "BINANCE.ws.1.0"):
        (tmp_path / name).write_text("")

    ws = tmp_path / "BINANCE_FUTURES.ws.1.0"

    assert cryptofeed.venue(ws) is Market.USDM
    assert [p.name for p in cryptofeed.siblings(ws)] == ["BINANCE_FUTURES.http.0.0"]


def test_tardis_reader_counts_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "bitmex,XBTUSD,1583020803145000,1583020803307160,a,sell,8531.5,2152\n"
        "bitmex,XBTUSD,1583020803145000,1583020803307160,b,sideways,8531.5,1\n"
        "bitmex,XBTUSD,1583020803145000\n"
        "bitmex,XBTUSD,1583020803145000,1583020803307160,c,buy,-5,1\n"
    )
    issues = Issues("t.csv")

    events = list(tardis.read(path, issues))

    assert len(events) == 1
    assert [line for line, _ in issues.examples] == [3, 4, 5]
    assert "sideways" in issues.examples[0][1]


def test_tardis_unknown_header_is_a_capture_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("exchange,symbol,timestamp,local_timestamp,funding_rate\nx,y,1,2,3\n")

    with pytest.raises(CaptureError, match=r"t\.csv:1: not a tardis CSV type"):
        list(tardis.read(path, Issues("t.csv")))


def test_first_line_of_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match=r"nope\.gz: no such file"):
        first_line(tmp_path / "nope.gz")
