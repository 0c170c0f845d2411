"""Importing the same real capture twice leaves the store exactly as the first import left it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from fxcli.store import manifest
from fxcli.store.layout import MANIFEST_NAME
from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.tasks.import_ import ImportReport, import_binance

pytestmark = pytest.mark.data

CAPTURE = Path("hftbacktest/spot/btcusdt_20240808.gz")
EXCHANGE = "binance"
SYMBOL = "BTCUSDT"


@dataclass(frozen=True)
class StoreState:
    """What a data dir holds: rows per table, every parquet file, and each manifest entry's hash."""

    rows: dict[Table, int]
    files: list[str]
    hashes: dict[str, tuple[str, int, int]]  # file -> (sha256, rows, bytes) from its folder's manifest


@dataclass(frozen=True)
class TwoImports:
    """The store after one import, the store after a second import of the same file, and its report."""

    first: StoreState
    second: StoreState
    second_report: ImportReport


def _state(data_dir: Path) -> StoreState:
    reader = StoreReader(data_dir)
    rows = {table: reader.scan(EXCHANGE, SYMBOL, table).collect().height for table in Table}
    files = sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*.parquet"))
    hashes: dict[str, tuple[str, int, int]] = {}
    for path in sorted(data_dir.rglob(MANIFEST_NAME)):
        for name, entry in manifest.load(path.parent).files.items():
            hashes[str((path.parent / name).relative_to(data_dir))] = (entry.sha256, entry.rows, entry.bytes)
    return StoreState(rows, files, hashes)


@pytest.fixture(scope="module")
def two_imports(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> TwoImports:
    data_dir = tmp_path_factory.mktemp("twice") / "data"
    import_binance([shared_data / CAPTURE], data_dir)
    first = _state(data_dir)
    report = import_binance([shared_data / CAPTURE], data_dir)
    return TwoImports(first, _state(data_dir), report)


def test_import_binance_spot_twice_keeps_row_counts(two_imports: TwoImports) -> None:
    first = two_imports.first

    second = two_imports.second

    assert first.rows[Table.TRADES] == 9_757
    assert second.rows == first.rows


def test_import_binance_spot_twice_keeps_every_manifest_sha256(two_imports: TwoImports) -> None:
    first = two_imports.first

    second = two_imports.second

    assert len(first.hashes) > 0
    assert sorted(first.hashes) == first.files
    assert second.files == first.files
    assert second.hashes == first.hashes


def test_import_binance_spot_twice_second_run_adds_no_rows(two_imports: TwoImports) -> None:
    report = two_imports.second_report

    added = (report.rows_added, report.files_written)

    assert report.rows_in > 0
    assert added == (0, 0)
