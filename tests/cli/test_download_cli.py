"""`fx download binance-vision` against a real HTTP server on 127.0.0.1 serving the archive's layout."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import date
from pathlib import Path

import pytest

from fxcli.exchange.binance import Market
from fxcli.exchange.captures.binance_vision import Kind
from fxcli.exchange.vision_archive import plan
from tests.cli.vision_server import VisionServer
from tests.conftest import error_line, run_fx
from tests.data.vision_files import csv_text, day_ms, trade_rows, write_archive

DAYS = ["2022-08-11", "2022-08-12", "2022-08-14"]  # 2022-08-13 is not in this archive
SYMBOL = "AGIXBTC"


def _archive(root: Path, days: list[str] = DAYS, rows: int = 4000, first_id: int = 1) -> list[Path]:
    paths = []
    for day in days:
        ids = list(range(first_id, first_id + rows))
        first_id += rows
        text = csv_text(
            Market.SPOT, Kind.TRADES, trade_rows(Market.SPOT, Kind.TRADES, day_ms(day), ids), header=False
        )
        paths.append(write_archive(root, Market.SPOT, Kind.TRADES, SYMBOL, day, text))
    return paths


def _snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under a folder (empty for a folder that does not exist)."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _download(
    server: VisionServer, tmp: Path, *extra: str, first: str = "2022-08-11", last: str = "2022-08-14"
) -> subprocess.CompletedProcess[str]:
    return run_fx(
        "download", "binance-vision", "--symbol", SYMBOL, "--from", first, "--to", last,
        "--base-url", server.url, "--cache-dir", str(tmp / "cache"), "--data-dir", str(tmp / "data"), *extra,
    )  # fmt: skip


def test_download_fetches_verifies_imports_and_reports_the_missing_day(tmp_path: Path) -> None:
    sources = _archive(tmp_path / "archive")

    with VisionServer(tmp_path / "archive") as server:
        result = _download(server, tmp_path, "--json")

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert [f["status"] for f in report["files"]] == ["downloaded", "downloaded", "missing", "downloaded"]
    assert report["missing"] == [
        f"{server.url}/data/spot/daily/trades/{SYMBOL}/{SYMBOL}-trades-2022-08-13.zip"
    ]
    assert "2022-08-13.zip (the archive does not have it)" in result.stderr
    assert report["import"]["rows_added"] == 3 * 4000
    for source in sources:
        cached = tmp_path / "cache" / source.relative_to(tmp_path / "archive")
        assert cached.read_bytes() == source.read_bytes()
        assert cached.with_name(cached.name + ".CHECKSUM").is_file()
    assert not list((tmp_path / "cache").rglob("*.part"))


def test_download_again_fetches_no_zip_and_adds_nothing(tmp_path: Path) -> None:
    _archive(tmp_path / "archive", DAYS[:2])
    with VisionServer(tmp_path / "archive") as server:
        assert _download(server, tmp_path, last="2022-08-12").returncode == 0
        store = _snapshot(tmp_path / "data")
        zips_before, requests_before = server.zip_hits(), sum(server.hits.values())

        again = _download(server, tmp_path, "--json", last="2022-08-12")

        assert again.returncode == 0, again.stderr
        assert server.zip_hits() == zips_before == 2
        assert sum(server.hits.values()) == requests_before  # not even the CHECKSUMs are asked for
    report = json.loads(again.stdout)
    assert [f["status"] for f in report["files"]] == ["cached", "cached"]
    assert report["import"]["rows_added"] == 0
    assert _snapshot(tmp_path / "data") == store


@pytest.mark.parametrize("ignore_range", [False, True], ids=["range", "server-ignores-range"])
def test_download_resumed_after_a_dropped_connection_is_byte_identical(
    tmp_path: Path, ignore_range: bool
) -> None:
    (source,) = _archive(tmp_path / "archive", DAYS[:1], rows=20_000)
    path = "/" + source.relative_to(tmp_path / "archive").as_posix()
    with VisionServer(tmp_path / "archive") as server:
        server.faults.drop_half.add(path)
        server.faults.ignore_range = ignore_range

        interrupted = _download(server, tmp_path, "--retries", "0", last="2022-08-11")
        part = tmp_path / "cache" / (source.relative_to(tmp_path / "archive").as_posix() + ".part")
        assert 0 < part.stat().st_size < source.stat().st_size
        resumed = _download(server, tmp_path, "--json", last="2022-08-11")
        ranges = list(server.ranges)

    assert "the connection broke" in error_line(interrupted)
    assert resumed.returncode == 0, resumed.stderr
    cached = tmp_path / "cache" / source.relative_to(tmp_path / "archive")
    assert cached.read_bytes() == source.read_bytes()
    assert ranges
    assert ranges[0][1].startswith("bytes=")
    assert json.loads(resumed.stdout)["files"][0]["resumed_from"] == (
        0 if ignore_range else part_size(ranges)
    )


def part_size(ranges: list[tuple[str, str]]) -> int:
    return int(ranges[0][1].removeprefix("bytes=").removesuffix("-"))


def test_download_retries_a_dropped_connection_within_one_run(tmp_path: Path) -> None:
    (source,) = _archive(tmp_path / "archive", DAYS[:1], rows=20_000)
    with VisionServer(tmp_path / "archive") as server:
        server.faults.drop_half.add("/" + source.relative_to(tmp_path / "archive").as_posix())
        server.faults.unavailable[f"/{source.relative_to(tmp_path / 'archive').as_posix()}.CHECKSUM"] = 2

        result = _download(server, tmp_path, last="2022-08-11")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cache" / source.relative_to(tmp_path / "archive")).read_bytes() == source.read_bytes()


def _damage(kind: str, server: VisionServer, source: Path, root: Path) -> None:
    if kind == "checksum":
        source.write_bytes(source.read_bytes()[:-10] + b"0123456789")
    elif kind == "html":
        server.faults.html.add("/" + source.relative_to(root).as_posix())
    elif kind == "truncated":  # the archive's own file is short, and its CHECKSUM says so
        import hashlib as h

        source.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
        digest = h.sha256(source.read_bytes()).hexdigest()
        source.with_name(source.name + ".CHECKSUM").write_text(f"{digest}  {source.name}\n")


@pytest.mark.parametrize(
    ("kind", "said"),
    [
        ("checksum", "does not match its CHECKSUM"),
        ("html", "not a zip archive (the server sent '<!DOCTYPE html>"),
        ("truncated", "damaged zip"),
    ],
)
def test_download_bad_file_is_one_line_exit_2_and_the_store_is_unchanged(
    tmp_path: Path, kind: str, said: str
) -> None:
    root = tmp_path / "archive"
    _first, second = _archive(root, DAYS[:2])
    with VisionServer(root) as server:
        assert _download(server, tmp_path, last="2022-08-11").returncode == 0  # a store to keep intact
        store = _snapshot(tmp_path / "data")
        _damage(kind, server, second, root)

        result = _download(server, tmp_path, last="2022-08-12")

    message = error_line(result)
    assert said in message
    assert second.name in message
    assert _snapshot(tmp_path / "data") == store
    cached = tmp_path / "cache" / second.relative_to(root)
    if kind != "truncated":  # a download that failed verification is not kept in any form
        assert not cached.exists()
        assert not cached.with_name(cached.name + ".part").exists()


def test_download_slow_server_times_out_with_a_clear_message(tmp_path: Path) -> None:
    _archive(tmp_path / "archive", DAYS[:1])
    with VisionServer(tmp_path / "archive") as server:
        server.faults.delay_s = 2.0

        result = _download(server, tmp_path, "--timeout-s", "0.3", "--retries", "1", last="2022-08-11")

    message = error_line(result)
    assert "no answer within 0.3 s (the server is too slow) (after 2 attempts)" in message
    assert ".CHECKSUM" in message


def test_plan_uses_monthly_files_for_whole_past_months_and_daily_files_for_the_rest() -> None:
    files = plan(
        "BTCUSDT", Market.SPOT, Kind.TRADES, date(2024, 6, 30), date(2024, 9, 2), today=date(2024, 8, 20)
    )

    periods = [f.period for f in files]

    assert periods[:2] == ["2024-06-30", "2024-07"]
    assert periods[2:] == [f"2024-08-{d:02d}" for d in range(1, 32)] + ["2024-09-01", "2024-09-02"]


def test_download_month_uses_the_monthly_file_and_falls_back_to_days_when_it_is_missing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "archive"
    rows = trade_rows(Market.SPOT, Kind.TRADES, day_ms("2022-06-05"), list(range(1, 100)))
    write_archive(
        root,
        Market.SPOT,
        Kind.TRADES,
        SYMBOL,
        "2022-06",
        csv_text(Market.SPOT, Kind.TRADES, rows, header=False),
    )
    july = [f"2022-07-{d:02d}" for d in range(1, 32)]
    _archive(root, july, rows=10, first_id=100)

    with VisionServer(root) as server:
        result = _download(server, tmp_path, "--json", first="2022-06-01", last="2022-07-31")
        hits = dict(server.hits)

    assert result.returncode == 0, result.stderr
    periods = [Path(f["path"]).name for f in json.loads(result.stdout)["files"]]
    assert periods == [f"{SYMBOL}-trades-2022-06.zip"] + [f"{SYMBOL}-trades-{d}.zip" for d in july]
    assert hits[f"/data/spot/monthly/trades/{SYMBOL}/{SYMBOL}-trades-2022-07.zip.CHECKSUM"] == 1  # tried, 404
    assert not any("daily" in p and "2022-06" in p for p in hits)


def test_download_takes_the_archive_and_cache_from_fx_toml_and_base_url_overrides_it(tmp_path: Path) -> None:
    _archive(tmp_path / "archive", DAYS[:1])
    with VisionServer(tmp_path / "archive") as server:
        (tmp_path / "fx.toml").write_text(
            f'binance_vision_url = "{server.url}"\ncache_dir = "mirror"\ndata_dir = "store"\n'
        )
        args = ("download", "binance-vision", "--symbol", SYMBOL, "--from", DAYS[0], "--to", DAYS[0])

        from_toml = run_fx(*args, cwd=tmp_path)
        (tmp_path / "fx.toml").write_text(
            'binance_vision_url = "http://127.0.0.1:9"\ncache_dir = "mirror2"\n'
        )
        overridden = run_fx(*args, "--base-url", server.url, "--data-dir", "store2", cwd=tmp_path)
        (tmp_path / "fx.toml").write_text('binance_vision_url = "data.binance.vision"\n')
        bad = run_fx(*args, cwd=tmp_path)

    assert from_toml.returncode == 0, from_toml.stderr
    assert list((tmp_path / "mirror" / "data" / "spot" / "daily").rglob("*.zip"))
    assert (tmp_path / "store" / "binance" / SYMBOL).is_dir()
    assert overridden.returncode == 0, overridden.stderr
    assert list((tmp_path / "mirror2").rglob("*.zip"))
    assert "binance_vision_url" in error_line(bad)
    assert "is not a http:// or https:// URL" in error_line(bad)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("--from", "2022-13-01"), "--from '2022-13-01' is not a date YYYY-MM-DD"),
        (("--to", "2022-08-01"), "--to 2022-08-01 is before --from 2022-08-11"),
        (("--market", "coinm"), "--market 'coinm' is not one of spot, usdm"),
        (("--kind", "klines"), "--kind 'klines' is not one of"),
        (("--kind", "bookTicker"), "book tickers for --market usdm only"),
        (("--symbol", "../x"), "is not a Binance symbol"),
    ],
)
def test_download_bad_options_are_one_line_errors(tmp_path: Path, args: tuple[str, ...], said: str) -> None:
    base = ["download", "binance-vision", "--symbol", SYMBOL, "--from", "2022-08-11", "--to", "2022-08-12"]
    base += [
        "--base-url",
        "http://127.0.0.1:9",
        "--cache-dir",
        str(tmp_path / "c"),
        "--data-dir",
        str(tmp_path / "d"),
    ]

    result = run_fx(*base, *args)

    assert said in error_line(result)
