"""StoreWriter: hour files, manifests, multiset-union merges, overflow gaps, failures."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import msgspec
import polars as pl
import pytest

from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.store import manifest, repair
from fxcli.store.encoding import encode_parquet, is_sorted_by, write_durably
from fxcli.store.layout import Layout
from fxcli.store.reader import StoreReader
from fxcli.store.schema import SPECS, Table
from fxcli.store.survey import Status
from fxcli.store.writer import StoreError, StoreWriter, WriteBatch

HOUR0 = 1_723_158_000 * NS_PER_S  # 2024-08-08T23:00:00Z


def trades(times: list[int], price: float = 100.0) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "exchange_ts_ns": times,
            "received_ts_ns": [t + 5 for t in times],
            "price": [price] * len(times),
            "qty": [1.0] * len(times),
            "side": [1] * len(times),
            "trade_id": [None] * len(times),
            "backfilled": [False] * len(times),
        },
        schema=SPECS[Table.TRADES].polars_schema(),
    )


def stored(root: Path) -> pl.DataFrame:
    files = sorted(str(p) for p in root.rglob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]) if files else pl.DataFrame()


def test_writer_splits_by_utc_hour_and_writes_manifest(tmp_path: Path) -> None:
    frame = trades([HOUR0 + 10, HOUR0 + NS_PER_HOUR - 1, HOUR0 + NS_PER_HOUR + 3])

    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, frame), block=True)

    layout = Layout(tmp_path)
    first = layout.hour_path("ex", "SYM", Table.TRADES, HOUR0)
    second = layout.hour_path("ex", "SYM", Table.TRADES, HOUR0 + NS_PER_HOUR)
    assert first.name == "23.parquet"
    assert first.parent.name == "2024-08-08"
    assert second.name == "00.parquet"
    assert second.parent.name == "2024-08-09"
    entry = manifest.load(first.parent).files["23.parquet"]
    assert (entry.rows, entry.first_ts_ns, entry.last_ts_ns) == (2, HOUR0 + 10, HOUR0 + NS_PER_HOUR - 1)
    assert entry.sha256 == manifest.sha256_file(first)
    assert entry.schema_version == 1


def test_writer_resubmitting_same_rows_changes_nothing(tmp_path: Path) -> None:
    frame = trades([HOUR0 + 1, HOUR0 + 2, HOUR0 + 2])
    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, frame), block=True)
    path = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0)
    sha = manifest.sha256_file(path)

    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, frame), block=True)
        stats = writer.close()

    assert stats.rows_added == 0
    assert manifest.sha256_file(path) == sha
    assert stored(tmp_path).height == 3  # the two identical prints both survive


def test_writer_merge_keeps_max_multiplicity_and_adds_new_rows(tmp_path: Path) -> None:
    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, trades([HOUR0 + 1, HOUR0 + 2])), block=True)

    with StoreWriter(tmp_path) as writer:
        overlap = trades([HOUR0 + 2, HOUR0 + 2, HOUR0 + 3])
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, overlap), block=True)
        stats = writer.close()

    assert stats.rows_added == 2
    assert stored(tmp_path)["exchange_ts_ns"].to_list() == [HOUR0 + 1, HOUR0 + 2, HOUR0 + 2, HOUR0 + 3]


def test_append_batches_add_every_row_in_time_order_with_exact_manifests(tmp_path: Path) -> None:
    # A recorder's flushes: each appended to the hour as is (repeats included), a late print sorted in.
    flushes = [[HOUR0 + 1, HOUR0 + 2], [HOUR0 + 2, HOUR0 + 7], [HOUR0 + 5], [HOUR0 + NS_PER_HOUR + 1]]
    with StoreWriter(tmp_path) as writer:
        for times in flushes:
            writer.submit(WriteBatch("ex", "SYM", Table.TRADES, trades(times), append=True), block=True)
            writer.close()  # one write per flush, as a live writer does
            writer = StoreWriter(tmp_path)
        stats = writer.close()

    assert stats.rows_added == 0
    assert stored(tmp_path)["exchange_ts_ns"].to_list() == [
        HOUR0 + 1,
        HOUR0 + 2,
        HOUR0 + 2,
        HOUR0 + 5,
        HOUR0 + 7,
        HOUR0 + NS_PER_HOUR + 1,
    ]
    path = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0)
    entry = manifest.load(path.parent).files[path.name]
    assert (entry.rows, entry.first_ts_ns, entry.last_ts_ns) == (5, HOUR0 + 1, HOUR0 + 7)
    assert entry.sha256 == manifest.sha256_file(path)


def test_writer_writes_the_tables_of_many_symbols_in_one_round(tmp_path: Path) -> None:
    with StoreWriter(tmp_path) as writer:
        for i in range(12):
            batch = WriteBatch("ex", f"S{i}", Table.TRADES, trades([HOUR0 + i, HOUR0 + 2 * NS_PER_HOUR]))
            writer.submit(batch, block=True)
        stats = writer.close()

    assert (stats.rows_added, stats.files_written) == (24, 24)
    for i in range(12):
        path = Layout(tmp_path).hour_path("ex", f"S{i}", Table.TRADES, HOUR0)
        assert pl.read_parquet(path)["exchange_ts_ns"].to_list() == [HOUR0 + i]


def test_writer_sorts_rows_by_exchange_time(tmp_path: Path) -> None:
    with StoreWriter(tmp_path) as writer:
        writer.submit(
            WriteBatch("ex", "SYM", Table.TRADES, trades([HOUR0 + 9, HOUR0 + 1, HOUR0 + 5])), block=True
        )

    assert stored(tmp_path)["exchange_ts_ns"].to_list() == [HOUR0 + 1, HOUR0 + 5, HOUR0 + 9]


def test_writer_full_queue_drops_batch_as_overflow_gap_without_blocking(tmp_path: Path) -> None:
    entered, release = threading.Event(), threading.Event()

    def stalled_disk(payload: bytes, path: Path) -> None:
        entered.set()
        release.wait(30)
        write_durably(payload, path)

    writer = StoreWriter(tmp_path, max_queue=1, write_file=stalled_disk)
    batches = [
        WriteBatch("ex", "SYM", Table.TRADES, trades([HOUR0 + 100 * i, HOUR0 + 100 * i + 50]))
        for i in range(6)
    ]
    results = [writer.submit(batches[0])]
    assert entered.wait(10), "the writer never reached the disk"

    def produce() -> None:
        results.extend(writer.submit(batch) for batch in batches[1:])

    producer = threading.Thread(target=produce)
    producer.start()
    producer.join(timeout=10)
    hung = producer.is_alive()
    release.set()
    stats = writer.close()

    assert not hung
    assert results == [True, True, False, False, False, False]  # one fits the queue, the rest overflow
    assert (stats.overflow_batches, stats.overflow_rows) == (4, 8)
    gaps = pl.read_parquet(next(tmp_path.rglob("gaps/*/*.parquet")))
    assert gaps["reason"].to_list() == ["writer_overflow"]
    assert (gaps["start_ns"][0], gaps["end_ns"][0]) == (HOUR0 + 200, HOUR0 + 550)
    assert gaps["detail"][0] == "8 rows dropped: writer queue full"
    assert stored_table(tmp_path, "trades").height == 4


def stored_table(root: Path, table: str) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted(root.rglob(f"{table}/*/*.parquet"))])


def test_writer_failure_surfaces_as_store_error_naming_path(tmp_path: Path) -> None:
    def broken_disk(payload: bytes, path: Path) -> None:
        raise OSError(28, "No space left on device")

    writer = StoreWriter(tmp_path, write_file=broken_disk)
    writer.submit(WriteBatch("ex", "SYM", Table.TRADES, trades([HOUR0])), block=True)

    with pytest.raises(StoreError, match=r"cannot write .*23\.parquet: No space left on device"):
        writer.close()
    assert not list(tmp_path.rglob("*.parquet"))
    assert not list(tmp_path.rglob(f"*{manifest.TMP_MARK}*"))


def test_writer_rejects_unsafe_symbol_names(tmp_path: Path) -> None:
    with StoreWriter(tmp_path) as writer, pytest.raises(ValueError, match=r"symbol '\.\./x'"):
        writer.submit(WriteBatch("ex", "../x", Table.TRADES, trades([HOUR0])))


def test_reconcile_never_rebuilds_a_listed_entry_from_the_file_itself(tmp_path: Path) -> None:
    """D1: a listed file whose bytes changed (size and mtime too) is damaged, not re-listed."""
    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, trades([HOUR0 + 1])), block=True)
    path = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0)
    listed = manifest.load(path.parent).files["23.parquet"]
    write_durably(encode_parquet(trades([HOUR0 + 1, HOUR0 + 2]), SPECS[Table.TRADES]), path)

    found = repair.reconcile(path.parent, SPECS[Table.TRADES])

    assert [(f.path.name, f.status) for f in found.problems] == [("23.parquet", Status.DAMAGED)]
    assert manifest.load(path.parent).files["23.parquet"] == listed


def test_reconcile_lists_the_file_a_writer_renamed_after_saving_it_as_pending(tmp_path: Path) -> None:
    """The crash window between a compacted hour's rename and its manifest update."""
    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("ex", "SYM", Table.TRADES, trades([HOUR0 + 1])), block=True)
    path = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0)
    payload = encode_parquet(trades([HOUR0 + 1, HOUR0 + 2]), SPECS[Table.TRADES])
    book = manifest.load(path.parent)
    write_durably(payload, path)
    book.pending["23.parquet"] = msgspec.structs.replace(
        book.files["23.parquet"], sha256=manifest.sha256_file(path), bytes=len(payload), rows=2
    )
    manifest.save(path.parent, book)  # what the writer saved before the rename; then it died
    stale = path.parent / f".{path.name}{manifest.TMP_MARK}999999999"
    stale.write_bytes(b"half a file")

    found = repair.reconcile(path.parent, SPECS[Table.TRADES])

    assert not found.problems
    assert not stale.exists()
    after = manifest.load(path.parent)
    assert after.files["23.parquet"].sha256 == manifest.sha256_file(path)
    assert after.files["23.parquet"].rows == 2
    assert not after.pending
    assert StoreReader(tmp_path).scan("ex", "SYM", Table.TRADES).collect().height == 2


def test_reconcile_keeps_temp_file_of_a_live_writer(tmp_path: Path) -> None:
    folder = Layout(tmp_path).hour_path("ex", "SYM", Table.TRADES, HOUR0).parent
    folder.mkdir(parents=True)
    live = folder / f".23.parquet{manifest.TMP_MARK}{os.getpid()}"
    live.write_bytes(b"being written")

    repair.reconcile(folder, SPECS[Table.TRADES])

    assert live.exists()


@pytest.mark.parametrize(
    ("times", "ids", "expected"),
    [
        ([1, 2, 3], [None, None, None], True),
        ([1, 1, 2], [5, 6, 1], True),
        ([1, 1, 2], [6, 5, 1], False),
        ([1, 1, 1], [5, None, None], True),
        ([1, 1, 1], [None, 5, 6], False),
        ([2, 1, 3], [1, 2, 3], False),
        ([7], [None], True),
    ],
)
def test_is_sorted_by_checks_keys_lexicographically_with_nulls_last(
    times: list[int], ids: list[int | None], expected: bool
) -> None:
    frame = pl.DataFrame(
        {"t": times, "r": [0] * len(times), "id": ids}, schema={"t": pl.Int64, "r": pl.Int64, "id": pl.Int64}
    )

    assert is_sorted_by(frame, ("t", "r", "id")) is expected


def test_gap_files_written_before_received_ts_existed_read_and_merge_with_it_null(tmp_path: Path) -> None:
    old = pl.DataFrame(
        {"start_ns": [HOUR0], "end_ns": [HOUR0 + 5], "reason": ["disconnect"], "detail": ["old file"]}
    )
    folder = tmp_path / "mexc-spot" / "AUSDT" / "gaps" / "2024-08-08"
    folder.mkdir(parents=True)
    old.write_parquet(folder / "23.parquet")  # the four columns of schema 1 before the new one
    entry = manifest.entry_for(folder / "23.parquet", "start_ns", 1)
    manifest.save(folder, manifest.Manifest(files={"23.parquet": entry}))  # listed, as fx listed it
    new = pl.DataFrame(
        {
            "start_ns": [HOUR0 + 10],
            "end_ns": [HOUR0 + 20],
            "reason": ["resync"],
            "detail": ["new row"],
            "received_ts_ns": [HOUR0 + 9],
        }
    )

    with StoreWriter(tmp_path) as writer:
        writer.submit(WriteBatch("mexc-spot", "AUSDT", Table.GAPS, new), block=True)
    rows = StoreReader(tmp_path).scan("mexc-spot", "AUSDT", Table.GAPS).collect().sort("start_ns")

    assert rows["detail"].to_list() == ["old file", "new row"]
    assert rows["received_ts_ns"].to_list() == [None, HOUR0 + 9]
