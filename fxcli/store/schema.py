"""Table schemas of the store, and how events become rows.

Every table is time-sorted on its `time_column`; the sort keys break ties so that rows of one book
message stay together and in the order they were received.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

SCHEMA_VERSION = 1


class Table(StrEnum):
    """The tables of one exchange/symbol."""

    TRADES = "trades"
    BOOK_DELTAS = "book_deltas"
    BOOK_SNAPSHOTS = "book_snapshots"
    BOOK_TICKER = "book_ticker"
    GAPS = "gaps"


@dataclass(frozen=True)
class TableSpec:
    """Column names and polars dtype names of one table, its time column and sort keys."""

    columns: tuple[tuple[str, str], ...]
    time_column: str
    sort_keys: tuple[str, ...]

    def polars_schema(self) -> dict[str, pl.DataType]:
        """The polars schema of this table."""
        import polars as pl

        dtypes: dict[str, pl.DataType] = {
            "i64": pl.Int64(),
            "i16": pl.Int16(),
            "i8": pl.Int8(),
            "f64": pl.Float64(),
            "str": pl.String(),
            "bool": pl.Boolean(),
        }
        return {name: dtypes[kind] for name, kind in self.columns}

    def conform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """`frame` cast and ordered to this table's schema; missing nullable columns become null (a
        file written before a column was added reads with it null)."""
        import polars as pl

        schema = self.polars_schema()
        if list(frame.schema.items()) == list(schema.items()):
            return frame  # already the table's schema, as a recorder builds it: no query to run
        return frame.select(
            pl.col(name).cast(dtype, strict=True)
            if name in frame.columns
            else pl.lit(None, dtype=dtype).alias(name)
            for name, dtype in schema.items()
        )

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [name for name, _ in self.columns]


_TS = (("exchange_ts_ns", "i64"), ("received_ts_ns", "i64"))

SPECS: dict[Table, TableSpec] = {
    Table.TRADES: TableSpec(
        # `backfilled`: fetched over REST after a gap, not received live (null in files written
        # before the column existed, and from imports: live, or as the source had it).
        columns=(
            *_TS,
            ("price", "f64"),
            ("qty", "f64"),
            ("side", "i8"),
            ("trade_id", "i64"),
            ("backfilled", "bool"),
        ),
        time_column="exchange_ts_ns",
        sort_keys=("exchange_ts_ns", "received_ts_ns", "trade_id"),
    ),
    # One row per changed level; all rows of one delta share from/to_version.
    Table.BOOK_DELTAS: TableSpec(
        columns=(
            *_TS,
            ("from_version", "i64"),
            ("to_version", "i64"),
            ("side", "i8"),
            ("price", "f64"),
            ("qty", "f64"),
        ),
        time_column="exchange_ts_ns",
        sort_keys=("exchange_ts_ns", "received_ts_ns", "to_version"),
    ),
    # One row per level; `level` is 0 for the best price of each side.
    Table.BOOK_SNAPSHOTS: TableSpec(
        columns=(
            *_TS,
            ("version", "i64"),
            ("source", "str"),
            ("side", "i8"),
            ("level", "i16"),
            ("price", "f64"),
            ("qty", "f64"),
            ("ts_estimated", "bool"),
        ),
        time_column="exchange_ts_ns",
        sort_keys=("exchange_ts_ns", "received_ts_ns", "version"),
    ),
    Table.BOOK_TICKER: TableSpec(
        columns=(
            *_TS,
            ("bid_price", "f64"),
            ("bid_qty", "f64"),
            ("ask_price", "f64"),
            ("ask_qty", "f64"),
            ("update_id", "i64"),
            ("ts_estimated", "bool"),
        ),
        time_column="exchange_ts_ns",
        sort_keys=("exchange_ts_ns", "received_ts_ns", "update_id"),
    ),
    # `received_ts_ns` (null in files written before it existed): when the recorder learned of the gap.
    # `backfill*`: what a trade backfill recovered (model `Gap`); null where none was tried.
    Table.GAPS: TableSpec(
        columns=(
            ("start_ns", "i64"),
            ("end_ns", "i64"),
            ("reason", "str"),
            ("detail", "str"),
            ("received_ts_ns", "i64"),
            ("backfill", "str"),
            ("backfill_from_ns", "i64"),
            ("backfill_to_ns", "i64"),
            ("backfill_trades", "i64"),
        ),
        time_column="start_ns",
        sort_keys=("start_ns", "end_ns"),
    ),
}
