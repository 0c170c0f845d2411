"""A store that cannot be fooled (probe D1, D2, D3, D5, D22): outside damage to stored files is
found by `fx inspect --verify`, never blessed, never merged into by a re-import, and every read
command names the file it cannot use instead of crashing or answering with part of the data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fxcli.store import manifest
from tests.cli.conftest import SAMPLE
from tests.conftest import error_line, run_fx

HOUR = Path("binance/BTCUSDT/trades/2024-08-08/23.parquet")
BACKTEST = ("backtest", "momentum_scalper", "--symbol", "BTCUSDT", "--no-chart")


@pytest.fixture
def clean(sample_store: Path) -> Path:
    return sample_store


@pytest.fixture
def store(sample_store: Path, tmp_path: Path) -> Path:
    """A copy of the sample store for one test to damage (copy2: sizes and mtimes kept)."""
    root = tmp_path / "data"
    shutil.copytree(sample_store, root)
    return root


def shas(root: Path) -> dict[str, str]:
    """Every stored Parquet file by path (not the quarantine), with the sha256 of its bytes."""
    stored = [p for p in sorted(root.rglob("*.parquet")) if not p.relative_to(root).parts[0].startswith(".")]
    return {str(p.relative_to(root)): manifest.sha256_file(p) for p in stored}


def flip_bit(path: Path, offset: int, *, keep_mtime: bool) -> None:
    stat = path.stat()
    payload = bytearray(path.read_bytes())
    payload[offset] ^= 1
    path.write_bytes(payload)
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["mtime-changed", "mtime-kept"])
def test_verify_reports_a_flipped_bit_every_time_and_never_blesses_it(store: Path, keep_mtime: bool) -> None:
    # K1, K4, K5, K6: the flip changes a stored price and nothing else a reader could notice.
    flip_bit(store / HOUR, (store / HOUR).stat().st_size // 2, keep_mtime=keep_mtime)

    first = run_fx("inspect", "--verify", "--data-dir", str(store))
    second = run_fx("inspect", "--verify", "--data-dir", str(store))

    for result in (first, second):
        assert result.returncode == 1, result.stderr
        assert f"fx: verify: {store / HOUR}: damaged (" in result.stderr
        assert "every file matches" not in result.stderr


def test_reimport_over_a_damaged_hour_refuses_and_changes_nothing(store: Path) -> None:
    # K7, K8: the obvious repair must not merge damaged rows with good ones and re-bless the file.
    flip_bit(store / HOUR, (store / HOUR).stat().st_size // 2, keep_mtime=True)
    before = shas(store)

    again = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(store))

    line = error_line(again)
    assert str(store / HOUR) in line
    assert "fx inspect --verify --repair" in line
    assert shas(store) == before
    assert run_fx("inspect", "--verify", "--data-dir", str(store)).returncode == 1


def test_repair_then_reimport_restores_exactly_a_clean_import(store: Path, clean: Path) -> None:
    flip_bit(store / HOUR, 1000, keep_mtime=True)
    (store / HOUR.parent / "22.parquet").write_bytes((store / HOUR).read_bytes())  # a stray copy too

    repaired = run_fx("inspect", "--verify", "--repair", "--data-dir", str(store))
    again = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(store))
    after = run_fx("inspect", "--verify", "--data-dir", str(store))

    assert repaired.returncode == 1
    assert f"fx: repair: moved {store / HOUR} to {store}/.quarantine/" in repaired.stderr
    assert "22.parquet: stray" in repaired.stderr
    assert again.returncode == 0, again.stderr
    assert after.returncode == 0, after.stderr
    assert shas(store) == shas(clean)
    moved = list((store / ".quarantine").rglob("*.parquet"))
    assert sorted(p.name for p in moved) == ["22.parquet", "23.parquet"]


def test_a_deleted_listed_file_is_a_hole_not_an_empty_hour(store: Path) -> None:
    # K18b: verify, coverage and reads all say so.
    (store / HOUR).unlink()

    verify = run_fx("inspect", "--verify", "--data-dir", str(store))
    coverage = run_fx("inspect", "coverage", "BTCUSDT", "--json", "--data-dir", str(store))
    trades = run_fx("inspect", "trades", "BTCUSDT", "--data-dir", str(store))

    assert verify.returncode == 1
    assert f"fx: verify: {store / HOUR}: missing (listed in the manifest, not on disk)" in verify.stderr
    assert coverage.returncode == 1
    assert '"trades 23.parquet missing"' in coverage.stdout
    assert str(store / HOUR) in error_line(trades)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def footer(path: Path) -> None:
    flip_bit(path, path.stat().st_size - 8, keep_mtime=True)  # the footer's length


def foreign(path: Path) -> None:
    """Another table's file copied over the hour, its mtime kept (K20)."""
    stat = path.stat()
    shutil.copyfile(path.parents[2] / "book_ticker" / path.parent.name / path.name, path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncate,
    "zero-bytes": empty,
    "a-directory": directory,
    "footer-flipped": footer,
    "foreign-file": foreign,
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_one_damaged_file_is_named_by_every_command_and_bricks_nothing(store: Path, damage: str) -> None:
    # K2, K3, K9-K11, K20, K21 (D5): one line naming the file, never an internal error.
    DAMAGE[damage](store / HOUR)
    data = ("--data-dir", str(store))

    verify = run_fx("inspect", "--verify", *data)
    overview = run_fx("inspect", *data)
    trades = run_fx("inspect", "trades", "BTCUSDT", *data)
    book = run_fx("inspect", "book", "BTCUSDT", "-n", "2", *data)  # another table: still readable
    backtest = run_fx(*BACKTEST, "--out", str(store.parent / "results"), *data)

    assert verify.returncode == 1
    named = [line for line in verify.stderr.splitlines() if str(store / HOUR) in line]
    assert len(named) == 1, verify.stderr
    assert named[0].startswith(f"fx: verify: {store / HOUR}: ")
    assert overview.returncode in (0, 1), overview.stderr
    assert "internal error" not in overview.stderr
    for result in (trades, backtest):
        assert str(store / HOUR) in error_line(result)
    assert book.returncode == 0, book.stderr


def test_stray_hour_files_and_folders_are_reported_and_never_read(store: Path, clean: Path) -> None:
    # K19g, K23g (D22): copies under another hour's name, an hour 99, a folder that is no date.
    day = store / HOUR.parent
    for name in ("22.parquet", "99.parquet"):
        shutil.copyfile(day / "23.parquet", day / name)
    bogus = day.parent / "2024-13-45"
    bogus.mkdir()
    shutil.copyfile(day / "23.parquet", bogus / "23.parquet")
    rows = run_fx("inspect", "trades", "BTCUSDT", "--format", "csv", "--data-dir", str(clean))

    verify = run_fx("inspect", "--verify", "--data-dir", str(store))
    trades = run_fx("inspect", "trades", "BTCUSDT", "--format", "csv", "--data-dir", str(store))
    reimport = run_fx("import", "binance", str(SAMPLE), "--data-dir", str(store))

    assert verify.returncode == 1
    assert f"{day / '22.parquet'}: stray (not in the manifest)" in verify.stderr
    assert f"{day / '99.parquet'}: stray (not a store file name)" in verify.stderr
    assert f"{bogus}: stray (not a date folder)" in verify.stderr
    assert trades.returncode == 0, trades.stderr
    assert trades.stdout == rows.stdout  # not doubled
    assert reimport.returncode == 0, reimport.stderr  # other hours are untouched by a stray one


def test_a_copy_that_changed_every_mtime_still_verifies_and_reads(store: Path, tmp_path: Path) -> None:
    # `cp -r` without -p: mtimes change, bytes do not; nothing is damaged.
    copied = tmp_path / "copied"
    shutil.copytree(store, copied, copy_function=shutil.copyfile)

    verify = run_fx("inspect", "--verify", "--data-dir", str(copied))
    trades = run_fx("inspect", "trades", "BTCUSDT", "-n", "3", "--data-dir", str(copied))

    assert verify.returncode == 0, verify.stderr
    assert trades.returncode == 0, trades.stderr
