"""`fx inspect` on the shipped sample: summary, coverage, quality, range queries, exit codes."""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path

import polars as pl
import pytest

from fxcli.model.units import parse_time_ns
from tests.conftest import FIXTURES, run_fx

SAMPLE = FIXTURES / "binance-spot" / "btcusdt_20240808_excerpt.gz"
FROM, TO = "2024-08-08T23:55:00Z", "2024-08-08T23:55:10Z"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inspect") / "data"
    assert run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root)).returncode == 0
    return root


def fx_json(*args: str) -> object:
    result = run_fx(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def raw_trade_times() -> list[int]:
    times = []
    for line in gzip.decompress(SAMPLE.read_bytes()).decode().splitlines():
        frame = json.loads(line.split(" ", 1)[1])
        if frame.get("stream") == "btcusdt@trade":
            times.append(frame["data"]["T"] * 1_000_000)
    return times


def test_inspect_summary_lists_every_table(store: Path) -> None:
    tables = fx_json("inspect", "--data-dir", str(store))["tables"]  # type: ignore[index]

    by_name = {t["table"]: t for t in tables}
    assert set(by_name) == {"trades", "book_deltas", "book_snapshots", "book_ticker"}
    assert by_name["trades"]["rows"] == 2744
    assert by_name["book_ticker"]["rows"] == 10906
    assert by_name["trades"]["first"] == "2024-08-08T23:54:15.342Z"


def test_inspect_verify_passes_on_fresh_import(store: Path) -> None:
    result = run_fx("inspect", "--verify", "--data-dir", str(store))

    assert result.returncode == 0
    assert "every file matches its manifest" in result.stderr


def test_inspect_verify_fails_when_a_file_is_altered(tmp_path: Path) -> None:
    root = tmp_path / "data"
    run_fx("import", "binance", str(SAMPLE), "--data-dir", str(root))
    victim = next(root.rglob("trades/*/*.parquet"))
    stat = victim.stat()
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime: only the hash can tell

    result = run_fx("inspect", "--verify", "--data-dir", str(root))

    assert result.returncode == 1
    assert "sha256 differs from the manifest" in result.stderr


def test_inspect_coverage_per_hour(store: Path) -> None:
    report = fx_json("inspect", "coverage", "BTCUSDT", "--data-dir", str(store))

    hours = report["hours"]  # type: ignore[index]
    assert [h["hour"] for h in hours] == ["2024-08-08T23:00:00.000Z"]
    assert hours[0]["rows"]["trades"] == 2744
    assert report["gaps"] == []  # type: ignore[index]


def test_inspect_quality_finds_a_clean_capture_clean(store: Path) -> None:
    report = fx_json("inspect", "quality", "BTCUSDT", "--data-dir", str(store))

    assert isinstance(report, dict)
    assert report["trades"] == 2744
    assert report["duplicate_trade_ids"] == report["trade_id_jumps"] == 0
    assert report["crossed_book"] == report["crossed_ticker"] == report["book_breaks"] == 0
    assert report["book_updates"] > 1000
    assert (
        -1280 < report["skew_ms"]["trades"]["median"] < -1260
    )  # the capture host's clock was ~1.27 s behind


def test_inspect_trades_range_matches_raw_file(store: Path) -> None:
    rows = fx_json("inspect", "trades", "BTCUSDT", "--from", FROM, "--to", TO, "--data-dir", str(store))
    lo, hi = parse_time_ns(FROM), parse_time_ns(TO)

    expected = sorted(t for t in raw_trade_times() if lo <= t <= hi)
    assert isinstance(rows, list)
    assert [r["exchange_ts_ns"] for r in rows] == expected
    assert rows[0]["time"].startswith("2024-08-08T23:55:00")


def test_inspect_trades_csv_and_parquet_agree(store: Path, tmp_path: Path) -> None:
    window = ("--from", FROM, "--to", TO, "--data-dir", str(store))
    csv = run_fx("inspect", "trades", "BTCUSDT", *window, "--format", "csv")
    out = tmp_path / "t.parquet"
    parquet = run_fx("inspect", "trades", "BTCUSDT", *window, "--format", "parquet", "--out", str(out))

    assert csv.returncode == parquet.returncode == 0
    from_csv = pl.read_csv(io.StringIO(csv.stdout))
    from_parquet = pl.read_parquet(out)
    assert from_csv["trade_id"].to_list() == from_parquet["trade_id"].to_list()
    assert from_csv.height == len(
        [t for t in raw_trade_times() if parse_time_ns(FROM) <= t <= parse_time_ns(TO)]
    )


def test_inspect_book_rebuilds_sane_levels(store: Path) -> None:
    rows = fx_json(
        "inspect", "book", "BTCUSDT", "--from", FROM, "--depth", "3", "--limit", "5", "--data-dir", str(store)
    )

    assert isinstance(rows, list)
    assert len(rows) == 5
    for row in rows:
        assert (
            row["bid2_price"] < row["bid1_price"] < row["bid0_price"] < row["ask0_price"] < row["ask1_price"]
        )
        assert row["exchange_ts_ns"] >= parse_time_ns(FROM)


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("trades", "ETHUSDT"), 1, "no data for symbol ETHUSDT"),
        (("trades", "BTCUSDT", "--from", "2020-01-01", "--to", "2020-01-02"), 1, "no trades for BTCUSDT"),
        (("trades", "BTCUSDT", "--from", "soon"), 2, "--from: not a time: 'soon'"),
        (("trades", "BTCUSDT", "--from", TO, "--to", FROM), 2, "is after --to"),
        (("trades", "BTCUSDT", "--format", "parquet"), 2, "--format parquet needs --out FILE"),
        (("coverage", "BTCUSDT", "--exchange", "kraken"), 1, "no data for BTCUSDT on kraken"),
    ],
)
def test_inspect_bad_queries_give_one_line_and_exit_code(
    store: Path, args: tuple[str, ...], code: int, message: str
) -> None:
    result = run_fx("inspect", *args, "--data-dir", str(store))

    assert result.returncode == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_inspect_missing_data_dir_is_nothing_found(tmp_path: Path) -> None:
    result = run_fx("inspect", "--data-dir", str(tmp_path / "none"))

    assert result.returncode == 1
    assert "does not exist" in result.stderr
