"""Consecutive capture files of one symbol (real hftbacktest captures cut in two at a line, the second
part without the REST snapshot, as the collector's rotation writes them) import into the store one
import of the whole file gives: imported together (in either order) or one after the other.

The book replayed from the store is held against tests/data/binance_reference.py (gzip + json and
Binance's documented rules, no fxcli) at the last diff before the cut, the first after it, and the end.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest

from fxcli.store.reader import StoreReader
from fxcli.store.schema import Table
from fxcli.tasks.import_ import ImportReport, import_binance
from tests.data.binance_reference import Diff, Ladder, read_hftbacktest, rebuild
from tests.data.split_capture import SNAPSHOT_MARK, capture_lines, split_capture, write_capture
from tests.data.store_book import full_ladders, replay_book
from tests.data.store_digest import manifest_entries, table_digests

pytestmark = pytest.mark.data

SYMBOL = "BTCUSDT"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures/binance-spot/btcusdt_20240808_excerpt.gz"


@dataclass(frozen=True)
class Case:
    """A capture, where to cut it, and its market."""

    path: Path  # under shared data, or absolute (the fixture)
    cut: int  # line index the second file starts at
    exchange: str

    @property
    def is_futures(self) -> bool:
        return self.exchange != "binance"


CASES = {
    "spot": Case(Path("hftbacktest/spot/btcusdt_20240808.gz"), 20_000, "binance"),
    "usdm": Case(Path("hftbacktest/usdm/btcusdt_20240808.gz"), 50_000, "binance-usdm"),
    "excerpt": Case(FIXTURE, 11_000, "binance"),
}


@dataclass(frozen=True)
class Stores:
    """One capture imported whole, its two parts together (given in reverse order), and one after
    the other in two imports."""

    case: Case
    source: Path
    parts: list[Path]
    whole: Path
    together: Path
    one_by_one: Path
    reports: list[ImportReport]


@pytest.fixture(scope="module", params=list(CASES))
def stores(
    request: pytest.FixtureRequest, shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Stores:
    case = CASES[str(request.param)]
    source = case.path if case.path.is_absolute() else shared_data / case.path
    base = tmp_path_factory.mktemp(str(request.param))
    parts = split_capture(source, [case.cut], base)
    assert not any(SNAPSHOT_MARK in line[:40] for line in capture_lines(source)[case.cut :])
    whole, together, one_by_one = base / "whole", base / "together", base / "one_by_one"
    import_binance([source], whole)
    reports = [import_binance([parts[1], parts[0]], together)]
    reports += [import_binance([parts[0]], one_by_one), import_binance([parts[1]], one_by_one)]
    return Stores(case, source, parts, whole, together, one_by_one, reports)


def _table(data_dir: Path, exchange: str, table: Table) -> pl.DataFrame:
    return StoreReader(data_dir).scan(exchange, SYMBOL, table).collect()


def _diffs(path: Path) -> list[Diff]:
    return [item for item in read_hftbacktest(path, SYMBOL).book if isinstance(item, Diff)]


def test_join_together_in_reverse_order_gives_the_whole_file_store(stores: Stores) -> None:
    expected = table_digests(stores.whole)

    together = table_digests(stores.together)

    assert len(expected) == 4  # trades, deltas, snapshots, tickers
    assert together == expected


def test_join_one_after_the_other_gives_the_whole_file_store(stores: Stores) -> None:
    expected = (table_digests(stores.whole), manifest_entries(stores.whole))

    one_by_one = (table_digests(stores.one_by_one), manifest_entries(stores.one_by_one))

    assert one_by_one == expected


@pytest.mark.parametrize("store", ["together", "one_by_one"])
def test_join_stores_no_gap_and_skips_nothing(stores: Stores, store: str) -> None:
    data_dir = getattr(stores, store)

    gaps = _table(data_dir, stores.case.exchange, Table.GAPS).to_dicts()

    assert gaps == []
    assert [r.skipped for r in stores.reports] == [0, 0, 0]


@pytest.mark.parametrize("store", ["together", "one_by_one"])
def test_join_stores_every_diff_of_the_second_file(stores: Stores, store: str) -> None:
    second = [d.last_id for d in _diffs(stores.parts[1])]

    versions = set(_table(getattr(stores, store), stores.case.exchange, Table.BOOK_DELTAS)["to_version"])

    assert len(second) > 100
    assert [u for u in second if u not in versions] == []


@dataclass(frozen=True)
class Reference:
    """The reference rebuild of the whole capture: every applied diff, and the ladders after the
    last diff of the first file, the first of the second, and the last."""

    applied: list[int]
    ladders: dict[int, tuple[Ladder, Ladder]]


@pytest.fixture(scope="module")
def reference(stores: Stores) -> Reference:
    wanted = {_diffs(stores.parts[0])[-1].last_id, _diffs(stores.parts[1])[0].last_id}
    raw = read_hftbacktest(stores.source, SYMBOL)
    applied: list[int] = []
    ladders: dict[int, tuple[Ladder, Ladder]] = {}
    for diff, book in rebuild(raw.book, futures=stores.case.is_futures):
        applied.append(diff.last_id)
        if diff.last_id in wanted:
            ladders[diff.last_id] = book.ladders()
    ladders[applied[-1]] = book.ladders()
    return Reference(applied, ladders)


@pytest.mark.parametrize("store", ["together", "one_by_one"])
def test_join_book_replayed_across_the_cut_equals_reference(
    stores: Stores, reference: Reference, store: str
) -> None:
    stored: dict[int, tuple[Ladder, Ladder]] = {}
    replayed: list[int] = []

    for delta, _, book in replay_book(getattr(stores, store), stores.case.exchange, SYMBOL):
        replayed.append(delta.to_version)
        if delta.to_version in reference.ladders:
            stored[delta.to_version] = full_ladders(book)

    assert len(reference.ladders) == 3
    assert replayed == reference.applied
    assert stored == reference.ladders


def _drop(lines: list[bytes], kind: bytes, count: int) -> tuple[list[bytes], list[dict[str, object]]]:
    """`lines` without the first `count` frames of stream `kind`; returns the dropped frames' data."""
    kept: list[bytes] = []
    dropped: list[dict[str, object]] = []
    for line in lines:
        if len(dropped) < count and kind in line[:80]:
            dropped.append(json.loads(line.split(b" ", 1)[1])["data"])
            continue
        kept.append(line)
    return kept, dropped


@pytest.fixture(scope="module")
def holes(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, Path]:
    """The spot capture cut in two with the first 3 diffs and 5 trades of the second part missing."""
    case = CASES["spot"]
    base = tmp_path_factory.mktemp("holes")
    lines = capture_lines(shared_data / case.path)
    first = write_capture(lines[: case.cut], base / "part1.gz")
    rest, _ = _drop(lines[case.cut :], b"@depth", 3)
    rest, trades = _drop(rest, b"@trade", 5)
    second = write_capture(rest, base / "part2.gz")
    (base / "ids").write_text(f"{trades[0]['t']}..{trades[-1]['t']}")
    return first, second, base / "together", base / "one_by_one"


@pytest.mark.parametrize("how", ["together", "one_by_one"])
def test_join_not_bridging_stays_a_gap_until_a_snapshot(
    holes: tuple[Path, Path, Path, Path], how: str
) -> None:
    first, second, together, one_by_one = holes
    data_dir = together if how == "together" else one_by_one
    if how == "together":
        import_binance([second, first], data_dir)
    else:
        import_binance([first], data_dir)
        import_binance([second], data_dir)
    stored_last = _table(data_dir, "binance", Table.BOOK_DELTAS)["to_version"].max()
    missing_ids = (first.parent / "ids").read_text()

    gaps = _table(data_dir, "binance", Table.GAPS).sort("start_ns").to_dicts()

    assert [g["reason"] for g in gaps] == ["version_jump", "import_hole"]
    assert gaps[0]["detail"].endswith("no snapshot followed")
    assert stored_last == _diffs(first)[-1].last_id  # no diff of the second file could be applied
    assert gaps[1]["detail"] == f"trade ids {missing_ids} missing"


def test_join_overlapping_copies_import_as_one_file(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / CASES["spot"].path
    copy = tmp_path / "copy" / source.name
    copy.parent.mkdir()
    shutil.copyfile(source, copy)
    import_binance([source], tmp_path / "one")

    report = import_binance([source, copy], tmp_path / "two")

    assert report.skipped == 0
    assert table_digests(tmp_path / "two") == table_digests(tmp_path / "one")


def _covered(gaps: list[dict[str, object]]) -> list[tuple[int, int]]:
    """The union of the gaps' [start, end] spans, as disjoint spans."""
    spans: list[tuple[int, int]] = []
    for start, end in sorted((int(str(g["start_ns"])), int(str(g["end_ns"]))) for g in gaps):
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def test_join_chain_broken_before_the_cut_covers_the_same_time_either_way(
    shared_data: Path, tmp_path: Path
) -> None:
    case = CASES["spot"]
    lines = capture_lines(shared_data / case.path)
    head, _ = _drop(lines[case.cut - 300 : case.cut], b"@depth", 3)  # a break late in the first file
    first = write_capture(lines[: case.cut - 300] + head, tmp_path / "part1.gz")
    second = write_capture(lines[case.cut :], tmp_path / "part2.gz")
    import_binance([first, second], tmp_path / "together")
    import_binance([first], tmp_path / "one_by_one")
    import_binance([second], tmp_path / "one_by_one")

    spans = {
        how: _covered(_table(tmp_path / how, "binance", Table.GAPS).to_dicts())
        for how in ("together", "one_by_one")
    }

    assert len(spans["together"]) == 1
    assert spans["one_by_one"] == spans["together"]
    last_ts = _table(tmp_path / "together", "binance", Table.TRADES)["exchange_ts_ns"].max()
    assert spans["together"][0][1] == last_ts  # unknown from the break to the end: no snapshot followed
    deltas = [
        table_digests(tmp_path / how)["binance/BTCUSDT/book_deltas"] for how in ("together", "one_by_one")
    ]
    assert deltas[0] == deltas[1]
