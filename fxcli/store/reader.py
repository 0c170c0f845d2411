"""Lazy reads: time-range scans with predicate pushdown, and what the manifests say is stored."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fxcli.errors import FxError, one_line
from fxcli.model.units import NS_PER_HOUR
from fxcli.store import manifest, parts
from fxcli.store.layout import Layout
from fxcli.store.schema import SPECS, Table, TableSpec
from fxcli.store.survey import (
    PROBLEMS,
    READABLE,
    Finding,
    FolderSurvey,
    folder_day_ns,
    read_manifest,
    settled_survey,
)

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class StoredProblem:
    """A file a read cannot use, with where it belongs."""

    exchange: str
    symbol: str
    table: Table
    finding: Finding


@dataclass(frozen=True)
class StoredFile:
    """One file and its manifest entry."""

    exchange: str
    symbol: str
    table: Table
    path: Path
    entry: manifest.FileEntry


class StoreDamagedError(FxError):
    """A file a read needs is damaged, missing or unreadable (exit 2): the message names it."""


class StoreReader:
    """Read side of one data directory. It never writes: a folder a writer left half-done is read
    as the writer would finish it (survey.py); damage is refused, naming the file."""

    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)
        self._surveys: dict[Path, FolderSurvey] = {}
        _READERS.add(self)
        self.sources: list[Path] = []  # files handed to the Parquet reader, to name one that fails

    def survey(self, folder: Path, table: Table) -> FolderSurvey:
        """The folder's files and their status, surveyed once per reader; a folder with problems
        is looked at again under its shared lock (a writer may have been mid-change)."""
        found = self._surveys.get(folder)
        if found is None:
            found = self._surveys[folder] = settled_survey(folder, SPECS[table])
        return found

    def scan(
        self,
        exchange: str,
        symbol: str,
        table: Table,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.LazyFrame:
        """Rows of one table with `start_ns <= time <= end_ns`, lazily; an empty frame if none.
        StoreDamagedError if an hour it needs has a damaged, missing or unreadable file."""
        import polars as pl

        spec = SPECS[table]
        # Gaps are few and may start long before the range they cover: never prune them by path.
        lo, hi = (start_ns, end_ns) if table is not Table.GAPS else (None, None)
        pieces: list[pl.LazyFrame] = []
        compacted: list[str] = []  # consecutive compacted hours: one scan over all of them
        for folder, hour, files in self._hours(exchange, symbol, table, lo, hi):
            if all(parts.parse_name(f.path.name) == (hour, 0, 0) for f in files):
                compacted.extend(str(f.path) for f in files)
                continue
            if compacted:
                pieces.append(self._scan(compacted, spec))
                compacted = []
            # An hour being appended to: read now, as one sorted hour (a part merged or compacted
            # meanwhile is read again), so its rows come out sorted even if a late print overlaps.
            self.sources.extend(f.path for f in files)
            rows = parts.read_hour_unlocked(folder, hour, spec, lo, hi)
            if rows is not None:
                pieces.append(rows.lazy())
        if compacted:
            pieces.append(self._scan(compacted, spec))
        if not pieces:
            return pl.LazyFrame(schema=spec.polars_schema())
        frame = pieces[0] if len(pieces) == 1 else pl.concat(pieces)
        if table is Table.GAPS:
            if start_ns is not None:
                frame = frame.filter(pl.col("end_ns") >= start_ns)
            if end_ns is not None:
                frame = frame.filter(pl.col("start_ns") <= end_ns)
            return frame
        column = pl.col(spec.time_column)
        if start_ns is not None:
            frame = frame.filter(column >= start_ns)
        if end_ns is not None:
            frame = frame.filter(column <= end_ns)
        return frame

    def _hours(
        self, exchange: str, symbol: str, table: Table, start_ns: int | None, end_ns: int | None
    ) -> Iterator[tuple[Path, int, list[Finding]]]:
        """(folder, hour, readable files) of every stored hour overlapping `[start_ns, end_ns]`,
        oldest first; an hour with a problem raises StoreDamagedError."""
        for folder, day_ns in self._days(exchange, symbol, table, start_ns, end_ns):
            found = self.survey(folder, table)
            by_hour: dict[int, list[Finding]] = {}
            for finding in found.findings:
                if finding.hour is not None and finding.status in READABLE | PROBLEMS:
                    by_hour.setdefault(finding.hour, []).append(finding)
            for hour in sorted(by_hour):
                if not _overlaps(day_ns + hour * NS_PER_HOUR, NS_PER_HOUR, start_ns, end_ns):
                    continue
                if problems := found.hour_problems(hour):
                    raise StoreDamagedError(f"{problems[0].describe()}; run fx inspect --verify")
                readable = [f for f in by_hour[hour] if f.status in READABLE]
                if readable:
                    yield folder, hour, readable

    def _scan(self, paths: list[str], spec: TableSpec) -> pl.LazyFrame:
        self.sources.extend(Path(p) for p in paths)
        return _scan(paths, spec)

    def files(self, exchange: str | None = None, symbol: str | None = None) -> Iterator[StoredFile]:
        """Every readable stored file with its manifest entry (an hour being appended to has
        several: its compacted file and parts)."""
        for ex, sym, table, folder in self._folders(exchange, symbol):
            for finding in self.survey(folder, table).readable:
                assert finding.entry is not None
                yield StoredFile(ex, sym, table, finding.path, finding.entry)

    def problems(self, exchange: str | None = None, symbol: str | None = None) -> Iterator[StoredProblem]:
        """Every damaged, missing, stray or unreadable file (as far as sizes and mtimes tell;
        `fx inspect --verify` hashes every byte)."""
        for ex, sym, table, folder in self._folders(exchange, symbol):
            for finding in self.survey(folder, table).problems:
                yield StoredProblem(ex, sym, table, finding)

    def meta(
        self,
        exchange: str,
        symbol: str,
        table: Table,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> dict[str, parts.MetaValue]:
        """The folder metadata (`WriteBatch.meta`) of one table's date folders that overlap
        `[start_ns, end_ns]` (all when None), merged oldest first: a later folder's value wins."""
        merged: dict[str, parts.MetaValue] = {}
        for folder, _ in self._days(exchange, symbol, table, start_ns, end_ns):
            merged.update(read_manifest(folder)[0].meta)
        return merged

    def _days(
        self, exchange: str, symbol: str, table: Table, start_ns: int | None, end_ns: int | None
    ) -> Iterator[tuple[Path, int]]:
        """(date folder, start of its day) of one table overlapping `[start_ns, end_ns]`, oldest
        first; a folder that is no date is skipped (verify reports it)."""
        for folder in self.layout.date_dirs(exchange, symbol, table):
            day_ns = folder_day_ns(folder)
            if day_ns is not None and _overlaps(day_ns, 24 * NS_PER_HOUR, start_ns, end_ns):
                yield folder, day_ns

    def _folders(self, exchange: str | None, symbol: str | None) -> Iterator[tuple[str, str, Table, Path]]:
        for ex in [exchange] if exchange else self.layout.exchanges():
            for sym in [symbol] if symbol else self.layout.symbols(ex):
                for table in Table:
                    for folder in self.layout.date_dirs(ex, sym, table):
                        if folder_day_ns(folder) is not None:
                            yield ex, sym, table, folder

    def find_exchange(self, symbol: str, exchange: str | None) -> str:
        """The exchange holding `symbol`; raises LookupError naming the candidates if unclear."""
        holders = [ex for ex in self.layout.exchanges() if symbol in self.layout.symbols(ex)]
        if exchange is not None:
            if exchange not in holders:
                raise LookupError(f"no data for {symbol} on {exchange} in {self.layout.root}")
            return exchange
        if not holders:
            raise LookupError(f"no data for symbol {symbol} in {self.layout.root}")
        if len(holders) > 1:
            raise LookupError(f"{symbol} is stored for {', '.join(holders)}: pick one with --exchange")
        return holders[0]


def _overlaps(first_ns: int, span_ns: int, start_ns: int | None, end_ns: int | None) -> bool:
    """Whether `[first_ns, first_ns + span_ns)` overlaps `[start_ns, end_ns]` (None: unbounded)."""
    return (start_ns is None or first_ns + span_ns > start_ns) and (end_ns is None or first_ns <= end_ns)


_READERS: weakref.WeakSet[StoreReader] = weakref.WeakSet()


def blame(exc: BaseException) -> str | None:
    """`PATH: unreadable (...)` for the first stored file a reader of this process handed to the
    Parquet reader that cannot be read in full, if `exc` came from reading one; else None. Damage
    that keeps a file's size and mtime is only found when its pages are decoded, and the Parquet
    reader's message does not say which file it was decoding."""
    if isinstance(exc, FxError) or not _is_read_error(exc):
        return None
    import pyarrow.parquet as pq

    seen: set[Path] = set()
    for reader in list(_READERS):
        for path in reader.sources:
            if path in seen:
                continue
            seen.add(path)
            try:
                pq.read_table(path)
            except Exception as failure:  # any damage pyarrow reports
                return f"{path}: unreadable ({one_line(str(failure))}); run fx inspect --verify"
    return None


def _is_read_error(exc: BaseException) -> bool:
    module = type(exc).__module__
    return isinstance(exc, OSError) or module.startswith(("polars", "pyarrow"))


def _scan(paths: list[str], spec: TableSpec) -> pl.LazyFrame:
    """Compacted hour files, lazily; a file written before a nullable column was added reads it as null."""
    import polars as pl

    return pl.scan_parquet(paths, schema=spec.polars_schema(), missing_columns="insert")
