"""Appends as part files: levelled merges, compaction when the hour is over, one sorted hour for readers."""

from __future__ import annotations

import threading
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.store import manifest, parts, repair
from fxcli.store.layout import Layout
from fxcli.store.reader import StoreReader
from fxcli.store.replay import replay
from fxcli.store.schema import SPECS, Table
from fxcli.store.writer import LATE_NS, StoreWriter, WriteBatch

HOUR0 = 1_723_158_000 * NS_PER_S  # 2024-08-08T23:00:00Z


def trades(first_id: int, n: int, start_ns: int, step_ns: int = NS_PER_S // 100) -> pl.DataFrame:
    ids = list(range(first_id, first_id + n))
    times = [start_ns + i * step_ns for i in range(n)]
    return pl.DataFrame(
        {
            "exchange_ts_ns": times,
            "received_ts_ns": [t + 5 for t in times],
            "price": [100.0 + i % 7 for i in ids],
            "qty": [1.0] * n,
            "side": [1] * n,
            "trade_id": ids,
            "backfilled": [False] * n,
        },
        schema=SPECS[Table.TRADES].polars_schema(),
    )


def flush(writer: StoreWriter, frame: pl.DataFrame, table: Table = Table.TRADES, **kw: object) -> None:
    """One writer round per call, like a recorder's table flush every second."""
    writer.submit(WriteBatch("ex", "SYM", table, frame, append=True, **kw), block=True)  # type: ignore[arg-type]
    writer.drain()


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.parquet"))


def scanned_ids(root: Path, table: Table = Table.TRADES) -> list[int]:
    return StoreReader(root).scan("ex", "SYM", table).collect().get_column("trade_id").to_list()


def assert_consistent(folder: Path) -> None:
    book = manifest.load(folder)
    assert sorted(book.files) == names(folder)
    for name, entry in book.files.items():
        assert entry.sha256 == manifest.sha256_file(folder / name)
        assert entry.rows == pq.ParquetFile(folder / name).metadata.num_rows
    assert not list(folder.glob(f".*{manifest.TMP_MARK}*"))


def test_parse_name_reads_hours_and_parts_and_rejects_the_rest() -> None:
    assert parts.parse_name("07.parquet") == (7, 0, 0)
    assert parts.parse_name(parts.part_name(7, 9, 16)) == (7, 9, 16)
    assert parts.parse_name("07.p000009-000008.parquet") is None
    assert parts.parse_name("07.p0-3.parquet") is None
    assert parts.parse_name("_manifest.json") is None


def test_resolve_a_merged_part_and_the_compacted_hour_supersede_what_they_hold(tmp_path: Path) -> None:
    found = parts.resolve(
        3,
        tmp_path / "03.parquet",
        4,
        [
            (lo, hi, tmp_path / parts.part_name(3, lo, hi))
            for lo, hi in [(1, 1), (5, 12), (5, 5), (13, 13), (9, 9)]
        ],
    )

    assert [(p.lo, p.hi) for p in found.parts] == [(5, 12), (13, 13)]
    assert sorted(p.name for p in found.superseded) == sorted(
        parts.part_name(3, lo, hi) for lo, hi in [(1, 1), (5, 5), (9, 9)]
    )
    assert found.next_seq == 14


def test_append_writes_one_part_per_flush_and_merges_them_in_levels(tmp_path: Path) -> None:
    with StoreWriter(tmp_path) as writer:
        for i in range(75):
            frame = trades(i * 5, 5, HOUR0 + 10 * NS_PER_S + i * NS_PER_S)
            flush(writer, frame)
        folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
        parts_now = parts.folder_hours(folder)[23].parts
        ids = scanned_ids(tmp_path)

    assert ids == list(range(375))
    spans = [p.span for p in parts_now]
    assert spans == sorted(spans, reverse=True)  # levels, oldest and widest first
    assert all(spans.count(s) < parts.FANOUT for s in set(spans))
    assert sum(spans) == parts_now[-1].hi


def test_scan_of_parts_overlapped_by_a_late_print_comes_out_sorted(tmp_path: Path) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    with StoreWriter(tmp_path) as writer:
        flush(writer, trades(0, 10, HOUR0 + 100))
        flush(writer, trades(10, 3, HOUR0 + 50))  # a late print: before every row of the first part
        before_close = names(folder)
        frame = StoreReader(tmp_path).scan("ex", "SYM", Table.TRADES).collect()
        writer.close(compact=False)

    assert len(before_close) == 2
    times = frame.get_column("exchange_ts_ns").to_list()
    assert times == sorted(times)
    assert sorted(frame.get_column("trade_id").to_list()) == list(range(13))


def test_rows_late_past_the_hour_compact_it_into_one_file(tmp_path: Path) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    with StoreWriter(tmp_path) as writer:
        for i in range(20):
            frame = trades(i * 5, 5, HOUR0 + NS_PER_HOUR - 20 * NS_PER_S + i * NS_PER_S)
            flush(writer, frame)
        later = trades(100, 5, HOUR0 + NS_PER_HOUR + LATE_NS)
        flush(writer, later)
        writer.close(compact=False)  # only the rows past the hour compacted it
        after = names(folder)

    assert after == ["23.parquet"]
    assert parts.read_through(folder / "23.parquet") >= 20
    assert scanned_ids(tmp_path) == list(range(105))
    assert_consistent(folder)


def test_close_compacts_hours_over_by_the_clock_and_a_later_writer_continues_after_them(
    tmp_path: Path,
) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    with StoreWriter(tmp_path) as writer:
        for i in range(12):
            frame = trades(i * 5, 5, HOUR0 + i * NS_PER_S)
            flush(writer, frame)
    compacted = names(folder)
    through = parts.read_through(folder / "23.parquet")

    with StoreWriter(tmp_path) as writer:  # a late print into the compacted hour
        frame = trades(60, 5, HOUR0 + 30 * NS_PER_S)
        flush(writer, frame)
        writer.close(compact=False)  # keep the part: what a reader sees before any compaction
        with_part = names(folder)
        ids_with_part = scanned_ids(tmp_path)

    assert compacted == ["23.parquet"]
    assert through >= 1
    assert with_part == ["23.p" + f"{through + 1:06d}-{through + 1:06d}.parquet", "23.parquet"]
    assert ids_with_part == list(range(65))


def test_a_later_writer_compacts_parts_it_finds(tmp_path: Path) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    writer = StoreWriter(tmp_path)
    for i in range(3):
        flush(writer, trades(i, 1, HOUR0 + i))
    writer.close(compact=False)  # a writer that stopped without compacting (e.g. killed)
    left = names(folder)

    with StoreWriter(tmp_path) as later:
        frame = trades(3, 1, HOUR0 + NS_PER_HOUR + LATE_NS + 1)
        flush(later, frame)

    assert len(left) >= 1
    assert all(".p" in name for name in left)
    assert names(folder) == ["23.parquet"]
    assert scanned_ids(tmp_path) == [0, 1, 2, 3]


def test_import_into_an_hour_with_parts_is_a_union_with_all_its_rows(tmp_path: Path) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    writer = StoreWriter(tmp_path)
    for i in range(10):
        frame = trades(i * 5, 5, HOUR0 + i * NS_PER_S)
        flush(writer, frame)
    writer.close(compact=False)

    with StoreWriter(tmp_path) as importer:  # the same rows again, and five new ones
        again = pl.concat([*(trades(i * 5, 5, HOUR0 + i * NS_PER_S) for i in range(11))])
        importer.submit(WriteBatch("ex", "SYM", Table.TRADES, again), block=True)
    stats = importer.stats

    assert names(folder) == ["23.parquet"]
    assert stats.rows_added == 5
    assert scanned_ids(tmp_path) == list(range(55))
    assert_consistent(folder)


def test_reconcile_deletes_files_a_crash_left_superseded(tmp_path: Path) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    writer = StoreWriter(tmp_path)
    for i in range(8):
        flush(writer, trades(i, 1, HOUR0 + i))
    writer.close(compact=False)
    merged = folder / parts.part_name(23, 1, 8)
    # As if killed after publishing the merged part, before the manifest and the deletes:
    for i in range(1, 9):
        single = trades(i - 1, 1, HOUR0 + i - 1)
        pq.write_table(single.to_arrow(), folder / parts.part_name(23, i, i))
    ids_before_repair = scanned_ids(tmp_path)

    repair.reconcile(folder, SPECS[Table.TRADES])

    assert merged.exists()
    assert ids_before_repair == list(range(8))
    assert names(folder) == [merged.name]
    assert_consistent(folder)


def test_scan_while_a_writer_appends_merges_and_compacts_never_doubles_or_skips(tmp_path: Path) -> None:
    seen: list[list[int]] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set() or not seen:
            seen.append(scanned_ids(tmp_path) if Layout(tmp_path).exchanges() else [])

    thread = threading.Thread(target=read)
    thread.start()
    with StoreWriter(tmp_path) as writer:
        for i in range(150):  # the hour closes at flush 60 + LATE: compaction under the reader
            at = HOUR0 + NS_PER_HOUR - 60 * NS_PER_S + i * NS_PER_S
            flush(writer, trades(i * 2, 2, at))
    done.set()
    thread.join()

    assert len(seen) > 1
    for ids in seen:
        assert ids == list(range(len(ids)))  # a prefix: nothing doubled, nothing skipped
    assert scanned_ids(tmp_path) == list(range(300))


def test_replay_of_parts_groups_deltas_as_written(tmp_path: Path) -> None:
    schema = SPECS[Table.BOOK_DELTAS].polars_schema()

    def delta(version: int, at: int) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "exchange_ts_ns": [at, at],
                "received_ts_ns": [at + 1, at + 1],
                "from_version": [version, version],
                "to_version": [version, version],
                "side": [1, -1],
                "price": [99.0, 101.0],
                "qty": [1.0, 2.0],
            },
            schema=schema,
        )

    with StoreWriter(tmp_path) as writer:
        for version in range(1, 20):
            frame = delta(version, HOUR0 + version * NS_PER_S)
            flush(writer, frame, Table.BOOK_DELTAS)
        writer.close(compact=False)
        events = list(replay(StoreReader(tmp_path), "ex", "SYM", (Table.BOOK_DELTAS,)))

    assert [e.to_version for e in events] == list(range(1, 20))  # type: ignore[union-attr]
    assert all(len(e.bids) == 1 and len(e.asks) == 1 for e in events)  # type: ignore[union-attr]


@pytest.mark.parametrize("compact", [False, True])
def test_meta_is_merged_into_the_manifest_and_kept_across_compaction_and_repair(
    tmp_path: Path, compact: bool
) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    writer = StoreWriter(tmp_path)
    first = WriteBatch(
        "ex", "SYM", Table.TRADES, trades(0, 1, HOUR0), append=True, meta={"contract_size": 0.01}
    )
    second = WriteBatch(
        "ex", "SYM", Table.TRADES, trades(1, 1, HOUR0 + 1), append=True, meta={"unit": "base"}
    )
    writer.submit(first, block=True)
    writer.submit(second, block=True)
    writer.close(compact=compact)
    kept = manifest.load(folder).meta
    (folder / "_manifest.json").write_text("{ damaged")

    repair.reconcile(folder, SPECS[Table.TRADES])

    assert names(folder) == (["23.parquet"] if compact else names(folder))
    assert kept == {"contract_size": 0.01, "unit": "base"}
    assert manifest.load(folder).meta == kept
    assert StoreReader(tmp_path).meta("ex", "SYM", Table.TRADES) == kept


def test_reader_meta_merges_the_folders_of_a_range_the_latest_wins(tmp_path: Path) -> None:
    day = 24 * NS_PER_HOUR
    with StoreWriter(tmp_path) as writer:
        for i, size in enumerate([1, 10, 100]):
            frame = trades(i, 1, HOUR0 + i * day)
            writer.submit(
                WriteBatch("ex", "SYM", Table.TRADES, frame, meta={"contract_size": size}), block=True
            )
    reader = StoreReader(tmp_path)

    whole = reader.meta("ex", "SYM", Table.TRADES)
    middle = reader.meta("ex", "SYM", Table.TRADES, HOUR0 + day, HOUR0 + day + 1)
    none = reader.meta("ex", "OTHER", Table.TRADES)

    assert whole == {"contract_size": 100}
    assert middle == {"contract_size": 10}
    assert none == {}


def test_inspect_presents_an_hour_in_parts_as_one_hour(tmp_path: Path) -> None:
    from fxcli.tasks.inspect import coverage, overview, verify

    with StoreWriter(tmp_path) as writer:
        for i in range(11):
            flush(writer, trades(i * 5, 5, HOUR0 + i * NS_PER_S))
        writer.close(compact=False)
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent

    (summary,) = overview(tmp_path).tables
    (hour,) = coverage(tmp_path, "SYM", "ex").hours

    assert len(names(folder)) == 4  # 1-8 merged, 9, 10, 11
    assert (summary.files, summary.rows) == (1, 55)
    assert (hour.hour_ns, hour.rows) == (HOUR0, {"trades": 55})
    assert verify(tmp_path).findings == []


def test_scan_of_a_range_in_an_hour_with_parts_reads_only_that_range(tmp_path: Path) -> None:
    with StoreWriter(tmp_path) as writer:
        flush(writer, trades(0, 250_000, HOUR0, 10_000))  # 2.5 s of rows: three row groups compacted
        writer.close()  # compacted: 23.parquet with row groups of 100k rows
        writer = StoreWriter(tmp_path)
        flush(writer, trades(250_000, 5, HOUR0 + 3 * NS_PER_S))
        lo, hi = HOUR0 + 10_000 * 99_998, HOUR0 + 3 * NS_PER_S + 2 * NS_PER_S // 100
        ids = StoreReader(tmp_path).scan("ex", "SYM", Table.TRADES, lo, hi).collect().get_column("trade_id")
        writer.close(compact=False)

    assert ids.to_list() == [99_998, 99_999, *range(100_000, 250_000), 250_000, 250_001, 250_002]
