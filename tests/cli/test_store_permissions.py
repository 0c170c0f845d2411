"""Read commands never write, and a file they may not read is named, not a crash (probe D5 K25-K27,
D8 K30 K32). Run as an account bound by file modes (tests/other_user.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_store_damage import BACKTEST, HOUR
from tests.conftest import error_line
from tests.other_user import run_fx_as_other


@pytest.fixture
def store(sample_store: Path, tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "data"
    shutil.copytree(sample_store, root)
    yield root
    for folder, dirs, files in os.walk(root):  # let pytest clean up whatever a test locked
        for name in dirs + files:
            (Path(folder) / name).chmod(0o755)


def snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """(mode, size, mtime) of everything under `root`: a read must change none of it."""
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        stat = path.lstat()
        found[str(path.relative_to(root))] = (stat.st_mode, stat.st_size, stat.st_mtime_ns)
    return found


def read_only(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            (Path(folder) / name).chmod(0o444)
        for name in dirs:
            (Path(folder) / name).chmod(0o555)
    root.chmod(0o555)


def test_a_read_only_user_inspects_verifies_and_backtests_a_stale_store(store: Path, tmp_path: Path) -> None:
    # K30, K32: a manifest whose files' mtimes moved (as any copy or touch does) used to be
    # rewritten by every read, so a reader without write access got an internal error.
    trades = store / HOUR
    os.utime(trades, ns=(trades.stat().st_atime_ns, trades.stat().st_mtime_ns + 10**9))
    read_only(store)
    before = snapshot(store)
    data = ("--data-dir", str(store))

    results = [
        run_fx_as_other("inspect", *data),
        run_fx_as_other("inspect", "--verify", *data),
        run_fx_as_other("inspect", "trades", "BTCUSDT", "-n", "3", *data),
        run_fx_as_other("inspect", "coverage", "BTCUSDT", *data),
        run_fx_as_other(*BACKTEST, "--out", str(tmp_path / "results"), *data),
    ]

    for result in results:
        assert result.returncode == 0, (result.args, result.stderr)
    assert snapshot(store) == before


def test_a_file_the_user_may_not_read_is_named(store: Path, tmp_path: Path) -> None:
    # K25c, K25d
    (store / HOUR).chmod(0)
    data = ("--data-dir", str(store))

    verify = run_fx_as_other("inspect", "--verify", *data)
    trades = run_fx_as_other("inspect", "trades", "BTCUSDT", "-n", "2", *data)
    backtest = run_fx_as_other(*BACKTEST, "--out", str(tmp_path / "results"), *data)

    assert verify.returncode == 1
    assert f"fx: verify: {store / HOUR}: unreadable (permission denied)" in verify.stderr
    for result in (trades, backtest):
        assert f"{store / HOUR}: unreadable (permission denied)" in error_line(result)


def test_a_manifest_the_user_may_not_read_is_named(store: Path) -> None:
    # K26a, K26b
    book = store / HOUR.parent / "_manifest.json"
    book.chmod(0)
    data = ("--data-dir", str(store))

    overview = run_fx_as_other("inspect", *data)
    verify = run_fx_as_other("inspect", "--verify", *data)

    assert f"{book}: cannot read: Permission denied" in error_line(overview)
    assert verify.returncode == 1
    assert f"fx: verify: {book.parent}: unreadable ({book}: cannot read: Permission denied)" in verify.stderr
    assert "book_deltas" not in verify.stderr  # the other tables were checked and are fine


def test_a_table_folder_the_user_may_not_list_is_named(store: Path) -> None:
    # K27
    folder = store / HOUR.parents[1]
    folder.chmod(0)
    data = ("--data-dir", str(store))

    overview = run_fx_as_other("inspect", *data)
    verify = run_fx_as_other("inspect", "--verify", *data)

    assert f"{folder}: cannot list: Permission denied" in error_line(overview)
    assert verify.returncode == 1
    assert f"fx: verify: {folder}: unreadable (cannot list: Permission denied)" in verify.stderr
