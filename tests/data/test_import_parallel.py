"""Imports in parallel worker processes give the store a one-at-a-time import gives: the same
manifest entries (file names and rows), row counts and sha256 of the sorted rows of every table.

Inputs: the real hftbacktest spot capture, the USD-M one cut in two consecutive files (a chain that
must stay in one worker), the cryptofeed captures of five Binance venues, and the tardis files.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from fxcli.store.writer import StoreWriter
from fxcli.tasks.import_ import (
    Chain,
    FileReport,
    ImportReport,
    _binance_inputs,
    import_binance,
    import_chain,
    import_tardis,
    plan_chains,
)
from fxcli.tasks.import_jobs import run_units
from tests.conftest import error_line, run_fx
from tests.data.split_capture import split_capture
from tests.data.store_digest import manifest_entries, table_digests

pytestmark = pytest.mark.data

SPOT = Path("hftbacktest/spot/btcusdt_20240808.gz")
USDM = Path("hftbacktest/usdm/btcusdt_20240808.gz")
CRYPTOFEED = ["BINANCE", "BINANCE_FUTURES", "BINANCE_DELIVERY", "BINANCE_US", "BINANCE_TR"]
TARDIS = Path("nautilus_trader/tardis")
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/binance-spot/btcusdt_20240808_excerpt.gz"


@dataclass(frozen=True)
class Pair:
    """The same inputs imported with one job and with several."""

    sequential: Path
    parallel: Path
    reports: tuple[ImportReport, ImportReport]


def _summary(report: ImportReport) -> list[tuple[list[str], dict[str, int], int, int]]:
    return [(r.files, r.events, r.issues.skipped, r.deltas_dropped) for r in report.inputs]


@pytest.fixture(scope="module")
def binance_inputs(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    parts = split_capture(shared_data / USDM, [50_000], tmp_path_factory.mktemp("usdm"))
    ws = [shared_data / "cryptofeed" / f"{venue}.ws.1.0" for venue in CRYPTOFEED]
    return [parts[1], shared_data / SPOT, *ws, parts[0]]


@pytest.fixture(scope="module")
def binance_pair(binance_inputs: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Pair:
    base = tmp_path_factory.mktemp("binance")
    one = import_binance(binance_inputs, base / "seq", jobs=1)
    many = import_binance(binance_inputs, base / "par", jobs=3)
    return Pair(base / "seq", base / "par", (one, many))


@pytest.fixture(scope="module")
def tardis_pair(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Pair:
    files = sorted((shared_data / TARDIS).glob("*.csv"))
    base = tmp_path_factory.mktemp("tardis")
    one = import_tardis(files, base / "seq", jobs=1)
    many = import_tardis(files, base / "par", jobs=3)
    return Pair(base / "seq", base / "par", (one, many))


def test_plan_chains_keeps_consecutive_files_of_one_symbol_in_one_chain(binance_inputs: list[Path]) -> None:
    usdm_parts = {binance_inputs[0], binance_inputs[-1]}

    chains = plan_chains(_binance_inputs(binance_inputs), None)

    holding = [c for c in chains if usdm_parts & {f for p in c.inputs for f in p.inp.files}]
    assert len(chains) >= 6
    assert len(holding) == 1
    assert [p.inp.files[0] for p in holding[0].inputs] == [binance_inputs[-1], binance_inputs[0]]


@pytest.mark.parametrize("kind", ["binance", "tardis"])
def test_parallel_import_equals_sequential_tables_and_manifests(
    kind: str, binance_pair: Pair, tardis_pair: Pair
) -> None:
    pair = binance_pair if kind == "binance" else tardis_pair
    expected = (table_digests(pair.sequential), manifest_entries(pair.sequential))

    parallel = (table_digests(pair.parallel), manifest_entries(pair.parallel))

    assert len(expected[0]) >= 4
    assert parallel == expected


@pytest.mark.parametrize("kind", ["binance", "tardis"])
def test_parallel_import_reports_what_sequential_reports(
    kind: str, binance_pair: Pair, tardis_pair: Pair
) -> None:
    one, many = (binance_pair if kind == "binance" else tardis_pair).reports

    summary = (_summary(many), many.rows_in, many.rows_added)  # files_written counts rewrites

    assert summary == (_summary(one), one.rows_in, one.rows_added)


def _chains(paths: list[Path]) -> list[Chain]:
    return plan_chains(_binance_inputs(paths), None)


def _import(chain: Chain, writer: StoreWriter, progress: object) -> list[FileReport]:
    return import_chain(chain, writer, None)


def test_two_workers_writing_the_same_date_folders_give_the_one_file_store(
    shared_data: Path, tmp_path: Path
) -> None:
    source = shared_data / SPOT
    copy = tmp_path / "copy" / source.name
    copy.parent.mkdir()
    shutil.copyfile(source, copy)
    import_binance([source], tmp_path / "one")
    # Two units of the same symbol and hours, each in its own process and writer, at once.
    units = [*_chains([source]), *_chains([copy])]

    run_units(units, tmp_path / "two", _import, jobs=2)

    assert table_digests(tmp_path / "two") == table_digests(tmp_path / "one")
    assert manifest_entries(tmp_path / "two") == manifest_entries(tmp_path / "one")


def test_failed_worker_is_one_error_line_and_leaves_no_half_written_file(
    shared_data: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    import_binance([FIXTURE], data_dir)
    damaged = sorted(data_dir.glob("binance/BTCUSDT/book_ticker/*/*.parquet"))[0]
    stat = damaged.stat()
    payload = bytearray(damaged.read_bytes())
    payload[len(payload) // 2] ^= 0xFF  # same size and mtime: only its sha256 tells
    damaged.write_bytes(bytes(payload))
    os.utime(damaged, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    other = shared_data / "cryptofeed/BINANCE_US.ws.1.0"

    result = run_fx("import", "binance", str(FIXTURE), str(other), "--jobs", "2", "--data-dir", str(data_dir))

    assert str(damaged) in error_line(result)
    assert "sha256 differs from the manifest" in result.stderr
    assert [p for p in data_dir.rglob("*") if p.name.startswith(".") and p.name != ".lock"] == []
    # The other worker's chain is whole: as a lone import of its file stores it.
    import_binance([other], tmp_path / "alone")
    assert {k: v for k, v in table_digests(data_dir).items() if k.startswith("binance-us/")} == table_digests(
        tmp_path / "alone"
    )


def test_import_jobs_zero_is_one_error_line(shared_data: Path, tmp_path: Path) -> None:
    result = run_fx("import", "binance", str(shared_data / SPOT), "--jobs", "0", "--data-dir", str(tmp_path))

    assert "--jobs" in error_line(result)


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = {int(c) for c in (task / "children").read_text().split()}
        except FileNotFoundError:
            continue
        for child in children:
            found |= {child, *_descendants(child)}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_killed_parallel_import_takes_its_workers_with_it(shared_data: Path, tmp_path: Path) -> None:
    files = [str(shared_data / SPOT), str(shared_data / USDM)]
    args = ["import", "binance", *files, "--jobs", "2", "--data-dir", str(tmp_path)]
    proc = subprocess.Popen([sys.executable, "-m", "fxcli", *args], stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and proc.poll() is None:
        workers = _descendants(
            proc.pid
        )  # a worker (the import itself runs the other chain), the resource tracker
        time.sleep(0.05)
    assert len(workers) >= 2, "the import did not start its worker"
    while not any(tmp_path.rglob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)  # a worker has written: the workers are mid-import
    assert proc.poll() is None, "the import finished before the kill: the test did not test it"

    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [w for w in workers if _alive(w)] == []


def test_archive_zips_import_in_parallel_as_they_do_one_at_a_time(tmp_path: Path) -> None:
    """Binance archive files: three symbols and kinds (one with a trade-id hole across its two
    days) in three workers give the store one process gives."""
    from fxcli.exchange.binance import Market
    from fxcli.exchange.captures.binance_vision import Kind
    from fxcli.tasks.vision import import_vision
    from tests.data.vision_files import csv_text, day_ms, trade_rows, write_archive

    files = []
    for market, kind, symbol in [
        (Market.SPOT, Kind.TRADES, "AGIXBTC"),
        (Market.SPOT, Kind.AGG_TRADES, "ETHBTC"),
        (Market.USDM, Kind.TRADES, "BTCUSDT"),
    ]:
        for day, ids in [("2022-08-14", range(1, 3001)), ("2022-08-15", range(3005, 6001))]:
            rows = trade_rows(market, kind, day_ms(day), list(ids))
            text = csv_text(market, kind, rows, header=market is Market.USDM)
            files.append(write_archive(tmp_path / "archive", market, kind, symbol, day, text))
    files.reverse()  # the command line's order must not matter either

    one = import_vision(files, tmp_path / "seq", jobs=1)
    many = import_vision(files, tmp_path / "par", jobs=3)

    expected = (table_digests(tmp_path / "seq"), manifest_entries(tmp_path / "seq"))
    assert [t for t in expected[0] if t.endswith("gaps")]  # the hole across the two days is there
    assert (table_digests(tmp_path / "par"), manifest_entries(tmp_path / "par")) == expected
    assert (_summary(many), many.rows_in, many.rows_added) == (_summary(one), one.rows_in, one.rows_added)
