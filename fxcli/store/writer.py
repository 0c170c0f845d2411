"""The store writer: a thread fed by a bounded queue, writing hour files atomically.

Producers call `submit`. With `block=False` (the live path) a full queue never makes the caller
wait: the batch is dropped and its time span becomes a `writer_overflow` Gap row, written as soon
as the queue has room. Imports use `block=True`, since a file can wait for the disk.

Writing into an hour that already has a file merges as a multiset union: a row present n times in
the file and m times in the batch is kept max(n, m) times. Re-importing a file, or resuming an
import that was killed, therefore adds nothing twice, while genuinely repeated prints (same time,
price and size) survive. A live recorder, whose rows are new by construction (it de-duplicates
before it submits), marks its batches `append`: they are added to the hour as they are, which
skips the union's group-by over every column (~100 ms at 100k rows, 2x the encoding itself).
Tables of different symbols are encoded in parallel (pyarrow releases the GIL).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from fxcli.errors import FxError
from fxcli.model.events import GapReason
from fxcli.model.units import NS_PER_HOUR
from fxcli.store import manifest
from fxcli.store.layout import Layout, check_name
from fxcli.store.queued import QueuedThread
from fxcli.store.schema import SCHEMA_VERSION, SPECS, Table, TableSpec

if TYPE_CHECKING:
    import polars as pl

ROW_GROUP_ROWS = 100_000


class StoreError(FxError):
    """The store could not be written; the message names the path."""


class WriteBatch(NamedTuple):
    """Rows of one table of one exchange/symbol, in that table's schema."""

    exchange: str
    symbol: str
    table: Table
    frame: pl.DataFrame
    append: bool = False  # rows known to be new (a de-duplicating recorder): no union with the file


@dataclass
class WriterStats:
    """What a writer did over its life."""

    rows_in: int = 0
    rows_added: int = 0
    files_written: int = 0
    overflow_batches: int = 0
    overflow_rows: int = 0
    touched: set[tuple[str, str, Table]] = field(default_factory=set)


def ensure_writable(root: Path) -> None:
    """Create the data dir if needed and prove a file can be written there, or raise StoreError."""
    probe = root / f".write-probe{manifest.TMP_MARK}{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise StoreError(f"data dir {root} is not writable: {exc.strerror or exc}") from None


def encode_parquet(frame: pl.DataFrame, spec: TableSpec) -> bytes:
    """`frame` as zstd Parquet bytes with ~100k-row groups and fx metadata.

    Int64 columns (times, versions, ids) are nearly unique, so a dictionary never pays off and only
    costs time; delta encoding shrinks them several-fold. Prices, sizes, sides and strings keep
    pyarrow's dictionary encoding, which suits their repeats.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = frame.to_arrow().replace_schema_metadata(
        {"fx.schema_version": str(SCHEMA_VERSION), "fx.time_column": spec.time_column}
    )
    deltas = [name for name, kind in spec.columns if kind == "i64"]
    sink = pa.BufferOutputStream()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        row_group_size=ROW_GROUP_ROWS,
        write_statistics=True,
        use_dictionary=[name for name in spec.names if name not in deltas],
        column_encoding=dict.fromkeys(deltas, "DELTA_BINARY_PACKED"),
    )
    return bytes(sink.getvalue())


def write_durably(payload: bytes, path: Path) -> None:
    """Write bytes to `path` and fsync them (the caller renames the file into place)."""
    with path.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())


def is_sorted_by(frame: pl.DataFrame, keys: tuple[str, ...]) -> bool:
    """True if rows are already in (stable) order of `keys`, nulls last: a sort can then be skipped."""
    import polars as pl

    if frame.height < 2:
        return True
    # Lexicographic check from the last key to the first: row i <= row i+1 on keys[k:].
    ok: pl.Expr | None = None
    for key in reversed(keys):
        col = pl.col(key).fill_null(pl.col(key).max() + 1)  # sort keys are integers; nulls sort last
        step = col.diff()
        here = step > 0 if ok is not None else step >= 0
        ok = here if ok is None else here | ((step == 0) & ok)
    assert ok is not None
    return bool(frame.select(ok.slice(1).all()).item())


def _sort_key(frame: pl.DataFrame, index: int, spec: TableSpec) -> tuple[tuple[int, int], ...]:
    """Row `index`'s sort keys (integers), comparable as the sort orders them: nulls last."""
    values = [frame.get_column(key)[index] for key in spec.sort_keys]  # no query engine: ~µs, not ~ms
    return tuple((1, 0) if value is None else (0, value) for value in values)


def conform(frame: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Cast and order `frame`'s columns to the table's schema (missing nullable columns become null)."""
    import polars as pl

    schema = SPECS[table].polars_schema()
    exprs = []
    for name, dtype in schema.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype, strict=True))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(exprs)


def merge_union(old: pl.DataFrame, new: pl.DataFrame, spec: TableSpec) -> pl.DataFrame:
    """Multiset union of two frames of one table, sorted by the table's keys (stable)."""
    import polars as pl

    names = spec.names
    occurrence = pl.int_range(pl.len()).over(names).alias("_occ")
    both = pl.concat([old.with_columns(occurrence), new.with_columns(occurrence)])
    merged = both.unique(subset=[*names, "_occ"], keep="first", maintain_order=True).drop("_occ")
    return merged.sort(list(spec.sort_keys), maintain_order=True, nulls_last=True)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive lock on one date folder, so two processes never merge into one file at once."""
    with (folder / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StoreWriter:
    """Owns the writer thread; use as a context manager or call `close()`."""

    def __init__(
        self,
        root: Path,
        *,
        max_queue: int = 64,
        write_file: Callable[[bytes, Path], None] = write_durably,
    ) -> None:
        self.layout = Layout(root)
        self.stats = WriterStats()
        self._write_file = write_file
        self._overflow: dict[tuple[str, str], tuple[int, int, int]] = {}
        self._overflow_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._reconciled: set[Path] = set()
        self._error: BaseException | None = None
        self._worker: QueuedThread[WriteBatch] = QueuedThread("fx-store-writer", max_queue, self._write_round)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, batch: WriteBatch, *, block: bool = False) -> bool:
        """Queue a batch; False if it was dropped (queue full and `block` false) and became a Gap."""
        self._raise_if_failed()
        check_name("exchange", batch.exchange)
        check_name("symbol", batch.symbol)
        if batch.frame.height == 0:
            return True
        if block:
            while not self._worker.offer(batch, timeout=0.5):
                self._raise_if_failed()
            return True
        if self._worker.offer(batch):
            return True
        self._note_overflow(batch)
        return False

    def close(self) -> WriterStats:
        """Drain the queue, write pending overflow gaps, stop the thread; raises StoreError on failure."""
        self._worker.stop()
        self._raise_if_failed()
        return self.stats

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise StoreError(str(self._error)) from self._error

    def _note_overflow(self, batch: WriteBatch) -> None:
        spec = SPECS[batch.table]
        times = batch.frame.get_column(spec.time_column)
        start, end = int(times.min()), int(times.max())  # type: ignore[arg-type]
        key = (batch.exchange, batch.symbol)
        with self._overflow_lock:
            old = self._overflow.get(key)
            if old is not None:
                start, end = min(start, old[0]), max(end, old[1])
            rows = batch.frame.height + (old[2] if old else 0)
            self._overflow[key] = (start, end, rows)
            self.stats.overflow_batches += 1
            self.stats.overflow_rows += batch.frame.height

    def _take_overflow_gaps(self) -> list[WriteBatch]:
        import polars as pl

        with self._overflow_lock:
            pending, self._overflow = self._overflow, {}
        return [
            WriteBatch(
                exchange,
                symbol,
                Table.GAPS,
                pl.DataFrame(
                    {
                        "start_ns": [start],
                        "end_ns": [end],
                        "reason": [GapReason.WRITER_OVERFLOW.value],
                        "detail": [f"{rows} rows dropped: writer queue full"],
                    }
                ),
            )
            for (exchange, symbol), (start, end, rows) in pending.items()
        ]

    def _write_round(self, batches: list[WriteBatch]) -> None:
        # One round is everything queued at once: fewer, larger file rewrites.
        batches.extend(self._take_overflow_gaps())
        if self._error is not None:
            return  # keep draining so producers never block on a dead writer
        try:
            self._write_batches(batches)
        except Exception as exc:
            self._error = exc

    def _write_batches(self, batches: list[WriteBatch]) -> None:
        import polars as pl

        grouped: dict[tuple[str, str, Table, bool], list[pl.DataFrame]] = {}
        for batch in batches:
            key = (batch.exchange, batch.symbol, batch.table, batch.append)
            grouped.setdefault(key, []).append(batch.frame)
        work = []
        for (exchange, symbol, table, append), frames in grouped.items():
            frame = conform(pl.concat(frames, how="diagonal_relaxed"), table)
            self.stats.rows_in += frame.height
            self.stats.touched.add((exchange, symbol, table))
            work.append((exchange, symbol, table, frame, append))
        if len(work) <= 1:
            for item in work:
                self._write_table(*item)
            return
        with ThreadPoolExecutor(max_workers=min(len(work), os.cpu_count() or 1)) as pool:
            for done in [pool.submit(self._write_table, *item) for item in work]:
                done.result()  # the first failure is raised here

    def _write_table(
        self, exchange: str, symbol: str, table: Table, frame: pl.DataFrame, append: bool = False
    ) -> None:
        import polars as pl

        spec = SPECS[table]
        if not is_sorted_by(frame, spec.sort_keys):
            frame = frame.sort(list(spec.sort_keys), maintain_order=True, nulls_last=True)
        # Sorted by time, each hour is one contiguous slice: cut it without copying.
        times = frame.get_column(spec.time_column)
        first, last = int(times[0]), int(times[-1])
        starts = list(range(first - first % NS_PER_HOUR, last + 1, NS_PER_HOUR))
        cuts = times.search_sorted(pl.Series(starts[1:], dtype=pl.Int64), side="left").to_list()
        by_folder: dict[Path, list[tuple[Path, pl.DataFrame]]] = {}
        for hour, lo, hi in zip(starts, [0, *cuts], [*cuts, frame.height], strict=True):
            if hi > lo:
                path = self.layout.hour_path(exchange, symbol, table, hour)
                by_folder.setdefault(path.parent, []).append((path, frame.slice(lo, hi - lo)))
        for folder, items in by_folder.items():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {folder}: {exc.strerror}") from exc
            with folder_lock(folder):
                self._write_folder(folder, items, spec, append)

    def _write_folder(
        self, folder: Path, items: list[tuple[Path, pl.DataFrame]], spec: TableSpec, append: bool
    ) -> None:
        if folder not in self._reconciled:
            manifest.reconcile(folder, spec.time_column, SCHEMA_VERSION)
            self._reconciled.add(folder)
        book = manifest.load(folder)
        if len(items) == 1:
            results = [self._write_hour(items[0][0], items[0][1], spec, append)]
        else:  # pyarrow and polars release the GIL while encoding: the hours of a folder go in parallel
            with ThreadPoolExecutor(max_workers=min(len(items), os.cpu_count() or 1)) as pool:
                results = list(pool.map(lambda item: self._write_hour(item[0], item[1], spec, append), items))
        for (path, _), result in zip(items, results, strict=True):
            if result is None:
                continue  # nothing new: the file (and its sha) stays as it was
            entry, added = result
            book.files[path.name] = entry
            with self._stats_lock:
                self.stats.rows_added += added
                self.stats.files_written += 1
        manifest.fsync_dir(folder)
        manifest.save(folder, book)

    def _write_hour(
        self, path: Path, part: pl.DataFrame, spec: TableSpec, append: bool
    ) -> tuple[manifest.FileEntry, int] | None:
        import polars as pl

        if path.exists():
            old = pl.read_parquet(path, schema=spec.polars_schema(), missing_columns="insert")
            if append:
                merged = pl.concat([old, part])
                # Both sides are sorted: comparing the seam is enough (a full check costs ~0.6 ms).
                if old.height and _sort_key(old, -1, spec) > _sort_key(part, 0, spec):  # a late print
                    merged = merged.sort(list(spec.sort_keys), maintain_order=True, nulls_last=True)
            else:
                merged = merge_union(old, part, spec)
            if merged.height == old.height:
                return None
            added = merged.height - old.height
        else:
            merged, added = part, part.height
        payload = encode_parquet(merged, spec)
        tmp = path.with_name(f".{path.name}{manifest.TMP_MARK}{os.getpid()}")
        try:
            self._write_file(payload, tmp)
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
        times = merged.get_column(spec.time_column)
        entry = manifest.FileEntry(
            rows=merged.height,
            first_ts_ns=int(times.min()),  # type: ignore[arg-type]
            last_ts_ns=int(times.max()),  # type: ignore[arg-type]
            sha256=hashlib.sha256(payload).hexdigest(),
            bytes=len(payload),
            mtime_ns=path.stat().st_mtime_ns,
            schema_version=SCHEMA_VERSION,
        )
        return entry, added
