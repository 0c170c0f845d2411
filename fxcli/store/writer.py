"""The store writer: a thread fed by a bounded queue, writing hour files atomically.

Producers call `submit`. With `block=False` (the live path) a full queue never makes the caller
wait: the batch is dropped and its time span becomes a `writer_overflow` Gap row, written as soon
as the queue has room. Imports use `block=True`, since a file can wait for the disk.

Writing into an hour that already has a file merges as a multiset union: a row present n times in
the file and m times in the batch is kept max(n, m) times. Re-importing a file, or resuming an
import that was killed, therefore adds nothing twice, while genuinely repeated prints (same time,
price and size) survive. A live recorder, whose rows are new by construction (it de-duplicates
before it submits), marks its batches `append`: each becomes a small immutable part file of its
hour (parts.py), so a flush costs O(its rows), not O(rows already in the hour). Parts merge in
levels of 8 as they accumulate, and the hour is compacted into `HH.parquet` once it is over: when
this writer has written rows a minute past its end, when the writer closes (hours over by the
clock), or when a later writer finds the parts. Imports write whole hours and make no parts.
Tables of different symbols are encoded in parallel (pyarrow releases the GIL).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from fxcli.errors import FxError
from fxcli.model.events import GapReason
from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.store import manifest, parts, repair
from fxcli.store.encoding import encode_parquet, is_sorted_by, merge_union, write_durably
from fxcli.store.layout import Layout, check_name
from fxcli.store.locks import folder_lock
from fxcli.store.parts import HourFiles, MetaValue
from fxcli.store.queued import QueuedThread
from fxcli.store.schema import SCHEMA_VERSION, SPECS, Table, TableSpec
from fxcli.store.survey import FolderSurvey

if TYPE_CHECKING:
    import polars as pl

LATE_NS = 60 * NS_PER_S  # rows this far past an hour's end mean no late print of it is still coming
# Tables written at once in a round. More threads would overlap more fsync waits, but measured in
# `fx record` (bench/record.py) they cost the event loop more CPU per frame in GIL hand-offs.
IO_THREADS = os.cpu_count() or 1
COMPACT_BUDGET_S = 0.25  # compaction time per round after an hour closes: the hours queue, rows don't


class StoreError(FxError):
    """The store could not be written; the message names the path."""


class WriteBatch(NamedTuple):
    """Rows of one table of one exchange/symbol, in that table's schema."""

    exchange: str
    symbol: str
    table: Table
    frame: pl.DataFrame
    append: bool = False  # rows known to be new (a de-duplicating recorder): no union with the file
    meta: Mapping[str, MetaValue] | None = None  # merged into the folder manifest's `meta`


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
        self._checked: dict[Path, FolderSurvey] = {}  # folders reconciled by this writer
        self._through_cache: dict[Path, tuple[tuple[int, int, int], int]] = {}
        self._recent: dict[Path, pl.DataFrame] = {}  # rows of this writer's single-flush parts
        self._unsaved: dict[Path, dict[str, manifest.FileEntry]] = {}  # parts not in the manifest yet
        # Hours that have parts, per table, until compacted; and the newest row appended per table.
        self._open_hours: dict[tuple[str, str, Table], dict[int, Path]] = {}
        self._newest_ns: dict[tuple[str, str, Table], int] = {}
        self._error: BaseException | None = None
        self._compact_on_close = True
        self._worker: QueuedThread[WriteBatch] = QueuedThread(
            "fx-store-writer", max_queue, self._write_round, on_stop=self._compact_at_close
        )

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

    @property
    def queue_depth(self) -> int:
        """Batches waiting for the writer thread now (for metrics)."""
        return self._worker.depth

    def drain(self) -> None:
        """Wait until every batch submitted before this call is written (or the writer failed)."""
        self._worker.drain()
        self._raise_if_failed()

    def close(self, *, compact: bool = True) -> WriterStats:
        """Drain the queue, write pending overflow gaps, compact hours that are over by the clock
        (`compact=False` leaves their parts to the next writer), stop the thread; raises
        StoreError on failure. A second call does nothing more."""
        self._compact_on_close = compact
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
        # One round is everything queued at once: fewer, larger writes.
        batches.extend(self._take_overflow_gaps())
        if self._error is not None:
            return  # keep draining so producers never block on a dead writer
        try:
            self._write_batches(batches)
            self._compact_due(budget_s=COMPACT_BUDGET_S, by_clock=False)
        except Exception as exc:
            self._error = exc

    def _compact_at_close(self) -> None:
        if self._error is not None:
            return
        try:
            if self._compact_on_close:
                self._compact_due(budget_s=None, by_clock=True)
            self._save_unsaved()
        except Exception as exc:
            self._error = exc

    def _write_batches(self, batches: list[WriteBatch]) -> None:
        import polars as pl

        # Batches with different meta stay apart: each folder gets the meta of the rows it holds.
        grouped: dict[
            tuple[str, str, Table, bool, tuple[tuple[str, MetaValue], ...]], list[pl.DataFrame]
        ] = {}
        for batch in batches:
            meta = tuple(sorted(batch.meta.items())) if batch.meta else ()
            key = (batch.exchange, batch.symbol, batch.table, batch.append, meta)
            grouped.setdefault(key, []).append(batch.frame)
        work = []
        for (exchange, symbol, table, append, meta), frames in grouped.items():
            joined = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
            frame = SPECS[table].conform(joined)
            self.stats.rows_in += frame.height
            self.stats.touched.add((exchange, symbol, table))
            work.append((exchange, symbol, table, frame, append, dict(meta)))
        if len(work) <= 1:
            for item in work:
                self._write_table(*item)
            return
        with ThreadPoolExecutor(max_workers=min(len(work), IO_THREADS)) as pool:
            for done in [pool.submit(self._write_table, *item) for item in work]:
                done.result()  # the first failure is raised here

    def _write_table(
        self,
        exchange: str,
        symbol: str,
        table: Table,
        frame: pl.DataFrame,
        append: bool = False,
        meta: Mapping[str, MetaValue] | None = None,
    ) -> None:
        import polars as pl

        spec = SPECS[table]
        if not is_sorted_by(frame, spec.sort_keys):
            frame = frame.sort(list(spec.sort_keys), maintain_order=True, nulls_last=True)
        # Sorted by time, each hour is one contiguous slice: cut it without copying.
        times = frame.get_column(spec.time_column)
        first, last = int(times[0]), int(times[-1])
        starts = list(range(first - first % NS_PER_HOUR, last + 1, NS_PER_HOUR))
        cuts = []
        if len(starts) > 1:  # a live flush is nearly always inside one hour: no search to run
            cuts = times.search_sorted(pl.Series(starts[1:], dtype=pl.Int64), side="left").to_list()
        by_folder: dict[Path, list[tuple[int, pl.DataFrame]]] = {}
        for hour_ns, lo, hi in zip(starts, [0, *cuts], [*cuts, frame.height], strict=True):
            if hi > lo:
                folder = self.layout.hour_path(exchange, symbol, table, hour_ns).parent
                by_folder.setdefault(folder, []).append((hour_ns, frame.slice(lo, hi - lo)))
        key = (exchange, symbol, table)
        if key not in self._open_hours:
            self._find_parts(key, min(by_folder))
        for folder, items in by_folder.items():
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create {folder}: {exc.strerror}") from exc
            with folder_lock(folder):
                self._write_folder(folder, items, spec, append, meta)
            if append:
                with self._stats_lock:
                    for hour_ns, _ in items:
                        self._open_hours[key][hour_ns] = folder
        if append:
            with self._stats_lock:
                self._newest_ns[key] = max(self._newest_ns.get(key, last), last)

    def _write_folder(
        self,
        folder: Path,
        items: list[tuple[int, pl.DataFrame]],
        spec: TableSpec,
        append: bool,
        meta: Mapping[str, MetaValue] | None,
    ) -> None:
        """Write the hours of one folder; the caller holds its lock."""
        self._reconcile(folder, spec)
        book = manifest.load(folder)
        meta_changed = any(book.meta.get(k) != v for k, v in (meta or {}).items())
        book.meta.update(meta or {})
        wanted = {hour_ns % (24 * NS_PER_HOUR) // NS_PER_HOUR for hour_ns, _ in items}
        hours = parts.folder_hours(folder, self._through_cache, wanted)

        def one(item: tuple[int, pl.DataFrame]) -> _Change | None:
            hour = item[0] % (24 * NS_PER_HOUR) // NS_PER_HOUR
            files = hours.get(hour) or HourFiles(hour)
            if append:
                return self._append_part(folder, files, item[1], spec, book)
            return self._rewrite_hour(folder, files, item[1], spec, book)

        if len(items) == 1:
            changes = [one(items[0])]
        else:  # pyarrow and polars release the GIL while encoding: the hours of a folder go in parallel
            with ThreadPoolExecutor(max_workers=min(len(items), os.cpu_count() or 1)) as pool:
                futures = [pool.submit(one, item) for item in items]
            if any(f.exception() for f in futures):  # an hour was refused: place no hour of it
                for done in futures:
                    change = None if done.exception() else done.result()
                    for tmp, _ in change.staged if change is not None else []:
                        tmp.unlink(missing_ok=True)
            changes = [f.result() for f in futures]  # the first failure is raised here
        self._commit(
            folder, book, [c for c in changes if c is not None], must_save=meta_changed or not append
        )

    def _reconcile(self, folder: Path, spec: TableSpec) -> FolderSurvey:
        """The first time this writer touches a folder (under its lock): finish what a writer that
        died left there, and note the problems, so an hour with one is never rewritten."""
        found = self._checked.get(folder)
        if found is None:
            try:
                found = self._checked[folder] = repair.reconcile(folder, spec)
            except OSError as exc:
                raise StoreError(f"cannot update {folder}: {exc.strerror or exc}") from exc
        return found

    def _refuse_problems(self, folder: Path, hour: int) -> None:
        """Never merge into, or replace, an hour whose files are not the ones listed."""
        for finding in self._checked[folder].problems:
            if finding.hour == hour:
                raise StoreError(
                    f"{finding.describe()}: nothing was written into that hour; "
                    "run fx inspect --verify --repair, then import again"
                )

    def _read_checked(
        self, folder: Path, paths: list[Path], book: manifest.Manifest, spec: TableSpec
    ) -> pl.DataFrame:
        """Files of one hour as one sorted frame, each checked against its entry before a row of it
        is merged: damage that kept a file's size and mtime is caught here, not spread."""
        import io

        import polars as pl

        with self._stats_lock:
            entries = {**book.files, **self._unsaved.get(folder, {})}
        frames = []
        for path in paths:
            try:
                payload = path.read_bytes()
            except OSError as exc:
                raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from exc
            entry = entries.get(path.name)
            if entry is None or hashlib.sha256(payload).hexdigest() != entry.sha256:
                why = "not in the manifest" if entry is None else "sha256 differs from the manifest"
                raise StoreError(
                    f"{path}: {why}: nothing was merged into it; "
                    "run fx inspect --verify --repair, then import again"
                )
            frames.append(pl.read_parquet(io.BytesIO(payload)))
        return parts.concat_sorted(frames, spec)

    def _find_parts(self, key: tuple[str, str, Table], folder: Path) -> None:
        """On the first write to a table: hours a previous writer left in parts, in the folder
        written and the date before it, to be compacted once over like this writer's own."""
        found: dict[int, Path] = {}
        dates = [d for d in self.layout.date_dirs(*key) if d.name <= folder.name][-2:]
        for date_dir in dates:
            try:
                day = datetime.strptime(date_dir.name, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                continue
            day_ns = int(day.timestamp()) * NS_PER_S
            for hour, files in parts.folder_hours(date_dir).items():
                if files.parts:
                    found[day_ns + hour * NS_PER_HOUR] = date_dir
        with self._stats_lock:
            self._open_hours.setdefault(key, {}).update(found)

    def _commit(
        self, folder: Path, book: manifest.Manifest, changes: list[_Change], *, must_save: bool = True
    ) -> None:
        """Record new files in the manifest, then delete the files they supersede (their rows are
        in the new files, and readers skip them meanwhile, so the order only matters to tidiness).

        A compacted hour replaces a listed file: its entry is saved as `pending` first, then the
        file is renamed into place, so a crash in between leaves a file that is known to be ours.

        A flush that only added a single-flush part does not save the manifest (a third of its
        cost): its entry goes in with the folder's next save, at the next merge (at most FANOUT - 1
        flushes later), compaction or `close`. Until then readers take it as a part fx wrote
        (survey.py), as after a crash.
        """
        removed: list[Path] = []
        entries: dict[str, manifest.FileEntry] = {}
        self._place(folder, book, changes)
        for change in changes:
            entries.update(change.entries)
            removed.extend(change.removed)
            with self._stats_lock:
                self.stats.rows_added += change.added
                self.stats.files_written += len(change.entries)
        with self._stats_lock:
            if not must_save and not removed and all(parts.is_single_part(name) for name in entries):
                self._unsaved.setdefault(folder, {}).update(entries)
                return
            book.files.update(self._unsaved.pop(folder, {}))
        book.files.update(entries)
        for name in entries:
            book.pending.pop(name, None)
        for path in removed:
            book.files.pop(path.name, None)
            self._recent.pop(path, None)
        # The save ends with a fsync of the folder, which makes the new files' renames and links
        # durable too, before any file they supersede is deleted.
        manifest.save(folder, book)
        for path in removed:
            path.unlink(missing_ok=True)

    def _place(self, folder: Path, book: manifest.Manifest, changes: list[_Change]) -> None:
        """Rename staged compacted hours into place, their entries saved as pending first (one
        save for all the hours of the folder)."""
        staged = [(tmp, path, change.entries[path.name]) for change in changes for tmp, path in change.staged]
        if not staged:
            return
        book.pending.update({path.name: entry for _, path, entry in staged})
        try:
            manifest.save(folder, book)
            for tmp, path, _ in staged:
                tmp.replace(path)
        except OSError as exc:
            for tmp, _, _ in staged:
                tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {folder}: {exc.strerror or exc}") from exc

    def _save_unsaved(self) -> None:
        """Put the entries of parts written since their folder's last save into its manifest."""
        with self._stats_lock:
            pending, self._unsaved = self._unsaved, {}
        for folder, entries in pending.items():
            with folder_lock(folder):
                book = manifest.load(folder)
                book.files.update({name: e for name, e in entries.items() if (folder / name).exists()})
                manifest.save(folder, book)

    def _append_part(
        self, folder: Path, files: HourFiles, frame: pl.DataFrame, spec: TableSpec, book: manifest.Manifest
    ) -> _Change:
        """New rows as the hour's next part, then merge the last parts while FANOUT share a span."""
        change = _Change(added=frame.height)
        seq = files.next_seq
        path = folder / parts.part_name(files.hour, seq, seq)
        payload = encode_parquet(frame, spec, meta=book.meta, light=True)
        change.entries[path.name] = self._publish(payload, frame, spec, path)
        files.parts.append(parts.Part(seq, seq, path))
        files.highest = seq
        self._recent[path] = frame
        newest = frame
        while (run := parts.trailing_run(files.parts)) is not None:
            # Single-flush parts come from memory (written here moments ago), wider ones from disk.
            cached = [self._recent.pop(p.path, None) for p in run[:-1]]
            loaded = [
                f if f is not None else self._read_checked(folder, [p.path], book, spec)
                for f, p in zip(cached, run, strict=False)
            ]
            self._recent.pop(run[-1].path, None)
            merged = parts.concat_sorted([*loaded, newest], spec)
            path = folder / parts.part_name(files.hour, run[0].lo, run[-1].hi)
            light = run[-1].hi - run[0].lo + 1 < parts.FANOUT**2
            payload = encode_parquet(merged, spec, meta=book.meta, light=light)
            change.entries[path.name] = self._publish(payload, merged, spec, path)
            change.removed.extend(p.path for p in run)
            files.parts[-len(run) :] = [parts.Part(run[0].lo, run[-1].hi, path)]
            newest = merged
        return change

    def _rewrite_hour(
        self,
        folder: Path,
        files: HourFiles,
        frame: pl.DataFrame | None,
        spec: TableSpec,
        book: manifest.Manifest,
    ) -> _Change | None:
        """The hour as one compacted file: its files' rows, with `frame` merged in as a multiset
        union (None: compaction only), staged beside the old one; None if nothing would change."""
        self._refuse_problems(folder, files.hour)
        old = self._read_checked(folder, files.live, book, spec) if files.live else None
        if frame is None:
            if old is None or not (files.parts or files.superseded):
                return None
            merged = old
        else:
            merged = frame if old is None else merge_union(old, frame, spec)
        added = merged.height - (old.height if old is not None else 0)
        if old is not None and added == 0 and not files.parts and not files.superseded:
            return None  # nothing new: the file (and its sha) stays as it was
        through = max(files.through, files.highest)
        path = folder / parts.base_name(files.hour)
        payload = encode_parquet(merged, spec, meta=book.meta, parts_through=through)
        change = _Change(added=added)
        change.entries[path.name] = self._publish(payload, merged, spec, path, stage=True)
        change.staged.append((_temp_path(path), path))
        change.removed.extend([p.path for p in files.parts] + files.superseded)
        return change

    def _publish(
        self, payload: bytes, frame: pl.DataFrame, spec: TableSpec, path: Path, *, stage: bool = False
    ) -> manifest.FileEntry:
        """Write `payload` to a fsynced temp file, then give it its name `path` with a hard link (a
        new part: a link refuses to replace a file); with `stage` it stays a temp file (a compacted
        hour, renamed into place by `_place`). Its entry describes the bytes either way."""
        tmp = _temp_path(path)
        try:
            self._write_file(payload, tmp)
            if not stage:
                os.link(tmp, path)
                tmp.unlink()
        except FileExistsError:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"{path} exists already: a part is never overwritten") from None
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise StoreError(f"cannot write {path}: {exc.strerror or exc}") from exc
        times = frame.get_column(spec.time_column)
        return manifest.FileEntry(
            rows=frame.height,
            first_ts_ns=int(times.min()),  # type: ignore[arg-type]
            last_ts_ns=int(times.max()),  # type: ignore[arg-type]
            sha256=hashlib.sha256(payload).hexdigest(),
            bytes=len(payload),
            mtime_ns=(tmp if stage else path).stat().st_mtime_ns,  # a rename keeps it
            schema_version=SCHEMA_VERSION,
        )

    def _compact_due(self, *, budget_s: float | None, by_clock: bool) -> None:
        """Compact hours that are over: this writer wrote rows LATE_NS past their end (or, with
        `by_clock`, the wall clock is past it), oldest first, until `budget_s` is spent."""
        now_ns = time.time_ns()
        due = []
        with self._stats_lock:
            for key, hours in self._open_hours.items():
                newest = self._newest_ns.get(key)
                for hour_ns, folder in hours.items():
                    end = hour_ns + NS_PER_HOUR + LATE_NS
                    if (newest is not None and newest >= end) or (by_clock and now_ns >= end):
                        due.append((hour_ns, key, folder))
        started = time.perf_counter()
        for hour_ns, key, folder in sorted(due):
            if budget_s is not None and time.perf_counter() - started > budget_s:
                break  # the rest waits for the next round: readers see the parts meanwhile
            self._compact(folder, hour_ns, SPECS[key[2]])
            with self._stats_lock:
                self._open_hours[key].pop(hour_ns, None)

    def _compact(self, folder: Path, hour_ns: int, spec: TableSpec) -> None:
        """Fold an hour's parts into its `HH.parquet`."""
        with folder_lock(folder):
            hour = hour_ns % (24 * NS_PER_HOUR) // NS_PER_HOUR
            files = parts.folder_hours(folder, self._through_cache).get(hour)
            if files is None:
                return
            self._reconcile(folder, spec)
            book = manifest.load(folder)
            change = self._rewrite_hour(folder, files, None, spec, book)
            if change is not None:
                change.added = 0  # the rows were counted when their parts were written
                self._commit(folder, book, [change])


def _temp_path(path: Path) -> Path:
    """Where a file is written before it gets its name (hidden, and marked with our pid)."""
    return path.with_name(f".{path.name}{manifest.TMP_MARK}{os.getpid()}")


@dataclass
class _Change:
    """What writing one hour did: new files' manifest entries, files it superseded, rows added,
    and compacted hours staged as (temp file, name) until they are renamed into place."""

    added: int = 0
    entries: dict[str, manifest.FileEntry] = field(default_factory=dict)
    removed: list[Path] = field(default_factory=list)
    staged: list[tuple[Path, Path]] = field(default_factory=list)
