"""Lazy reads: time-range scans with predicate pushdown, and what the manifests say is stored."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fxcli.store import manifest
from fxcli.store.layout import Layout
from fxcli.store.schema import SCHEMA_VERSION, SPECS, Table

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
        paths = [
            str(f.path)
            for f in self.layout.hour_files(
                exchange, symbol, table, start_ns if prune else None, end_ns if prune else None
            )
        ]
        if not paths:
            return pl.LazyFrame(schema=spec.polars_schema())
        # Files written before a nullable column was added read it as null.
        frame = pl.scan_parquet(paths, schema=spec.polars_schema(), missing_columns="insert")
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
        """Every stored file with its manifest entry; `reconcile` first repairs stale manifests."""
        for ex in [exchange] if exchange else self.layout.exchanges():
            for sym in [symbol] if symbol else self.layout.symbols(ex):
                for table in Table:
                    spec = SPECS[table]
                    for folder in self.layout.date_dirs(ex, sym, table):
                        if reconcile:
                            manifest.reconcile(folder, spec.time_column, SCHEMA_VERSION)
                        book = manifest.load(folder)
                        for name, entry in sorted(book.files.items()):
                            yield StoredFile(ex, sym, table, folder / name, entry)

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
