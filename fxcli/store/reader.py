"""Lazy reads: time-range scans with predicate pushdown, and what the manifests say is stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fxcli.model.units import NS_PER_HOUR, NS_PER_S
from fxcli.store import manifest, parts
from fxcli.store.layout import Layout
from fxcli.store.schema import SCHEMA_VERSION, SPECS, Table, TableSpec

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class StoredFile:
    """One file and its manifest entry."""

    exchange: str
    symbol: str
    table: Table
    path: Path
    entry: manifest.FileEntry


class StoreReader:
    """Read side of one data directory."""

    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)

    def scan(
        self,
        exchange: str,
        symbol: str,
        table: Table,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.LazyFrame:
        """Rows of one table with `start_ns <= time <= end_ns`, lazily; an empty frame if none."""
        import polars as pl

        spec = SPECS[table]
        # Gaps are few and may start long before the range they cover: never prune them by path.
        prune = table is not Table.GAPS
        hours = self.layout.hours(
            exchange, symbol, table, start_ns if prune else None, end_ns if prune else None
        )
        pieces: list[pl.LazyFrame] = []
        compacted: list[str] = []  # consecutive compacted hours: one scan over all of them
        for hour in hours:
            if not hour.has_parts:
                compacted.append(str(hour.base_path))
                continue
            if compacted:
                pieces.append(_scan(compacted, spec))
                compacted = []
            # An hour being appended to: read now, as one sorted hour (a part merged or compacted
            # meanwhile is read again), so its rows come out sorted even if a late print overlaps.
            lo, hi = (start_ns, end_ns) if prune else (None, None)
            rows = parts.read_hour_unlocked(hour.folder, hour.hour, spec, lo, hi)
            if rows is not None:
                pieces.append(rows.lazy())
        if compacted:
            pieces.append(_scan(compacted, spec))
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

    def files(
        self, exchange: str | None = None, symbol: str | None = None, *, reconcile: bool = True
    ) -> Iterator[StoredFile]:
        """Every live stored file with its manifest entry (an hour being appended to has several:
        its compacted file and parts); `reconcile` first repairs stale manifests."""
        for ex, sym, table, folder in self._folders(exchange, symbol):
            if reconcile:
                manifest.reconcile(folder, SPECS[table].time_column, SCHEMA_VERSION)
            book = manifest.load(folder)
            live = {p.name for hour in parts.folder_hours(folder).values() for p in hour.live}
            for name, entry in sorted(book.files.items()):
                if name in live:
                    yield StoredFile(ex, sym, table, folder / name, entry)

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
        day_ns = 24 * NS_PER_HOUR
        for folder in self.layout.date_dirs(exchange, symbol, table):
            try:
                day = datetime.strptime(folder.name, "%Y-%m-%d").replace(tzinfo=UTC)
            except ValueError:
                continue
            first_ns = int(day.timestamp()) * NS_PER_S
            if (start_ns is not None and first_ns + day_ns <= start_ns) or (
                end_ns is not None and first_ns > end_ns
            ):
                continue
            merged.update(manifest.load(folder).meta)
        return merged

    def _folders(self, exchange: str | None, symbol: str | None) -> Iterator[tuple[str, str, Table, Path]]:
        for ex in [exchange] if exchange else self.layout.exchanges():
            for sym in [symbol] if symbol else self.layout.symbols(ex):
                for table in Table:
                    for folder in self.layout.date_dirs(ex, sym, table):
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


def _scan(paths: list[str], spec: TableSpec) -> pl.LazyFrame:
    """Compacted hour files, lazily; a file written before a nullable column was added reads it as null."""
    import polars as pl

    return pl.scan_parquet(paths, schema=spec.polars_schema(), missing_columns="insert")
